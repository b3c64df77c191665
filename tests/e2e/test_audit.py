"""The audit trail through a real server: one CloudTrail record per request, secrets never recorded,
LookupEvents (boto3 and the AWS CLI), fail-closed writes, service events and concurrency.

Records are read straight from the store (``<data_dir>/trent.db``, table ``audit_events``, column
``record`` = the CloudTrail JSON bytes) and compared with the AWS CloudTrail samples for KMS.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, rotate_on_demand
from tests.e2e.test_iam_sts import admin, allow, new_user, session_credentials, trust
from tests.e2e.test_import import import_material, wrap
from trent.api.handlers.kms import HANDLERS
from trent.domain.audit import Digest, StoredEvent, VerifyReport, verify_trail

pytestmark = pytest.mark.e2e

KMS = "kms.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
KEY_TYPE = "AWS::KMS::Key"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Dates inside requestParameters/responseElements, as CloudTrail writes them: "Aug 10, 2022, 10:38:27 PM".
ELEMENT_DATE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d:\d\d [AP]M$")
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
FAILED_CLOSED = "The request could not be recorded in the audit trail. Retry the request."


# ===================================================================== reading the store


def _connect(server: TrentServer) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "trent.db", timeout=30, isolation_level=None)


def all_records(server: TrentServer) -> list[dict[str, Any]]:
    with closing(_connect(server)) as db:
        return [json.loads(row[0]) for row in db.execute("SELECT record FROM audit_events ORDER BY sequence")]


def records_for(server: TrentServer, request_id: str) -> list[dict[str, Any]]:
    needle = f'"requestID":"{request_id}"'.encode()
    with closing(_connect(server)) as db:
        rows = db.execute("SELECT record FROM audit_events WHERE instr(record, ?) > 0 ORDER BY sequence", (needle,))
        return [json.loads(row[0]) for row in rows]


def one_record(server: TrentServer, request_id: str) -> dict[str, Any]:
    found = records_for(server, request_id)
    assert len(found) == 1, found
    return found[0]


def record_count(server: TrentServer) -> int:
    with closing(_connect(server)) as db:
        return int(db.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def verify_store(server: TrentServer) -> VerifyReport:
    """trent.domain.audit.verify_trail over one consistent snapshot of the store."""
    with closing(_connect(server)) as db:
        db.execute("BEGIN")
        events = [
            StoredEvent(int(row[0]), bytes(row[1]), bytes(row[2]))
            for row in db.execute("SELECT sequence, record, chain_hash FROM audit_events ORDER BY sequence")
        ]
        digests = [
            Digest(int(row[0]), bytes(row[1]), bytes(row[2]))
            for row in db.execute("SELECT sequence, body, signature FROM audit_digests ORDER BY sequence")
        ]
        keys = {row[0]: bytes(row[1]) for row in db.execute("SELECT fingerprint, public_der FROM audit_signing_keys")}
        head_row = db.execute("SELECT sequence, chain_hash FROM audit_head WHERE id = 1").fetchone()
        db.execute("COMMIT")
    head = None if head_row is None else (int(head_row[0]), bytes(head_row[1]))
    return verify_trail(events, digests, keys, head)


def rid(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def now_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def event_time(record: dict[str, Any]) -> datetime:
    assert EVENT_TIME.match(record["eventTime"]), record["eventTime"]
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def element_date(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%b} {moment.day}, {moment.year}, {moment.hour % 12 or 12}:{moment:%M:%S} {moment:%p}"


def root_identity(access_key: str = "test") -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": ACCOUNT_ID,
        "arn": ROOT_ARN,
        "accountId": ACCOUNT_ID,
        "accessKeyId": access_key,
    }


def key_resources(*arns: str) -> list[dict[str, str]]:
    return [{"accountId": ACCOUNT_ID, "type": KEY_TYPE, "ARN": arn} for arn in arns]


def check_envelope(
    record: dict[str, Any],
    *,
    request_id: str,
    event_name: str,
    identity: dict[str, Any],
    read_only: bool,
    event_source: str = KMS,
    window: tuple[datetime, datetime] | None = None,
) -> None:
    """The members every AwsApiCall record carries, with their values."""
    assert record["eventVersion"] == "1.11"
    assert record["userIdentity"] == identity
    moment = event_time(record)
    if window is not None:
        assert window[0] <= moment <= window[1] + timedelta(seconds=1)
    assert record["eventSource"] == event_source
    assert record["eventName"] == event_name
    assert record["awsRegion"] == REGION
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"].startswith("Boto3/"), record["userAgent"]
    assert record["requestID"] == request_id
    assert UUID4.match(record["eventID"]), record["eventID"]
    assert record["eventID"] != request_id
    assert record["readOnly"] is read_only
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT_ID
    assert record["eventCategory"] == "Management"


# ===================================================================== 1. one record per operation


@dataclass
class Call:
    """The audited call a scenario made, and the record members it should have produced."""

    response: dict[str, Any]
    request_parameters: dict[str, Any] | None
    resources: list[str] | None  # key ARNs; None: checked by a dedicated test instead
    response_elements: dict[str, Any] | None = None
    # requestParameters members AWS records that are checked by a dedicated test instead.
    unverified_parameters: tuple[str, ...] = ()


def _key(kms: Any, **kwargs: Any) -> dict[str, Any]:
    return dict(kms.create_key(Description="audit", **kwargs)["KeyMetadata"])


def _alias() -> str:
    return f"alias/audit-{uuid.uuid4().hex[:12]}"


def _alias_arn(alias: str) -> str:
    return f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:{alias}"


def s_create_key(kms: Any) -> Call:
    response = kms.create_key(Description="audit create", Tags=[{"TagKey": "team", "TagValue": "audit"}])
    metadata = response["KeyMetadata"]
    expected_metadata = {
        "keyId": metadata["KeyId"],
        "arn": metadata["Arn"],
        "creationDate": element_date(metadata["CreationDate"]),
        "enabled": True,
        "description": "audit create",
        "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": "Enabled",
        "origin": "AWS_KMS",
        "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "multiRegion": False,
    }
    return Call(
        response,
        {"description": "audit create", "tags": [{"tagKey": "team", "tagValue": "audit"}]},
        [metadata["Arn"]],
        {"keyMetadata": expected_metadata},
    )


def s_describe_key(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.describe_key(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_list_keys(kms: Any) -> Call:
    return Call(kms.list_keys(Limit=5), {"limit": 5}, [])


def s_update_key_description(kms: Any) -> Call:
    key = _key(kms)
    response = kms.update_key_description(KeyId=key["KeyId"], Description="renamed")
    return Call(response, {"keyId": key["KeyId"], "description": "renamed"}, [key["Arn"]])


def s_disable_key(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.disable_key(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_enable_key(kms: Any) -> Call:
    key = _key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    return Call(kms.enable_key(KeyId=key["Arn"]), {"keyId": key["Arn"]}, [key["Arn"]])


def s_schedule_key_deletion(kms: Any) -> Call:
    key = _key(kms)
    response = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    elements = {
        "keyId": key["Arn"],
        "deletionDate": element_date(response["DeletionDate"]),
        "keyState": "PendingDeletion",
        "pendingWindowInDays": 7,
    }
    return Call(response, {"keyId": key["KeyId"], "pendingWindowInDays": 7}, [key["Arn"]], elements)


def s_cancel_key_deletion(kms: Any) -> Call:
    key = _key(kms)
    kms.schedule_key_deletion(KeyId=key["KeyId"])
    response = kms.cancel_key_deletion(KeyId=key["KeyId"])
    return Call(response, {"keyId": key["KeyId"]}, [key["Arn"]], {"keyId": key["Arn"]})


def s_get_key_policy(kms: Any) -> Call:
    key = _key(kms)
    response = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    return Call(response, {"keyId": key["KeyId"], "policyName": "default"}, [key["Arn"]])


def s_list_key_policies(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.list_key_policies(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_put_key_policy(kms: Any) -> Call:
    key = _key(kms)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "audit", "Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "kms:*", "Resource": "*"}
            ],
        }
    )
    response = kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    return Call(response, {"keyId": key["KeyId"], "policyName": "default", "policy": policy}, [key["Arn"]])


def s_create_alias(kms: Any) -> Call:
    key, alias = _key(kms), _alias()
    response = kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    # Since Dec 2022 CloudTrail names the key in responseElements; resources hold the key, then the alias.
    resources = [key["Arn"], _alias_arn(alias)]
    return Call(response, {"aliasName": alias, "targetKeyId": key["KeyId"]}, resources, {"keyId": key["Arn"]})


def s_update_alias(kms: Any) -> Call:
    first, second, alias = _key(kms), _key(kms), _alias()
    kms.create_alias(AliasName=alias, TargetKeyId=first["KeyId"])
    response = kms.update_alias(AliasName=alias, TargetKeyId=second["KeyId"])
    resources = [second["Arn"], _alias_arn(alias)]
    return Call(response, {"aliasName": alias, "targetKeyId": second["KeyId"]}, resources, {"keyId": second["Arn"]})


def s_delete_alias(kms: Any) -> Call:
    key, alias = _key(kms), _alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    response = kms.delete_alias(AliasName=alias)
    # The key the alias named before it went: the API does not return it, the record does.
    return Call(response, {"aliasName": alias}, [_alias_arn(alias), key["Arn"]], {"keyId": key["Arn"]})


def s_list_aliases(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.list_aliases(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_tag_resource(kms: Any) -> Call:
    key = _key(kms)
    response = kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "env", "TagValue": "audit"}])
    return Call(response, {"keyId": key["KeyId"], "tags": [{"tagKey": "env", "tagValue": "audit"}]}, [key["Arn"]])


def s_untag_resource(kms: Any) -> Call:
    key = _key(kms, Tags=[{"TagKey": "env", "TagValue": "audit"}])
    response = kms.untag_resource(KeyId=key["KeyId"], TagKeys=["env"])
    return Call(response, {"keyId": key["KeyId"], "tagKeys": ["env"]}, [key["Arn"]])


def s_list_resource_tags(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.list_resource_tags(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_encrypt(kms: Any) -> Call:
    key = _key(kms)
    response = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"audit me", EncryptionContext={"purpose": "audit"})
    parameters = {
        "keyId": key["KeyId"],
        "encryptionContext": {"purpose": "audit"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    return Call(response, parameters, [key["Arn"]])


def s_decrypt(kms: Any) -> Call:
    key = _key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"audit me", EncryptionContext={"purpose": "audit"})
    # Neither KeyId nor EncryptionAlgorithm sent: the record still names the algorithm and the key.
    response = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"purpose": "audit"})
    parameters = {"encryptionContext": {"purpose": "audit"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    return Call(response, parameters, [key["Arn"]])


def s_re_encrypt(kms: Any) -> Call:
    source, destination = _key(kms), _key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"audit me", EncryptionContext={"from": "a"})
    response = kms.re_encrypt(
        CiphertextBlob=blob["CiphertextBlob"],
        SourceEncryptionContext={"from": "a"},
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"to": "b"},
    )
    parameters = {
        "sourceEncryptionContext": {"from": "a"},
        "destinationKeyId": destination["KeyId"],
        "destinationEncryptionContext": {"to": "b"},
        "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    unverified = ("sourceEncryptionAlgorithm", "destinationEncryptionAlgorithm")  # see test_re_encrypt_...
    return Call(response, parameters, [source["Arn"], destination["Arn"]], unverified_parameters=unverified)


def s_generate_data_key(kms: Any) -> Call:
    key = _key(kms)
    response = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"purpose": "dk"})
    parameters = {"keyId": key["KeyId"], "keySpec": "AES_256", "encryptionContext": {"purpose": "dk"}}
    return Call(response, parameters, [key["Arn"]])


def s_generate_data_key_without_plaintext(kms: Any) -> Call:
    key = _key(kms)
    response = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=32)
    return Call(response, {"keyId": key["KeyId"], "numberOfBytes": 32}, [key["Arn"]])


def s_generate_random(kms: Any) -> Call:
    return Call(kms.generate_random(NumberOfBytes=32), {"numberOfBytes": 32}, [])


def _grant(kms: Any, key: dict[str, Any]) -> dict[str, Any]:
    return dict(
        kms.create_grant(
            KeyId=key["KeyId"], GranteePrincipal=ROOT_ARN, RetiringPrincipal=ROOT_ARN, Operations=["Encrypt"]
        )
    )


def s_create_grant(kms: Any) -> Call:
    key = _key(kms)
    response = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:role/audit-grantee",
        Operations=["Encrypt", "Decrypt"],
        Name="audit-grant",
    )
    parameters = {
        "keyId": key["KeyId"],
        "granteePrincipal": f"arn:aws:iam::{ACCOUNT_ID}:role/audit-grantee",
        "operations": ["Encrypt", "Decrypt"],
        "name": "audit-grant",
    }
    return Call(response, parameters, [key["Arn"]], {"grantId": response["GrantId"]})


def s_list_grants(kms: Any) -> Call:
    key = _key(kms)
    _grant(kms, key)
    return Call(kms.list_grants(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_list_retirable_grants(kms: Any) -> Call:
    return Call(kms.list_retirable_grants(RetiringPrincipal=ROOT_ARN), {"retiringPrincipal": ROOT_ARN}, [])


def s_retire_grant(kms: Any) -> Call:
    key = _key(kms)
    grant = _grant(kms, key)
    response = kms.retire_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    return Call(response, {"keyId": key["KeyId"], "grantId": grant["GrantId"]}, [key["Arn"]])


def s_revoke_grant(kms: Any) -> Call:
    key = _key(kms)
    grant = _grant(kms, key)
    response = kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    return Call(response, {"keyId": key["KeyId"], "grantId": grant["GrantId"]}, [key["Arn"]])


def s_get_public_key(kms: Any) -> Call:
    key = _key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return Call(kms.get_public_key(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_sign(kms: Any) -> Call:
    key = _key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    response = kms.sign(KeyId=key["KeyId"], Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    parameters = {"keyId": key["KeyId"], "messageType": "RAW", "signingAlgorithm": "ECDSA_SHA_256"}
    return Call(response, parameters, [key["Arn"]])


def s_verify(kms: Any) -> Call:
    key = _key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    signature = kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    response = kms.verify(
        KeyId=key["KeyId"], Message=b"m", MessageType="RAW", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
    )
    parameters = {"keyId": key["KeyId"], "messageType": "RAW", "signingAlgorithm": "ECDSA_SHA_256"}
    return Call(response, parameters, [key["Arn"]])


def s_generate_mac(kms: Any) -> Call:
    key = _key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    response = kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    return Call(response, {"keyId": key["KeyId"], "macAlgorithm": "HMAC_SHA_256"}, [key["Arn"]])


def s_verify_mac(kms: Any) -> Call:
    key = _key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    response = kms.verify_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    return Call(response, {"keyId": key["KeyId"], "macAlgorithm": "HMAC_SHA_256"}, [key["Arn"]])


def s_derive_shared_secret(kms: Any) -> Call:
    key = _key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    peer = kms.get_public_key(KeyId=_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyId"])
    response = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer["PublicKey"])
    return Call(response, {"keyId": key["KeyId"], "keyAgreementAlgorithm": "ECDH"}, [key["Arn"]])


def s_encapsulate(kms: Any) -> Call:
    key = _key(kms, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    response = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    return Call(response, {"keyId": key["KeyId"], "encapsulationAlgorithm": "ML_KEM"}, [key["Arn"]])


def s_decapsulate(kms: Any) -> Call:
    key = _key(kms, KeySpec="ML_KEM_1024", KeyUsage="ENCAPSULATE_DECAPSULATE")
    blob = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    response = kms.decapsulate(KeyId=key["KeyId"], SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")
    return Call(response, {"keyId": key["KeyId"], "encapsulationAlgorithm": "ML_KEM"}, [key["Arn"]])


def _data_key_pair(kms: Any, operation: str) -> Call:
    key = _key(kms)
    context = {"purpose": "audit"}
    response = getattr(kms, operation)(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256", EncryptionContext=context)
    parameters = {"keyId": key["KeyId"], "keyPairSpec": "ECC_NIST_P256", "encryptionContext": context}
    return Call(response, parameters, [key["Arn"]])


def s_generate_data_key_pair(kms: Any) -> Call:
    return _data_key_pair(kms, "generate_data_key_pair")


def s_generate_data_key_pair_without_plaintext(kms: Any) -> Call:
    return _data_key_pair(kms, "generate_data_key_pair_without_plaintext")


def s_enable_key_rotation(kms: Any) -> Call:
    key = _key(kms)
    response = kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=120)
    return Call(response, {"keyId": key["KeyId"], "rotationPeriodInDays": 120}, [key["Arn"]])


def s_disable_key_rotation(kms: Any) -> Call:
    key = _key(kms)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    return Call(kms.disable_key_rotation(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_get_key_rotation_status(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.get_key_rotation_status(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_rotate_key_on_demand(kms: Any) -> Call:
    key = _key(kms)
    response = kms.rotate_key_on_demand(KeyId=key["KeyId"])
    return Call(response, {"keyId": key["KeyId"]}, [key["Arn"]], {"keyId": key["Arn"]})


def s_list_key_rotations(kms: Any) -> Call:
    key = _key(kms)
    rotate_on_demand(kms, key["KeyId"])
    response = kms.list_key_rotations(KeyId=key["KeyId"], Limit=10)
    return Call(response, {"keyId": key["KeyId"], "limit": 10}, [key["Arn"]])


def _imported(kms: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    key = _key(kms, Origin="EXTERNAL")
    return key, import_material(kms, key["KeyId"], os.urandom(32))


def s_get_parameters_for_import(kms: Any) -> Call:
    key = _key(kms, Origin="EXTERNAL")
    response = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    parameters = {"keyId": key["KeyId"], "wrappingAlgorithm": "RSAES_OAEP_SHA_256", "wrappingKeySpec": "RSA_2048"}
    return Call(response, parameters, [key["Arn"]])


def s_import_key_material(kms: Any) -> Call:
    key = _key(kms, Origin="EXTERNAL")
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    response = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    parameters = {"keyId": key["KeyId"], "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    elements = {"keyId": key["Arn"], "keyMaterialId": response["KeyMaterialId"]}
    return Call(response, parameters, [key["Arn"]], elements)


def s_delete_imported_key_material(kms: Any) -> Call:
    key, imported = _imported(kms)
    response = kms.delete_imported_key_material(KeyId=key["KeyId"])
    elements = {"keyId": key["Arn"], "keyMaterialId": imported["KeyMaterialId"]}
    return Call(response, {"keyId": key["KeyId"]}, [key["Arn"]], elements)


def s_get_key_last_usage(kms: Any) -> Call:
    key = _key(kms)
    return Call(kms.get_key_last_usage(KeyId=key["KeyId"]), {"keyId": key["KeyId"]}, [key["Arn"]])


def s_replicate_key(kms: Any) -> Call:
    key = _key(kms, MultiRegion=True)
    response = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-central-1")
    # responseElements: checked in the test, as for CreateKey.
    return Call(response, {"keyId": key["KeyId"], "replicaRegion": "eu-central-1"}, [key["Arn"]])


def s_update_primary_region(kms: Any) -> Call:
    key = _key(kms, MultiRegion=True)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-north-1")
    response = kms.update_primary_region(KeyId=key["KeyId"], PrimaryRegion="eu-north-1")
    return Call(response, {"keyId": key["KeyId"], "primaryRegion": "eu-north-1"}, [key["Arn"]])


SCENARIOS: dict[str, Callable[[Any], Call]] = {
    "ReplicateKey": s_replicate_key,
    "UpdatePrimaryRegion": s_update_primary_region,
    "GetKeyLastUsage": s_get_key_last_usage,
    "DeleteImportedKeyMaterial": s_delete_imported_key_material,
    "GetParametersForImport": s_get_parameters_for_import,
    "ImportKeyMaterial": s_import_key_material,
    "DisableKeyRotation": s_disable_key_rotation,
    "EnableKeyRotation": s_enable_key_rotation,
    "GetKeyRotationStatus": s_get_key_rotation_status,
    "ListKeyRotations": s_list_key_rotations,
    "RotateKeyOnDemand": s_rotate_key_on_demand,
    "DeriveSharedSecret": s_derive_shared_secret,
    "Encapsulate": s_encapsulate,
    "Decapsulate": s_decapsulate,
    "GenerateDataKeyPair": s_generate_data_key_pair,
    "GenerateDataKeyPairWithoutPlaintext": s_generate_data_key_pair_without_plaintext,
    "GenerateMac": s_generate_mac,
    "GetPublicKey": s_get_public_key,
    "Sign": s_sign,
    "Verify": s_verify,
    "VerifyMac": s_verify_mac,
    "CancelKeyDeletion": s_cancel_key_deletion,
    "CreateAlias": s_create_alias,
    "CreateGrant": s_create_grant,
    "CreateKey": s_create_key,
    "Decrypt": s_decrypt,
    "DeleteAlias": s_delete_alias,
    "DescribeKey": s_describe_key,
    "DisableKey": s_disable_key,
    "EnableKey": s_enable_key,
    "Encrypt": s_encrypt,
    "GenerateDataKey": s_generate_data_key,
    "GenerateDataKeyWithoutPlaintext": s_generate_data_key_without_plaintext,
    "GenerateRandom": s_generate_random,
    "GetKeyPolicy": s_get_key_policy,
    "ListAliases": s_list_aliases,
    "ListGrants": s_list_grants,
    "ListKeyPolicies": s_list_key_policies,
    "ListKeys": s_list_keys,
    "ListResourceTags": s_list_resource_tags,
    "ListRetirableGrants": s_list_retirable_grants,
    "PutKeyPolicy": s_put_key_policy,
    "ReEncrypt": s_re_encrypt,
    "RetireGrant": s_retire_grant,
    "RevokeGrant": s_revoke_grant,
    "ScheduleKeyDeletion": s_schedule_key_deletion,
    "TagResource": s_tag_resource,
    "UntagResource": s_untag_resource,
    "UpdateAlias": s_update_alias,
    "UpdateKeyDescription": s_update_key_description,
}

# CloudTrail's readOnly for KMS (the AWS samples): reads and cryptographic operations are read-only.
READ_ONLY = {
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetKeyRotationStatus",
    "ListKeyRotations",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "GetPublicKey",
    "Sign",
    "Verify",
    "VerifyMac",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyPolicy",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "ReEncrypt",
}
# Operations whose record carries (part of) their response; all others record responseElements: null.
RESPONSE_RECORDED = {
    "ReplicateKey",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "RotateKeyOnDemand",
    "CreateKey",
    "CreateGrant",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
}


def test_every_implemented_operation_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(HANDLERS)


@pytest.mark.parametrize("operation", sorted(HANDLERS))
def test_each_operation_is_recorded_once_in_cloudtrail_format(server: TrentServer, kms: Any, operation: str) -> None:
    before = now_second()
    call = SCENARIOS[operation](kms)
    request_id = rid(call.response)
    record = one_record(server, request_id)
    check_envelope(
        record,
        request_id=request_id,
        event_name=operation,
        identity=root_identity(),
        read_only=operation in READ_ONLY,
        window=(before, now_second()),
    )
    assert "errorCode" not in record
    assert "errorMessage" not in record

    parameters = record["requestParameters"]
    if call.request_parameters is None:
        assert parameters is None
    else:
        assert isinstance(parameters, dict), record
        shown = {k: v for k, v in parameters.items() if k not in call.unverified_parameters}
        wanted = {k: v for k, v in call.request_parameters.items() if k not in call.unverified_parameters}
        assert shown == wanted

    elements = record["responseElements"]
    if operation not in RESPONSE_RECORDED:
        assert elements is None
    elif operation == "ReplicateKey":
        replica = call.response["ReplicaKeyMetadata"]
        assert elements["replicaKeyMetadata"]["arn"] == replica["Arn"]
        assert elements["replicaKeyMetadata"]["keyState"] == "Creating"
        assert elements["replicaPolicy"] == call.response["ReplicaPolicy"]
    elif operation == "CreateKey":
        assert call.response_elements is not None
        metadata = elements["keyMetadata"]
        for member, value in call.response_elements["keyMetadata"].items():
            assert metadata[member] == value, member
        assert ELEMENT_DATE.match(metadata["creationDate"])
    else:
        assert elements == call.response_elements
    if operation == "CreateGrant":
        assert "grantToken" not in elements
        assert call.response["GrantToken"] not in json.dumps(record)

    if call.resources is not None:
        if call.resources:
            assert record["resources"] == key_resources(*call.resources)
        else:
            assert "resources" not in record or record["resources"] == []


def test_create_key_record_names_the_account_as_cloudtrail_does(server: TrentServer, kms: Any) -> None:
    record = one_record(server, rid(kms.create_key()))
    metadata = record["responseElements"]["keyMetadata"]
    assert metadata.get("AWSAccountId") == ACCOUNT_ID
    assert "aWSAccountId" not in metadata


def test_re_encrypt_record_names_both_algorithms(server: TrentServer, kms: Any) -> None:
    key = _key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    record = one_record(server, rid(kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key["KeyId"])))
    assert record["requestParameters"]["sourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert record["requestParameters"]["destinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_delete_alias_names_its_key(server: TrentServer, kms: Any) -> None:
    key, alias = _key(kms), _alias()
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    record = one_record(server, rid(kms.delete_alias(AliasName=alias)))
    assert record["responseElements"] == {"keyId": key["Arn"]}
    assert key["Arn"] in [resource["ARN"] for resource in record.get("resources", [])]


def test_read_only_and_failed_requests_are_durable_before_the_response(server: TrentServer, kms: Any) -> None:
    # No waiting or polling: the record is in the store as soon as the response arrives.
    key = _key(kms)
    for _ in range(5):
        request_id = rid(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
        assert len(records_for(server, request_id)) == 1
    with pytest.raises(ClientError) as info:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert len(records_for(server, rid(info.value.response))) == 1


# ===================================================================== IAM identities (not --dev)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("audit-iam") / "data", dev=False).start()
    yield srv
    srv.stop()


def test_iam_user_identity(secure: TrentServer) -> None:
    user, credentials = new_user(secure, "audit-alice")
    secure.client("iam", **admin(secure)).put_user_policy(
        UserName="audit-alice", PolicyName="kms", PolicyDocument=allow("kms:*")
    )
    kms = secure.client("kms", **credentials)
    key = _key(kms)
    response = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"from alice")
    record = one_record(secure, rid(response))
    check_envelope(
        record,
        request_id=rid(response),
        event_name="Encrypt",
        read_only=True,
        identity={
            "type": "IAMUser",
            "principalId": user["UserId"],
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/audit-alice",
            "accountId": ACCOUNT_ID,
            "accessKeyId": credentials["access_key"],
            "userName": "audit-alice",
        },
    )
    assert user["UserId"].startswith("AIDA")
    assert record["resources"] == key_resources(key["Arn"])


def test_assumed_role_identity(secure: TrentServer) -> None:
    iam = secure.client("iam", **admin(secure))
    role = iam.create_role(RoleName="audit-role", AssumeRolePolicyDocument=trust(ROOT_ARN))["Role"]
    iam.put_role_policy(RoleName="audit-role", PolicyName="kms", PolicyDocument=allow("kms:*"))
    before = now_second()
    assumed = secure.client("sts", **admin(secure)).assume_role(RoleArn=role["Arn"], RoleSessionName="audit-session")
    session = session_credentials(assumed["Credentials"])
    kms = secure.client("kms", **session)
    response = kms.generate_random(NumberOfBytes=16)
    after = now_second()
    record = one_record(secure, rid(response))
    identity = record["userIdentity"]
    creation = identity["sessionContext"]["attributes"]["creationDate"]
    assert before <= event_time({"eventTime": creation}) <= after + timedelta(seconds=1)
    check_envelope(
        record,
        request_id=rid(response),
        event_name="GenerateRandom",
        read_only=True,
        identity={
            "type": "AssumedRole",
            "principalId": f"{role['RoleId']}:audit-session",
            "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/audit-role/audit-session",
            "accountId": ACCOUNT_ID,
            "accessKeyId": session["access_key"],
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role["RoleId"],
                    "arn": role["Arn"],
                    "accountId": ACCOUNT_ID,
                    "userName": "audit-role",
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": creation, "mfaAuthenticated": "false"},
            },
        },
    )
    assert session["access_key"].startswith("ASIA")
    # LookupEvents' Username for a role session is the session name.
    events = secure.client("cloudtrail", **admin(secure)).lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "audit-session"}]
    )["Events"]
    assert [json.loads(event["CloudTrailEvent"])["requestID"] for event in events] == [rid(response)]
    assert events[0]["Username"] == "audit-session"


# ===================================================================== 2. denied and failed calls


def test_denied_call_is_recorded_with_the_error(secure: TrentServer) -> None:
    user, credentials = new_user(secure, "audit-mallory")
    key = _key(secure.client("kms", **admin(secure)))
    kms = secure.client("kms", **credentials)
    with aws_error(kms, "AccessDeniedException") as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"not allowed", EncryptionContext={"who": "mallory"})
    assert caught.message.startswith(f"User: arn:aws:iam::{ACCOUNT_ID}:user/audit-mallory is not authorized")
    # The request id of the failed call: the last record of this user's access key.
    events = secure.client("cloudtrail", **admin(secure)).lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": credentials["access_key"]}]
    )["Events"]
    assert len(events) == 1
    record = json.loads(events[0]["CloudTrailEvent"])
    assert one_record(secure, record["requestID"]) == record
    check_envelope(
        record,
        request_id=record["requestID"],
        event_name="Encrypt",
        read_only=True,
        identity={
            "type": "IAMUser",
            "principalId": user["UserId"],
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/audit-mallory",
            "accountId": ACCOUNT_ID,
            "accessKeyId": credentials["access_key"],
            "userName": "audit-mallory",
        },
    )
    # CloudTrail writes KMS denials as errorCode AccessDenied (not the wire name AccessDeniedException).
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == caught.message
    assert record["requestParameters"] == {
        "keyId": key["KeyId"],
        "encryptionContext": {"who": "mallory"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert record["responseElements"] is None
    assert record["resources"] == key_resources(key["Arn"])


def _failed(server: TrentServer, kms: Any, code: str, call: Callable[[], Any]) -> tuple[dict[str, Any], str]:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response
    assert error["Error"]["Code"] == code, error
    record = one_record(server, rid(error))
    assert record["errorCode"] == code
    assert record["errorMessage"] == error["Error"]["Message"]
    assert record["responseElements"] is None
    return record, rid(error)


def test_failed_calls_are_recorded_with_the_exception_name(server: TrentServer, kms: Any) -> None:
    missing = str(uuid.uuid4())
    record, request_id = _failed(server, kms, "NotFoundException", lambda: kms.describe_key(KeyId=missing))
    check_envelope(record, request_id=request_id, event_name="DescribeKey", identity=root_identity(), read_only=True)
    assert record["requestParameters"] == {"keyId": missing}
    assert record["errorMessage"] == f"Key 'arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{missing}' does not exist"

    key = _key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    record, request_id = _failed(
        server, kms, "DisabledException", lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    )
    check_envelope(record, request_id=request_id, event_name="Encrypt", identity=root_identity(), read_only=True)
    assert record["resources"] == key_resources(key["Arn"])
    assert record["requestParameters"] == {"keyId": key["KeyId"], "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    record, request_id = _failed(
        server, kms, "InvalidCiphertextException", lambda: kms.decrypt(CiphertextBlob=os.urandom(120))
    )
    check_envelope(record, request_id=request_id, event_name="Decrypt", identity=root_identity(), read_only=True)
    assert record["requestParameters"] == {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    enabled = _key(kms)
    record, request_id = _failed(
        server,
        kms,
        "ValidationException",
        lambda: kms.generate_data_key(KeyId=enabled["KeyId"], KeySpec="AES_256", NumberOfBytes=32),
    )
    check_envelope(
        record, request_id=request_id, event_name="GenerateDataKey", identity=root_identity(), read_only=True
    )
    assert record["requestParameters"] == {"keyId": enabled["KeyId"], "keySpec": "AES_256", "numberOfBytes": 32}


def test_bad_signature_is_recorded_with_an_unknown_identity(secure: TrentServer) -> None:
    _, credentials = new_user(secure, "audit-forger")
    kms = secure.client("kms", access_key=credentials["access_key"], secret_key="wrong" + credentials["secret_key"])
    with pytest.raises(ClientError) as info:
        kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"forged")
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    record = one_record(secure, rid(error))
    check_envelope(
        record,
        request_id=rid(error),
        event_name="Encrypt",
        read_only=True,
        identity={"type": "Unknown", "accountId": ACCOUNT_ID, "accessKeyId": credentials["access_key"]},
    )
    assert record["errorCode"] == "InvalidSignatureException"
    assert record["errorMessage"] == error["Error"]["Message"]
    # Nothing of an unauthenticated body is trusted or recorded.
    assert record["requestParameters"] is None
    assert record["responseElements"] is None
    assert "resources" not in record


# ===================================================================== 3. secrets never recorded


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        secret.hex().encode(),
        secret.hex().upper().encode(),
    ]


def test_secrets_are_never_recorded(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key = _key(kms)
    other = _key(kms)
    visible = f"ec-visible-{uuid.uuid4().hex}"
    context = {"tenant": visible}
    canary = os.urandom(48)
    secrets: dict[str, bytes] = {"plaintext": canary}

    grant = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=ROOT_ARN, RetiringPrincipal=ROOT_ARN, Operations=["Encrypt", "Decrypt"]
    )
    secrets["grant token"] = grant["GrantToken"].encode()
    encrypted = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=canary, EncryptionContext=context, GrantTokens=[grant["GrantToken"]]
    )
    secrets["ciphertext"] = encrypted["CiphertextBlob"]
    decrypted = kms.decrypt(
        CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=context, GrantTokens=[grant["GrantToken"]]
    )
    assert decrypted["Plaintext"] == canary
    reencrypted = kms.re_encrypt(
        CiphertextBlob=encrypted["CiphertextBlob"],
        SourceEncryptionContext=context,
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionContext=context,
    )
    secrets["re-encrypted ciphertext"] = reencrypted["CiphertextBlob"]
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=context)
    secrets["data key"] = data_key["Plaintext"]
    secrets["data key ciphertext"] = data_key["CiphertextBlob"]
    without = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=48)
    secrets["data key ciphertext (without plaintext)"] = without["CiphertextBlob"]
    secrets["random"] = kms.generate_random(NumberOfBytes=48)["Plaintext"]
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256", EncryptionContext=context)
    secrets["data key pair private key"] = pair["PrivateKeyPlaintext"]
    secrets["data key pair private key ciphertext"] = pair["PrivateKeyCiphertextBlob"]
    signer = _key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    message = os.urandom(40)
    secrets["signed message"] = message
    secrets["signature"] = kms.sign(KeyId=signer["KeyId"], Message=message, SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    mac_key = _key(kms, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    secrets["mac"] = kms.generate_mac(KeyId=mac_key["KeyId"], Message=message, MacAlgorithm="HMAC_SHA_384")["Mac"]
    agreement = _key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    peer = kms.get_public_key(KeyId=_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyId"])
    secrets["shared secret"] = kms.derive_shared_secret(
        KeyId=agreement["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer["PublicKey"]
    )["SharedSecret"]
    decrypted_key = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    assert decrypted_key["Plaintext"] == data_key["Plaintext"]
    kms.retire_grant(GrantToken=grant["GrantToken"])

    records = [json.dumps(record).encode() for record in all_records(fresh_server)]
    assert len(records) >= 11
    store = b"\n".join(records)
    database = fresh_server.data_dir / "trent.db"
    files = {"trent.db": database.read_bytes()}
    wal = database.with_name("trent.db-wal")
    if wal.exists():
        files["trent.db-wal"] = wal.read_bytes()
    log = fresh_server.log().encode()
    assert log  # the server did write its log
    for name, secret in secrets.items():
        for form in _forms(secret):
            assert form not in store, f"{name} recorded in the audit trail"
            assert form not in log, f"{name} in the server log"
            for file_name, content in files.items():
                assert form not in content, f"{name} in {file_name}"
    # Encryption context is recorded, as CloudTrail does (it must not carry secrets).
    assert visible.encode() in store
    assert sum(visible.encode() in record for record in records) >= 5
    # A record written for the grant-token RetireGrant, without the token.
    retire = [json.loads(r) for r in records if b'"eventName":"RetireGrant"' in r.replace(b" ", b"")]
    assert len(retire) == 1
    assert retire[0]["requestParameters"] is None or "grantToken" not in retire[0]["requestParameters"]


# ===================================================================== 4. LookupEvents


@dataclass
class Activity:
    """Calls made with one access key of their own, so lookups can name exactly them."""

    access_key: str
    key: dict[str, Any]
    request_ids: list[str]  # oldest first


def _activity(server: TrentServer, encrypts: int = 3) -> Activity:
    access_key = "AKIA" + uuid.uuid4().hex[:16].upper()
    kms = server.client(access_key=access_key)
    created = kms.create_key(Description="lookup")
    key = created["KeyMetadata"]
    ids = [rid(created)]
    for n in range(encrypts):
        ids.append(rid(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"lookup %d" % n, EncryptionContext={"n": str(n)})))
    ids.append(rid(kms.describe_key(KeyId=key["Arn"])))
    ids.append(rid(kms.generate_random(NumberOfBytes=8)))  # no key: not a resource event
    return Activity(access_key, dict(key), ids)


def _reader(server: TrentServer) -> Any:
    return server.client("cloudtrail", access_key="AKIA" + uuid.uuid4().hex[:16].upper())


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [json.loads(event["CloudTrailEvent"])["requestID"] for event in events]


def _by(attribute: str, value: str) -> list[dict[str, str]]:
    return [{"AttributeKey": attribute, "AttributeValue": value}]


def test_lookup_events_by_access_key_gives_the_events_newest_first(server: TrentServer) -> None:
    activity = _activity(server)
    trail = _reader(server)
    events = trail.lookup_events(LookupAttributes=_by("AccessKeyId", activity.access_key))["Events"]
    assert _ids(events) == activity.request_ids[::-1]
    assert "NextToken" not in trail.lookup_events(LookupAttributes=_by("AccessKeyId", activity.access_key))

    encrypt = events[-2]  # the first Encrypt
    stored = one_record(server, activity.request_ids[1])
    assert json.loads(encrypt["CloudTrailEvent"]) == stored
    assert encrypt == {
        "EventId": stored["eventID"],
        "EventName": "Encrypt",
        "ReadOnly": "true",
        "AccessKeyId": activity.access_key,
        "EventTime": event_time(stored),
        "EventSource": KMS,
        "Username": "root",
        "Resources": [{"ResourceType": KEY_TYPE, "ResourceName": activity.key["Arn"]}],
        "CloudTrailEvent": encrypt["CloudTrailEvent"],
    }
    assert events[-1]["EventName"] == "CreateKey"
    assert events[-1]["ReadOnly"] == "false"
    assert events[0]["EventName"] == "GenerateRandom"
    assert events[0].get("Resources", []) == []


def test_lookup_events_by_each_attribute(server: TrentServer) -> None:
    activity = _activity(server, encrypts=8)  # ten events that name the key
    trail = _reader(server)
    arn = activity.key["Arn"]
    key_event_ids = activity.request_ids[:-1]  # all but GenerateRandom name the key

    by_resource = trail.lookup_events(LookupAttributes=_by("ResourceName", arn))["Events"]
    assert _ids(by_resource) == key_event_ids[::-1]
    assert all(event["Resources"] == [{"ResourceType": KEY_TYPE, "ResourceName": arn}] for event in by_resource)

    by_type = trail.lookup_events(LookupAttributes=_by("ResourceType", KEY_TYPE), MaxResults=10)["Events"]
    assert len(by_type) == 10
    assert _ids(by_type)[0] == activity.request_ids[-2]  # the DescribeKey: newest keyed event
    assert all(KEY_TYPE in [r["ResourceType"] for r in event["Resources"]] for event in by_type)

    stored = one_record(server, activity.request_ids[2])
    by_id = trail.lookup_events(LookupAttributes=_by("EventId", stored["eventID"]))["Events"]
    assert [event["EventId"] for event in by_id] == [stored["eventID"]]
    assert json.loads(by_id[0]["CloudTrailEvent"]) == stored

    by_name = trail.lookup_events(LookupAttributes=_by("EventName", "CreateKey"), MaxResults=20)["Events"]
    assert {event["EventName"] for event in by_name} == {"CreateKey"}
    assert _ids(by_name)[0] == activity.request_ids[0]

    by_user = trail.lookup_events(LookupAttributes=_by("Username", "root"), MaxResults=50)["Events"]
    assert {event["Username"] for event in by_user} == {"root"}
    assert set(activity.request_ids) <= set(_ids(by_user))

    writes = trail.lookup_events(LookupAttributes=_by("ReadOnly", "false"), MaxResults=20)["Events"]
    assert {event["ReadOnly"] for event in writes} == {"false"}
    # Background work of other tests (a rotation's RotateKey service event) may come later.
    writes = [e for e in writes if json.loads(e["CloudTrailEvent"])["eventType"] != "AwsServiceEvent"]
    assert _ids(writes)[0] == activity.request_ids[0]
    reads = trail.lookup_events(LookupAttributes=_by("ReadOnly", "true"), MaxResults=20)["Events"]
    assert {event["ReadOnly"] for event in reads} == {"true"}

    previous = trail.lookup_events(LookupAttributes=_by("EventSource", KMS), MaxResults=20)
    assert {event["EventSource"] for event in previous["Events"]} == {KMS}
    assert _ids(previous["Events"])[0] == activity.request_ids[-1]
    # LookupEvents is itself recorded (eventSource cloudtrail.amazonaws.com, read-only).
    own = trail.lookup_events(LookupAttributes=_by("EventSource", CLOUDTRAIL), MaxResults=5)["Events"]
    assert {event["EventSource"] for event in own} == {CLOUDTRAIL}
    newest = json.loads(own[0]["CloudTrailEvent"])
    assert newest["requestID"] == rid(previous)
    assert newest["eventName"] == "LookupEvents"
    assert newest["readOnly"] is True
    assert newest["responseElements"] is None
    assert newest["requestParameters"]["lookupAttributes"] == [{"attributeKey": "EventSource", "attributeValue": KMS}]
    assert newest["requestParameters"]["maxResults"] == 20


def test_lookup_events_time_window(server: TrentServer) -> None:
    activity = _activity(server)
    trail = _reader(server)
    everything = trail.lookup_events(LookupAttributes=_by("AccessKeyId", activity.access_key))["Events"]
    oldest, newest = everything[-1]["EventTime"], everything[0]["EventTime"]
    assert oldest <= newest

    def lookup(**window: datetime) -> list[str]:
        return _ids(trail.lookup_events(LookupAttributes=_by("AccessKeyId", activity.access_key), **window)["Events"])

    assert lookup(StartTime=oldest, EndTime=newest + timedelta(seconds=1)) == activity.request_ids[::-1]
    assert lookup(StartTime=oldest - timedelta(hours=1)) == activity.request_ids[::-1]
    assert lookup(StartTime=newest + timedelta(days=1)) == []
    assert lookup(EndTime=oldest - timedelta(days=1)) == []
    assert lookup(StartTime=oldest - timedelta(days=2), EndTime=oldest - timedelta(days=1)) == []


def test_lookup_events_max_results_and_next_token(server: TrentServer) -> None:
    activity = _activity(server, encrypts=4)  # 7 events
    trail = _reader(server)
    attributes = _by("AccessKeyId", activity.access_key)
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = trail.lookup_events(LookupAttributes=attributes, MaxResults=2, **extra)
        pages.append(_ids(page["Events"]))
        token = page.get("NextToken")
        if token is None:
            break
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [request_id for page in pages for request_id in page] == activity.request_ids[::-1]

    first = trail.lookup_events(LookupAttributes=attributes, MaxResults=3)
    assert len(first["Events"]) == 3
    with aws_error(trail, "InvalidNextTokenException"):
        trail.lookup_events(LookupAttributes=attributes, NextToken="this-is-not-a-token")
    with aws_error(trail, "InvalidNextTokenException"):
        trail.lookup_events(LookupAttributes=_by("EventName", "Encrypt"), NextToken=first["NextToken"])


def test_lookup_events_paginator_over_more_than_one_page(server: TrentServer) -> None:
    access_key = "AKIA" + uuid.uuid4().hex[:16].upper()
    kms = server.client(access_key=access_key)
    key = _key(kms)
    ids = [rid(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"%d" % n)) for n in range(55)]
    paginator = _reader(server).get_paginator("lookup_events")
    pages = list(paginator.paginate(LookupAttributes=_by("AccessKeyId", access_key)))
    assert [len(page["Events"]) for page in pages] == [50, 6]  # default MaxResults is 50
    events = [event for page in pages for event in page["Events"]]
    assert _ids(events)[:55] == ids[::-1]
    assert events[-1]["EventName"] == "CreateKey"
    assert len({event["EventId"] for event in events}) == 56
    small = list(paginator.paginate(LookupAttributes=_by("AccessKeyId", access_key), PaginationConfig={"PageSize": 20}))
    assert [len(page["Events"]) for page in small] == [20, 20, 16]


def test_lookup_events_errors(server: TrentServer) -> None:
    trail = _reader(server)
    with aws_error(trail, "InvalidLookupAttributesException"):
        trail.lookup_events(LookupAttributes=[*_by("EventName", "Encrypt"), *_by("ReadOnly", "true")])
    now = datetime.now(UTC)
    with aws_error(trail, "InvalidTimeRangeException"):
        trail.lookup_events(StartTime=now, EndTime=now - timedelta(hours=1))
    with aws_error(trail, "InvalidNextTokenException"):
        trail.lookup_events(NextToken="garbage")


def test_lookup_events_with_the_aws_cli(server: TrentServer) -> None:
    activity = _activity(server)
    output = server.aws(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=Encrypt",
        "--max-items",
        "3",
    )
    events = output["Events"]
    assert len(events) == 3
    assert {event["EventName"] for event in events} == {"Encrypt"}
    assert _ids(events) == activity.request_ids[3:0:-1]  # the three Encrypts, newest first
    assert {event["Username"] for event in events} == {"root"}
    assert events[0]["Resources"] == [{"ResourceType": KEY_TYPE, "ResourceName": activity.key["Arn"]}]
    # Unpaged by --max-items, the CLI follows NextToken itself.
    everything = server.aws(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        f"AttributeKey=AccessKeyId,AttributeValue={activity.access_key}",
        "--page-size",
        "2",
    )
    assert _ids(everything["Events"]) == activity.request_ids[::-1]
    failed = server.aws(
        "cloudtrail",
        "lookup-events",
        "--start-time",
        "2026-01-02T00:00:00Z",
        "--end-time",
        "2026-01-01T00:00:00Z",
        check=False,
    )
    assert failed.returncode != 0
    assert "(InvalidTimeRangeException)" in failed.stderr


def test_lookup_events_needs_cloudtrail_lookup_events_permission(secure: TrentServer) -> None:
    _, credentials = new_user(secure, "audit-reader")
    trail = secure.client("cloudtrail", **credentials)
    with pytest.raises(ClientError) as info:
        trail.lookup_events(MaxResults=1)
    error = info.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/audit-reader is not authorized to perform: cloudtrail:LookupEvents"
    )
    secure.client("iam", **admin(secure)).put_user_policy(
        UserName="audit-reader", PolicyName="trail", PolicyDocument=allow("cloudtrail:LookupEvents")
    )
    events = trail.lookup_events(LookupAttributes=_by("Username", "audit-reader"))["Events"]
    assert _ids(events) == [rid(error)]
    denied = json.loads(events[0]["CloudTrailEvent"])
    assert denied["eventSource"] == CLOUDTRAIL
    assert denied["eventName"] == "LookupEvents"
    assert denied["userIdentity"]["userName"] == "audit-reader"
    assert denied["errorCode"] == "AccessDenied"  # as CloudTrail writes every denial
    assert denied["errorMessage"] == error["Error"]["Message"]


# ===================================================================== 5. fail closed


def _audit_read_only(server: TrentServer, *, on: bool) -> None:
    with closing(_connect(server)) as db:
        if on:
            db.execute(
                "CREATE TRIGGER audit_readonly BEFORE INSERT ON audit_events "
                "BEGIN SELECT RAISE(FAIL, 'audit store read-only'); END;"
            )
        else:
            db.execute("DROP TRIGGER audit_readonly")


def _fails_closed(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    assert response["Error"]["Code"] == "KMSInternalException", response
    assert response["Error"]["Message"] == FAILED_CLOSED
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    for member in ("Plaintext", "CiphertextBlob", "KeyMetadata", "KeyId"):
        assert member not in response
    return dict(response)


def test_requests_fail_closed_when_the_audit_store_refuses_writes(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key = _key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    before = record_count(fresh_server)
    alias = _alias()

    _audit_read_only(fresh_server, on=True)
    try:
        refused = [
            _fails_closed(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"during")),
            _fails_closed(lambda: kms.decrypt(CiphertextBlob=blob)),
            _fails_closed(lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")),
            _fails_closed(lambda: kms.create_key(Description="must not exist")),
            _fails_closed(lambda: kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])),
        ]
        assert record_count(fresh_server) == before
    finally:
        _audit_read_only(fresh_server, on=False)

    # Recovered without a restart; nothing the refused requests did was kept.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key["KeyId"]]
    assert alias not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    with aws_error(kms, "NotFoundException"):
        kms.describe_key(KeyId=alias)
    for response in refused:
        assert records_for(fresh_server, rid(response)) == []
    assert record_count(fresh_server) == before + 4  # Decrypt, ListKeys, ListAliases, the failed DescribeKey
    report = verify_store(fresh_server)
    assert report.intact, report.issues
    assert report.records == before + 4
    assert "request failed closed" in fresh_server.log()


# ===================================================================== 6. service events


def test_key_deletion_at_the_end_of_its_window_is_an_aws_service_event(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key = _key(kms)
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 7 * 86400 + 1})

    def deletions() -> list[dict[str, Any]]:
        return [
            record
            for record in all_records(fresh_server)
            if record["eventName"] == "DeleteKey" and record["eventType"] == "AwsServiceEvent"
        ]

    deadline = time.monotonic() + 20
    while not deletions() and time.monotonic() < deadline:
        time.sleep(0.1)
    found = deletions()
    assert len(found) == 1, found
    record = found[0]
    assert UUID4.match(record.pop("eventID"))
    assert event_time(record) >= scheduled["DeletionDate"].replace(microsecond=0)
    del record["eventTime"]
    assert record == {
        "eventVersion": "1.11",
        "userIdentity": {"accountId": ACCOUNT_ID, "invokedBy": KMS},
        "eventSource": KMS,
        "eventName": "DeleteKey",
        "awsRegion": REGION,
        "sourceIPAddress": KMS,
        "userAgent": KMS,
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": {"keyId": key["Arn"]},
        "readOnly": False,
        "resources": key_resources(key["Arn"]),
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT_ID,
        "eventCategory": "Management",
    }
    with aws_error(kms, "NotFoundException"):
        kms.describe_key(KeyId=key["KeyId"])
    looked_up = fresh_server.client("cloudtrail").lookup_events(LookupAttributes=_by("ResourceName", key["Arn"]))
    # The refused DescribeKey names no key: the key no longer exists in the caller's account.
    assert [event["EventName"] for event in looked_up["Events"]] == ["DeleteKey", "ScheduleKeyDeletion", "CreateKey"]
    assert verify_store(fresh_server).intact


# ===================================================================== 7. concurrency


def test_one_record_per_request_under_concurrency(fresh_server: TrentServer) -> None:
    key = _key(fresh_server.client())
    threads_count, per_thread = 8, 50
    ids: list[list[str]] = [[] for _ in range(threads_count)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def work(n: int) -> None:
        try:
            kms = fresh_server.client()
            start.wait()
            for i in range(per_thread):
                ids[n].append(rid(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"%d-%d" % (n, i))))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    sent = [request_id for chunk in ids for request_id in chunk]
    assert len(set(sent)) == threads_count * per_thread

    records = all_records(fresh_server)
    encrypts = [record for record in records if record["eventName"] == "Encrypt"]
    counts = Counter(record["requestID"] for record in encrypts)
    assert set(counts) == set(sent)
    assert set(counts.values()) == {1}
    assert len({record["eventID"] for record in records}) == len(records)
    report = verify_store(fresh_server)
    assert report.intact, report.issues
    assert report.records == len(records)


def test_credentials_are_never_recorded(secure: TrentServer) -> None:
    user, credentials = new_user(secure, "audit-keeper")
    iam = secure.client("iam", **admin(secure))
    iam.put_user_policy(UserName="audit-keeper", PolicyName="all", PolicyDocument=allow("*"))
    role = iam.create_role(RoleName="audit-keeper-role", AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]
    iam.put_role_policy(RoleName="audit-keeper-role", PolicyName="kms", PolicyDocument=allow("kms:*"))
    assumed = secure.client("sts", **credentials).assume_role(RoleArn=role["Arn"], RoleSessionName="keeper")
    session = session_credentials(assumed["Credentials"])
    made = secure.client("iam", **credentials).create_access_key(UserName="audit-keeper")["AccessKey"]
    secure.client("kms", **session).generate_random(NumberOfBytes=8)

    store = b"\n".join(json.dumps(record).encode() for record in all_records(secure))
    assert b'"eventName": "CreateAccessKey"' in store
    assert b'"eventName": "AssumeRole"' in store
    log = secure.log().encode()
    secrets = {
        "admin secret key": admin(secure)["secret_key"],
        "user secret key": credentials["secret_key"],
        "new secret key": made["SecretAccessKey"],
        "session secret key": session["secret_key"],
        "session token": session["session_token"],
    }
    for name, secret in secrets.items():
        assert secret.encode() not in store, f"{name} recorded in the audit trail"
        assert secret.encode() not in log, f"{name} in the server log"
