"""Structured logs: a request id per request, echoed to the client; no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from service.http.logs import JsonFormatter
from tests.api.conftest import PASSWORD, Api


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """What the ``filiera`` loggers write meanwhile, as the service's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("filiera")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_request_id_is_returned_and_logged_without_secrets(api: Api) -> None:
    with json_logs() as stream:
        r = api.client.post("/api/auth/token", json={"username": "officer",
                                                     "password": PASSWORD},
                            headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        other = api.get("/api/me")
        assert len(other.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    token_line = next(x for x in lines if x.get("path") == "/api/auth/token")
    assert token_line["request_id"] == "abc-123" and token_line["status"] == 200
    text = stream.getvalue()
    assert PASSWORD not in text and r.json()["access_token"] not in text


def test_formatter_redacts_secret_fields() -> None:
    record = logging.LogRecord("filiera.x", logging.INFO, __file__, 1, "login", None, None)
    record.fields = {"password": "hunter2", "authorization": "Bearer x", "user": "anna"}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["password"] == "[redacted]" and entry["authorization"] == "[redacted]"
    assert entry["user"] == "anna"


def test_a_server_error_is_logged_with_its_traceback(api: Api,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 answers a problem document without details, and the log says what raised it
    (the crash tests name that traceback when a 500 shows under terminated backends)."""
    import service.http.auth as auth_http

    def broken(*_: object) -> None:
        raise RuntimeError("whoami broke here")

    monkeypatch.setattr(auth_http, "whoami", broken)
    with json_logs() as stream:
        r = api.get("/api/me")
    assert r.status_code == 500, r.text
    assert r.json()["status"] == 500 and "whoami broke" not in r.text
    errors = [x for x in map(json.loads, stream.getvalue().splitlines())
              if x["level"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["request_id"] == r.headers["x-request-id"]
    assert "RuntimeError: whoami broke here" in errors[0]["exc"]
    assert "in broken" in errors[0]["exc"]  # the frame that raised it


def test_a_client_hanging_up_before_its_body_is_not_a_server_error(api: Api) -> None:
    """A client that disconnects before its body arrives (a load test stopping) changed
    nothing and reads no answer: logged as such, not as a server error with a traceback."""
    app = api.client.app
    body = json.dumps({"transfers": []}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/api/ledger/transfers",
        "raw_path": b"/api/ledger/transfers", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", api.headers("officer")["Authorization"].encode())]}
    events = iter([{"type": "http.request", "body": body[:5], "more_body": True},
                   {"type": "http.disconnect"}])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(events, {"type": "http.disconnect"})

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with json_logs() as stream, api.client.portal() as portal:
        portal.call(app, scope, receive, send)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [x for x in lines if x["level"] == "ERROR"] == []
    assert any("client disconnected" in x["msg"] for x in lines)
    assert sent[0]["status"] == 400
