"""Request quotas modelled on AWS KMS's: a token bucket per account, Region and class of operation.

AWS counts cryptographic operations on symmetric keys, on asymmetric keys and the management
operations against separate quotas per account and Region, and answers a request over its quota
with ThrottlingException, which every AWS SDK retries with backoff. Trent classifies by operation
name (AWS also looks at the key's type: Encrypt with an RSA key counts as asymmetric there); each
bucket holds one second's worth of requests. With several worker processes every process keeps
its own buckets, so each gets the configured rate divided by the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from trent.domain.errors import ThrottlingException

SYMMETRIC = "cryptographic-symmetric"
ASYMMETRIC = "cryptographic-asymmetric"
MANAGEMENT = "management"

_SYMMETRIC_OPERATIONS = frozenset(
    {
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom",
        "ReEncrypt", "VerifyMac",
    }
)  # fmt: skip
_ASYMMETRIC_OPERATIONS = frozenset(
    {
        "Decapsulate", "DeriveSharedSecret", "Encapsulate", "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext", "GetPublicKey", "Sign", "Verify",
    }
)  # fmt: skip


def quota_class(operation: str) -> str:
    if operation in _SYMMETRIC_OPERATIONS:
        return SYMMETRIC
    if operation in _ASYMMETRIC_OPERATIONS:
        return ASYMMETRIC
    return MANAGEMENT


@dataclass(frozen=True, slots=True)
class Quotas:
    """Requests per second per account and Region; 0 turns a class's throttling off."""

    # AWS's defaults in its largest Regions: symmetric cryptographic operations 100,000/s shared,
    # RSA asymmetric 500/s (ECC 300/s; Trent keeps one asymmetric bucket), management APIs from
    # 5 to 2,000/s each (Trent keeps one shared bucket at the most common figure).
    symmetric: float = 100_000.0
    asymmetric: float = 500.0
    management: float = 1_000.0

    def rate(self, klass: str) -> float:
        return {SYMMETRIC: self.symmetric, ASYMMETRIC: self.asymmetric}.get(klass, self.management)


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now


class Throttle:
    def __init__(self, quotas: Quotas, *, workers: int = 1, now: Callable[[], float] = time.monotonic) -> None:
        self._quotas = quotas
        self._workers = max(1, workers)
        self._now = now
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def admit(self, account_id: str, region: str, operation: str) -> None:
        """Take one token for the request, or ThrottlingException when the bucket is empty."""
        klass = quota_class(operation)
        rate = self._quotas.rate(klass) / self._workers
        if rate <= 0:
            return
        now = self._now()
        key = (account_id, region, klass)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, now)
        else:
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens < 1:
            raise ThrottlingException.rate_exceeded()
        bucket.tokens -= 1
