"""What the GAS and producer pages share: the parties' names, the producers a GAS buys
from, the goods still owed on a prepayment, and knowing when a post was a replay."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import ParamSpec, TypeVar

from service.app.auth import Principal
from service.app.context import AppContext
from service.app.parties import list_parties, list_relationships
from service.app.prepayments import PrepaymentOut
from service.web.core import AnyRequest, call, party_name, replayed
from service.web.formatting import number

T = TypeVar("T")
P = ParamSpec("P")
PAGE_ALL = 500  # the app layer's largest page: a GAS buys from a handful of producers


def names_of(ctx: AppContext, principal: Principal, kind: str | None = None
             ) -> dict[str, str]:
    """The names of the parties the user may see (a GAS: the producers it buys from and
    itself; a producer: the GAS that buy from it)."""
    names: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = list_parties(ctx, principal, kind, PAGE_ALL, cursor)
        names.update({p.id: p.name for p in page.items})
        cursor = page.next_cursor
        if cursor is None:
            return names


def names_for(ctx: AppContext, principal: Principal) -> dict[str, str]:
    """The names a user's pages show most: a GAS's producers, a producer's GAS; staff
    see every party, so theirs are looked up one by one (``name_of``)."""
    if principal.is_staff:
        return {}
    kind = {"gas": "producer", "producer": "gas"}.get(principal.role)
    return names_of(ctx, principal, kind)


def name_of(ctx: AppContext, names: dict[str, str], party_id: str | None) -> str:
    """The name of a party an item the user sees names (its name is shown beside the
    item, as the API's ``*_name`` fields do)."""
    if party_id is None:
        return "—"
    if party_id not in names:
        names[party_id] = party_name(ctx, party_id) or "—"
    return names[party_id]


def suppliers(ctx: AppContext, principal: Principal) -> list[tuple[str, str]]:
    """The producers the user's GAS buys from, as ``(id, name)`` sorted by name."""
    gas_id = principal.party_id or ""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = list_relationships(ctx, principal, gas_id, None, PAGE_ALL, cursor)
        ids += [r.producer_id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    names = names_of(ctx, principal, "producer")
    found = {pid: name_of(ctx, names, pid) for pid in ids}
    return sorted(found.items(), key=lambda item: item[1].casefold())


def owed(item: PrepaymentOut) -> tuple[Decimal, bool]:
    """The goods still owed on a prepayment, in its unit: what remains prepaid over the
    unit price, to the 3 decimals a delivery may have; ``exact`` when nothing is lost."""
    remaining = Decimal(item.remaining.amount)
    price = Decimal(item.unit_price.amount)
    if remaining <= 0 or price <= 0:
        return Decimal(0), True
    quantity = remaining / price
    shown = quantity.quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    return shown.normalize() if shown else Decimal(0), shown == quantity


def owed_text(item: PrepaymentOut) -> str:
    """``90 kg``, or ``circa 33,333 kg`` when the remainder is not a whole number of
    thousandths of the unit."""
    quantity, exact = owed(item)
    text = f"{number(quantity)} {item.unit}"
    return text if exact else f"circa {text}"


async def run_once(request: AnyRequest, op_id: str,
                   fn: Callable[P, tuple[int, T]], *args: P.args, **kwargs: P.kwargs
                   ) -> tuple[int, T]:
    """Run an operation with the form's operation id: ``(201, answer)`` when it was
    recorded now, ``(200, answer)`` when the id had already recorded it (a resubmission
    answers as the first time, with the same status: the command's replay note tells
    the two apart)."""
    _, answer = await call(fn, *args, **kwargs)
    return (200 if replayed() else 201), answer
