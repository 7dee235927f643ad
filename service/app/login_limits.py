"""Failed logins within a sliding minute, counted in the database so that every server
process shares them (``login_failures``, migration 0025).

At most ``per_minute`` failures for one username from one client address, and
``per_address`` from one client address whatever the usernames (a password spray). Past
either, every attempt waits, the right password too. The API and the login page share
the counters. What is counted is kept as a SHA-256 (a username typed by mistake may be a
password); rows older than a minute are deleted at each failure and the table never
holds more than ``max_rows`` rows (the oldest failures are forgotten first), so its size
stays bounded whatever an attacker sends.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, func, insert, select

from service.db.engine import read_tx, write_tx
from service.db.tables import login_failures

WINDOW_US = 60_000_000  # a minute, in the microseconds ``at`` counts
_F = login_failures.c


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class LoginLimiter:
    def __init__(self, engine: Engine, per_minute: int, per_address: int = 20,
                 max_rows: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.per_minute = per_minute
        self.per_address = per_address
        self.max_rows = max_rows
        self.clock = clock  # wall clock: the processes sharing the counters agree on it

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return _key("u", address, username), _key("a", address)

    def _now(self) -> int:
        return int(self.clock() * 1_000_000)

    def retry_after(self, username: str, address: str = "") -> int:
        """Seconds to wait (0: an attempt may be made): until the oldest of the last
        ``limit`` failures of a counter at its limit is a minute old."""
        now = self._now()
        user_key, address_key = self._keys(username, address)
        wait = 0
        with read_tx(self.engine) as conn:
            for key, limit in ((user_key, self.per_minute), (address_key, self.per_address)):
                oldest = conn.execute(
                    select(_F.at).where(_F.key == key, _F.at > now - WINDOW_US)
                    .order_by(_F.at.desc()).limit(1).offset(limit - 1)).scalar()
                if oldest is not None:
                    left = (WINDOW_US - (now - int(oldest))) // 1_000_000
                    wait = max(wait, max(1, int(left) + 1))
        return wait

    def failed(self, username: str, address: str = "") -> None:
        now = self._now()
        user_key, address_key = self._keys(username, address)
        with write_tx(self.engine) as conn:
            conn.execute(insert(login_failures), [
                {"scope": "u", "key": user_key, "at": now},
                {"scope": "a", "key": address_key, "at": now}])
            conn.execute(delete(login_failures).where(_F.at <= now - WINDOW_US))
            excess = conn.execute(select(func.count()).select_from(login_failures)
                                  ).scalar_one() - self.max_rows
            if excess > 0:
                oldest = select(_F.seq).order_by(_F.at, _F.seq).limit(excess).scalar_subquery()
                conn.execute(delete(login_failures).where(_F.seq.in_(oldest)))

    def succeeded(self, username: str, address: str = "") -> None:
        """The username's count from this address starts again; the address keeps its
        count (one right password must not reset a spray)."""
        user_key, _ = self._keys(username, address)
        with read_tx(self.engine) as conn:
            if conn.execute(select(_F.seq).where(_F.key == user_key).limit(1)).first() is None:
                return
        with write_tx(self.engine) as conn:
            conn.execute(delete(login_failures).where(_F.key == user_key))

    def tracked(self) -> tuple[int, int]:
        """How many (username, address) and address keys are held (for tests)."""
        with read_tx(self.engine) as conn:
            rows: dict[str, int] = {
                str(scope): int(n) for scope, n in conn.execute(
                    select(_F.scope, func.count(func.distinct(_F.key))).group_by(_F.scope))}
        return int(rows.get("u", 0)), int(rows.get("a", 0))

    def rows(self) -> int:
        with read_tx(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(login_failures)
                                    ).scalar_one())
