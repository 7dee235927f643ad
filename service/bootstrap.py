"""The composition root: builds the application context every entry point (HTTP API, web
pages, CLI) runs on, and lists in one table what follows what.

Nothing registers itself by being imported: a handler runs because this table names it.
"""

from __future__ import annotations

from sqlalchemy import Engine

from ledger.group_commit import GroupCommitWriter
from ledger.store import LedgerStore
from service.app import funds, guarantees, lending, requests
from service.app.audit_writer import AuditWriter
from service.app.checkpoints import CheckpointWriter
from service.app.context import AppContext
from service.app.events import (
    Events,
    HandlerTable,
    LoanReopened,
    LoanRepaid,
    PartyCreated,
    PrepaymentClosed,
)
from service.app.expiry import PendingExpiry
from service.app.login_limits import LoginLimiter
from service.db.engine import make_engine
from service.settings import Settings


def handler_table() -> HandlerTable:
    """What happens when: each event and the handlers that follow it, in order, inside
    the transaction that raised it."""
    return {
        # A lender gets its general pool and income accounts; a GAS its solidarity fund.
        PartyCreated: (lending.open_lender_books, funds.open_gas_fund),
        # A loan repaid in full: its guarantees are released, its request may close.
        LoanRepaid: (guarantees.release_on_repayment, requests.close_on_loan_repaid),
        # A correction made a repaid loan owe again: what its payoff released is pledged
        # again, and its closed request is funded again.
        LoanReopened: (guarantees.repledge_on_reopening, requests.reopen_on_loan_reopened),
        # A prepayment closed: a funded request whose instruments are settled closes.
        PrepaymentClosed: (requests.close_on_prepayment_closed,),
    }


def build_context(settings: Settings, engine: Engine | None = None) -> AppContext:
    """The context for one process; start_services adds the long-lived helpers."""
    engine = engine or make_engine(settings.database_url,
                                   sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return AppContext(settings=settings, engine=engine,
                      limiter=LoginLimiter(engine, settings.login_attempts_per_minute,
                                           settings.login_failures_per_address),
                      events=Events(handler_table()), store=LedgerStore(engine))


def start_services(ctx: AppContext) -> None:
    """The group-commit writer, the clock that voids expired pending transfers, and the
    writer of signed checkpoints (when the settings say where they live)."""
    ctx.writer = GroupCommitWriter(ctx.store, max_batches=ctx.settings.group_commit_max_batches)
    ctx.expiry = PendingExpiry(ctx.store, ctx.engine)
    ctx.expiry.start()
    ctx.audit = AuditWriter(ctx.engine)
    key, log = ctx.settings.checkpoint_key_file, ctx.settings.checkpoint_log_file
    if key is not None and log is not None:
        ctx.checkpoints = CheckpointWriter(ctx.store, ctx.engine, key, log)
        ctx.checkpoints.start()


def stop_services(ctx: AppContext) -> None:
    if ctx.checkpoints is not None:  # the last checkpoint, at shutdown
        ctx.checkpoints.close()
        ctx.checkpoints = None
    if ctx.live_sessions is not None:
        ctx.live_sessions.close()
        ctx.live_sessions = None
    if ctx.expiry is not None:
        ctx.expiry.close()
        ctx.expiry = None
    if ctx.writer is not None:
        ctx.writer.close()
        ctx.writer = None
    if ctx.audit is not None:
        ctx.audit.close()
        ctx.audit = None
