"""GetKeyLastUsage through a real server: the newest successful tracked use, naming its audit record."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TrentServer
from tests.e2e.helpers import new_key

pytestmark = pytest.mark.e2e


def last_use(kms: Any, key_id: str) -> dict[str, Any] | None:
    result = kms.get_key_last_usage(KeyId=key_id)
    return result.get("KeyLastUsage")


def test_a_new_key_has_no_last_use(kms: Any) -> None:
    key = new_key(kms)
    result = kms.get_key_last_usage(KeyId=key["Arn"])
    assert result["KeyId"] == key["Arn"]
    assert result["KeyCreationDate"] == key["CreationDate"]
    assert result["TrackingStartDate"] == key["CreationDate"]
    assert "KeyLastUsage" not in result or not result["KeyLastUsage"]


def test_the_newest_successful_tracked_use_counts(server: TrentServer, kms: Any) -> None:
    key = new_key(kms)
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "b"})
    use = last_use(kms, key["KeyId"])
    assert use is not None
    assert use["Operation"] == "Encrypt"
    assert use["KmsRequestId"] == encrypted["ResponseMetadata"]["RequestId"]
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": use["CloudTrailEventId"]}]
    )
    assert [event["EventName"] for event in events["Events"]] == ["Encrypt"]

    kms.describe_key(KeyId=key["KeyId"])  # not a tracked operation
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"a": "wrong"})  # failed
    assert last_use(kms, key["KeyId"]) == use

    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"a": "b"})
    use = last_use(kms, key["KeyId"])
    assert use is not None
    assert use["Operation"] == "Decrypt"
    assert use["KmsRequestId"] == decrypted["ResponseMetadata"]["RequestId"]


def test_re_encrypt_counts_for_both_keys_and_sign_for_asymmetric_keys(kms: Any) -> None:
    source, destination = new_key(kms), new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    for key in (source, destination):
        use = last_use(kms, key["KeyId"])
        assert use is not None
        assert use["Operation"] == "ReEncrypt"
        assert use["KmsRequestId"] == moved["ResponseMetadata"]["RequestId"]
    signer = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    kms.get_public_key(KeyId=signer["KeyId"])  # not tracked
    assert not last_use(kms, signer["KeyId"])
    kms.sign(KeyId=signer["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    use = last_use(kms, signer["KeyId"])
    assert use is not None
    assert use["Operation"] == "Sign"


def test_aliases_are_not_accepted(kms: Any) -> None:
    key = new_key(kms)
    alias = f"alias/last-use-{key['KeyId'][:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as info:
        kms.get_key_last_usage(KeyId=alias)
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_through_the_aws_cli(server: TrentServer, kms: Any) -> None:
    key = new_key(kms)
    kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    result = server.aws("kms", "get-key-last-usage", "--key-id", key["KeyId"])
    assert result["KeyLastUsage"]["Operation"] == "GenerateDataKey"
