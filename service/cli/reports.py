"""``filiera report NAME --out FILE [...]``: a report written straight from the database.

The format comes from the file's extension (.xlsx, .csv, .parquet, and .pdf for the
loan statement and the portfolio). The command runs with
an administrator's view (whoever can run it can read the database anyway). ``service.cli``
adds it to the parser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.store import LedgerStore
from reports.catalog import CATALOG, FORMATS, PDF
from service.app import reports as app_reports
from service.app.auth import Principal
from service.app.errors import ApiError, Invalid
from service.cli.common import open_engine

_FLAGS = (  # (option, query parameter, help)
    ("--as-of", "as_of", "as-of date YYYY-MM-DD (default: today)"),
    ("--from", "from", "start of the period YYYY-MM-DD (default: 1 January)"),
    ("--to", "to", "end of the period YYYY-MM-DD (default: the as-of date)"),
    ("--loan-id", "loan_id", "the loan (loan-statement)"),
    ("--gas-id", "gas_id", "only this GAS"),
    ("--producer-id", "producer_id", "only this producer"),
    ("--provisioning", "provisioning", "portfolio: provisioning rates in percent for current, "
     "1-30, 31-60, 61-90 and over 90 days past due (default: 0,10,25,50,100)"),
    ("--sheet", "sheet", "CSV and Parquet: the sheet to export (default: the detail rows)"),
)


def cmd_report(args: argparse.Namespace) -> int:

    out = Path(args.out)
    fmt = out.suffix.lower().removeprefix(".")
    if fmt not in (*FORMATS, PDF):
        print(f"error: --out must end in {', '.join('.' + f for f in (*FORMATS, PDF))}",
              file=sys.stderr)
        return 2
    query: dict[str, str | None] = {param: getattr(args, param.replace("from", "from_"))
                                    for _, param, _ in _FLAGS}
    query["lang"] = args.lang
    query["italian"] = "true" if args.italian_csv else None
    try:
        info = app_reports.find_report(args.name, fmt)
        req = app_reports.parse_request(info, fmt, query)
        req = app_reports.scoped(req, Principal("cli", "admin", None))
        engine = open_engine()
        store = LedgerStore(engine)
        try:
            def write(handle):  # type: ignore[no-untyped-def]
                with app_reports.snapshot(engine) as conn:
                    app_reports.render(conn, req, store, handle)

            app_reports.write_file(out, write)
        finally:
            engine.dispose()
    except Invalid as exc:
        for error in exc.errors:
            print(f"error: {error['field'] or 'report'}: {error['message']}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"{req.name} written to {out}")
    return 0


def add_report_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    names = ", ".join(info.name for info in CATALOG)
    printable = ", ".join(info.name for info in CATALOG if info.printable)
    p = sub.add_parser("report", help="Write a report (XLSX, CSV, Parquet or PDF) to a file.",
                       description=f"Write a report to a file; the format follows the "
                       f"extension (.xlsx, .csv, .parquet; .pdf for {printable}). "
                       f"Reports: {names}.")
    p.add_argument("name", help="the report's name")
    p.add_argument("--out", required=True,
                   help="the file to write: NAME.xlsx|.csv|.parquet|.pdf")
    for option, param, help_text in _FLAGS:
        p.add_argument(option, dest=param.replace("from", "from_"), help=help_text)
    p.add_argument("--lang", choices=["it", "en"], default="it",
                   help="language of headers and texts (default: it)")
    p.add_argument("--italian-csv", action="store_true",
                   help="CSV with ';', decimal comma and DD/MM/YYYY dates")
    p.set_defaults(func=cmd_report)
