"""``trent audit ...``: verify, sign, read and export the audit trail of a data directory.

Like ``trent iam``, the commands open the data directory's store directly; SQLite in WAL mode lets
them run next to a server using the same directory. Every rule lives in the services: verification
is ``AuditService.verify``, digests are ``AuditService.write_digest``, searches are
``AuditService.lookup`` (CloudTrail's LookupEvents). What is here is argument handling, printing
and the CloudTrail file layout of ``export``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trent.cli.init import refuse_missing_store
from trent.config import ConfigError, settings_from_env

if TYPE_CHECKING:
    from trent.bootstrap import Components
    from trent.domain.audit import ChainIssue, SigningKey, StoredEvent, VerifyReport
    from trent.services.audit import AuditService

DEFAULT_REGION = "us-east-1"
EXPORT_BUCKET = "trent-export"  # stands in for the S3 bucket in digestS3Bucket / s3Bucket
_TRAIL_NAME = "trent-export"  # CloudTrail puts the trail's name in digest file names

# flag dest -> LookupEvents AttributeKey; CloudTrail takes at most one lookup attribute per query.
_LOOKUP_ATTRIBUTES = {
    "event_id": "EventId",
    "event_name": "EventName",
    "username": "Username",
    "resource_name": "ResourceName",
    "resource_type": "ResourceType",
    "access_key_id": "AccessKeyId",
    "read_only": "ReadOnly",
    "event_source": "EventSource",
}


# ===================================================================== arguments


def _instant(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="verify, sign, search and export the audit trail of a data directory")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = _command(commands, "verify", "check the hash chain and signed digests (exit 0 only when intact)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")

    _command(commands, "digest", "sign the records appended since the last digest, now")

    public_key = _command(commands, "public-key", "print the digest signing public keys with their fingerprints")
    public_key.add_argument("--pem", action="store_true", help="PEM blocks instead of JSON")

    tail = _command(commands, "tail", "print the newest records (all regions), oldest first, as JSON lines")
    tail.add_argument("-n", dest="count", type=_positive, default=10, help="how many records (default 10)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new records until Ctrl-C")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow")

    search = _command(commands, "search", "print the records LookupEvents would find, newest first, as JSON lines")
    for dest, key in _LOOKUP_ATTRIBUTES.items():
        flag = "--" + dest.replace("_", "-")
        if dest == "read_only":
            search.add_argument(flag, dest=dest, choices=("true", "false"), help=f"LookupEvents {key}")
        else:
            search.add_argument(flag, dest=dest, metavar="VALUE", help=f"LookupEvents {key}")
    search.add_argument("--since", type=_instant, help="earliest eventTime (ISO 8601, UTC when no zone)")
    search.add_argument("--until", type=_instant, help="latest eventTime (ISO 8601, UTC when no zone)")
    search.add_argument("--region", default=DEFAULT_REGION, help=f"the region's events (default {DEFAULT_REGION})")
    search.add_argument("-n", dest="count", type=_positive, default=50, help="at most this many (default 50)")

    export = _command(commands, "export", "write CloudTrail log and digest files for a time range")
    export.add_argument("--since", type=_instant, required=True, help="start of the range (inclusive)")
    export.add_argument("--until", type=_instant, required=True, help="end of the range (exclusive)")
    export.add_argument("--out", type=Path, required=True, help="directory to write AWSLogs/... under")
    export.add_argument(
        "--slice-minutes", type=_positive, default=5, help="one log file per this many minutes (default 5)"
    )


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--data-dir", type=Path, help="data directory (TRENT_DATA_DIR, default ./.trent)")
    return parser


# ===================================================================== running


def run(args: argparse.Namespace, error: Callable[[str], None]) -> int:
    """Run one ``trent audit`` command; the exit code."""
    # Imported here so that `trent --help` and `trent serve` do not load the services for nothing.
    from trent.bootstrap import build  # noqa: PLC0415
    from trent.domain.errors import RootOfTrustError  # noqa: PLC0415

    try:
        settings = settings_from_env(data_dir=args.data_dir)
    except ConfigError as exc:
        error(str(exc))
        return 2
    if refuse_missing_store(settings):
        return 2
    problem = _search_problem(args) if args.audit_command == "search" else ""
    if problem:
        error(problem)
        return 2
    if args.audit_command == "export" and args.since >= args.until:
        error("--since must be before --until")
        return 2
    try:
        components = build(settings, create_root=False)
    except RootOfTrustError as exc:
        error(f"cannot open the data directory's root of trust: {exc}")
        return 2
    try:
        return _dispatch(components, args)
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, and keep Python from failing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        components.store.close()


def _dispatch(components: Components, args: argparse.Namespace) -> int:
    command = args.audit_command
    if command == "verify":
        return _verify(components, as_json=args.json)
    if command == "digest":
        return _digest(components)
    if command == "public-key":
        return _public_keys(components.audit.public_keys(), pem=args.pem)
    if command == "tail":
        return _tail(components, args.count, follow=args.follow, interval=args.interval)
    if command == "search":
        return _search(components.audit, args)
    if command == "export":
        return _export(components, args.since, args.until, args.out, timedelta(minutes=args.slice_minutes))
    raise AssertionError(f"unknown audit command {command}")


def _emit(line: str) -> None:
    print(line, flush=True)


# ----------------------------------------------------------------- verify, digest, public-key


def _verify(components: Components, *, as_json: bool) -> int:
    report = components.audit.verify()
    if as_json:
        _emit(json.dumps(_report_document(report), indent=2))
    else:
        _emit(f"records: {report.records}  digests: {report.digests}")
        first = report.first_issue
        if first is None:
            _emit("intact")
        else:
            _emit(f"NOT INTACT: first issue at record {first.position} ({first.kind}): {first.detail}")
            if len(report.issues) > 1:
                _emit(f"{len(report.issues)} issues in all (--json lists them)")
    return 0 if report.intact else 1


def _report_document(report: VerifyReport) -> dict[str, Any]:
    def issue(item: ChainIssue) -> dict[str, Any]:
        return {"position": item.position, "kind": item.kind, "detail": item.detail}

    first = report.first_issue
    return {
        "intact": report.intact,
        "records": report.records,
        "digests": report.digests,
        "firstIssue": None if first is None else issue(first),
        "issues": [issue(item) for item in sorted(report.issues, key=lambda item: item.position)],
    }


def _digest(components: Components) -> int:
    digest = components.audit.write_digest()
    if digest is None:
        last = components.store.last_audit_digest()
        if last is None:
            _emit("nothing to sign: the trail is empty")
        else:
            _emit(f"nothing new: digest {last[0].sequence} already covers records up to {last[1]}")
        return 0
    fields = digest.fields
    _emit(
        f"digest {digest.sequence}: signed records {fields['coversFromSequence']}..{fields['coversToSequence']} "
        f"with key {fields['digestPublicKeyFingerprint']}"
    )
    return 0


def _public_keys(keys: Sequence[SigningKey], *, pem: bool) -> int:
    if pem:
        for key in keys:
            _emit(f"Fingerprint: {key.fingerprint}")
            _emit(_pem(key.public_der))
        return 0
    listing = [
        {
            "Fingerprint": key.fingerprint,
            "ValidityStartTime": key.created.isoformat(),
            "Value": base64.b64encode(key.public_der).decode(),  # DER SubjectPublicKeyInfo, as ListPublicKeys
            "Current": index == len(keys) - 1,
        }
        for index, key in enumerate(keys)
    ]
    _emit(json.dumps({"PublicKeyList": listing}, indent=2))
    return 0


def _pem(der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----"])


# ----------------------------------------------------------------- tail and search


def _print_records(events: Iterable[StoredEvent], after: int) -> int:
    """Print each record as stored; the newest sequence printed (``after`` when none)."""
    for event in events:
        _emit(event.record.decode())
        after = event.sequence
    return after


def _tail(components: Components, count: int, *, follow: bool, interval: float) -> int:
    store = components.store
    head = store.audit_head()
    first = max(0, (head[0] if head else 0) - count)
    if not follow:
        _print_records(store.audit_events(after=first), 0)
        return 0
    # With --follow, Ctrl-C is how it ends, whenever it comes: while the newest records are still
    # being printed (they may already include records appended since the head was read) or later.
    try:
        last = _print_records(store.audit_events(after=first), 0)
        while True:
            time.sleep(interval)
            last = _print_records(store.audit_events(after=last), last)
    except KeyboardInterrupt:
        return 0


def _search_attribute(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(key, getattr(args, dest)) for dest, key in _LOOKUP_ATTRIBUTES.items() if getattr(args, dest) is not None]


def _search_problem(args: argparse.Namespace) -> str:
    if len(_search_attribute(args)) > 1:
        return "search takes at most one attribute filter, as CloudTrail's LookupEvents does"
    if args.since is not None and args.until is not None and args.since > args.until:
        return "--since must not be after --until"
    return ""


def _search(audit: AuditService, args: argparse.Namespace) -> int:
    from trent.services.audit import LookupQuery  # noqa: PLC0415 - the services load with build()

    attributes = _search_attribute(args)
    query = LookupQuery(args.region, attributes[0] if attributes else None, args.since, args.until, None, args.count)
    rows, _more = audit.lookup(query)
    for _sequence, record in rows:
        _emit(record.decode())
    return 0


# ----------------------------------------------------------------- export


@dataclass(slots=True)
class _LogFile:
    """One written log file, as its digest lists it."""

    key: str  # path relative to the export directory, the S3 object key
    hash_hex: str  # SHA-256 of the uncompressed file
    oldest: str
    newest: str
    start: datetime  # the slice's start


@dataclass(slots=True)
class _Slice:
    account: str
    region: str
    start: datetime
    records: list[bytes] = field(default_factory=list)
    oldest: float = float("inf")
    newest: float = float("-inf")


def _slice_start(moment: float, width: timedelta) -> datetime:
    seconds = int(width.total_seconds())
    return datetime.fromtimestamp(int(moment) // seconds * seconds, UTC)


def _compact_time(moment: datetime, *, seconds: bool) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ" if seconds else "%Y%m%dT%H%MZ")


def _ct_time(moment: float | datetime) -> str:
    from trent.domain.audit import cloudtrail_time  # noqa: PLC0415 - loaded with build()

    return cloudtrail_time(moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC))


def _sha256_hex(data: bytes) -> str:
    from trent.crypto.digest import sha256  # noqa: PLC0415 - loaded with build()

    return sha256(data).hex()


def _write_gzip(out: Path, key: str, data: bytes) -> None:
    path = out / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0))


class _Exporter:
    """CloudTrail's delivery, replayed: log files per time slice, an hourly signed digest chain.

    Records are copied byte for byte into ``{"Records":[...]}``; they hold no secrets by
    construction. Files are grouped per (recipient account, region), as CloudTrail delivers them.
    """

    def __init__(self, audit: AuditService, out: Path, default_account: str, width: timedelta) -> None:
        self._audit = audit
        self._out = out
        self._default_account = default_account
        self._width = width
        self._open: dict[tuple[str, str, datetime], _Slice] = {}
        self.logs: dict[tuple[str, str], list[_LogFile]] = {}
        self.records = 0
        self.digests = 0

    # -- log files

    def add(self, moment: float, record: bytes) -> None:
        parsed = json.loads(record)
        account = str(parsed.get("recipientAccountId") or self._default_account)
        region = str(parsed.get("awsRegion") or DEFAULT_REGION)
        start = _slice_start(moment, self._width)
        current = self._open.setdefault((account, region, start), _Slice(account, region, start))
        current.records.append(record)
        current.oldest, current.newest = min(current.oldest, moment), max(current.newest, moment)
        self.records += 1
        # Records come in sequence order, which follows time closely but not exactly (concurrent
        # requests): a slice is written once events are a whole slice past its end.
        self._flush(before=start - self._width)

    def finish(self) -> None:
        self._flush(before=None)

    def _flush(self, before: datetime | None) -> None:
        for slot in [slot for slot in self._open if before is None or slot[2] < before]:
            self._write_log(self._open.pop(slot))

    def _write_log(self, part: _Slice) -> None:
        body = b'{"Records":[' + b",".join(part.records) + b"]}"
        hash_hex = _sha256_hex(body)
        # CloudTrail's unique suffix; from the content here, so the same export gives the same names.
        stamp = f"{_compact_time(part.start, seconds=False)}_{hash_hex[:16]}"
        key = (
            f"AWSLogs/{part.account}/CloudTrail/{part.region}/{part.start:%Y/%m/%d}/"
            f"{part.account}_CloudTrail_{part.region}_{stamp}.json.gz"
        )
        _write_gzip(self._out, key, body)
        self.logs.setdefault((part.account, part.region), []).append(
            _LogFile(key, hash_hex, _ct_time(part.oldest), _ct_time(part.newest), part.start)
        )

    # -- digests

    def write_digests(self, since: datetime, until: datetime) -> None:
        """One digest per (account, region) and hour of the range that has records, chained.

        Hours without records get no digest file (before the store existed, after --until was
        reached, or quiet hours between): the chain links each digest to the previous one written.
        """
        fingerprint = self._audit.signing_key().fingerprint
        for (account, region), files in sorted(self.logs.items()):
            hours: dict[tuple[datetime, datetime], list[_LogFile]] = {}
            for log_file in files:
                # A slice that began before --since belongs to the first hour.
                hours.setdefault(_hour_of(max(log_file.start, since), since, until), []).append(log_file)
            previous: tuple[str, str, str] | None = None  # (object key, SHA-256 hex, signature hex)
            for (start, end), covered in sorted(hours.items()):
                covered.sort(key=lambda f: (f.start, f.oldest))
                previous = self._write_digest(account, region, start, end, covered, fingerprint, previous)

    def _write_digest(
        self,
        account: str,
        region: str,
        start: datetime,
        end: datetime,
        files: Sequence[_LogFile],
        fingerprint: str,
        previous: tuple[str, str, str] | None,
    ) -> tuple[str, str, str]:
        end_text = _ct_time(end)
        key = (
            f"AWSLogs/{account}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/{account}_CloudTrail-Digest_{region}_"
            f"{_TRAIL_NAME}_{region}_{_compact_time(end, seconds=True)}.json.gz"
        )
        document = {
            "awsAccountId": account,
            "digestStartTime": _ct_time(start),
            "digestEndTime": end_text,
            "digestS3Bucket": EXPORT_BUCKET,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max((f.newest for f in files), default=None),
            "oldestEventTime": min((f.oldest for f in files), default=None),
            "previousDigestS3Bucket": EXPORT_BUCKET if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": EXPORT_BUCKET,
                    "s3Object": f.key,
                    "hashValue": f.hash_hex,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": f.newest,
                    "oldestEventTime": f.oldest,
                }
                for f in files
            ],
        }
        body = json.dumps(document, separators=(",", ":")).encode()
        body_hash = _sha256_hex(body)
        # CloudTrail's signing string; the signature itself is S3 object metadata there, a sidecar here.
        message = f"{end_text}\n{EXPORT_BUCKET}/{key}\n{body_hash}\n{previous[2] if previous else 'null'}"
        signature, signed_with = self._audit.sign(message.encode())
        if signed_with != fingerprint:
            raise RuntimeError("the audit signing key changed during the export; run it again")
        _write_gzip(self._out, key, body)
        (self._out / f"{key}.sig").write_text(signature.hex(), encoding="ascii")
        self.digests += 1
        return key, body_hash, signature.hex()


def _hour_of(moment: datetime, since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The piece of [since, until), cut at whole UTC hours, that holds ``moment``."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return max(hour, since), min(hour + timedelta(hours=1), until)


def _export(components: Components, since: datetime, until: datetime, out: Path, width: timedelta) -> int:
    exporter = _Exporter(components.audit, out, components.settings.account_id, width)
    for _sequence, moment, record in components.store.audit_events_between(since, until):
        exporter.add(moment, record)
    exporter.finish()
    exporter.write_digests(since, until)
    files = sum(len(files) for files in exporter.logs.values())
    _emit(
        f"exported {exporter.records} records in {files} log files and {exporter.digests} digest files "
        f"under {out / 'AWSLogs'}"
    )
    return 0
