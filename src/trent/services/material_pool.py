"""Key material made ahead of time for the specs whose generation is slow (RSA: up to ~0.5 s).

CreateKey runs on the event loop inside the request's transaction; generating an RSA_4096 key
there would hold every other request (and the database's write lock) for that long. Once the first
key of a slow spec was asked for, a background thread keeps a few ready; CreateKey takes one, and
only the first request, or one after a burst has emptied the pool, generates inline. Pooled keys
are never stored, logged or reused: each is handed out once, and they live only in this process's
memory, like cached material.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

SLOW_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")


class MaterialPool:
    def __init__(self, generate: Callable[[str], bytes], specs: Iterable[str] = SLOW_SPECS, depth: int = 2) -> None:
        self._generate = generate
        self._depth = depth
        self._ready: dict[str, deque[bytes]] = {spec: deque() for spec in specs}
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Fill the pool in a background thread (key generation releases the GIL)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._fill, name="trent-material-pool", daemon=True)
            self._thread.start()
            self._wanted.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wanted.set()

    def take(self, spec: str) -> bytes:
        """Fresh material for ``spec``: from the pool when one is ready, else generated now."""
        ready = self._ready.get(spec)
        if ready is not None:
            self.start()  # lazily: a server that never makes RSA keys never spends CPU on them
            with self._lock:
                material = ready.popleft() if ready else None
            self._wanted.set()
            if material is not None:
                return material
        return self._generate(spec)

    def ready(self, spec: str) -> int:
        with self._lock:
            return len(self._ready.get(spec, ()))

    def _fill(self) -> None:
        while not self._stopped.is_set():
            self._wanted.wait()
            self._wanted.clear()
            for spec, ready in self._ready.items():
                while not self._stopped.is_set() and len(ready) < self._depth:
                    material = self._generate(spec)
                    with self._lock:
                        ready.append(material)
