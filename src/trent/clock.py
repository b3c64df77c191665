"""Time, injectable: deletion windows (and later rotation and import expiry) read this clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SystemClock:
    """Wall-clock UTC time, optionally shifted forward (only ``--dev`` servers allow shifting)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        return self._offset
