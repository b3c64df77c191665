"""Tests for the server-side SigV4 verifier: AWS's test suite, botocore-signed requests, skew,
malformed headers and a fuzzing property."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trent.api import sigv4
from trent.api.sigv4 import (
    ParsedAuthorization,
    calculate_signature,
    canonical_request,
    parse_authorization,
    signing_key,
    string_to_sign,
    verify_signature,
)
from trent.domain.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    TrentError,
)

# ----------------------------------------------------------------- helpers


@dataclass(frozen=True)
class HttpRequest:
    """A request as the HTTP layer hands it over: lowercase names, duplicates joined with ','."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def parse_http(raw: bytes) -> HttpRequest:
    """Parse the test suite's request files (LF line endings, obs-fold continuation lines)."""
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").rstrip("\n").split("\n")
    method, _, rest = lines[0].partition(" ")
    target, _, version = rest.rpartition(" ")  # the target itself may hold a space
    assert version == "HTTP/1.1"
    path, _, query = target.partition("?")
    values: dict[str, list[str]] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in {" ", "\t"}:
            values[last][-1] += "\n" + line  # folded line: canonicalisation collapses it
            continue
        name, colon, value = line.partition(":")
        assert colon, line
        last = name.strip().lower()
        values.setdefault(last, []).append(value.strip())
    headers = {name: ",".join(vals) for name, vals in values.items()}
    return HttpRequest(method, path, query, headers, body)


def amz_datetime(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# ----------------------------------------------------------------- the AWS SigV4 test suite

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "sigv4"
CASES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir()) if VECTORS.is_dir() else []
ABSENT = "shared/vectors/sigv4 not present beside the checkout"
VECTOR_PARAMS: list[str | None] = [*CASES] if CASES else [None]  # None: one test that skips

INPUT_FILES = {"request.txt", "context.json"}
HEADER_FILES = {
    "header-canonical-request.txt",
    "header-string-to-sign.txt",
    "header-signature.txt",
    "header-signed-request.txt",
}
# Files present in every case that these tests do not use, with the reason.
OUT_OF_SCOPE_FILES = dict.fromkeys(
    (
        "query-canonical-request.txt",
        "query-string-to-sign.txt",
        "query-signature.txt",
        "query-signed-request.txt",
    ),
    "presigned-URL (query) signing; KMS's JSON protocol signs the Authorization header",
)
KNOWN_CONTEXT_KEYS = {
    "credentials",
    "expiration_in_seconds",  # presigned URLs only
    "normalize",
    "omit_session_token",
    "region",
    "service",
    "sign_body",
    "timestamp",
}
# Cases whose signed request Trent refuses on purpose. Their canonical request, string to sign and
# signature are still checked, with the offending header removed.
POLICY_REJECTED = {
    "post-sts-header-after": "sends X-Amz-Security-Token unsigned; Trent requires a token to be signed",
}


@dataclass(frozen=True)
class Vector:
    name: str
    context: dict[str, Any]
    request: HttpRequest
    signed: HttpRequest
    canonical_request: str
    string_to_sign: str
    signature: str

    @property
    def now(self) -> datetime:
        return datetime.fromisoformat(self.context["timestamp"].replace("Z", "+00:00"))

    @property
    def secret(self) -> str:
        return str(self.context["credentials"]["secret_access_key"])

    @property
    def normalize(self) -> bool:
        return bool(self.context["normalize"])

    def accepted_headers(self) -> dict[str, str]:
        """The signed request's headers, minus what Trent's policy refuses (see POLICY_REJECTED)."""
        headers = dict(self.signed.headers)
        if self.name in POLICY_REJECTED:
            del headers["x-amz-security-token"]
        return headers

    def parse(self, headers: dict[str, str]) -> ParsedAuthorization:
        return parse_authorization(headers, self.now, expected_service=self.context["service"])


def load_vector(name: str) -> Vector:
    folder = VECTORS / name
    return Vector(
        name=name,
        context=json.loads((folder / "context.json").read_text()),
        request=parse_http((folder / "request.txt").read_bytes()),
        signed=parse_http((folder / "header-signed-request.txt").read_bytes()),
        canonical_request=(folder / "header-canonical-request.txt").read_text(encoding="utf-8"),
        string_to_sign=(folder / "header-string-to-sign.txt").read_text(encoding="utf-8"),
        signature=(folder / "header-signature.txt").read_text(encoding="utf-8"),
    )


@pytest.fixture(params=VECTOR_PARAMS, ids=lambda case: case or "absent")
def vector(request: pytest.FixtureRequest) -> Vector:
    if request.param is None:
        pytest.skip(ABSENT)
    return load_vector(request.param)


def test_vector_folders_hold_only_known_files_and_options() -> None:
    if not CASES:
        pytest.skip(ABSENT)
    assert len(CASES) >= 38  # the suite ships 38 cases; a truncated copy would quietly test less
    for case in CASES:
        files = {p.name for p in (VECTORS / case).iterdir()}
        assert files >= INPUT_FILES | HEADER_FILES, case
        assert files <= INPUT_FILES | HEADER_FILES | set(OUT_OF_SCOPE_FILES), case
        context = json.loads((VECTORS / case / "context.json").read_text())
        assert set(context) <= KNOWN_CONTEXT_KEYS, case
        assert set(context["credentials"]) <= {"access_key_id", "secret_access_key", "token"}, case


def test_policy_exclusions_are_exactly_the_refused_cases() -> None:
    if not CASES:
        pytest.skip(ABSENT)
    assert set(POLICY_REJECTED) <= set(CASES)
    refused = set()
    for case in CASES:
        vec = load_vector(case)
        try:
            vec.parse(vec.signed.headers)
        except TrentError:
            refused.add(case)
    assert refused == set(POLICY_REJECTED)


