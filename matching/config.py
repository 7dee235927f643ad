"""Every tunable number of matching in one place: eligibility, amounts, scoring weights."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MatchingConfig:
    """Knobs for suggestions and plans. Money in integer cents, shares as ``Decimal``.

    Score of a suggestion (every feature in [0, 1], see ``scoring.py``)::

        score = (w_coverage * coverage + w_tie * tie + w_proximity * proximity
                 + w_idle * idle + w_interest * interest + w_record * record)
                / (w_coverage + w_tie + w_proximity + w_idle + w_interest + w_record)

    rounded to 4 decimals, so it always lies in [0, 1]. Weights, scores and distances
    are floats on purpose: they rank sources and are never money (amounts stay cents).
    """

    # --- scoring weights (the one weighted sum) ---
    w_coverage: float = 0.25  # share of the request this source can cover
    w_tie: float = 0.30  # how strongly the source is tied to the producer
    w_proximity: float = 0.15  # 1 at the producer's door, 0 at nearby_km or beyond
    w_idle: float = 0.15  # share of the suggested amount that is idle money
    w_interest: float = 0.10  # the GAS declared interest in this request
    w_record: float = 0.05  # the producer's repayment record and current arrears

    # --- tie strength of a buying relationship: years, purchases, households ---
    relationship_full_years: int = 10  # a relationship this old counts in full
    purchases_reference_cents: int = 1_000_000  # 10,000.00 EUR a year counts in full

    # --- who is a candidate GAS ---
    nearby_km: float = 30.0
    max_nearby_gas: int = 10  # nearest GAS without a relationship, per request

    # --- what a GAS can plausibly prepay ---
    prepay_share_of_purchases: Decimal = Decimal("0.5")  # of yearly purchases from producer
    per_household_ceiling_cents: int = 30_000  # 300.00 EUR per household per season
    newcomer_share: Decimal = Decimal("0.25")  # of the ceiling, for a GAS not yet buying
    max_gas_share: Decimal = Decimal("0.5")  # fairness: no GAS prepays more of one request

    # --- loans ---
    per_borrower_cap_cents: int = 7_500_000  # microcredit: 75,000.00 EUR per borrower
    share_cap_multiple: Decimal | None = Decimal(2)  # loans <= 2 x shares of the producer's GAS
    max_days_past_due: int = 30  # no new loan to a producer later than this

    # --- guarantees ---
    guarantee_coverage: Decimal = Decimal("1.5")  # sizes guarantee suggestions (150%)

    # --- idle money ---
    rollover_horizon_days: int = 90  # prepayments expiring this soon with rollover are idle
    idle_first_min_cents: int = 10_000  # idle money below 100.00 EUR is not put first

    # --- the solver ---
    lp_time_limit_seconds: float = 20.0
