"""Failed console sign-ins, counted per client address and per access key id, to slow guessing.

After ``limit`` failures within ``window_seconds`` from one address, or for one access key id, further
attempts are refused without checking the secret until the oldest of those failures leaves the
window. A successful sign-in clears its access key id's count. The failures are kept in the
database (``console_sign_in_failures``), so every worker process and every node counts the same
ones: ``--workers`` N does not give an attacker N times the attempts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 300.0
_MAX_KEY_ID = 128  # longer claimed key ids are counted by their first 128 characters


class FailureTable(Protocol):
    """Where failures are kept (``trent.storage``'s stores implement it)."""

    def record_sign_in_failure(self, subjects: Sequence[str], at: datetime, forget_before: datetime) -> None: ...
    def recent_sign_in_failures(self, subject: str, since: datetime, limit: int) -> list[datetime]: ...
    def clear_sign_in_failures(self, subject: str) -> None: ...


def _subjects(client_ip: str, access_key_id: str) -> list[str]:
    subjects = [f"ip:{client_ip}"]
    if access_key_id:
        subjects.append(f"key:{access_key_id[:_MAX_KEY_ID]}")
    return subjects


class SignInThrottle:
    def __init__(
        self,
        table: FailureTable,
        limit: int = DEFAULT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self._table = table
        self._now = now

    def retry_after(self, client_ip: str, access_key_id: str) -> int | None:
        """Whole seconds until an attempt is allowed again, or None when it is allowed now."""
        now = self._now()
        wait = timedelta(0)
        for subject in _subjects(client_ip, access_key_id):
            recent = self._table.recent_sign_in_failures(subject, now - self.window, self.limit)
            if len(recent) >= self.limit:
                # Allowed again once the oldest of the last `limit` failures leaves the window.
                wait = max(wait, recent[-1] + self.window - now)
        seconds = wait.total_seconds()
        return math.ceil(seconds) if seconds > 0 else None

    def failed(self, client_ip: str, access_key_id: str) -> None:
        now = self._now()
        self._table.record_sign_in_failure(_subjects(client_ip, access_key_id), now, now - self.window)

    def succeeded(self, access_key_id: str) -> None:
        self._table.clear_sign_in_failures(f"key:{access_key_id[:_MAX_KEY_ID]}")
