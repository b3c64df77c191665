"""Server-side AWS Signature Version 4 verification (header-signed requests only).

Two steps, so that the caller can look up the secret in between:

1. ``parse_authorization`` checks the shape of the ``Authorization`` header, the credential
   scope, the clock skew and which headers are signed. It needs no secret.
2. ``verify_signature`` rebuilds the canonical request from the signed headers and the body and
   compares signatures in constant time.

Inputs are the request as received: header names lowercased, duplicate header values joined with
``","`` (each value stripped), and the *raw* request path and query string, i.e. before any
percent-decoding (ASGI ``raw_path`` and ``query_string``). Strings are the wire bytes decoded as
UTF-8; undecodable bytes may be carried with ``surrogateescape``.

Only the stdlib is used: botocore's signer costs ~100 us per request; parse plus verify of a
5.6 KB body costs ~12 us here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from urllib.parse import quote, unquote

from trent.domain.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)

__all__ = [
    "ALGORITHM",
    "MAX_CLOCK_SKEW",
    "ParsedAuthorization",
    "calculate_signature",
    "canonical_request",
    "parse_authorization",
    "signing_key",
    "string_to_sign",
    "verify_signature",
]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=5)  # what AWS's JSON services allow, either way

_TERMINATOR = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Parameters are separated by commas and/or whitespace: AWS itself treats "Credential= AKID/..."
# as two parameters, the second one missing its equal sign.
_PARAM_SPLIT = re.compile(r"[,\s]+")
# The shape every SDK sends, matched in one go. For any header it matches, the general tokenizer
# yields the same three parameters; everything else goes through the tokenizer.
_COMMON_HEAD = (
    r"AWS4-HMAC-SHA256 Credential=(?P<Credential>[^,\s]+)[,\s]+SignedHeaders=(?P<SignedHeaders>[^,\s]+)[,\s]+"
)
_COMMON_SHAPE = re.compile(_COMMON_HEAD + r"Signature=(?P<Signature>[^,\s]+)")
# All of it but the signature, which one client repeats all day: matched once per cache miss on
# the hot path (see _common_scope).
_COMMON_PREFIX = re.compile(_COMMON_HEAD)
# ASCII digits only: \d would also accept other scripts' digits, which int() then parses.
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
# The region is the caller's key space, so keep it tame and bounded.
_REGION = re.compile(r"[a-z0-9-]{1,64}")
# RFC 9110 token characters, lowercase only: SigV4 signs lowercased names.
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
# Echoed headers lose their signature: it is no secret, but error bodies end up in logs.
_SIGNATURE_VALUE = re.compile(r"(signature(?:\s*=\s*|\s+))[^,\s]*", re.IGNORECASE)
_ECHO_LIMIT = 256
_QUERY_SAFE = "-_.~"  # RFC 3986 unreserved; quote() adds the letters and digits
_PATH_SAFE = "/~"  # as botocore; quote() has kept "~" since Python 3.7 anyway

_REQUIRED_PARAMS = ("Credential", "Signature", "SignedHeaders")  # in the order AWS lists them
_ALWAYS_SIGNED = ("host", "x-amz-date")
_SIGNED_IF_PRESENT = ("x-amz-target", "x-amz-security-token")
_UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    access_key_id: str
    date: str  # yyyymmdd from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]  # lowercase, as given (checked sorted and unique)
    signature: str  # 64 lowercase hex
    amz_date: str  # the X-Amz-Date header value, yyyymmddTHHMMSSZ
    session_token: str | None  # X-Amz-Security-Token header if present

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{_TERMINATOR}"


# ----------------------------------------------------------------- parsing


def parse_authorization(
    headers: Mapping[str, str], now: datetime, expected_service: str = "kms"
) -> ParsedAuthorization:
    """Parse and pre-check a SigV4 ``Authorization`` header; no secret is needed yet.

    ``now`` should be timezone-aware; a naive value is taken as UTC.
    """
    parsed = _parse_common(headers, now, expected_service)
    return parsed if parsed is not None else _parse_general(headers, now, expected_service)


def _parse_common(headers: Mapping[str, str], now: datetime, expected_service: str) -> ParsedAuthorization | None:
    """The hot path: a well-formed, SDK-shaped header, checked mostly from per-client caches.

    Returns what ``_parse_general`` would return, or None whenever any check fails, so that every
    error (and its order and message) comes from ``_parse_general`` alone.
    """
    auth = headers.get("authorization")
    amz_date = headers.get("x-amz-date")
    # Naive and non-UTC clocks (never the app's) are left to _check_skew's conversions.
    if auth is None or amz_date is None or now.tzinfo is not UTC:
        return None
    # Split off the one part that changes per request. If the rest matches _COMMON_PREFIX and the
    # signature is 64 hex digits (no "Signature=", comma or space in it), the whole header matches
    # _COMMON_SHAPE with the same three values.
    head, _, signature = auth.rpartition("Signature=")
    scope = _common_scope(head)
    if scope is None or _SIGNATURE.fullmatch(signature) is None:
        return None
    access_key_id, scope_date, region, service, signed_headers, unsigned_optional = scope
    if service != expected_service:
        return None
    window = _skew_window(amz_date)
    if window is None or scope_date != amz_date[:8] or not window[0] <= now <= window[1]:
        return None
    for name in unsigned_optional:
        if name in headers:
            return None
    # Positional: the frozen dataclass's __init__ is ~2x slower with keywords.
    return ParsedAuthorization(
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature,
        amz_date,
        headers.get("x-amz-security-token"),
    )


# (access_key_id, date, region, service, signed_headers, optional headers left unsigned)
_Scope = tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]


# Keyed by everything before "Signature=", which one client repeats all day (a lone str argument
# is its own cache key: no tuple to build and hash). Caches None for a prefix that fails any check;
# _parse_general then raises the error, which is never cached.
@lru_cache(maxsize=64)
def _common_scope(head: str) -> _Scope | None:
    match = _COMMON_PREFIX.fullmatch(head)
    if match is None:
        return None
    credential, signed = match.groups()
    parts = credential.split("/")
    if len(parts) != 5:
        return None
    access_key_id, scope_date, region, service, terminator = parts
    if terminator != _TERMINATOR or _REGION.fullmatch(region) is None:
        return None
    try:
        signed_headers = _parse_signed_headers(signed)
    except IncompleteSignatureException:
        return None
    if any(name not in signed_headers for name in _ALWAYS_SIGNED):
        return None
    unsigned_optional = tuple(name for name in _SIGNED_IF_PRESENT if name not in signed_headers)
    return access_key_id, scope_date, region, service, signed_headers, unsigned_optional


# The instants X-Amz-Date may be checked at, bounds included, as aware UTC datetimes: comparing
# to them is exact and cheaper than _check_skew's arithmetic. None sends the request to
# _parse_general: bad dates, and years 1 and 9999, where _check_skew's now +/- 5 min overflows.
@lru_cache(maxsize=64)
def _skew_window(amz_date: str) -> tuple[datetime, datetime] | None:
    try:
        signed_at = _parse_amz_date(amz_date)
    except IncompleteSignatureException:
        return None
    if not 1 < signed_at.year < 9999:
        return None
    return signed_at - MAX_CLOCK_SKEW, signed_at + MAX_CLOCK_SKEW


def _parse_general(headers: Mapping[str, str], now: datetime, expected_service: str) -> ParsedAuthorization:
    """Every header shape and every error, in the order and words AWS uses."""
    auth = headers.get("authorization")
    if auth is None or not auth.strip():
        raise MissingAuthenticationTokenException.missing()

    common = _COMMON_SHAPE.fullmatch(auth)
    params = common.groupdict() if common is not None else _tokenize(auth)

    amz_date = headers.get("x-amz-date")
    if amz_date is None or not all(params.get(name) for name in _REQUIRED_PARAMS):
        raise IncompleteSignatureException(_missing_message(params, amz_date, auth))

    credential = params["Credential"]
    scope = credential.split("/")
    if len(scope) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{_echo(credential)}'"
        )
    access_key_id, scope_date, region, service, terminator = scope
    if terminator != _TERMINATOR:
        raise IncompleteSignatureException(
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', not '{_echo(terminator)}'. "
        )

    signed_at = _parse_amz_date(amz_date)

    if service != expected_service:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{expected_service}'. ")
    if _REGION.fullmatch(region) is None:
        raise InvalidSignatureException("Credential should be scoped to a valid region. ")
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{_echo(scope_date)}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    _check_skew(amz_date, signed_at, now)

    signed_headers = _parse_signed_headers(params["SignedHeaders"])
    for name in _ALWAYS_SIGNED:
        if name not in signed_headers:
            raise InvalidSignatureException(_unsigned_message(name))
    for name in _SIGNED_IF_PRESENT:
        if name in headers and name not in signed_headers:
            raise InvalidSignatureException(_unsigned_message(name))

    signature = params["Signature"]
    if _SIGNATURE.fullmatch(signature) is None:
        # Could never match what we compute; say so without echoing it.
        raise InvalidSignatureException.mismatch()

    return ParsedAuthorization(
        access_key_id=access_key_id,
        date=scope_date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=signature,
        amz_date=amz_date,
        session_token=headers.get("x-amz-security-token"),
    )


def _missing_message(params: Mapping[str, str], amz_date: str | None, auth: str) -> str:
    # AWS names every missing piece at once, then echoes the header.
    problems = [
        f"Authorization header requires '{name}' parameter." for name in _REQUIRED_PARAMS if not params.get(name)
    ]
    if amz_date is None:
        problems.append(
            "Authorization header requires existence of an 'X-Amz-Date' header (the 'Date' header is not supported)."
        )
    return f"{' '.join(problems)} Authorization={_echo(auth)}"


def _tokenize(auth: str) -> dict[str, str]:
    head = auth.split(None, 1)
    if head[0] != ALGORITHM:
        # SigV4a, SigV2, SigV3 and garbage all end here, before any parameter is read.
        raise IncompleteSignatureException(
            f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}."
        )
    params: dict[str, str] = {}
    for part in _PARAM_SPLIT.split(head[1]) if len(head) > 1 else ():
        if not part:
            continue  # leading/trailing separators
        key, eq, value = part.partition("=")
        if not eq:
            raise IncompleteSignatureException(
                f"'{_echo(part)}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{_echo(auth)}'."
            )
        if key in params and key in _REQUIRED_PARAMS:
            raise IncompleteSignatureException(
                f"Authorization header has more than one '{_echo(key)}' parameter. Authorization={_echo(auth)}"
            )
        params[key] = value  # unknown parameters are ignored, as AWS does
    return params


# Requests signed in the same second share X-Amz-Date, and one client keeps one SignedHeaders
# list: caching both parses saves ~3 us per request. Errors are raised, never cached.
@lru_cache(maxsize=64)
def _parse_amz_date(value: str) -> datetime:
    if _AMZ_DATE.fullmatch(value) is not None:
        try:
            # Field by field: strptime is ~10x slower.
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
        except ValueError:
            pass  # month 13, second 61, ...: same answer as a bad shape
    raise IncompleteSignatureException(
        f"Date must be in ISO-8601 'basic format'. Got '{_echo(value)}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _check_skew(amz_date: str, signed_at: datetime, now: datetime) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # timedelta comparisons are exact; exactly five minutes is still accepted.
    earliest = now - MAX_CLOCK_SKEW
    if signed_at < earliest:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {_format(earliest)} ({_format(now)} - 5 min.)"
        )
    latest = now + MAX_CLOCK_SKEW
    if signed_at > latest:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than {_format(latest)} ({_format(now)} + 5 min.)"
        )


@lru_cache(maxsize=64)
def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    well_formed = all(_HEADER_NAME.fullmatch(name) is not None for name in names)
    # Sorted and unique, as every SDK sends them: one list, one canonical form.
    if not well_formed or any(a >= b for a, b in pairwise(names)):
        raise IncompleteSignatureException(
            f"SignedHeaders must be lowercase header names, sorted, unique and separated by ';', got '{_echo(value)}'."
        )
    return names


def _unsigned_message(name: str) -> str:
    return f"The '{name}' header must be signed: add it to SignedHeaders."


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)


def _echo(text: str) -> str:
    """Make client text safe to put in an error message: no signature, short, printable."""
    text = _SIGNATURE_VALUE.sub(r"\1<redacted>", text)
    if len(text) > _ECHO_LIMIT:
        text = text[:_ECHO_LIMIT] + "..."
    return "".join(c if c.isprintable() else "?" for c in text)


# ----------------------------------------------------------------- verification


def verify_signature(
    parsed: ParsedAuthorization,
    secret_access_key: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    normalize_path: bool = True,
) -> None:
    """Recompute the signature over the request as received; raise if it does not match.

    ``normalize_path=False`` is S3's rule (no dot-segment removal); Trent never needs it, the AWS
    test suite does.
    """
    # Always hash the body ourselves: a client-supplied payload hash is only trusted to agree.
    payload_hash = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != payload_hash:
        if declared.startswith(_UNSIGNED_PAYLOADS):
            raise InvalidSignatureException(
                "x-amz-content-sha256 must be the SHA-256 of the body: unsigned and streaming "
                "payloads are not supported."
            )
        raise InvalidSignatureException("The provided 'x-amz-content-sha256' header does not match what was computed.")
    try:
        canonical = canonical_request(
            method,
            path,
            query,
            headers,
            signed_headers=parsed.signed_headers,
            payload_hash=payload_hash,
            normalize_path=normalize_path,
        )
        to_sign = string_to_sign(parsed.amz_date, parsed.scope, canonical)
    except UnicodeEncodeError:
        # Lone surrogates that were not wire bytes: the client cannot have signed them.
        raise InvalidSignatureException.mismatch() from None
    expected = calculate_signature(secret_access_key, parsed.date, parsed.region, parsed.service, to_sign)
    signature = parsed.signature
    # compare_digest takes ASCII-only str directly (and refuses others); a non-ASCII signature
    # can never equal the hex we computed. isascii() reads a flag: no timing leak about the value.
    if not (signature.isascii() and hmac.compare_digest(expected, signature)):
        raise InvalidSignatureException.mismatch()


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    *,
    signed_headers: tuple[str, ...],
    payload_hash: str,
    normalize_path: bool = True,
) -> str:
    """The SigV4 canonical request; only ``signed_headers`` are read from ``headers``."""
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise InvalidSignatureException(f"The signed header '{name}' is not in the request.")
        # Trim and collapse inner whitespace the way the SDKs do (str.split, not just spaces).
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return (
        f"{method}\n{_canonical_uri(path, normalize_path)}\n{_canonical_query(query)}\n"
        f"{''.join(lines)}\n{';'.join(signed_headers)}\n{payload_hash}"
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """``scope`` is ``date/region/service/aws4_request``."""
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def calculate_signature(secret_access_key: str, date: str, region: str, service: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``to_sign`` under the SigV4 signing key of that scope."""
    mac = _cached_signer(secret_access_key, date, region, service).copy()
    mac.update(to_sign.encode("utf-8", "surrogateescape"))
    return mac.hexdigest()


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 key derivation chain: "AWS4"+secret, then date, region, service, terminator."""
    key = hmac.digest(f"AWS4{secret_access_key}".encode("utf-8", "surrogateescape"), date.encode(), "sha256")
    for part in (region, service, _TERMINATOR):
        key = hmac.digest(key, part.encode("utf-8", "surrogateescape"), "sha256")
    return key


# Bounded LRU per scope: saves the four HMACs of the key chain per request, and the keyed HMAC is
# copied rather than set up again (~0.5 us less than hmac.digest). lru_cache is a C dict with
# eviction and its own lock, so threads cannot corrupt it; the cached HMAC is only ever copied,
# never updated. Entries hold the secret, which the caller's credential store holds anyway; 256
# scopes are many keys and regions.
@lru_cache(maxsize=256)
def _cached_signer(secret_access_key: str, date: str, region: str, service: str) -> hmac.HMAC:
    return hmac.new(signing_key(secret_access_key, date, region, service), digestmod="sha256")


def _canonical_uri(path: str, normalize: bool) -> str:
    if path == "/":
        return path  # the only path KMS uses
    if normalize:
        path = _remove_dot_segments(path)
    # Non-S3 services encode the raw path once more, so '%' in it becomes '%25'.
    return quote(path or "/", safe=_PATH_SAFE, errors="surrogateescape")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, plus AWS's rule that empty segments (repeated slashes) vanish."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and kept else ""
    return lead + "/".join(kept) + trail


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue  # "a=1&&b=2": an empty item carries no parameter
        name, _, value = item.partition("=")
        # Decode then re-encode, so that raw UTF-8 and percent-encoded input agree; surrogateescape
        # keeps undecodable %XX bytes as they were. '+' is a literal plus (%2B), never a space.
        pairs.append(
            (
                quote(unquote(name, errors="surrogateescape"), safe=_QUERY_SAFE, errors="surrogateescape"),
                quote(unquote(value, errors="surrogateescape"), safe=_QUERY_SAFE, errors="surrogateescape"),
            )
        )
    pairs.sort()  # by encoded name, then value: ASCII order equals byte order here
    return "&".join(f"{name}={value}" for name, value in pairs)
