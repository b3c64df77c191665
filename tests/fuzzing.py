"""Shared by the fuzz tests (issue 15): the model's members, wrong values for each, hostile JSON text.

Nothing here talks to a server; ``tests/unit/test_fuzz_parsers.py`` and
``tests/e2e/test_fuzz_requests.py`` both build on it. Everything is driven by botocore's model, so a
member the model adds tomorrow is fuzzed tomorrow.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from trent.api.model import Shape, load_model

MODEL = load_model("kms")
CLOUDTRAIL_MODEL = load_model("cloudtrail")

# Codes the protocol layer answers with, beside the error shapes the service models list.
PROTOCOL_CODES = frozenset(
    {
        "UnknownOperationException",
        "SerializationException",
        "ValidationException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "AccessDeniedException",
        "ThrottlingException",
        "RequestEntityTooLargeException",
        "RequestTimeoutException",
        "NotAuthorizedException",
    }
)
# Every __type a JSON error body may carry. KMSInternalException is in the KMS model, yet it is a
# server fault: the fuzz tests treat it (and any 5xx) as a Trent bug.
KNOWN_JSON_CODES = (
    frozenset(MODEL.error_shape_names) | frozenset(CLOUDTRAIL_MODEL.error_shape_names) | PROTOCOL_CODES
) - {"KMSInternalException"}

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Raw:
    """JSON text spliced in as it is: tokens no encoder writes (NaN, 1e999, '\\ud800', ...)."""

    text: str


# Tokens and fragments a strict JSON reader must refuse or must read without surprise.
HOSTILE_TOKENS: tuple[str, ...] = (
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-999",
    "-0",
    "-0.0",
    "0x10",
    "01",
    "1.",
    ".5",
    "+1",
    "1e",
    "9" * 400,
    "-" + "9" * 400,
    "1" + "0" * 30,
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775808",
    "2147483648",
    "-2147483649",
    "4.9e-324",
    "1.7976931348623157e308",
    "true1",
    "nul",
    "undefined",
    "'single'",
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d"',
    '"\\u0000"',
    '"\\uffff"',
    '"\\x41"',
    '"\\a"',
    '"tab\there"',
    '"new\nline"',
    '"\u2028\u2029"',
    "[1,]",
    '{"a":1,}',
    "[,1]",
    "{,}",
    "/* c */1",
    "// c\n1",
    '{"a" 1}',
    "{a:1}",
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "[" * 100,
)

# Code points that break naive text handling: NUL and controls, BOM, bidi overrides, combining
# marks, non-characters, private use, astral emoji, full-width digits, dotless i, German sharp s.
_UNICODE_POOL = (
    "\x00\x01\x07\x08\x1b\x7f\x80\x85\x9f\xa0\xad\xff"
    "\u0130\u0131\u017f\u00df\u1e9e\u0301\u0308\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066"
    "\u2028\u2029\u3000\ufeff\ufffd\ufffe\uffff\ue000\uf8ff\uff10\uff41\u0660\u06f0\u0966"
    "\U0001f600\U0001f469\U0001f3fd\U0010ffff\U000e0001\U0001d400"
    "aZ0/:*?$.-_+=,@ '\"\\<>&%{}[]"
)


def unicode_text(rng: random.Random, size: int) -> str:
    """Text of ``size`` code points from the hostile pool; never a lone surrogate."""
    return "".join(rng.choice(_UNICODE_POOL) for _ in range(size))


def render(value: Any, rng: random.Random | None = None) -> str:
    """JSON text for ``value``; ``Raw`` parts go in verbatim, strings are escaped or raw UTF-8 at random."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{render(str(k), rng)}:{render(v, rng)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(item, rng) for item in value) + "]"
    if isinstance(value, str):
        ascii_only = rng.random() < 0.5 if rng is not None else True
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


# ----------------------------------------------------------------- the model's members


def member_paths(shape: Shape, prefix: Path = (), depth: int = 0) -> Iterator[tuple[Path, Shape]]:
    """Every member reachable from ``shape`` (lists by their first entry, maps by key 'k').

    Recursive shapes stop at depth 5; no KMS input nests deeper than that.
    """
    if depth > 5:
        return
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members().items():
            path = (*prefix, name)
            yield path, member
            yield from member_paths(member, path, depth + 1)
    elif kind == "list":
        element = shape.list_member()
        yield (*prefix, 0), element
        yield from member_paths(element, (*prefix, 0), depth + 1)
    elif kind == "map":
        value = shape.map_value()
        yield (*prefix, "k"), value
        yield from member_paths(value, (*prefix, "k"), depth + 1)


