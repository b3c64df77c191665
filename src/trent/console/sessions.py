"""Console sessions: kept in this process's memory, never in a cookie.

The cookie carries only a random 256-bit session id. A session names the access key it signed in
with (never its secret), the Region it works in, and its CSRF token. Sessions end at sign-out, after
``idle_seconds`` without a request, or when the process stops; with ``--workers`` > 1 each worker
process has sessions of its own (documented in docs/architecture.md).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

DEFAULT_IDLE_SECONDS = 15 * 60
_MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    session_id: str
    csrf_token: str
    access_key_id: str
    region: str
    dev_root: bool  # --dev one-click sign-in as the account root
    last_seen: float = field(default_factory=time.monotonic)
    flash: str | None = None  # one message for the next page ("Key disabled.")

    def csrf_ok(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(submitted.encode(), self.csrf_token.encode())


class SessionStore:
    def __init__(self, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, access_key_id: str, region: str, *, dev_root: bool = False) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), access_key_id, region, dev_root)
        with self._lock:
            self._sessions[session.session_id] = session
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)  # the least recently used goes first
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            self._sessions.move_to_end(session_id)
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
