"""The raw ledger over HTTP, black-box, per the contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, new_id


def account(api: Api, code: str = "cassa", currency: str = "EUR",
            flags: list[str] | None = None) -> str:
    body = {"code": code, "currency": currency, "flags": flags or []}
    account_id: str = api.ok(api.post("/api/ledger/accounts", body), 201)["id"]
    return account_id


def tr(debit: str, credit: str, amount: str, currency: str = "EUR", **extra: Any
       ) -> dict[str, Any]:
    return {"id": extra.pop("id", new_id()), "debit_account_id": debit,
            "credit_account_id": credit, "amount": {"amount": amount, "currency": currency},
            "code": "test", **extra}


def results(api: Api, batch: list[dict[str, Any]]) -> list[str]:
    body = api.ok(api.post("/api/ledger/transfers", batch))
    assert [r["id"] for r in body["results"]] == [t["id"] for t in batch]
    return [r["result"] for r in body["results"]]


def balance(api: Api, account_id: str) -> dict[str, Any]:
    return api.ok(api.get(f"/api/ledger/accounts/{account_id}"))  # type: ignore[no-any-return]


def test_accounts_and_simple_transfers(api: Api) -> None:
    source = account(api, "fonte")
    limited = account(api, "cassa GAS", flags=["debits_must_not_exceed_credits"])
    other = account(api, "altro")
    body = balance(api, limited)
    assert body["flags"] == ["debits_must_not_exceed_credits"]
    assert body["balance"] == {"amount": "0.00", "currency": "EUR"}
    first = tr(source, limited, "100.00")
    assert results(api, [first, tr(limited, other, "100.01")]) == ["created", "exceeds_credits"]
    assert results(api, [first]) == ["exists"]
    assert results(api, [{**first, "amount": {"amount": "99.00", "currency": "EUR"}}]) == \
        ["exists_with_different_fields"]
    body = balance(api, limited)
    assert body["credits_posted"]["amount"] == "100.00" and body["balance"]["amount"] == "100.00"
    assert balance(api, source)["balance"]["amount"] == "-100.00"


def test_linked_chain_is_all_or_nothing(api: Api) -> None:
    a, b = account(api), account(api, flags=["debits_must_not_exceed_credits"])
    c = account(api)
    chain = [tr(a, b, "50.00", flags=["linked"]), tr(b, c, "80.00")]
    assert results(api, chain) == ["linked_event_failed", "exceeds_credits"]
    assert balance(api, b)["balance"]["amount"] == "0.00"
    open_chain = [tr(a, b, "1.00", flags=["linked"]), tr(a, b, "1.00", flags=["linked"])]
    assert results(api, open_chain) == ["linked_event_chain_open"] * 2
    assert results(api, [tr(a, b, "50.00", flags=["linked"]), tr(b, c, "30.00")]) == \
        ["created", "created"]
    assert balance(api, b)["balance"]["amount"] == "20.00"


def test_two_phase_post_and_void(api: Api) -> None:
    a, b = account(api), account(api)
    pending = tr(a, b, "40.00", flags=["pending"])
    assert results(api, [pending]) == ["created"]
    assert balance(api, a)["debits_pending"]["amount"] == "40.00"
    post = tr(a, b, "30.00", flags=["post_pending"], pending_id=pending["id"])
    assert results(api, [post]) == ["created"]
    body = balance(api, a)
    assert body["debits_pending"]["amount"] == "0.00" and body["debits_posted"]["amount"] == \
        "30.00"
    assert results(api, [tr(a, b, "30.00", flags=["void_pending"],
                            pending_id=pending["id"])]) == ["pending_already_posted"]
    other = tr(a, b, "5.00", flags=["pending"])
    assert results(api, [other, tr(a, b, "5.00", flags=["void_pending"],
                                   pending_id=other["id"])]) == ["created", "created"]
    assert results(api, [tr(a, b, "5.00", flags=["post_pending"], pending_id=other["id"])]) \
        == ["pending_already_voided"]
    assert results(api, [tr(a, b, "5.00", flags=["post_pending"], pending_id=new_id())]) == \
        ["pending_not_found"]


def test_result_codes_for_accounts_and_currencies(api: Api) -> None:
    a, b = account(api), account(api)
    usd = account(api, currency="USD")
    assert results(api, [tr(a, new_id(), "1.00")]) == ["account_not_found"]
    assert results(api, [tr(a, a, "1.00")]) == ["accounts_must_be_different"]
    assert results(api, [tr(a, usd, "1.00")]) == ["currency_mismatch"]
    assert results(api, [tr(a, b, "1.00", currency="USD")]) == ["currency_mismatch"]
    yen_a, yen_b = account(api, currency="JPY"), account(api, currency="JPY")
    assert results(api, [tr(yen_a, yen_b, "500", currency="JPY")]) == ["created"]
    assert balance(api, yen_b)["balance"] == {"amount": "500", "currency": "JPY"}


def test_repeated_id_inside_one_batch(api: Api) -> None:
    a, b = account(api), account(api)
    t = tr(a, b, "2.00")
    assert results(api, [t, t, {**t, "code": "other"}]) == \
        ["created", "exists", "exists_with_different_fields"]
    assert balance(api, b)["balance"]["amount"] == "2.00"


@pytest.mark.parametrize("amount", [
    {"amount": 10.5, "currency": "EUR"},
    {"amount": "0.00", "currency": "EUR"},
    {"amount": "-1.00", "currency": "EUR"},
    {"amount": "1.001", "currency": "EUR"},
    {"amount": "1e2", "currency": "EUR"},
    {"amount": "NaN", "currency": "EUR"},
    {"amount": "1.00", "currency": "EURO"},
    {"amount": "9" * 40, "currency": "EUR"},
    # 2^128 minor units: one more than a transfer may carry.
    {"amount": "3402823669209384634633746074317682114.56", "currency": "EUR"},
    {"amount": "0" * 5000 + "1" * 40, "currency": "EUR"},
])
def test_malformed_amount_refuses_the_whole_request(api: Api, amount: Any) -> None:
    a, b = account(api), account(api)
    good = tr(a, b, "1.00")
    bad = {**tr(a, b, "1.00"), "amount": amount}
    r = api.post("/api/ledger/transfers", [good, bad])
    assert r.status_code == 422, r.text
    assert any(e["field"].startswith("1.amount") for e in r.json()["errors"])
    assert balance(api, b)["balance"]["amount"] == "0.00"


@pytest.mark.parametrize(("amount", "field"), [
    ({"amount": "1.00", "currency": "XYZ"}, "0.amount.currency"),
    ({"amount": "1.001", "currency": "EUR"}, "0.amount.amount"),
    ({"amount": "9" * 40, "currency": "EUR"}, "0.amount.amount"),
])
def test_amount_errors_name_the_part_at_fault(api: Api, amount: Any, field: str) -> None:
    a, b = account(api), account(api)
    r = api.post("/api/ledger/transfers", [{**tr(a, b, "1.00"), "amount": amount}])
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_the_largest_amount_is_accepted(api: Api) -> None:
    # 2^63 - 1 cents, the largest a BIGINT column keeps.
    a, b = account(api), account(api)
    assert results(api, [tr(a, b, "92233720368547758.07")]) == ["created"]
    assert balance(api, b)["balance"]["amount"] == "92233720368547758.07"


@pytest.mark.parametrize("raw", ["t:9223372036854775808", "t:" + "9" * 40, "t:-1", "t:\u0661"])
def test_a_forged_transfer_cursor_is_422(api: Api, raw: str) -> None:
    import base64

    a = account(api)
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    r = api.get(f"/api/ledger/transfers?account_id={a}&cursor={cursor}")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("path", ["/api/ledger/transfers", "/api/parties", "/api/auth/token"])
def test_a_body_that_is_not_utf8_is_400(api: Api, path: str) -> None:
    body = b'{"kind": "gas", "name": "\xff\xfe"}'
    r = api.client.post(path, content=body, headers={
        **api.headers("admin"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 400


def test_oversize_batch_is_422(api: Api) -> None:
    a, b = account(api), account(api)
    r = api.post("/api/ledger/transfers", [tr(a, b, "0.01") for _ in range(8191)])
    assert r.status_code == 422
    assert balance(api, b)["balance"]["amount"] == "0.00"


def test_raw_transfers_cannot_touch_instrument_accounts(api: Api) -> None:
    from ledger.chart import account_id

    a = account(api)
    pool = account_id("pool", new_id())
    assert results(api, [tr(a, pool, "1.00")]) == ["account_not_found"]
    assert results(api, [tr(a, account(api), "1.00", flags=["linked"]),
                         tr(pool, a, "1.00")]) == ["linked_event_failed", "account_not_found"]


def test_journal_listing_and_verify(api: Api) -> None:
    a, b = account(api), account(api)
    batch = [tr(a, b, f"{i}.00") for i in range(1, 6)]
    assert results(api, batch) == ["created"] * 5
    seen: list[str] = []
    cursor = None
    while True:
        url = f"/api/ledger/transfers?account_id={b}&limit=2" + (
            f"&cursor={cursor}" if cursor else "")
        page = api.ok(api.get(url))
        seen += [t["amount"]["amount"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["1.00", "2.00", "3.00", "4.00", "5.00"]
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True and report["problems"] == []
    assert report["transfers"] >= 5 and report["accounts"] >= 2


def test_only_staff_use_the_raw_ledger(api: Api) -> None:
    a = account(api)
    for who in ("producer", "gas"):
        assert api.post("/api/ledger/accounts", {"code": "x", "currency": "EUR"},
                        who).status_code == 403
        assert api.post("/api/ledger/transfers", [tr(a, a, "1.00")], who).status_code == 403
        assert api.get("/api/ledger/verify", who).status_code == 403
        assert api.get(f"/api/ledger/accounts/{a}", who).status_code == 404
        assert api.get("/api/ledger/transfers", who).status_code == 403
    assert api.get(f"/api/ledger/accounts/{a}", "admin").status_code == 200


def test_account_validation(api: Api) -> None:
    for body, field in [
        ({"code": "", "currency": "EUR"}, "code"),
        ({"code": "x" * 129, "currency": "EUR"}, "code"),
        ({"code": "x", "currency": "ZZZ"}, "currency"),
        ({"code": "x", "currency": "EUR", "flags": ["closed"]}, "flags"),
        ({"code": "x", "currency": "EUR", "flags": ["debits_must_not_exceed_credits",
                                                     "credits_must_not_exceed_debits"]},
         "flags"),
        ({"code": "x", "currency": "EUR", "id": "nope"}, "id"),
        ({"code": "x", "currency": "EUR", "party_id": new_id()}, "party_id"),
    ]:
        r = api.post("/api/ledger/accounts", body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]]
    aid = new_id()
    body = {"id": aid, "code": "cassa", "currency": "EUR"}
    first = api.ok(api.post("/api/ledger/accounts", body), 201)
    assert api.ok(api.post("/api/ledger/accounts", body), 201) == first
    r = api.post("/api/ledger/accounts", {**body, "code": "altro"})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"


def test_an_expired_pending_transfer_stops_counting_without_another_write(api: Api) -> None:
    import time

    a = account(api, flags=["debits_must_not_exceed_credits"])
    b, funding = account(api), account(api)
    assert results(api, [tr(funding, a, "10.00")]) == ["created"]
    pending = tr(a, b, "10.00", flags=["pending"], timeout_seconds=1)
    assert results(api, [pending]) == ["created"]
    assert balance(api, a)["debits_pending"]["amount"] == "10.00"
    # Nothing else is written: the app's expiry clock voids it within about a second.
    deadline = time.monotonic() + 10
    while balance(api, a)["debits_pending"]["amount"] != "0.00":
        assert time.monotonic() < deadline, "the pending transfer never expired"
        time.sleep(0.2)
    assert balance(api, a)["debits_posted"]["amount"] == "0.00"
    post = tr(a, b, "10.00", flags=["post_pending"], pending_id=pending["id"])
    assert results(api, [post]) == ["pending_expired"]
    assert balance(api, a)["debits_pending"]["amount"] == "0.00"
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_totals_past_a_bigint_answer_overflows_not_a_funds_refusal(api: Api) -> None:
    # 2^63 - 1 cents = 92233720368547758.07 EUR; accounts without limits (issue #15).
    top = "92233720368547758.07"
    a, b, c = account(api), account(api), account(api)
    assert results(api, [tr(a, b, top)]) == ["created"]
    assert results(api, [tr(a, c, "0.01"), tr(c, b, "0.01"), tr(c, a, "0.01")]) == \
        ["overflows_debits", "overflows_credits", "created"]
    assert balance(api, a)["debits_posted"]["amount"] == top
    assert balance(api, b)["credits_posted"]["amount"] == top
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


# 2^63 - 1 minor units is what an account's totals keep (a BIGINT); a transfer may carry
# up to 2^128 - 1 (TigerBeetle's u128), and one past the totals' bound is refused by the
# ledger's own checks with a result code, not by a 422 (API.md, "Hardening").
BIGINT = 2**63 - 1
U128 = 2**128 - 1


def minor_text(minor: int, decimals: int = 2) -> str:
    """Minor units as the contract's amount string, by string slicing (no Decimal)."""
    digits = str(minor).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits


