"""A real `filiera serve` process on loopback, and the clients that drive it: every
request sent is recorded with what came back, so a test can check afterwards that each
acknowledged operation is in the journal exactly once (and each unacknowledged one at
most once)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Engine

from service.app.auth import create_user
from service.db.engine import write_tx

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "crash-test-password-1"
SECRET = "crash-secret-" + "k" * 40
HOST = "127.0.0.1"  # loopback only, never any other address


def server_url(db_url: tuple[str, str | None], application_name: str | None = None) -> str:
    """The FILIERA_DATABASE_URL for a test database: a PostgreSQL schema goes into the
    connection's options (search_path), as an operator would write it."""
    url, schema = db_url
    params = []
    if schema:
        params.append("options=" + quote(f"-csearch_path={schema}"))
    if application_name:
        params.append(f"application_name={application_name}")
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(params)


def add_officer(engine: Engine, username: str = "officer") -> str:
    with write_tx(engine) as conn:
        create_user(conn, username, PASSWORD, "officer", None)
    return username


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def filiera_command() -> list[str]:
    script = Path(sys.executable).with_name("filiera")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "service.cli.main"]


class Server:
    """One `filiera serve` process; kill() is SIGKILL, nothing is flushed or closed."""

    def __init__(self, database_url: str, var_dir: Path, shared: Path | None = None) -> None:
        """``shared``: where the checkpoint key and log live when several processes
        serve one database (they share them, as they share the token key)."""
        self.database_url = database_url
        self.var_dir = var_dir
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = var_dir / f"serve-{self.port}.log"
        env = {**os.environ, "FILIERA_DATABASE_URL": database_url,
               "FILIERA_VAR_DIR": str(var_dir), "FILIERA_SECRET_KEY": SECRET,
               "FILIERA_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        if shared is not None:
            env["FILIERA_CHECKPOINT_KEY"] = str(shared / "checkpoint_key")
            env["FILIERA_CHECKPOINT_LOG"] = str(shared / "checkpoints.log")
        var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*filiera_command(), "serve", "--host", HOST, "--port", str(self.port)],
                cwd=var_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, seconds: float = 90.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(self.base + "/api/me", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not start")

    def logged_errors(self) -> list[str]:
        """The server's ERROR log entries so far, each with its traceback (a 500 is
        logged with the exception that caused it)."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("ERROR", "CRITICAL"):
                out.append(f"{entry.get('msg')}\n{entry.get('exc', '')}")
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def login(base: str, username: str = "officer") -> dict[str, str]:
    r = httpx.post(base + "/api/auth/token", json={"username": username,
                                                   "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def eur(cents: int) -> dict[str, str]:
    return {"amount": f"{cents // 100}.{cents % 100:02d}", "currency": "EUR"}


def cents(money: dict[str, str]) -> int:
    whole, _, frac = money["amount"].lstrip("-").partition(".")
    value = int(whole) * 100 + int((frac + "00")[:2])
    return -value if money["amount"].startswith("-") else value


@dataclass
class Sent:
    """One request and what came back: status None means no answer (connection lost)."""

    kind: str  # transfer | linked | deposit | repayment
    path: str
    body: Any
    status: int | None = None
    answer: Any = None
    errors: list[tuple[int, Any]] = field(default_factory=list)  # 5xx before the last

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Fixture:
    """What the clients work on: raw accounts, one with a balance limit (so some linked
    chains fail as a whole), a pool and active loans."""

    accounts: list[str]
    limited: str
    pool: str
    loans: list[str]


def make_fixture(base: str, headers: dict[str, str], n_loans: int = 2) -> Fixture:
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        def ok(r: httpx.Response, status: int) -> Any:
            assert r.status_code == status, r.text
            return r.json()

        accounts = [ok(c.post("/api/ledger/accounts", json={"code": f"raw-{k}",
                                                             "currency": "EUR"}), 201)["id"]
                    for k in range(4)]
        limited = ok(c.post("/api/ledger/accounts", json={
            "code": "limited", "currency": "EUR",
            "flags": ["debits_must_not_exceed_credits"]}), 201)["id"]
        lender = ok(c.post("/api/parties", json={"kind": "lender", "name": "Mag Crash"}),
                    201)["id"]
        producer = ok(c.post("/api/parties", json={
            "kind": "producer", "name": "Cascina Crash", "categories": ["cheese"]}), 201)["id"]
        pool = ok(c.get(f"/api/pools?lender_id={lender}"), 200)["items"][0]["id"]
        ok(c.post(f"/api/pools/{pool}/deposits", json={
            "amount": eur(n_loans * 5_000_000), "date": "2026-01-02"}), 201)
        loans = []
        for _ in range(n_loans):
            loan = ok(c.post("/api/loans", json={
                "principal": eur(5_000_000), "annual_rate": "4.00", "term_months": 60,
                "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
                "borrower_id": producer, "lender_id": lender}), 201)["id"]
            ok(c.post(f"/api/loans/{loan}/disbursement", json={"date": "2026-01-15"}), 200)
            loans.append(loan)
    return Fixture(accounts, limited, pool, loans)


def random_op(rng: random.Random, fx: Fixture) -> Sent:
    """A transfer, a linked chain of three (a fifth of them bound to fail on the limited
    account), a pool deposit or a small loan repayment, each with a client id."""

    def transfer(debit: str, credit: str, flags: list[str]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "debit_account_id": debit, "credit_account_id": credit,
                "amount": eur(rng.randint(1, 99_999)), "code": "crash", "flags": flags}

    def pair() -> tuple[str, str]:
        a, b = rng.sample(fx.accounts, 2)
        return a, b

    roll = rng.random()
    if roll < 0.4:
        return Sent("transfer", "/api/ledger/transfers", [transfer(*pair(), [])])
    if roll < 0.7:
        chain = [transfer(*pair(), ["linked"]), transfer(*pair(), ["linked"]),
                 transfer(*pair(), [])]
        if rng.random() < 0.2:
            chain[1]["debit_account_id"] = fx.limited  # no credits: the chain must fail
        return Sent("linked", "/api/ledger/transfers", chain)
    if roll < 0.85:
        return Sent("deposit", f"/api/pools/{fx.pool}/deposits",
                    {"id": str(uuid.uuid4()), "amount": eur(rng.randint(1, 99_999)),
                     "date": "2026-01-20"})
    loan = rng.choice(fx.loans)
    return Sent("repayment", f"/api/loans/{loan}/repayments",
                {"id": str(uuid.uuid4()), "amount": eur(rng.randint(1, 500)),
                 "date": "2026-02-01"})


def send(client: httpx.Client, op: Sent) -> Sent:
    """Post once; a lost connection leaves status None (the outcome is unknown)."""
    try:
        r = client.post(op.path, json=op.body)
    except httpx.HTTPError:
        return op
    op.status = r.status_code
    try:
        op.answer = r.json() if r.content else None
    except ValueError:
        # Under /api every answer is JSON (problem+json for errors): keep what came, for
        # the test to name it, instead of losing the client thread.
        op.answer = {"non_json": r.text[:2000],
                     "content_type": r.headers.get("content-type")}
    return op


class Clients:
    """N threads posting random operations until stopped; each keeps what it sent."""

    def __init__(self, bases: list[str], headers: dict[str, str], fx: Fixture, n: int,
                 seed: int, retry_errors: bool = False, limit: int | None = None) -> None:
        self.sent: list[Sent] = []
        self.limit = limit  # stop once this many were acknowledged (bounds the checks)
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.retry_errors = retry_errors
        self.threads = [threading.Thread(target=self._work, args=(
            bases[k % len(bases)], headers, fx, random.Random(seed * 1000 + k)))
            for k in range(n)]

    def _work(self, base: str, headers: dict[str, str], fx: Fixture,
              rng: random.Random) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while not self.stop.is_set():
                op = send(client, random_op(rng, fx))
                # Under pg_terminate_backend an error answer is allowed if retrying the same
                # request (same ids) then succeeds, exactly once.
                tries = 0
                while (self.retry_errors and op.status is not None and not op.acked
                       and tries < 20):
                    op.errors.append((op.status, op.answer))
                    tries += 1
                    time.sleep(0.05)
                    op = send(client, op)
                with self._lock:
                    self.sent.append(op)
                    if self.limit is not None and sum(o.acked for o in self.sent) >= self.limit:
                        self.stop.set()
                if op.status is None:
                    return  # the server is gone

    def wait_acked(self, n: int, seconds: float = 30.0) -> None:
        """Until n operations were acknowledged (so the kill lands on a busy server)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if sum(op.acked for op in self.sent) >= n:
                    return
            time.sleep(0.01)
        raise AssertionError(f"fewer than {n} operations acknowledged in {seconds} s")

    def __enter__(self) -> Clients:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def journal(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        while True:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            r = c.get("/api/ledger/transfers", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def check_exactly_once(sent: list[Sent], rows: list[dict[str, Any]], fx: Fixture
                       ) -> dict[str, int]:
    """Every acknowledged operation in the journal exactly once, every other one at most
    once, no linked chain in part; returns each raw account's balance in cents summed
    here from the journal rows."""
    by_id = Counter(row["id"] for row in rows)
    assert max(by_id.values(), default=1) == 1, "a transfer id twice in the journal"
    for op in sent:  # under /api every answer is JSON, errors problem+json
        for _, answer in [*op.errors, (op.status, op.answer)]:
            assert not (isinstance(answer, dict) and "non_json" in answer), (op.kind, answer)
    rows_by_id = {row["id"]: row for row in rows}
    by_operation: dict[str, int] = {}
    for row in rows:
        if row.get("operation_id"):
            key = row["operation_id"]
            by_operation[key] = by_operation.get(key, 0) + cents(row["amount"])
    for op in sent:
        if op.kind in ("transfer", "linked"):
            present = [t["id"] in rows_by_id for t in op.body]
            assert all(present) or not any(present), f"linked chain in part: {op.body}"
            if op.acked:
                # Sent again after an error, a batch whose first try committed (its answer
                # lost with the connection) answers `exists` for each of its transfers:
                # the same ids tell that it was applied, once.
                done = ("created", "exists") if op.errors else ("created",)
                created = [r["result"] in done for r in op.answer["results"]]
                assert all(present) == all(created) and (all(created) or not any(created)), (
                    op.answer, present)
            for t in op.body:
                if t["id"] in rows_by_id:
                    row = rows_by_id[t["id"]]
                    assert (row["debit_account_id"], row["credit_account_id"], row["amount"]) \
                        == (t["debit_account_id"], t["credit_account_id"], t["amount"])
                    assert row["recorded_by"] == "officer", row  # who posted it
        else:
            amount = cents(op.body["amount"])
            recorded = by_operation.get(op.body["id"], 0)
            if op.acked:
                assert recorded == amount, (op.kind, op.body, recorded)
            else:
                assert recorded in (0, amount), (op.kind, op.body, recorded)
    raw = set(fx.accounts) | {fx.limited}
    expected = dict.fromkeys(raw, 0)
    for row in rows:
        if row["debit_account_id"] in raw:
            expected[row["debit_account_id"]] -= cents(row["amount"])
        if row["credit_account_id"] in raw:
            expected[row["credit_account_id"]] += cents(row["amount"])
    assert expected[fx.limited] >= 0, "the limited account went below zero"
    return expected


def balances(base: str, headers: dict[str, str], fx: Fixture) -> dict[str, Any]:
    """What a replay must not change: raw account totals, the pool, the loans."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        state: dict[str, Any] = {}
        for account in [*fx.accounts, fx.limited]:
            state[account] = c.get(f"/api/ledger/accounts/{account}").json()
        state[fx.pool] = c.get(f"/api/pools/{fx.pool}").json()
        for loan in fx.loans:
            state[loan] = c.get(f"/api/loans/{loan}").json()
        return state


def replay_answer(op: Sent) -> tuple[int | None, Any]:
    """What a replay of an acknowledged request must answer: the same, except that a raw
    transfer once created now answers `exists` (per transfer, as the ledger says)."""
    if op.kind in ("transfer", "linked"):
        results = [{"id": r["id"], "result": "exists" if r["result"] == "created"
                    else r["result"]} for r in op.answer["results"]]
        return op.status, {"results": results}
    return op.status, op.answer


def check_replays(base: str, headers: dict[str, str], sent: list[Sent], threads: int = 4
                  ) -> int:
    """Replays every acknowledged request with its ids (a few clients at once)."""
    acked = [op for op in sent if op.acked]
    mismatches: list[tuple[Any, Any, Any]] = []

    def work(part: list[Sent]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for op in part:
                again = send(client, Sent(op.kind, op.path, op.body))
                if (again.status, again.answer) != replay_answer(op):
                    mismatches.append((op.body, replay_answer(op), (again.status, again.answer)))

    pool = [threading.Thread(target=work, args=(acked[k::threads],)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not mismatches, mismatches[:3]
    return len(acked)


def verify(base: str, headers: dict[str, str]) -> dict[str, Any]:
    r = httpx.get(base + "/api/ledger/verify", headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    assert report["ok"] is True, report["problems"][:5]
    return report


def check_all(base: str, headers: dict[str, str], sent: list[Sent], fx: Fixture) -> None:
    """The whole check after a crash or a race: exactly once, balances, replays that
    change nothing, verify."""
    rows = journal(base, headers)
    expected = check_exactly_once(sent, rows, fx)
    before = balances(base, headers, fx)
    for account, cents_ in expected.items():
        assert cents(before[account]["balance"]) == cents_, (account, before[account])
    check_replays(base, headers, sent)
    assert balances(base, headers, fx) == before
    assert len(journal(base, headers)) == len(rows)
    assert verify(base, headers)["transfers"] == len(rows)
