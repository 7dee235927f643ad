"""Validation against Filiera's own statement of the GDXP v1 JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from importlib.resources import files

from jsonschema import Draft7Validator, TypeChecker, ValidationError, validators
from jsonschema.protocols import Validator

from .errors import FieldError, dotted

SCHEMA_FILE = "gdxp-v1.schema.json"


def load_schema() -> dict[str, object]:
    """The schema Filiera validates with (and an export must satisfy)."""
    text = files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


def _is_integer(checker: TypeChecker, instance: object) -> bool:
    # Numbers are read as Decimal; JSON Schema counts 1.0 as an integer too.
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return bool(Draft7Validator.TYPE_CHECKER.is_type(instance, "integer"))


@cache
def _validator() -> Validator:
    checker = Draft7Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    cls = validators.extend(Draft7Validator, type_checker=checker)
    return cls(load_schema(), format_checker=Draft7Validator.FORMAT_CHECKER)


def _errors_of(error: ValidationError) -> Iterator[FieldError]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # A missing property is reported at its own path.
        for name in error.validator_value:
            if name not in error.instance:
                yield FieldError(dotted([*path, name]), "is required")
        return
    yield FieldError(dotted(path), _message(error))


def _message(error: ValidationError) -> str:
    # Our own wording: jsonschema's repeats the (possibly huge, possibly hostile) value.
    expected = error.validator_value
    match error.validator:
        case "type":
            kinds = expected if isinstance(expected, list) else [expected]
            return "must be of type " + " or ".join(str(kind) for kind in kinds)
        case "format":
            return f"must be a valid {expected} (YYYY-MM-DD)" if expected == "date" else (
                f"must be a valid {expected}")
        case "enum":
            return "must be one of " + ", ".join(str(value) for value in expected)
        case "minimum":
            return f"must be at least {expected}"
        case "maximum":
            return f"must be at most {expected}"
    return str(error.message)[:200]


def schema_errors(data: object) -> list[FieldError]:
    """Every place where ``data`` breaks the schema, sorted and without repeats."""
    found = {e for error in _validator().iter_errors(data) for e in _errors_of(error)}
    return sorted(found)
