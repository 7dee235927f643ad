"""Users, passwords (argon2), bearer tokens (JWT, HS256) and the login rate limit."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select

from service.app.common import now_utc
from service.app.errors import Forbidden, Unauthorized
from service.db.tables import parties, users

ROLES = ("admin", "officer", "producer", "gas")
MIN_PASSWORD_LENGTH = 12
PARTY_ROLE_KIND = {"producer": "producer", "gas": "gas", "officer": "lender"}

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("filiera-dummy-password")


def configure_hasher(time_cost: int, memory_cost: int, parallelism: int) -> None:
    """Replace argon2's cost parameters (the test suite uses cheap ones for speed)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                             parallelism=parallelism)
    _DUMMY_HASH = _hasher.hash("filiera-dummy-password")


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    party_id: str | None

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "officer")

    def require(self, *roles: str) -> None:
        """403 unless the role is one of ``roles`` (admins may do what officers may)."""
        allowed = set(roles) | ({"admin"} if "officer" in roles else set())
        if self.role not in allowed:
            raise Forbidden(f"role {self.role!r} may not do this")


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(conn: Connection, username: str, password: str, role: str,
                party_id: str | None) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("_", "").replace(
            ".", "").replace("-", "").isalnum():
        raise UserError("username: 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:  # code points, not bytes
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role in ("producer", "gas") and not party_id:
        raise UserError(f"a {role} user must be bound to a {role} party (--party)")
    if role == "admin" and party_id:
        raise UserError("an admin is not bound to a party")
    if party_id:
        kind = conn.execute(select(parties.c.kind).where(parties.c.id == party_id)).scalar()
        if kind is None:
            raise UserError(f"party {party_id} does not exist")
        if kind != PARTY_ROLE_KIND[role]:
            raise UserError(f"a {role} user must be bound to a {PARTY_ROLE_KIND[role]} party, "
                            f"not a {kind}")
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise UserError(f"user {username!r} already exists")
    user_id = str(uuid.uuid4())
    conn.execute(insert(users).values(
        id=user_id, username=username, password_hash=hash_password(password), role=role,
        party_id=party_id, created_at=now_utc()))
    return user_id


def authenticate(conn: Connection, username: str, password: str) -> Principal | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        if row is None:
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return Principal(row.username, row.role, row.party_id)


def issue_token(principal: Principal, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"sub": principal.username, "role": principal.role, "party_id": principal.party_id,
              "iat": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str) -> Principal:
    principal, expires = _verified(token, secret)
    if time.time() >= expires:
        raise Unauthorized("the token has expired; ask for a new one")
    return principal


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, int]:
    """Check a token's signature and claims once; a token never changes, so a valid one
    is remembered with its expiry (checked on every use) and an invalid one is not."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["exp", "sub", "role"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; ask for a new one") from None
    except jwt.PyJWTError:
        raise Unauthorized("invalid token") from None
    if claims.get("role") not in ROLES:
        raise Unauthorized("invalid token")
    return Principal(str(claims["sub"]), str(claims["role"]), claims.get("party_id")), \
        int(claims["exp"])


class LoginLimiter:
    """At most ``per_minute`` failed logins per username in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, username: str, now: float) -> deque[float]:
        window = self._failures.setdefault(username, deque())
        while window and now - window[0] > 60:
            window.popleft()
        return window

    def retry_after(self, username: str) -> int:
        now = time.monotonic()
        with self._lock:
            window = self._recent(username, now)
            if len(window) >= self.per_minute:
                return max(1, int(60 - (now - window[0])) + 1)
            return 0

    def failed(self, username: str) -> None:
        with self._lock:
            self._recent(username, time.monotonic()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)
