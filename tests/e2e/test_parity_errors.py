"""AWS parity: error bodies as AWS sends them, the precedence of key-state checks, and the
asynchronous on-demand rotation, through boto3 against a real server."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, new_key, wait_on_demand_rotation

pytestmark = pytest.mark.e2e


def wire_error(client: Any, call: Callable[[], object]) -> dict[str, Any]:
    """The JSON error body exactly as the server sent it (boto3 fills in a missing message)."""
    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    client.meta.events.register("after-call", keep)
    try:
        with pytest.raises(client.exceptions.ClientError):
            call()
    finally:
        client.meta.events.unregister("after-call", keep)
    return dict(json.loads(bodies[-1]))


# ===================================================================== error bodies


def test_errors_without_a_message_have_no_message_member(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    body = wire_error(kms, lambda: kms.decrypt(CiphertextBlob=b"\x01" * 60, KeyId=key_id))
    assert body == {"__type": "InvalidCiphertextException"}

    signing = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    body = wire_error(
        kms,
        lambda: kms.verify(KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256", Signature=b"not a signature"),
    )
    assert body == {"__type": "KMSInvalidSignatureException"}

    mac_key = new_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyId"]
    body = wire_error(
        kms, lambda: kms.verify_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b"x" * 32)
    )
    assert body == {"__type": "KMSInvalidMacException"}

    body = wire_error(kms, lambda: kms.rotate_key_on_demand(KeyId=signing))
    assert body == {"__type": "UnsupportedOperationException"}


def test_errors_with_a_message_keep_it(kms: Any) -> None:
    key = new_key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    body = wire_error(kms, lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
    assert body == {"__type": "DisabledException", "message": f"{key['Arn']} is disabled."}


# ===================================================================== state before usage and spec


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC"), ("ECC_NIST_P256", "KEY_AGREEMENT")],
)
def test_a_disabled_key_answers_disabled_before_unsupported(kms: Any, spec: str, usage: str) -> None:
    key = new_key(kms, KeySpec=spec, KeyUsage=usage)
    kms.disable_key(KeyId=key["KeyId"])
    disabled = f"{key['Arn']} is disabled."
    with aws_error(kms, "DisabledException", disabled):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    with aws_error(kms, "DisabledException", disabled):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    with aws_error(kms, "DisabledException", disabled):
        kms.disable_key_rotation(KeyId=key["KeyId"])
    with aws_error(kms, "DisabledException", disabled):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")  # wrong usage too, but disabled comes first
    with aws_error(kms, "DisabledException", disabled):
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    # Rotation status is readable in any state: the spec answers.
    with aws_error(kms, "UnsupportedOperationException"):
        kms.get_key_rotation_status(KeyId=key["KeyId"])


def test_sign_checks_state_then_usage_then_algorithm_then_digest(kms: Any) -> None:
    signing = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    encrypting = new_key(kms)
    digest = hashlib.sha256(b"m").digest()
    with aws_error(
        kms,
        "InvalidKeyUsageException",
        f"{encrypting['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign.",
    ):
        kms.sign(KeyId=encrypting["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    with aws_error(
        kms, "InvalidKeyUsageException", "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."
    ):
        kms.sign(KeyId=signing["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_384")
    with aws_error(kms, "ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256."):
        kms.sign(KeyId=signing["KeyId"], Message=digest[:20], MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    kms.disable_key(KeyId=signing["KeyId"])
    with aws_error(kms, "DisabledException", f"{signing['Arn']} is disabled."):
        kms.sign(KeyId=signing["KeyId"], Message=digest[:20], MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_384")


# ===================================================================== aliases


def test_alias_targets_and_predefined_aliases(kms: Any) -> None:
    key = new_key(kms)
    name = f"alias/parity-{key['KeyId']}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"
    for target in (name, alias_arn):
        with aws_error(kms, "ValidationException", "Aliases must refer to keys. Not aliases"):
            kms.create_alias(AliasName=name + "-2", TargetKeyId=target)
    body = wire_error(kms, lambda: kms.create_alias(AliasName="alias/aws/parity", TargetKeyId=key["KeyId"]))
    assert body == {"__type": "NotAuthorizedException"}
    listed = {a["AliasName"]: a for a in kms.get_paginator("list_aliases").paginate().build_full_result()["Aliases"]}
    assert listed[name]["AliasArn"] == alias_arn
    assert listed[name]["TargetKeyId"] == key["KeyId"]
    assert listed[name]["CreationDate"] == listed[name]["LastUpdatedDate"]
    assert listed["alias/aws/lambda"] == {
        "AliasName": "alias/aws/lambda",
        "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/aws/lambda",
    }


# ===================================================================== on-demand rotation


def test_on_demand_rotation_runs_in_the_background(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key = new_key(kms)
    before = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    started = kms.get_key_rotation_status(KeyId=key["KeyId"])
    # Started, and (unless a sweep was quicker than this request) not yet done.
    if "OnDemandRotationStartDate" in started:
        assert abs(started["OnDemandRotationStartDate"].timestamp() - time.time()) < 60
    wait_on_demand_rotation(kms, key["KeyId"])
    after = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert after != before
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [(r["KeyMaterialId"], r["RotationType"], r["KeyMaterialState"]) for r in rotations] == [
        (after, "ON_DEMAND", "CURRENT")
    ]
    # The background rotation is recorded as CloudTrail's RotateKey service event.
    trail = fresh_server.client("cloudtrail")
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "RotateKey"}])
    records = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
    assert [(r["eventType"], r["additionalEventData"]["rotationType"]) for r in records] == [
        ("AwsServiceEvent", "ON_DEMAND")
    ]
    assert records[0]["additionalEventData"]["keyMaterialId"] == after


def test_a_second_on_demand_rotation_while_one_runs_is_a_conflict(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    # A sweep can finish the first rotation between two requests; retry until one overlaps.
    for _ in range(20):
        kms.rotate_key_on_demand(KeyId=key_id)
        try:
            kms.rotate_key_on_demand(KeyId=key_id)
        except kms.exceptions.ConflictException:
            break
        wait_on_demand_rotation(kms, key_id)
    else:
        pytest.fail("no second RotateKeyOnDemand overlapped a running one in 20 tries")
    wait_on_demand_rotation(kms, key_id)
    assert "OnDemandRotationStartDate" not in kms.get_key_rotation_status(KeyId=key_id)


# ===================================================================== multi-Region


def test_replicate_key_of_a_replica_is_refused_in_any_state(fresh_server: TrentServer) -> None:
    kms, there = fresh_server.client(), fresh_server.client(region="us-west-2")
    primary = new_key(kms, MultiRegion=True)
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="us-west-2")
    assert replica["ReplicaTags"] == []
    assert replica["ReplicaKeyMetadata"]["CurrentKeyMaterialId"] == primary["CurrentKeyMaterialId"]
    replica_arn = replica["ReplicaKeyMetadata"]["Arn"]
    message = f"{replica_arn} is not a multi-region primary key."
    with aws_error(there, "UnsupportedOperationException", message):  # still Creating
        there.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    deadline = time.monotonic() + 10
    while there.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["KeyState"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with aws_error(there, "UnsupportedOperationException", message):
        there.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")


# ===================================================================== CloudTrail


def test_lookup_events_max_results_above_50(kms: Any, server: TrentServer) -> None:
    trail = server.client("cloudtrail")
    with aws_error(trail, "InvalidMaxResultsException"):
        trail.lookup_events(MaxResults=51)
    assert len(trail.lookup_events(MaxResults=50)["Events"]) <= 50
