"""A web console session as stored: who signed in, where they work, and when they were last seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    id_hash: str  # hex SHA-256 of the session id: the id itself is only ever in the browser's cookie
    access_key_id: str  # the access key signed in with (never its secret)
    region: str
    dev_root: bool  # --dev one-click sign-in as the account root
    created: datetime
    last_seen: datetime
    flash: str | None  # one message for the next page ("Key disabled.")
