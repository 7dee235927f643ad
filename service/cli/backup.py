"""``filiera backup FILE`` and ``filiera restore FILE``; both end with verify."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import msgspec

from service.app.backup import BackupError, backup, restore
from service.app.verification import verify_all
from service.cli.common import CliError, open_engine
from service.db.engine import make_engine
from service.settings import Settings


def _verified(summary_line: str, engine_verify: msgspec.Struct) -> int:
    result = msgspec.to_builtins(engine_verify)
    print(summary_line)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


def cmd_backup(args: argparse.Namespace) -> int:
    engine = open_engine()
    summary = backup(engine, Path(args.file))
    return _verified(f"backup written to {args.file}: {summary.rows} rows in "
                     f"{len(summary.tables)} tables, revision {summary.revision}",
                     verify_all(engine))


def cmd_restore(args: argparse.Namespace) -> int:
    engine = make_engine(Settings.from_env(create=False).database_url)
    try:
        summary = restore(engine, Path(args.file))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    return _verified(f"restored {summary.rows} rows in {len(summary.tables)} tables from "
                     f"{args.file}", verify_all(engine))


def add_backup_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("backup", help="Write a consistent copy of the database while the "
                       "service runs, then verify.", description="Write every table, read "
                       "in one consistent snapshot, to FILE (gzip JSON lines; mode 600), "
                       "then verify the database. Exit 1 when verify fails.")
    p.add_argument("file")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="Load a backup into an empty database, then verify.",
                       description="Load FILE, written by `filiera backup`, into the "
                       "configured database, which must not exist yet or have no tables; "
                       "then verify. Exit 1 when verify fails, 2 when the database is not "
                       "empty or the file is not a backup.")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)