def test_vector_request_matches_its_signed_request(vector: Vector) -> None:
    # The signed request is request.txt plus X-Amz-Date, Authorization and maybe a token or a
    # payload hash; anything else would mean the parser misread a file.
    req, signed = vector.request, vector.signed
    assert (req.method, req.path, req.query, req.body) == (
        signed.method,
        signed.path,
        signed.query,
        signed.body,
    )
    assert req.headers.items() <= signed.headers.items()
    added = set(signed.headers) - set(req.headers)
    assert {"authorization", "x-amz-date"} <= added
    assert added <= {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}


def test_vector_canonical_request_string_to_sign_and_signature(vector: Vector) -> None:
    req = vector.signed
    headers = vector.accepted_headers()
    if vector.name in POLICY_REJECTED:
        with pytest.raises(InvalidSignatureException, match="'x-amz-security-token' header must be signed"):
            vector.parse(vector.signed.headers)

    parsed = vector.parse(headers)
    creds = vector.context["credentials"]
    assert parsed.access_key_id == creds["access_key_id"]
    assert parsed.region == vector.context["region"]
    assert parsed.service == vector.context["service"]
    assert parsed.amz_date == vector.now.strftime("%Y%m%dT%H%M%SZ")
    assert parsed.date == parsed.amz_date[:8]
    assert parsed.session_token == (creds["token"] if "x-amz-security-token" in headers else None)

    creq = canonical_request(
        req.method,
        req.path,
        req.query,
        headers,
        signed_headers=parsed.signed_headers,
        payload_hash=hashlib.sha256(req.body).hexdigest(),
        normalize_path=vector.normalize,
    )
    assert creq == vector.canonical_request
    sts = string_to_sign(parsed.amz_date, parsed.scope, creq)
    assert sts == vector.string_to_sign
    assert calculate_signature(vector.secret, parsed.date, parsed.region, parsed.service, sts) == vector.signature
    assert parsed.signature == vector.signature
    verify_signature(
        parsed,
        vector.secret,
        req.method,
        req.path,
        req.query,
        headers,
        req.body,
        normalize_path=vector.normalize,
    )


def test_vector_rejected_once_any_signed_part_changes(vector: Vector) -> None:
    req = vector.signed
    headers = vector.accepted_headers()
    parsed = vector.parse(headers)
    other_signature = ("0" if parsed.signature[0] != "0" else "1") + parsed.signature[1:]

    def attempt(
        *,
        parsed: ParsedAuthorization = parsed,
        secret: str = vector.secret,
        method: str = req.method,
        path: str = req.path,
        query: str = req.query,
        headers: dict[str, str] = headers,
        body: bytes = req.body,
    ) -> None:
        verify_signature(parsed, secret, method, path, query, headers, body, normalize_path=vector.normalize)

    attempt()  # the untouched request passes
    changes: dict[str, dict[str, Any]] = {
        "secret": {"secret": vector.secret + "x"},
        "method": {"method": "PUT"},
        "path": {"path": req.path + "x"},
        "query": {"query": req.query + "&tamper=1"},
        "body": {"body": req.body + b"x"},
        "signature": {"parsed": dataclasses.replace(parsed, signature=other_signature)},
        "region": {"parsed": dataclasses.replace(parsed, region="us-west-2")},
        "service": {"parsed": dataclasses.replace(parsed, service="kms")},
        "date": {"parsed": dataclasses.replace(parsed, date="20150831")},
        "amz_date": {"parsed": dataclasses.replace(parsed, amz_date="20150830T123601Z")},
    }
    for name in parsed.signed_headers:
        changes[f"header {name}"] = {"headers": {**headers, name: headers[name] + "x"}}
        changes[f"no header {name}"] = {"headers": {k: v for k, v in headers.items() if k != name}}
    accepted = []
    for label, change in changes.items():
        try:
            attempt(**change)
        except InvalidSignatureException:
            continue
        accepted.append(label)
    assert accepted == []


# ----------------------------------------------------------------- requests signed by botocore

AKID = "AKIDTRENTTEST"
SECRET = "trent/test+secret/0123456789abcdefghijklmnop"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDGV4YW1wbGV0b2tlbg=="
ENDPOINT = "http://127.0.0.1:4599/"
# An Encrypt request of the size the benchmarks use (5.6 KB).
BODY = b'{"KeyId":"alias/trent-test","Plaintext":"' + base64.b64encode(bytes(range(256)) * 16) + b'"}'


