"""Key rotation through a real server: automatic (the clock moves, nobody waits), on demand, listing,
restarts, state rules, and every ciphertext ever made still decrypting (spec/kms-api.md 7.1)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TrentServer
from tests.e2e.helpers import aws_error, new_key, rotate_on_demand
from tests.e2e.test_key_lifecycle import unvalidated_client

pytestmark = pytest.mark.e2e

DAY = 86400


def current_material(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rotation_records(server: TrentServer) -> list[dict[str, Any]]:
    db = sqlite3.connect(server.data_dir / "trent.db")
    try:
        rows = db.execute("SELECT record FROM audit_events WHERE event_name = 'RotateKey' ORDER BY sequence")
        return [json.loads(bytes(row[0])) for row in rows]
    finally:
        db.close()


def test_enable_rotation_reports_the_schedule(kms: Any) -> None:
    key = new_key(kms)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert status["KeyId"] == key["Arn"]
    assert "NextRotationDate" not in status
    before = datetime.now(UTC)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["Arn"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    expected = before + timedelta(days=365)
    assert abs((status["NextRotationDate"] - expected).total_seconds()) < 60
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)  # a new period, same anchor
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["RotationPeriodInDays"] == 90
    assert abs((status["NextRotationDate"] - (before + timedelta(days=90))).total_seconds()) < 60
    kms.disable_key_rotation(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in status


@pytest.mark.parametrize(
    ("period", "bound"), [(89, "greater than or equal to 90"), (2561, "less than or equal to 2560")]
)
def test_rotation_period_bounds(server: TrentServer, kms: Any, period: int, bound: str) -> None:
    key = new_key(kms)
    raw = unvalidated_client(server)  # botocore itself refuses 89; other SDKs may send it
    with aws_error(raw, "ValidationException") as caught:
        raw.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=period)
    assert f"Value '{period}' at 'rotationPeriodInDays' failed to satisfy constraint" in caught.message
    assert bound in caught.message


def test_automatic_rotation_keeps_every_ciphertext_decryptable(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    first = current_material(kms, key_id)
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation", EncryptionContext={"k": "v"})["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 89 * DAY})
    time.sleep(0.5)  # a couple of sweeps: not due yet
    assert current_material(kms, key_id) == first
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": DAY + 1})
    wait_for(lambda: current_material(kms, key_id) != first, "the automatic rotation")
    second = current_material(kms, key_id)

    new = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation")
    assert new["KeyId"].endswith(key_id)
    decrypted_new = kms.decrypt(CiphertextBlob=new["CiphertextBlob"])
    assert decrypted_new["KeyMaterialId"] == second
    decrypted_old = kms.decrypt(CiphertextBlob=old_blob, EncryptionContext={"k": "v"})
    assert decrypted_old["Plaintext"] == b"before rotation"
    assert decrypted_old["KeyMaterialId"] == first
    moved = kms.re_encrypt(
        CiphertextBlob=old_blob,
        SourceEncryptionContext={"k": "v"},
        DestinationKeyId=key_id,
        DestinationEncryptionContext={"k": "v"},
    )
    assert moved["SourceKeyMaterialId"] == first
    assert moved["DestinationKeyMaterialId"] == second

    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [(r["KeyMaterialId"], r["RotationType"], r["KeyMaterialState"]) for r in rotations] == [
        (second, "AUTOMATIC", "CURRENT")
    ]
    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in everything] == [
        (first, "NON_CURRENT"),
        (second, "CURRENT"),
    ]
    assert "RotationDate" not in everything[0]
    status = kms.get_key_rotation_status(KeyId=key_id)
    # The next rotation is one period after the one that just happened.
    assert abs((status["NextRotationDate"] - rotations[0]["RotationDate"]).total_seconds() - 90 * DAY) < 120

    (record,) = rotation_records(fresh_server)
    assert record["eventType"] == "AwsServiceEvent"
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["resources"][0]["ARN"].endswith(key_id)
    assert record["additionalEventData"]["keyMaterialId"] == second


def test_a_rotation_due_while_trent_was_down_happens_at_the_next_start(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    first = current_material(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"across the restart")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    fresh_server.stop()
    fresh_server.env["TRENT_DEV_CLOCK_OFFSET_SECONDS"] = str(200 * DAY)  # down for 200 days
    fresh_server.start()
    kms = fresh_server.client()
    wait_for(lambda: current_material(kms, key_id) != first, "the rotation missed while down")
    # One rotation, not two, and the next one a whole period after it.
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across the restart"


def test_a_disabled_key_is_not_rotated_until_enabled_again(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    canary = new_key(kms)["KeyId"]
    first = current_material(kms, key_id)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.enable_key_rotation(KeyId=canary, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    with aws_error(kms, "DisabledException", f"{kms.describe_key(KeyId=key_id)['KeyMetadata']['Arn']} is disabled."):
        kms.enable_key_rotation(KeyId=key_id)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 91 * DAY})
    # Advancing the clock runs the sweeps that became due before it answers.
    assert len(kms.list_key_rotations(KeyId=canary)["Rotations"]) == 1
    assert current_material(kms, key_id) == first  # the sweep ran, the disabled key stayed
    kms.enable_key(KeyId=key_id)
    wait_for(lambda: current_material(kms, key_id) != first, "the overdue rotation after enabling")


def test_pending_deletion_reads_false_and_cancel_restores(kms: Any) -> None:
    key = new_key(kms)
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=180)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    with aws_error(kms, "KMSInvalidStateException", f"{key['Arn']} is pending deletion."):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180


def test_on_demand_rotation_and_its_limit(kms: Any) -> None:
    key = new_key(kms)
    key_id = key["KeyId"]
    blobs = [kms.encrypt(KeyId=key_id, Plaintext=b"v0")["CiphertextBlob"]]
    materials = [current_material(kms, key_id)]
    for n in range(1, 26):
        assert rotate_on_demand(kms, key_id)["KeyId"] == key["Arn"]
        materials.append(current_material(kms, key_id))
        blobs.append(kms.encrypt(KeyId=key_id, Plaintext=f"v{n}".encode())["CiphertextBlob"])
    assert len(set(materials)) == 26
    with aws_error(
        kms,
        "LimitExceededException",
        "The on-demand rotations limit has been reached for the given keyId. "
        f"No more on-demand rotations can be performed for this key: {key['Arn']}",
    ):
        kms.rotate_key_on_demand(KeyId=key_id)
    for n, blob in enumerate(blobs):
        result = kms.decrypt(CiphertextBlob=blob)
        assert result["Plaintext"] == f"v{n}".encode()
        assert result["KeyMaterialId"] == materials[n]
    # On-demand rotations do not start the automatic schedule.
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    pages = list(kms.get_paginator("list_key_rotations").paginate(KeyId=key_id, PaginationConfig={"PageSize": 7}))
    rotations = [r for page in pages for r in page["Rotations"]]
    assert len(pages) == 4
    assert [r["KeyMaterialId"] for r in rotations] == materials[1:]
    assert {r["RotationType"] for r in rotations} == {"ON_DEMAND"}
    assert [r["KeyMaterialState"] for r in rotations].count("CURRENT") == 1
    assert rotations[-1]["KeyMaterialState"] == "CURRENT"


def test_on_demand_rotation_refused_right_before_an_automatic_one(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 90 * DAY - 600})  # 10 minutes before
    with pytest.raises(ClientError) as info:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert info.value.response["Error"]["Code"] == "ConflictException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")],
)
def test_keys_that_do_not_rotate(kms: Any, spec: str, usage: str) -> None:
    key_id = new_key(kms, KeySpec=spec, KeyUsage=usage)["KeyId"]
    for call, kwargs in (
        (kms.enable_key_rotation, {}),
        (kms.disable_key_rotation, {}),
        (kms.get_key_rotation_status, {}),
        (kms.rotate_key_on_demand, {}),
        (kms.list_key_rotations, {}),
    ):
        with aws_error(kms, "UnsupportedOperationException"):
            call(KeyId=key_id, **kwargs)


def test_rotation_takes_no_alias(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    alias = f"alias/rot-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    with pytest.raises(ClientError) as info:
        kms.enable_key_rotation(KeyId=alias)
    assert info.value.response["Error"]["Code"] == "NotFoundException"


def test_rotation_through_the_aws_cli(server: TrentServer, kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    assert server.aws("kms", "enable-key-rotation", "--key-id", key_id, "--rotation-period-in-days", "120") is None
    status = server.aws("kms", "get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 120
    rotated = server.aws("kms", "rotate-key-on-demand", "--key-id", key_id)
    assert rotated["KeyId"].endswith(key_id)
    listed = server.aws("kms", "list-key-rotations", "--key-id", key_id)
    assert [r["RotationType"] for r in listed["Rotations"]] == ["ON_DEMAND"]
