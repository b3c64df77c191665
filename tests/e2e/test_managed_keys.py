"""AWS managed default keys (alias/aws/<service>) through a real server: created on first use, used
like any key, and closed to every management change, as AWS does (spec/kms-api.md 6.1, 7.5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error
from tests.e2e.test_audit import all_records, one_record
from tests.e2e.test_authorization import user_with
from tests.e2e.test_iam_sts import admin

pytestmark = pytest.mark.e2e


def test_first_use_creates_the_key_and_its_alias(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    # Before its first use AWS lists the predefined alias with no target and no dates.
    before = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert before["alias/aws/s3"] == {
        "AliasName": "alias/aws/s3",
        "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/aws/s3",
    }
    metadata = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert metadata["KeyManager"] == "AWS"
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Origin"] == "AWS_KMS"
    assert "s3" in metadata["Description"]
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == metadata["KeyId"]
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/aws/s3"]["TargetKeyId"] == metadata["KeyId"]
    assert metadata["KeyId"] in {k["KeyId"] for k in kms.list_keys()["Keys"]}
    status = kms.get_key_rotation_status(KeyId=metadata["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    policy = json.loads(kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"])
    assert policy["Id"] == "auto-s3-1"
    assert len(policy["Statement"]) == 2


def test_encrypt_and_generate_data_key_create_it_too(kms: Any) -> None:
    blob = kms.encrypt(KeyId="alias/aws/ebs", Plaintext=b"volume key")["CiphertextBlob"]
    result = kms.decrypt(CiphertextBlob=blob)
    assert result["Plaintext"] == b"volume key"
    assert result["KeyId"] == kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
    data_key = kms.generate_data_key(KeyId="alias/aws/secretsmanager", KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]


def test_concurrent_first_uses_create_one_key(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(lambda _: kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"], range(16)))
    assert len(ids) == 1
    managed = [k for k in kms.list_keys()["Keys"] if k["KeyId"] in ids]
    assert len(managed) == 1
    assert len(kms.list_keys()["Keys"]) == 1  # no orphan key from a losing request


def test_only_predefined_aws_aliases_exist(kms: Any) -> None:
    with aws_error(
        kms, "NotFoundException", f"Alias arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/aws/no-such-service is not found."
    ):
        kms.describe_key(KeyId="alias/aws/no-such-service")


def test_management_changes_are_refused(kms: Any) -> None:
    key = kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]
    key_id = key["KeyId"]
    refused = [
        lambda: kms.disable_key(KeyId=key_id),
        lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
        lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps({"Statement": []})),
        lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}]),
        lambda: kms.enable_key_rotation(KeyId=key_id),
        lambda: kms.disable_key_rotation(KeyId=key_id),
        lambda: kms.update_key_description(KeyId=key_id, Description="mine now"),
        lambda: kms.create_alias(AliasName="alias/my-dynamodb", TargetKeyId=key_id),
    ]
    for call in refused:
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == "AccessDeniedException", info.value.response
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        kms.delete_alias(AliasName="alias/aws/dynamodb")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("managed") / "data", dev=False).start()
    yield srv
    srv.stop()


def test_any_principal_of_the_account_may_use_it(secure: TrentServer) -> None:
    _, user = user_with(secure, "managed-key-user")  # no IAM policy at all
    blob = user.encrypt(KeyId="alias/aws/sqs", Plaintext=b"queue")["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"queue"
    key_id = secure.client("kms", **admin(secure)).describe_key(KeyId="alias/aws/sqs")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as info:
        user.disable_key(KeyId=key_id)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


def test_only_a_use_creates_the_key(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    with pytest.raises(ClientError):
        kms.delete_alias(AliasName="alias/aws/rds")  # refused; recording it must not create the key
    with pytest.raises(ClientError):
        kms.create_alias(AliasName="alias/mine", TargetKeyId="alias/aws/rds")  # a target must be a key id
    assert "TargetKeyId" not in {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}["alias/aws/rds"]
    assert kms.list_keys()["Keys"] == []


def test_first_use_records_the_creation_of_the_aws_managed_key(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    response = kms.encrypt(KeyId="alias/aws/lambda", Plaintext=b"function secret")
    key_arn = response["KeyId"]
    records = all_records(fresh_server)
    created = [r for r in records if r["eventName"] == "CreateKey"]
    assert len(created) == 1
    record = created[0]
    assert record["eventType"] == "AwsServiceEvent"
    assert record["userIdentity"]["invokedBy"] == "kms.amazonaws.com"
    assert record["resources"] == [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": key_arn}]
    assert record["additionalEventData"] == {"keyId": key_arn, "aliasName": "alias/aws/lambda"}
    assert record["awsRegion"] == REGION
    # The request that caused it is recorded after it, naming the same key.
    encrypt = one_record(fresh_server, response["ResponseMetadata"]["RequestId"])
    assert records.index(encrypt) > records.index(record)
    assert encrypt["resources"][0]["ARN"] == key_arn
    # Later uses create nothing more.
    kms.encrypt(KeyId="alias/aws/lambda", Plaintext=b"again")
    assert [r["eventName"] for r in all_records(fresh_server)].count("CreateKey") == 1