def wrong_values(shape: Shape) -> list[Any]:
    """JSON values of the wrong type (or out of range, or unreadable) for ``shape``."""
    common: list[Any] = [[], {}, [None], {"": None}, Raw("[" * 200 + "]" * 200)]
    kind = shape.type_name
    if kind == "string":
        return [*common, 0, -1, 1.5, True, False, ["a"], {"a": "b"}, Raw("9" * 400), Raw("NaN"), Raw('"\\ud800"')]
    if kind == "blob":
        return [
            *common,
            7,
            True,
            ["YQ=="],
            "not base64!",
            "YQ",
            "YQ=",
            "Y===",
            "====",
            "YQ==YQ==",
            "Y Q = =",
            "YQ==\n",
            "\u00e9\u00e9==",
            "-_-_",
            "YWJj" * 2 + "%",
            Raw('"\\u0000YQ=="'),
        ]
    if kind in ("integer", "long"):
        return [
            *common,
            "1",
            "",
            "NaN",
            True,
            1.5,
            -0.5,
            2**31,
            -(2**31) - 1,
            2**63,
            -(2**63) - 1,
            Raw("1" + "0" * 30),
            Raw("1e999"),
            Raw("-1e999"),
            Raw("NaN"),
            Raw("Infinity"),
            Raw("1e300"),
            Raw("-0"),
        ]
    if kind in ("double", "float"):
        return [*common, "1.0", True, Raw("NaN"), Raw("Infinity"), Raw("1e999"), Raw("9" * 400)]
    if kind == "boolean":
        return [*common, "true", "false", 0, 1, "yes", Raw("tru"), Raw("True")]
    if kind == "timestamp":
        return [*common, True, "yesterday", "2024-13-45T99:99:99Z", Raw("1e999"), 10**20, -(10**20), Raw("NaN")]
    if kind == "list":
        return [{}, "a", 1, True, [[]], [{}], [[None]], [1, "a", True], {"member": []}]
    if kind == "map":
        return [[], "a", 1, True, {"a": 1}, {"a": None}, {"a": {}}, {"a": ["b"]}, {"a": True}, {"": ""}]
    if kind == "structure":
        return [[], "a", 1, True, ["a"], {"NoSuchMember": 1}, Raw("{" * 50 + "}" * 50)]
    return common


_TYPE_OF = {"string": str, "blob": str, "boolean": bool, "list": list, "map": dict, "structure": dict}


def json_type_mismatch(shape: Shape, value: Any) -> bool:
    """Whether ``value`` is of another JSON type than ``shape`` takes (so decode must refuse it)."""
    if isinstance(value, Raw):
        return False
    kind = shape.type_name
    if kind in ("integer", "long", "double", "float", "timestamp"):
        # Timestamps also take ISO-8601 text.
        return isinstance(value, bool | list | dict) or (isinstance(value, str) and kind != "timestamp")
    wanted = _TYPE_OF.get(kind)
    return wanted is not None and not isinstance(value, wanted)


def operation_members(operation: str) -> list[tuple[Path, Shape]]:
    shape = MODEL.input_shape(operation)
    return [] if shape is None else list(member_paths(shape))


