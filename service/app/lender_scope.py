"""Several lenders on one service (API.md, "Hardening"): the rules in one place.

An officer bound to a lender (``Principal.bound_lender``: its ``party_id`` is that
lender) sees and acts on that lender's pools, categories, match rules and loans (with
their guarantees, calls and repayments) only: another lender's answer 404, as if they did
not exist. Funding requests stay visible to every officer; a request belongs to the
lender whose officer first takes it under review (``funding_requests.lender_id``), and
only that lender's officers, or unbound ones, assess it, set its terms (naming that
lender) and fund it: anyone else gets 403. Officers bound to no lender, and admins, see
everything (``bound_lender`` is None for them and every helper lets them through).
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import or_

from service.app.auth import Principal
from service.app.errors import Forbidden, NotFound
from service.db.records import Expr, Query

Q = TypeVar("Q", bound=Query)


class OtherLender(Forbidden):
    """403: the request is another lender's (``what`` = "request"), or the loan its
    terms name is not the lender's that may lend here (``what`` = "loan"). The pages
    say it in a sentence on the form instead of a page of refusal."""

    def __init__(self, detail: str, what: str) -> None:
        super().__init__(detail)
        self.what = what


def lender_scope(principal: Principal) -> str | None:
    """The one lender whose things ``principal`` sees, or None for every lender's."""
    return principal.bound_lender


def sees_lender(principal: Principal, lender_id: str | None) -> bool:
    """Whether ``principal`` may see what belongs to ``lender_id``."""
    bound = principal.bound_lender
    return bound is None or lender_id == bound


def hide_other_lender(principal: Principal, lender_id: str | None, what: str) -> None:
    """404 naming ``what`` when it is another lender's than ``principal``'s."""
    if not sees_lender(principal, lender_id):
        raise NotFound(what)


def of_own_lender(query: Q, column: Expr, principal: Principal) -> Q:
    """``query`` kept to ``principal``'s lender's rows (``column`` names the lender)."""
    bound = principal.bound_lender
    return query if bound is None else query.where(column == bound)


def request_claim(principal: Principal, request_lender: str | None, to: str) -> str | None:
    """The lender a request belongs to after ``principal`` moves it to ``to``: the first
    bound officer to take it under review claims it for its lender."""
    if request_lender is None and to == "under_review":
        return principal.bound_lender
    return request_lender


def lender_may_fund(bound: str | None, request_lender: str | None) -> bool:
    """Whether officers bound to ``bound`` (None: unbound) may assess, set the terms of
    and fund a request belonging to ``request_lender`` (None: no lender claimed it)."""
    return bound is None or request_lender is None or request_lender == bound


def of_fundable_requests(query: Q, column: Expr, bound: str | None) -> Q:
    """``query`` kept to the requests officers bound to ``bound`` may fund (``column``
    names the request's lender): their lender's and those no lender claimed yet."""
    return query if bound is None else query.where(or_(column.is_(None), column == bound))


def require_request_lender(principal: Principal, request_lender: str | None,
                           action: str) -> None:
    """403 unless ``principal`` may act on a request belonging to ``request_lender``
    (None: no lender has taken it under review yet)."""
    if not lender_may_fund(principal.bound_lender, request_lender):
        raise OtherLender(f"this request is another lender's (its officer took it under "
                          f"review): only that lender's officers {action}", "request")


def require_terms_lender(principal: Principal, request_lender: str | None,
                         terms_lender: str | None) -> None:
    """403 when a package's loan names a lender other than the request's, or, for a
    bound officer, other than its own."""
    if terms_lender is None:
        return
    bound = principal.bound_lender
    if request_lender is not None and terms_lender != request_lender:
        raise OtherLender("the loan must be the lender's that took the request under "
                          "review", "loan")
    if bound is not None and terms_lender != bound:
        raise OtherLender("an officer bound to a lender offers that lender's loans only",
                          "loan")
