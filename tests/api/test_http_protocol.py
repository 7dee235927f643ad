"""HTTP itself: content types of bodies (415) and methods a path does not have (405)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.conftest import Api
from tests.gdxp.conftest import piva


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", "application/jsonp",
                                          "application/+json", "json"])
def test_a_json_body_sent_as_something_else_is_415(api: Api, content_type: str) -> None:
    body = json.dumps({"kind": "gas", "name": "GAS Sbagliato", "households": 10})
    before = api.ok(api.get("/api/parties?kind=gas&limit=500"))["items"]
    r = api.client.post("/api/parties", content=body, headers={
        **api.headers("officer"), "content-type": content_type})
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 415
    assert api.ok(api.get("/api/parties?kind=gas&limit=500"))["items"] == before


def test_a_body_without_a_content_type_is_415(api: Api) -> None:
    r = api.client.post("/api/parties", content=b'{"kind": "gas", "name": "GAS X"}',
                        headers=api.headers("officer"))
    assert r.status_code == 415


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/problem+json",
                                          "application/merge-patch+json"])
def test_json_media_types_are_read(api: Api, content_type: str) -> None:
    body = json.dumps({"kind": "gas", "name": f"GAS {content_type}", "households": 10})
    r = api.client.post("/api/parties", content=body, headers={
        **api.headers("officer"), "content-type": content_type})
    assert r.status_code == 201, r.text


def test_an_empty_body_is_an_empty_command(api: Api) -> None:
    # The plan's fields are all optional: no body at all is the default plan.
    r = api.client.post("/api/matching/plan", headers=api.headers("officer"))
    assert r.status_code == 200, r.text


def text_body(api: Api, who: str = "officer", content_type: str | None = "text/plain"
              ) -> dict[str, str]:
    headers = api.headers(who)
    return {**headers, "content-type": content_type} if content_type else headers


def test_operations_without_a_body_refuse_one_that_is_not_json(api: Api) -> None:
    # Logout takes no body: a text body is a 415, and the token was not revoked.
    r = api.client.post("/api/auth/logout", content=b"x", headers=text_body(api))
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert api.get("/api/me").status_code == 200
    # 415 comes beside 400, before a 404: the request does not exist.
    r = api.client.request("DELETE", f"/api/requests/{uuid.uuid4()}/interests/prepayment",
                           content=b"x", headers=text_body(api, "gas"))
    assert r.status_code == 415, r.text
    assert api.client.request(
        "DELETE", f"/api/requests/{uuid.uuid4()}/interests/prepayment",
        headers=api.headers("gas")).status_code == 404
    # A GET with a text body, or a body without a content type; a query string refused
    # as well does not come first.
    for headers in (text_body(api), text_body(api, content_type=None)):
        r = api.client.request("GET", "/api/parties?kind=gas", content=b"kind=gas",
                               headers=headers)
        assert r.status_code == 415, r.text
    r = api.client.request("GET", "/api/parties?colour=red", content=b"x",
                           headers=text_body(api))
    assert r.status_code == 415
    # A JSON body where none is read is not refused.
    r = api.client.request("GET", "/api/parties?kind=gas", content=b"{}",
                           headers=text_body(api, content_type="application/json"))
    assert r.status_code == 200


def test_an_empty_body_with_any_content_type_is_no_body(api: Api) -> None:
    r = api.client.post("/api/matching/plan", content=b"", headers=text_body(api))
    assert r.status_code == 200, r.text
    r = api.client.request("GET", "/api/parties?kind=gas", content=b"",
                           headers=text_body(api, content_type="application/xml"))
    assert r.status_code == 200
    r = api.client.post("/api/auth/logout", content=b"", headers=text_body(api))
    assert r.status_code == 204
    assert api.get("/api/me").status_code == 401  # logged out


def test_the_gdxp_import_still_takes_xml(api: Api) -> None:
    vat = piva("1234567001")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<gdxp protocolVersion="0.2" creationDate="20200223101500" applicationSignature="GASdotto">
  <supplier><vatNumber>{vat}</vatNumber><name>Cascina Bio</name>
    <orders><order><openDate>20200120</openDate><deliveryDate>20200201</deliveryDate></order>
    </orders></supplier>
</gdxp>""".encode()
    path = f"/api/imports/gdxp?gas_id={api.parties['gas']}"
    r = api.client.post(path, content=xml, headers=text_body(api))
    assert r.status_code == 415
    assert "application/xml" in r.json()["detail"]
    for content_type in ("application/xml", "text/xml; charset=utf-8"):
        r = api.client.post(path + "&dry_run=true", content=xml,
                            headers=text_body(api, content_type=content_type))
        assert r.status_code == 200, r.text
    answer = api.ok(api.client.post(path, content=xml,
                                    headers=text_body(api, content_type="application/xml")))
    assert [p["vat_number"] for p in answer["producers"]["created"]] == [vat]


