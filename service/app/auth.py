"""Users, passwords (argon2) and bearer tokens (JWT, HS256); the login rate limit is
``service.app.login_limits``.

A token names the user's ``token_generation`` when it was issued and carries a ``jti``.
Changing the password, role or party, or disabling the user, bumps the generation; a
logout records the ``jti``. Both live in the database, so every server process sees a
revocation on the next request (``session_is_live``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update

from service.app.common import now_utc
from service.app.errors import Forbidden, Unauthorized
from service.db.tables import parties, revoked_tokens, users

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

    @property
    def bound_lender(self) -> str | None:
        """The lender an officer is bound to: it sees that lender's loans only (API.md,
        "Several lenders on one service"). None for everyone else."""
        return self.party_id if self.role == "officer" and self.party_id else None

    def require(self, *roles: str) -> None:
        """403 unless the role is one of ``roles`` (admins may do what officers may)."""
        allowed = set(roles) | ({"admin"} if "officer" in roles else set())
        if self.role not in allowed:
            raise Forbidden(f"role {self.role!r} may not do this")


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:  # code points, not bytes
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def _check_role_party(conn: Connection, role: str, party_id: str | None) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
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


def create_user(conn: Connection, username: str, password: str, role: str,
                party_id: str | None) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("_", "").replace(
            ".", "").replace("-", "").isalnum():
        raise UserError("username: 1-64 letters, digits, '.', '_' or '-'")
    check_password(password)
    _check_role_party(conn, role, party_id)
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise UserError(f"user {username!r} already exists")
    user_id = str(uuid.uuid4())
    conn.execute(insert(users).values(
        id=user_id, username=username, password_hash=hash_password(password), role=role,
        party_id=party_id, created_at=now_utc()))
    return user_id


def _existing(conn: Connection, username: str) -> tuple[str, str | None]:
    row = conn.execute(select(users.c.role, users.c.party_id)
                       .where(users.c.username == username)).first()
    if row is None:
        raise UserError(f"no user {username!r}")
    return str(row.role), row.party_id


def _change(conn: Connection, username: str, **values: object) -> None:
    """Apply ``values`` and end every session of the user (a new token generation)."""
    conn.execute(update(users).where(users.c.username == username).values(
        token_generation=users.c.token_generation + 1, **values))


def set_password(conn: Connection, username: str, password: str) -> None:
    _existing(conn, username)
    check_password(password)
    _change(conn, username, password_hash=hash_password(password))


def set_role_party(conn: Connection, username: str, role: str | None,
                   party_id: str | None, *, clear_party: bool = False) -> tuple[str, str | None]:
    """New role and/or party; an admin is never bound, so making one drops the party.
    Answers the user's role and party afterwards."""
    old_role, old_party = _existing(conn, username)
    new_role = role or old_role
    if party_id is not None:
        new_party: str | None = party_id
    elif clear_party or new_role == "admin":
        new_party = None
    else:
        new_party = old_party
    _check_role_party(conn, new_role, new_party)
    _change(conn, username, role=new_role, party_id=new_party)
    return new_role, new_party


def disable_user(conn: Connection, username: str) -> None:
    _existing(conn, username)
    _change(conn, username, disabled_at=now_utc())


@dataclass(frozen=True)
class Login:
    """A user whose password was right, with the generation its token will carry."""

    principal: Principal
    generation: int


def authenticate(conn: Connection, username: str, password: str) -> Login | None:
    """The user if the password is right and the user is not disabled (a disabled user's
    password is still checked, so the answer takes the same time)."""
    row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        if row is None:
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row.disabled_at is not None:
        return None
    return Login(Principal(row.username, row.role, row.party_id), int(row.token_generation))


@dataclass(frozen=True)
class Session:
    """What a valid token says: who, which token (``jti``), under which generation."""

    principal: Principal
    jti: str
    generation: int
    expires: int  # Unix seconds


def issue_token(login: Login, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    principal = login.principal
    claims = {"sub": principal.username, "role": principal.role, "party_id": principal.party_id,
              "iat": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex,
              "gen": login.generation}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str) -> Session:
    """The token's session if its signature and claims hold and it has not expired (a
    revocation is checked apart, against the database: ``session_is_live``)."""
    session = _verified(token, secret)
    if time.time() >= session.expires:
        raise Unauthorized("the token has expired; ask for a new one")
    return session


def session_is_live(conn: Connection, session: Session) -> bool:
    """One indexed lookup: the user exists, is not disabled, still has the token's
    generation, and this token was not logged out."""
    logged_out = select(revoked_tokens.c.jti).where(
        revoked_tokens.c.jti == session.jti).exists()
    row = conn.execute(select(users.c.token_generation, users.c.disabled_at,
                              logged_out.label("logged_out"))
                       .where(users.c.username == session.principal.username)).first()
    return (row is not None and row.disabled_at is None and not row.logged_out
            and int(row.token_generation) == session.generation)


def revoke_token(conn: Connection, session: Session) -> None:
    """End one token; rows of tokens past their expiry go (they are refused anyway), so
    the table holds at most the tokens logged out within one token lifetime."""
    conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < int(time.time())))
    if conn.execute(select(revoked_tokens.c.jti)
                    .where(revoked_tokens.c.jti == session.jti)).first() is None:
        conn.execute(insert(revoked_tokens).values(jti=session.jti, expires_at=session.expires))


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> Session:
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
    generation, jti = claims.get("gen"), claims.get("jti")
    # Tokens from before revocation existed carry no generation: they are not accepted.
    if not isinstance(generation, int) or not isinstance(jti, str) or not jti:
        raise Unauthorized("invalid token")
    return Session(Principal(str(claims["sub"]), str(claims["role"]), claims.get("party_id")),
                   jti, generation, int(claims["exp"]))
