"""``filiera match REQUEST_ID`` and ``filiera plan [--request-id ID ...] --out FILE.xlsx``.

Both read the database with an administrator's view (whoever can run them can read the
database anyway) through the same functions as the HTTP API, so the table and the
spreadsheet show what ``GET /api/requests/{id}/opportunities`` and
``POST /api/matching/plan`` answer. ``service.cli`` adds
them to the parser.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from ledger.money import minor_to_decimal
from reports.workbook import ColumnSpec, FormulaNote, Report, ReportSheet, write_xlsx
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MAX_DATE, MIN_DATE, path_uuid
from service.app.errors import ApiError, Invalid, invalid
from service.app.matching import (
    OpportunityOut,
    PlanResult,
    make_plan,
    merged_allocations,
    opportunities,
)
from service.cli.common import open_engine
from service.db.engine import read_tx
from service.db.tables import funding_requests

ADMIN = ("cli", "admin", None)


def _engine() -> Engine:

    return open_engine()


def _day(text: str | None) -> date:
    if text is None:
        return today()

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: --as-of: {text!r} is not a date YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise SystemExit(f"error: --as-of: a date from {MIN_DATE} to {MAX_DATE}")
    return day


def _eur(cents: int) -> str:
    return f"{minor_to_decimal(cents, 'EUR'):,} EUR"


def _short(source_id: str, name: str | None) -> str:
    return f"{name} ({source_id[:8]})" if name else source_id


def format_opportunities(request_id: str, items: list[OpportunityOut]) -> str:
    """A table, one row per opportunity, its reasons below it."""
    lines = [f"Opportunities for request {request_id} ({len(items)}, best first)"]
    if not items:
        lines.append("  no eligible source")
        return "\n".join(lines)
    rows = [(str(n), i.kind, _short(i.source_id, i.source_name),
             i.suggested_amount.amount, f"{i.score:.4f}")
            for n, i in enumerate(items, 1)]
    head = ("#", "kind", "source", "amount EUR", "score")
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(len(head))]
    right = {0, 3, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if k in right else c.ljust(w)
                         for k, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines += [line(head), line(tuple("-" * w for w in widths))]
    indent = " " * (widths[0] + 2)
    for row, item in zip(rows, items, strict=True):
        lines.append(line(row))
        for reason in item.reasons:
            lines.append(textwrap.fill(reason, width=96, initial_indent=indent + "- ",
                                       subsequent_indent=indent + "  "))
    return "\n".join(lines)


def cmd_match(args: argparse.Namespace) -> int:

    day = _day(args.as_of)
    engine = _engine()
    try:
        rid = path_uuid(args.request_id, "request")
        with read_tx(engine) as conn:
            items = opportunities(conn, Principal(*ADMIN), rid, day)
    except ApiError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(format_opportunities(rid, items))
    return 0


def _money(key: str, it: str, en: str, total: bool = True) -> ColumnSpec:
    return ColumnSpec(key, it, en, "money", total="sum" if total else None)


def _text(key: str, it: str, en: str) -> ColumnSpec:
    return ColumnSpec(key, it, en, "text")


ALLOCATION_COLUMNS = (
    _text("request_id", "Richiesta", "Request"),
    _text("producer", "Produttore", "Producer"),
    _text("kind", "Strumento", "Kind"),
    _text("source_id", "Fonte", "Source"),
    _text("source_name", "Nome fonte", "Source name"),
    _money("amount", "Importo", "Amount"),
    _money("idle", "Di cui denaro fermo", "Of which idle money"),
)
REQUEST_COLUMNS = (
    _text("request_id", "Richiesta", "Request"),
    _text("producer", "Produttore", "Producer"),
    _text("status", "Stato", "Status"),
    ColumnSpec("weight", "Peso", "Weight", "decimal"),
    _money("amount", "Richiesto", "Requested"),
    _money("funded", "Finanziato", "Funded"),
    _money("unfunded", "Scoperto", "Unfunded"),
    _money("guaranteed", "Garantito", "Guaranteed"),
    _text("binding", "Limiti che fermano il resto", "Limits stopping the rest"),
)


def plan_report(result: PlanResult, statuses: dict[str, str]) -> Report:
    """The plan as a workbook: one sheet of allocations, one of requests."""

    snap, plan = result.snapshot, result.plan
    names = snap.names
    reqs = snap.requests
    allocations = merged_allocations(plan)
    alloc_frame = pl.DataFrame({
        "request_id": [a[0] for a in allocations],
        "producer": [names.get(reqs[a[0]].producer_id, "") for a in allocations],
        "kind": [a[2] for a in allocations],
        "source_id": [a[1] for a in allocations],
        "source_name": [names.get(a[1], "") for a in allocations],
        "amount": [a[3] for a in allocations],
        "idle": [a[4] for a in allocations],
    }, schema={"request_id": pl.String, "producer": pl.String, "kind": pl.String,
               "source_id": pl.String, "source_name": pl.String, "amount": pl.Int64,
               "idle": pl.Int64})
    guaranteed: dict[str, int] = {}
    for a in allocations:
        if a[2] == "guarantee":
            guaranteed[a[0]] = guaranteed.get(a[0], 0) + a[3]
    ids = list(reqs)
    req_frame = pl.DataFrame({
        "request_id": ids,
        "producer": [names.get(reqs[r].producer_id, "") for r in ids],
        "status": [statuses.get(r, "") for r in ids],
        "weight": [reqs[r].weight for r in ids],
        "amount": [reqs[r].amount_cents for r in ids],
        "funded": [plan.funded_cents.get(r, 0) for r in ids],
        "unfunded": [plan.unfunded_cents.get(r, 0) for r in ids],
        "guaranteed": [guaranteed.get(r, 0) for r in ids],
        "binding": ["; ".join(lim.text for lim in plan.binding.get(r, ())) for r in ids],
    }, schema={"request_id": pl.String, "producer": pl.String, "status": pl.String,
               "weight": pl.Decimal(scale=4), "amount": pl.Int64, "funded": pl.Int64,
               "unfunded": pl.Int64, "guaranteed": pl.Int64, "binding": pl.String})
    return Report(
        name="matching-plan", title_it="Piano di allocazione", title_en="Allocation plan",
        sheets=(ReportSheet("Allocazioni", ALLOCATION_COLUMNS, alloc_frame,
                            name_en="Allocations"),
                ReportSheet("Richieste", REQUEST_COLUMNS, req_frame, name_en="Requests")),
        parameters={"request_ids": ", ".join(ids)}, as_of=result.as_of,
        formulas=(FormulaNote("Obiettivo", "Objective", plan.objective, plan.objective),
                  FormulaNote("Peso", "Weight",
                              "(punteggio economico + sociale) / 20; 0,5 se non valutata",
                              "(economic + social score) / 20; 0.5 when not assessed")),
    )


def cmd_plan(args: argparse.Namespace) -> int:

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        print("error: --out must end in .xlsx", file=sys.stderr)
        return 2
    day = _day(args.as_of)
    engine = _engine()
    try:
        ids = [_uuid(r) for r in args.request_id] if args.request_id else None
        with read_tx(engine) as conn:
            result = make_plan(conn, ids, day)
            statuses = {r.id: r.status for r in conn.execute(select(
                funding_requests.c.id, funding_requests.c.status).where(
                funding_requests.c.id.in_(list(result.snapshot.requests) or [""])))}
    except Invalid as exc:
        for error in exc.errors:
            print(f"error: {error['field']}: {error['message']}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    write_xlsx(plan_report(result, statuses), out, lang=args.lang)
    plan = result.plan
    funded = sum(plan.funded_cents.values())
    unfunded = sum(plan.unfunded_cents.values())
    full = sum(1 for r in result.snapshot.requests if plan.unfunded_cents.get(r, 0) == 0)
    print(f"plan of {len(result.snapshot.requests)} requests as of {day.isoformat()}: "
          f"{len(plan.allocations)} allocations, {full} fully funded")
    print(f"funded {_eur(funded)}, unfunded {_eur(unfunded)}")
    print(f"objective: {plan.objective}")
    print(f"written to {out}")
    return 0


def _uuid(text: str) -> str:
    import uuid


    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise invalid("request_id", f"{text!r} is not a UUID") from None


def add_matching_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("match", help="Print a request's funding opportunities.",
                       description="Print a request's funding opportunities, best first, "
                       "with the reasons behind each.")
    p.add_argument("request_id", help="the funding request's id")
    p.add_argument("--as-of", help="date YYYY-MM-DD for relationships and arrears "
                   "(default: today)")
    p.set_defaults(func=cmd_match)
    p = sub.add_parser("plan", help="Write the allocation plan of requests to a workbook.",
                       description="Compute the optimal allocation plan (default: every "
                       "request under review or approved and not yet funded), write it as "
                       "an XLSX workbook and print a summary.")
    p.add_argument("--request-id", action="append", default=[],
                   help="a request to plan (repeat for more)")
    p.add_argument("--out", required=True, help="the workbook to write: FILE.xlsx")
    p.add_argument("--as-of", help="date YYYY-MM-DD for relationships and arrears "
                   "(default: today)")
    p.add_argument("--lang", choices=["it", "en"], default="it",
                   help="language of headers (default: it)")
    p.set_defaults(func=cmd_plan)