def botocore_request(
    *,
    region: str = "us-east-1",
    token: str | None = None,
    secret: str = SECRET,
    url: str = ENDPOINT,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    """Sign like boto3's KMS client, and return what the server receives."""
    sent = (
        {"X-Amz-Target": "TrentService.Encrypt", "Content-Type": "application/x-amz-json-1.1"}
        if headers is None
        else headers
    )
    aws_request = AWSRequest(method="POST", url=url, data=body, headers=dict(sent))
    SigV4Auth(Credentials(AKID, secret, token), "kms", region).add_auth(aws_request)
    parts = urlsplit(url)
    received = {name.lower(): value for name, value in aws_request.headers.items()}
    # Added by the HTTP client on the wire; botocore signs Host from the URL the same way and
    # leaves the other two unsigned.
    received["host"] = parts.netloc
    received["content-length"] = str(len(body))
    received["user-agent"] = "Boto3/1.40 md/Botocore#1.40"
    return HttpRequest("POST", parts.path, parts.query, received, body)


def signed_at(req: HttpRequest) -> datetime:
    return amz_datetime(req.headers["x-amz-date"])


def parse_and_verify(req: HttpRequest, secret: str = SECRET) -> ParsedAuthorization:
    parsed = parse_authorization(req.headers, signed_at(req))
    verify_signature(parsed, secret, req.method, req.path, req.query, req.headers, req.body)
    return parsed


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
@pytest.mark.parametrize("token", [None, TOKEN])
def test_botocore_signed_request_verifies(region: str, token: str | None) -> None:
    req = botocore_request(region=region, token=token)
    parsed = parse_and_verify(req)
    expected_signed: tuple[str, ...] = ("content-type", "host", "x-amz-date")
    expected_signed += ("x-amz-security-token", "x-amz-target") if token else ("x-amz-target",)
    assert parsed.signed_headers == expected_signed
    assert (parsed.access_key_id, parsed.region, parsed.service) == (AKID, region, "kms")
    assert parsed.session_token == token
    assert parsed.amz_date == req.headers["x-amz-date"]
    assert parsed.date == parsed.amz_date[:8]


def test_botocore_signed_request_with_default_port_and_path() -> None:
    parse_and_verify(botocore_request(url="https://kms.example.internal/"))
    parse_and_verify(botocore_request(url="http://[::1]:4599/"))


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_botocore_body_byte_changed_is_rejected(position: int) -> None:
    req = botocore_request()
    body = bytearray(req.body)
    body[position] ^= 0x01
    parsed = parse_authorization(req.headers, signed_at(req))
    with pytest.raises(InvalidSignatureException) as caught:
        verify_signature(parsed, SECRET, req.method, req.path, req.query, req.headers, bytes(body))
    assert caught.value.message == InvalidSignatureException.mismatch().message


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-amz-target", "TrentService.Decrypt"),
        ("content-type", "application/json"),
        ("host", "127.0.0.1:4600"),
        ("x-amz-security-token", TOKEN + "x"),
    ],
)
def test_botocore_signed_header_changed_is_rejected(header: str, value: str) -> None:
    req = botocore_request(token=TOKEN)
    headers = {**req.headers, header: value}
    parsed = parse_authorization(headers, signed_at(req))
    with pytest.raises(InvalidSignatureException):
        verify_signature(parsed, SECRET, req.method, req.path, req.query, headers, req.body)


def test_botocore_unsigned_headers_may_change() -> None:
    req = botocore_request()
    headers = {**req.headers, "user-agent": "something else", "content-length": "1"}
    parse_and_verify(dataclasses.replace(req, headers=headers))


def test_botocore_wrong_secret_is_rejected() -> None:
    req = botocore_request()
    with pytest.raises(InvalidSignatureException):
        parse_and_verify(req, secret=SECRET + "x")


def test_botocore_region_rewritten_is_rejected() -> None:
    req = botocore_request(region="us-east-1")
    auth = req.headers["authorization"].replace("/us-east-1/", "/eu-west-1/")
    headers = {**req.headers, "authorization": auth}
    parsed = parse_authorization(headers, signed_at(req))
    assert parsed.region == "eu-west-1"  # any region is served...
    with pytest.raises(InvalidSignatureException):  # ...but this one was not signed
        verify_signature(parsed, SECRET, req.method, req.path, req.query, headers, req.body)


def test_signing_key_cache_keeps_scopes_and_secrets_apart() -> None:
    east, west = botocore_request(region="us-east-1"), botocore_request(region="us-west-2")
    other = botocore_request(secret="another secret")
    for _ in range(2):  # second round hits the cache
        parse_and_verify(east)
        parse_and_verify(west)
        parse_and_verify(other, secret="another secret")
        with pytest.raises(InvalidSignatureException):
            parse_and_verify(other)
        with pytest.raises(InvalidSignatureException):
            parse_and_verify(east, secret="another secret")


def test_botocore_matching_content_sha256_is_accepted() -> None:
    headers = {
        "X-Amz-Target": "TrentService.Encrypt",
        "X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest(),
    }
    parsed = parse_and_verify(botocore_request(headers=headers))
    assert "x-amz-content-sha256" in parsed.signed_headers


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (hashlib.sha256(b"another body").hexdigest(), "does not match what was computed"),
        (hashlib.sha256(BODY).hexdigest().upper(), "does not match what was computed"),
        ("UNSIGNED-PAYLOAD", "unsigned and streaming payloads are not supported"),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "unsigned and streaming payloads are not supported"),
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "unsigned and streaming payloads are not supported"),
    ],
)
def test_botocore_content_sha256_must_be_the_body_hash(declared: str, message: str) -> None:
    # botocore puts this header into the canonical request verbatim, so the signature is valid:
    # only the verifier's own hash of the body catches the lie.
    req = botocore_request(headers={"X-Amz-Target": "TrentService.Encrypt", "X-Amz-Content-SHA256": declared})
    parsed = parse_authorization(req.headers, signed_at(req))
    with pytest.raises(InvalidSignatureException, match=message):
        verify_signature(parsed, SECRET, req.method, req.path, req.query, req.headers, req.body)


_segment = st.one_of(st.sampled_from(["", ".", "..", "a b", "%41", "~x"]), st.text(min_size=1, max_size=8))
_param = st.tuples(st.text(max_size=6), st.text(max_size=6))
_header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@settings(max_examples=60)
@given(
    segments=st.lists(_segment, max_size=5),
    params=st.lists(_param, max_size=4),
    value=_header_value,
    body=st.binary(max_size=64),
)
def test_botocore_signs_any_path_query_and_header_we_verify(
    segments: list[str], params: list[tuple[str, str]], value: str, body: bytes
) -> None:
    # The wire form a client sends: every segment and parameter percent-encoded once. botocore
    # signs that path encoded again (non-S3 rule) and the query as it stands.
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
    url = "http://127.0.0.1:4599" + path + ("?" + query if query else "")
    headers = {"X-Amz-Target": "TrentService.Encrypt", "X-Trent-Test": value}
    req = botocore_request(url=url, body=body, headers=headers)
    assert (req.path, req.query) == (path, query)
    parse_and_verify(req)