def test_minor_text_is_what_the_contract_writes() -> None:
    assert minor_text(BIGINT) == "92233720368547758.07"
    assert minor_text(5) == "0.05" and minor_text(700, 0) == "700"


@pytest.mark.parametrize(("minor", "currency", "decimals"), [
    (BIGINT + 1, "USD", 2), (U128, "USD", 2), (BIGINT + 1, "JPY", 0), (U128, "BHD", 3),
    (10**30, "EUR", 2)])
def test_one_transfer_past_a_bigint_overflows_the_debits(
        api: Api, minor: int, currency: str, decimals: int) -> None:
    a, b = account(api, currency=currency), account(api, currency=currency)
    amount = minor_text(minor, decimals)
    assert results(api, [tr(a, b, amount, currency)]) == ["overflows_debits"]
    assert results(api, [tr(a, b, amount, currency, flags=["pending"],
                            timeout_seconds=60)]) == ["overflows_debits"]
    # Nothing moved, nothing was journaled, and the ledger still verifies.
    zero = minor_text(0, decimals)
    for acc in (a, b):
        body = balance(api, acc)
        assert {body[k]["amount"] for k in ("debits_pending", "debits_posted",
                                            "credits_pending", "credits_posted")} == {zero}
    assert api.ok(api.get(f"/api/ledger/transfers?account_id={a}"))["items"] == []
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_one_transfer_past_the_credit_accounts_bigint_overflows_the_credits(
        api: Api) -> None:
    top = minor_text(BIGINT)
    a, b, c = account(api), account(api), account(api)
    assert results(api, [tr(a, b, top)]) == ["created"]
    # c's debits stay within a BIGINT, b's credits would not: one transfer, either size.
    assert results(api, [tr(c, b, "0.01")]) == ["overflows_credits"]
    assert results(api, [tr(c, b, minor_text(BIGINT + 1))]) == ["overflows_debits"]
    assert balance(api, b)["credits_posted"]["amount"] == top
    assert balance(api, c)["debits_posted"]["amount"] == "0.00"