def set_path(request: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of ``request`` with ``value`` at ``path``, creating the containers on the way."""
    if not path:
        return request
    head, rest = path[0], path[1:]
    out: Any
    if isinstance(head, int):
        current = request if isinstance(request, list) and request else [None]
        out = list(current)
        out[0] = set_path(out[0] if isinstance(out[0], dict | list) else ({} if rest else None), rest, value)
        if not rest:
            out[0] = value
        return out
    out = dict(request) if isinstance(request, dict) else {}
    child = out.get(head)
    if rest:
        if isinstance(rest[0], int):
            out[head] = set_path(child if isinstance(child, list) else [{}], rest, value)
        else:
            out[head] = set_path(child if isinstance(child, dict) else {}, rest, value)
    else:
        out[head] = value
    return out


# ----------------------------------------------------------------- policies

ACCOUNT = "111122223333"


def valid_policy(account: str = ACCOUNT) -> dict[str, Any]:
    """The default key policy's shape: the account root may do everything (keeps lockout checks happy)."""
    return {
        "Version": "2012-10-17",
        "Id": "fuzz",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def broken_policies(rng: random.Random) -> list[str]:
    """Policy texts that are not valid policies: wrong JSON, wrong elements, wrong values."""
    good = valid_policy()
    statement = good["Statement"][0]

    def with_statement(**changes: Any) -> str:
        changed = {**statement, **changes}
        for name in [name for name, value in changed.items() if value is None]:
            del changed[name]
        return json.dumps({**good, "Statement": [changed]})

    return [
        "",
        " ",
        "null",
        "[]",
        '"policy"',
        "42",
        "{",
        json.dumps(good)[:-1],
        '{"Statement": NaN}',
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
        json.dumps({**good, "Version": "2019-01-01"}),
        json.dumps({**good, "Version": 2012}),
        json.dumps({**good, "Id": 5}),
        json.dumps({**good, "Statement": []}),
        json.dumps({**good, "Statement": {}}),
        json.dumps({**good, "Statement": "Allow"}),
        json.dumps({**good, "Statement": [1, 2]}),
        json.dumps({**good, "Extra": True}),
        with_statement(Effect="allow"),
        with_statement(Effect=None),
        with_statement(Effect=["Allow"]),
        with_statement(Principal=None),
        with_statement(Principal="arn:aws:iam::111122223333:root"),
        with_statement(Principal={"AWS": "arn:aws:iam::*:root"}),
        with_statement(Principal={"AWS": []}),
        with_statement(Principal={"AWS": [1]}),
        with_statement(Principal={"Nobody": "x"}),
        with_statement(Principal={}),
        with_statement(Principal={"Service": "UPPER.amazonaws.com"}),
        with_statement(Principal={"CanonicalUser": "abc"}),
        with_statement(NotPrincipal={"AWS": ACCOUNT}),
        with_statement(Action="kms"),
        with_statement(Action=["kms:Encrypt", 7]),
        with_statement(Action="kms:En crypt"),
        with_statement(NotAction="kms:*"),
        with_statement(Resource="key/*"),
        with_statement(Resource=[None]),
        with_statement(NotResource="*"),
        with_statement(Sid=7),
        with_statement(Unknown="x"),
        with_statement(Condition="x"),
        with_statement(Condition={"StringEquals": "x"}),
        with_statement(Condition={"NoSuchOperator": {"kms:ViaService": "x"}}),
        with_statement(Condition={"StringEquals": {"NoColon": "x"}}),
        with_statement(Condition={"StringEquals": {"kms:ViaService": []}}),
        with_statement(Condition={"StringEquals": {"kms:ViaService": [{}]}}),
        with_statement(Condition={"NumericLessThan": {"kms:GrantConstraintType": "ten"}}),
        with_statement(Condition={"NumericLessThan": {"aws:x": "1e99999999"}}),
        with_statement(Condition={"NumericLessThan": {"aws:x": "NaN"}}),
        with_statement(Condition={"DateLessThan": {"aws:CurrentTime": "yesterday"}}),
        with_statement(Condition={"DateLessThan": {"aws:CurrentTime": "9" * 400}}),
        with_statement(Condition={"Bool": {"aws:SecureTransport": "yes"}}),
        with_statement(Condition={"BinaryEquals": {"aws:x": "not base64"}}),
        with_statement(Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/33"}}),
        with_statement(Condition={"IpAddress": {"aws:SourceIp": "::1/200"}}),
        with_statement(Condition={"Null": {"aws:x": "maybe"}}),
        with_statement(Condition={"ForAllValues:StringEquals": {"kms:EncryptionContext:a": "b"}}),
        with_statement(Condition={"ForAnyValue:NullIfExists": {"aws:x": "true"}}),
        with_statement(Condition={"StringLike": {"aws:x": "${" * 200}}),
        with_statement(Resource="arn:" + "*" * 5000),
        json.dumps({**good, "Statement": [statement] * 800}),  # over 32 KiB
        "[" * 100_000 + "]" * 100_000,
        '{"Statement":' * 2000 + "1" + "}" * 2000,
        "\ufeff" + json.dumps(good),
        json.dumps(good).replace('"Allow"', "'Allow'"),
        unicode_text(rng, 40),
        json.dumps({unicode_text(rng, 5): unicode_text(rng, 5)}),
        # Lone-surrogate escapes: Python's JSON reader accepts them, so error messages may quote them.
        '{"\\ud800": 1}',
        json.dumps({**good, "Statement": [{**statement, "\udc00": 1}]}),
        with_statement(Condition={"StringEquals": {"\ud800": "x"}}),
        with_statement(Sid="\ud83d", Action="kms:\udfff"),
    ]
