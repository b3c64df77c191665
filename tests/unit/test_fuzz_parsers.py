"""Fuzzing the parsers that read untrusted input (issue 15): only Trent's AWS-shaped errors escape.

Four parsers see bytes an attacker chooses before anything else has checked them: the wire codec,
the SigV4 parser and verifier, the policy parser and the ciphertext parser (plus the query
protocol's form decoder, which feeds the codec). Each property says which errors may come out;
anything else (a KeyError, a RecursionError, a UnicodeError, ...) would be a 500 on the wire.

Example counts suit CI. ``HYPOTHESIS_PROFILE=long`` multiplies them by 50 for a soak run (about
7 minutes on one core); see docs/operations.md, "Fuzzing".
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    HOSTILE_TOKENS,
    MODEL,
    Raw,
    broken_policies,
    json_type_mismatch,
    operation_members,
    render,
    set_path,
    valid_policy,
    wrong_values,
)
from trent.api import sigv4
from trent.api.codec import ServiceCodec
from trent.api.model import Shape, load_model
from trent.api.query import QueryHandler, decode_form
from trent.domain import ciphertext
from trent.domain.errors import (
    IncompleteSignatureException,
    InvalidCiphertextException,
    InvalidSignatureException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    MissingAuthenticationTokenException,
    SerializationException,
    TrentError,
    ValidationException,
)
from trent.domain.iam_errors import InvalidAction, MalformedQueryString, ValidationError
from trent.domain.policy import KEY_POLICY_MAX_BYTES, CompiledPolicy, Decision, Principal, RequestContext

# ----------------------------------------------------------------- profiles

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_SCALE = 50 if _PROFILE == "long" else 1
settings.register_profile(
    "trent-fuzz",
    deadline=None,
    # The strategies build whole requests; generation time is the point, not a smell.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
_BASE = settings.get_profile("trent-fuzz")
# The long profile runs the slowest property for a few minutes; the CI one stays under the default.
pytestmark = pytest.mark.timeout(120 if _SCALE == 1 else 3600)


def fuzz(examples: int) -> settings:
    """``examples`` in CI, fifty times as many with HYPOTHESIS_PROFILE=long."""
    return settings(_BASE, max_examples=examples * _SCALE)


def _encodable(error: TrentError) -> None:
    """Every message goes into a JSON or XML body and an audit record: it must be valid UTF-8."""
    assert isinstance(error.message, str)
    error.message.encode("utf-8")


# ----------------------------------------------------------------- the wire codec

KMS = ServiceCodec("kms")
CLOUDTRAIL = ServiceCodec("cloudtrail")
CODEC_ERRORS = (SerializationException, ValidationException)
_OPERATIONS = [("kms", name) for name in KMS.operation_names] + [
    ("cloudtrail", name) for name in CLOUDTRAIL.operation_names
]


def _codec(service: str, name: str) -> Any:
    codec = (KMS if service == "kms" else CLOUDTRAIL).operation(name)
    assert codec is not None
    return codec


def _decode(service: str, name: str, body: bytes) -> dict[str, Any] | None:
    """The decoded request, or None when the codec refused it with one of its two errors."""
    try:
        result = _codec(service, name).decode(body)
    except CODEC_ERRORS as error:
        _encodable(error)
        return None
    assert isinstance(result, dict)
    return result


@fuzz(300)
@given(operation=st.sampled_from(_OPERATIONS), body=st.binary(max_size=2048))
def test_codec_refuses_arbitrary_bytes_with_protocol_errors_only(operation: tuple[str, str], body: bytes) -> None:
    _decode(*operation, body)


# Fixed, model-derived plausible values: one per member type.
_PLAUSIBLE: dict[str, Any] = {
    "string": "alias/fuzz",
    "blob": base64.b64encode(b"fuzz").decode(),
    "integer": 1,
    "long": 1,
    "double": 1.0,
    "float": 1.0,
    "boolean": True,
    "timestamp": 1_700_000_000,
    "list": [],
    "map": {},
    "structure": {},
}


def _plausible(shape: Shape) -> Any:
    if shape.type_name == "string" and shape.enum:
        return shape.enum[0]
    return _PLAUSIBLE.get(shape.type_name)


def _base_request(name: str) -> dict[str, Any]:
    shape = MODEL.input_shape(name)
    if shape is None:
        return {}
    members = shape.members()
    return {name: _plausible(member) for name, member in members.items() if name in shape.required}


_KMS_MEMBERS = [(name, path, shape) for name in KMS.operation_names for path, shape in operation_members(name)]
_hostile = st.sampled_from(HOSTILE_TOKENS).map(Raw)


@fuzz(400)
@given(
    case=st.sampled_from(_KMS_MEMBERS),
    choice=st.data(),
    rng=st.randoms(use_true_random=False),
)
def test_codec_refuses_wrong_values_at_every_member(
    case: tuple[str, tuple[str | int, ...], Shape], choice: st.DataObject, rng: random.Random
) -> None:
    name, path, shape = case
    value = choice.draw(st.one_of(st.sampled_from(wrong_values(shape)), _hostile), label="value")
    request = set_path(_base_request(name), path, value)
    body = render(request, rng).encode()
    result = _decode("kms", name, body)
    if len(path) == 1 and json_type_mismatch(shape, value):
        assert result is None, (name, path, value)


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | _hostile
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)


@fuzz(300)
@given(
    operation=st.sampled_from(_OPERATIONS),
    extra=st.dictionaries(st.text(max_size=12), _json_values, max_size=4),
    member_values=st.data(),
    rng=st.randoms(use_true_random=False),
)
def test_codec_refuses_arbitrary_json_shapes_per_operation(
    operation: tuple[str, str], extra: dict[str, Any], member_values: st.DataObject, rng: random.Random
) -> None:
    service, name = operation
    model = (KMS if service == "kms" else CLOUDTRAIL).model
    shape = model.input_shape(name)
    names = list(shape.members()) if shape is not None else []
    chosen = member_values.draw(st.lists(st.sampled_from(names), max_size=4, unique=True) if names else st.just([]))
    request: dict[str, Any] = {**extra}
    for member in chosen:
        request[member] = member_values.draw(_json_values, label=member)
    _decode(service, name, render(request, rng).encode())


_mutations = st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "bom", "utf16", "wrap", "nul"])


@fuzz(300)
@given(
    name=st.sampled_from(KMS.operation_names),
    mutation=_mutations,
    position=st.integers(min_value=0, max_value=10_000),
    junk=st.binary(min_size=1, max_size=8),
)
def test_codec_refuses_mutated_request_bodies(name: str, mutation: str, position: int, junk: bytes) -> None:
    body = render(_base_request(name) or {"Limit": 5}).encode()
    at = position % (len(body) + 1)
    if mutation == "truncate":
        body = body[:at]
    elif mutation == "flip":
        body = body[:at] + bytes([body[at % len(body)] ^ (1 << (position % 8))]) + body[at + 1 :]
    elif mutation == "insert":
        body = body[:at] + junk + body[at:]
    elif mutation == "delete":
        body = body[:at] + body[at + len(junk) :]
    elif mutation == "duplicate":
        body = body[:-1] + b"," + body[1:]  # every member twice: last one wins, or a refusal
    elif mutation == "bom":
        body = b"\xef\xbb\xbf" + body
    elif mutation == "utf16":
        body = body.decode().encode("utf-16")
    elif mutation == "wrap":
        body = b"[" + body + b"]"
    else:
        body = body[:at] + b"\x00" + body[at:]
    _decode("kms", name, body)


# ----------------------------------------------------------------- SigV4

SIGV4_ERRORS = (IncompleteSignatureException, InvalidSignatureException, MissingAuthenticationTokenException)
_NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

# What the app hands the parser: names lowercased, values decoded as latin-1 (any byte 0-255),
# repeated headers joined with ','.
_latin1 = st.binary(max_size=120).map(lambda raw: raw.decode("latin-1"))
_header_names = st.sampled_from(
    [
        "authorization",
        "x-amz-date",
        "x-amz-target",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "host",
        "content-type",
        "date",
    ]
) | st.text(string.ascii_lowercase + "-", min_size=1, max_size=12)
_header_values = st.one_of(_latin1, st.text(max_size=80))


def _amz_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


@fuzz(400)
@given(
    headers=st.dictionaries(_header_names, _header_values, max_size=8),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    service=st.sampled_from(["kms", "sts", "iam", "cloudtrail", "s3", ""]),
    body=st.binary(max_size=64),
    path=_latin1,
    query=_latin1,
)
def test_sigv4_refuses_arbitrary_headers_with_aws_errors_only(
    headers: dict[str, str], now: datetime, service: str, body: bytes, path: str, query: str
) -> None:
    try:
        parsed = sigv4.parse_authorization(headers, now, service)
    except SIGV4_ERRORS as error:
        _encodable(error)
        return
    try:
        sigv4.verify_signature(parsed, "secret", "POST", path or "/", query, headers, body)
    except SIGV4_ERRORS as error:
        _encodable(error)


_AKID = "AKIDEXAMPLE"
_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _signed(body: bytes, target: str, token: str | None) -> dict[str, str]:
    """A request as botocore signs it now, headers as the app sees them."""
    request = AWSRequest(
        method="POST",
        url="https://kms.us-east-1.amazonaws.com/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(_AKID, _SECRET, token), "kms", "us-east-1").add_auth(request)
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    headers["host"] = "kms.us-east-1.amazonaws.com"
    return headers


_header_edit = st.sampled_from(
    ["drop", "replace", "append", "prefix", "case", "space", "duplicate", "truncate", "char"]
)


@fuzz(400)
@given(
    body=st.binary(max_size=64),
    token=st.none() | st.text(string.ascii_letters, min_size=1, max_size=20),
    name=st.sampled_from(
        ["authorization", "x-amz-date", "x-amz-target", "x-amz-security-token", "host", "content-type"]
    ),
    edit=_header_edit,
    junk=_header_values,
    position=st.integers(min_value=0, max_value=500),
    body_edit=st.booleans(),
    skew=st.integers(min_value=-400, max_value=400),
)
def test_sigv4_signed_then_tampered_requests_fail_with_aws_errors_only(
    body: bytes,
    token: str | None,
    name: str,
    edit: str,
    junk: str,
    position: int,
    body_edit: bool,
    skew: int,
) -> None:
    headers = _signed(body, "TrentService.Encrypt", token)
    now = datetime.now(UTC) + timedelta(seconds=skew)
    original = headers.get(name)
    if edit == "drop":
        headers.pop(name, None)
    elif edit == "replace":
        headers[name] = junk
    elif edit == "append":
        headers[name] = (original or "") + junk
    elif edit == "prefix":
        headers[name] = junk + (original or "")
    elif edit == "case" and original is not None:
        headers[name] = original.swapcase()
    elif edit == "space" and original is not None:
        headers[name] = f"  {original}  ".replace(" ", "  ")
    elif edit == "duplicate" and original is not None:
        headers[name] = f"{original},{original}"
    elif edit == "truncate" and original is not None:
        headers[name] = original[: position % (len(original) + 1)]
    elif edit == "char" and original:
        at = position % len(original)
        headers[name] = original[:at] + chr((ord(original[at]) + 1) % 256) + original[at + 1 :]
    sent = body + b"x" if body_edit else body
    try:
        parsed = sigv4.parse_authorization(headers, now)
        sigv4.verify_signature(parsed, _SECRET, "POST", "/", "", headers, sent)
    except SIGV4_ERRORS as error:
        _encodable(error)
        return
    # Still accepted: then nothing that the signature covers changed in substance.
    assert not body_edit
    assert abs(skew) <= 300


# ----------------------------------------------------------------- policies

POLICY_ERRORS = (MalformedPolicyDocumentException, LimitExceededException)
_KINDS = st.sampled_from(["key", "identity", "trust"])
_ACCT = "111122223333"
_PRINCIPALS = [
    Principal(f"arn:aws:iam::{_ACCT}:root", _ACCT, is_root=True),
    Principal(f"arn:aws:iam::{_ACCT}:user/alice", _ACCT),
    Principal(f"arn:aws:sts::{_ACCT}:assumed-role/App/s1", _ACCT, role_arn=f"arn:aws:iam::{_ACCT}:role/App"),
]
_CONDITION_KEYS = st.dictionaries(
    st.sampled_from(
        ["aws:sourceip", "aws:currenttime", "kms:encryptioncontext:a", "kms:viaservice", "aws:username", "x:y"]
    ),
    st.text(max_size=10) | st.lists(st.text(max_size=6), max_size=3),
    max_size=4,
)


def _parse_policy(text: str, kind: str, exists: bool | None = None) -> CompiledPolicy | None:
    try:
        policy = CompiledPolicy.parse(
            text,
            kind=kind,  # type: ignore[arg-type]
            principal_exists=None if exists is None else (lambda _arn: exists),
        )
    except POLICY_ERRORS as error:
        _encodable(error)
        if isinstance(error, LimitExceededException):
            assert kind == "key"
            assert len(text.encode()) > KEY_POLICY_MAX_BYTES
        return None
    return policy


def _evaluate_everywhere(policy: CompiledPolicy, keys: dict[str, Any]) -> None:
    """A policy that parsed evaluates without raising, for any caller and any condition keys."""
    for principal in _PRINCIPALS:
        for action in ("kms:Encrypt", "kms:PutKeyPolicy", "sts:AssumeRole"):
            ctx = RequestContext(principal, action, f"arn:aws:kms:us-east-1:{_ACCT}:key/k", keys)
            if policy.kind == "identity":
                assert isinstance(policy.evaluate_identity(ctx), Decision)
            else:
                assert isinstance(policy.evaluate_key_policy(ctx).decision, Decision)


@fuzz(300)
@given(text=st.text(max_size=400), kind=_KINDS)
def test_policy_parser_refuses_arbitrary_text(text: str, kind: str) -> None:
    _parse_policy(text, kind)


@fuzz(300)
@given(value=_json_values, kind=_KINDS, rng=st.randoms(use_true_random=False))
def test_policy_parser_refuses_arbitrary_json(value: Any, kind: str, rng: random.Random) -> None:
    # Raw tokens and lone-surrogate escapes go in too; none of them may crash the parser.
    _parse_policy(render(value, rng), kind)


_OPERATOR_NAMES = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
    "Nope",
]
_operator = st.builds(
    lambda q, op, ie, case: (q + op + ie).swapcase() if case else q + op + ie,
    st.sampled_from(["", "ForAnyValue:", "ForAllValues:", "ForSomeValues:"]),
    st.sampled_from(_OPERATOR_NAMES),
    st.sampled_from(["", "IfExists"]),
    st.booleans(),
)
_condition_value = st.one_of(
    st.sampled_from(
        [
            "true",
            "false",
            "10",
            "1e3",
            "NaN",
            "-Infinity",
            "2024-01-01T00:00:00Z",
            "1700000000",
            "10.0.0.0/8",
            "::1",
            "::ffff:10.0.0.1/128",
            "999.0.0.1",
            "aGVsbG8=",
            "not base64",
            "arn:aws:kms:*:*:key/*",
            "*",
            "${aws:username}",
            "${kms:EncryptionContext:a, 'dflt'}",
            "${*}${?}${$}",
            "${",
            "${}",
            "${ , ''}",
        ]
    ),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
_condition = st.dictionaries(
    _operator,
    st.dictionaries(
        st.sampled_from(
            [
                "aws:SourceIp",
                "kms:EncryptionContext:a",
                "kms:EncryptionContextKeys",
                "aws:CurrentTime",
                "aws:username",
                "NoColon",
                "kms:ViaService",
                ":",
            ]
        )
        | st.text(max_size=10),
        _condition_value | st.lists(_condition_value, max_size=3),
        max_size=3,
    )
    | _condition_value,
    max_size=3,
)
_principal = st.one_of(
    st.just("*"),
    st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Other"]),
        st.one_of(
            st.sampled_from(
                [
                    "*",
                    _ACCT,
                    f"arn:aws:iam::{_ACCT}:root",
                    f"arn:aws:iam::{_ACCT}:user/alice",
                    f"arn:aws:iam::{_ACCT}:role/a/b/App",
                    f"arn:aws:sts::{_ACCT}:assumed-role/App/s",
                    "ec2.amazonaws.com",
                    "cognito-identity.amazonaws.com",
                    "a" * 64,
                    "arn:aws:iam::*:root",
                    "",
                ]
            ),
            st.text(max_size=10),
        )
        | st.lists(st.text(max_size=10), max_size=3),
        max_size=3,
    ),
    _condition_value,
)
_strings_or_list = (
    st.sampled_from(
        [
            "*",
            "kms:*",
            "kms:Encrypt",
            "kms:Re*",
            "sts:AssumeRole",
            "kms",
            "arn:aws:kms:*:*:key/*",
            f"arn:aws:kms:us-east-1:{_ACCT}:key/${{aws:username}}",
            "key/*",
            "",
        ]
    )
    | st.lists(st.text(max_size=10) | st.sampled_from(["kms:*", "*"]), max_size=3)
    | _condition_value
)
_statement = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=8) | st.integers(),
        "Effect": st.sampled_from(["Allow", "Deny", "allow", ""]) | _condition_value,
        "Principal": _principal,
        "NotPrincipal": _principal,
        "Action": _strings_or_list,
        "NotAction": _strings_or_list,
        "Resource": _strings_or_list,
        "NotResource": _strings_or_list,
        "Condition": _condition,
        "Unknown": st.just(1),
    },
)
_document = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2020-01-01", ""]) | _condition_value,
        "Id": st.text(max_size=8) | st.integers(),
        "Statement": st.lists(_statement, max_size=4) | _statement | _condition_value,
        "Other": st.just(True),
    },
)


@fuzz(500)
@given(
    document=_document,
    kind=_KINDS,
    exists=st.none() | st.booleans(),
    keys=_CONDITION_KEYS,
    rng=st.randoms(use_true_random=False),
)
def test_policy_parser_refuses_policy_shaped_documents(
    document: dict[str, Any], kind: str, exists: bool | None, keys: dict[str, Any], rng: random.Random
) -> None:
    policy = _parse_policy(render(document, rng), kind, exists)
    if policy is not None:
        _evaluate_everywhere(policy, keys)


@fuzz(100)
@given(kind=_KINDS, index=st.integers(min_value=0, max_value=10_000), seed=st.integers(0, 2**32))
def test_policy_parser_refuses_the_broken_policy_library(kind: str, index: int, seed: int) -> None:
    texts = broken_policies(random.Random(seed))
    policy = _parse_policy(texts[index % len(texts)], kind)
    if policy is not None:  # a few are broken only for some kinds (a principal in an identity policy)
        _evaluate_everywhere(policy, {})


def test_the_valid_policy_template_parses() -> None:
    assert _parse_policy(json.dumps(valid_policy()), "key") is not None


@pytest.mark.parametrize(
    "text",
    [
        '{"\\ud800": 1}',
        '{"Statement": [{"\\udc00": 1}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",'
        ' "Condition": {"StringEquals": {"\\ud800": "x"}}}]}',
    ],
)
def test_policy_error_messages_are_valid_utf8_for_lone_surrogate_escapes(text: str) -> None:
    # Found by the request corpus: the message quoted the raw surrogate, and the audit record of
    # the refusal could not be written (500 for the request and the others in its audit batch).
    with pytest.raises(MalformedPolicyDocumentException) as caught:
        CompiledPolicy.parse(text, kind="key")
    _encodable(caught.value)


# ----------------------------------------------------------------- ciphertexts

_MATERIAL = bytes(range(32))
_KEY_ID = str(uuid.UUID(int=0x1234))
_MATERIAL_ID = ciphertext.material_id_for(_KEY_ID, _MATERIAL)


def _says_nothing(error: InvalidCiphertextException) -> None:
    assert not error.message  # no hint of why the blob was refused


_contexts = st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)


@fuzz(500)
@given(
    blob=st.binary(max_size=300)
    | st.binary(min_size=ciphertext.OVERHEAD_BYTES, max_size=200).map(lambda b: b"\x01\x00" + b[2:])
    | st.binary(min_size=ciphertext.OVERHEAD_BYTES, max_size=200).map(lambda b: b"\x01\x01" + b[2:]),
    material=st.binary(min_size=32, max_size=32),
    context=_contexts,
)
def test_ciphertext_parser_refuses_arbitrary_bytes(blob: bytes, material: bytes, context: Any) -> None:
    try:
        parsed = ciphertext.parse(blob)
    except InvalidCiphertextException as error:
        _says_nothing(error)
        return
    with pytest.raises(InvalidCiphertextException) as caught:
        ciphertext.decrypt(parsed, material, context)
    assert not caught.value.message


@fuzz(400)
@given(
    plaintext=st.binary(min_size=1, max_size=64),
    context=_contexts,
    multi_region=st.booleans(),
    bit=st.integers(min_value=0),
    cut=st.integers(min_value=0),
    extra=st.binary(min_size=1, max_size=4),
)
def test_ciphertext_any_flip_cut_or_extension_is_refused(
    plaintext: bytes, context: Any, multi_region: bool, bit: int, cut: int, extra: bytes
) -> None:
    key_id = "mrk-" + uuid.UUID(int=0x1234).hex if multi_region else _KEY_ID
    blob = ciphertext.encrypt(key_id, _MATERIAL_ID, _MATERIAL, plaintext, context)
    index = bit % (len(blob) * 8)
    flipped = bytearray(blob)
    flipped[index // 8] ^= 1 << (index % 8)
    for tampered in (bytes(flipped), blob[: cut % len(blob)], blob + extra):
        try:
            parsed = ciphertext.parse(tampered)
        except InvalidCiphertextException:
            continue
        if (parsed.key_id, parsed.material_id) != (key_id, _MATERIAL_ID):
            continue  # the service finds no such key or material: InvalidCiphertextException too
        with pytest.raises(InvalidCiphertextException):
            ciphertext.decrypt(parsed, _MATERIAL, context)


@fuzz(200)
@given(plaintext=st.binary(max_size=32), made=_contexts, opened=_contexts)
def test_ciphertext_opens_only_with_the_same_context(plaintext: bytes, made: Any, opened: Any) -> None:
    blob = ciphertext.encrypt(_KEY_ID, _MATERIAL_ID, _MATERIAL, plaintext, made)
    parsed = ciphertext.parse(blob)
    if (made or {}) == (opened or {}):
        assert ciphertext.decrypt(parsed, _MATERIAL, opened) == plaintext
    else:
        with pytest.raises(InvalidCiphertextException):
            ciphertext.decrypt(parsed, _MATERIAL, opened)


# ----------------------------------------------------------------- the query protocol's form

QUERY = QueryHandler(iam=None)  # type: ignore[arg-type]  # decoding needs no IAM service
QUERY_ERRORS = (MalformedQueryString, ValidationError, ValidationException, SerializationException, InvalidAction)
_QUERY_OPERATIONS = [(service, name) for service in ("sts", "iam") for name in load_model(service).operation_names]
_form_names = st.sampled_from(
    [
        "UserName",
        "RoleName",
        "PolicyDocument",
        "AssumeRolePolicyDocument",
        "DurationSeconds",
        "Tags.member.1.Key",
        "Tags.member.1.Value",
        "Tags.member.x.Key",
        "PolicyArns.member.1.arn",
        "MaxItems",
        "Marker",
        "Path",
        "SerialNumber",
        "Tags.member",
        "Tags",
        "A." * 40,
    ]
) | st.text(max_size=12)


@fuzz(300)
@given(
    operation=st.sampled_from(_QUERY_OPERATIONS),
    fields=st.dictionaries(_form_names, st.text(max_size=30) | st.sampled_from(["", "1", "-1", "9" * 30, "true"])),
)
def test_query_decoder_refuses_arbitrary_fields_with_aws_errors_only(
    operation: tuple[str, str], fields: dict[str, str]
) -> None:
    service, name = operation
    try:
        QUERY.operation(service, name).decode(fields)
    except QUERY_ERRORS as error:
        _encodable(error)


@fuzz(300)
@given(body=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_query_form_decoder_refuses_arbitrary_bytes(body: bytes) -> None:
    try:
        fields = decode_form(body)
    except MalformedQueryString as error:
        _encodable(error)
        return
    for name, value in fields.items():
        (name + value).encode("utf-8")  # strict UTF-8 in, so never a surrogate out
