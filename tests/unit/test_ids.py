"""Reading KeyId parameters the way AWS does."""

from __future__ import annotations

import pytest

from trent.domain.errors import NotFoundException
from trent.domain.ids import alias_arn, key_arn, key_id_from_bytes, key_id_to_bytes, new_key_id, parse_key_reference

KID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def test_key_id_and_arn() -> None:
    ref = parse_key_reference(KID, "us-east-1", allow_alias=True)
    assert (ref.kind, ref.value, ref.account_id) == ("key", KID, None)
    ref = parse_key_reference(key_arn("us-east-1", "444455556666", KID), "us-east-1", allow_alias=False)
    assert (ref.kind, ref.value, ref.account_id) == ("key", KID, "444455556666")


def test_alias_name_and_arn() -> None:
    ref = parse_key_reference("alias/orders", "eu-west-1", allow_alias=True)
    assert (ref.kind, ref.value, ref.account_id) == ("alias", "alias/orders", None)
    ref = parse_key_reference(alias_arn("eu-west-1", "111122223333", "alias/a/b"), "eu-west-1", allow_alias=True)
    assert (ref.kind, ref.value, ref.account_id) == ("alias", "alias/a/b", "111122223333")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fake-key-id", "Invalid keyId 'fake-key-id'"),
        ("1234ABCD-12AB-34CD-56EF-1234567890AB", "Invalid keyId '1234ABCD-12AB-34CD-56EF-1234567890AB'"),
        (f"arn:aws:kms:eu-west-1:111122223333:key/{KID}", "Invalid arn eu-west-1"),
    ],
)
def test_bad_references(text: str, message: str) -> None:
    with pytest.raises(NotFoundException) as info:
        parse_key_reference(text, "us-east-1", allow_alias=True)
    assert info.value.message == message


def test_alias_refused_where_only_keys_are_accepted() -> None:
    with pytest.raises(NotFoundException):
        parse_key_reference("alias/orders", "us-east-1", allow_alias=False)


def test_partitions() -> None:
    assert key_arn("cn-north-1", "111122223333", KID).startswith("arn:aws-cn:kms:cn-north-1:")
    assert key_arn("us-gov-west-1", "111122223333", KID).startswith("arn:aws-us-gov:")


@pytest.mark.parametrize("multi_region", [False, True])
def test_key_id_bytes_round_trip(multi_region: bool) -> None:
    key_id = new_key_id(multi_region)
    flags, raw = key_id_to_bytes(key_id)
    assert len(raw) == 16
    assert key_id_from_bytes(flags, raw) == key_id