# ----------------------------------------------------------------- clock skew

SIG = "deadbeef" * 8
SIGNED_AT = "20150830T123600Z"
KMS_AUTH = (
    f"AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/kms/aws4_request, "
    f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={SIG}"
)
KMS_HEADERS = {
    "authorization": KMS_AUTH,
    "content-type": "application/x-amz-json-1.1",
    "host": "127.0.0.1:4599",
    "x-amz-date": SIGNED_AT,
    "x-amz-target": "TrentService.Encrypt",
}
NOW = amz_datetime(SIGNED_AT)


@pytest.mark.parametrize("seconds", [-300, -299, 0, 299, 300])
def test_skew_up_to_five_minutes_is_accepted(seconds: int) -> None:
    parsed = parse_authorization(KMS_HEADERS, NOW + timedelta(seconds=seconds))
    assert parsed.amz_date == SIGNED_AT


def test_skew_expired() -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        parse_authorization(KMS_HEADERS, NOW + timedelta(seconds=301))
    assert caught.value.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    )


def test_skew_not_yet_current() -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        parse_authorization(KMS_HEADERS, NOW - timedelta(seconds=301))
    assert caught.value.message == (
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)"
    )


@pytest.mark.parametrize(
    ("offset", "prefix"),
    [
        (timedelta(seconds=300, microseconds=1), "Signature expired: "),
        (timedelta(days=-400), "Signature not"),
    ],
)
def test_skew_just_past_or_far_past_the_limit(offset: timedelta, prefix: str) -> None:
    with pytest.raises(InvalidSignatureException, match=f"^{prefix}"):
        parse_authorization(KMS_HEADERS, NOW + offset)


def test_naive_now_is_taken_as_utc() -> None:
    parse_authorization(KMS_HEADERS, NOW.replace(tzinfo=None) + timedelta(seconds=300))
    with pytest.raises(InvalidSignatureException, match=r"^Signature expired: "):
        parse_authorization(KMS_HEADERS, NOW.replace(tzinfo=None) + timedelta(seconds=301))


def test_other_timezones_compare_as_instants() -> None:
    paris = timezone(timedelta(hours=2))
    parse_authorization(KMS_HEADERS, NOW.astimezone(paris))


# ----------------------------------------------------------------- malformed headers

CRED = f"{AKID}/20150830/us-east-1/kms/aws4_request"
SH = "content-type;host;x-amz-date;x-amz-target"


def with_auth(auth: str | None, **changes: str | None) -> dict[str, str]:
    """KMS_HEADERS with another Authorization; keyword names are headers with '_' for '-'."""
    renamed = {name.replace("_", "-"): value for name, value in changes.items()}
    headers: dict[str, str | None] = {**KMS_HEADERS, "authorization": auth, **renamed}
    return {name: value for name, value in headers.items() if value is not None}


MISSING_TOKEN_CASES = {
    "no header": with_auth(None),
    "empty": with_auth(""),
    "blank": with_auth("   "),
}


@pytest.mark.parametrize("headers", MISSING_TOKEN_CASES.values(), ids=MISSING_TOKEN_CASES.keys())
def test_missing_authentication_token(headers: dict[str, str]) -> None:
    with pytest.raises(MissingAuthenticationTokenException) as caught:
        parse_authorization(headers, NOW)
    assert caught.value.message == "Missing Authentication Token"


UNSUPPORTED = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
REDACTED = "Signature=<redacted>"