def test_a_linked_chain_with_a_transfer_past_a_bigint_fails_whole(api: Api) -> None:
    a, b, c = account(api), account(api), account(api)
    huge = minor_text(BIGINT + 1)
    chain = [tr(a, b, "10.00", flags=["linked"]), tr(b, c, huge, flags=["linked"]),
             tr(c, a, "1.00")]
    assert results(api, chain) == ["linked_event_failed", "overflows_debits",
                                   "linked_event_failed"]
    top = minor_text(BIGINT)
    assert results(api, [tr(a, b, top)]) == ["created"]
    chain = [tr(c, a, "5.00", flags=["linked"]), tr(c, b, "0.01")]
    assert results(api, chain) == ["linked_event_failed", "overflows_credits"]
    # Outside a chain, the others are applied: events fail one by one.
    assert results(api, [tr(c, a, "5.00"), tr(c, a, huge)]) == ["created",
                                                                "overflows_debits"]
    assert balance(api, b)["credits_posted"]["amount"] == top
    assert balance(api, c)["debits_posted"]["amount"] == "5.00"
    assert balance(api, a)["credits_posted"]["amount"] == "5.00"
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_an_amount_past_a_bigint_meets_the_earlier_checks_first(api: Api) -> None:
    a, b = account(api), account(api)
    huge = minor_text(BIGINT + 1)
    first = tr(a, b, "3.00")
    pending = tr(a, b, "2.00", flags=["pending"])
    assert results(api, [first, pending]) == ["created", "created"]
    # Idempotency, the accounts, the currency and a post's pending come first.
    assert results(api, [{**first, "amount": {"amount": huge, "currency": "EUR"}},
                         tr(a, a, huge), tr(a, new_id(), huge), tr(a, b, huge, "USD"),
                         tr(a, b, huge, flags=["post_pending"], pending_id=pending["id"]),
                         tr(a, b, huge, flags=["void_pending"], pending_id=pending["id"])]
                   ) == ["exists_with_different_fields", "accounts_must_be_different",
                         "account_not_found", "currency_mismatch",
                         "exceeds_pending_amount", "exceeds_pending_amount"]
    assert balance(api, a)["debits_pending"]["amount"] == "2.00"
    assert balance(api, a)["debits_posted"]["amount"] == "3.00"


