"""Time, injectable: deletion windows (and later rotation and import expiry) read this clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


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
            # Far enough ahead that every date Trent computes from "now" (deletion windows, a
            # year of rotation, import expiry) still fits in a datetime.
            if datetime.now(UTC) + self._offset + delta > _LATEST:
                raise ValueError("the clock would pass the year 9000")
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        return self._offset