INCOMPLETE_CASES: dict[str, tuple[dict[str, str], str]] = {
    "sigv4a": (
        with_auth(
            f"AWS4-ECDSA-P256-SHA256 Credential={AKID}/20150830/kms/aws4_request, "
            f"SignedHeaders=host;x-amz-date;x-amz-region-set, Signature={SIG}",
            x_amz_region_set="*",
        ),
        UNSUPPORTED,
    ),
    "sigv3": (
        with_auth(f"AWS3-HTTPS AWSAccessKeyId={AKID},Algorithm=HmacSHA256,Signature=abc="),
        UNSUPPORTED,
    ),
    "sigv2": (with_auth(f"AWS {AKID}:frJIUN8DYpKDtOLCwo//yllqDzg="), UNSUPPORTED),
    "garbage": (with_auth("garbage"), UNSUPPORTED),
    "lowercase algorithm": (with_auth(KMS_AUTH.lower()), UNSUPPORTED),
    "no credential": (
        with_auth(f"AWS4-HMAC-SHA256 SignedHeaders={SH}, Signature={SIG}"),
        "Authorization header requires 'Credential' parameter. "
        f"Authorization=AWS4-HMAC-SHA256 SignedHeaders={SH}, {REDACTED}",
    ),
    "empty credential": (
        with_auth(f"AWS4-HMAC-SHA256 Credential=, SignedHeaders={SH}, Signature={SIG}"),
        "Authorization header requires 'Credential' parameter. Authorization=",
    ),
    "no signature": (
        with_auth(f"AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders={SH}"),
        "Authorization header requires 'Signature' parameter. "
        f"Authorization=AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders={SH}",
    ),
    "no signed headers": (
        with_auth(f"AWS4-HMAC-SHA256 Credential={CRED}, Signature={SIG}"),
        "Authorization header requires 'SignedHeaders' parameter. Authorization=",
    ),
    "algorithm only": (
        with_auth("AWS4-HMAC-SHA256"),
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization=AWS4-HMAC-SHA256",
    ),
    "algorithm only and no date": (
        with_auth("AWS4-HMAC-SHA256 ", x_amz_date=None),
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of an 'X-Amz-Date' header "
        "(the 'Date' header is not supported). Authorization=AWS4-HMAC-SHA256 ",
    ),
    "no x-amz-date": (
        with_auth(KMS_AUTH, x_amz_date=None),
        "Authorization header requires existence of an 'X-Amz-Date' header "
        f"(the 'Date' header is not supported). Authorization=AWS4-HMAC-SHA256 Credential={CRED}",
    ),
    "date header instead of x-amz-date": (
        with_auth(KMS_AUTH, x_amz_date=None, date="Sun, 30 Aug 2015 12:36:00 GMT"),
        "Authorization header requires existence of an 'X-Amz-Date' header",
    ),
    "space after credential equals": (
        with_auth(f"AWS4-HMAC-SHA256 Credential= {CRED}, SignedHeaders={SH}, Signature={SIG}"),
        f"'{CRED}' not a valid key=value pair (missing equal-sign) in Authorization header: "
        f"'AWS4-HMAC-SHA256 Credential= {CRED}, SignedHeaders={SH}, {REDACTED}'.",
    ),
    "signature without equals": (
        with_auth(f"AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders={SH}, Signature {SIG}"),
        "'Signature' not a valid key=value pair (missing equal-sign) in Authorization header: "
        f"'AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders={SH}, Signature <redacted>'.",
    ),
    "four credential parts": (
        with_auth(KMS_AUTH.replace(CRED, f"{AKID}/20150830/kms/aws4_request")),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        f"got '{AKID}/20150830/kms/aws4_request'",
    ),
    "six credential parts": (
        with_auth(KMS_AUTH.replace(CRED, f"{AKID}/20150830/us-east-1/kms/x/aws4_request")),
        "Credential must have exactly 5 slash-delimited elements",
    ),
    "bad terminator": (
        with_auth(KMS_AUTH.replace("aws4_request", "aws4_requests")),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requests'. ",
    ),
    "duplicate credential": (
        with_auth(KMS_AUTH + f", Credential={CRED}"),
        "Authorization header has more than one 'Credential' parameter. ",
    ),
    "extended iso date": (
        with_auth(KMS_AUTH, x_amz_date="2015-08-30T12:36:00Z"),
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    ),
    "month 13": (
        with_auth(KMS_AUTH, x_amz_date="20151330T123600Z"),
        "Date must be in ISO-8601 'basic format'",
    ),
    "no zulu": (with_auth(KMS_AUTH, x_amz_date="20150830T123600"), "Date must be in ISO-8601 'basic format'"),
    "non-ascii digits": (
        with_auth(KMS_AUTH, x_amz_date="\uff12\uff10\uff11\uff150830T123600Z"),  # fullwidth 2015
        "Date must be in ISO-8601 'basic format'",
    ),
    "uppercase signed header": (
        with_auth(KMS_AUTH.replace("content-type;", "Content-Type;")),
        "SignedHeaders must be lowercase header names, sorted, unique and separated by ';', got "
        "'Content-Type;host;x-amz-date;x-amz-target'.",
    ),
    "unsorted signed headers": (
        with_auth(KMS_AUTH.replace(SH, "host;content-type;x-amz-date;x-amz-target")),
        "SignedHeaders must be lowercase header names, sorted, unique",
    ),
    "duplicate signed header": (
        with_auth(KMS_AUTH.replace(SH, "content-type;host;host;x-amz-date;x-amz-target")),
        "SignedHeaders must be lowercase header names, sorted, unique",
    ),
    "empty signed header": (
        with_auth(KMS_AUTH.replace(SH, "content-type;;host;x-amz-date;x-amz-target")),
        "SignedHeaders must be lowercase header names, sorted, unique",
    ),
}


@pytest.mark.parametrize(("headers", "message"), INCOMPLETE_CASES.values(), ids=INCOMPLETE_CASES.keys())
def test_incomplete_signature(headers: dict[str, str], message: str) -> None:
    with pytest.raises(IncompleteSignatureException) as caught:
        parse_authorization(headers, NOW)
    assert caught.value.message.startswith(message)
    assert SIG not in caught.value.message
    assert len(caught.value.message) < 1200


def test_echoed_header_is_clipped_and_printable() -> None:
    auth = "AWS4-HMAC-SHA256 " + "\x00" * 5000
    with pytest.raises(IncompleteSignatureException) as caught:
        parse_authorization(with_auth(auth), NOW)
    assert caught.value.message.endswith("...'.")
    assert caught.value.message.isprintable()
    assert len(caught.value.message) < 600


