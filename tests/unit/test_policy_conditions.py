"""Condition operators one by one: values, absent keys, IfExists, set qualifiers, policy variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trent.domain.policy import CompiledPolicy, ConditionKeys, Decision, Principal, RequestContext

ACCT = "111122223333"
ALICE = Principal(f"arn:aws:iam::{ACCT}:user/alice", ACCT)


def holds(condition: dict[str, Any], keys: ConditionKeys, *, version: str | None = "2012-10-17") -> bool:
    """Whether an Allow statement with ``condition`` applies to a request carrying ``keys``."""
    document: dict[str, Any] = {
        "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": condition}]
    }
    if version is not None:
        document["Version"] = version
    compiled = CompiledPolicy.parse(json.dumps(document), kind="identity")
    decision = compiled.evaluate_identity(RequestContext(ALICE, "kms:Encrypt", "*", keys))
    assert decision is not Decision.DENY
    return decision is Decision.ALLOW


def one(operator: str, key: str, values: Any, context: Any) -> bool:
    keys: dict[str, Any] = {} if context is None else {key.lower(): context}
    return holds({operator: {key: values}}, keys)


STRING_CASES = [
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),  # values of one key: OR
    ("StringEquals", "a*", "abc", False),  # no wildcards in StringEquals
    ("StringEquals", "a*", "a*", True),
    ("StringNotEquals", "abc", "abc", False),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", ["x", "abc"], "abc", False),  # negated: NOR over the values
    ("StringNotEquals", ["x", "y"], "abc", True),
    ("StringEqualsIgnoreCase", "ABC", "abc", True),
    ("StringEqualsIgnoreCase", "ABC", "abd", False),
    ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
    ("StringNotEqualsIgnoreCase", "ABC", "xyz", True),
    ("StringLike", "a*c", "abbbc", True),
    ("StringLike", "a?c", "abc", True),
    ("StringLike", "a?c", "abbc", False),
    ("StringLike", "a*", "ABC", False),  # case-sensitive
    ("StringLike", "a.c", "abc", False),  # regex characters are literal
    ("StringLike", "*", "", True),
    ("StringLike", "a*", "a/b:c\nd", True),  # * spans anything
    ("StringNotLike", "a*", "abc", False),
    ("StringNotLike", "a*", "bcd", True),
    ("stringequals", "abc", "abc", True),  # operator names are case-insensitive
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), STRING_CASES)
def test_string_operators(operator: str, values: Any, context: str, expected: bool) -> None:
    assert one(operator, "aws:UserAgent", values, context) is expected


NUMERIC_CASES = [
    ("NumericEquals", "7", "7", True),
    ("NumericEquals", "7", "7.0", True),
    ("NumericEquals", 7, "8", False),  # JSON numbers are accepted as values
    ("NumericNotEquals", "7", "8", True),
    ("NumericNotEquals", "7", "7", False),
    ("NumericLessThan", "30", "7", True),
    ("NumericLessThan", "30", "30", False),
    ("NumericLessThanEquals", "30", "30", True),
    ("NumericLessThanEquals", "30", "31", False),
    ("NumericGreaterThan", "30", "31", True),
    ("NumericGreaterThan", "30", "30", False),
    ("NumericGreaterThanEquals", "30", "30", True),
    ("NumericGreaterThanEquals", "30", "29.5", False),
    ("NumericEquals", "7", "seven", False),  # an unreadable request value never matches
    ("NumericNotEquals", "7", "seven", True),
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), NUMERIC_CASES)
def test_numeric_operators(operator: str, values: Any, context: str, expected: bool) -> None:
    assert one(operator, "kms:ScheduleKeyDeletionPendingWindowInDays", values, context) is expected


DATE_CASES = [
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateEquals", "2026-01-01", "2026-01-01T00:00:00Z", True),  # a date alone is midnight UTC
    ("DateEquals", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00Z", True),
    ("DateEquals", "1767225600", "2026-01-01T00:00:00Z", True),  # epoch seconds
    ("DateEquals", 1767225600, "2026-01-01T00:00:00Z", True),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "1767225599", False),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "1767225600", True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "yesterday", False),
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), DATE_CASES)
def test_date_operators(operator: str, values: Any, context: str, expected: bool) -> None:
    assert one(operator, "aws:CurrentTime", values, context) is expected


OTHER_CASES = [
    ("Bool", "aws:SecureTransport", "true", "true", True),
    ("Bool", "aws:SecureTransport", True, "true", True),
    ("Bool", "aws:SecureTransport", "false", "true", False),
    ("Bool", "aws:SecureTransport", "TRUE", "true", True),
    ("BinaryEquals", "aws:SomeBlob", "AAEC", "AAEC", True),
    ("BinaryEquals", "aws:SomeBlob", "AAEC", "AAED", False),
    ("BinaryEquals", "aws:SomeBlob", "AAEC", "not base64!", False),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "203.0.113.9", True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "203.0.114.9", False),
    ("IpAddress", "aws:SourceIp", "203.0.113.5", "203.0.113.5", True),  # a bare address is a /32
    ("IpAddress", "aws:SourceIp", "203.0.113.5", "203.0.113.6", False),
    ("IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", "2001:db9::1", False),
    ("IpAddress", "aws:SourceIp", "::/0", "203.0.113.9", False),  # families never mix
    ("IpAddress", "aws:SourceIp", "0.0.0.0/0", "2001:db8::1", False),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "::ffff:203.0.113.9", True),  # v4-mapped v6
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "not-an-ip", False),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "203.0.113.1", False),
    ("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24", "198.51.100.0/24"], "198.51.100.1", False),
]


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected"), OTHER_CASES)
def test_bool_binary_ip_operators(operator: str, key: str, values: Any, context: str, expected: bool) -> None:
    assert one(operator, key, values, context) is expected


ARN_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"
TRICKY_ARN = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"

ARN_CASES = [
    ("ArnLike", ARN_PATTERN, "arn:aws:someservice:us-east-2:111122223333:finance/doc.txt", True),
    ("ArnLike", ARN_PATTERN, TRICKY_ARN, False),  # a wildcard stays inside its segment
    ("ArnEquals", ARN_PATTERN, TRICKY_ARN, False),
    ("ArnEquals", ARN_PATTERN, "arn:aws:someservice:eu-west-1:111122223333:finance/x", True),  # same as ArnLike
    ("ArnLike", "arn:aws:iam::111122223333:role/ops-?", "arn:aws:iam::111122223333:role/ops-1", True),
    ("ArnLike", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/a/b:c", True),  # last segment
    ("ArnLike", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:ROLE/x", False),
    ("ArnLike", "arn:aws:iam::*", "arn:aws:iam::111122223333:user/x", True),  # short pattern: last one spans
    ("ArnLike", "*", "arn:aws:iam::111122223333:user/x", True),
    ("ArnLike", "*", "not-an-arn", False),  # an ARN operator needs an ARN
    ("ArnNotLike", ARN_PATTERN, TRICKY_ARN, True),
    ("ArnNotEquals", ARN_PATTERN, "arn:aws:someservice:x:111122223333:finance/y", False),
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), ARN_CASES)
def test_arn_operators(operator: str, values: Any, context: str, expected: bool) -> None:
    assert one(operator, "aws:SourceArn", values, context) is expected
    assert one("StringLike", "aws:SourceArn", ARN_PATTERN, TRICKY_ARN)  # where StringLike differs


ABSENT_CASES = [
    ("StringEquals", "x", False),
    ("StringNotEquals", "x", True),
    ("StringEqualsIgnoreCase", "x", False),
    ("StringNotEqualsIgnoreCase", "x", True),
    ("StringLike", "*", False),
    ("StringNotLike", "x*", True),
    ("NumericEquals", "1", False),
    ("NumericNotEquals", "1", True),
    ("NumericLessThan", "1", False),
    ("DateEquals", "2026-01-01", False),
    ("DateNotEquals", "2026-01-01", True),
    ("DateGreaterThan", "2026-01-01", False),
    ("Bool", "true", False),
    ("Bool", "false", False),
    ("BinaryEquals", "AAEC", False),
    ("IpAddress", "0.0.0.0/0", False),
    ("NotIpAddress", "0.0.0.0/0", True),
    ("ArnLike", "*", False),
    ("ArnNotLike", "*", True),
    ("ArnEquals", "*", False),
    ("ArnNotEquals", "*", True),
]


@pytest.mark.parametrize(("operator", "values", "expected"), ABSENT_CASES)
def test_absent_key(operator: str, values: str, expected: bool) -> None:
    assert one(operator, "aws:Missing", values, None) is expected
    assert one(f"{operator}IfExists", "aws:Missing", values, None)  # IfExists: absent is true
    assert one(operator, "aws:Missing", values, []) is expected  # an empty multi-valued key is absent


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEqualsIfExists", "a", "a", True),
        ("StringEqualsIfExists", "a", "b", False),  # present: tested as usual
        ("StringNotEqualsIfExists", "a", "a", False),
        ("NumericLessThanIfExists", "5", "9", False),
        ("IpAddressIfExists", "10.0.0.0/8", "11.0.0.1", False),
        ("BoolIfExists", "true", "true", True),
    ],
)
def test_if_exists_with_a_present_key(operator: str, values: str, context: str, expected: bool) -> None:
    assert one(operator, "aws:Key", values, context) is expected


@pytest.mark.parametrize(
    ("values", "context", "expected"),
    [("true", None, True), ("true", "x", False), ("false", None, False), ("false", "x", True), (True, None, True)],
)
def test_null(values: Any, context: str | None, expected: bool) -> None:
    assert one("Null", "aws:TokenIssueTime", values, context) is expected


SET_CASES = [
    # no qualifier: a positive operator matches if any request value does; a negated one if none does
    ("StringEquals", ["a", "b"], ["b", "z"], True),
    ("StringEquals", ["a", "b"], ["y", "z"], False),
    ("StringNotEquals", ["a", "b"], ["b", "z"], False),
    ("StringNotEquals", ["a", "b"], ["y", "z"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["b", "z"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["y", "z"], False),
    ("ForAnyValue:StringEquals", ["a", "b"], None, False),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "z"], False),
    ("ForAllValues:StringEquals", ["a", "b"], None, True),
    ("ForAllValues:StringEquals", ["a", "b"], [], True),
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "z"], True),  # z is not listed
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
    ("ForAnyValue:StringNotEquals", ["a", "b"], None, False),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["y", "z"], True),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["a", "z"], False),
    ("ForAllValues:StringNotEquals", ["a", "b"], None, True),
    ("ForAnyValue:StringLike", ["alias/app-*"], ["alias/x", "alias/app-1"], True),
    ("ForAllValues:StringLike", ["alias/app-*"], ["alias/x", "alias/app-1"], False),
    ("forallvalues:stringlike", ["alias/app-*"], ["alias/app-2", "alias/app-1"], True),
    ("ForAnyValue:StringEqualsIfExists", ["a"], None, True),
    ("ForAllValues:StringEqualsIfExists", ["a"], ["b"], False),
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), SET_CASES)
def test_set_qualifiers_and_multivalued_keys(operator: str, values: Any, context: Any, expected: bool) -> None:
    assert one(operator, "aws:TagKeys", values, context) is expected


def test_block_is_and_of_operators_and_of_keys() -> None:
    condition = {
        "StringEquals": {"aws:RequestTag/Env": "prod", "aws:PrincipalAccount": ACCT},
        "Bool": {"aws:SecureTransport": "true"},
    }
    full = {"aws:requesttag/env": "prod", "aws:principalaccount": ACCT, "aws:securetransport": "true"}
    assert holds(condition, full)
    assert not holds(condition, full | {"aws:requesttag/env": "dev"})
    assert not holds(condition, full | {"aws:principalaccount": "444455556666"})
    assert not holds(condition, full | {"aws:securetransport": "false"})


def test_condition_key_names_are_case_insensitive() -> None:
    assert holds({"StringEquals": {"AWS:SOURCEVPC": "vpc-1"}}, {"aws:sourcevpc": "vpc-1"})
    assert holds({"StringEquals": {"kms:EncryptionContext:DEPT": "IT"}}, {"kms:encryptioncontext:dept": "IT"})
    assert not holds({"StringEquals": {"kms:EncryptionContext:Dept": "IT"}}, {"kms:encryptioncontext:dept": "it"})


# ----------------------------------------------------------------- policy variables


@pytest.mark.parametrize(
    ("condition", "keys", "expected"),
    [
        (
            {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
            {"s3:prefix": "home/alice/x", "aws:username": "alice"},
            True,
        ),
        (
            {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
            {"s3:prefix": "home/bob/x", "aws:username": "alice"},
            False,
        ),
        (
            {"StringEquals": {"aws:RequestTag/Owner": "${aws:userid}"}},
            {"aws:requesttag/owner": "AIDAX", "aws:userid": "AIDAX"},
            True,
        ),
        (
            {"StringEquals": {"kms:CallerAccount": "${aws:PrincipalAccount}"}},
            {"kms:calleraccount": ACCT, "aws:principalaccount": ACCT},
            True,
        ),
        (
            {"StringEquals": {"kms:CallerAccount": "${aws:PrincipalAccount}"}},
            {"kms:calleraccount": "444455556666", "aws:principalaccount": ACCT},
            False,
        ),
        # a substituted value is literal, never a wildcard
        (
            {"StringLike": {"aws:UserAgent": "${aws:username}"}},
            {"aws:useragent": "anything", "aws:username": "*"},
            False,
        ),
        ({"StringLike": {"aws:UserAgent": "a${*}"}}, {"aws:useragent": "a*"}, True),
        ({"StringLike": {"aws:UserAgent": "a${*}"}}, {"aws:useragent": "ab"}, False),
        ({"StringEquals": {"aws:UserAgent": "${$}{x}"}}, {"aws:useragent": "${x}"}, True),
        ({"StringEquals": {"aws:UserAgent": "${aws:userid, 'anonymous'}"}}, {"aws:useragent": "anonymous"}, True),
        ({"StringEquals": {"aws:UserAgent": "${aws:userid, 'it''s'}"}}, {"aws:useragent": "it's"}, True),
        # an absent variable voids the statement, even under a negated operator
        ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/x/y"}, False),
        ({"StringNotEquals": {"aws:UserAgent": "${aws:username}"}}, {"aws:useragent": "x"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}},
            {"aws:sourcearn": f"arn:aws:iam::{ACCT}:role/r", "aws:principalaccount": ACCT},
            True,
        ),
        # multi-valued keys cannot be variables
        ({"StringEquals": {"aws:UserAgent": "${aws:TagKeys}"}}, {"aws:useragent": "a", "aws:tagkeys": ["a"]}, False),
    ],
)
def test_policy_variables(condition: dict[str, Any], keys: ConditionKeys, expected: bool) -> None:
    assert holds(condition, keys) is expected


def test_variables_are_literal_before_version_2012() -> None:
    condition = {"StringEquals": {"aws:UserAgent": "${aws:username}"}}
    assert holds(condition, {"aws:useragent": "${aws:username}", "aws:username": "alice"}, version="2008-10-17")
    assert holds(condition, {"aws:useragent": "${aws:username}", "aws:username": "alice"}, version=None)
    assert not holds(condition, {"aws:useragent": "alice", "aws:username": "alice"}, version=None)
    assert holds(condition, {"aws:useragent": "alice", "aws:username": "alice"})


def test_unresolved_variable_voids_a_deny_too() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestTag/Owner": "${aws:username}"}},
            },
        ],
    }
    compiled = CompiledPolicy.parse(json.dumps(document), kind="identity")
    ctx_user = RequestContext(ALICE, "kms:TagResource", "*", {"aws:requesttag/owner": "bob", "aws:username": "alice"})
    ctx_root = RequestContext(ALICE, "kms:TagResource", "*", {"aws:requesttag/owner": "bob"})
    assert compiled.evaluate_identity(ctx_user) is Decision.DENY
    assert compiled.evaluate_identity(ctx_root) is Decision.ALLOW
