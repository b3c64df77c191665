"""Key, trust and identity policy evaluation, table-driven from the shapes of AWS's documented examples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from trent.domain.policy import (
    CompiledPolicy,
    ConditionKeys,
    Decision,
    KeyPolicyResult,
    Principal,
    RequestContext,
    default_key_policy,
)

ACCT = "111122223333"
OTHER = "444455556666"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
ROOT_ARN = f"arn:aws:iam::{ACCT}:root"
OTHER_ROOT_ARN = f"arn:aws:iam::{OTHER}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCT}:role/KeyAdmin"
DEPLOYER_ROLE = f"arn:aws:iam::{OTHER}:role/team/Deployer"  # a role with a path
ALICE_ARN = f"arn:aws:iam::{ACCT}:user/alice"

ROOT = Principal(ROOT_ARN, ACCT, is_root=True)
ALICE = Principal(ALICE_ARN, ACCT)
BOB = Principal(f"arn:aws:iam::{ACCT}:user/eng/bob", ACCT)
ADMIN = Principal(f"arn:aws:sts::{ACCT}:assumed-role/KeyAdmin/maria", ACCT, role_arn=ADMIN_ROLE)
OTHER_ROOT = Principal(OTHER_ROOT_ARN, OTHER, is_root=True)
OTHER_USER = Principal(f"arn:aws:iam::{OTHER}:user/carol", OTHER)
DEPLOYER = Principal(f"arn:aws:sts::{OTHER}:assumed-role/Deployer/ci-42", OTHER, role_arn=DEPLOYER_ROLE)

NONE = KeyPolicyResult(Decision.NONE)
DENY = KeyPolicyResult(Decision.DENY)
DIRECT = KeyPolicyResult(Decision.ALLOW, direct=True)
VIA = KeyPolicyResult(Decision.ALLOW, via_account=True)
BOTH = KeyPolicyResult(Decision.ALLOW, direct=True, via_account=True)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement | extra


def deny(principal: Any, action: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return allow(principal, action, condition, **extra) | {"Effect": "Deny"}


ROOT_STATEMENT = allow({"AWS": ROOT_ARN}, "kms:*")

ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
USER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
CONSOLE_STATEMENTS = [
    allow({"AWS": ADMIN_ROLE}, ADMIN_ACTIONS, Sid="Key administrators"),
    allow({"AWS": ALICE_ARN}, USER_ACTIONS, Sid="Key users"),
    allow(
        {"AWS": ALICE_ARN},
        ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        Sid="Grants for AWS resources",
    ),
]
CONSOLE = policy(ROOT_STATEMENT, *CONSOLE_STATEMENTS)
CONSOLE_WITHOUT_ROOT = policy(*CONSOLE_STATEMENTS)


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    principal: Principal
    action: str
    expected: KeyPolicyResult
    keys: ConditionKeys = field(default_factory=dict)
    resource: str = KEY_ARN


def ec(**pairs: str) -> dict[str, Any]:
    """Condition keys for an encryption context, as the service would lowercase them."""
    keys: dict[str, Any] = {f"kms:encryptioncontext:{k.lower()}": v for k, v in pairs.items()}
    keys["kms:encryptioncontextkeys"] = list(pairs)
    return keys


# kms:RequestAlias and kms:ResourceAliases conditions: (name, condition, request keys, expected)
ALIAS_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], KeyPolicyResult]] = [
    (
        "request-equals",
        {"StringEquals": {"kms:RequestAlias": "alias/finance"}},
        {"kms:requestalias": "alias/finance"},
        DIRECT,
    ),
    (
        "request-equals-other",
        {"StringEquals": {"kms:RequestAlias": "alias/finance"}},
        {"kms:requestalias": "alias/hr"},
        NONE,
    ),
    ("request-absent", {"StringEquals": {"kms:RequestAlias": "alias/finance"}}, {}, NONE),
    (
        "request-like",
        {"StringLike": {"kms:RequestAlias": "alias/finance-*"}},
        {"kms:requestalias": "alias/finance-eu"},
        DIRECT,
    ),
    (
        "request-like-other",
        {"StringLike": {"kms:RequestAlias": "alias/finance-*"}},
        {"kms:requestalias": "alias/fin"},
        NONE,
    ),
    (
        "resource-aliases-any",
        {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/app-*"}},
        {"kms:resourcealiases": ["alias/x", "alias/app-1"]},
        DIRECT,
    ),
    (
        "resource-aliases-none",
        {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/app-*"}},
        {"kms:resourcealiases": ["alias/x"]},
        NONE,
    ),
    ("resource-aliases-absent", {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/app-*"}}, {}, NONE),
]
# aws:ResourceTag, aws:RequestTag and aws:TagKeys: (name, action, condition, request keys, expected)
TAG_ROWS: list[tuple[str, str, dict[str, Any], dict[str, Any], KeyPolicyResult]] = [
    (
        "resource-tag",
        "kms:Encrypt",
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        {"aws:resourcetag/project": "Alpha"},
        DIRECT,
    ),
    (
        "resource-tag-other",
        "kms:Encrypt",
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        {"aws:resourcetag/project": "Beta"},
        NONE,
    ),
    ("resource-tag-absent", "kms:Encrypt", {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}}, {}, NONE),
    (
        "request-tag",
        "kms:TagResource",
        {"StringEquals": {"aws:RequestTag/Env": ["dev", "test"]}},
        {"aws:requesttag/env": "test"},
        DIRECT,
    ),
    (
        "request-tag-prod",
        "kms:TagResource",
        {"StringEquals": {"aws:RequestTag/Env": ["dev", "test"]}},
        {"aws:requesttag/env": "prod"},
        NONE,
    ),
    (
        "tag-keys-allowed",
        "kms:TagResource",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Env", "Owner"]}},
        {"aws:tagkeys": ["Env"]},
        DIRECT,
    ),
    (
        "tag-keys-extra",
        "kms:TagResource",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Env", "Owner"]}},
        {"aws:tagkeys": ["Env", "Secret"]},
        NONE,
    ),
]

DEFAULT = default_key_policy(ACCT, "us-east-1")

CASES = [
    # --- the default key policy: the account decides through IAM, other accounts get nothing
    Case("default/user-of-account", DEFAULT, ALICE, "kms:Encrypt", VIA),
    Case("default/root", DEFAULT, ROOT, "kms:PutKeyPolicy", VIA),
    Case("default/role-session", DEFAULT, ADMIN, "kms:ScheduleKeyDeletion", VIA),
    Case("default/action-case-insensitive", DEFAULT, ALICE, "KMS:encrypt", VIA),
    Case("default/other-account-user", DEFAULT, OTHER_USER, "kms:Decrypt", NONE),
    Case("default/other-account-root", DEFAULT, OTHER_ROOT, "kms:Decrypt", NONE),
    Case("default/not-a-kms-action", DEFAULT, ALICE, "sts:AssumeRole", NONE),
    # --- console policy: key administrators versus key users
    Case("console/admin-schedules-deletion", CONSOLE, ADMIN, "kms:ScheduleKeyDeletion", BOTH),
    Case("console/admin-encrypt-only-via-iam", CONSOLE, ADMIN, "kms:Encrypt", VIA),
    Case("console/user-encrypt", CONSOLE, ALICE, "kms:Encrypt", BOTH),
    Case("console/user-deletion-only-via-iam", CONSOLE, ALICE, "kms:ScheduleKeyDeletion", VIA),
    Case("console-no-root/admin-cannot-encrypt", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:Encrypt", NONE),
    Case("console-no-root/admin-cannot-decrypt", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:Decrypt", NONE),
    Case("console-no-root/user-cannot-schedule", CONSOLE_WITHOUT_ROOT, ALICE, "kms:ScheduleKeyDeletion", NONE),
    Case("console-no-root/user-cannot-put-policy", CONSOLE_WITHOUT_ROOT, ALICE, "kms:PutKeyPolicy", NONE),
    Case("console-no-root/admin-create-grant", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:CreateGrant", DIRECT),
    Case("console-no-root/admin-get-policy", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:GetKeyPolicy", DIRECT),
    Case("console-no-root/admin-put-policy", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:PutKeyPolicy", DIRECT),
    Case("console-no-root/admin-tag", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:TagResource", DIRECT),
    Case("console-no-root/admin-cancel", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:CancelKeyDeletion", DIRECT),
    Case("console-no-root/admin-no-replicate", CONSOLE_WITHOUT_ROOT, ADMIN, "kms:ReplicateKey", NONE),
    Case("console-no-root/user-reencrypt-from", CONSOLE_WITHOUT_ROOT, ALICE, "kms:ReEncryptFrom", DIRECT),
    Case(
        "console-no-root/user-gdk-no-plain", CONSOLE_WITHOUT_ROOT, ALICE, "kms:GenerateDataKeyWithoutPlaintext", DIRECT
    ),
    Case("console-no-root/user-describe", CONSOLE_WITHOUT_ROOT, ALICE, "kms:DescribeKey", DIRECT),
    Case("console-no-root/user-no-sign", CONSOLE_WITHOUT_ROOT, ALICE, "kms:Sign", NONE),
    Case("console-no-root/other-user-nothing", CONSOLE_WITHOUT_ROOT, BOB, "kms:Encrypt", NONE),
    Case(
        "console-no-root/grant-for-aws-resource",
        CONSOLE_WITHOUT_ROOT,
        ALICE,
        "kms:CreateGrant",
        DIRECT,
        {"kms:grantisforawsresource": "true"},
    ),
    Case(
        "console-no-root/grant-not-for-aws-resource",
        CONSOLE_WITHOUT_ROOT,
        ALICE,
        "kms:CreateGrant",
        NONE,
        {"kms:grantisforawsresource": "false"},
    ),
    Case("console-no-root/grant-flag-absent", CONSOLE_WITHOUT_ROOT, ALICE, "kms:CreateGrant", NONE),
    # --- cross-account
    Case(
        "xacct/other-root-names-account",
        policy(allow({"AWS": OTHER_ROOT_ARN}, "kms:Decrypt")),
        OTHER_USER,
        "kms:Decrypt",
        VIA,
    ),
    Case("xacct/bare-account-id", policy(allow({"AWS": OTHER}, "kms:Decrypt")), DEPLOYER, "kms:Decrypt", VIA),
    Case(
        "xacct/own-account-not-named", policy(allow({"AWS": OTHER_ROOT_ARN}, "kms:Decrypt")), ALICE, "kms:Decrypt", NONE
    ),
    Case(
        "xacct/role-matches-session",
        policy(allow({"AWS": DEPLOYER_ROLE}, "kms:Decrypt")),
        DEPLOYER,
        "kms:Decrypt",
        DIRECT,
    ),
    Case(
        "xacct/role-not-other-users",
        policy(allow({"AWS": DEPLOYER_ROLE}, "kms:Decrypt")),
        OTHER_USER,
        "kms:Decrypt",
        NONE,
    ),
    Case(
        "xacct/role-not-root",
        policy(allow({"AWS": DEPLOYER_ROLE}, "kms:Decrypt")),
        OTHER_ROOT,
        "kms:Decrypt",
        NONE,
    ),
    Case(
        "xacct/role-without-path-is-another-role",
        policy(allow({"AWS": f"arn:aws:iam::{OTHER}:role/Deployer"}, "kms:Decrypt")),
        DEPLOYER,
        "kms:Decrypt",
        NONE,
    ),
    Case(
        "xacct/session-arn-exact",
        policy(allow({"AWS": DEPLOYER.arn}, "kms:Decrypt")),
        DEPLOYER,
        "kms:Decrypt",
        DIRECT,
    ),
    Case(
        "xacct/other-session-of-role",
        policy(allow({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/Deployer/other"}, "kms:Decrypt")),
        DEPLOYER,
        "kms:Decrypt",
        NONE,
    ),
    Case(
        "xacct/account-and-role-both",
        policy(allow({"AWS": [OTHER_ROOT_ARN, DEPLOYER_ROLE]}, "kms:Decrypt")),
        DEPLOYER,
        "kms:Decrypt",
        BOTH,
    ),
    Case(
        "xacct/partition-differs",
        policy(allow({"AWS": f"arn:aws-cn:iam::{ACCT}:root"}, "kms:Decrypt")),
        ALICE,
        "kms:Decrypt",
        NONE,
    ),
    Case("anyone/star", policy(allow("*", "kms:Encrypt")), OTHER_USER, "kms:Encrypt", DIRECT),
    Case("anyone/aws-star", policy(allow({"AWS": "*"}, "kms:Encrypt")), OTHER_USER, "kms:Encrypt", DIRECT),
    Case(
        "service-principal-never-matches",
        policy(allow({"Service": "logs.us-east-1.amazonaws.com"}, "kms:*")),
        ROOT,
        "kms:Encrypt",
        NONE,
    ),
    # --- encryption context
    *[
        Case(
            f"ec/department-{name}",
            policy(
                allow({"AWS": ALICE_ARN}, "kms:Decrypt", {"StringEquals": {"kms:EncryptionContext:Department": "IT"}})
            ),
            ALICE,
            "kms:Decrypt",
            expected,
            keys,
        )
        for name, keys, expected in [
            ("equal", ec(Department="IT"), DIRECT),
            ("key-case-free", ec(DEPARTMENT="IT"), DIRECT),
            ("value-case-matters", ec(Department="it"), NONE),
            ("other-value", ec(Department="Sales"), NONE),
            ("absent", {}, NONE),
            ("other-pair-only", ec(Project="x"), NONE),
        ]
    ],
    *[
        Case(
            f"ec/any-key-{name}",
            policy(
                allow(
                    {"AWS": ALICE_ARN},
                    "kms:Encrypt",
                    {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]}},
                )
            ),
            ALICE,
            "kms:Encrypt",
            expected,
            keys,
        )
        for name, keys, expected in [
            ("one-listed", ec(Department="IT", Other="x"), DIRECT),
            ("none-listed", ec(Other="x"), NONE),
            ("absent", {}, NONE),
        ]
    ],
    *[
        Case(
            f"ec/all-keys-{name}",
            policy(
                allow(
                    {"AWS": ALICE_ARN},
                    "kms:Encrypt",
                    {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]}},
                )
            ),
            ALICE,
            "kms:Encrypt",
            expected,
            keys,
        )
        for name, keys, expected in [
            ("subset", ec(Department="IT"), DIRECT),
            ("all", ec(Department="IT", Project="p"), DIRECT),
            ("extra-key", ec(Department="IT", Other="x"), NONE),
            ("absent-is-vacuously-true", {}, DIRECT),
        ]
    ],
    Case(
        "ec/require-context-present",
        policy(allow({"AWS": ALICE_ARN}, "kms:Encrypt", {"Null": {"kms:EncryptionContextKeys": "false"}})),
        ALICE,
        "kms:Encrypt",
        DIRECT,
        ec(App="x"),
    ),
    Case(
        "ec/require-context-absent",
        policy(allow({"AWS": ALICE_ARN}, "kms:Encrypt", {"Null": {"kms:EncryptionContextKeys": "false"}})),
        ALICE,
        "kms:Encrypt",
        NONE,
    ),
    Case(
        "ec/deny-without-context",
        policy(ROOT_STATEMENT, deny("*", "kms:Encrypt", {"Null": {"kms:EncryptionContextKeys": "true"}})),
        ALICE,
        "kms:Encrypt",
        DENY,
    ),
    Case(
        "ec/deny-without-context-present",
        policy(ROOT_STATEMENT, deny("*", "kms:Encrypt", {"Null": {"kms:EncryptionContextKeys": "true"}})),
        ALICE,
        "kms:Encrypt",
        VIA,
        ec(App="x"),
    ),
    # --- aliases
    *[
        Case(
            f"alias/{name}",
            policy(allow({"AWS": ALICE_ARN}, "kms:Decrypt", condition)),
            ALICE,
            "kms:Decrypt",
            expected,
            keys,
        )
        for name, condition, keys, expected in ALIAS_ROWS
    ],
    # --- tags
    *[
        Case(f"tags/{name}", policy(allow({"AWS": ALICE_ARN}, action, condition)), ALICE, action, expected, keys)
        for name, action, condition, keys, expected in TAG_ROWS
    ],
    # --- network and transport guards in Deny statements
    *[
        Case(
            f"source-ip/{name}",
            policy(
                ROOT_STATEMENT,
                deny("*", "kms:*", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}),
            ),
            ALICE,
            "kms:Decrypt",
            expected,
            keys,
        )
        for name, keys, expected in [
            ("inside-v4", {"aws:sourceip": "192.0.2.7"}, VIA),
            ("inside-v6", {"aws:sourceip": "2001:db8::1"}, VIA),
            ("outside", {"aws:sourceip": "198.51.100.1"}, DENY),
            ("absent-negated-is-true", {}, DENY),
        ]
    ],
    Case(
        "source-ip/allow-inside",
        policy(allow({"AWS": ALICE_ARN}, "kms:Decrypt", {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
        ALICE,
        "kms:Decrypt",
        DIRECT,
        {"aws:sourceip": "192.0.2.200"},
    ),
    Case(
        "source-ip/allow-outside",
        policy(allow({"AWS": ALICE_ARN}, "kms:Decrypt", {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
        ALICE,
        "kms:Decrypt",
        NONE,
        {"aws:sourceip": "192.0.3.1"},
    ),
    Case(
        "tls/deny-plain",
        policy(ROOT_STATEMENT, deny("*", "kms:*", {"Bool": {"aws:SecureTransport": "false"}})),
        ALICE,
        "kms:Encrypt",
        DENY,
        {"aws:securetransport": "false"},
    ),
    Case(
        "tls/allow-tls",
        policy(ROOT_STATEMENT, deny("*", "kms:*", {"Bool": {"aws:SecureTransport": "false"}})),
        ALICE,
        "kms:Encrypt",
        VIA,
        {"aws:securetransport": "true"},
    ),
    # --- time, caller account, service, numbers, ARNs
    Case(
        "time/before-expiry",
        policy(allow({"AWS": ALICE_ARN}, "kms:Decrypt", {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
        ALICE,
        "kms:Decrypt",
        DIRECT,
        {"aws:currenttime": "2026-05-01T12:00:00Z"},
    ),
    Case(
        "time/after-expiry",
        policy(allow({"AWS": ALICE_ARN}, "kms:Decrypt", {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
        ALICE,
        "kms:Decrypt",
        NONE,
        {"aws:currenttime": "2030-01-01T00:00:01Z"},
    ),
    *[
        Case(
            f"managed-key/{name}",
            policy(
                allow(
                    {"AWS": "*"},
                    ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                    {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": ACCT}},
                ),
                allow({"AWS": ROOT_ARN}, ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"]),
            ),
            principal,
            action,
            expected,
            keys,
        )
        for name, principal, action, keys, expected in [
            (
                "through-service",
                ALICE,
                "kms:Decrypt",
                {"kms:viaservice": "ec2.us-east-1.amazonaws.com", "kms:calleraccount": ACCT},
                DIRECT,
            ),
            ("direct-call-no-via-service", ALICE, "kms:Decrypt", {"kms:calleraccount": ACCT}, NONE),
            (
                "other-service",
                ALICE,
                "kms:Decrypt",
                {"kms:viaservice": "rds.us-east-1.amazonaws.com", "kms:calleraccount": ACCT},
                NONE,
            ),
            (
                "other-account",
                OTHER_USER,
                "kms:Decrypt",
                {"kms:viaservice": "ec2.us-east-1.amazonaws.com", "kms:calleraccount": OTHER},
                NONE,
            ),
            ("describe-via-account", ALICE, "kms:DescribeKey", {"kms:calleraccount": ACCT}, VIA),
            ("no-management", ROOT, "kms:ScheduleKeyDeletion", {"kms:calleraccount": ACCT}, NONE),
        ]
    ],
    *[
        Case(
            f"pending-window/{days}",
            policy(
                ROOT_STATEMENT,
                deny(
                    "*",
                    "kms:ScheduleKeyDeletion",
                    {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}},
                ),
            ),
            ROOT,
            "kms:ScheduleKeyDeletion",
            expected,
            {"kms:schedulekeydeletionpendingwindowindays": days},
        )
        for days, expected in [("7", DENY), ("29", DENY), ("30", VIA)]
    ],
    *[
        Case(
            f"principal-arn/{name}",
            policy(
                allow({"AWS": "*"}, "kms:Decrypt", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/ops-*"}})
            ),
            principal,
            "kms:Decrypt",
            expected,
            {"aws:principalarn": arn},
        )
        for name, principal, arn, expected in [
            ("ops-role", ADMIN, f"arn:aws:iam::{ACCT}:role/ops-reader", DIRECT),
            ("other-role", ADMIN, f"arn:aws:iam::{ACCT}:role/dev-reader", NONE),
            ("other-account", DEPLOYER, f"arn:aws:iam::{OTHER}:role/ops-reader", NONE),
        ]
    ],
    # --- explicit deny wins wherever it stands
    Case(
        "deny/after-allow",
        policy(allow({"AWS": ALICE_ARN}, "kms:*"), deny({"AWS": ALICE_ARN}, "kms:Decrypt")),
        ALICE,
        "kms:Decrypt",
        DENY,
    ),
    Case(
        "deny/before-allow",
        policy(deny({"AWS": ALICE_ARN}, "kms:Decrypt"), allow({"AWS": ALICE_ARN}, "kms:*")),
        ALICE,
        "kms:Decrypt",
        DENY,
    ),
    Case(
        "deny/other-action-untouched",
        policy(deny({"AWS": ALICE_ARN}, "kms:Decrypt"), allow({"AWS": ALICE_ARN}, "kms:*")),
        ALICE,
        "kms:Encrypt",
        DIRECT,
    ),
    Case(
        "deny/account-principal-covers-its-users",
        policy(ROOT_STATEMENT, deny({"AWS": ACCT}, "kms:Decrypt")),
        ALICE,
        "kms:Decrypt",
        DENY,
    ),
    # --- NotAction, NotResource, NotPrincipal
    *[
        Case(
            f"not-action/{action}",
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ALICE_ARN},
                    "NotAction": ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"],
                    "Resource": "*",
                }
            ),
            ALICE,
            action,
            expected,
        )
        for action, expected in [
            ("kms:Encrypt", DIRECT),
            ("kms:ScheduleKeyDeletion", NONE),
            ("kms:putkeypolicy", NONE),
        ]
    ],
    *[
        Case(
            f"not-resource/{name}",
            policy(
                ROOT_STATEMENT,
                {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "NotResource": KEY_ARN},
            ),
            ALICE,
            "kms:Encrypt",
            expected,
            resource=resource,
        )
        for name, resource, expected in [("this-key", KEY_ARN, VIA), ("other-key", OTHER_KEY_ARN, DENY)]
    ],
    *[
        Case(
            f"not-principal/{name}",
            policy(
                ROOT_STATEMENT,
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": [ADMIN_ROLE, OTHER]},
                    "Action": "kms:ScheduleKeyDeletion",
                    "Resource": "*",
                },
            ),
            principal,
            "kms:ScheduleKeyDeletion",
            expected,
        )
        for name, principal, expected in [
            ("listed-role-session", ADMIN, VIA),
            ("unlisted-user", ALICE, DENY),
            ("root-unlisted", ROOT, DENY),
            ("listed-account-everyone-in-it", OTHER_USER, NONE),
        ]
    ],
    Case(
        "not-principal/allow-everyone-else",
        policy({"Effect": "Allow", "NotPrincipal": {"AWS": ALICE_ARN}, "Action": "kms:Encrypt", "Resource": "*"}),
        BOB,
        "kms:Encrypt",
        DIRECT,
    ),
    Case(
        "not-principal/allow-not-the-listed",
        policy({"Effect": "Allow", "NotPrincipal": {"AWS": ALICE_ARN}, "Action": "kms:Encrypt", "Resource": "*"}),
        ALICE,
        "kms:Encrypt",
        NONE,
    ),
    # --- Resource in a key policy: "*" is the key; an ARN pattern must match it
    Case(
        "resource/key-arn-pattern",
        policy(allow({"AWS": ALICE_ARN}, "kms:Encrypt", Resource=f"arn:aws:kms:*:{ACCT}:key/*")),
        ALICE,
        "kms:Encrypt",
        DIRECT,
    ),
    Case(
        "resource/other-key-arn",
        policy(allow({"AWS": ALICE_ARN}, "kms:Encrypt", Resource=OTHER_KEY_ARN)),
        ALICE,
        "kms:Encrypt",
        NONE,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_key_policy_cases(case: Case) -> None:
    compiled = CompiledPolicy.parse(case.policy, kind="key")
    ctx = RequestContext(case.principal, case.action, case.resource, case.keys)
    assert compiled.evaluate_key_policy(ctx) == case.expected


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ----------------------------------------------------------------- identity policies


IDENTITY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": f"arn:aws:kms:*:{ACCT}:key/*"},
            {"Effect": "Allow", "Action": ["kms:CreateKey", "kms:ListKeys"], "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": OTHER_KEY_ARN},
            {
                "Effect": "Allow",
                "Action": "iam:*AccessKey*",
                "Resource": f"arn:aws:iam::{ACCT}:user/${{aws:username}}",
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("action", "resource", "keys", "expected"),
    [
        ("kms:Encrypt", KEY_ARN, {}, Decision.ALLOW),
        ("kms:encrypt", KEY_ARN, {}, Decision.ALLOW),
        ("kms:Encrypt", f"arn:aws:kms:us-east-1:{OTHER}:key/abc", {}, Decision.NONE),
        ("kms:Decrypt", OTHER_KEY_ARN, {}, Decision.DENY),
        ("kms:Encrypt", OTHER_KEY_ARN, {}, Decision.ALLOW),
        ("kms:Sign", KEY_ARN, {}, Decision.NONE),
        ("kms:CreateKey", "*", {}, Decision.ALLOW),
        ("kms:Encrypt", "*", {}, Decision.NONE),  # an ARN pattern does not cover "no resource"
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCT}:user/alice", {"aws:username": "alice"}, Decision.ALLOW),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCT}:user/bob", {"aws:username": "alice"}, Decision.NONE),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCT}:user/alice", {}, Decision.NONE),  # root has no username
    ],
)
def test_identity_policy(action: str, resource: str, keys: ConditionKeys, expected: Decision) -> None:
    compiled = CompiledPolicy.parse(IDENTITY, kind="identity")
    assert compiled.evaluate_identity(RequestContext(ALICE, action, resource, keys)) is expected


def test_identity_and_key_evaluations_are_not_interchangeable() -> None:
    identity = CompiledPolicy.parse(IDENTITY, kind="identity")
    key = CompiledPolicy.parse(DEFAULT, kind="key")
    ctx = RequestContext(ALICE, "kms:Encrypt", KEY_ARN)
    with pytest.raises(ValueError, match="evaluate_identity"):
        identity.evaluate_key_policy(ctx)
    with pytest.raises(ValueError, match="evaluate_key_policy"):
        key.evaluate_identity(ctx)


# ----------------------------------------------------------------- trust policies


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OTHER_ROOT_ARN}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": ALICE_ARN}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:user/carol"}, "Action": "sts:*"},
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ],
    }
)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (ALICE, DIRECT),
        (BOB, NONE),
        (DEPLOYER, VIA),
        (OTHER_ROOT, VIA),
        (OTHER_USER, DENY),
        (ROOT, NONE),
    ],
)
def test_trust_policy(principal: Principal, expected: KeyPolicyResult) -> None:
    compiled = CompiledPolicy.parse(TRUST, kind="trust")
    role = f"arn:aws:iam::{ACCT}:role/Shared"
    assert compiled.evaluate_key_policy(RequestContext(principal, "sts:AssumeRole", role)) == expected
    assert compiled.evaluate_key_policy(RequestContext(principal, "sts:TagSession", role)).decision in (
        Decision.NONE,
        Decision.DENY,
    )


# ----------------------------------------------------------------- the lockout safety check


def _never() -> bool:
    raise AssertionError("identity policies must not be consulted here")


def test_lockout_default_policy_allows_the_root_without_asking_iam() -> None:
    compiled = CompiledPolicy.parse(DEFAULT, kind="key")
    assert compiled.allows_put_key_policy_for(ROOT, _never)


@pytest.mark.parametrize("identity_allows", [True, False])
def test_lockout_default_policy_defers_to_iam_for_other_principals(identity_allows: bool) -> None:
    compiled = CompiledPolicy.parse(DEFAULT, kind="key")
    asked: list[bool] = []

    def ask() -> bool:
        asked.append(True)
        return identity_allows

    assert compiled.allows_put_key_policy_for(ALICE, ask) is identity_allows
    assert asked == [True]


def test_lockout_policy_naming_only_another_user() -> None:
    compiled = CompiledPolicy.parse(policy(allow({"AWS": BOB.arn}, "kms:*")), kind="key")
    assert not compiled.allows_put_key_policy_for(ALICE, lambda: True)
    assert not compiled.allows_put_key_policy_for(ROOT, lambda: True)
    assert compiled.allows_put_key_policy_for(BOB, _never)


def test_lockout_deny_put_key_policy() -> None:
    compiled = CompiledPolicy.parse(
        policy(ROOT_STATEMENT, allow({"AWS": ALICE_ARN}, "kms:*"), deny("*", "kms:PutKeyPolicy")), kind="key"
    )
    assert not compiled.allows_put_key_policy_for(ROOT, lambda: True)
    assert not compiled.allows_put_key_policy_for(ALICE, lambda: True)


def test_lockout_uses_an_empty_condition_context() -> None:
    conditional = policy(allow({"AWS": ALICE_ARN}, "kms:*", {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))
    compiled = CompiledPolicy.parse(conditional, kind="key")
    assert not compiled.allows_put_key_policy_for(ALICE, lambda: True)
    assert compiled.allows_put_key_policy_for(ALICE, _never, condition_keys={"aws:sourceip": "192.0.2.1"})


def test_lockout_statement_naming_the_key_by_arn() -> None:
    compiled = CompiledPolicy.parse(policy(allow({"AWS": ALICE_ARN}, "kms:PutKeyPolicy", Resource=KEY_ARN)), kind="key")
    assert compiled.allows_put_key_policy_for(ALICE, _never, resource=KEY_ARN)
    assert not compiled.allows_put_key_policy_for(ALICE, lambda: True)


def test_lockout_console_admin_role_session() -> None:
    compiled = CompiledPolicy.parse(CONSOLE_WITHOUT_ROOT, kind="key")
    assert compiled.allows_put_key_policy_for(ADMIN, _never)  # kms:Put* names the admin role
    assert not compiled.allows_put_key_policy_for(ALICE, lambda: True)
