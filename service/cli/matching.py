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

from sqlalchemy import Engine, select

from ledger.money import minor_to_decimal
from reports.workbook import write_xlsx
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MAX_DATE, MIN_DATE, path_uuid
from service.app.errors import ApiError, Invalid, invalid
from service.app.matching import OpportunityOut, make_plan, opportunities
from service.app.plans import plan_report
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
    write_xlsx(plan_report(result, statuses, args.lang), out, lang=args.lang)
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
