"""The key policy CreateKey attaches when the caller gives none, and the name every key policy has."""

from __future__ import annotations

import json

from trent.crypto.asymmetric import ASYMMETRIC_KEY_SPECS
from trent.domain.ids import account_root_arn

DEFAULT_POLICY_NAME = "default"


def default_key_policy(account_id: str, region: str) -> str:
    """The policy CreateKey attaches when none is given, in AWS's pretty-printed form."""
    root = account_root_arn(account_id, region)
    return (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        f'      "AWS" : "{root}"\n'
        "    },\n"
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        "  } ]\n"
        "}"
    )


def aws_managed_key_policy(account_id: str, region: str, service: str) -> str:
    """The policy of an AWS managed key (alias/aws/<service>), in AWS's form.

    AWS's first statement also requires kms:ViaService = <service>.<region>.amazonaws.com: only the
    service itself can use the key. Trent has no integrated services (the applications calling it
    play that part), so that condition is left out: any principal of the account may use the key
    for these operations, and nothing else can be done to it (no disable, delete, tag, alias or
    policy change), as in AWS.
    """
    root = account_root_arn(account_id, region)
    document = {
        "Version": "2012-10-17",
        "Id": f"auto-{service}-1",
        "Statement": [
            {
                "Sid": f"Allow access through {service} for all principals in the account that are authorized "
                f"to use {service}",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account_id}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }
    return json.dumps(document, indent=2, separators=(",", " : "))


# What AWS's console lets key administrators do (its "Allow access for Key Administrators" statement).
_ADMINISTRATOR_ACTIONS = (
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
    "kms:RotateKeyOnDemand",
)
# ... and key users, by key usage (its "Allow use of the key" statement).
_USER_ACTIONS = {
    ("symmetric", "ENCRYPT_DECRYPT"): (
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ),
    ("asymmetric", "ENCRYPT_DECRYPT"): (
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:DescribeKey",
        "kms:GetPublicKey",
    ),
    ("asymmetric", "SIGN_VERIFY"): ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"),
    ("asymmetric", "KEY_AGREEMENT"): ("kms:DescribeKey", "kms:GetPublicKey", "kms:DeriveSharedSecret"),
    ("symmetric", "GENERATE_VERIFY_MAC"): ("kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"),
}


def console_key_policy(
    account_id: str,
    region: str,
    *,
    key_spec: str,
    key_usage: str,
    administrators: list[str],
    users: list[str],
) -> str:
    """The key policy AWS's console writes for the key administrators and key users picked when a key
    is created: the account statement of ``default_key_policy``, then one statement for the
    administrators, one for the users and, except for HMAC keys, one letting the users attach the
    key to AWS resources through grants."""
    statements: list[dict[str, object]] = list(json.loads(default_key_policy(account_id, region))["Statement"])
    if administrators:
        statements.append(
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": administrators},
                "Action": list(_ADMINISTRATOR_ACTIONS),
                "Resource": "*",
            }
        )
    actions = _USER_ACTIONS.get(("asymmetric" if key_spec in ASYMMETRIC_KEY_SPECS else "symmetric", key_usage))
    if users and actions:
        statements.append(
            {
                "Sid": "Allow use of the key",
                "Effect": "Allow",
                "Principal": {"AWS": users},
                "Action": list(actions),
                "Resource": "*",
            }
        )
        if key_usage != "GENERATE_VERIFY_MAC":
            statements.append(
                {
                    "Sid": "Allow attachment of persistent resources",
                    "Effect": "Allow",
                    "Principal": {"AWS": users},
                    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                }
            )
    document = {"Id": "key-consolepolicy-3", "Version": "2012-10-17", "Statement": statements}
    return json.dumps(document, indent=2)


def console_policy_people(
    policy: str, account_id: str, region: str, *, key_spec: str, key_usage: str
) -> tuple[list[str], list[str]] | None:
    """(key administrators, key users) when ``policy`` is what ``console_key_policy`` writes for
    them (its Id aside, so the API's default policy is the case of nobody picked); None when it
    says anything else, and only the JSON can show it."""
    try:
        document = json.loads(policy)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        return None
    picked: dict[str, list[str]] = {}
    for statement in document["Statement"]:
        if not isinstance(statement, dict):
            return None
        principal = statement.get("Principal")
        arns = principal.get("AWS") if isinstance(principal, dict) else None
        if isinstance(arns, str):
            arns = [arns]
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            return None
        picked.setdefault(str(statement.get("Sid")), arns)
    administrators = picked.get("Allow access for Key Administrators", [])
    users = picked.get("Allow use of the key", [])
    expected = json.loads(
        console_key_policy(
            account_id, region, key_spec=key_spec, key_usage=key_usage, administrators=administrators, users=users
        )
    )
    if {k: v for k, v in document.items() if k != "Id"} != {k: v for k, v in expected.items() if k != "Id"}:
        return None
    return administrators, users
