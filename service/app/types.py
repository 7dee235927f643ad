"""Field types of the application's input and output records.

They are plain strings on the wire (the contract's JSON), annotated with what the OpenAPI
document states about them (``format``, ``pattern``). The annotations document; the
checks that name a bad field in a 422 stay in ``service.app.common``, so every entry
point refuses alike.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from ledger.money import AMOUNT_PATTERN

Uuid = Annotated[str, Meta(extra_json_schema={"format": "uuid"})]
Day = Annotated[str, Meta(extra_json_schema={"format": "date"})]
Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
DecimalText = Annotated[str, Meta(extra_json_schema={"pattern": f"^{AMOUNT_PATTERN.pattern}$"})]
CurrencyCode = Annotated[str, Meta(extra_json_schema={"pattern": "^[A-Z]{3}$"})]
