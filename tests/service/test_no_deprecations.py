"""The app builds, and documents itself, with every Litestar deprecation an error: nothing
here relies on what Litestar 3 will refuse (inferred dependencies, parameters declared
by default value, request bodies without a marker)."""

from __future__ import annotations

import warnings
from pathlib import Path

from litestar.exceptions import LitestarDeprecationWarning
from litestar.testing import TestClient

from service.http.app import create_app
from service.settings import Settings


def test_the_app_builds_with_deprecations_as_errors(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LitestarDeprecationWarning)
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                                  secret_key="k" * 48))
        document = app.openapi_schema.to_schema()
        with TestClient(app) as client:
            assert client.get("/schema/openapi.json").status_code == 200
    assert len(document["paths"]) >= 50


def test_pytest_does_not_hide_them() -> None:
    config = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert "LitestarDeprecationWarning" not in config
