"""The one source of randomness for keys, salts, IVs and identifiers (the OS CSPRNG)."""

from __future__ import annotations

import os


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