def test_raw_transfers_record_who_posted_them(api: Api) -> None:
    a, b = account(api), account(api)
    first, pending = tr(a, b, "1.00"), tr(a, b, "2.00", flags=["pending"])
    assert results(api, [first, pending]) == ["created", "created"]
    # A retry by someone else is the same transfer: who first posted it stays.
    body = api.ok(api.post("/api/ledger/transfers", [first], "admin"))
    assert [r["result"] for r in body["results"]] == ["exists"]
    post = tr(a, b, "2.00", flags=["post_pending"], pending_id=pending["id"])
    assert api.ok(api.post("/api/ledger/transfers", [post], "admin"))["results"][0][
        "result"] == "created"
    items = api.ok(api.get(f"/api/ledger/transfers?account_id={a}"))["items"]
    assert {t["id"]: t["recorded_by"] for t in items} == {
        first["id"]: "officer", pending["id"]: "officer", post["id"]: "admin"}
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_the_ledgers_own_expiry_has_no_recorded_by(api: Api) -> None:
    import time

    a, b = account(api), account(api)
    pending = tr(a, b, "3.00", flags=["pending"], timeout_seconds=1)
    assert results(api, [pending]) == ["created"]
    deadline = time.monotonic() + 10
    while True:
        items = api.ok(api.get(f"/api/ledger/transfers?account_id={a}"))["items"]
        if len(items) == 2:
            break
        assert time.monotonic() < deadline, "the pending transfer never expired"
        time.sleep(0.2)
    assert [(t["flags"], t["recorded_by"]) for t in items] == [
        (["pending"], "officer"), (["void_pending"], None)]


