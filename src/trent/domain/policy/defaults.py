"""The key policy CreateKey attaches when the caller gives none, and the name every key policy has."""

from __future__ import annotations

import json

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
