"""``filiera import gdxp FILE... [--gas-id ID] [--dry-run]``: GDXP files into the network,
each in its own transaction, with an officer's rights (whoever runs it can write the
database anyway). It prints the API's answer as JSON (a list of answers for several
files) and exits 0, or 1 when a file is refused: nothing of that file is written, the
others are imported. ``service.cli`` adds it to the parser."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.cli.common import CliError, audit_cli_apart, open_engine


def cmd_import_gdxp(args: argparse.Namespace) -> int:
    import msgspec

    from service.app.auth import Principal
    from service.app.errors import ApiError
    from service.app.gdxp_import import import_gdxp
    from service.bootstrap import build_context
    from service.settings import Settings

    files = []
    for name in args.files:
        try:
            files.append((name, Path(name).read_bytes()))
        except OSError as exc:
            raise CliError(f"{name}: {exc.strerror or exc}") from None
    ctx = build_context(Settings.from_env(create=False), open_engine())
    principal = Principal("cli", "officer", None)
    answers: list[object] = []
    refused = False
    try:
        for name, data in files:
            try:
                answer = import_gdxp(ctx, principal, data, gas_id=args.gas_id,
                                     dry_run=args.dry_run)
            except ApiError as exc:
                refused = True
                print(f"error: {name}: {exc}", file=sys.stderr)
                for error in getattr(exc, "errors", None) or []:
                    print(f"  {error['field'] or '(document)'}: {error['message']}",
                          file=sys.stderr)
                continue
            answers.append(msgspec.to_builtins(answer))
            if not args.dry_run:  # a dry run writes nothing
                ids = [str(p.id) for p in answer.producers.created + answer.producers.updated
                       if p.id] + [str(r.id) for r in answer.relationships.created
                                   + answer.relationships.updated if r.id]
                audit_cli_apart(ctx.engine, "filiera import gdxp", answer.gas_id, *ids,
                                kind="imports", changes={"file": name})
    finally:
        ctx.engine.dispose()
    if answers:
        print(json.dumps(answers[0] if len(args.files) == 1 else answers, indent=2,
                         ensure_ascii=False))
    return 1 if refused else 0


def add_gdxp_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = sub.add_parser("import", help="Import network data.",
                             description="Import network data.")
    imports_sub = imports.add_subparsers(dest="import_command", required=True,
                                         metavar="FORMAT")
    help_text = ("Import GDXP files (v1 JSON, v0 XML): producers by partita IVA, the "
                 "GAS's relationships from its orders. Prints the answer as JSON; exit 1 "
                 "when a file is refused (nothing of it is written).")
    p = imports_sub.add_parser("gdxp", help=help_text, description=help_text)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--gas-id", help="the GAS the files are for (default: the one the "
                   "file's subject names by codice fiscale or partita IVA)")
    p.add_argument("--dry-run", action="store_true",
                   help="answer what would be created, updated and skipped; write nothing")
    p.set_defaults(func=cmd_import_gdxp)