def test_an_account_create_names_every_bad_field(api: Api) -> None:
    def refused(body: dict[str, Any]) -> dict[str, str]:
        r = api.post("/api/ledger/accounts", body)
        assert r.status_code == 422, r.text
        return {e["field"]: e["message"] for e in r.json()["errors"]}

    errors = refused({"id": "nope", "code": "", "currency": "XXY",
                      "flags": ["linked"], "party_id": "p"})
    assert set(errors) == {"id", "code", "currency", "flags", "party_id"}
    assert errors["id"] == "'nope' is not a UUID"
    assert errors["code"] == "a label of 1 to 128 characters"
    assert errors["flags"] == ("unknown flags ['linked']; use debits_must_not_exceed_credits,"
                               " credits_must_not_exceed_debits")
    assert errors["party_id"] == "'p' is not a UUID"
    both = ["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"]
    assert refused({"code": "c" * 129, "currency": "EUR", "flags": both}) == {
        "code": "a label of 1 to 128 characters",
        "flags": "the two limit flags exclude each other"}
    # The ledger's own accounts for what a user may not see cannot be named.
    hidden = "00000000-0000-0000-0000-00000000D001"
    assert refused({"id": hidden, "code": "x", "currency": "EUR"}) == {
        "id": "this id is reserved"}
    # A good body: the id as a canonical UUID, the flags kept.
    chosen = new_id()
    made = api.ok(api.post("/api/ledger/accounts", {
        "id": chosen.upper(), "code": " ", "currency": "USD",
        "flags": both[:1]}), 201)
    assert (made["id"], made["code"], made["currency"], made["flags"]) == (
        chosen, " ", "USD", both[:1])


def test_an_account_names_its_party_by_any_spelling_of_the_uuid(api: Api) -> None:
    # Braces once reached the account unread and failed there with a 500.
    producer = api.parties["producer"]
    for spelled in (producer.upper(), "{" + producer + "}", producer.replace("-", "")):
        made = api.ok(api.post("/api/ledger/accounts", {
            "code": "x", "currency": "EUR", "party_id": spelled}), 201)
        assert made["party_id"] == producer
        assert made["party_name"] == "Caseificio Val Taleggio"
    r = api.post("/api/ledger/accounts", {"code": "x", "currency": "EUR",
                                          "party_id": new_id()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "party_id"
