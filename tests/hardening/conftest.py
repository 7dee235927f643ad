"""The in-process app with one user per role (tests/api), for the fuzzing here."""

from tests.api.conftest import api, settings

__all__ = ["api", "settings"]
