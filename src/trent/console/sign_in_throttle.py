"""Failed console sign-ins, counted per client address and per access key id, to slow guessing.

After ``limit`` failures within ``window_seconds`` from one address, or for one access key id, further
attempts are refused without checking the secret until the oldest failure leaves the window. A
successful sign-in clears its access key id's count. The counts live in this process: with
``--workers`` N or several nodes an attacker gets N times the limit, which still turns millions of
guesses a second into a handful (docs/architecture.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 300.0
_MAX_TRACKED = 10_000  # addresses and key ids followed at once; the least recently failed go first


class SignInThrottle:
    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._now = now
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _subjects(client_ip: str, access_key_id: str) -> list[str]:
        subjects = [f"ip:{client_ip}"]
        if access_key_id:
            subjects.append(f"key:{access_key_id[:128]}")
        return subjects

    def retry_after(self, client_ip: str, access_key_id: str) -> int | None:
        """Whole seconds until an attempt is allowed again, or None when it is allowed now."""
        now = self._now()
        wait = 0.0
        with self._lock:
            for subject in self._subjects(client_ip, access_key_id):
                times = self._failures.get(subject)
                if times is None:
                    continue
                while times and now - times[0] >= self.window_seconds:
                    times.popleft()
                if len(times) >= self.limit:
                    wait = max(wait, self.window_seconds - (now - times[0]))
        return math.ceil(wait) if wait > 0 else None

    def failed(self, client_ip: str, access_key_id: str) -> None:
        now = self._now()
        with self._lock:
            for subject in self._subjects(client_ip, access_key_id):
                times = self._failures.setdefault(subject, deque(maxlen=self.limit))
                times.append(now)
                self._failures.move_to_end(subject)
            while len(self._failures) > _MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, access_key_id: str) -> None:
        with self._lock:
            self._failures.pop(f"key:{access_key_id[:128]}", None)
