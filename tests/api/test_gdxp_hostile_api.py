"""Hostile files sent to ``POST /api/imports/gdxp`` (issue 19): huge, deeply nested, in
the wrong encoding, random or mangled bytes, XML with entities. Whatever comes, the
answer is a 4xx problem document (never a 500), and nothing is written: no party, no
relationship, no price list, no remembered answer.

The reader's own refusals are tested in tests/gdxp/test_gdxp_parse.py; these go through
the whole HTTP path (body limits, content types, the command, the transaction)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from service.app.gdxp.reading import MAX_BYTES, MAX_DEPTH
from service.db.tables import gdxp_price_lists, idempotency, parties, relationships
from tests.api.conftest import Api
from tests.api.test_gdxp_api import gdxp_file, send

TABLES = (parties, relationships, gdxp_price_lists, idempotency)
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "application/xml",
                 "text/xml")
HOSTILE = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])


def written(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                     for t in TABLES)


def refused(api: Api, engine: Engine, data: bytes, content_type: str = "application/json",
            query: str = "") -> Any:
    """Send ``data``: the answer must be a 4xx problem document and nothing written."""
    before = written(engine)
    gas = api.parties["gas"]
    r = send(api, data, f"?gas_id={gas}{query}", content_type=content_type)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    problem = r.json()
    assert problem["status"] == r.status_code and problem["title"]
    assert written(engine) == before
    return problem


@given(data=st.binary(max_size=2_000), content_type=st.sampled_from(CONTENT_TYPES))
@HOSTILE
def test_random_bytes_are_a_4xx_problem_and_write_nothing(
        api: Api, engine: Engine, data: bytes, content_type: str) -> None:
    refused(api, engine, data, content_type)


@given(text=st.text(max_size=500), content_type=st.sampled_from(CONTENT_TYPES))
@HOSTILE
def test_random_text_is_a_4xx_problem_and_writes_nothing(
        api: Api, engine: Engine, text: str, content_type: str) -> None:
    refused(api, engine, text.encode(), content_type)


@given(cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 40),
                               st.binary(max_size=8)), min_size=1, max_size=6))
@HOSTILE
def test_a_mangled_file_is_imported_or_refused_never_a_500(
        api: Api, engine: Engine, cuts: list[tuple[int, int, bytes]]) -> None:
    """A valid file with bytes cut out and others put in: read (a dry run, so nothing is
    written either way) or refused with a 4xx problem."""
    data = bytearray(gdxp_file())
    for at, length, put in cuts:
        at %= len(data) + 1
        data[at:at + length] = put
    before = written(engine)
    r = send(api, bytes(data), f"?gas_id={api.parties['gas']}&dry_run=true")
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code != 200:
        assert r.headers["content-type"].startswith("application/problem+json")
    assert written(engine) == before


def _nest(value: Any, levels: int, kind: str) -> Any:
    for _ in range(levels):
        value = [value] if kind == "list" else {"x": value}
    return value


@given(depth=st.integers(MAX_DEPTH + 1, 3_000), kind=st.sampled_from(["list", "object"]),
       where=st.sampled_from(["protocolVersion", "subject", "blocks", "note"]))
@HOSTILE
def test_nesting_deeper_than_the_limit_anywhere_is_422(
        api: Api, engine: Engine, depth: int, kind: str, where: str) -> None:
    content = json.loads(gdxp_file())
    content[where] = _nest(1, depth, kind)
    # json.dumps itself recurses: build the text by hand past a few hundred levels.
    open_, close = ("[", "]") if kind == "list" else ('{"x": ', "}")
    content[where] = "@@"
    text = json.dumps(content).replace('"@@"', open_ * depth + "1" + close * depth)
    problem = refused(api, engine, text.encode())
    assert problem["errors"] == [{"field": "", "message":
                                  f"nested deeper than {MAX_DEPTH} levels"}]


@pytest.mark.parametrize("depth", [200_000, 2_000_000])
def test_extreme_nesting_is_422_without_recursing(api: Api, engine: Engine, depth: int
                                                  ) -> None:
    problem = refused(api, engine, b"[" * depth + b"]" * depth)
    assert problem["status"] == 422


def test_xml_nested_past_the_limit_is_refused(api: Api, engine: Engine) -> None:
    depth = 100_000
    data = (b'<?xml version="1.0"?><gdxp protocolVersion="0.2" creationDate="20200101" '
            b'applicationSignature="x"><supplier>' + b"<a>" * depth + b"</a>" * depth
            + b"</supplier></gdxp>")
    refused(api, engine, data, "application/xml")


def test_a_file_over_the_reader_limit_is_422(api: Api, engine: Engine) -> None:
    content = json.loads(gdxp_file())
    content["note"] = "x" * MAX_BYTES
    problem = refused(api, engine, json.dumps(content).encode())
    assert problem["status"] == 422
    assert problem["errors"] == [{"field": "", "message":
                                  f"the file is larger than {MAX_BYTES} bytes"}]


def test_a_body_over_the_server_limit_is_413(api: Api, engine: Engine) -> None:
    problem = refused(api, engine, b" " * (9 * 1024 * 1024))
    assert problem["status"] == 413


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "latin-1", "cp1252"])
def test_a_file_in_another_encoding_is_422(api: Api, engine: Engine, encoding: str) -> None:
    content = json.loads(gdxp_file())
    content["subject"] = {"name": "GAS Società Cooperativa"}
    data = json.dumps(content, ensure_ascii=False).encode(encoding)
    problem = refused(api, engine, data)
    assert problem["status"] == 422
    assert "UTF-8" in problem["errors"][0]["message"]


@given(prefix=st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xef\xbb",
                               b"\x00", b"\xc3\x28"]))
@HOSTILE
def test_a_bad_byte_order_mark_or_a_broken_sequence_is_422(
        api: Api, engine: Engine, prefix: bytes) -> None:
    refused(api, engine, prefix + gdxp_file())


@pytest.mark.parametrize("data", [
    # billion laughs
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
    b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><gdxp protocolVersion="&lol2;" '
    b'creationDate="20200101" applicationSignature="x"/>',
    # an external entity
    b'<?xml version="1.0"?><!DOCTYPE gdxp [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<gdxp protocolVersion="&x;" creationDate="20200101" applicationSignature="x"/>',
    # an external DTD
    b'<?xml version="1.0"?><!DOCTYPE gdxp SYSTEM "http://127.0.0.1:9/gdxp.dtd">'
    b'<gdxp protocolVersion="0.2" creationDate="20200101" applicationSignature="x"/>',
    b"<gdxp", b"<?xml version='1.0'?>", b"<gdxp>\x00</gdxp>",
])
def test_hostile_xml_is_422(api: Api, engine: Engine, data: bytes) -> None:
    assert refused(api, engine, data, "application/xml")["status"] == 422


@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20),
    field=st.sampled_from(["protocolVersion", "creationDate", "applicationSignature",
                           "subject", "blocks"]))
@HOSTILE
def test_any_json_value_in_a_top_field_is_read_or_refused_never_a_500(
        api: Api, engine: Engine, value: Any, field: str) -> None:
    content = json.loads(gdxp_file())
    content[field] = value
    before = written(engine)
    r = send(api, json.dumps(content).encode(),
             f"?gas_id={api.parties['gas']}&dry_run=true")
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert written(engine) == before
