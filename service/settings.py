"""Settings read from ``FILIERA_*`` environment variables; nothing is read at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VAR_DIR = Path("var")


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    log_level: str = "INFO"
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 8 * 1024 * 1024
    login_attempts_per_minute: int = 10  # failures of one username from one address
    login_failures_per_address: int = 20  # failures from one address, any usernames
    # Proxies whose X-Forwarded-For names the client (addresses or networks).
    trusted_proxies: tuple[str, ...] = ()
    # Group commit: how many waiting ledger batches one writer transaction may take.
    group_commit_max_batches: int = 256
    # Signed checkpoints of the chain head: the key and the log live outside the
    # database (None: the app writes none, verify checks none).
    checkpoint_key_file: Path | None = None
    checkpoint_log_file: Path | None = None
    # How long a SQLite write waits for the database's write lock before answering 503.
    sqlite_busy_timeout_ms: int = 30_000

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, create: bool = True) -> Settings:
        """The settings of this process. ``create=False`` (commands that only read or
        write an existing database) creates no file: the token signing key is then
        read if it exists, else left empty (such commands issue no tokens)."""
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("FILIERA_VAR_DIR", str(DEFAULT_VAR_DIR)))
        url = env.get("FILIERA_DATABASE_URL") or f"sqlite:///{(var_dir / 'filiera.db').as_posix()}"
        key_file = var_dir / "secret_key"
        secret = env.get("FILIERA_SECRET_KEY") or (
            _secret_from_file(key_file) if create or key_file.exists() else "")
        return cls(
            database_url=url,
            secret_key=secret,
            log_level=env.get("FILIERA_LOG_LEVEL", "INFO").upper(),
            token_ttl_seconds=int(env.get("FILIERA_TOKEN_TTL_SECONDS", "3600")),
            max_body_bytes=int(env.get("FILIERA_MAX_BODY_BYTES", str(8 * 1024 * 1024))),
            login_attempts_per_minute=int(env.get("FILIERA_LOGIN_ATTEMPTS_PER_MINUTE", "10")),
            checkpoint_key_file=Path(env.get("FILIERA_CHECKPOINT_KEY")
                                     or var_dir / "checkpoint_key"),
            checkpoint_log_file=Path(env.get("FILIERA_CHECKPOINT_LOG")
                                     or var_dir / "checkpoints.log"),
            login_failures_per_address=int(env.get("FILIERA_LOGIN_FAILURES_PER_ADDRESS",
                                                   "20")),
            trusted_proxies=tuple(p.strip() for p in env.get("FILIERA_TRUSTED_PROXIES", "")
                                  .split(",") if p.strip()),
            sqlite_busy_timeout_ms=int(env.get("FILIERA_SQLITE_BUSY_TIMEOUT_MS", "30000")),
        )


def _secret_from_file(path: Path) -> str:
    """Generate the signing key once, on first run, and keep it private under var/."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
