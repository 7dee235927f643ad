"""Lending pools: the money a lender can lend, the deposits that fill them, and the match
rule by which a pool tops up a request the GAS have mostly prepaid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import Connection, insert, select, update

from ledger.store import LedgerStore
from service.app import lending
from service.app.auth import Principal
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    now_utc,
    paginate,
    path_uuid,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Errors, NotFound
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    day,
    decimal,
    minor_units,
    optional_id,
    optional_minor_units,
    text,
)
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


@dataclass(frozen=True, kw_only=True)
class NewPool(Input):
    id: str = client_id()
    lender_id: str = an_id()
    partner_id: str | None = optional_id()
    max_loan: int | None = optional_minor_units()
    name: str = text(at_most=200, message="must be 1 to 200 characters")


@dataclass(frozen=True, kw_only=True)
class MatchRule(Input):
    threshold: Decimal = decimal(max_decimals=4)
    cap: int = minor_units()
    budget: int | None = optional_minor_units()

    def check(self, errors: Errors) -> None:
        if self.read_fine("threshold") and self.threshold > 1:
            errors.add("threshold", "a fraction of the request between 0 and 1, e.g. \"0.75\"")


@dataclass(frozen=True, kw_only=True)
class Deposit(Input):
    id: str = client_id()
    amount: int = minor_units()
    on: date = day("date", past=True)


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
    new = NewPool.read(data)
    principal.require("officer")

    def before(conn: Connection) -> None:
        hide_other_lender(principal, new.lender_id, "lender")

    def run(conn: Connection, _: None) -> tuple[int, PoolOut]:
        lending.party_of_kind(conn, new.lender_id, "lender", "lender_id")
        if new.partner_id:
            lending.party_of_kind(conn, new.partner_id, PARTNER_KINDS, "partner_id")
        row = lending.create_pool(conn, ctx.store, pool_id=new.id, lender_id=new.lender_id,
                                  name=new.name, partner_id=new.partner_id,
                                  max_loan=new.max_loan, general=False,
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
    rule = MatchRule.read(data)

    def write(conn: Connection) -> MatchRuleOut:
        visible_pool(conn, principal, pid)
        values = dict(threshold=str(rule.threshold), cap_minor=rule.cap,
                      budget_minor=rule.budget,
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
    paid = Deposit.read(data)

    def before(conn: Connection) -> Record:
        return visible_pool(conn, principal, pid)

    def run(conn: Connection, row: Record) -> tuple[int, DepositOut]:
        dep = lending.deposit(conn, ctx.store, op_id=paid.id, pool_row=row,
                              amount=paid.amount, on=paid.on, note=data.note,
                              username=principal.username)
        return 201, deposit_out(dep)

    return command(ctx, principal, f"POST /api/pools/{pid}/deposits", data, run, before,
                   returns=DepositOut)
