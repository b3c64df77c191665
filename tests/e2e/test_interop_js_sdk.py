"""The AWS SDK for JavaScript v3 (@aws-sdk/client-kms on Node.js) against a real server (issue 13).

Each test runs one scenario of tests/interop/kms_sdk.mjs, which asserts what the JavaScript SDK sees,
then checks the SDK's results from the Python side: boto3 decrypts what node encrypted, cryptography
verifies what node had signed, and both clients list the same keys.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.interop.nodejs import require_node, run_script

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def node() -> None:
    """Skip (fail under CI) before any work when Node.js or the SDK is missing."""
    require_node()


def js_sdk(server: TrentServer, tmp_path: Path, scenario: str, **params: Any) -> dict[str, Any]:
    return run_script("kms_sdk.mjs", server, tmp_path, {"scenario": scenario, **params})


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def test_create_key_encrypt_decrypt_with_context(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    python_key = kms.create_key()["KeyMetadata"]["Arn"]
    boto3_context = {"from": "boto3"}
    boto3_blob = kms.encrypt(KeyId=python_key, Plaintext=b"made in python", EncryptionContext=boto3_context)

    out = js_sdk(
        server,
        tmp_path,
        "symmetric",
        boto3Ciphertext=base64.b64encode(boto3_blob["CiphertextBlob"]).decode(),
        boto3Context=boto3_context,
    )

    assert out["arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{out['keyId']}"
    metadata = kms.describe_key(KeyId=out["keyId"])["KeyMetadata"]
    assert metadata["Description"] == "js sdk"
    assert kms.list_resource_tags(KeyId=out["keyId"])["Tags"] == [{"TagKey": "client", "TagValue": "js"}]
    # What node encrypted, boto3 decrypts (with the same context); what boto3 encrypted, node did.
    decrypted = kms.decrypt(CiphertextBlob=unb64(out["ciphertext"]), EncryptionContext=out["context"])
    assert decrypted["Plaintext"] == b"card 4111 from node" == unb64(out["plaintext"])
    assert decrypted["KeyId"] == out["arn"]
    assert unb64(out["boto3Plaintext"]) == b"made in python"
    assert out["boto3KeyId"] == python_key
    assert [error["name"] for error in out["errors"]] == ["InvalidCiphertextException"] * 2


def test_generate_data_key(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    out = js_sdk(server, tmp_path, "dataKey")

    data_key = unb64(out["plaintext"])
    assert len(data_key) == 32
    opened = kms.decrypt(CiphertextBlob=unb64(out["ciphertext"]), EncryptionContext=out["context"])
    assert opened["Plaintext"] == data_key
    assert opened["KeyId"] == out["arn"]
    sealed = kms.decrypt(CiphertextBlob=unb64(out["withoutPlaintext"]), EncryptionContext=out["context"])
    assert len(sealed["Plaintext"]) == 32
    assert sealed["Plaintext"] != data_key


def test_sign_verify_and_public_key_ecc_nist_p256(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    out = js_sdk(server, tmp_path, "signVerify")

    message = unb64(out["message"])
    assert message == b"pay 10 EUR to bob"
    public_key = load_der_public_key(unb64(out["publicKey"]))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    # The signatures node got verify offline with the public key node got, and through boto3.
    for signature in (unb64(out["signature"]), unb64(out["digestSignature"])):
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        verified = kms.verify(
            KeyId=out["arn"],
            Message=message,
            MessageType="RAW",
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        )
        assert verified["SignatureValid"] is True
    assert kms.get_public_key(KeyId=out["arn"])["PublicKey"] == unb64(out["publicKey"])
    assert out["tampered"]["name"] == "KMSInvalidSignatureException"


def test_errors_are_the_sdks_modeled_exceptions(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    out = js_sdk(server, tmp_path, "errors")

    expected = {
        "garbage": "InvalidCiphertextException",
        "tamperedCiphertext": "InvalidCiphertextException",
        "missing": "NotFoundException",
        "disabled": "DisabledException",
        "wrongUsage": "InvalidKeyUsageException",
    }
    assert {case: out[case]["name"] for case in expected} == expected
    assert all(out[case]["status"] == 400 for case in expected)
    # As in AWS, InvalidCiphertextException carries no message; the others name the key.
    assert out["disabledKey"] in out["disabled"]["message"]
    assert out["missing"]["message"].startswith("Key 'arn:aws:kms:")
    assert kms.describe_key(KeyId=out["disabledKey"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_list_keys_pagination(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    out = js_sdk(server, tmp_path, "listKeys", create=5, limit=2)

    listed = out["listed"]
    assert set(out["created"]) <= set(listed)
    pages = out["pages"]
    assert len(pages) == -(-len(listed) // 2)  # ceil: every page but the last is full
    assert all(page["size"] == 2 and page["truncated"] for page in pages[:-1])
    assert pages[-1]["truncated"] is False
    assert pages[-1]["marker"] is None
    # The same listing through boto3's paginator, in the same order.
    boto3_listed = [
        entry["KeyId"]
        for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
        for entry in page["Keys"]
    ]
    assert boto3_listed == listed
    assert out["invalidMarker"]["name"] == "InvalidMarkerException"
