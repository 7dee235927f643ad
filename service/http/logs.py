"""Structured (JSON-lines) logs with a request id; secrets and passwords never logged."""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.app.audit_note import request_id_var

# Request ids: a random prefix per process and a counter (unique, and cheaper than a
# uuid4 per request on the hot path).
_ID_PREFIX = os.urandom(8).hex()
_ids = itertools.count(1)
access_log = logging.getLogger("filiera.access")

_REDACT = ("password", "secret", "token", "authorization")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = "[redacted]" if any(r in key.lower() for r in _REDACT) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("filiera")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def request_log_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (or keep the client's X-Request-ID), log one line for it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = given if given and given.isprintable() else f"{_ID_PREFIX}{next(_ids):016x}"
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"fields": {
                    "method": scope.get("method"), "path": scope.get("path"),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2)}})
            request_id_var.reset(token)

    return middleware
