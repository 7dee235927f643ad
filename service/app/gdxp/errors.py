"""Why a GDXP file is refused: each problem named by the dotted path where it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem: ``field`` is a dotted path into the document ("" = the document)."""

    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class GdxpInvalid(ValueError):
    """The file cannot be imported; ``errors`` says where and why (API.md: a 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{e.field or '(document)'}: {e.message}" for e in errors))

    def as_json(self) -> list[dict[str, str]]:
        return [error.as_json() for error in self.errors]


def dotted(path: Iterable[object]) -> str:
    """``("blocks", 0, "supplier")`` -> ``"blocks.0.supplier"``."""
    return ".".join(str(part) for part in path)
