"""Over HTTP a huge delivered quantity is a 422 naming `quantity`, never a 500."""

from __future__ import annotations

from tests.api.conftest import Api, eur


def test_huge_quantity_is_refused_as_input(api: Api) -> None:
    pre = api.ok(api.post("/api/prepayments", {
        "producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
        "amount": eur("100.00"), "product": "Uova", "unit": "dozzina",
        "unit_price": eur("4.00"), "expires_on": "2026-12-31", "on_expiry": "refund",
        "date": "2026-01-01"}), 201)
    for quantity in ("34391408549671224745283697", "9" * 60 + ".125"):
        r = api.post(f"/api/prepayments/{pre['id']}/deliveries",
                     {"date": "2026-03-01", "quantity": quantity})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["quantity"]
    p = api.ok(api.get(f"/api/prepayments/{pre['id']}"))
    assert p["delivered_value"] == eur("0.00") and p["deliveries"] == []
