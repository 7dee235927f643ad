"""Every code Filiera shows a person has an Italian text in reports/italian.py.

The codes are taken from where they are defined (the ledger's and matching's Literal
types, the service's party kinds, the demo catalogue, the chart of accounts), or, for
the 409 refusals, from the list in API.md, so a code added there without a translation
fails here.
"""

from __future__ import annotations

from itertools import combinations
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from ledger.as_of import PAYMENT_KINDS
from ledger.guarantees import GuaranteeStatus
from ledger.lending import COMPONENTS
from ledger.prepayments import OnExpiry
from ledger.repayments import InstallmentStatus
from ledger.requests import RequestStatus
from ledger.schedules import Frequency, Keep, Method
from ledger.transfers import TransferFlag
from matching.network import GuarantorKind, Instrument, Kind
from reports.accounts import ACCOUNT_GROUPS, PURPOSE_GROUPS, account_label
from reports.italian import CATALOGUE, DOMAINS, REFUSALS, CodeDomain, refusal, text
from reports.portfolio import LoanStatus
from service.app.demo import PRODUCERS
from service.app.lending import DEFAULT_CATEGORY
from service.app.parties import PARTY_KINDS

# API.md, "Conventions": the 409 codes, first and second wave.
API_409_CODES = (
    "idempotency_conflict", "invalid_transition", "insufficient_funds", "exceeds_capacity",
    "exceeds_prepayment", "closed", "usury_threshold_exceeded", "loan_limit_exceeded",
    "coverage_below_minimum", "loan_not_active", "already_disbursed", "already_released",
    "already_reversed", "period_closed",
)
# ledger/chart.py's table, plus the accounts the service opens beside it.
CHART_PURPOSES = (
    "pool", "pool-funding", "loan", "loan-payments", "loan-covered", "interest", "penalty",
    "loss", "recovery", "pledge", "pledge-limit", "guarantee", "fund", "earmark",
    "gas-external", "member-external", "prepayment", "producer-goods", "producer-grants",
)

DEFINED: dict[CodeDomain, tuple[str, ...]] = {
    "loan_status": ("approved", *get_args(LoanStatus)),
    "installment_status": get_args(InstallmentStatus),
    "request_status": get_args(RequestStatus),
    "guarantee_status": get_args(GuaranteeStatus),
    "prepayment_status": ("open", "closed"),
    "instrument": get_args(Instrument),
    "opportunity_kind": get_args(Kind),
    "method": get_args(Method),
    "frequency": get_args(Frequency),
    "early_repayment": get_args(Keep),
    "on_expiry": get_args(OnExpiry),
    "payout_kind": ("grant", "loss_cover"),
    "fund_entry": ("contribution", "prepayment", "grant", "loss_cover"),
    "party_kind": (*PARTY_KINDS, *get_args(GuarantorKind)),
    "loan_category": (DEFAULT_CATEGORY,),
    "product_category": tuple(sorted({c for _, _, cats in PRODUCERS for c in cats})),
    "account_group": ACCOUNT_GROUPS,
    "account": CHART_PURPOSES,
    # The loan components the ledger books, and the codes the service's operations use.
    "transfer_code": (*COMPONENTS, "deposit", "share", "disbursement", "pledge",
                      "pledge_capacity", "pledge_reduction", "call", "release", "prepayment",
                      "delivery", "refund", "rollover", "solidarity", "contribution", "grant",
                      "loss_cover"),
    # Every set of a transfer's flags, sorted and joined as the journal lists them.
    "transfer_flags": tuple(", ".join(chosen) for size in range(1, len(TransferFlag) + 1)
                            for chosen in combinations(sorted(f.value for f in TransferFlag),
                                                       size)),
    # The operations of ledger/as_of.py's replay, and a payment after the write-off.
    "loan_movement": ("disbursement", *PAYMENT_KINDS, "restructuring", "write_off",
                      "recovery"),
}
# Acronyms read the same in Italian.
SAME_IN_ITALIAN = {"GAS", "DES"}


def test_every_defined_code_has_an_italian_text() -> None:
    for domain, codes in DEFINED.items():
        assert codes, domain
        for code in codes:
            assert code in CATALOGUE[domain], (domain, code)
            italian = text(domain, code)
            assert italian.strip() == italian and italian, (domain, code)
            if italian not in SAME_IN_ITALIAN:
                assert italian != code, (domain, code)


def test_every_domain_is_checked_and_texts_differ_within_a_domain() -> None:
    assert set(DEFINED) | {"assessment"} == set(DOMAINS) == set(CATALOGUE)
    for domain, table in CATALOGUE.items():
        if domain in ("fund_entry", "transfer_code"):
            continue  # grant / loss_cover read as the payout kinds on purpose
        # Two codes of one domain never read alike: a reader could not tell them apart.
        assert len(set(table.values())) == len(table), domain


def test_refusals_have_one_italian_sentence_each() -> None:
    assert set(REFUSALS) == set(API_409_CODES)
    for code in API_409_CODES:
        sentence = refusal(code)
        assert sentence[0].isupper() and sentence.endswith("."), code
        assert code not in sentence
    assert len(set(REFUSALS.values())) == len(REFUSALS)


def test_english_keeps_the_codes() -> None:
    for domain, codes in DEFINED.items():
        for code in codes:
            assert text(domain, code, "en") == code


@given(st.sampled_from(DOMAINS), st.text(max_size=20))
def test_an_unknown_code_stays_as_it_is(domain: CodeDomain, code: str) -> None:
    expected = CATALOGUE[domain].get(code, code)
    assert text(domain, code) == expected
    if code not in CATALOGUE[domain]:
        assert text(domain, code) == code


def test_chart_of_accounts() -> None:
    assert set(PURPOSE_GROUPS) == set(CHART_PURPOSES)
    # The groups named in issue 18, in that order, then the accounts made by hand.
    assert ACCOUNT_GROUPS == ("pools", "loans", "income", "losses", "funds", "pledges",
                              "prepayments", "shares", "other")
    label = account_label("loan:7f0c", "Caseificio Val Taleggio")
    assert (label.group, label.group_name) == ("loans", "Prestiti")
    assert label.name == "Prestito: capitale da rimborsare · Caseificio Val Taleggio"
    assert account_label("member-external:x").group_name == "Capitale sociale"
    assert account_label("interest:x").group == account_label("penalty:y").group == "income"
    hand_made = account_label("cash")
    assert (hand_made.group, hand_made.name) == ("other", "cash")
    assert account_label("loan:1", "Rossi", "en").name == "loan · Rossi"
