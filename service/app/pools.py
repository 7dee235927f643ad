"""Lending pools: the money a lender can lend, the deposits that fill them, and the match
rule by which a pool tops up a request the GAS have mostly prepaid."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import Connection, insert, select, update

from ledger.store import LedgerStore
from service.app import lending
from service.app.auth import Principal
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    check_uuid,
    money_minor,
    now_utc,
    paginate,
    parse_date,
    parse_decimal_string,
    path_uuid,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Errors, NotFound
from service.app.lender_scope import hide_other_lender, of_own_lender
from service.app.parties import name_of, party_names
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.records import Record
from service.db.tables import match_rules, pools

# Who may hold a dedicated pool's money with the lender (a partner organisation's fund).
PARTNER_KINDS = ("lender", "des", "gas", "producer", "person")


class PoolIn(msgspec.Struct, forbid_unknown_fields=True):
    lender_id: str
    name: str
    id: str | None = None
    partner_id: str | None = None
    max_loan: MoneyIn | None = None


class MatchRuleIn(msgspec.Struct, forbid_unknown_fields=True):
    threshold: str
    cap: MoneyIn
    budget: MoneyIn | None = None


class DepositIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None
    note: str | None = None


class PoolOut(msgspec.Struct):
    id: Uuid
    lender_id: Uuid
    lender_name: str
    name: str
    partner_id: Uuid | None
    partner_name: str | None
    max_loan: Money | None  # the most one loan may draw, when the pool has a limit
    general: bool
    balance: Money  # money available to lend
    lent: Money  # outstanding principal of the pool's loans
    created_at: Timestamp


class PoolPage(msgspec.Struct):
    items: list[PoolOut]
    next_cursor: str | None


class MatchRuleOut(msgspec.Struct):
    pool_id: Uuid
    threshold: DecimalText  # a fraction of the request: "0.75"
    cap: Money  # the most one request gets
    budget: Money | None  # the most all requests get together, when limited
    updated_at: Timestamp


class DepositOut(msgspec.Struct):
    id: Uuid
    pool_id: Uuid
    amount: Money
    date: Day
    note: str | None
    created_at: Timestamp


def pool_out(conn: Connection, store: LedgerStore, row: Record) -> PoolOut:
    balance, lent = lending.pool_figures(conn, store, row)
    names = party_names(conn, (row.lender_id, row.partner_id))
    return PoolOut(
        id=row.id, lender_id=row.lender_id, lender_name=names.get(row.lender_id, ""),
        name=row.name, partner_id=row.partner_id,
        partner_name=name_of(names, row.partner_id),
        max_loan=money(row.max_loan_minor) if row.max_loan_minor is not None else None,
        general=bool(row.is_general), balance=money(balance), lent=money(lent),
        created_at=rfc3339(row.created_at) or "")


def match_rule_out(conn: Connection, pool_id: str) -> MatchRuleOut:
    """The pool's match rule, 404 when it has none."""
    row = conn.execute(select(match_rules).where(match_rules.c.pool_id == pool_id)).first()
    if row is None:
        raise NotFound("match rule")
    return MatchRuleOut(
        pool_id=row.pool_id, threshold=row.threshold, cap=money(row.cap_minor),
        budget=money(row.budget_minor) if row.budget_minor is not None else None,
        updated_at=rfc3339(row.updated_at) or "")


def deposit_out(row: Record) -> DepositOut:
    return DepositOut(id=row.id, pool_id=row.pool_id, amount=money(row.amount_minor),
                      date=row.date.isoformat(), note=row.note,
                      created_at=rfc3339(row.created_at) or "")


def staff_pool_id(principal: Principal, pool_id: str) -> str:
    """The pool id of a path; only staff see pools, to anyone else none exists (404)."""
    pid = path_uuid(pool_id, "pool")
    if not principal.is_staff:
        raise NotFound("pool")
    return pid


def visible_pool(conn: Connection, principal: Principal, pool_id: str) -> Record:
    """The pool if ``principal`` sees it: staff, and of its own lender for an officer
    bound to one; else 404."""
    row = conn.execute(select(pools).where(pools.c.id == pool_id)).first()
    if row is None or not principal.is_staff:
        raise NotFound("pool")
    hide_other_lender(principal, row.lender_id, "pool")
    return row


# -- use cases ------------------------------------------------------------------------------


def create_pool(ctx: AppContext, principal: Principal, data: PoolIn) -> tuple[int, PoolOut]:
    """A dedicated pool of a lender (its general pool comes with the lender)."""
    errors = Errors()
    pool_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
    lender_id = check_uuid(data.lender_id, "lender_id", errors)
    partner_id = check_uuid(data.partner_id, "partner_id", errors)
    max_loan = money_minor(data.max_loan, "max_loan", errors) if data.max_loan else None
    if not data.name.strip() or len(data.name) > 200:
        errors.add("name", "must be 1 to 200 characters")
    errors.raise_if_any()
    principal.require("officer")

    def before(conn: Connection) -> None:
        hide_other_lender(principal, lender_id, "lender")

    def run(conn: Connection, _: None) -> tuple[int, PoolOut]:
        lending.party_of_kind(conn, lender_id, "lender", "lender_id")
        if partner_id:
            lending.party_of_kind(conn, partner_id, PARTNER_KINDS, "partner_id")
        row = lending.create_pool(conn, ctx.store, pool_id=pool_id, lender_id=str(lender_id),
                                  name=data.name.strip(), partner_id=partner_id,
                                  max_loan=max_loan, general=False,
                                  username=principal.username)
        return 201, pool_out(conn, ctx.store, row)

    return command(ctx, principal, "POST /api/pools", data, run, before, returns=PoolOut)


