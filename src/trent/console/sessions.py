"""Console sessions: kept in the database, never in a cookie.

The cookie carries only a random 256-bit session id; the table keys a session by the id's SHA-256,
so a copy of the database opens no session. A session names the access key it signed in with
(never its secret) and the Region it works in. Its CSRF token is an HMAC of the session id, so
nothing secret is stored and every worker process (and, on PostgreSQL, every node) derives the same
token. Sessions end at sign-out, or after ``idle_seconds`` without a request; they outlive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from trent.domain.console_sessions import ConsoleSessionRecord

DEFAULT_IDLE_SECONDS = 15 * 60
# last_seen is written at most this often per session, so browsing does not write on every page;
# a session can therefore expire up to this much (or a quarter of the idle time) early.
_TOUCH_SECONDS = 60.0
_CSRF_LABEL = b"trent console csrf token"


class SessionTable(Protocol):
    """Where sessions live (``trent.storage``'s stores implement it)."""

    def insert_console_session(self, record: ConsoleSessionRecord) -> None: ...
    def console_session(self, id_hash: str) -> ConsoleSessionRecord | None: ...
    def update_console_session(self, id_hash: str, *, region: str, flash: str | None, last_seen: datetime) -> None: ...
    def delete_console_session(self, id_hash: str) -> None: ...
    def delete_console_sessions_idle_since(self, cutoff: datetime) -> int: ...


@dataclass(slots=True)
class Session:
    session_id: str
    access_key_id: str
    region: str
    dev_root: bool  # --dev one-click sign-in as the account root
    flash: str | None = None  # one message for the next page ("Key disabled.")
    # What the table holds, to write back only what a request changed.
    _stored: tuple[str, str | None] = field(default=("", None), repr=False)

    @property
    def csrf_token(self) -> str:
        if not self.session_id:
            return ""
        mac = hmac.new(self.session_id.encode(), _CSRF_LABEL, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def csrf_ok(self, submitted: str | None) -> bool:
        expected = self.csrf_token
        return bool(expected) and submitted is not None and hmac.compare_digest(submitted.encode(), expected.encode())

    @property
    def changed(self) -> bool:
        return (self.region, self.flash) != self._stored


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        table: SessionTable,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        *,
        allow_dev_root: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.idle_seconds = idle_seconds
        self._table = table
        self._allow_dev_root = allow_dev_root
        self._now = now
        self._touch = timedelta(seconds=min(_TOUCH_SECONDS, idle_seconds / 4))

    def create(self, access_key_id: str, region: str, *, dev_root: bool = False) -> Session:
        now = self._now()
        # Sign-in is the moment to clear out the expired: rare enough, and it bounds the table.
        self._table.delete_console_sessions_idle_since(now - timedelta(seconds=self.idle_seconds))
        session_id = secrets.token_urlsafe(32)
        self._table.insert_console_session(
            ConsoleSessionRecord(_id_hash(session_id), access_key_id, region, dev_root, now, now, None)
        )
        return Session(session_id, access_key_id, region, dev_root, None, (region, None))

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        id_hash = _id_hash(session_id)
        record = self._table.console_session(id_hash)
        if record is None:
            return None
        now = self._now()
        if now - record.last_seen > timedelta(seconds=self.idle_seconds):
            self._table.delete_console_session(id_hash)
            return None
        if record.dev_root and not self._allow_dev_root:
            # A --dev sign-in must not survive a restart without --dev on the same database.
            self._table.delete_console_session(id_hash)
            return None
        if now - record.last_seen >= self._touch:
            self._table.update_console_session(id_hash, region=record.region, flash=record.flash, last_seen=now)
        return Session(
            session_id,
            record.access_key_id,
            record.region,
            record.dev_root,
            record.flash,
            (record.region, record.flash),
        )

    def save(self, session: Session) -> None:
        """Write back what the request changed (the Region, the message for the next page)."""
        if session.changed:
            self._table.update_console_session(
                _id_hash(session.session_id), region=session.region, flash=session.flash, last_seen=self._now()
            )
            session._stored = (session.region, session.flash)

    def end(self, session_id: str) -> None:
        if session_id and len(session_id) <= 100:
            self._table.delete_console_session(_id_hash(session_id))
