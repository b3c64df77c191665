"""Typed settings, from command-line flags and TRENT_* environment variables (flags win)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_ACCOUNT_ID = "111122223333"
DEFAULT_PORT = 4599


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".trent")
    dev: bool = False
    account_id: str = DEFAULT_ACCOUNT_ID
    workers: int = 1
    # How often the background sweeper deletes keys whose waiting period is over.
    deletion_sweep_seconds: float = 60.0
    # How often a signed digest of the audit trail is written (CloudTrail writes one an hour).
    audit_digest_seconds: float = 3600.0
    # --dev only: start with the clock this far ahead, as if the server had been down that long
    # (tests of rotation, expiry and deletion across a restart).
    dev_clock_offset_seconds: float = 0.0
    # postgresql://... to run on PostgreSQL (several nodes may share it); empty: the SQLite file.
    database_url: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{12}", self.account_id):
            raise ConfigError(f"account id must be 12 digits, got {self.account_id!r}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port out of range: {self.port}")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.deletion_sweep_seconds <= 0:
            raise ConfigError("deletion sweep interval must be positive")
        if self.audit_digest_seconds <= 0:
            raise ConfigError("audit digest interval must be positive")
        if self.dev_clock_offset_seconds < 0:
            raise ConfigError("the dev clock offset must not be negative")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("the database URL must be a postgresql:// URL")
        if self.dev_clock_offset_seconds and not self.dev:
            raise ConfigError("TRENT_DEV_CLOCK_OFFSET_SECONDS is for --dev servers only")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "trent.db"

    @property
    def root_key_path(self) -> Path:
        return self.data_dir / "root.key"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials"

    def to_env(self) -> dict[str, str]:
        """The environment that recreates these settings (uvicorn worker processes read it)."""
        env = {}
        for name, value in asdict(self).items():
            text = ("1" if value else "0") if isinstance(value, bool) else str(value)
            env[f"TRENT_{name.upper()}"] = text
        return env


def _env_bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def settings_from_env(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    conversions: dict[str, type | object] = {
        "host": str,
        "port": int,
        "data_dir": Path,
        "dev": _env_bool,
        "account_id": str,
        "workers": int,
        "deletion_sweep_seconds": float,
        "audit_digest_seconds": float,
        "dev_clock_offset_seconds": float,
        "database_url": str,
    }
    for name, convert in conversions.items():
        text = env.get(f"TRENT_{name.upper()}")
        if text is not None and text != "":
            try:
                values[name] = convert(text)  # type: ignore[operator]
            except ValueError as exc:
                raise ConfigError(f"TRENT_{name.upper()}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]
