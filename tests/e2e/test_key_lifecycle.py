"""Key lifecycle through a real server: create, describe, list, enable/disable, deletion, policies, restart.

Every expectation is AWS's (spec/kms-api.md sections 1.3-1.6, 2, 3.4, 5, 6.1, 7.3): exact output
members, exact NotFound / Disabled / KMSInvalidState texts, HTTP 400 for every client error.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, body, new_key

pytestmark = pytest.mark.e2e

OTHER_REGION = "eu-west-1"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MATERIAL_ID_RE = re.compile(r"^[0-9a-f]{64}$")
# A symmetric AWS_KMS key's DescribeKey members as recorded from AWS (spec 3.4).
SYMMETRIC_METADATA = {
    "AWSAccountId", "Arn", "CreationDate", "CurrentKeyMaterialId", "CustomerMasterKeySpec", "Description",
    "Enabled", "EncryptionAlgorithms", "KeyId", "KeyManager", "KeySpec", "KeyState", "KeyUsage", "MultiRegion",
    "Origin",
}  # fmt: skip
DEFAULT_POLICY_TEXT = (
    "{\n"
    '  "Version" : "2012-10-17",\n'
    '  "Id" : "key-default-1",\n'
    '  "Statement" : [ {\n'
    '    "Sid" : "Enable IAM User Permissions",\n'
    '    "Effect" : "Allow",\n'
    '    "Principal" : {\n'
    f'      "AWS" : "arn:aws:iam::{ACCOUNT_ID}:root"\n'
    "    },\n"
    '    "Action" : "kms:*",\n'
    '    "Resource" : "*"\n'
    "  } ]\n"
    "}"
)


# ===================================================================== helpers


def new_alias(kms: Any, key_id: str) -> str:
    name = f"alias/lifecycle-{uuid.uuid4().hex}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    return name


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias_name: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:{alias_name}"


def unvalidated_client(server: TrentServer) -> Any:
    """A client that sends what botocore would refuse (min/required), as other SDKs may."""
    return boto3.session.Session().client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def state_of(kms: Any, key_id: str) -> dict[str, Any]:
    return dict(kms.describe_key(KeyId=key_id)["KeyMetadata"])


def all_key_ids(kms: Any) -> list[str]:
    ids: list[str] = []
    for page in kms.get_paginator("list_keys").paginate():
        ids.extend(k["KeyId"] for k in page["Keys"])
    return ids


# ===================================================================== CreateKey / DescribeKey


def test_create_key_defaults_are_aws_metadata(kms: Any) -> None:
    before = datetime.now(UTC)
    metadata = new_key(kms)
    assert set(metadata) == SYMMETRIC_METADATA
    key_id = metadata["KeyId"]
    assert UUID_RE.match(key_id)
    assert metadata["Arn"] == key_arn(key_id)
    assert metadata["AWSAccountId"] == ACCOUNT_ID
    assert metadata["Description"] == ""
    assert metadata["Enabled"] is True
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["KeySpec"] == metadata["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert metadata["Origin"] == "AWS_KMS"
    assert metadata["KeyManager"] == "CUSTOMER"
    assert metadata["MultiRegion"] is False
    assert MATERIAL_ID_RE.match(metadata["CurrentKeyMaterialId"])
    # Same clock on this machine; a generous bound only proves the date is "now", not a timing.
    assert before - timedelta(minutes=5) <= metadata["CreationDate"] <= datetime.now(UTC) + timedelta(minutes=5)
    assert state_of(kms, key_id) == metadata


def test_create_key_with_every_symmetric_option(kms: Any) -> None:
    metadata = new_key(
        kms,
        Description="orders database",
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Origin="AWS_KMS",
        Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "empty", "TagValue": ""}],
    )
    assert set(metadata) == SYMMETRIC_METADATA
    assert metadata["Description"] == "orders database"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["Origin"] == "AWS_KMS"
    tags = kms.list_resource_tags(KeyId=metadata["KeyId"])["Tags"]
    assert sorted(tags, key=lambda t: t["TagKey"]) == [
        {"TagKey": "empty", "TagValue": ""},
        {"TagKey": "team", "TagValue": "payments"},
    ]


def test_create_key_with_deprecated_customer_master_key_spec(kms: Any) -> None:
    metadata = new_key(kms, CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    assert metadata["KeySpec"] == metadata["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"


def test_create_key_rejects_usage_that_does_not_fit_the_spec(kms: Any) -> None:
    with aws_error(kms, "ValidationException", "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT"):
        kms.create_key(KeyUsage="SIGN_VERIFY")


def test_create_key_rejects_bad_tags_without_creating_a_key(kms: Any) -> None:
    before = set(all_key_ids(kms))
    with aws_error(kms, "TagException", "Tags beginning with aws: are reserved"):
        kms.create_key(Tags=[{"TagKey": "aws:owner", "TagValue": "x"}])
    with aws_error(kms, "TagException", "Duplicate tag keys"):
        kms.create_key(Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    with aws_error(kms, "TagException", "Too many tags"):
        kms.create_key(Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])
    assert set(all_key_ids(kms)) == before


IDENTIFIER_FORMS = ["key id", "key ARN", "alias name", "alias ARN"]


def identifier(form: str, key_id: str, alias_name: str, region: str = REGION) -> str:
    return {
        "key id": key_id,
        "key ARN": key_arn(key_id, region),
        "alias name": alias_name,
        "alias ARN": alias_arn(alias_name, region),
    }[form]


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_describe_key_accepts_every_identifier_form(kms: Any, form: str) -> None:
    metadata = new_key(kms, Description=form)
    alias = new_alias(kms, metadata["KeyId"])
    described = kms.describe_key(KeyId=identifier(form, metadata["KeyId"], alias))
    assert body(described) == {"KeyMetadata": metadata}


UNKNOWN_ID = "0b9c9a3e-94f1-4b1f-8d9e-6a1c2a3b4c5d"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("fake-key-id", "Invalid keyId 'fake-key-id'"),
        (UNKNOWN_ID, f"Key '{key_arn(UNKNOWN_ID)}' does not exist"),
        (key_arn(UNKNOWN_ID), f"Key '{key_arn(UNKNOWN_ID)}' does not exist"),
        ("alias/never-created", f"Alias {alias_arn('alias/never-created')} is not found."),
        (alias_arn("alias/never-created"), f"Alias {alias_arn('alias/never-created')} is not found."),
        (key_arn(UNKNOWN_ID, OTHER_REGION), f"Invalid arn {OTHER_REGION}"),
        (alias_arn("alias/never-created", "ap-south-1"), "Invalid arn ap-south-1"),
    ],
)
def test_describe_key_not_found_messages(kms: Any, reference: str, message: str) -> None:
    with aws_error(kms, "NotFoundException", message):
        kms.describe_key(KeyId=reference)


def test_arn_of_an_existing_key_with_another_region_is_invalid(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "NotFoundException", f"Invalid arn {OTHER_REGION}"):
        kms.describe_key(KeyId=key_arn(key_id, OTHER_REGION))


# Operations whose KeyId takes only a key id or key ARN (spec 1.6): each as a callable on (client, key ref).
KEY_ID_ONLY: dict[str, Callable[[Any, str], Any]] = {
    "UpdateKeyDescription": lambda c, k: c.update_key_description(KeyId=k, Description="x"),
    "EnableKey": lambda c, k: c.enable_key(KeyId=k),
    "DisableKey": lambda c, k: c.disable_key(KeyId=k),
    "ScheduleKeyDeletion": lambda c, k: c.schedule_key_deletion(KeyId=k, PendingWindowInDays=7),
    "CancelKeyDeletion": lambda c, k: c.cancel_key_deletion(KeyId=k),
    "TagResource": lambda c, k: c.tag_resource(KeyId=k, Tags=[{"TagKey": "t", "TagValue": "v"}]),
    "UntagResource": lambda c, k: c.untag_resource(KeyId=k, TagKeys=["t"]),
    "ListResourceTags": lambda c, k: c.list_resource_tags(KeyId=k),
    "GetKeyPolicy": lambda c, k: c.get_key_policy(KeyId=k, PolicyName="default"),
    "ListKeyPolicies": lambda c, k: c.list_key_policies(KeyId=k),
    "PutKeyPolicy": lambda c, k: c.put_key_policy(KeyId=k, PolicyName="default", Policy=DEFAULT_POLICY_TEXT),
    "ListAliases": lambda c, k: c.list_aliases(KeyId=k),
    "CreateAlias": lambda c, k: c.create_alias(AliasName=f"alias/target-{uuid.uuid4().hex}", TargetKeyId=k),
}  # fmt: skip


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
@pytest.mark.parametrize("operation", sorted(KEY_ID_ONLY))
def test_key_id_only_operations_reject_aliases(kms: Any, operation: str, form: str) -> None:
    metadata = new_key(kms)
    alias = new_alias(kms, metadata["KeyId"])
    reference = identifier(form, metadata["KeyId"], alias)
    if operation == "CreateAlias":
        # An alias's target is checked before it is resolved, in AWS's own words.
        with aws_error(kms, "ValidationException", "Aliases must refer to keys. Not aliases"):
            KEY_ID_ONLY[operation](kms, reference)
    else:
        with aws_error(kms, "NotFoundException") as caught:
            KEY_ID_ONLY[operation](kms, reference)
        assert reference in caught.message
    # Nothing happened to the key.
    assert state_of(kms, metadata["KeyId"]) == metadata


@pytest.mark.parametrize("form", ["key id", "key ARN"])
@pytest.mark.parametrize("operation", sorted(KEY_ID_ONLY))
def test_key_id_only_operations_accept_key_id_and_arn(kms: Any, operation: str, form: str) -> None:
    key_id = new_key(kms)["KeyId"]
    reference = key_id if form == "key id" else key_arn(key_id)
    if operation == "CancelKeyDeletion":
        kms.schedule_key_deletion(KeyId=key_id)
    KEY_ID_ONLY[operation](kms, reference)


@pytest.mark.parametrize("operation", sorted(KEY_ID_ONLY))
def test_key_id_only_operations_report_unknown_keys(kms: Any, operation: str) -> None:
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(UNKNOWN_ID)}' does not exist"):
        KEY_ID_ONLY[operation](kms, UNKNOWN_ID)
    with aws_error(kms, "NotFoundException", "Invalid keyId 'fake-key-id'"):
        KEY_ID_ONLY[operation](kms, "fake-key-id")


def test_operations_without_output_return_an_empty_body(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    policy = kms.get_key_policy(KeyId=key_id)["Policy"]
    alias = f"alias/empty-{uuid.uuid4().hex}"
    other = new_key(kms)["KeyId"]
    responses = [
        kms.update_key_description(KeyId=key_id, Description="d"),
        kms.disable_key(KeyId=key_id),
        kms.enable_key(KeyId=key_id),
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "b"}]),
        kms.untag_resource(KeyId=key_id, TagKeys=["a"]),
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy),
        kms.create_alias(AliasName=alias, TargetKeyId=key_id),
        kms.update_alias(AliasName=alias, TargetKeyId=other),
        kms.delete_alias(AliasName=alias),
    ]
    for response in responses:
        assert body(response) == {}
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


# ===================================================================== ListKeys


def test_list_keys_entries_are_key_id_and_arn(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    entries: dict[str, dict[str, str]] = {}
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1000}):
        assert set(page) - {"ResponseMetadata"} in ({"Keys", "Truncated"}, {"Keys", "Truncated", "NextMarker"})
        entries.update((k["KeyId"], k) for k in page["Keys"])
    assert entries[key_id] == {"KeyId": key_id, "KeyArn": key_arn(key_id)}
    assert all(entry == {"KeyId": kid, "KeyArn": key_arn(kid)} for kid, entry in entries.items())


def test_list_keys_pages_by_limit_and_marker(kms: Any) -> None:
    created = {new_key(kms)["KeyId"] for _ in range(5)}
    expected = all_key_ids(kms)
    assert created <= set(expected)

    seen: list[str] = []
    marker: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"Limit": 2}
        if marker is not None:
            kwargs["Marker"] = marker
        page = body(kms.list_keys(**kwargs))
        pages += 1
        assert len(page["Keys"]) <= 2
        seen.extend(k["KeyId"] for k in page["Keys"])
        if not page["Truncated"]:
            assert set(page) == {"Keys", "Truncated"}  # no NextMarker on the last page
            break
        assert set(page) == {"Keys", "Truncated", "NextMarker"}
        assert len(page["Keys"]) == 2
        marker = page["NextMarker"]
        assert pages < 10_000
    assert seen == expected  # same order, nothing lost, nothing twice
    assert len(set(seen)) == len(seen)
    assert pages >= 3


def test_list_keys_paginator(kms: Any) -> None:
    created = {new_key(kms)["KeyId"] for _ in range(4)}
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3}))
    ids = [k["KeyId"] for page in pages for k in page["Keys"]]
    assert created <= set(ids)
    assert len(ids) == len(set(ids))
    assert ids == all_key_ids(kms)
    assert all(page["Truncated"] for page in pages[:-1])
    assert pages[-1]["Truncated"] is False
    assert "NextMarker" not in pages[-1]


def test_list_keys_paginator_with_max_items_resumes(kms: Any) -> None:
    for _ in range(3):
        new_key(kms)
    everything = all_key_ids(kms)
    paginator = kms.get_paginator("list_keys")
    first = paginator.paginate(PaginationConfig={"MaxItems": 2, "PageSize": 1}).build_full_result()
    assert [k["KeyId"] for k in first["Keys"]] == everything[:2]
    rest = paginator.paginate(PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}).build_full_result()
    assert [k["KeyId"] for k in rest["Keys"]] == everything[2:]


@pytest.mark.parametrize("marker", ["garbage", "!!!!", "a" * 1024, "eyJub3QiOiAiYSBtYXJrZXIifQ=="])
def test_list_keys_rejects_a_garbage_marker(kms: Any, marker: str) -> None:
    with aws_error(kms, "InvalidMarkerException"):
        kms.list_keys(Marker=marker)


def test_list_keys_rejects_another_operations_marker(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    for _ in range(2):
        new_alias(kms, key_id)
    alias_marker = kms.list_aliases(KeyId=key_id, Limit=1)["NextMarker"]
    with aws_error(kms, "InvalidMarkerException"):
        kms.list_keys(Marker=alias_marker)


def test_list_keys_limit_bounds(kms: Any) -> None:
    assert len(kms.list_keys(Limit=1)["Keys"]) == 1
    kms.list_keys(Limit=1000)
    with aws_error(kms, "ValidationException") as caught:
        kms.list_keys(Limit=1001)
    assert "'limit'" in caught.message


def test_list_keys_default_limit_is_100(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    created = [new_key(kms)["KeyId"] for _ in range(101)]
    first = body(kms.list_keys())
    assert len(first["Keys"]) == 100
    assert first["Truncated"] is True
    second = body(kms.list_keys(Marker=first["NextMarker"]))
    assert second["Truncated"] is False
    assert "NextMarker" not in second
    listed = [k["KeyId"] for k in first["Keys"] + second["Keys"]]
    assert sorted(listed) == sorted(created)


def test_list_limit_below_the_model(server: TrentServer) -> None:
    raw = unvalidated_client(server)
    key_id = new_key(raw)["KeyId"]
    zero = (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    with aws_error(raw, "ValidationException", zero):
        raw.list_keys(Limit=0)
    with aws_error(raw, "ValidationException", zero):
        raw.list_aliases(Limit=0)
    with aws_error(raw, "ValidationException", zero):
        raw.list_resource_tags(KeyId=key_id, Limit=0)


def test_keys_are_per_region(server: TrentServer, kms: Any) -> None:
    europe = server.client(region=OTHER_REGION)
    key_id = new_key(kms, Description="us only")["KeyId"]
    alias = new_alias(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"regional")["CiphertextBlob"]

    with aws_error(europe, "NotFoundException", f"Key '{key_arn(key_id, OTHER_REGION)}' does not exist"):
        europe.describe_key(KeyId=key_id)
    with aws_error(europe, "NotFoundException", f"Invalid arn {REGION}"):
        europe.describe_key(KeyId=key_arn(key_id))
    with aws_error(europe, "NotFoundException", f"Alias {alias_arn(alias, OTHER_REGION)} is not found."):
        europe.describe_key(KeyId=alias)
    with aws_error(europe, "NotFoundException", f"Key '{key_arn(key_id, OTHER_REGION)}' does not exist"):
        europe.disable_key(KeyId=key_id)
    assert key_id not in all_key_ids(europe)
    europe_aliases = europe.get_paginator("list_aliases").paginate().build_full_result()["Aliases"]
    assert alias not in {a["AliasName"] for a in europe_aliases}
    # A ciphertext of a key that does not exist in this Region does not decrypt here (spec 1.6).
    with pytest.raises(ClientError) as info:
        europe.decrypt(CiphertextBlob=blob)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"

    # A key made in Europe is just as invisible from us-east-1, and the US key is untouched.
    europe_key = new_key(europe)
    assert europe_key["Arn"] == key_arn(europe_key["KeyId"], OTHER_REGION)
    assert europe_key["KeyId"] in all_key_ids(europe)
    assert europe_key["KeyId"] not in all_key_ids(kms)
    assert state_of(kms, key_id)["KeyState"] == "Enabled"


# ===================================================================== UpdateKeyDescription


def test_update_key_description(kms: Any) -> None:
    key_id = new_key(kms, Description="before")["KeyId"]
    kms.update_key_description(KeyId=key_id, Description="after")
    assert state_of(kms, key_id)["Description"] == "after"
    kms.update_key_description(KeyId=key_arn(key_id), Description="")
    assert state_of(kms, key_id)["Description"] == ""
    longest = "d" * 8192
    kms.update_key_description(KeyId=key_id, Description=longest)
    assert state_of(kms, key_id)["Description"] == longest


def test_update_key_description_too_long(kms: Any) -> None:
    key_id = new_key(kms, Description="kept")["KeyId"]
    too_long = "d" * 8193
    with aws_error(
        kms,
        "ValidationException",
        f"1 validation error detected: Value '{too_long}' at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 8192",
    ):
        kms.update_key_description(KeyId=key_id, Description=too_long)
    assert state_of(kms, key_id)["Description"] == "kept"


# ===================================================================== EnableKey / DisableKey


def test_enable_and_disable_are_idempotent_and_drive_enabled(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.enable_key(KeyId=key_id)  # already enabled: success, no change
    assert (state_of(kms, key_id)["KeyState"], state_of(kms, key_id)["Enabled"]) == ("Enabled", True)
    kms.disable_key(KeyId=key_id)
    described = state_of(kms, key_id)
    assert (described["KeyState"], described["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in described
    kms.disable_key(KeyId=key_arn(key_id))  # already disabled: success
    assert state_of(kms, key_id)["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_arn(key_id))
    assert (state_of(kms, key_id)["KeyState"], state_of(kms, key_id)["Enabled"]) == ("Enabled", True)


def crypto_calls(kms: Any, key_ref: str, blob: bytes, good_key: str) -> dict[str, Callable[[], Any]]:
    """Every symmetric cryptographic operation against ``key_ref`` (``blob`` is a ciphertext of it)."""
    good_blob = kms.encrypt(KeyId=good_key, Plaintext=b"other")["CiphertextBlob"]
    return {
        "Encrypt": lambda: kms.encrypt(KeyId=key_ref, Plaintext=b"data"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "Decrypt with KeyId": lambda: kms.decrypt(CiphertextBlob=blob, KeyId=key_ref),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key_ref, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=key_ref, NumberOfBytes=16
        ),
        "ReEncrypt from": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=good_key),
        "ReEncrypt to": lambda: kms.re_encrypt(CiphertextBlob=good_blob, DestinationKeyId=key_ref),
        "Encrypt DryRun": lambda: kms.encrypt(KeyId=key_ref, Plaintext=b"data", DryRun=True),
        "Decrypt DryRun": lambda: kms.decrypt(CiphertextBlob=blob, DryRun=True),
        "GenerateDataKey DryRun": lambda: kms.generate_data_key(KeyId=key_ref, NumberOfBytes=8, DryRun=True),
        "ReEncrypt DryRun": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=good_key, DryRun=True),
    }


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_disabled_key_refuses_every_cryptographic_operation(kms: Any, form: str) -> None:
    metadata = new_key(kms)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    alias = new_alias(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"made while enabled")["CiphertextBlob"]
    good_key = new_key(kms)["KeyId"]
    calls = crypto_calls(kms, identifier(form, key_id, alias), blob, good_key)
    kms.disable_key(KeyId=key_id)
    for name, call in calls.items():
        with aws_error(kms, "DisabledException", f"{arn} is disabled."):
            call()
        assert name
    # Management and read operations still work on a disabled key.
    kms.update_key_description(KeyId=key_id, Description="disabled but managed")
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "state", "TagValue": "disabled"}])
    new_alias(kms, key_id)
    assert kms.get_key_policy(KeyId=key_id)["PolicyName"] == "default"
    # Enabling restores everything, including ciphertexts made before.
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"made while enabled"


# ===================================================================== ScheduleKeyDeletion / CancelKeyDeletion


def test_schedule_key_deletion_default_window(kms: Any) -> None:
    metadata = new_key(kms)
    key_id = metadata["KeyId"]
    response = body(kms.schedule_key_deletion(KeyId=key_id))
    assert set(response) == {"KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"}
    assert response["KeyId"] == metadata["Arn"]
    assert response["KeyState"] == "PendingDeletion"
    assert response["PendingWindowInDays"] == 30
    # The server's "now" is the key's creation a moment ago; DeletionDate is now + 30 days.
    delta = response["DeletionDate"] - metadata["CreationDate"]
    assert timedelta(days=30) <= delta <= timedelta(days=30, minutes=5)

    described = state_of(kms, key_id)
    assert set(described) == SYMMETRIC_METADATA | {"DeletionDate"}
    assert described["DeletionDate"] == response["DeletionDate"]
    assert (described["KeyState"], described["Enabled"]) == ("PendingDeletion", False)


@pytest.mark.parametrize("window", [7, 15, 30])
def test_schedule_key_deletion_with_a_window(kms: Any, window: int) -> None:
    metadata = new_key(kms)
    response = body(kms.schedule_key_deletion(KeyId=metadata["Arn"], PendingWindowInDays=window))
    assert response["PendingWindowInDays"] == window
    assert response["KeyId"] == metadata["Arn"]
    delta = response["DeletionDate"] - metadata["CreationDate"]
    assert timedelta(days=window) <= delta <= timedelta(days=window, minutes=5)


@pytest.mark.parametrize("window", [1, 6, 31, 365])
def test_schedule_key_deletion_window_outside_7_to_30(kms: Any, window: int) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "ValidationException") as caught:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=window)
    assert "pendingWindowInDays" in caught.message
    assert state_of(kms, key_id)["KeyState"] == "Enabled"


def test_schedule_key_deletion_window_outside_the_model(server: TrentServer) -> None:
    raw = unvalidated_client(server)
    key_id = new_key(raw)["KeyId"]
    with aws_error(
        raw,
        "ValidationException",
        "1 validation error detected: Value '0' at 'pendingWindowInDays' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ):
        raw.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=0)
    with aws_error(
        raw,
        "ValidationException",
        "1 validation error detected: Value '366' at 'pendingWindowInDays' failed to satisfy constraint: "
        "Member must have value less than or equal to 365",
    ):
        raw.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=366)


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_pending_deletion_refuses_every_cryptographic_operation(kms: Any, form: str) -> None:
    metadata = new_key(kms)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    alias = new_alias(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"made before")["CiphertextBlob"]
    good_key = new_key(kms)["KeyId"]
    calls = crypto_calls(kms, identifier(form, key_id, alias), blob, good_key)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for name, call in calls.items():
        with aws_error(kms, "KMSInvalidStateException", f"{arn} is pending deletion."):
            call()
        assert name


def test_pending_deletion_refuses_management_operations(kms: Any) -> None:
    metadata = new_key(kms, Description="doomed", Tags=[{"TagKey": "keep", "TagValue": "1"}])
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    pending = f"{arn} is pending deletion."
    refused: dict[str, Callable[[], Any]] = {
        "UpdateKeyDescription": lambda: kms.update_key_description(KeyId=key_id, Description="x"),
        "EnableKey": lambda: kms.enable_key(KeyId=key_id),
        "DisableKey": lambda: kms.disable_key(KeyId=key_id),
        "TagResource": lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "b"}]),
        "UntagResource": lambda: kms.untag_resource(KeyId=key_id, TagKeys=["keep"]),
        "ScheduleKeyDeletion": lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30),
        "CreateAlias": lambda: kms.create_alias(AliasName=f"alias/pd-{uuid.uuid4().hex}", TargetKeyId=key_id),
    }
    deletion_date = state_of(kms, key_id)["DeletionDate"]
    for name, call in refused.items():
        with aws_error(kms, "KMSInvalidStateException", pending):
            call()
        assert name
    described = state_of(kms, key_id)
    assert described["Description"] == "doomed"
    assert described["DeletionDate"] == deletion_date  # the second ScheduleKeyDeletion changed nothing
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "keep", "TagValue": "1"}]


def test_pending_deletion_allows_read_operations(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    alias = new_alias(kms, key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert state_of(kms, alias)["KeyState"] == "PendingDeletion"  # DescribeKey via alias: ANY state
    policy = kms.get_key_policy(KeyId=key_id)["Policy"]
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == [alias]
    assert key_id in all_key_ids(kms)
    kms.delete_alias(AliasName=alias)  # DeleteAlias works in any state
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []


def test_cancel_key_deletion_returns_the_key_disabled(kms: Any) -> None:
    metadata = new_key(kms)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"survivor")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert body(kms.cancel_key_deletion(KeyId=key_id)) == {"KeyId": arn}
    described = state_of(kms, key_id)
    assert (described["KeyState"], described["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in described
    assert set(described) == SYMMETRIC_METADATA
    with aws_error(kms, "DisabledException", f"{arn} is disabled."):
        kms.decrypt(CiphertextBlob=blob)
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"survivor"


def test_cancel_key_deletion_by_arn_from_a_disabled_key(kms: Any) -> None:
    metadata = new_key(kms)
    kms.disable_key(KeyId=metadata["KeyId"])
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    assert body(kms.cancel_key_deletion(KeyId=metadata["Arn"])) == {"KeyId": metadata["Arn"]}
    assert state_of(kms, metadata["KeyId"])["KeyState"] == "Disabled"


def test_cancel_key_deletion_of_a_key_not_pending_deletion(kms: Any) -> None:
    metadata = new_key(kms)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    with aws_error(kms, "KMSInvalidStateException", f"{arn} is not pending deletion."):
        kms.cancel_key_deletion(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    with aws_error(kms, "KMSInvalidStateException", f"{arn} is not pending deletion."):
        kms.cancel_key_deletion(KeyId=arn)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    with aws_error(kms, "KMSInvalidStateException", f"{arn} is not pending deletion."):
        kms.cancel_key_deletion(KeyId=key_id)


def wait_until_gone(kms: Any, key_id: str, deadline_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            kms.describe_key(KeyId=key_id)
        except kms.exceptions.NotFoundException:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"key {key_id} was not deleted within {deadline_seconds} s of its deletion date")
        time.sleep(0.05)


def test_key_is_deleted_when_its_window_ends(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    doomed = new_key(kms, Description="doomed")
    survivor = new_key(kms, Description="survivor")
    doomed_id, doomed_arn = doomed["KeyId"], doomed["Arn"]
    alias = new_alias(kms, doomed_id)
    survivor_alias = new_alias(kms, survivor["KeyId"])
    blob = kms.encrypt(KeyId=alias, Plaintext=b"gone soon", EncryptionContext={"a": "b"})["CiphertextBlob"]
    survivor_blob = kms.encrypt(KeyId=survivor_alias, Plaintext=b"stays")["CiphertextBlob"]
    # A canary scheduled a minute (of server time) earlier shows, without sleeping, that the sweeper
    # has run past the canary's date while the doomed key's own window was not yet over.
    canary = new_key(kms, Description="canary")["KeyId"]
    kms.schedule_key_deletion(KeyId=canary, PendingWindowInDays=7)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 60})
    kms.schedule_key_deletion(KeyId=doomed_id, PendingWindowInDays=7)

    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 7 * 86400 - 60 + 1})
    wait_until_gone(kms, canary)
    assert state_of(kms, doomed_id)["KeyState"] == "PendingDeletion"  # ~59 s short of its window

    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 60})  # 7 days + 1 s after scheduling
    wait_until_gone(kms, doomed_id)

    with aws_error(kms, "NotFoundException", f"Key '{doomed_arn}' does not exist"):
        kms.describe_key(KeyId=doomed_arn)
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn(alias)} is not found."):
        kms.describe_key(KeyId=alias)
    with aws_error(kms, "NotFoundException", f"Key '{doomed_arn}' does not exist"):
        kms.cancel_key_deletion(KeyId=doomed_id)
    assert doomed_id not in all_key_ids(kms)
    assert alias not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    # The earlier ciphertext no longer decrypts: AWS's AccessDenied for a key that does not exist.
    with pytest.raises(ClientError) as info:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    # The alias name is free again, and the other key is untouched.
    new_alias_target = new_key(kms)["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=new_alias_target)
    assert kms.decrypt(CiphertextBlob=survivor_blob)["Plaintext"] == b"stays"
    assert state_of(kms, survivor_alias)["KeyId"] == survivor["KeyId"]


def test_cancelled_key_is_not_deleted_after_its_window(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    canary = new_key(kms)["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.schedule_key_deletion(KeyId=canary, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 8 * 86400})
    wait_until_gone(kms, canary)  # the sweeper has run past the window
    assert state_of(kms, key_id)["KeyState"] == "Disabled"


# ===================================================================== key policies


def test_default_key_policy(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    response = body(kms.get_key_policy(KeyId=key_id, PolicyName="default"))
    assert set(response) == {"Policy", "PolicyName"}
    assert response["PolicyName"] == "default"
    policy = response["Policy"]
    assert policy.startswith('{\n  "Version" : "2012-10-17"')
    assert policy == DEFAULT_POLICY_TEXT
    document = json.loads(policy)
    assert document == {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    # PolicyName is optional and defaults to "default"; the ARN works as well as the id.
    assert body(kms.get_key_policy(KeyId=key_arn(key_id))) == response


def test_list_key_policies(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    assert body(kms.list_key_policies(KeyId=key_id)) == {"PolicyNames": ["default"], "Truncated": False}
    assert kms.list_key_policies(KeyId=key_arn(key_id), Limit=1)["PolicyNames"] == ["default"]
    pages = list(kms.get_paginator("list_key_policies").paginate(KeyId=key_id))
    assert [name for page in pages for name in page["PolicyNames"]] == ["default"]


def test_put_key_policy_round_trip(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "custom",
            "Statement": [
                {
                    "Sid": "Root",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    assert body(kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)) == {}
    stored = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert json.loads(stored) == json.loads(policy)
    # PolicyName may be omitted on PutKeyPolicy as well.
    kms.put_key_policy(KeyId=key_arn(key_id), Policy=DEFAULT_POLICY_TEXT)
    assert json.loads(kms.get_key_policy(KeyId=key_id)["Policy"]) == json.loads(DEFAULT_POLICY_TEXT)


def test_create_key_with_a_policy(kms: Any) -> None:
    policy = DEFAULT_POLICY_TEXT.replace("key-default-1", "from-create-key")
    key_id = new_key(kms, Policy=policy)["KeyId"]
    assert json.loads(kms.get_key_policy(KeyId=key_id)["Policy"])["Id"] == "from-create-key"


@pytest.mark.parametrize("policy", ["not json", "[]", '{"Version": "2012-10-17"}', '{"Statement": []}'])
def test_put_key_policy_rejects_malformed_documents(kms: Any, policy: str) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "MalformedPolicyDocumentException"):
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key_id)["Policy"] == DEFAULT_POLICY_TEXT


def test_policy_name_other_than_default(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    # AWS's message is not recorded (spec 10.12); the error class is NotFound.
    with aws_error(kms, "NotFoundException"):
        kms.get_key_policy(KeyId=key_id, PolicyName="other")


# ===================================================================== restart


def test_everything_survives_a_restart(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    europe = fresh_server.client(region=OTHER_REGION)
    blobs: list[tuple[str, bytes, bytes, dict[str, str] | None]] = []
    aliases: dict[str, str] = {}
    for n in range(3):
        metadata = new_key(
            kms, Description=f"key {n}", Tags=[{"TagKey": "n", "TagValue": str(n)}, {"TagKey": "app", "TagValue": "t"}]
        )
        key_id = metadata["KeyId"]
        alias = f"alias/restart-{n}"
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        aliases[alias] = key_id
        for context in (None, {"n": str(n)}):
            plaintext = f"secret {n} {context}".encode()
            kwargs: dict[str, Any] = {"KeyId": alias, "Plaintext": plaintext}
            if context is not None:
                kwargs["EncryptionContext"] = context
            blobs.append((key_id, kms.encrypt(**kwargs)["CiphertextBlob"], plaintext, context))
        data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        blobs.append((key_id, data_key["CiphertextBlob"], data_key["Plaintext"], None))
    disabled = new_key(kms, Description="disabled")["KeyId"]
    disabled_blob = kms.encrypt(KeyId=disabled, Plaintext=b"later")["CiphertextBlob"]
    kms.disable_key(KeyId=disabled)
    pending = new_key(kms, Description="pending")["KeyId"]
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=10)
    policy_key = new_key(kms, Policy=DEFAULT_POLICY_TEXT.replace("key-default-1", "kept"))["KeyId"]
    europe_key = new_key(europe, Description="europe")["KeyId"]
    europe.create_alias(AliasName="alias/restart-0", TargetKeyId=europe_key)  # same name, other Region

    def snapshot() -> dict[str, Any]:
        return {
            "keys": [k["KeyId"] for k in kms.list_keys()["Keys"]],
            "europe keys": [k["KeyId"] for k in europe.list_keys()["Keys"]],
            "metadata": {k: state_of(kms, k) for k in [*aliases.values(), disabled, pending, policy_key]},
            "europe metadata": state_of(europe, "alias/restart-0"),
            "aliases": kms.list_aliases()["Aliases"],
            "europe aliases": europe.list_aliases()["Aliases"],
            "tags": {k: kms.list_resource_tags(KeyId=k)["Tags"] for k in aliases.values()},
            "policy": kms.get_key_policy(KeyId=policy_key)["Policy"],
        }

    before = snapshot()
    fresh_server.restart()
    after = snapshot()
    assert after == before
    assert len(after["keys"]) == 6
    assert after["metadata"][pending]["KeyState"] == "PendingDeletion"
    assert after["metadata"][disabled]["KeyState"] == "Disabled"
    assert json.loads(after["policy"])["Id"] == "kept"
    for alias, key_id in aliases.items():
        assert state_of(kms, alias)["KeyId"] == key_id
    for key_id, blob, plaintext, context in blobs:
        kwargs = {"CiphertextBlob": blob}
        if context is not None:
            kwargs["EncryptionContext"] = context
        decrypted = kms.decrypt(**kwargs)
        assert decrypted["Plaintext"] == plaintext
        assert decrypted["KeyId"] == key_arn(key_id)
    kms.enable_key(KeyId=disabled)
    assert kms.decrypt(CiphertextBlob=disabled_blob)["Plaintext"] == b"later"
    # Keys keep working for new requests, too.
    fresh_blob = kms.encrypt(KeyId="alias/restart-1", Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=fresh_blob)["Plaintext"] == b"new"
