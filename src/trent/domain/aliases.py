"""Aliases: friendly names for keys, unique per account and Region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Alias:
    account_id: str
    region: str
    alias_name: str
    target_key_id: str
    creation_date: datetime
    last_updated_date: datetime


@dataclass(frozen=True, slots=True)
class PredefinedAlias:
    """An ``alias/aws/<service>`` name AWS lists in every account before its key exists.

    ListAliases shows it with only AliasName and AliasArn; the first use of the alias creates the
    AWS managed key, and from then on it is an ordinary stored ``Alias``.
    """

    account_id: str
    region: str
    alias_name: str


# Services whose AWS managed key (alias/aws/<service>) Trent creates on first use, as AWS does
# for its integrated services. Other alias/aws/ names do not exist, as in AWS.
AWS_MANAGED_SERVICES = frozenset(
    {
        "acm", "backup", "cloudtrail", "codeartifact", "codecommit", "connect", "dms", "docdb", "dynamodb",
        "ebs", "ecr", "elasticfilesystem", "es", "fsx", "glue", "kafka", "kinesis", "kinesisvideo", "lambda",
        "lightsail", "logs", "rds", "redshift", "s3", "secretsmanager", "sns", "sqs", "ssm", "timestream",
        "xray",
    }
)  # fmt: skip

# The alias/aws/ names ListAliases shows in a fresh account (without TargetKeyId), as AWS does.
PREDEFINED_AWS_ALIASES = tuple(
    sorted(
        "alias/aws/" + service
        for service in (
            "acm", "dynamodb", "ebs", "elasticfilesystem", "es", "glue", "kinesisvideo", "lambda", "rds",
            "redshift", "s3", "secretsmanager", "ssm", "xray",
        )
    )
)  # fmt: skip
