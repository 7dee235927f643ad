"""Post-check of a plan against the network itself (not against the solver's model).

``check_plan`` recomputes every limit from the snapshot and raises ``PlanViolation``
listing each one a plan breaks; a plan that passes can be composed into instruments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from .config import MatchingConfig
from .network import Network, Request, loan_coverage
from .scoring import (
    Candidate,
    allows,
    candidates,
    eur,
    fair_share_cents,
    fund_general_cents,
    gas_budget_cents,
    loan_headroom,
    loans_blocked,
    match_threshold_cents,
    producer_gas_ids,
    rollovers,
)

if TYPE_CHECKING:
    from .allocation import Plan


class PlanViolation(AssertionError):
    """A plan breaks at least one limit; ``problems`` says which."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_plan(
    network: Network, requests: Sequence[Request], plan: Plan, config: MatchingConfig,
    eligible: Mapping[str, Sequence[Candidate]] | None = None,
) -> None:
    """Raise ``PlanViolation`` unless ``plan`` respects every limit.

    ``eligible`` (request id -> candidates) saves recomputing who may fund what when the
    caller already has it; limits themselves are always recomputed from the network.
    """
    c = config
    index = network.index
    problems: list[str] = []
    by_id = {r.id: r for r in requests}
    cands: dict[str, dict[tuple[str, str, str], Candidate]] = {}

    def eligible_for(req: Request) -> dict[tuple[str, str, str], Candidate]:
        """Who may fund ``req``, made for requests the plan allocates to only."""
        found = cands.get(req.id)
        if found is None:
            known = eligible.get(req.id) if eligible is not None else None
            found = cands[req.id] = {
                (k.kind, k.source_id, k.rule.id if k.rule else ""): k
                for k in (candidates(network, req, c) if known is None else known)
            }
        return found

    funded: dict[str, int] = defaultdict(int)
    loans: dict[str, int] = defaultdict(int)
    needed_cover: dict[str, Decimal] = defaultdict(Decimal)  # sum of coverage x loan
    prepaid: dict[str, int] = defaultdict(int)
    pledged: dict[str, int] = defaultdict(int)
    gas_fresh: dict[str, int] = defaultdict(int)
    pair_fresh: dict[tuple[str, str], int] = defaultdict(int)
    pair_cap: dict[tuple[str, str], int] = defaultdict(int)
    pair_idle: dict[tuple[str, str], int] = defaultdict(int)
    pool_lent: dict[str, int] = defaultdict(int)
    pool_idle: dict[str, int] = defaultdict(int)
    loan_by_pool_req: dict[tuple[str, str], int] = defaultdict(int)
    lender_exposure: dict[tuple[str, str], int] = defaultdict(int)
    lender_room: dict[tuple[str, str], int] = {}
    ordinary_exposure: dict[tuple[str, str], int] = defaultdict(int)
    share_room: dict[tuple[str, str], int] = {}
    topups: dict[str, int] = defaultdict(int)
    topped: set[str] = set()
    guarantor_used: dict[str, int] = defaultdict(int)
    fund_by_producer: dict[tuple[str, str], int] = defaultdict(int)

    for a in plan.allocations:
        found = by_id.get(a.request_id)
        if found is None:
            problems.append(f"allocation to unknown request {a.request_id}")
            continue
        req = found
        where = f"{a.kind} {a.source_id} -> {req.id}"
        if a.amount_cents <= 0 or not 0 <= a.idle_cents <= a.amount_cents:
            problems.append(f"{where}: amount {a.amount_cents}, idle {a.idle_cents}")
        if not allows(req, a.kind):
            problems.append(f"{where}: a {req.instrument} request takes no {a.kind}")
        cand = eligible_for(req).get((a.kind, a.source_id, a.rule_id or ""))
        if cand is None:
            problems.append(f"{where}: not an eligible source")
            continue
        P = req.producer_id
        if a.kind == "prepayment":
            funded[req.id] += a.amount_cents
            prepaid[req.id] += a.amount_cents
            fresh = a.amount_cents - a.idle_cents
            if a.amount_cents > fair_share_cents(req, c):
                problems.append(f"{where}: above the fairness share")
            if fresh > cand.cap_cents:
                problems.append(f"{where}: fresh {eur(fresh)} above cap {eur(cand.cap_cents)}")
            gas_fresh[a.source_id] += fresh
            pair_fresh[(a.source_id, P)] += fresh
            pair_cap[(a.source_id, P)] = max(pair_cap[(a.source_id, P)], cand.cap_cents)
            pair_idle[(a.source_id, P)] += a.idle_cents
        elif a.kind == "loan":
            funded[req.id] += a.amount_cents
            loans[req.id] += a.amount_cents
            pool = index.pools_by_id[a.source_id]
            cover = loan_coverage(req, index.lenders[pool.lender_id])
            if cover:
                needed_cover[req.id] += cover * a.amount_cents
            pool_lent[pool.id] += a.amount_cents
            pool_idle[pool.id] += a.idle_cents
            loan_by_pool_req[(pool.id, req.id)] += a.amount_cents
            lender_exposure[(P, pool.lender_id)] += a.amount_cents
            producer = index.producers[P]
            if loans_blocked(producer, c):
                problems.append(f"{where}: producer {P} is too far past due for a loan")
            head = loan_headroom(index, producer, pool.lender_id,
                                 producer_gas_ids(index, req), c)
            key = (P, pool.lender_id)
            room = head.borrower_room_cents
            lender_room[key] = min(lender_room.get(key, room), room)
            if a.rule_id is None and head.share_room_cents is not None:
                ordinary_exposure[key] += a.amount_cents
                room = head.share_room_cents
                share_room[key] = min(share_room.get(key, room), room)
            if a.rule_id is not None:
                if a.amount_cents > cand.cap_cents:
                    problems.append(f"{where}: top-up above the rule's cap")
                topups[a.rule_id] += a.amount_cents
                topped.add(req.id)
            elif a.amount_cents > cand.cap_cents:
                problems.append(f"{where}: above the pool's per-request cap")
        elif a.kind == "guarantee":
            pledged[req.id] += a.amount_cents
            guarantor_used[a.source_id] += a.amount_cents
        else:
            funded[req.id] += a.amount_cents
            fund_by_producer[(a.source_id, P)] += a.amount_cents

    for req in requests:
        got = funded[req.id]
        if plan.funded_cents.get(req.id) != got:
            problems.append(f"request {req.id}: funded {plan.funded_cents.get(req.id)} != {got}")
        if plan.funded_cents.get(req.id, 0) + plan.unfunded_cents.get(req.id, 0) \
                != req.amount_cents:
            problems.append(f"request {req.id}: funded + unfunded != {req.amount_cents}")
        if got > req.amount_cents or plan.unfunded_cents.get(req.id, 0) < 0:
            problems.append(f"request {req.id}: funded beyond its amount")
        if pledged[req.id] < needed_cover[req.id]:
            problems.append(f"request {req.id}: guarantees {eur(pledged[req.id])} below "
                            f"the {needed_cover[req.id] / 100:f} EUR its loans' lenders "
                            "need")
        if pledged[req.id] and not loans[req.id]:
            problems.append(f"request {req.id}: guarantees without a loan")
        if req.id in topped:
            for k in eligible_for(req).values():
                if k.rule is not None and prepaid[req.id] < match_threshold_cents(k.rule, req):
                    problems.append(f"request {req.id}: top-up below the match threshold")
    for gid, fresh in gas_fresh.items():
        budget = gas_budget_cents(index, index.gas[gid], c)
        if fresh > budget:
            problems.append(f"GAS {gid}: prepays {eur(fresh)} beyond its budget {eur(budget)}")
    for (gid, P), fresh in pair_fresh.items():
        if fresh > pair_cap[(gid, P)]:
            problems.append(f"GAS {gid}: prepays producer {P} beyond its plausible amount")
        rolled = sum(pp.remaining_cents for pp in rollovers(index, gid, P, network.as_of, c))
        if pair_idle[(gid, P)] > rolled:
            problems.append(f"GAS {gid}: more idle prepayment than its rollovers to {P}")
    for pid, lent in pool_lent.items():
        pool = index.pools_by_id[pid]
        if lent > pool.free_cents:
            problems.append(f"pool {pid}: lends {eur(lent)} of {eur(pool.free_cents)} free")
        if pool_idle[pid] > pool.idle_cents:
            problems.append(f"pool {pid}: more idle capital used than it holds")
    for (pid, _rid), lent in loan_by_pool_req.items():
        cap = index.pools_by_id[pid].max_loan_cents
        if cap is not None and lent > cap:
            problems.append(f"pool {pid}: a loan of {eur(lent)} above its maximum")
    for key, exposure in lender_exposure.items():
        if exposure > lender_room[key]:
            problems.append(f"producer {key[0]}: {eur(exposure)} from lender {key[1]} "
                            f"beyond its cap {eur(lender_room[key])}")
    for key, exposure in ordinary_exposure.items():
        if exposure > share_room[key]:
            problems.append(f"producer {key[0]}: {eur(exposure)} from lender {key[1]} "
                            f"beyond the share-capital cap {eur(share_room[key])}")
    for rule in index.match_rules:
        if rule.budget_cents is not None and topups[rule.id] > rule.budget_cents:
            problems.append(f"match rule {rule.id}: beyond its budget")
    for qid, used in guarantor_used.items():
        if used > index.guarantors[qid].free_capacity_cents:
            problems.append(f"guarantor {qid}: pledges beyond its free capacity")
    general_used: dict[str, int] = defaultdict(int)
    fund_total: dict[str, int] = defaultdict(int)
    for (fid, P), amount in fund_by_producer.items():
        f = index.funds[fid]
        fund_total[fid] += amount
        rest = amount - min(amount, f.earmarked.get(P, 0))
        if rest and not (f.gas_id and (f.gas_id, P) in index.rel):
            problems.append(f"fund {fid}: general money to {P}, whose GAS does not buy there")
        general_used[fid] += rest
    for fid, used in general_used.items():
        f = index.funds[fid]
        if used > fund_general_cents(f) or fund_total[fid] > f.balance_cents:
            problems.append(f"fund {fid}: pays out more than it may")
    if problems:
        raise PlanViolation(problems)
