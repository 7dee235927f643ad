"""The ``filiera`` console script."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence

from service.cli.common import CliError, audit_cli, audit_cli_apart, open_engine
from service.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # The app reads X-Forwarded-For itself, only from FILIERA_TRUSTED_PROXIES: uvicorn's
    # own proxy handling would trust it from 127.0.0.1 and let a client pick its address
    # (and escape the login limits).
    if args.reload:
        uvicorn.run("service.asgi:app", host=args.host, port=args.port, reload=True,
                    proxy_headers=False)
    else:
        from service.http.app import create_app

        uvicorn.run(create_app(Settings.from_env()), host=args.host, port=args.port,
                    log_level="warning", proxy_headers=False)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from service.db.engine import make_engine
    from service.db.migrate import current_revision, upgrade

    engine = make_engine(Settings.from_env().database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if after != before:  # an upgrade that found nothing to do changed nothing
        audit_cli_apart(engine, "filiera db upgrade", kind="database",
                        changes={"revision": {"from": before, "to": after}})
    print(f"database at revision {after}")
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    from service.app.auth import UserError, create_user
    from service.db.engine import write_tx

    engine = open_engine()
    password = _read_password()
    try:
        with write_tx(engine) as conn:
            create_user(conn, args.username, password, args.role, args.party)
            audit_cli(conn, "filiera user add", args.username)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.username!r} ({args.role}) created")
    return 0


def _user_change(username: str, change: Callable[..., object], done: str,
                 operation: str) -> int:
    from service.app.auth import UserError
    from service.db.engine import write_tx

    try:
        with write_tx(open_engine()) as conn:
            change(conn)
            audit_cli(conn, operation, username)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {username!r} {done}; its tokens are revoked")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    from service.app.auth import set_password

    password = _read_password()
    return _user_change(args.username,
                        lambda conn: set_password(conn, args.username, password),
                        "has a new password", "filiera user passwd")


def cmd_user_set(args: argparse.Namespace) -> int:
    from service.app.auth import set_role_party

    clear = args.party in ("", "none")
    party = None if clear else args.party
    return _user_change(args.username, lambda conn: set_role_party(
        conn, args.username, args.role, party, clear_party=clear), "changed",
        "filiera user set")


def cmd_user_disable(args: argparse.Namespace) -> int:
    from service.app.auth import disable_user

    return _user_change(args.username, lambda conn: disable_user(conn, args.username),
                        "disabled", "filiera user disable")


def _scale(text: str) -> tuple[int, int, int]:
    """``N`` (N times the demo: 40 gives 500 GAS, 2,000 producers, 3,000 loans) or three
    counts ``GAS,PRODUCERS,LOANS``."""
    try:
        parts = [int(part) for part in text.split(",")]
        if len(parts) == 1:
            n = parts[0]
            parts = [max(1, 25 * n // 2), 50 * n, 75 * n]
        gas, producers, loans = parts
    except ValueError as exc:
        raise argparse.ArgumentTypeError("give N, or three counts: GAS,PRODUCERS,LOANS"
                                         ) from exc
    if min(gas, producers, loans) < 1 or max(gas, producers, loans) > 100_000:
        raise argparse.ArgumentTypeError("each count from 1 to 100000")
    return gas, producers, loans


def cmd_demo_data(args: argparse.Namespace) -> int:
    from service.app.demo import DemoError, load_demo_data
    from service.bootstrap import build_context

    settings = Settings.from_env(create=False)
    ctx = build_context(settings, open_engine())
    try:
        report = load_demo_data(ctx, if_empty=args.if_empty, progress=not args.quiet)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    if not report.startswith("demo data loaded"):
        return 0  # --if-empty on a database with parties: nothing changed
    # Not the report itself: it prints the demo users' passwords.
    changes: dict[str, object] = {"loaded": "demo"}
    if args.scale:
        from service.app.clock import today
        from service.app.scale import load_scale_network

        gas, producers, loans = args.scale
        scale = load_scale_network(ctx, gas=gas, producers=producers, loans=loans,
                                   seed=args.seed, today=today(), progress=not args.quiet)
        print(scale)
        changes["scale"] = {"gas": gas, "producers": producers, "loans": loans,
                            "seed": args.seed}
    audit_cli_apart(ctx.engine, "filiera demo-data", kind="demo", changes=changes)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import msgspec

    from ledger.verify import parse_head
    from service.app.verification import verify_service

    expect = None
    if args.expect_head is not None:
        try:
            expect = parse_head(args.expect_head)
        except ValueError as exc:
            raise CliError(f"--expect-head: {exc}") from None
    result = verify_service(open_engine(), Settings.from_env(create=False), expect_head=expect)
    print(json.dumps(msgspec.to_builtins(result), indent=2))
    return 0 if result.ok else 1


def cmd_ledger_expire(args: argparse.Namespace) -> int:
    from ledger.store import LedgerStore
    from service.db.engine import write_tx

    engine = open_engine()
    store = LedgerStore(engine)
    with write_tx(engine) as conn:
        count = store.expire_pending(conn)
        if count:
            audit_cli(conn, "filiera ledger expire", kind="ledger",
                      changes={"expired": count})
    print(f"{count} pending transfers expired")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="filiera", description="Filiera: ethical finance "
                                     "for short supply chains.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_text: str
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=fn)
        return p

    p = add("serve", cmd_serve, "Serve the API and web pages.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--reload", action="store_true", help="restart on code changes (dev)")

    db = sub.add_parser("db", help="Database maintenance.", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = db_sub.add_parser("upgrade", help="Apply the migrations up to the latest.",
                           description="Apply the migrations up to the latest.")
    up.set_defaults(func=cmd_db_upgrade)

    user = sub.add_parser("user", help="User accounts.", description="User accounts.")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    ua = user_sub.add_parser("add", help="Add a user; the password is read from stdin.",
                             description="Add a user; the password is read from standard "
                             "input (without echo on a terminal).")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["admin", "officer", "producer", "gas"])
    ua.add_argument("--party", help="the party a producer, gas or officer user acts for")
    ua.set_defaults(func=cmd_user_add)
    up_ = user_sub.add_parser("passwd", help="Set a user's password (read from stdin); "
                              "revokes its tokens.", description="Set a user's password, "
                              "read from standard input as for 'user add'; revokes its tokens.")
    up_.add_argument("username")
    up_.set_defaults(func=cmd_user_passwd)
    us = user_sub.add_parser("set", help="Change a user's role or party; revokes its tokens.",
                             description="Change a user's role or party; revokes its "
                             "tokens. '--party none' unbinds an officer.")
    us.add_argument("username")
    us.add_argument("--role", choices=["admin", "officer", "producer", "gas"])
    us.add_argument("--party", help="the party the user acts for ('none' to unbind)")
    us.set_defaults(func=cmd_user_set)
    ud = user_sub.add_parser("disable", help="Disable a user: its logins answer 401 and its "
                             "tokens are revoked.", description="Disable a user: its logins "
                             "answer 401 and its tokens are revoked.")
    ud.add_argument("username")
    ud.set_defaults(func=cmd_user_disable)

    p = add("demo-data", cmd_demo_data, "Load the realistic Lombard demo network.")
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing when the database already has parties")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--scale", type=_scale, metavar="N|GAS,PRODUCERS,LOANS",
                   help="also load a synthetic MAG-scale network: N times the demo (40: "
                   "500 GAS, 2,000 producers, 3,000 loans) or the three counts")
    p.add_argument("--seed", type=int, default=1,
                   help="the scale network's seed: the same seed and day, the same network")

    p = add("verify", cmd_verify, "Recompute the ledger's hash chain and every account's "
            "totals from the journal, rebuild every instrument; exit 1 on any problem.")
    p.add_argument("--expect-head", metavar="COUNT:HASH",
                   help="a head noted earlier (verify prints it): exit 1 unless the journal "
                   "holds that hash at that position (a rolled-back or truncated copy)")

    ledger = sub.add_parser("ledger", help="Ledger maintenance.", description="Ledger "
                            "maintenance.")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    exp = ledger_sub.add_parser("expire", help="Expire pending transfers past their timeout "
                                "(idempotent).", description="Expire pending transfers past "
                                "their timeout (idempotent).")
    exp.set_defaults(func=cmd_ledger_expire)

    from service.cli.backup import add_backup_commands
    from service.cli.gdxp import add_gdxp_commands
    from service.cli.matching import add_matching_commands
    from service.cli.reports import add_report_command

    add_matching_commands(sub)
    add_report_command(sub)
    add_backup_commands(sub)
    add_gdxp_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `filiera match ID | head`: the reader left early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
