"""Build the integer model of a plan from the candidates of its requests, with numpy.

One pass over the candidates (``scoring.candidates``, the same eligibility and caps the
suggestions use) records a few numbers per candidate. Everything else is array work:
variables are numbered per candidate (a GAS gives a fresh and, with rollovers, an idle
prepayment; a pool a loan; a match rule a top-up and its 0/1 switch; a fund earmarked and
general money; a guarantor a pledge), and every limit is a list of terms ``(row key,
variable, coefficient)``. Terms with the same key form one row: ``np.unique`` groups
them, a lexicographic sort picks each row's right-hand side (the largest plausible amount
for a GAS and a producer, the smallest room under a lender's caps) and its ``Limit``.
Rows left with one positive term become bounds; the rest form the CSR matrix.

Rows are ordered, and equal bounds keep the limit named first, exactly as when limits
were added one at a time walking the requests (per-request rows as met, shared rows in
the order first met), so explanations do not depend on how the model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np

from .config import MatchingConfig
from .model import FUND_EARMARK as EARMARK
from .model import FUND_GENERAL as GENERAL
from .model import (
    FUNDING,
    GUARANTEE,
    LOAN,
    PREPAY,
    PREPAY_IDLE,
    ROLE_KIND,
    ROLES,
    SWITCH,
    TOPUP,
    IntArray,
    Limit,
    LimitModel,
    scale_of,
)
from .network import Network, Request, loan_coverage
from .scoring import (
    Candidate,
    CandidateMemo,
    LoanHeadroom,
    candidates,
    fair_share_cents,
    fund_general_cents,
    gas_budget_cents,
    headroom,
    loan_headroom,
    match_threshold_cents,
    producer_gas_ids,
)

# What a bound or a row stands for; made into a ``Limit`` only when a plan reports it.
(L_SOURCE_CAP, L_FAIRNESS, L_GAS_BUDGET, L_ROLLOVER, L_POOL_MAX_LOAN, L_REQUEST_AMOUNT,
 L_MATCH_CAP, L_MATCH_THRESHOLD, L_MATCH_BUDGET, L_POOL_FREE, L_BORROWER_CAP, L_SHARE_CAP,
 L_GUARANTOR, L_FUND_BALANCE, L_FUND_EARMARK, L_FUND_GENERAL, L_COVERAGE) = range(17)

# Row keys: per candidate or request (fairness, match cap and threshold, the request's
# amount and guarantee coverage), then shared between requests.
(R_FAIR, R_MATCH_CAP, R_THRESHOLD, R_REQUEST, R_COVERAGE, R_GAS_BUDGET, R_EDGE, R_ROLLOVER,
 R_MATCH_BUDGET, R_POOL_FREE, R_MAX_LOAN, R_BORROWER, R_SHARE, R_GUARANTOR, R_EARMARK,
 R_FUND_GENERAL, R_FUND_BALANCE) = range(17)
_FIRST, _MAX, _MIN = 0, 1, 2  # which term's right-hand side a shared row keeps

_CAND_ORDER = {"gas": 0, "pool": 1, "match": 2, "fund": 3, "guarantor": 4}
_KIND_RANK = {k: i for i, k in enumerate(sorted(set(ROLE_KIND)))}
_ROLE_RANK = {r: i for i, r in enumerate(sorted(ROLES))}
_ROLE_KIND_RANK = np.array([_KIND_RANK[ROLE_KIND[i]] for i in range(len(ROLES))], dtype=np.int64)
_ROLE_NAME_RANK = np.array([_ROLE_RANK[r] for r in ROLES], dtype=np.int64)
_IS_FUNDING = np.array([r in FUNDING for r in ROLES], dtype=bool)

_A = 1 << 29  # row keys pack (kind, a, b) as kind * 2**58 + a * 2**29 + b


def _key(kind: int, a: IntArray, b: IntArray | int = 0) -> IntArray:
    out: IntArray = (np.int64(kind) << np.int64(58)) | (a << np.int64(29)) | b
    return out


def _cand_order(k: IntArray, r: IntArray, sub: int) -> IntArray:
    """Order of a row met at candidate ``k`` of request ``r``."""
    out: IntArray = ((2 * k + 2) << np.int64(22)) | (r << np.int64(1)) | sub
    return out


def _shared_order(k: IntArray, step: int) -> IntArray:
    """Order of a shared row first met at candidate ``k`` (``step``: its place there)."""
    out: IntArray = (np.int64(1) << np.int64(61)) | ((8 * k + step) << np.int64(22))
    return out


class _Terms:
    """Terms of rows, gathered in chunks of arrays."""

    def __init__(self) -> None:
        self.parts: list[tuple[IntArray, ...]] = []

    def add(self, key: IntArray, var: IntArray, coef: IntArray | int, rhs: IntArray | int,
            limit: int, limit_of: IntArray, order: IntArray, agg: int = _FIRST) -> None:
        n = len(var)
        if n == 0:
            return

        def full(v: IntArray | int) -> IntArray:
            out: IntArray = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
            return out

        self.parts.append((full(key), full(var), full(coef), full(rhs), full(limit),
                           full(limit_of), full(order), full(agg)))

    def arrays(self) -> tuple[IntArray, ...]:
        if not self.parts:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(8))
        return tuple(np.concatenate([p[c] for p in self.parts]) for c in range(8))


def _firsts(*keys: IntArray) -> IntArray:
    """Positions, in ``np.lexsort(keys)`` order, of the first of each run of the last key."""
    o = np.lexsort(keys)
    g = keys[-1][o]
    head = np.ones(len(o), dtype=bool)
    head[1:] = g[1:] != g[:-1]
    out: IntArray = o[head]
    return out


def _i64(rows: list[tuple[int, ...]], width: int) -> IntArray:
    return np.array(rows, dtype=np.int64).reshape(-1, width)


def build_model(
    network: Network, requests: Sequence[Request], config: MatchingConfig,
) -> tuple[LimitModel, list[int], list[int]]:
    """The integer model of every limit, with the preferred variable and request orders."""
    c = config
    index = network.index
    reqs = sorted(requests, key=lambda r: r.id)
    seen: set[str] = set()
    for req in reqs:
        if req.id in seen:
            raise ValueError(f"request {req.id!r} appears twice")
        if req.amount_cents <= 0:
            raise ValueError(f"request {req.id!r} must ask for a positive amount")
        seen.add(req.id)
    nreq = len(reqs)

    # --- one pass over the candidates ---------------------------------------------------
    codes: dict[str, int] = {}  # source, producer, lender and rule ids -> small ints
    flat: list[Candidate] = []
    eligible: dict[str, list[Candidate]] = {}
    k_src: list[int] = []
    k_score: list[float] = []
    k_nv: list[int] = []
    gas_rows: list[tuple[int, ...]] = []  # k, r, gas, producer, cap, budget, rolled
    pool_rows: list[tuple[int, ...]] = []  # k, r, pool, producer, lender, cap, free,
    #                                       max loan, borrower room, share room, idle first
    pool_pref: list[float] = []
    match_rows: list[tuple[int, ...]] = []  # k, r, pool, producer, lender, cap, free,
    #                                        max loan, borrower room, rule, budget, threshold
    guar_rows: list[tuple[int, ...]] = []  # k, r, guarantor, capacity
    fund_rows: list[tuple[int, ...]] = []  # k, r, fund, producer, earmarked, general, balance
    req_begin = [0] * (nreq + 1)
    fair = [0] * nreq
    cov_scale = [0] * nreq  # 10^decimals of the coverages a request's loans need
    cov_shown: list[Decimal] = [Decimal(0)] * nreq  # the highest, for the limit's message
    k_cov: list[int] = []  # per candidate: a loan's coverage x its request's scale
    has_cov_row = [False] * nreq

    def code(key: str) -> int:
        v = codes.get(key)
        if v is None:
            v = codes[key] = len(codes)
        return v

    memo = CandidateMemo(network, network.as_of, c)  # requests of a producer share facts
    for r, request in enumerate(reqs):
        req_begin[r] = len(flat)
        cands = candidates(network, request, c, memo=memo)
        eligible[request.id] = cands
        producer = index.producers[request.producer_id]
        P = code("producer:" + producer.id)
        fair[r] = fair_share_cents(request, c)
        # Each loan needs the coverage of its lender (or the one the request's terms fix):
        # one row per request, pledges >= sum of coverage x loan, loan by loan.
        needed = [cov for k in cands if k.role == "pool" or k.role == "match"
                  if (cov := loan_coverage(request, index.lenders[
                      index.pools_by_id[k.source_id].lender_id]))]  # 0 or None: none
        if needed:
            has_cov_row[r] = True
            cov_scale[r] = max(scale_of(cov) for cov in needed)
            cov_shown[r] = max(needed)
        heads: dict[str, LoanHeadroom] = {}
        buyers: tuple[str, ...] | None = None
        # prepayments before match rules (thresholds), loans before guarantees (coverage)
        for cand in sorted(cands, key=lambda k: _CAND_ORDER[k.role]):
            k = len(flat)
            flat.append(cand)
            cand_kind = cand.role
            sid = cand.source_id
            s = code(sid)
            k_src.append(s)
            k_score.append(cand.score)
            cov = (loan_coverage(request, index.lenders[index.pools_by_id[sid].lender_id])
                   if cand_kind in ("pool", "match") else None)
            k_cov.append(int(cov * cov_scale[r]) if cov else 0)
            if cand_kind == "gas":
                pair = memo.pairs[(sid, producer.id)]  # what the candidate was sized with
                rolled = pair.rolled_cents
                gas_rows.append((k, r, s, P, cand.cap_cents, pair.budget_cents, rolled))
                k_nv.append(2 if rolled > 0 else 1)
            elif cand_kind == "pool" or cand_kind == "match":
                pool = index.pools_by_id[sid]
                head = heads.get(pool.lender_id)
                if head is None:
                    if buyers is None:
                        buyers = producer_gas_ids(index, request)
                    head = heads[pool.lender_id] = headroom(
                        index, producer, pool.lender_id, buyers, c, memo)
                lender = code("lender:" + pool.lender_id)
                max_loan = -1 if pool.max_loan_cents is None else pool.max_loan_cents
                if cand_kind == "pool":
                    idle_first = pool.idle_cents >= c.idle_first_min_cents
                    pool_rows.append((
                        k, r, s, P, lender, cand.cap_cents, pool.free_cents, max_loan,
                        head.borrower_room_cents,
                        -1 if head.share_room_cents is None else head.share_room_cents,
                        int(idle_first)))
                    # idle capital is lent first (preference and order)
                    share = (min(1.0, pool.idle_cents / pool.free_cents) if pool.free_cents > 0
                             else float(idle_first))
                    pool_pref.append(share + 0.5 * cand.score)
                    k_nv.append(1)
                else:
                    rule = cand.rule
                    assert rule is not None
                    match_rows.append((
                        k, r, s, P, lender, cand.cap_cents, pool.free_cents, max_loan,
                        head.borrower_room_cents, code("rule:" + rule.id),
                        -1 if rule.budget_cents is None else rule.budget_cents,
                        match_threshold_cents(rule, request)))
                    k_nv.append(2)
            elif cand_kind == "guarantor":
                if has_cov_row[r]:  # guarantees only where a loan needs cover
                    guar_rows.append((k, r, s, index.guarantors[sid].free_capacity_cents))
                    k_nv.append(1)
                else:
                    k_nv.append(0)
            else:
                f = index.funds[sid]
                ear = cand.earmarked_cents if cand.earmarked_cents > 0 else 0
                gen = fund_general_cents(f) if cand.general_cents > 0 else 0
                fund_rows.append((k, r, s, P, ear, gen, f.balance_cents))
                k_nv.append(int(ear > 0) + int(gen > 0))
    req_begin[nreq] = len(flat)
    if nreq >= 1 << 21 or len(flat) >= 1 << 29 or len(codes) >= _A:
        raise ValueError("too many requests or sources for one plan")  # packed keys below

    # --- variables ------------------------------------------------------------------------
    begin = np.array(req_begin, dtype=np.int64)
    score = np.array(k_score, dtype=np.float64)
    off = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(np.array(k_nv, dtype=np.int64), out=off[1:])
    n = int(off[-1])
    role = np.zeros(n, dtype=np.int64)
    cand_of = np.repeat(np.arange(len(flat), dtype=np.int64), np.array(k_nv, dtype=np.int64))
    ub0 = np.zeros(n, dtype=np.int64)
    lim0 = np.zeros(n, dtype=np.int64)
    pref = np.zeros(n, dtype=np.float64)
    idle = np.zeros(n, dtype=bool)
    k_req = np.repeat(np.arange(nreq, dtype=np.int64), np.diff(begin))
    vreq = k_req[cand_of]
    amount = np.array([q.amount_cents for q in reqs], dtype=np.int64)
    terms = _Terms()

    G = _i64(gas_rows, 7)
    gk, gr, gsrc, gprod, gcap, gbudget, grolled = G.T
    fresh = off[gk]
    role[fresh], ub0[fresh], lim0[fresh] = PREPAY, np.maximum(gcap, 0), L_SOURCE_CAP
    pref[fresh] = 0.5 * score[gk]
    rolls = grolled > 0
    ik = gk[rolls]
    idle_v = off[ik] + 1
    role[idle_v], ub0[idle_v], lim0[idle_v] = PREPAY_IDLE, grolled[rolls], L_ROLLOVER
    pref[idle_v] = 1.0 + 0.5 * score[ik]
    idle[idle_v] = True
    fair_a = np.array(fair, dtype=np.int64)
    terms.add(_key(R_FAIR, gk), fresh, 1, fair_a[gr], L_FAIRNESS, gk, _cand_order(gk, gr, 0))
    terms.add(_key(R_FAIR, ik), idle_v, 1, fair_a[gr[rolls]], L_FAIRNESS, ik,
              _cand_order(ik, gr[rolls], 0))
    terms.add(_key(R_GAS_BUDGET, gsrc), fresh, 1, gbudget, L_GAS_BUDGET, gk, _shared_order(gk, 0))
    terms.add(_key(R_EDGE, gsrc, gprod), fresh, 1, gcap, L_SOURCE_CAP, gk, _shared_order(gk, 1),
              _MAX)
    terms.add(_key(R_ROLLOVER, gsrc[rolls], gprod[rolls]), idle_v, 1, grolled[rolls],
              L_ROLLOVER, ik, _shared_order(ik, 2))

    Pl = _i64(pool_rows, 11)
    pk, pr, psrc, pprod, plender, pcap, pfree, pmax, proom, pshare, pidle = Pl.T
    lv = off[pk]
    role[lv], ub0[lv] = LOAN, np.maximum(pcap, 0)
    lim0[lv] = np.where((pmax >= 0) & (pmax < amount[pr]), L_POOL_MAX_LOAN, L_REQUEST_AMOUNT)
    pref[lv] = np.array(pool_pref, dtype=np.float64)
    idle[lv] = pidle > 0
    M = _i64(match_rows, 12)
    mk, mr, msrc, mprod, mlender, mcap, mfree, mmax, mroom, mrule, mbudget, mthr = M.T
    tv = off[mk]
    zv = tv + 1
    role[tv], ub0[tv], lim0[tv] = TOPUP, np.maximum(mcap, 0), L_MATCH_CAP
    pref[tv] = 0.5 * score[mk]
    role[zv], ub0[zv], lim0[zv] = SWITCH, 1, L_MATCH_THRESHOLD
    terms.add(_key(R_MATCH_CAP, mk), tv, 1, 0, L_MATCH_CAP, mk, _cand_order(mk, mr, 0))
    terms.add(_key(R_MATCH_CAP, mk), zv, -mcap, 0, L_MATCH_CAP, mk, _cand_order(mk, mr, 0))
    # threshold: the switch needs the rule's threshold (in whole cents, rounded up: plans
    # are in cents, so this is the same limit and keeps the LP optimum in whole cents) of
    # prepayments of the same request, which are its first variables (GAS come first)
    n_pre = np.zeros(nreq, dtype=np.int64)
    np.add.at(n_pre, gr, 1 + rolls.astype(np.int64))
    thr_order = _cand_order(mk, mr, 1)
    terms.add(_key(R_THRESHOLD, mk), zv, mthr, 0, L_MATCH_THRESHOLD, mk, thr_order)
    cnt = n_pre[mr]
    rep = np.repeat(np.arange(len(mk)), cnt)
    within = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    terms.add(_key(R_THRESHOLD, mk[rep]), off[begin[mr[rep]]] + within, -1, 0,
              L_MATCH_THRESHOLD, mk[rep], thr_order[rep])
    has_budget = mbudget >= 0
    terms.add(_key(R_MATCH_BUDGET, mrule[has_budget]), tv[has_budget], 1, mbudget[has_budget],
              L_MATCH_BUDGET, mk[has_budget], _shared_order(mk[has_budget], 0))
    for k_, r_, v_, src_, prod_, lend_, free_, max_, room_ in (
            (pk, pr, lv, psrc, pprod, plender, pfree, pmax, proom),
            (mk, mr, tv, msrc, mprod, mlender, mfree, mmax, mroom)):
        terms.add(_key(R_POOL_FREE, src_), v_, 1, free_, L_POOL_FREE, k_, _shared_order(k_, 1))
        cap = max_ >= 0
        terms.add(_key(R_MAX_LOAN, src_[cap], r_[cap]), v_[cap], 1, max_[cap], L_POOL_MAX_LOAN,
                  k_[cap], _shared_order(k_[cap], 2))
        terms.add(_key(R_BORROWER, prod_, lend_), v_, 1, room_, L_BORROWER_CAP, k_,
                  _shared_order(k_, 3), _MIN)
    shared = pshare >= 0  # share-capital cap: ordinary loans only, not match top-ups
    terms.add(_key(R_SHARE, pprod[shared], plender[shared]), lv[shared], 1, pshare[shared],
              L_SHARE_CAP, pk[shared], _shared_order(pk[shared], 4), _MIN)

    Q = _i64(guar_rows, 4)
    qk, _qr, qsrc, qcap = Q.T
    qv = off[qk]
    role[qv], ub0[qv], lim0[qv] = GUARANTEE, np.maximum(qcap, 0), L_GUARANTOR
    pref[qv] = -0.25
    terms.add(_key(R_GUARANTOR, qsrc), qv, 1, qcap, L_GUARANTOR, qk, _shared_order(qk, 0))

    F = _i64(fund_rows, 7)
    fk, _fr, fsrc, fprod, fear, fgen, fbal = F.T
    e = fear > 0
    g = fgen > 0
    ev = off[fk[e]]
    gv = off[fk[g]] + e[g]
    role[ev], ub0[ev], lim0[ev] = EARMARK, fear[e], L_FUND_EARMARK
    role[gv], ub0[gv], lim0[gv] = GENERAL, fgen[g], L_FUND_GENERAL
    pref[ev] = 1.0 + 0.5 * score[fk[e]]
    pref[gv] = 1.0 + 0.5 * score[fk[g]]
    idle[ev] = idle[gv] = True
    terms.add(_key(R_EARMARK, fsrc[e], fprod[e]), ev, 1, fear[e], L_FUND_EARMARK, fk[e],
              _shared_order(fk[e], 0))
    terms.add(_key(R_FUND_GENERAL, fsrc[g]), gv, 1, fgen[g], L_FUND_GENERAL, fk[g],
              _shared_order(fk[g], 1))
    for mask, v_ in ((e, ev), (g, gv)):
        terms.add(_key(R_FUND_BALANCE, fsrc[mask]), v_, 1, fbal[mask], L_FUND_BALANCE, fk[mask],
                  _shared_order(fk[mask], 2))

    # the request's amount, and its guarantee coverage
    rq = np.arange(nreq, dtype=np.int64)
    req_order = ((2 * begin[1:] + 1) << np.int64(22)) | (rq << np.int64(1))
    fv = np.flatnonzero(_IS_FUNDING[role])
    terms.add(_key(R_REQUEST, vreq[fv]), fv, 1, amount[vreq[fv]], L_REQUEST_AMOUNT, vreq[fv],
              req_order[vreq[fv]])
    covered = np.array(has_cov_row, dtype=bool)
    loans = np.flatnonzero(((role == LOAN) | (role == TOPUP)) & covered[vreq])
    pledges = np.flatnonzero((role == GUARANTEE) & covered[vreq])
    kc = np.array(k_cov, dtype=np.int64)
    cs = np.array(cov_scale, dtype=np.int64)
    for v_, coef in ((loans, kc[cand_of[loans]]), (pledges, -cs[vreq[pledges]])):
        terms.add(_key(R_COVERAGE, vreq[v_]), v_, coef, 0, L_COVERAGE, vreq[v_],
                  req_order[vreq[v_]] | 1)

    # --- rows and bounds ------------------------------------------------------------------
    key, var, coef, rhs, limit, limit_of, order, agg = terms.arrays()
    keys, gid = np.unique(key, return_inverse=True)
    gid = gid.reshape(-1)
    ng = len(keys)
    pick = np.where(agg == _MAX, -rhs, np.where(agg == _MIN, rhs, 0))
    first = _firsts(order, pick, gid)  # the right-hand side and limit each row keeps
    g_rhs, g_limit, g_limit_of = rhs[first], limit[first], limit_of[first]
    g_order = order[_firsts(order, gid)]  # where each row was first met
    live = coef != 0
    count = np.bincount(gid[live], minlength=ng)
    bound_term = live & (count[gid] == 1) & (coef > 0)
    is_bound = np.zeros(ng, dtype=bool)
    is_bound[gid[bound_term]] = True
    is_row = (count > 0) & ~is_bound
    row_groups = np.flatnonzero(is_row)
    row_groups = row_groups[np.argsort(g_order[row_groups], kind="stable")]
    row_id = np.full(ng, -1, dtype=np.int64)
    row_id[row_groups] = np.arange(len(row_groups), dtype=np.int64)
    m = len(row_groups)
    in_row = live & is_row[gid]
    t_row, t_var, t_coef = row_id[gid[in_row]], var[in_row], coef[in_row]
    o = np.lexsort((t_var, t_row))
    t_row, t_var, t_coef = t_row[o], t_var[o], t_coef[o]
    start = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_row, minlength=m), out=start[1:])

    # one-term rows are bounds; the first (in row order) of the tightest names the limit
    ub = ub0.copy()
    var_limit = lim0.copy()
    var_limit_of = cand_of.copy()
    b_var = var[bound_term]
    b_gid = gid[bound_term]
    b_val = np.maximum(g_rhs[b_gid] // coef[bound_term], 0)
    if len(b_var):
        tight = _firsts(g_order[b_gid], b_val, b_var)
        bv, bg, bb = b_var[tight], b_gid[tight], b_val[tight]
        lower = bb < ub[bv]
        bv, bg, bb = bv[lower], bg[lower], bb[lower]
        ub[bv] = bb
        var_limit[bv], var_limit_of[bv] = g_limit[bg], g_limit_of[bg]

    row_kind = keys >> np.int64(58)
    a_part = (keys >> np.int64(29)) & np.int64(_A - 1)
    coverage_row = np.full(nreq, -1, dtype=np.int64)
    cov_groups = row_groups[row_kind[row_groups] == R_COVERAGE]
    coverage_row[a_part[cov_groups]] = row_id[cov_groups]
    threshold_of = np.full(n, -1, dtype=np.int64)
    th_groups = row_groups[row_kind[row_groups] == R_THRESHOLD]
    threshold_of[off[a_part[th_groups]] + 1] = row_id[th_groups]
    switch_of = np.full(n, -1, dtype=np.int64)
    switch_of[tv] = zv
    row_limit = g_limit[row_groups]
    row_limit_of = g_limit_of[row_groups]

    # --- orders ---------------------------------------------------------------------------
    names = list(codes)
    src_rank = np.zeros(len(names), dtype=np.int64)
    src_rank[np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)] = \
        np.arange(len(names), dtype=np.int64)
    src = np.array(k_src, dtype=np.int64)
    js = np.flatnonzero(role != SWITCH)
    kj = cand_of[js]
    rj = role[js]
    ordered = js[np.lexsort((
        _ROLE_NAME_RANK[rj], _ROLE_KIND_RANK[rj], src_rank[src[kj]], -score[kj],
        (~idle[js]).astype(np.int64), (rj == TOPUP).astype(np.int64),
    ))]
    var_order: list[int] = ordered.tolist()
    request_order = sorted(range(nreq), key=lambda r: (-reqs[r].weight, reqs[r].id))

    name = _Names(network, reqs, flat, c, cov_shown)
    var_limit_l: list[int] = var_limit.tolist()
    var_limit_of_l: list[int] = var_limit_of.tolist()
    row_limit_l: list[int] = row_limit.tolist()
    row_limit_of_l: list[int] = row_limit_of.tolist()
    model = LimitModel(
        reqs, role=role, req=vreq, cand_of=cand_of, cands=flat, ub=ub, preference=pref,
        start=start, index=t_var, value=t_coef, rhs=g_rhs[row_groups],
        coverage_row=coverage_row, switch_of=switch_of, threshold_of=threshold_of,
        var_limit=lambda j: name(var_limit_l[j], var_limit_of_l[j]),
        row_limit=lambda i: name(row_limit_l[i], row_limit_of_l[i]),
        eligible=eligible,
    )
    return model, var_order, request_order


class _Names:
    """Makes the ``Limit`` of a limit code and the candidate (or request) behind it."""

    def __init__(self, network: Network, reqs: list[Request], cands: list[Candidate],
                 config: MatchingConfig, coverage_shown: Sequence[Decimal]) -> None:
        self.network, self.reqs, self.cands, self.c = network, reqs, cands, config
        self.coverage_shown = coverage_shown  # per request: the highest a loan needs
        self.req_of = {q.id: q for q in reqs}
        self.makers: dict[int, Callable[[Candidate, Request], Limit]] = {
            L_SOURCE_CAP: self._source_cap, L_FAIRNESS: self._fairness,
            L_GAS_BUDGET: self._gas_budget, L_ROLLOVER: self._rollover,
            L_POOL_MAX_LOAN: self._pool_max_loan, L_MATCH_CAP: self._match_cap,
            L_MATCH_THRESHOLD: self._match_threshold, L_MATCH_BUDGET: self._match_budget,
            L_POOL_FREE: self._pool_free, L_BORROWER_CAP: self._borrower_cap,
            L_SHARE_CAP: self._share_cap, L_GUARANTOR: self._guarantor,
            L_FUND_BALANCE: self._fund_balance, L_FUND_EARMARK: self._fund_earmark,
            L_FUND_GENERAL: self._fund_general,
        }

    def __call__(self, code: int, of: int) -> Limit:
        if code == L_REQUEST_AMOUNT:
            return Limit("request_amount", None, "the request's amount")
        if code == L_COVERAGE:
            req = self.reqs[of]
            cov = self.coverage_shown[of]
            return Limit(
                "guarantee_coverage", None, "loans to request {} need guarantees of up to "
                "{}% (their lenders' minimum) and the guarantors tied to the producer have "
                "no more free capacity", (req.id, f"{cov * 100:f}"))
        cand = self.cands[of]
        return self.makers[code](cand, self.req_of[cand.request_id])

    def _source_cap(self, cand: Candidate, req: Request) -> Limit:
        gas = self.network.index.gas[cand.source_id]
        return Limit("source_cap", cand.source_id, "{} can plausibly prepay this producer {}",
                     (gas.name, cand.cap_cents))

    def _fairness(self, cand: Candidate, req: Request) -> Limit:
        c = self.c
        return Limit("fairness", cand.source_id, "no GAS prepays more than {}% of request {} ({})",
                     (f"{c.max_gas_share * 100:f}", req.id, fair_share_cents(req, c)))

    def _gas_budget(self, cand: Candidate, req: Request) -> Limit:
        index, c = self.network.index, self.c
        gas = index.gas[cand.source_id]
        return Limit(
            "gas_budget", cand.source_id, "{} has {} left to prepay in all ({} households x {}, "
            "less open prepayments)",
            (gas.name, gas_budget_cents(index, gas, c), str(gas.households),
             c.per_household_ceiling_cents))

    def _rollover(self, cand: Candidate, req: Request) -> Limit:
        gas = self.network.index.gas[cand.source_id]
        rolled = sum(pp.remaining_cents for pp in cand.rollovers)
        return Limit("rollover", cand.source_id, "{} has {} of prepayments due to roll over",
                     (gas.name, rolled))

    def _pool_max_loan(self, cand: Candidate, req: Request) -> Limit:
        pool = self.network.index.pools_by_id[cand.source_id]
        return Limit("pool_max_loan", cand.source_id, "{} lends at most {} per loan",
                     (pool.name, pool.max_loan_cents))

    def _match_cap(self, cand: Candidate, req: Request) -> Limit:
        assert cand.rule is not None
        return Limit("match_cap", cand.source_id, "match rule {} tops up at most {} here",
                     (cand.rule.id, cand.cap_cents))

    def _match_threshold(self, cand: Candidate, req: Request) -> Limit:
        rule = cand.rule
        assert rule is not None
        return Limit(
            "match_threshold", cand.source_id, "GAS prepayments stay below {}% of request {} "
            "({}), the match rule's threshold",
            (f"{rule.threshold * 100:f}", req.id, match_threshold_cents(rule, req)))

    def _match_budget(self, cand: Candidate, req: Request) -> Limit:
        rule = cand.rule
        assert rule is not None
        return Limit("match_budget", cand.source_id, "match rule {} has a budget of {}",
                     (rule.id, rule.budget_cents))

    def _pool_free(self, cand: Candidate, req: Request) -> Limit:
        pool = self.network.index.pools_by_id[cand.source_id]
        return Limit("pool_free", cand.source_id, "{} has {} free to lend",
                     (pool.name, pool.free_cents))

    def _head(self, cand: Candidate, req: Request) -> tuple[str, str, LoanHeadroom]:
        index = self.network.index
        producer = index.producers[req.producer_id]
        lender = index.pools_by_id[cand.source_id].lender_id
        head = loan_headroom(index, producer, lender, producer_gas_ids(index, req), self.c)
        return producer.name, lender, head

    def _borrower_cap(self, cand: Candidate, req: Request) -> Limit:
        name, lender, head = self._head(cand, req)
        return Limit(
            "borrower_cap", lender,
            "per-borrower cap: {} left for {} with lender {} ({} less {} outstanding)",
            (head.borrower_room_cents, name, lender, head.borrower_cap_cents,
             head.outstanding_cents))

    def _share_cap(self, cand: Candidate, req: Request) -> Limit:
        name, lender, head = self._head(cand, req)
        return Limit(
            "share_cap", lender, "loans to {} from lender {} are capped "
            "at {} x the {} of shares of the producer and its GAS ({} left)",
            (name, lender, str(head.share_multiple), head.share_base_cents,
             head.share_room_cents))

    def _guarantor(self, cand: Candidate, req: Request) -> Limit:
        q = self.network.index.guarantors[cand.source_id]
        return Limit("guarantor_capacity", cand.source_id, "{} has {} free pledge capacity",
                     (q.name or cand.source_id, q.free_capacity_cents))

    def _fund_balance(self, cand: Candidate, req: Request) -> Limit:
        f = self.network.index.funds[cand.source_id]
        return Limit("fund_balance", cand.source_id, "{} holds {}", (f.name, f.balance_cents))

    def _fund_earmark(self, cand: Candidate, req: Request) -> Limit:
        index = self.network.index
        f = index.funds[cand.source_id]
        producer = index.producers[req.producer_id]
        return Limit("fund_earmark", cand.source_id, "{} holds {} earmarked for {}",
                     (f.name, f.earmarked.get(producer.id, 0), producer.name))

    def _fund_general(self, cand: Candidate, req: Request) -> Limit:
        f = self.network.index.funds[cand.source_id]
        return Limit("fund_general", cand.source_id, "{} holds {} not earmarked",
                     (f.name, fund_general_cents(f)))


__all__ = ["build_model"]
