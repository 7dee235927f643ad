"""A greedy allocator, the baseline the LP is measured against.

Requests by assessment weight (highest first, ties by id); within a request, sources in
the suggestion order (idle money first, then best score), each taking as much as every
limit allows; match top-ups last, once the prepayments reach the threshold. It builds the
same integer model as the LP, so both plans obey the same limits and the same checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from .allocation import Plan, build_model, cyclic_gc_paused, finish_plan
from .config import MatchingConfig
from .network import Network, Request


def plan_greedy(
    network: Network, requests: Sequence[Request], config: MatchingConfig | None = None,
) -> Plan:
    c = config or MatchingConfig()
    with cyclic_gc_paused():
        model, var_order, request_order = build_model(network, requests, c)
        model.top_up(request_order, var_order)  # from zero, this is the greedy itself
        return finish_plan(network, model, "greedy", c, requests)
