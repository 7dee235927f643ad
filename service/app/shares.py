"""Member shares: share capital a person, GAS or producer subscribes with a lender, paid
into the lender's general pool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import msgspec
from sqlalchemy import Connection, insert, select

from ledger.chart import account, account_id, leg_id
from ledger.transfers import Transfer
from service.app import lending
from service.app.auth import Principal
from service.app.books import refuse_closed
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    now_utc,
    paginate,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Forbidden
from service.app.inputs import Input, an_id, client_id, day, minor_units
from service.app.ledger_ops import ensure_accounts
from service.app.ledger_ops import post as post_batch
from service.app.lender_scope import hide_other_lender, of_own_lender
from service.app.parties import party_names, refuse_acting_for
from service.app.types import Day, Timestamp, Uuid
from service.app.views import Money, money
from service.db.records import Record
from service.db.tables import shares

MEMBER_KINDS = ("person", "gas", "producer")


class ShareIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: str
    lender_id: str
    amount: MoneyIn
    date: str
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Subscription(Input):
    id: str = client_id()
    member_id: str = an_id()
    lender_id: str = an_id()
    amount: int = minor_units()
    on: date = day("date", past=True)


class ShareOut(msgspec.Struct):
    id: Uuid
    member_id: Uuid
    member_name: str
    lender_id: Uuid
    lender_name: str
    pool_id: Uuid
    amount: Money
    date: Day
    created_at: Timestamp


class SharePage(msgspec.Struct):
    items: list[ShareOut]
    next_cursor: str | None
    # Per member (by id): the total of every share the filters select, not just this page.
    totals: dict[str, Money]


def share_out(row: Record, names: Mapping[str, str]) -> ShareOut:
    return ShareOut(id=row.id, member_id=row.member_id,
                    member_name=names.get(row.member_id, ""), lender_id=row.lender_id,
                    lender_name=names.get(row.lender_id, ""), pool_id=row.pool_id,
                    amount=money(row.amount_minor),
                    date=row.date.isoformat(), created_at=rfc3339(row.created_at) or "")


# -- use cases ------------------------------------------------------------------------------


def subscribe_share(ctx: AppContext, principal: Principal, data: ShareIn
                    ) -> tuple[int, ShareOut]:
    """Officers record shares; a GAS user records its own GAS's."""
    share = Subscription.read(data)
    if not principal.is_staff and not (principal.role == "gas"
                                       and principal.party_id == share.member_id):
        ctx.read(lambda conn: refuse_acting_for(
            conn, principal, share.member_id,
            "officers record shares, or a GAS user for its own GAS"))

    def before(conn: Connection) -> None:
        hide_other_lender(principal, share.lender_id, "lender")

    def run(conn: Connection, _: None) -> tuple[int, ShareOut]:
        member = lending.party_of_kind(conn, share.member_id, MEMBER_KINDS, "member_id")
        lender = lending.party_of_kind(conn, share.lender_id, "lender", "lender_id")
        pool_id = lending.general_pool_id(share.lender_id)
        refuse_closed(conn, share.on, "a share")
        ext = account("member-external", member.id, party_id=member.id)
        ensure_accounts(conn, ctx.store, [ext])
        conn.execute(insert(shares).values(
            id=share.id, member_id=member.id, lender_id=share.lender_id, pool_id=pool_id,
            amount_minor=share.amount, date=share.on, created_at=now_utc(),
            created_by=principal.username))
        post_batch(conn, ctx.store, [Transfer(
            id=leg_id(share.id, "share"), debit_account_id=ext.id,
            credit_account_id=account_id("pool", pool_id), amount=share.amount,
            currency="EUR", code="share", value_date=share.on,
            user_data=f"share:{share.id}", operation_id=share.id)], {})
        row = conn.execute(select(shares).where(shares.c.id == share.id)).one()
        return 201, share_out(row, {member.id: member.name, lender.id: lender.name})

    return command(ctx, principal, "POST /api/shares", data, run, before, returns=ShareOut)


def list_shares(ctx: AppContext, principal: Principal, member_id: str | None,
                lender_id: str | None, limit: int | None, cursor: str | None) -> SharePage:
    """Officers see every share; a GAS user its own GAS's."""
    member_id, lender_id = check_filters({"member_id": member_id, "lender_id": lender_id})
    if not principal.is_staff and principal.role != "gas":
        raise Forbidden("officers, or a GAS user for its own GAS")

    def read(conn: Connection) -> SharePage:
        query = of_own_lender(select(shares), shares.c.lender_id, principal)
        query = where_equal(query, shares, member_id=member_id, lender_id=lender_id)
        if not principal.is_staff:
            query = query.where(shares.c.member_id == principal.party_id)
        rows, nxt = paginate(conn, query, shares.c.seq, limit, cursor)
        totals: dict[str, int] = {}
        for r in conn.execute(query):
            totals[r.member_id] = totals.get(r.member_id, 0) + r.amount_minor
        names = party_names(conn, [i for r in rows for i in (r.member_id, r.lender_id)])
        return SharePage([share_out(r, names) for r in rows], nxt,
                         {m: money(c) for m, c in sorted(totals.items())})

    return ctx.read(read)
