"""Domain objects for tests that need one without going through the service."""

from __future__ import annotations

from datetime import UTC, datetime

from trent.domain.keys import Key, KeyState


def symmetric_key(key_id: str, account: str = "111122223333", region: str = "us-east-1", **changes: object) -> Key:
    """An enabled SYMMETRIC_DEFAULT customer key; ``changes`` set any other field."""
    key = Key(
        key_id=key_id,
        account_id=account,
        region=region,
        arn=f"arn:aws:kms:{region}:{account}:key/{key_id}",
        creation_date=datetime.now(UTC),
        description="",
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        origin="AWS_KMS",
        key_manager="CUSTOMER",
        state=KeyState.ENABLED,
        policy="{}",
    )
    for name, value in changes.items():
        setattr(key, name, value)
    return key
