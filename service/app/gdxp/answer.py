"""The import's answer as API.md writes it (the same JSON for HTTP and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ledger.money import minor_to_json

from .plan import ImportPlan
from .purchases import CURRENCY


def import_answer(
    plan: ImportPlan,
    *,
    dry_run: bool,
    producer_ids: Mapping[str, str] | None = None,
    relationship_ids: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``producer_ids`` and ``relationship_ids`` map a partita IVA to the id the import
    gave what it created (empty for a dry run: those ids are then null)."""
    new_producers = producer_ids or {}
    new_relationships = relationship_ids or {}

    def relationship(
        id_: str | None, producer_id: str | None, vat: str, since: date, minor: int
    ) -> dict[str, object]:
        return {
            "id": id_,
            "producer_id": producer_id,
            "vat_number": vat,
            "since": since.isoformat(),
            "annual_purchases": minor_to_json(minor, CURRENCY),
        }

    return {
        "dry_run": dry_run,
        "gas_id": plan.gas_id,
        "producers": {
            "created": [
                {
                    "id": new_producers.get(c.data.vat_number),
                    "name": c.data.name,
                    "vat_number": c.data.vat_number,
                }
                for c in plan.producers_created
            ],
            "updated": [
                {"id": u.producer_id, "name": u.name, "vat_number": u.vat_number}
                for u in plan.producers_updated
            ],
            "skipped": [
                {"name": s.name, "vat_number": s.vat_number, "reason": str(s.reason)}
                for s in plan.producers_skipped
            ],
        },
        "relationships": {
            "created": [
                relationship(
                    new_relationships.get(r.vat_number),
                    r.producer_id or new_producers.get(r.vat_number),
                    r.vat_number,
                    r.since,
                    r.annual_purchases_minor,
                )
                for r in plan.relationships_created
            ],
            "updated": [
                relationship(
                    r.relationship_id,
                    r.producer_id,
                    r.vat_number,
                    r.since,
                    r.annual_purchases_minor,
                )
                for r in plan.relationships_updated
            ],
        },
        "warnings": [warning.as_json() for warning in plan.warnings],
    }