def test_405_comes_before_415(api: Api) -> None:
    r = api.client.put("/api/ledger/transfers", content=b"x", headers=text_body(api))
    assert r.status_code == 405
    r = api.client.request("DELETE", "/api/auth/logout", content=b"x",
                           headers=text_body(api))
    assert r.status_code == 405


def test_a_method_the_path_does_not_have_is_405_with_allow(api: Api) -> None:
    r = api.client.delete("/api/parties", headers=api.headers("officer"))
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert sorted(m.strip() for m in r.headers["allow"].split(",")) == ["GET", "OPTIONS",
                                                                        "POST"]


def test_405_comes_before_authentication(api: Api) -> None:
    r = api.client.put("/api/ledger/transfers")
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]


def test_options_lists_the_methods_a_405_allows_on_every_path(api: Api) -> None:
    import uuid

    paths = api.ok(api.client.get("/schema/openapi.json"))["paths"]
    some_id = str(uuid.uuid4())
    checked = 0
    for template, item in paths.items():
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + ("loan.csv" if "filename" in path[start:end] else some_id) \
                + path[end + 1:]
        documented = {m.upper() for m in item if m in ("get", "post", "put", "patch",
                                                       "delete")}
        r = api.client.options(path, headers=api.headers("officer"))
        assert r.status_code == 204, (template, r.status_code)
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert allowed == documented | {"OPTIONS"} | ({"HEAD"} & allowed), template
        checked += 1
    assert checked >= 50


def test_report_filters_on_what_the_user_cannot_see_are_404(api: Api) -> None:
    import uuid

    stranger = api.parties["other_producer"]  # the GAS user buys nothing from it
    for producer in (stranger, str(uuid.uuid4())):
        r = api.get(f"/api/reports/prepayments.csv?producer_id={producer}", who="gas")
        assert r.status_code == 404, r.text
    api.ok(api.post("/api/relationships", {
        "gas_id": api.parties["gas"], "producer_id": stranger, "since": "2020-01-01",
        "annual_purchases": {"amount": "1000.00", "currency": "EUR"}}), 201)
    r = api.get(f"/api/reports/prepayments.csv?producer_id={stranger}", who="gas")
    assert r.status_code == 200, r.text
    r = api.get(f"/api/reports/prepayments.csv?gas_id={api.parties['other_gas']}",
                who="producer")
    assert r.status_code == 404


def test_a_query_parameter_the_operation_does_not_take_is_422(api: Api) -> None:
    r = api.get("/api/loans?statuss=active")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["statuss"]
    r = api.get("/api/parties?kind=gas&limit=2&colour=red&size=9")
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["colour", "size"]
    # The parameters each operation documents are taken.
    assert api.get("/api/parties?kind=gas&limit=2").status_code == 200
    doc = api.get("/schema/openapi.json", who=None).json()
    listed = {p["name"] for p in doc["paths"]["/api/loans"]["get"].get("parameters", [])
              if p["in"] == "query"}
    for name in listed:
        assert api.get(f"/api/loans?{name}=x").json().get("errors", [{}])[0].get(
            "field") != name or "not a parameter" not in api.get(
            f"/api/loans?{name}=x").text