def list_pools(ctx: AppContext, principal: Principal, lender_id: str | None,
               limit: int | None, cursor: str | None) -> PoolPage:
    (lender_id,) = check_filters({"lender_id": lender_id})
    principal.require("officer")

    def read(conn: Connection) -> PoolPage:
        query = where_equal(of_own_lender(select(pools), pools.c.lender_id, principal),
                            pools, lender_id=lender_id)
        rows, nxt = paginate(conn, query, pools.c.seq, limit, cursor)
        return PoolPage([pool_out(conn, ctx.store, r) for r in rows], nxt)

    return ctx.read(read)


class PoolName(msgspec.Struct, frozen=True):
    id: str
    lender_id: str
    name: str


def list_pool_names(ctx: AppContext, principal: Principal) -> list[PoolName]:
    """Every pool's id, lender and name, in creation order (officers): what a select
    of pools shows, without the balance and the outstanding loans of each."""
    principal.require("officer")
    query = of_own_lender(select(pools.c.id, pools.c.lender_id, pools.c.name),
                          pools.c.lender_id, principal)
    return ctx.read(lambda conn: [
        PoolName(r.id, r.lender_id, r.name)
        for r in conn.execute(query.order_by(pools.c.seq))])


def read_pool(ctx: AppContext, principal: Principal, pool_id: str) -> PoolOut:
    pid = staff_pool_id(principal, pool_id)
    return ctx.read(lambda conn: pool_out(conn, ctx.store, visible_pool(conn, principal, pid)))


def set_match_rule(ctx: AppContext, principal: Principal, pool_id: str, data: MatchRuleIn
                   ) -> MatchRuleOut:
    """When GAS prepayments reach ``threshold`` (a fraction, "0.75") of a mixed request,
    this pool tops up the rest, up to ``cap`` (and ``budget`` in all)."""
    pid = path_uuid(pool_id, "pool")
    errors = Errors()
    threshold = parse_decimal_string(data.threshold, "threshold", errors, max_decimals=4)
    if threshold > 1:
        errors.add("threshold", "a fraction of the request between 0 and 1, e.g. \"0.75\"")
    cap = money_minor(data.cap, "cap", errors)
    budget = money_minor(data.budget, "budget", errors) if data.budget else None
    errors.raise_if_any()

    def write(conn: Connection) -> MatchRuleOut:
        visible_pool(conn, principal, pid)
        values = dict(threshold=str(threshold), cap_minor=cap, budget_minor=budget,
                      updated_at=now_utc(), updated_by=principal.username)
        if conn.execute(select(match_rules.c.pool_id).where(
                match_rules.c.pool_id == pid)).first():
            conn.execute(update(match_rules).where(match_rules.c.pool_id == pid)
                         .values(**values))
        else:
            conn.execute(insert(match_rules).values(pool_id=pid, **values))
        return match_rule_out(conn, pid)

    return ctx.write(write)


def read_match_rule(ctx: AppContext, principal: Principal, pool_id: str) -> MatchRuleOut:
    pid = staff_pool_id(principal, pool_id)

    def read(conn: Connection) -> MatchRuleOut:
        visible_pool(conn, principal, pid)
        return match_rule_out(conn, pid)

    return ctx.read(read)


def delete_match_rule(ctx: AppContext, principal: Principal, pool_id: str) -> None:
    pid = staff_pool_id(principal, pool_id)

    def write(conn: Connection) -> None:
        visible_pool(conn, principal, pid)
        match_rule_out(conn, pid)  # 404 when there is none
        conn.execute(match_rules.delete().where(match_rules.c.pool_id == pid))

    ctx.write(write)


def deposit_into_pool(ctx: AppContext, principal: Principal, pool_id: str, data: DepositIn
                      ) -> tuple[int, DepositOut]:
    """Money paid into the pool (officers): the lender may lend it from ``date``."""
    pid = path_uuid(pool_id, "pool")
    errors = Errors()
    op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
    amount = money_minor(data.amount, "amount", errors)
    on = parse_date(data.date, "date", errors, past=True)
    errors.raise_if_any()
    assert on is not None

    def before(conn: Connection) -> Record:
        return visible_pool(conn, principal, pid)

    def run(conn: Connection, row: Record) -> tuple[int, DepositOut]:
        dep = lending.deposit(conn, ctx.store, op_id=op_id, pool_row=row, amount=amount,
                              on=on, note=data.note, username=principal.username)
        return 201, deposit_out(dep)

    return command(ctx, principal, f"POST /api/pools/{pid}/deposits", data, run, before,
                   returns=DepositOut)
