"""``filiera backup FILE`` and ``filiera restore FILE``; both end with verify."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import msgspec

from service.app.backup import BackupError, backup, restore
from service.app.verification import verify_all, verify_service
from service.cli.common import CliError, audit_cli_apart, open_engine
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
                     verify_service(engine, Settings.from_env(create=False)))


def cmd_restore(args: argparse.Namespace) -> int:
    engine = make_engine(Settings.from_env(create=False).database_url)
    try:
        summary = restore(engine, Path(args.file))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    # A new machine has no log: the restored checkpoints are checked under the key when
    # it is given, else reported as unverifiable (a restore must remain possible).
    key = Path(args.checkpoint_key) if args.checkpoint_key else None
    result = verify_all(engine, checkpoint_key=key, check_checkpoints=True)
    line = f"restored {summary.rows} rows in {len(summary.tables)} tables from {args.file}"
    if key is None:
        line += ("\ncheckpoints unverifiable: no --checkpoint-key given, so this copy cannot "
                 "be told from an older or rewritten one")
    status = _verified(line, result)
    # The restored database's first entry of its own: what was loaded, from where.
    audit_cli_apart(engine, "filiera restore", kind="database", outcome=status,
                    changes={"file": str(args.file), "rows": summary.rows,
                             "revision": summary.revision,
                             "checkpoint_key": key is not None})
    return status


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
    p.add_argument("--checkpoint-key", metavar="FILE",
                   help="the checkpoint key file of the service the backup came from: "
                   "its signed checkpoints are then verified against the restored journal")
    p.set_defaults(func=cmd_restore)



