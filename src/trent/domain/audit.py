"""The audit trail: CloudTrail-format events, their hash chain, signed digests and verification.

Every stored event carries ``chain_hash = SHA-256(label || previous chain_hash || sequence || record)``,
so altering, deleting, inserting or reordering a record breaks the chain at that record. Digests
sign (SHA256withRSA) the chain hash at a position together with the previous digest's signature,
so a trail rewritten from some point on, or cut short, no longer matches what Trent signed.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trent.crypto.digest import sha256, verify_sha256_rsa

GENESIS_HASH = bytes(32)
_CHAIN_LABEL = b"trent-audit-chain-v1\x00"
DIGEST_SIGNATURE_ALGORITHM = "SHA256withRSA"
EVENT_VERSION = "1.11"


def chain_hash(previous: bytes, sequence: int, record: bytes) -> bytes:
    return sha256(_CHAIN_LABEL, previous, sequence.to_bytes(8, "big"), record)


def _format_cloudtrail_time(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


# (first, last moment, text) of the second cloudtrail_time formatted last: every request records
# its time, and formatting costs ~10x comparing two datetimes. One tuple, replaced whole, so
# threads always read a consistent entry.
_last_second: tuple[datetime, datetime, str] = (datetime.min, datetime.min, _format_cloudtrail_time(datetime.min))


def cloudtrail_time(moment: datetime) -> str:
    """CloudTrail's eventTime: UTC to the second, e.g. 2026-11-28T18:00:00Z."""
    global _last_second  # noqa: PLW0603 - a one-entry cache
    first, last, text = _last_second
    # Same tzinfo object: the comparison is on the fields the text is made of (no UTC conversion),
    # and never mixes naive with aware.
    if moment.tzinfo is first.tzinfo and first <= moment <= last:
        return text
    text = _format_cloudtrail_time(moment)
    _last_second = (moment.replace(microsecond=0), moment.replace(microsecond=999999), text)
    return text


# Request and event ids must be unique, not secret: a generator seeded once from the OS CSPRNG
# gives version 4 UUIDs at a fraction of the cost of a system call per id (two per request).
_ids = random.Random(os.urandom(32))  # noqa: S311 - uniqueness only; nothing secret is derived from ids
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))  # forked workers must not share ids


_UUID_CLEAR = ~(0xF << 76) & ~(0x3 << 62)  # the version and variant bits
_UUID_SET = (0x4 << 76) | (0x2 << 62)  # version 4, variant 10


def random_uuid() -> str:
    """A version 4 UUID string (RFC 9562), for request ids and CloudTrail eventIDs."""
    # bytes.hex() is cheaper than formatting a 128-bit int as hex.
    text = ((_ids.getrandbits(128) & _UUID_CLEAR) | _UUID_SET).to_bytes(16, "big").hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(slots=True)
class AuditResource:
    resource_type: str  # AWS::KMS::Key, ...
    name: str  # the ARN


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~2 µs more per request
class AuditEvent:
    """One CloudTrail record to append, with the fields LookupEvents filters on pulled out."""

    record: Mapping[str, Any]
    event_id: str
    event_time: datetime
    event_name: str
    event_source: str
    read_only: bool
    region: str
    account_id: str
    username: str | None
    access_key_id: str | None
    resources: tuple[AuditResource, ...] = ()
    key_uses: tuple[str, ...] = ()  # key ARNs whose GetKeyLastUsage this (successful) use updates