INVALID_CASES: dict[str, tuple[dict[str, str], str]] = {
    "wrong service": (
        with_auth(KMS_AUTH.replace("/kms/", "/s3/")),
        "Credential should be scoped to correct service: 'kms'. ",
    ),
    "uppercase region": (
        with_auth(KMS_AUTH.replace("/us-east-1/", "/US-EAST-1/")),
        "Credential should be scoped to a valid region. ",
    ),
    "underscore region": (
        with_auth(KMS_AUTH.replace("/us-east-1/", "/us_east_1/")),
        "Credential should be scoped to a valid region. ",
    ),
    "empty region": (
        with_auth(KMS_AUTH.replace("/us-east-1/", "//")),
        "Credential should be scoped to a valid region. ",
    ),
    "huge region": (
        with_auth(KMS_AUTH.replace("/us-east-1/", "/" + "a" * 65 + "/")),
        "Credential should be scoped to a valid region. ",
    ),
    "scope date differs": (
        with_auth(KMS_AUTH.replace("/20150830/", "/20150831/")),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20150831' != '20150830', from '20150830T123600Z'.",
    ),
    "host unsigned": (
        with_auth(KMS_AUTH.replace(SH, "content-type;x-amz-date;x-amz-target")),
        "The 'host' header must be signed: add it to SignedHeaders.",
    ),
    "x-amz-date unsigned": (
        with_auth(KMS_AUTH.replace(SH, "content-type;host;x-amz-target")),
        "The 'x-amz-date' header must be signed: add it to SignedHeaders.",
    ),
    "x-amz-target unsigned": (
        with_auth(KMS_AUTH.replace(SH, "content-type;host;x-amz-date")),
        "The 'x-amz-target' header must be signed: add it to SignedHeaders.",
    ),
    "session token unsigned": (
        with_auth(KMS_AUTH, x_amz_security_token=TOKEN),
        "The 'x-amz-security-token' header must be signed: add it to SignedHeaders.",
    ),
    "uppercase hex signature": (
        with_auth(KMS_AUTH.replace(SIG, SIG.upper())),
        InvalidSignatureException.mismatch().message,
    ),
    "short signature": (
        with_auth(KMS_AUTH.replace(SIG, SIG[:-2])),
        InvalidSignatureException.mismatch().message,
    ),
}


@pytest.mark.parametrize(("headers", "message"), INVALID_CASES.values(), ids=INVALID_CASES.keys())
def test_invalid_signature_before_any_secret(headers: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidSignatureException) as caught:
        parse_authorization(headers, NOW)
    assert caught.value.message == message


def test_expected_service_is_a_parameter() -> None:
    headers = with_auth(KMS_AUTH.replace("/kms/", "/service/"))
    assert parse_authorization(headers, NOW, expected_service="service").service == "service"
    with pytest.raises(
        InvalidSignatureException, match=re.escape("Credential should be scoped to correct service: 'kms'. ") + "$"
    ):
        parse_authorization(headers, NOW)


@pytest.mark.parametrize("region", ["eu-central-1", "local", "mars-north-9", "us-gov-west-1"])
def test_every_region_looking_name_is_served(region: str) -> None:
    parsed = parse_authorization(with_auth(KMS_AUTH.replace("/us-east-1/", f"/{region}/")), NOW)
    assert parsed.region == region


@pytest.mark.parametrize(
    "auth",
    [
        KMS_AUTH.replace(", ", ","),
        KMS_AUTH.replace(", ", " "),
        "  " + KMS_AUTH + ", ",
        KMS_AUTH + ", Foo=bar",
        f"AWS4-HMAC-SHA256 Signature={SIG}, SignedHeaders={SH}, Credential={CRED}",
    ],
    ids=["no spaces", "spaces only", "padded", "unknown parameter", "reordered"],
)
def test_equivalent_header_spellings_parse_alike(auth: str) -> None:
    assert parse_authorization(with_auth(auth), NOW) == parse_authorization(KMS_HEADERS, NOW)


def test_session_token_is_returned_when_signed() -> None:
    auth = KMS_AUTH.replace("x-amz-date;x-amz-target", "x-amz-date;x-amz-security-token;x-amz-target")
    parsed = parse_authorization(with_auth(auth, x_amz_security_token=TOKEN), NOW)
    assert parsed.session_token == TOKEN
    assert parse_authorization(KMS_HEADERS, NOW).session_token is None


def test_signed_header_absent_from_request_is_rejected() -> None:
    parsed = parse_authorization(KMS_HEADERS, NOW)
    headers = {k: v for k, v in KMS_HEADERS.items() if k != "content-type"}
    with pytest.raises(
        InvalidSignatureException, match=re.escape("The signed header 'content-type' is not in the request.")
    ):
        verify_signature(parsed, SECRET, "POST", "/", "", headers, b"{}")


@pytest.mark.parametrize(("path", "query"), [("/\ud800", ""), ("/", "a=\udfff\ud800")])
def test_unencodable_path_or_query_is_a_mismatch_not_a_crash(path: str, query: str) -> None:
    parsed = parse_authorization(KMS_HEADERS, NOW)
    with pytest.raises(InvalidSignatureException):
        verify_signature(parsed, SECRET, "POST", path, query, KMS_HEADERS, b"{}")


# ----------------------------------------------------------------- internals against references


@given(
    secret=st.text(max_size=40),
    date=st.text(alphabet="0123456789", min_size=8, max_size=8),
    region=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    to_sign=st.text(max_size=200),
)
def test_calculate_signature_is_the_hmac_chain(secret: str, date: str, region: str, to_sign: str) -> None:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "kms", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert signing_key(secret, date, region, "kms") == key
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert calculate_signature(secret, date, region, "kms", to_sign) == expected


@given(segments=st.lists(_segment, max_size=6), trail=st.booleans())
def test_path_normalisation_matches_botocore(segments: list[str], trail: bool) -> None:
    # A request target's path always starts with '/'.
    path = "/" + "/".join(segments) + ("/" if trail else "")
    signer = SigV4Auth(Credentials(AKID, SECRET), "kms", "us-east-1")
    reference = signer._normalize_url_path(path)  # botocore's own rule is the reference
    ours = canonical_request("GET", path, "", {}, signed_headers=(), payload_hash="")
    assert ours.split("\n")[1] == reference


