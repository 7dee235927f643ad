"""Totals near 2^63 - 1: ``overflows_debits`` / ``overflows_credits`` (never a funds
refusal), in the pure state machine and through the store on SQLite and PostgreSQL,
checked against a small independent interpreter of the contract's rules."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ledger.accounts import Account, AccountFlag, new_account
from ledger.ids import uuid7
from ledger.state_machine import LedgerState, apply_batch
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag, TransferResultCode

TOP = 2**63 - 1  # what a BIGINT holds; written out here, not imported
NOW = 1_700_000_000 * 1_000_000_000
DMNEC = AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS
CMNED = AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS


def acct(*flags: AccountFlag, dp: int = 0, dpo: int = 0, cp: int = 0, cpo: int = 0) -> Account:
    return Account(id=uuid7(), code="near the top", currency="EUR", flags=frozenset(flags),
                   debits_pending=dp, debits_posted=dpo, credits_pending=cp,
                   credits_posted=cpo)


def tr(debit: Account, credit: Account, amount: int, *flags: str,
       pending_id: str | None = None) -> Transfer:
    return Transfer(id=uuid7(), debit_account_id=debit.id, credit_account_id=credit.id,
                    amount=amount, currency="EUR",
                    flags=frozenset(TransferFlag(f) for f in flags), pending_id=pending_id)


def run(batch: Sequence[Transfer], *accounts: Account) -> tuple[list[str], dict[str, tuple]]:
    state = LedgerState(accounts={a.id: a for a in accounts})
    out = apply_batch(batch, state, now=NOW)
    after = {a.id: (out.accounts.get(a.id) or a).totals for a in accounts}
    return [r.result.value for r in out.results], after


# -- worked examples -----------------------------------------------------------------------


def test_debits_past_the_top_overflow_debits_and_change_nothing() -> None:
    # debits 2^63 - 11 (pending 10 + posted 2^63 - 21): 10 more fit, 11 do not.
    a, b = acct(dp=10, dpo=TOP - 20), acct()
    codes, after = run([tr(a, b, 11), tr(a, b, 10), tr(a, b, 1)], a, b)
    assert codes == ["overflows_debits", "created", "overflows_debits"]
    assert after[a.id] == (10, TOP - 10, 0, 0)
    assert after[b.id] == (0, 0, 0, 10)


def test_credits_past_the_top_overflow_credits() -> None:
    a, b = acct(), acct(cp=TOP - 5, cpo=3)
    codes, after = run([tr(a, b, 3, "pending"), tr(a, b, 2, "pending"), tr(a, b, 1)], a, b)
    assert codes == ["overflows_credits", "created", "overflows_credits"]
    assert after[b.id] == (0, 0, TOP - 3, 3)
    assert after[a.id] == (2, 0, 0, 0)


def test_one_transfer_past_the_top_overflows_on_fresh_accounts() -> None:
    # A transfer may carry up to 2^128 - 1 (TigerBeetle's u128); past the top of a
    # BIGINT it is refused by the overflow check, and nothing is created.
    for amount in (TOP + 1, 2**64, 2**128 - 1):
        a, b = acct(), acct()
        state = LedgerState(accounts={a.id: a, b.id: b})
        out = apply_batch([tr(a, b, amount), tr(a, b, amount, "pending")], state, now=NOW)
        assert [r.result.value for r in out.results] == ["overflows_debits"] * 2
        assert out.created == () and dict(out.accounts) == {}
    # The debit side fits, the credit side does not: overflows_credits.
    a, b = acct(), acct(cpo=1)
    assert run([tr(a, b, TOP)], a, b)[0] == ["overflows_credits"]


def test_pending_and_posted_count_together() -> None:
    # Neither slot alone is near the top; their sum is (the old check missed this).
    half = TOP // 2
    a, b = acct(dp=half, dpo=half), acct()
    assert run([tr(a, b, 2)], a, b)[0] == ["overflows_debits"]
    assert run([tr(a, b, 1)], a, b)[0] == ["created"]  # 2 * half + 1 = 2^63 - 1


def test_debit_side_is_named_first_when_both_overflow() -> None:
    a, b = acct(dpo=TOP), acct(cpo=TOP)
    assert run([tr(a, b, 1)], a, b)[0] == ["overflows_debits"]


def test_overflow_is_not_a_funds_refusal_even_on_limited_accounts() -> None:
    # With a limit the transfer would also exceed it; overflow is what is answered, as
    # TigerBeetle does (overflow checks come before the limits).
    a, b = acct(DMNEC, dpo=TOP - 1, cpo=TOP - 1), acct()
    assert run([tr(a, b, 2)], a, b)[0] == ["overflows_debits"]
    c, d = acct(), acct(CMNED, cpo=TOP, dpo=TOP)
    assert run([tr(c, d, 1)], c, d)[0] == ["overflows_credits"]
    # Below the top, the limit still answers as before.
    e, f = acct(DMNEC, cpo=5), acct()
    assert run([tr(e, f, 6)], e, f)[0] == ["exceeds_credits"]


def test_an_overflow_fails_its_linked_chain() -> None:
    a, b = acct(dpo=TOP - 1), acct()
    codes, after = run([tr(b, a, 5, "linked"), tr(a, b, 2)], a, b)
    assert codes == ["linked_event_failed", "overflows_debits"]
    assert after[a.id] == (0, TOP - 1, 0, 0) and after[b.id] == (0, 0, 0, 0)


def test_post_and_void_at_the_top_are_fine() -> None:
    # Reserving up to the top, then posting part: pending + posted only goes down.
    a, b = acct(dpo=TOP - 100), acct(cpo=TOP - 100)
    pending = tr(a, b, 100, "pending")
    post = tr(a, b, 60, "post_pending", pending_id=pending.id)
    codes, after = run([pending, post], a, b)
    assert codes == ["created", "created"]
    assert after[a.id] == (0, TOP - 40, 0, 0)
    assert after[b.id] == (0, 0, 0, TOP - 40)


def test_post_on_totals_written_before_the_rule_overflows_instead_of_wrapping() -> None:
    # Pending + posted past the top could only have been written by the old rule; a post
    # must still not take the posted column past a BIGINT.
    a, b = acct(dp=10, dpo=TOP - 5), acct(cp=10)
    pending = Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id, amount=10,
                       currency="EUR", flags=frozenset({TransferFlag.PENDING}),
                       timestamp=NOW - 1)
    post = tr(a, b, 10, "post_pending", pending_id=pending.id)
    state = LedgerState(accounts={a.id: a, b.id: b}, transfers={pending.id: pending})
    out = apply_batch([post], state, now=NOW)
    assert [r.result for r in out.results] == [TransferResultCode.OVERFLOWS_DEBITS]
    assert out.created == () and dict(out.accounts) == {}


# -- an independent interpreter of the rules (no limit flags, one currency) ---------------


@dataclass
class Model:
    totals: dict[str, list[int]]  # id -> [debits_pending, debits_posted, credits_pending,
    #                                       credits_posted]
    pendings: dict[str, Transfer]
    resolved: dict[str, str]  # pending id -> "posted" | "voided"

    def one(self, t: Transfer) -> str:
        d, c = self.totals[t.debit_account_id], self.totals[t.credit_account_id]
        if t.pending_id is not None:
            p = self.pendings.get(t.pending_id)
            if p is None:
                return "pending_not_found"
            if t.pending_id in self.resolved:
                return f"pending_already_{self.resolved[t.pending_id]}"
            if t.post_pending:
                if t.amount > p.amount:
                    return "exceeds_pending_amount"
                d[0], d[1] = d[0] - p.amount, d[1] + t.amount
                c[2], c[3] = c[2] - p.amount, c[3] + t.amount
                self.resolved[p.id] = "posted"
            else:
                if t.amount != p.amount:
                    return "exceeds_pending_amount"
                d[0] -= p.amount
                c[2] -= p.amount
                self.resolved[p.id] = "voided"
            return "created"
        if sum(d[:2]) + t.amount > TOP:
            return "overflows_debits"
        if sum(c[2:]) + t.amount > TOP:
            return "overflows_credits"
        k = 0 if t.pending else 1
        d[k] += t.amount
        c[k + 2] += t.amount
        if t.pending:
            self.pendings[t.id] = t
        return "created"

    def batch(self, batch: Sequence[Transfer]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(batch):
            j = i
            while j < len(batch) and batch[j].linked:
                j += 1
            if j == len(batch):
                out += ["linked_event_chain_open"] * (j - i)
                break
            saved = copy.deepcopy((self.totals, self.pendings, self.resolved))
            chain: list[str] = []
            for t in batch[i:j + 1]:
                chain.append(self.one(t))
                if chain[-1] != "created":
                    break
            if chain[-1] != "created":
                self.totals, self.pendings, self.resolved = saved
                failed = ["linked_event_failed"] * (j + 1 - i)
                failed[len(chain) - 1] = chain[-1]
                chain = failed
            out += chain
            i = j + 1
        return out


# Events: (kind, debit index, credit index, amount, linked, which earlier event); now
# and then an amount past the top on its own (a transfer carries up to 2^128 - 1).
_AMOUNT = st.integers(1, 2**20) | st.integers(TOP - 2**20, 2**128 - 1)
_EVENT = st.tuples(st.sampled_from(["posted", "posted", "pending", "post", "void"]),
                   st.integers(0, 2), st.integers(0, 2), _AMOUNT,
                   st.booleans(), st.integers(0, 30))
_NEAR = st.integers(0, 2**20)  # how far below the top each total starts


def build_batch(accounts: Sequence[Account], events: Sequence[tuple]) -> list[Transfer]:
    batch: list[Transfer] = []
    for kind, i, j, amount, linked, which in events:
        if i == j:
            j = (i + 1) % len(accounts)
        flags = ["linked"] if linked else []
        earlier = [t for t in batch if t.pending]
        if kind in ("post", "void") and earlier:
            p = earlier[which % len(earlier)]
            amount = p.amount if kind == "void" else min(amount, p.amount)
            batch.append(Transfer(
                id=uuid7(), debit_account_id=p.debit_account_id,
                credit_account_id=p.credit_account_id, amount=amount, currency="EUR",
                flags=frozenset({TransferFlag(f"{kind}_pending"), *map(TransferFlag, flags)}),
                pending_id=p.id))
            continue
        extra = ["pending"] if kind == "pending" else []
        batch.append(tr(accounts[i], accounts[j], amount, *flags, *extra))
    return batch


@settings(max_examples=150, deadline=None)
@given(gaps=st.lists(st.tuples(_NEAR, _NEAR, _NEAR, _NEAR), min_size=3, max_size=3),
       events=st.lists(_EVENT, min_size=1, max_size=24))
def test_random_batches_near_the_top_match_the_model(
        gaps: list[tuple[int, int, int, int]], events: list[tuple]) -> None:
    # Each account starts with debits (pending + posted) and credits a little below the
    # top; a starting state need not be zero-sum for these rules.
    accounts = [acct(dp=g0, dpo=TOP - g0 - g1, cp=g2, cpo=TOP - g2 - g3)
                for g0, g1, g2, g3 in gaps]
    batch = build_batch(accounts, events)
    before = {a.id: a.totals for a in accounts}
    state = LedgerState(accounts={a.id: a for a in accounts})
    out = apply_batch(batch, state, now=NOW)
    after = {a.id: (out.accounts.get(a.id) or a).totals for a in accounts}
    codes = [r.result.value for r in out.results]
    model = Model({k: list(v) for k, v in before.items()}, {}, {})
    assert codes == model.batch(batch)
    assert after == {k: tuple(v) for k, v in model.totals.items()}
    for dp, dpo, cp, cpo in after.values():
        assert dp + dpo <= TOP and cp + cpo <= TOP
    # Nothing but created events moved money, and each moved the same on both sides.
    moved = [sum(after[a.id][k] - before[a.id][k] for a in accounts) for k in range(4)]
    assert moved[0] == moved[2] and moved[1] == moved[3]


# -- through the store ---------------------------------------------------------------------


def near_top_accounts(store: LedgerStore, gaps: Sequence[tuple[int, int]]) -> list[Account]:
    """Three accounts whose debits and credits are ``gap`` below the top, filled by
    transfers from and to feeder accounts (the store starts every account at zero)."""
    accounts = [new_account("near", "EUR") for _ in gaps]
    feeders = [new_account("feeder", "EUR") for _ in range(2 * len(gaps))]
    store.create_accounts_batch([*accounts, *feeders])
    fill: list[Transfer] = []
    for k, (a, (dgap, cgap)) in enumerate(zip(accounts, gaps, strict=True)):
        fill.append(tr(a, feeders[2 * k], TOP - dgap))
        fill.append(tr(feeders[2 * k + 1], a, TOP - cgap))
    assert {r.result.value for r in store.submit_batch(fill)} == {"created"}
    return accounts


def stored(store: LedgerStore, accounts: Sequence[Account]) -> dict[str, tuple[int, ...]]:
    with store.engine.connect() as conn:
        found = store.get_accounts(conn, [a.id for a in accounts])
    return {a.id: found[a.id].totals for a in accounts}


def test_store_answers_overflow_and_keeps_bigint_totals(engine: Engine) -> None:
    store = LedgerStore(engine)
    a, b, _ = near_top_accounts(store, [(10, 0), (0, 4), (0, 0)])
    results = store.submit_batch([tr(a, b, 11), tr(b, a, 5), tr(a, b, 4), tr(a, b, 6),
                                  tr(a, b, 7, "pending")])
    assert [r.result.value for r in results] == [
        "overflows_debits", "overflows_debits", "created", "overflows_credits",
        "overflows_debits"]
    # a: debits 2^63-11+4; b: credits 2^63-5+4 = 2^63 - 1.
    assert stored(store, [a, b]) == {a.id: (0, TOP - 6, 0, TOP), b.id: (0, TOP, 0, TOP)}
    with store.engine.begin() as conn:
        assert store.verify(conn).ok


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.tuples(_NEAR, _NEAR), min_size=3, max_size=3),
       events=st.lists(_EVENT, min_size=1, max_size=16))
def test_store_and_state_machine_agree_near_the_top(
        engine: Engine, gaps: list[tuple[int, int]], events: list[tuple]) -> None:
    store = LedgerStore(engine)
    accounts = near_top_accounts(store, gaps)
    batch = build_batch(accounts, events)
    before = stored(store, accounts)
    codes = [r.result.value for r in store.submit_batch(batch)]
    model = Model({k: list(v) for k, v in before.items()}, {}, {})
    assert codes == model.batch(batch)
    assert stored(store, accounts) == {k: tuple(v) for k, v in model.totals.items()}
    with store.engine.begin() as conn:
        assert store.verify(conn).ok

