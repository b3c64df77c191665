"""Multi-Region keys through a real server: replicas in other Regions of the same deployment share
the key id and material, so what one encrypts or signs another decrypts or verifies (spec 7.4)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.e2e.helpers import aws_error, new_key, rotate_on_demand
from tests.e2e.test_import import import_material

pytestmark = pytest.mark.e2e

PRIMARY = "us-east-1"
REPLICA = "eu-west-1"
THIRD = "ap-southeast-2"
DAY = 86400


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def state(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])


def replicate(server: TrentServer, key_id: str, region: str, **kwargs: Any) -> dict[str, Any]:
    kms = server.client()
    result = dict(kms.replicate_key(KeyId=key_id, ReplicaRegion=region, **kwargs))
    there = server.client(region=region)
    wait_for(lambda: state(there, key_id) != "Creating", "the replica to leave Creating")
    return result


def test_create_replicate_and_describe_everywhere(server: TrentServer) -> None:
    kms = server.client()
    key = new_key(kms, MultiRegion=True, Description="primary")
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key["KeyId"])
    assert key["MultiRegion"] is True
    assert key["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key["Arn"], "Region": PRIMARY},
        "ReplicaKeys": [],
    }
    result = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=REPLICA, Tags=[{"TagKey": "t", "TagValue": "v"}])
    replica = result["ReplicaKeyMetadata"]
    replica_arn = f"arn:aws:kms:{REPLICA}:{ACCOUNT_ID}:key/{key['KeyId']}"
    assert replica["Arn"] == replica_arn
    assert replica["KeyId"] == key["KeyId"]
    assert replica["KeyState"] == "Creating"
    assert replica["Enabled"] is False
    assert replica["Description"] == ""
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert json.loads(result["ReplicaPolicy"])["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert result["ReplicaTags"] == [{"TagKey": "t", "TagValue": "v"}]

    there = server.client(region=REPLICA)
    wait_for(lambda: state(there, key["KeyId"]) == "Enabled", "the replica to be enabled")
    topology = {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key["Arn"], "Region": PRIMARY},
        "ReplicaKeys": [{"Arn": replica_arn, "Region": REPLICA}],
    }
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"] == topology
    assert there.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"] == {
        **topology,
        "MultiRegionKeyType": "REPLICA",
    }
    # Independent: tags and description are the replica's own.
    assert there.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "t", "TagValue": "v"}]
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_the_replica_region_records_its_create_key(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(fresh_server, key_id, REPLICA)
    trail = fresh_server.client("cloudtrail", region=REPLICA)
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}])
    records = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
    assert [(r["eventType"], r["awsRegion"]) for r in records] == [("AwsServiceEvent", REPLICA)]
    assert records[0]["resources"][0]["ARN"] == f"arn:aws:kms:{REPLICA}:{ACCOUNT_ID}:key/{key_id}"


def test_ciphertexts_and_signatures_cross_regions(server: TrentServer) -> None:
    kms, there = server.client(), server.client(region=REPLICA)
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(server, key_id, REPLICA)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"from the primary", EncryptionContext={"a": "b"})["CiphertextBlob"]
    decrypted = there.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert decrypted["Plaintext"] == b"from the primary"
    assert decrypted["KeyId"] == f"arn:aws:kms:{REPLICA}:{ACCOUNT_ID}:key/{key_id}"
    back = there.encrypt(KeyId=key_id, Plaintext=b"from the replica")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"from the replica"

    signer = new_key(kms, MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    replicate(server, signer, REPLICA)
    assert there.get_public_key(KeyId=signer)["PublicKey"] == kms.get_public_key(KeyId=signer)["PublicKey"]
    signature = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verified = there.verify(KeyId=signer, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    assert verified["SignatureValid"] is True


def test_replication_rules(server: TrentServer) -> None:
    kms = server.client()
    single = new_key(kms)
    with aws_error(kms, "UnsupportedOperationException", f"{single['Arn']} is not a multi-region primary key."):
        kms.replicate_key(KeyId=single["KeyId"], ReplicaRegion=REPLICA)
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(server, key_id, REPLICA)
    with aws_error(kms, "AlreadyExistsException"):
        kms.replicate_key(KeyId=key_id, ReplicaRegion=REPLICA)
    there = server.client(region=REPLICA)
    replica_arn = f"arn:aws:kms:{REPLICA}:{ACCOUNT_ID}:key/{key_id}"
    with aws_error(there, "UnsupportedOperationException", f"{replica_arn} is not a multi-region primary key."):
        there.replicate_key(KeyId=key_id, ReplicaRegion=THIRD)
    kms.disable_key(KeyId=key_id)
    with aws_error(kms, "DisabledException"):
        kms.replicate_key(KeyId=key_id, ReplicaRegion=THIRD)
    assert state(there, key_id) == "Enabled"  # states are independent


def test_update_primary_region_swaps_roles(server: TrentServer) -> None:
    kms, there = server.client(), server.client(region=REPLICA)
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    replicate(server, key_id, REPLICA)
    assert kms.update_primary_region(KeyId=key_id, PrimaryRegion=REPLICA)["ResponseMetadata"]["HTTPStatusCode"] == 200
    configuration = there.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert configuration["MultiRegionKeyType"] == "PRIMARY"
    assert configuration["PrimaryKey"]["Region"] == REPLICA
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == (
        "REPLICA"
    )
    status = there.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    with aws_error(kms, "UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=key_id)  # rotation is set on the primary only
    with aws_error(there, "NotFoundException"):
        there.update_primary_region(KeyId=key_id, PrimaryRegion=THIRD)  # no replica there


def test_rotation_on_the_primary_reaches_the_replicas(server: TrentServer) -> None:
    kms, there = server.client(), server.client(region=REPLICA)
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(server, key_id, REPLICA)
    old_blob = there.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    rotate_on_demand(kms, key_id)
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert there.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == current
    assert there.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"before"
    assert (
        kms.decrypt(CiphertextBlob=there.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"])["KeyMaterialId"]
        == current
    )
    with aws_error(there, "UnsupportedOperationException"):
        there.rotate_key_on_demand(KeyId=key_id)


def test_the_primary_waits_for_its_replicas_before_deletion(fresh_server: TrentServer) -> None:
    kms, there = fresh_server.client(), fresh_server.client(region=REPLICA)
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(fresh_server, key_id, REPLICA)
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingReplicaDeletion"
    assert "DeletionDate" not in scheduled
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["PendingDeletionWindowInDays"] == 7
    assert "DeletionDate" not in metadata
    there.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 7 * DAY + 1})
    wait_for(lambda: kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion", "the primary")
    assert "MultiRegionConfiguration" in kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["ReplicaKeys"] == []
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 7 * DAY + 1})

    def primary_gone() -> bool:
        try:
            kms.describe_key(KeyId=key_id)
        except kms.exceptions.NotFoundException:
            return True
        return False

    wait_for(primary_gone, "the primary's deletion")


def test_cancel_restores_a_primary_waiting_for_replicas(server: TrentServer) -> None:
    kms = server.client()
    key_id = new_key(kms, MultiRegion=True)["KeyId"]
    replicate(server, key_id, THIRD)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    kms.cancel_key_deletion(KeyId=key_id)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Disabled"
    assert "PendingDeletionWindowInDays" not in metadata


def test_a_replica_of_an_imported_key_takes_its_own_import(server: TrentServer) -> None:
    kms, there = server.client(), server.client(region=REPLICA)
    key_id = new_key(kms, MultiRegion=True, Origin="EXTERNAL")["KeyId"]
    material = bytes(range(32))
    import_material(kms, key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    replicate(server, key_id, REPLICA)
    assert state(there, key_id) == "PendingImport"
    import_material(there, key_id, material)
    assert there.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


def test_through_the_aws_cli(server: TrentServer) -> None:
    key = server.aws("kms", "create-key", "--multi-region")["KeyMetadata"]
    assert key["KeyId"].startswith("mrk-")
    result = server.aws("kms", "replicate-key", "--key-id", key["KeyId"], "--replica-region", THIRD)
    assert result["ReplicaKeyMetadata"]["Arn"].startswith(f"arn:aws:kms:{THIRD}:")