# ----------------------------------------------------------------- fuzzing: nothing else escapes

ALLOWED = (IncompleteSignatureException, InvalidSignatureException, MissingAuthenticationTokenException)

_fragment = st.sampled_from(
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        " ",
        ",",
        ", ",
        "=",
        "/",
        ";",
        "\t",
        "\x00",
        "é",
        "Credential=",
        "SignedHeaders=",
        "Signature=",
        "aws4_request",
        "kms",
        "us-east-1",
        "20150830",
        "host",
        "x-amz-date",
        SIG,
    ]
)
_text_piece = st.text(max_size=8)


def _mix(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), _text_piece)


# A credential that is mostly right, or has too few or too many parts.
_credential = st.one_of(
    st.builds(
        "/".join,
        st.tuples(
            _mix(AKID, ""),
            _mix("20150830", "20150831"),
            _mix("us-east-1", "eu-west-1", "US"),
            _mix("kms"),
            _mix("aws4_request"),
        ),
    ),
    st.lists(_mix(AKID, "20150830", "us-east-1", "kms", "aws4_request", ""), min_size=1, max_size=8).map("/".join),
)
_structured_auth = st.builds(
    lambda alg, credential, sh, sig, sep: f"{alg} Credential={credential}{sep}SignedHeaders={sh}{sep}Signature={sig}",
    _mix("AWS4-HMAC-SHA256"),
    _credential,
    _mix(SH, "host;x-amz-date", "content-type;host;x-amz-date;x-amz-security-token;x-amz-target", "Host"),
    _mix(SIG, SIG.upper(), ""),
    st.sampled_from([", ", ",", " ", " ,\t"]),
)
_auth = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_fragment, _text_piece), max_size=30).map("".join),
    _structured_auth,
)


@settings(max_examples=600)
@given(
    auth=_auth,
    amz_date=st.one_of(
        st.none(),
        st.sampled_from([SIGNED_AT, "20150830T124200Z"]),
        st.from_regex(r"20150830T[0-9]{6}Z|[0-9]{8}T[0-9]{6}Z", fullmatch=True),  # right shape, any value
        st.text(max_size=20),
    ),
    extra=st.dictionaries(
        st.sampled_from(["x-amz-target", "x-amz-security-token", "host", "content-type", "x-amz-content-sha256"]),
        st.text(max_size=20),
    ),
    path=st.text(max_size=20),
    query=st.text(max_size=20),
    body=st.binary(max_size=32),
)
@example(
    auth=KMS_AUTH, amz_date=SIGNED_AT, extra=dict(KMS_HEADERS), path="/", query="", body=b""
)  # reaches verify_signature
def test_garbage_authorization_raises_only_trent_errors(
    *, auth: str, amz_date: str | None, extra: dict[str, str], path: str, query: str, body: bytes
) -> None:
    headers = {**extra, "authorization": auth}
    if amz_date is not None:
        headers["x-amz-date"] = amz_date
    try:
        parsed = parse_authorization(headers, NOW)
    except ALLOWED:
        return
    # Anything that parses must also go through verification with only a signature error.
    with pytest.raises(InvalidSignatureException):
        verify_signature(parsed, SECRET, "POST", path, query, headers, body)


@given(auth=_structured_auth)
def test_fast_path_and_tokenizer_agree(auth: str) -> None:
    common = sigv4._COMMON_SHAPE.fullmatch(auth)  # the hot-path shortcut under test
    if common is not None:
        assert common.groupdict() == sigv4._tokenize(auth)


# ----------------------------------------------------------------- the cached fast path


def _outcome(parse: Any, headers: dict[str, str], now: datetime, service: str) -> object:
    """What a parser returns, or the type and message of what it raises."""
    try:
        return parse(headers, now, service)
    except Exception as error:  # noqa: BLE001 - any difference counts, crashes included
        return type(error), str(error)


_utc_now = st.one_of(
    st.sampled_from([NOW + timedelta(seconds=s, microseconds=us) for s in (-301, -300, 0, 300) for us in (0, 1)]),
    st.sampled_from([NOW.replace(tzinfo=None), NOW.astimezone(timezone(timedelta(hours=2)))]),  # not UTC
    st.datetimes(timezones=st.just(UTC)),
)


@settings(max_examples=600)
@given(
    auth=st.one_of(_structured_auth, _auth, st.just(KMS_AUTH)),
    amz_date=st.one_of(
        st.none(),
        st.sampled_from([SIGNED_AT, "20150830T124200Z", "00010101T000100Z", "99991231T235900Z"]),
        st.from_regex(r"20150830T[0-9]{6}Z|[0-9]{8}T[0-9]{6}Z", fullmatch=True),
    ),
    extra=st.dictionaries(
        st.sampled_from(["x-amz-target", "x-amz-security-token", "host", "content-type"]),
        st.sampled_from(["", TOKEN, "TrentService.Encrypt"]),
    ),
    now=_utc_now,
    service=st.sampled_from(["kms", "s3"]),
)
@example(auth=KMS_AUTH, amz_date=SIGNED_AT, extra={}, now=NOW, service="kms")  # takes the fast path
def test_fast_path_returns_only_what_the_general_parser_returns(
    *, auth: str, amz_date: str | None, extra: dict[str, str], now: datetime, service: str
) -> None:
    _assert_fast_path_agrees(auth, amz_date, extra, now, service)


