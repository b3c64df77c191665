"""Who may use asymmetric and HMAC keys: grants limited to what the key supports, condition keys of
the new operations (kms:SigningAlgorithm, kms:MessageType, kms:MacAlgorithm, kms:DataKeyPairSpec,
kms:KeyAgreementAlgorithm), through a real server that verifies every signature."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.e2e.test_authorization import denied, identity, user_with
from tests.e2e.test_iam_sts import admin

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("spec-authz") / "data", dev=False).start()
    yield srv
    srv.stop()


def test_a_grant_lets_its_grantee_sign_and_verify(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    arn, signer = user_with(secure, "grant-signer")
    denied(signer.sign, KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    kms_admin.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Sign", "Verify"])
    signature = signer.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verified = signer.verify(KeyId=key_id, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    assert verified["SignatureValid"] is True
    denied(signer.get_public_key, KeyId=key_id)  # not granted


@pytest.mark.parametrize(
    ("spec", "usage", "operation"),
    [
        ("ECC_NIST_P256", "SIGN_VERIFY", "Encrypt"),
        ("ECC_NIST_P256", "SIGN_VERIFY", "GenerateMac"),
        ("HMAC_256", "GENERATE_VERIFY_MAC", "Sign"),
        ("RSA_2048", "ENCRYPT_DECRYPT", "GenerateDataKey"),
        ("ECC_NIST_P384", "KEY_AGREEMENT", "Sign"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Sign"),
    ],
)
def test_a_grant_for_an_operation_the_key_cannot_do_is_refused(
    secure: TrentServer, spec: str, usage: str, operation: str
) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:role/nobody"
    with pytest.raises(ClientError) as info:
        kms_admin.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=[operation])
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert operation in info.value.response["Error"]["Message"]


def test_signing_algorithm_and_message_type_conditions(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    condition = {
        "StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256", "kms:MessageType": "DIGEST"},
    }
    _, signer = user_with(secure, "pss-digest-only", identity("Allow", "kms:Sign", Condition=condition))
    digest = bytes(32)
    signer.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="RSASSA_PSS_SHA_256")
    denied(signer.sign, KeyId=key_id, Message=digest, MessageType="RAW", SigningAlgorithm="RSASSA_PSS_SHA_256")
    denied(
        signer.sign, KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"
    )


def test_mac_algorithm_condition(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    allowed = identity("Allow", "kms:GenerateMac", Condition={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_512"}})
    other = identity("Allow", "kms:GenerateMac", Condition={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}})
    _, good = user_with(secure, "mac-512", allowed)
    _, bad = user_with(secure, "mac-256", other)
    assert len(good.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]) == 64
    denied(bad.generate_mac, KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_512")


def test_data_key_pair_spec_condition(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key()["KeyMetadata"]["KeyId"]
    only_p256 = identity(
        "Allow",
        "kms:GenerateDataKeyPair",
        Condition={"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}},
    )
    _, user = user_with(secure, "pair-p256", only_p256)
    pair = user.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    assert pair["KeyPairSpec"] == "ECC_NIST_P256"
    denied(user.generate_data_key_pair, KeyId=key_id, KeyPairSpec="ECC_NIST_P384")


def test_key_agreement_algorithm_condition(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    peer = kms_admin.get_public_key(KeyId=key_id)["PublicKey"]
    ecdh_only = identity(
        "Allow", "kms:DeriveSharedSecret", Condition={"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}}
    )
    never = identity(
        "Allow", "kms:DeriveSharedSecret", Condition={"StringEquals": {"kms:KeyAgreementAlgorithm": "OTHER"}}
    )
    _, good = user_with(secure, "ecdh-ok", ecdh_only)
    _, bad = user_with(secure, "ecdh-never", never)
    secret = good.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)["SharedSecret"]
    assert len(secret) == 32
    denied(bad.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
