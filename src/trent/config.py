"""Typed settings, from command-line flags and TRENT_* environment variables (flags win)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_ACCOUNT_ID = "111122223333"
DEFAULT_PORT = 4599
# AWS's commercial Regions (2026): the key spaces a default Trent serves; others are refused as AWS's
# endpoints refuse them. TRENT_REGIONS replaces the list ("*" serves any name).
AWS_COMMERCIAL_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1",
    "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2",
    "eu-north-1", "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
)  # fmt: skip


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
    # TLS (issue 15): a PEM certificate (chain) and its key, served by uvicorn; empty: plain HTTP.
    tls_cert: str = ""
    tls_key: str = ""
    # Development TLS: a local CA and a server certificate, generated once in the data directory.
    tls_self_signed: bool = False
    # Logging: one line per request on stderr, as JSON objects or text; the root logger's level.
    log_format: str = "text"
    log_level: str = "info"
    # /metrics: when set, a scrape must send "Authorization: Bearer <token>" (TRENT_METRICS_TOKEN).
    metrics_token: str = ""
    # Request quotas (requests/s per account and Region; 0 = unlimited): on unless --dev, where
    # TRENT_THROTTLE=1 turns them on (services/throttling.py for AWS's defaults).
    throttle: bool | None = None
    throttle_symmetric_rps: float = 100_000.0
    throttle_asymmetric_rps: float = 500.0
    throttle_management_rps: float = 1_000.0
    # Seconds a client may take to send a request's headers, and its body after them (slow clients).
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    # The Regions a signature may be scoped to (comma-separated; "*" for any): AWS's commercial ones.
    regions: str = ",".join(AWS_COMMERCIAL_REGIONS)

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
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert and --tls-key (TRENT_TLS_CERT, TRENT_TLS_KEY) go together")
        if self.tls_self_signed and self.tls_cert:
            raise ConfigError("--tls-self-signed makes its own certificate: drop --tls-cert and --tls-key")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log format must be text or json, got {self.log_format!r}")
        if self.log_level.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ConfigError(f"log level must be debug, info, warning, error or critical, got {self.log_level!r}")
        if min(self.throttle_symmetric_rps, self.throttle_asymmetric_rps, self.throttle_management_rps) < 0:
            raise ConfigError("request quotas must not be negative")
        if self.body_timeout_seconds <= 0 or self.header_timeout_seconds <= 0:
            raise ConfigError("the header and body timeouts must be positive")

    @property
    def served_regions(self) -> frozenset[str] | None:
        """None when any Region is served."""
        names = {r.strip() for r in self.regions.split(",") if r.strip()}
        return None if "*" in names else frozenset(names)

    @property
    def throttling(self) -> bool:
        """Quotas apply unless --dev, where they are off unless asked for."""
        return (not self.dev) if self.throttle is None else self.throttle

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
            if value is None:
                continue
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
        "tls_cert": str,
        "tls_key": str,
        "tls_self_signed": _env_bool,
        "log_format": str,
        "log_level": str,
        "metrics_token": str,
        "throttle": _env_bool,
        "throttle_symmetric_rps": float,
        "throttle_asymmetric_rps": float,
        "throttle_management_rps": float,
        "header_timeout_seconds": float,
        "body_timeout_seconds": float,
        "regions": str,
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
