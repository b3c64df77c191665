"""The key policy CreateKey attaches when the caller gives none, and the name every key policy has."""

from __future__ import annotations

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
