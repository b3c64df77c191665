"""Properties of evaluation over random policies and requests built from a small vocabulary."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trent.domain.policy import CompiledPolicy, Decision, KeyPolicyResult, Principal, RequestContext

ACCT = "111122223333"
OTHER = "444455556666"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ARN = f"arn:aws:kms:us-east-1:{OTHER}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
ROLE = f"arn:aws:iam::{ACCT}:role/App"

PRINCIPALS = [
    Principal(f"arn:aws:iam::{ACCT}:root", ACCT, is_root=True),
    Principal(f"arn:aws:iam::{ACCT}:user/alice", ACCT),
    Principal(f"arn:aws:iam::{ACCT}:user/bob", ACCT),
    Principal(f"arn:aws:sts::{ACCT}:assumed-role/App/s1", ACCT, role_arn=ROLE),
    Principal(f"arn:aws:iam::{OTHER}:user/carol", OTHER),
]
ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:PutKeyPolicy", "kms:DescribeKey", "kms:ReEncryptFrom", "sts:AssumeRole"]

principal_elements = st.sampled_from(
    [
        ("Principal", "*"),
        ("Principal", {"AWS": ACCT}),
        ("Principal", {"AWS": f"arn:aws:iam::{ACCT}:root"}),
        ("Principal", {"AWS": f"arn:aws:iam::{ACCT}:user/alice"}),
        ("Principal", {"AWS": [ROLE, f"arn:aws:iam::{OTHER}:root"]}),
        ("Principal", {"Service": "ec2.amazonaws.com"}),
        ("NotPrincipal", {"AWS": f"arn:aws:iam::{ACCT}:user/bob"}),
        ("NotPrincipal", {"AWS": OTHER}),
    ]
)
action_elements = st.sampled_from(
    [
        ("Action", "kms:*"),
        ("Action", "*"),
        ("Action", "kms:Encrypt"),
        ("Action", ["kms:Decrypt", "kms:ReEncrypt*"]),
        ("Action", "kms:*Key*"),
        ("Action", "kms:Describe?ey"),
        ("NotAction", "kms:PutKeyPolicy"),
        ("NotAction", ["kms:Encrypt", "sts:*"]),
    ]
)
resource_elements = st.sampled_from(
    [
        ("Resource", "*"),
        ("Resource", KEY_ARN),
        ("Resource", f"arn:aws:kms:*:{ACCT}:key/*"),
        ("NotResource", OTHER_KEY_ARN),
    ]
)
conditions = st.sampled_from(
    [
        None,
        {"StringEquals": {"kms:EncryptionContext:Dept": "IT"}},
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Dept", "App"]}},
        {"ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["D*"]}},
        {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"Bool": {"aws:SecureTransport": "false"}},
        {"Null": {"kms:EncryptionContextKeys": "true"}},
        {"StringNotEqualsIfExists": {"kms:CallerAccount": ACCT}},
        {"StringEquals": {"aws:username": "${aws:username}"}},
    ]
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    principal, action, resource = draw(principal_elements), draw(action_elements), draw(resource_elements)
    statement: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        principal[0]: principal[1],
        action[0]: action[1],
        resource[0]: resource[1],
    }
    condition = draw(conditions)
    if condition is not None:
        statement["Condition"] = condition
    return statement


@st.composite
def contexts(draw: st.DrawFn) -> RequestContext:
    principal = draw(st.sampled_from(PRINCIPALS))
    keys: dict[str, Any] = {}
    if draw(st.booleans()):
        pairs = draw(st.dictionaries(st.sampled_from(["Dept", "App", "Other"]), st.sampled_from(["IT", "x"])))
        if pairs:
            keys |= {f"kms:encryptioncontext:{k.lower()}": v for k, v in pairs.items()}
            keys["kms:encryptioncontextkeys"] = list(pairs)
    if draw(st.booleans()):
        keys["aws:sourceip"] = draw(st.sampled_from(["192.0.2.1", "198.51.100.7", "2001:db8::1"]))
    keys["aws:securetransport"] = draw(st.sampled_from(["true", "false"]))
    if draw(st.booleans()):
        keys["kms:calleraccount"] = principal.account_id
    if principal.arn.split(":")[5].startswith("user/"):
        keys["aws:username"] = principal.arn.rsplit("/", 1)[1]
    action = draw(st.sampled_from(ACTIONS))
    resource = draw(st.sampled_from([KEY_ARN, OTHER_KEY_ARN]))
    return RequestContext(principal, action, resource, keys)


def evaluate(statement_list: list[dict[str, Any]], ctx: RequestContext) -> KeyPolicyResult:
    text = json.dumps({"Version": "2012-10-17", "Statement": statement_list})
    return CompiledPolicy.parse(text, kind="key").evaluate_key_policy(ctx)


@settings(max_examples=300)
@given(st.lists(statements(), min_size=1, max_size=6), statements(effect="Deny"), contexts())
def test_adding_a_deny_never_allows_and_never_undoes_a_deny(
    base: list[dict[str, Any]], extra: dict[str, Any], ctx: RequestContext
) -> None:
    before = evaluate(base, ctx).decision
    after = evaluate([*base, extra], ctx).decision
    assert after in (before, Decision.DENY)


@settings(max_examples=300)
@given(st.lists(statements(), min_size=1, max_size=6), st.randoms(use_true_random=False), contexts())
def test_statement_order_never_matters(base: list[dict[str, Any]], rng: Any, ctx: RequestContext) -> None:
    shuffled = list(base)
    rng.shuffle(shuffled)
    assert evaluate(shuffled, ctx) == evaluate(base, ctx)


@settings(max_examples=300)
@given(st.lists(statements(), min_size=2, max_size=6), st.integers(min_value=0), contexts())
def test_removing_an_allow_never_creates_an_allow(base: list[dict[str, Any]], index: int, ctx: RequestContext) -> None:
    allows = [i for i, s in enumerate(base) if s["Effect"] == "Allow"]
    if not allows:
        return
    removed = allows[index % len(allows)]
    before = evaluate(base, ctx)
    after = evaluate(base[:removed] + base[removed + 1 :], ctx)
    if before.decision is not Decision.ALLOW:
        assert after == before
    else:
        assert after.decision in (Decision.ALLOW, Decision.NONE)
        # where the ALLOW comes from can only shrink
        assert not after.direct or before.direct
        assert not after.via_account or before.via_account


@settings(max_examples=300)
@given(st.lists(statements(), min_size=1, max_size=6), contexts())
def test_an_allow_needs_a_matching_allow_statement_and_deny_a_deny(
    base: list[dict[str, Any]], ctx: RequestContext
) -> None:
    result = evaluate(base, ctx)
    only_allows = [s for s in base if s["Effect"] == "Allow"]
    only_denies = [s for s in base if s["Effect"] == "Deny"]
    if result.decision is Decision.DENY:
        assert evaluate(only_denies, ctx).decision is Decision.DENY
    else:
        assert not only_denies or evaluate(only_denies, ctx).decision is Decision.NONE
        assert (evaluate(only_allows, ctx) if only_allows else KeyPolicyResult(Decision.NONE)) == result


action_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,40}", fullmatch=True)
KMS_STAR = CompiledPolicy.parse(
    json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
    kind="identity",
)


@given(action_names, st.sampled_from(["kms", "KMS", "Kms"]))
def test_kms_star_matches_every_kms_action(name: str, prefix: str) -> None:
    ctx = RequestContext(PRINCIPALS[1], f"{prefix}:{name}", "*")
    assert KMS_STAR.evaluate_identity(ctx) is Decision.ALLOW


@given(action_names, st.sampled_from(["sts", "iam", "kmsx", "xkms", "km"]))
def test_kms_star_matches_no_other_service(name: str, service: str) -> None:
    ctx = RequestContext(PRINCIPALS[1], f"{service}:{name}", "*")
    assert KMS_STAR.evaluate_identity(ctx) is Decision.NONE


multi_values = st.none() | st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4)
policy_values = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3)


def _holds(operator: str, values: list[str], context: list[str] | None) -> bool:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {operator: {"aws:TagKeys": values}},
                }
            ],
        }
    )
    ctx = RequestContext(PRINCIPALS[1], "kms:TagResource", "*", {"aws:tagkeys": context})
    return CompiledPolicy.parse(text, kind="identity").evaluate_identity(ctx) is Decision.ALLOW


@given(policy_values, multi_values)
def test_negated_operators_are_exact_negations(values: list[str], context: list[str] | None) -> None:
    assert _holds("StringNotEquals", values, context) is not _holds("StringEquals", values, context)
    assert _holds("StringNotLike", values, context) is not _holds("StringLike", values, context)


@given(policy_values, multi_values)
def test_set_qualifiers_are_dual(values: list[str], context: list[str] | None) -> None:
    # "every request value is outside the list" is "no request value is inside it"
    assert _holds("ForAllValues:StringNotEquals", values, context) is not _holds(
        "ForAnyValue:StringEquals", values, context
    )
    expected_all = all(v in values for v in context or [])
    assert _holds("ForAllValues:StringEquals", values, context) is expected_all
    expected_any = any(v in values for v in context or [])
    assert _holds("ForAnyValue:StringEquals", values, context) is expected_any
