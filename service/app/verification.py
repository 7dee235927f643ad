"""``filiera verify`` and ``GET /api/ledger/verify``: the journal checked end to end.

First the ledger itself (hash chain, every account's totals recomputed from the
journal); then every instrument's state rebuilt from its own records is compared with
what the journal holds for it, so a row changed behind the application's back shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
from sqlalchemy import Connection, Engine, select

from ledger import lending as postings
from ledger.chart import account_id
from ledger.store import LedgerStore
from ledger.verify import JournalHead
from service.app import lending
from service.app.checkpoints import verify_with_checkpoints
from service.app.funds import fund_state
from service.app.reversals import live
from service.db.engine import read_tx
from service.db.tables import (
    contributions,
    funds,
    guarantees,
    loan_installments,
    loans,
    payouts,
    prepayments,
)
from service.settings import Settings


class HeadOut(msgspec.Struct):
    """The chain's head: how many transfers the journal holds, and the last one's hash."""

    count: int
    hash: str


class CheckpointOut(msgspec.Struct):
    """Where the signed checkpoints stand: ``ok``, ``failed`` (``problems`` says why) or
    ``unverifiable`` (no key: nothing authenticated, said plainly, not a failure);
    ``unchecked``: transfers after the last checkpoint the journal matches."""

    status: Literal["ok", "failed", "unverifiable"]
    checkpoints: int
    last: dict[str, str | int] | None
    unchecked: int
    problems: list[str]
    notes: list[str]


class VerifyOut(msgspec.Struct, omit_defaults=True):
    ok: bool
    transfers: int
    accounts: int
    problems: list[str]
    head: HeadOut
    # Present when verify was given where the checkpoints live (the API and the CLI).
    checkpoints: CheckpointOut | msgspec.UnsetType = msgspec.UNSET


def verify_all(engine: Engine, *, expect_head: JournalHead | None = None,
               checkpoint_key: Path | None = None, checkpoint_log: Path | None = None,
               check_checkpoints: bool = False) -> VerifyOut:
    """The contract's ``{"ok", "transfers", "accounts", "problems", "head"}``; with
    ``expect_head`` (``COUNT:HASH`` noted earlier), a journal that does not hold that head
    at that position (a rolled-back or truncated copy) is not ok. With
    ``check_checkpoints``, the signed checkpoints (database and log) are checked under the
    key: forged, deleted or contradicted ones make it not ok."""
    store = LedgerStore(engine)
    with read_tx(engine) as conn:
        checked = None
        if check_checkpoints:
            report, checked = verify_with_checkpoints(
                conn, store, expect=expect_head, key_file=checkpoint_key,
                log_file=checkpoint_log)
        else:
            report = store.verify(conn, expect=expect_head)
        problems = list(report.problems)
        problems += instrument_problems(conn, store)
    out = VerifyOut(ok=report.ok and not problems and (checked is None or checked.ok),
                    transfers=report.transfers, accounts=report.accounts,
                    problems=problems, head=HeadOut(report.head.count, report.head.hash))
    if checked is not None:
        out.checkpoints = msgspec.convert(checked.to_json(), CheckpointOut)
    return out


def verify_service(engine: Engine, settings: Settings, *,
                   expect_head: JournalHead | None = None) -> VerifyOut:
    """Verify as the service is configured: checkpoints where the settings keep them."""
    return verify_all(engine, expect_head=expect_head,
                      checkpoint_key=settings.checkpoint_key_file,
                      checkpoint_log=settings.checkpoint_log_file,
                      check_checkpoints=settings.checkpoint_key_file is not None)


def instrument_problems(conn: Connection, store: LedgerStore) -> list[str]:

    problems: list[str] = []
    for row in conn.execute(select(loans).where(loans.c.status != "approved")):
        events = lending.events_of(conn, row.id)
        state = lending.loan_state(row, events, late_rate=lending.late_rate_of(conn, row))
        accounts = lending.accounts_of(row)
        booked = postings.booked(store.find_transfers(conn, user_data=f"loan:{row.id}"),
                                 accounts)
        target = lending.target_parts(state)
        for (event, component), value in sorted(booked.items()):
            expected = target.get(event, postings.Parts()).get(component)
            if value != expected:
                problems.append(f"loan {row.id}: event {event} {component} booked {value} "
                                f"cents, its operations give {expected}")
        for event, parts in target.items():
            for component in postings.COMPONENTS:
                if parts.get(component) and (event, component) not in booked:
                    problems.append(f"loan {row.id}: event {event} {component} not booked")
        kept = conn.execute(select(loan_installments).where(
            loan_installments.c.loan_id == row.id).order_by(loan_installments.c.number)).all()
        through = lending.replayed_through(row, events)
        replayed = [lending.installment_row(row.id, s, through) for s in state.schedule]
        if [dict(r._mapping) for r in kept] != replayed:
            problems.append(f"loan {row.id}: the kept schedule differs from the replay of "
                            "its operations")
        loan_account = store.get_account(conn, accounts.loan)
        balance = loan_account.balance if loan_account else 0
        if balance != state.outstanding:
            problems.append(f"loan {row.id}: account holds {balance} cents, the schedule "
                            f"says {state.outstanding} outstanding")
    for g in conn.execute(select(guarantees)):
        acct = store.get_account(conn, account_id("guarantee", g.id))
        pending = acct.credits_pending if acct else 0
        expected = 0 if g.status == "released" else g.amount_minor - g.called_minor
        called = sum(t.amount if t.code == "call" else -t.amount
                     for t in store.find_transfers(conn, user_data=f"guarantee:{g.id}")
                     if t.code in ("call", "call_reversal"))
        if pending != expected or called != g.called_minor:
            problems.append(f"guarantee {g.id}: ledger reserves {pending} and called "
                            f"{called} cents, the register says {expected} and "
                            f"{g.called_minor}")
        if acct is not None and acct.balance != 0:
            problems.append(f"guarantee {g.id}: {acct.balance} cents called but not spent "
                            "on the loan")
    for p in conn.execute(select(prepayments)):
        acct = store.get_account(conn, account_id("prepayment", p.id))
        expected = 0 if p.status == "closed" else p.amount_minor - p.delivered_minor
        if (acct.balance if acct else 0) != expected:
            problems.append(f"prepayment {p.id}: account holds "
                            f"{acct.balance if acct else 0} cents, the agreement says "
                            f"{expected} remain")
    for f in conn.execute(select(funds)):
        fund = fund_state(conn, f)
        paid_in = sum(c.amount_minor for c in conn.execute(
            select(contributions.c.amount_minor).where(contributions.c.fund_id == f.id,
                                                       live(contributions, "contribution"))))
        paid_out = sum(p.amount_minor for p in conn.execute(
            select(payouts.c.amount_minor).where(payouts.c.fund_id == f.id,
                                                 live(payouts, "payout"))))
        if fund.balance_cents != paid_in - paid_out:
            problems.append(f"fund {f.id}: ledger balance {fund.balance_cents} cents, "
                            f"contributions - payouts = {paid_in - paid_out}")
    return problems
