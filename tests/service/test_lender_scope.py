"""The rules of ``service.app.lender_scope`` as properties, over every kind of user and
any lenders: who sees what, who may act on a request, and the plan's copy of the network
with one lender's pools (API.md, "Several lenders on one service")."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.network import MatchRule, Network, Pool
from service.app.auth import ROLES, Principal
from service.app.errors import Forbidden, NotFound
from service.app.lender_scope import (
    hide_other_lender,
    lender_scope,
    request_claim,
    require_request_lender,
    require_terms_lender,
    sees_lender,
)
from service.app.matching import Snapshot, own_pools_only

LENDERS = ("L1", "L2", "L3")
lender = st.sampled_from(LENDERS)
maybe_lender = st.none() | lender
principals = st.builds(Principal, username=st.just("u"), role=st.sampled_from(ROLES),
                       party_id=maybe_lender)


@given(principals, maybe_lender)
def test_only_an_officer_bound_to_a_lender_is_kept_from_the_others(
        who: Principal, owner: str | None) -> None:
    bound = who.role == "officer" and who.party_id is not None
    assert lender_scope(who) == (who.party_id if bound else None)
    assert sees_lender(who, owner) == (not bound or owner == who.party_id)
    if sees_lender(who, owner):
        hide_other_lender(who, owner, "pool")
    else:
        with pytest.raises(NotFound):
            hide_other_lender(who, owner, "pool")


@given(principals, maybe_lender, st.sampled_from(
    ("under_review", "needs_info", "submitted", "approved", "rejected", "withdrawn")))
def test_a_request_is_claimed_once_by_the_first_bound_reviewer(
        who: Principal, owner: str | None, to: str) -> None:
    claimed = request_claim(who, owner, to)
    if owner is not None:
        assert claimed == owner  # never taken over
    elif to == "under_review":
        assert claimed == lender_scope(who)
    else:
        assert claimed is None


@given(principals, maybe_lender, maybe_lender)
def test_who_may_act_on_a_request_and_which_loan_its_terms_name(
        who: Principal, owner: str | None, terms: str | None) -> None:
    bound = lender_scope(who)
    may_act = bound is None or owner is None or owner == bound
    if may_act:
        require_request_lender(who, owner, "assess it")
    else:
        with pytest.raises(Forbidden):
            require_request_lender(who, owner, "assess it")
    may_name = terms is None or ((owner is None or terms == owner)
                                 and (bound is None or terms == bound))
    if may_name:
        require_terms_lender(who, owner, terms)
    else:
        with pytest.raises(Forbidden):
            require_terms_lender(who, owner, terms)


pools = st.lists(st.builds(Pool, id=st.uuids().map(str), lender_id=lender,
                           name=st.just("p"), free_cents=st.integers(0, 10**9)),
                 max_size=8, unique_by=lambda p: p.id)


@given(pools, st.data(), maybe_lender)
def test_a_plan_for_one_lender_lends_from_its_pools_only(
        every: list[Pool], data: st.DataObject, only: str | None) -> None:
    rules = tuple(MatchRule(id=f"r{i}", pool_id=p.id) for i, p in enumerate(every)
                  if data.draw(st.booleans()))
    network = Network(as_of=date(2026, 12, 6), pools=tuple(every), match_rules=rules)
    snap = Snapshot(network, {}, {}, {})
    kept = own_pools_only(snap, only)
    if only is None:
        assert kept is snap
        return
    assert kept.network.pools == tuple(p for p in every if p.lender_id == only)
    ids = {p.id for p in kept.network.pools}
    assert kept.network.match_rules == tuple(r for r in rules if r.pool_id in ids)
    assert snap.network.pools == tuple(every)  # the kept (cached) network is not changed
    assert kept.network.index.pools_by_id.keys() == ids