# Right but for at most one part, so that the fast path is taken often and each check is hit alone.
_VALID_PARTS = {
    "alg": "AWS4-HMAC-SHA256",
    "akid": AKID,
    "date": "20150830",
    "region": "us-east-1",
    "service": "kms",
    "term": "aws4_request",
    "sh": SH,
    "sig": SIG,
    "sep1": ", ",
    "sep2": ", ",
}
_OTHER_PARTS = {
    "alg": ["AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512", "aws4-hmac-sha256"],
    "akid": ["", "a=b", "Signature=x", "é"],
    "date": ["20150831", "2015083"],
    "region": ["US", "eu-west-1", "x" * 65, ""],
    "service": ["s3", "KMS"],
    "term": ["aws4_request/x", "aws4_requesT"],
    "sh": ["content-type;host;x-amz-date;x-amz-security-token;x-amz-target", "host;x-amz-date", "host", "x;host"],
    "sig": [SIG.upper(), SIG[:-1], SIG + "0", f"{SIG}, Signature={SIG}", f"x, Signature={SIG}", "Signature=" + SIG],
    "sep1": [",", " ", "\t,", ""],
    "sep2": [",", " ", "\u3000", ""],
}
_NEAR_VALID_FORMAT = (
    "{alg} Credential={akid}/{date}/{region}/{service}/{term}{sep1}SignedHeaders={sh}{sep2}Signature={sig}"
)


_NO_CHANGE: dict[str, str] = {}


def _one_change(part: str) -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(_OTHER_PARTS[part]).map(lambda value: {part: value})


_near_valid_auth = st.one_of(st.just(_NO_CHANGE), st.sampled_from(sorted(_OTHER_PARTS)).flatmap(_one_change)).map(
    lambda change: _NEAR_VALID_FORMAT.format_map({**_VALID_PARTS, **change})
)


@settings(max_examples=600)
@given(
    auth=_near_valid_auth,
    amz_date=st.sampled_from([SIGNED_AT, "20150830T123000Z", "20150831T000000Z", "2015083OT123600Z"]),
    extra=st.dictionaries(st.sampled_from(["x-amz-security-token", "x-amz-target"]), st.just(TOKEN), max_size=1),
    now=st.sampled_from([NOW + timedelta(seconds=s, microseconds=us) for s in (-301, -300, 0, 300) for us in (0, 1)]),
    service=st.sampled_from(["kms", "kms", "s3"]),
)
def test_fast_path_agrees_on_nearly_valid_headers(
    *, auth: str, amz_date: str, extra: dict[str, str], now: datetime, service: str
) -> None:
    _assert_fast_path_agrees(auth, amz_date, extra, now, service)


def _assert_fast_path_agrees(
    auth: str, amz_date: str | None, extra: dict[str, str], now: datetime, service: str
) -> None:
    headers = {**extra, "authorization": auth}
    if amz_date is not None:
        headers["x-amz-date"] = amz_date
    general = _outcome(sigv4._parse_general, headers, now, service)
    fast = sigv4._parse_common(headers, now, service)
    if fast is not None:
        assert fast == general
    assert _outcome(parse_authorization, headers, now, service) == general


@pytest.mark.parametrize("token", [None, TOKEN])
def test_botocore_signed_request_takes_the_fast_path(token: str | None) -> None:
    req = botocore_request(token=token)
    fast = sigv4._parse_common(req.headers, signed_at(req), "kms")
    assert fast is not None
    assert fast == sigv4._parse_general(req.headers, signed_at(req), "kms")
    assert fast.session_token == token


@pytest.mark.parametrize(
    ("offset", "fast"),
    [
        (timedelta(seconds=-300), True),
        (timedelta(seconds=300), True),
        (timedelta(seconds=-300, microseconds=-1), False),
        (timedelta(seconds=300, microseconds=1), False),
    ],
)
def test_fast_path_skew_bounds_are_exact(offset: timedelta, fast: bool) -> None:
    assert (sigv4._parse_common(KMS_HEADERS, NOW + offset, "kms") is not None) is fast


def test_fast_path_leaves_edge_years_and_other_clocks_to_the_general_parser() -> None:
    # Years 1 and 9999: now +/- 5 minutes may overflow there, as the general parser does.
    assert sigv4._skew_window("00010101T000700Z") is None
    assert sigv4._skew_window("99991231T235300Z") is None
    assert sigv4._skew_window(SIGNED_AT) is not None
    assert sigv4._parse_common(KMS_HEADERS, NOW.replace(tzinfo=None), "kms") is None
    assert sigv4._parse_common(KMS_HEADERS, NOW.astimezone(timezone(timedelta(hours=2))), "kms") is None


def test_fast_path_defers_an_unsigned_session_token() -> None:
    headers = {**KMS_HEADERS, "x-amz-security-token": TOKEN}
    assert sigv4._parse_common(headers, NOW, "kms") is None
    with pytest.raises(InvalidSignatureException, match="'x-amz-security-token' header must be signed"):
        parse_authorization(headers, NOW)


@pytest.mark.parametrize("signature", ["é" * 64, "\ud800" * 64, "0" * 63 + "é"])
def test_non_ascii_signature_is_a_mismatch_not_a_crash(signature: str) -> None:
    req = botocore_request()
    parsed = dataclasses.replace(parse_authorization(req.headers, signed_at(req)), signature=signature)
    with pytest.raises(InvalidSignatureException) as caught:
        verify_signature(parsed, SECRET, req.method, req.path, req.query, req.headers, req.body)
    assert caught.value.message == InvalidSignatureException.mismatch().message


def test_cached_signer_is_copied_not_consumed() -> None:
    first = calculate_signature(SECRET, "20150830", "us-east-1", "kms", "one")
    calculate_signature(SECRET, "20150830", "us-east-1", "kms", "two")
    assert calculate_signature(SECRET, "20150830", "us-east-1", "kms", "one") == first
