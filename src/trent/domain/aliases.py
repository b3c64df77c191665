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
