"""Policy documents the engine refuses, the ones it accepts inertly, sizes, caching and the default policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trent.domain.errors import LimitExceededException, MalformedPolicyDocumentException
from trent.domain.policy import (
    DEFAULT_POLICY_NAME,
    KEY_POLICY_MAX_BYTES,
    CompiledPolicy,
    Decision,
    PolicyKind,
    Principal,
    RequestContext,
    compile_cached,
    default_key_policy,
)

ACCT = "111122223333"
ROOT_ARN = f"arn:aws:iam::{ACCT}:root"
ALICE = Principal(f"arn:aws:iam::{ACCT}:user/alice", ACCT)
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "kms:*", "Resource": "*"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def doc(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **top})


def with_condition(condition: Any) -> str:
    return doc(statement(Condition=condition))


MALFORMED: list[tuple[str, str, PolicyKind, str]] = [
    ("not-json", "{not json", "key", "not valid JSON"),
    ("empty", "", "key", "not valid JSON"),
    ("nan", '{"Version": NaN}', "key", "not JSON"),
    ("array", "[]", "key", "JSON object"),
    ("string", '"policy"', "key", "JSON object"),
    ("no-statement", json.dumps({"Version": "2012-10-17"}), "key", "Statement"),
    ("empty-statement", doc(), "key", "Statement"),
    ("statement-string", json.dumps({"Statement": "allow all"}), "key", "Statement"),
    ("statement-not-object", json.dumps({"Statement": ["x"]}), "key", "JSON object"),
    ("effect-missing", doc(statement(Effect=None)), "key", "Effect"),
    ("effect-lowercase", doc(statement(Effect="allow")), "key", "Effect"),
    ("effect-other", doc(statement(Effect="Permit")), "key", "Effect"),
    ("unknown-top-level", doc(statement(), Comment="x"), "key", "unknown element: Comment"),
    ("unknown-statement-element", doc(statement(Actions="kms:*")), "key", "unknown element: Actions"),
    ("action-and-notaction", doc(statement(NotAction="kms:Decrypt")), "key", "both Action and NotAction"),
    ("resource-and-notresource", doc(statement(NotResource="*")), "key", "both Resource and NotResource"),
    (
        "principal-and-notprincipal",
        doc(statement(NotPrincipal={"AWS": ROOT_ARN})),
        "key",
        "both Principal and NotPrincipal",
    ),
    ("key-without-principal", doc(statement(Principal=None)), "key", "Policy contains a statement with no principal."),
    ("trust-without-principal", doc(statement(Principal=None, Resource=None)), "trust", "no principal"),
    ("identity-with-principal", doc(statement()), "identity", "should not specify a principal"),
    ("identity-with-notprincipal", doc(statement(Principal=None, NotPrincipal="*")), "identity", "principal"),
    ("trust-with-resource", doc(statement()), "trust", "Resource"),
    ("version-other", doc(statement(), Version="2020-01-01"), "key", "Version"),
    ("version-number", json.dumps({"Version": 2012, "Statement": [statement()]}), "key", "Version"),
    ("id-not-string", doc(statement(), Id=5), "key", "Id"),
    ("sid-not-string", doc(statement(Sid=1)), "key", "Sid"),
    ("action-not-string", doc(statement(Action=5)), "key", "Action"),
    ("action-list-of-numbers", doc(statement(Action=["kms:Encrypt", 5])), "key", "Action"),
    ("action-without-service", doc(statement(Action="Encrypt")), "key", "service:action"),
    ("resource-not-arn", doc(statement(Resource="my-key")), "key", "ARN"),
    ("resource-object", doc(statement(Resource={"arn": "x"})), "key", "Resource"),
    ("duplicate-element", '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "key", "repeats"),
    (
        "duplicate-in-statement",
        '{"Statement": [{"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}',
        "key",
        "repeats the element Effect",
    ),
    # principals
    ("principal-string-arn", doc(statement(Principal=ROOT_ARN)), "key", INVALID_PRINCIPALS),
    ("principal-empty-object", doc(statement(Principal={})), "key", INVALID_PRINCIPALS),
    ("principal-empty-list", doc(statement(Principal={"AWS": []})), "key", INVALID_PRINCIPALS),
    ("principal-bad-arn", doc(statement(Principal={"AWS": "arn:aws:iam::12345:root"})), "key", INVALID_PRINCIPALS),
    ("principal-not-arn", doc(statement(Principal={"AWS": "alice"})), "key", INVALID_PRINCIPALS),
    ("principal-s3-arn", doc(statement(Principal={"AWS": "arn:aws:s3:::bucket"})), "key", INVALID_PRINCIPALS),
    (
        "principal-partial-wildcard",
        doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*"})),
        "key",
        INVALID_PRINCIPALS,
    ),
    (
        "principal-wildcard-in-path",
        doc(statement(Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*/alice"})),
        "key",
        INVALID_PRINCIPALS,
    ),
    ("principal-unknown-type", doc(statement(Principal={"Group": "x"})), "key", INVALID_PRINCIPALS),
    ("principal-lowercase-type", doc(statement(Principal={"aws": ROOT_ARN})), "key", INVALID_PRINCIPALS),
    ("principal-number", doc(statement(Principal={"AWS": 111122223333})), "key", INVALID_PRINCIPALS),
    ("service-principal-bad", doc(statement(Principal={"Service": "not a service"})), "key", INVALID_PRINCIPALS),
    ("canonical-user-bad", doc(statement(Principal={"CanonicalUser": "abc"})), "key", INVALID_PRINCIPALS),
    # conditions
    ("condition-not-object", with_condition(["StringEquals"]), "key", "Condition"),
    ("unknown-operator", with_condition({"StringEqualz": {"aws:username": "a"}}), "key", "StringEqualz"),
    ("null-if-exists", with_condition({"NullIfExists": {"aws:username": "true"}}), "key", "NullIfExists"),
    ("qualified-null", with_condition({"ForAnyValue:Null": {"aws:username": "true"}}), "key", "ForAnyValue:Null"),
    ("unknown-qualifier", with_condition({"ForSomeValues:StringEquals": {"aws:x": "a"}}), "key", "ForSomeValues"),
    ("operator-body-not-object", with_condition({"StringEquals": "a"}), "key", "StringEquals"),
    ("value-object", with_condition({"StringEquals": {"aws:username": {"a": 1}}}), "key", "StringEquals"),
    ("value-null", with_condition({"StringEquals": {"aws:username": None}}), "key", "StringEquals"),
    ("value-nested-list", with_condition({"StringEquals": {"aws:username": [["a"]]}}), "key", "StringEquals"),
    ("value-empty-list", with_condition({"StringEquals": {"aws:username": []}}), "key", "StringEquals"),
    ("numeric-not-number", with_condition({"NumericLessThan": {"kms:x": "ten"}}), "key", "not a number"),
    ("numeric-infinity", with_condition({"NumericLessThan": {"kms:x": "Infinity"}}), "key", "not a number"),
    ("date-not-date", with_condition({"DateLessThan": {"aws:CurrentTime": "tomorrow"}}), "key", "ISO-8601"),
    ("bool-not-bool", with_condition({"Bool": {"aws:SecureTransport": "yes"}}), "key", "true or false"),
    ("null-not-bool", with_condition({"Null": {"aws:TokenIssueTime": "maybe"}}), "key", "true or false"),
    ("ip-not-cidr", with_condition({"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}), "key", "CIDR"),
    ("binary-not-base64", with_condition({"BinaryEquals": {"aws:x": "***"}}), "key", "base64"),
    ("key-without-service", with_condition({"StringEquals": {"username": "a"}}), "key", "prefixed"),
    (
        "forallvalues-encryption-context",
        with_condition({"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}}),
        "key",
        "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued "
        "condition key",
    ),
    (
        "forallvalues-request-tag",
        with_condition({"forallvalues:stringlike": {"AWS:RequestTag/Env": "prod*"}}),
        "key",
        "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued "
        "condition key",
    ),
]


@pytest.mark.parametrize(("text", "kind", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_documents(text: str, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        CompiledPolicy.parse(text, kind=kind)
    assert message in raised.value.message
    # the cached path refuses the same documents: nothing unparseable is ever evaluated
    with pytest.raises(MalformedPolicyDocumentException):
        compile_cached(text, kind)


def test_malformed_messages_start_as_aws_words_them() -> None:
    overly = with_condition({"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}})
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        CompiledPolicy.parse(overly, kind="key")
    assert raised.value.message.startswith(
        "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued "
        "condition key"
    )
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        CompiledPolicy.parse(doc(statement(Principal={"AWS": "nobody"})), kind="key")
    assert raised.value.message == INVALID_PRINCIPALS


def test_every_truncation_of_a_policy_is_refused() -> None:
    text = default_key_policy(ACCT, "us-east-1")
    for end in range(len(text)):
        with pytest.raises(MalformedPolicyDocumentException):
            CompiledPolicy.parse(text[:end], kind="key")


@pytest.mark.parametrize(
    "condition",
    [
        {"ForAnyValue:StringEquals": {"kms:EncryptionContext:Department": "IT"}},  # only ForAllValues is refused
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department"]}},
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Env"]}},
    ],
)
def test_set_operators_accepted_where_kms_accepts_them(condition: dict[str, Any]) -> None:
    CompiledPolicy.parse(with_condition(condition), kind="key")


def test_overly_permissive_check_is_a_key_policy_rule() -> None:
    identity = doc(
        {
            "Effect": "Allow",
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}},
        }
    )
    CompiledPolicy.parse(identity, kind="identity")


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": ["*"]},
        {"AWS": ACCT},
        {"AWS": ROOT_ARN},
        {"AWS": f"arn:aws-cn:iam::{ACCT}:root"},
        {"AWS": f"arn:aws:iam::{ACCT}:user/alice"},
        {"AWS": f"arn:aws:iam::{ACCT}:user/division/team/alice"},
        {"AWS": f"arn:aws:iam::{ACCT}:role/KeyAdmin"},
        {"AWS": f"arn:aws:iam::{ACCT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"},
        {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/KeyAdmin/maria@example.com"},
        {"AWS": f"arn:aws:sts::{ACCT}:federated-user/bob"},
        {"Service": "ec2.amazonaws.com"},
        {"Service": ["logs.us-east-1.amazonaws.com", "delivery.logs.amazonaws.com"]},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/Corp"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    ],
)
def test_valid_principals(principal: Any) -> None:
    CompiledPolicy.parse(doc(statement(Principal=principal)), kind="key")


def test_principal_existence_is_asked_for_users_and_roles_only() -> None:
    asked: list[str] = []
    user = f"arn:aws:iam::{ACCT}:user/alice"
    role = f"arn:aws:iam::{ACCT}:role/path/R"
    others = [ROOT_ARN, ACCT, "*", f"arn:aws:sts::{ACCT}:assumed-role/R/s"]

    def exists(arn: str) -> bool:
        asked.append(arn)
        return True

    CompiledPolicy.parse(doc(statement(Principal={"AWS": [user, role, *others]})), kind="key", principal_exists=exists)
    assert sorted(asked) == sorted([user, role])


@pytest.mark.parametrize("missing", [f"arn:aws:iam::{ACCT}:user/ghost", f"arn:aws:iam::{ACCT}:role/Ghost"])
def test_missing_principal_is_invalid(missing: str) -> None:
    text = doc(statement(Principal={"AWS": [f"arn:aws:iam::{ACCT}:user/alice", missing]}))
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        CompiledPolicy.parse(text, kind="key", principal_exists=lambda arn: arn != missing)
    assert raised.value.message == INVALID_PRINCIPALS


def test_not_principal_is_validated_like_principal() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="invalid principals"):
        CompiledPolicy.parse(doc(statement(Principal=None, NotPrincipal={"AWS": "bad"})), kind="key")


# ----------------------------------------------------------------- accepted, but inert


@pytest.mark.parametrize(
    ("missing", "effect"),
    [("Action", "Allow"), ("Resource", "Allow"), ("Action", "Deny"), ("Resource", "Deny")],
)
def test_statements_without_action_or_resource_never_apply(missing: str, effect: str) -> None:
    inert = statement(Effect=effect, Principal="*", **{missing: None})
    allow_all = statement(Principal="*")
    compiled = CompiledPolicy.parse(doc(inert), kind="key")
    ctx = RequestContext(ALICE, "kms:Encrypt", "arn:aws:kms:us-east-1:111122223333:key/k")
    assert compiled.evaluate_key_policy(ctx).decision is Decision.NONE
    both = CompiledPolicy.parse(doc(inert, allow_all), kind="key")
    assert both.evaluate_key_policy(ctx).decision is Decision.ALLOW  # an inert Deny denies nothing


def test_trust_statements_name_no_resource_and_still_apply() -> None:
    trust = doc(statement(Principal={"AWS": ROOT_ARN}, Action="sts:AssumeRole", Resource=None))
    compiled = CompiledPolicy.parse(trust, kind="trust")
    root = Principal(ROOT_ARN, ACCT, is_root=True)
    ctx = RequestContext(root, "sts:AssumeRole", f"arn:aws:iam::{ACCT}:role/R")
    assert compiled.evaluate_key_policy(ctx).decision is Decision.ALLOW


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"Statement": statement()}),  # a lone statement object, no Version
        json.dumps({"Version": "2008-10-17", "Id": "x", "Statement": [statement(Sid="with spaces in it")]}),
        doc(statement(Action=["kms:Encrypt", "kms:Decrypt"], Resource=["*"])),
        doc(statement(Condition={})),
        doc(statement(Principal={"AWS": [ROOT_ARN, ROOT_ARN]})),
    ],
)
def test_accepted_shapes(text: str) -> None:
    CompiledPolicy.parse(text, kind="key")


# ----------------------------------------------------------------- size


def _padded(size: int) -> str:
    text = doc(statement(Sid=""))
    pad = size - len(text.encode())
    return doc(statement(Sid="x" * pad))


def test_key_policy_size_limit() -> None:
    assert len(_padded(KEY_POLICY_MAX_BYTES).encode()) == KEY_POLICY_MAX_BYTES
    CompiledPolicy.parse(_padded(KEY_POLICY_MAX_BYTES), kind="key")
    with pytest.raises(LimitExceededException):
        CompiledPolicy.parse(_padded(KEY_POLICY_MAX_BYTES + 1), kind="key")


def test_key_policy_size_counts_bytes_not_characters() -> None:
    text = json.dumps({"Statement": [statement(Sid="é" * 16380)]}, ensure_ascii=False)
    assert len(text) <= KEY_POLICY_MAX_BYTES < len(text.encode())
    with pytest.raises(LimitExceededException):
        CompiledPolicy.parse(text, kind="key")


# ----------------------------------------------------------------- caching and the default policy


def test_compile_cached_reuses_the_compiled_policy() -> None:
    text = default_key_policy(ACCT, "eu-west-1")
    assert compile_cached(text, "key") is compile_cached(text, "key")
    assert compile_cached(text, "key") is not compile_cached(text + " ", "key")
    assert compile_cached(text, "key").kind == "key"


def test_default_key_policy_is_unchanged() -> None:
    assert DEFAULT_POLICY_NAME == "default"
    assert default_key_policy("111122223333", "us-east-1") == (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        '      "AWS" : "arn:aws:iam::111122223333:root"\n'
        "    },\n"
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        "  } ]\n"
        "}"
    )
    assert '"arn:aws-cn:iam::111122223333:root"' in default_key_policy("111122223333", "cn-north-1")
    CompiledPolicy.parse(default_key_policy("111122223333", "cn-north-1"), kind="key")