# GetKeyLastUsage's KeyLastUsageTrackingOperation: successful uses of these count.
TRACKED_OPERATIONS = frozenset(
    {
        "Decrypt", "DeriveSharedSecret", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "ReEncrypt",
        "Sign", "Verify", "VerifyMac", "Encapsulate", "Decapsulate",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class KeyUsage:
    operation: str
    timestamp: datetime
    event_id: str
    request_id: str


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA key that signs digests; the private half only sealed under the root of trust."""

    fingerprint: str
    public_der: bytes
    sealed_private: bytes
    created: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    sequence: int
    record: bytes  # the record exactly as hashed
    chain_hash: bytes


@dataclass(frozen=True, slots=True)
class Digest:
    """A signed statement: "the chain up to ``covers_to`` has hash ``chain_hash``"."""

    sequence: int
    body: bytes  # canonical JSON, exactly as signed
    signature: bytes

    @property
    def fields(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def digest_body(
    *,
    sequence: int,
    covers_from: int,
    covers_to: int,
    covered_hash: bytes,
    created: datetime,
    fingerprint: str,
    previous_signature: bytes | None,
) -> bytes:
    document = {
        "digestVersion": 1,
        "digestSequence": sequence,
        "coversFromSequence": covers_from,
        "coversToSequence": covers_to,
        "chainHash": covered_hash.hex(),
        "chainHashAlgorithm": "SHA-256",
        "digestTime": cloudtrail_time(created),
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": DIGEST_SIGNATURE_ALGORITHM,
        "previousDigestSignature": None if previous_signature is None else previous_signature.hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# ===================================================================== verification


@dataclass(frozen=True, slots=True)
class ChainIssue:
    position: int  # the sequence number (1-based position) of the first bad record or digest
    kind: str  # altered | deleted | inserted-or-deleted | reordered | truncated | digest
    detail: str

    def __str__(self) -> str:
        return f"record {self.position}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    records: int = 0
    digests: int = 0
    issues: list[ChainIssue] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.issues

    @property
    def first_issue(self) -> ChainIssue | None:
        return min(self.issues, key=lambda issue: issue.position) if self.issues else None


def _check_digests(
    digests: Sequence[Digest], public_keys: Mapping[str, bytes], report: VerifyReport
) -> dict[int, Digest]:
    """Signature, key and linkage of every digest; returns the sound ones by covered position."""
    covered: dict[int, Digest] = {}
    previous: Digest | None = None
    previous_to = 0
    for digest in digests:
        report.digests += 1
        try:
            fields = digest.fields
            covers_from, covers_to = int(fields["coversFromSequence"]), int(fields["coversToSequence"])
            fingerprint = str(fields["digestPublicKeyFingerprint"])
            previous_hex = fields["previousDigestSignature"]
        except (ValueError, KeyError, TypeError):
            report.issues.append(ChainIssue(previous_to + 1, "digest", f"digest {digest.sequence} is not readable"))
            return covered
        public = public_keys.get(fingerprint)
        if public is None or not verify_sha256_rsa(public, digest.body, digest.signature):
            report.issues.append(
                ChainIssue(covers_from, "digest", f"digest {digest.sequence}: signature verification failed")
            )
            return covered
        expected_previous = None if previous is None else previous.signature.hex()
        if previous_hex != expected_previous or covers_from != previous_to + 1:
            report.issues.append(
                ChainIssue(
                    covers_from,
                    "digest",
                    f"digest {digest.sequence} does not follow digest "
                    f"{previous.sequence if previous else 'none'}: a digest was removed or reordered",
                )
            )
            return covered
        covered[covers_to] = digest
        previous, previous_to = digest, covers_to
    return covered


def _with_lookahead(events: Iterable[StoredEvent]) -> Iterator[tuple[StoredEvent, StoredEvent | None]]:
    iterator = iter(events)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _classify(previous: bytes, event: StoredEvent, following: StoredEvent | None) -> tuple[str, str]:
    if following is not None:
        if chain_hash(event.chain_hash, following.sequence, following.record) == following.chain_hash:
            return "altered", "the record's content does not match its chain hash (modified in place)"
        if chain_hash(previous, event.sequence, following.record) == following.chain_hash:
            return "reordered", f"the record stored at {following.sequence} belongs here"
    return "inserted-or-deleted", "the chain breaks here: a record was inserted, deleted or replaced"


def verify_trail(
    events: Iterable[StoredEvent],
    digests: Sequence[Digest],
    public_keys: Mapping[str, bytes],
    head: tuple[int, bytes] | None,
) -> VerifyReport:
    """Walk the whole trail once (streaming) and report what does not hold.

    ``head`` is the (sequence, chain hash) the store recorded as its newest append: a trail that
    ends before it, or before a digest's covered position, was truncated.
    """
    report = VerifyReport()
    covered = _check_digests(digests, public_keys, report)
    previous = GENESIS_HASH
    expected = 1
    broken = False
    for event, following in _with_lookahead(events):
        report.records += 1
        if broken:
            continue  # count the rest; the first break is what is reported
        if event.sequence != expected:
            report.issues.append(
                ChainIssue(expected, "deleted", f"records {expected}..{event.sequence - 1} are missing")
            )
            broken = True
            continue
        computed = chain_hash(previous, event.sequence, event.record)
        if computed != event.chain_hash:
            kind, detail = _classify(previous, event, following)
            report.issues.append(ChainIssue(event.sequence, kind, detail))
            broken = True
            continue
        digest = covered.get(event.sequence)
        if digest is not None and digest.fields["chainHash"] != computed.hex():
            start = int(digest.fields["coversFromSequence"])
            report.issues.append(
                ChainIssue(
                    start,
                    "altered",
                    f"records {start}..{event.sequence} no longer match signed digest {digest.sequence} "
                    "(the trail was rewritten and re-chained)",
                )
            )
            broken = True
            continue
        previous = computed
        expected += 1
    last = expected - 1
    if not broken:
        newest_signed = max(covered, default=0)
        newest_claimed = max(newest_signed, head[0] if head else 0)
        if newest_claimed > last:
            report.issues.append(
                ChainIssue(last + 1, "truncated", f"the trail ends at {last} but {newest_claimed} records were written")
            )
        elif head is not None and head[0] < last:
            report.issues.append(
                ChainIssue(head[0] + 1, "inserted-or-deleted", f"records after {head[0]} were added outside Trent")
            )
        elif head is not None and head[0] == last and head[1] != previous:
            report.issues.append(ChainIssue(last, "altered", "the newest record does not match the recorded head"))
    return report
