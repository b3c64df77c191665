"""ML-KEM keys through a real server with boto3 (issue 13): CreateKey, DescribeKey, GetPublicKey, Encapsulate,
Decapsulate, their errors and order of checks, grants, condition keys and the audit record.

What can be checked without Trent is checked with `cryptography` (its bundled OpenSSL has ML-KEM;
the system's openssl command line, 3.0 on Debian 12, has not): the public key is a DER
SubjectPublicKeyInfo of the right parameter set, a shared secret encapsulated locally to it is
what Trent decapsulates, and Trent's ciphertexts have the FIPS 203 lengths.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, body, new_key
from tests.e2e.test_audit import check_envelope, key_resources, one_record, rid, root_identity
from tests.e2e.test_authorization import denied, identity, user_with
from tests.e2e.test_iam_sts import admin
from tests.e2e.test_import import import_material

pytestmark = pytest.mark.e2e

SPECS = ["ML_KEM_768", "ML_KEM_1024"]
# FIPS 203 sizes: encapsulation key, ciphertext; the shared secret is always 32 bytes.
PUBLIC_KEY_BYTES = {"ML_KEM_768": 1184, "ML_KEM_1024": 1568}
CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}
PUBLIC_TYPES: dict[str, Any] = {"ML_KEM_768": mlkem.MLKEM768PublicKey, "ML_KEM_1024": mlkem.MLKEM1024PublicKey}
USAGE = "ENCAPSULATE_DECAPSULATE"
ALWAYS_METADATA = {
    "AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage", "KeyState",
    "Origin", "KeyManager", "KeySpec", "MultiRegion",
}  # fmt: skip
DRY_RUN = "The request would have succeeded, but the DryRun option is set."


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


class Keys:
    """One ML-KEM key per spec for the module (and fresh ones where a test changes a key's state)."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self._made: dict[str, dict[str, Any]] = {}

    def __call__(self, spec: str) -> dict[str, Any]:
        if spec not in self._made:
            self._made[spec] = self.new(spec)
        return self._made[spec]

    def new(self, spec: str, **extra: Any) -> dict[str, Any]:
        return dict(
            self.kms.create_key(KeySpec=spec, KeyUsage=USAGE, Description=f"{spec} key", **extra)["KeyMetadata"]
        )

    def public(self, spec: str) -> bytes:
        return bytes(self.kms.get_public_key(KeyId=self(spec)["KeyId"])["PublicKey"])


@pytest.fixture(scope="module")
def keys(kms: Any) -> Keys:
    return Keys(kms)


def encapsulate_locally(public_der: bytes) -> tuple[bytes, bytes]:
    public: Any = serialization.load_der_public_key(public_der)
    secret, ciphertext = public.encapsulate()
    return bytes(secret), bytes(ciphertext)


# ===================================================================== CreateKey / DescribeKey


@pytest.mark.parametrize("spec", SPECS)
def test_create_key(kms: Any, keys: Keys, spec: str) -> None:
    created = keys(spec)
    # One algorithm list; no CustomerMasterKeySpec (the deprecated enum lacks ML-KEM), no CurrentKeyMaterialId.
    assert set(created) == ALWAYS_METADATA | {"EncapsulationAlgorithms"}
    assert (created["KeySpec"], created["KeyUsage"]) == (spec, USAGE)
    assert created["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert created["Arn"] == key_arn(created["KeyId"])
    assert (created["KeyState"], created["Enabled"]) == ("Enabled", True)
    assert (created["Origin"], created["KeyManager"], created["MultiRegion"]) == ("AWS_KMS", "CUSTOMER", False)
    assert created["Description"] == f"{spec} key"
    assert dict(kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]) == created


@pytest.mark.parametrize("origin", [None, "EXTERNAL"])
def test_ml_kem_512_is_refused_with_an_aws_error(kms: Any, origin: str | None) -> None:
    """The installed `cryptography` has no ML-KEM-512; Trent refuses the spec rather than hand-roll it."""
    before = len(kms.list_keys(Limit=1000)["Keys"])
    extra = {} if origin is None else {"Origin": origin}
    with aws_error(kms, "UnsupportedOperationException", "KeySpec ML_KEM_512 is not supported by this Trent server."):
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage=USAGE, **extra)
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before  # nothing was created


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("ML_KEM_768", "SIGN_VERIFY"),
        ("ML_KEM_1024", "ENCRYPT_DECRYPT"),
        ("ML_KEM_768", "KEY_AGREEMENT"),
        ("ML_KEM_1024", "GENERATE_VERIFY_MAC"),
        ("ML_KEM_512", "SIGN_VERIFY"),
        ("SYMMETRIC_DEFAULT", USAGE),
        ("RSA_2048", USAGE),
        ("ECC_NIST_P256", USAGE),
        ("ML_DSA_65", USAGE),
        ("HMAC_256", USAGE),
    ],
)
def test_incompatible_key_usage(kms: Any, spec: str, usage: str) -> None:
    with aws_error(kms, "ValidationException", f"KeyUsage {usage} is not compatible with KeySpec {spec}"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


@pytest.mark.parametrize("spec", ["ML_KEM_768", "ML_KEM_512"])
def test_key_usage_is_required(kms: Any, spec: str) -> None:
    with aws_error(
        kms,
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    ):
        kms.create_key(KeySpec=spec)


def test_the_deprecated_customer_master_key_spec_has_no_ml_kem(kms: Any) -> None:
    with aws_error(kms, "ValidationException") as caught:
        kms.create_key(CustomerMasterKeySpec="ML_KEM_768", KeyUsage=USAGE)
    assert "customerMasterKeySpec" in caught.message


# ===================================================================== GetPublicKey


@pytest.mark.parametrize("spec", SPECS)
def test_get_public_key(kms: Any, keys: Keys, spec: str) -> None:
    metadata = keys(spec)
    response = body(kms.get_public_key(KeyId=metadata["KeyId"]))
    assert set(response) == {"KeyId", "PublicKey", "KeySpec", "KeyUsage", "EncapsulationAlgorithms"}
    assert response["KeyId"] == metadata["Arn"]
    assert (response["KeySpec"], response["KeyUsage"]) == (spec, USAGE)
    assert response["EncapsulationAlgorithms"] == ["ML_KEM"]
    der = response["PublicKey"]
    public: Any = serialization.load_der_public_key(der)
    assert isinstance(public, PUBLIC_TYPES[spec])
    assert len(public.public_bytes_raw()) == PUBLIC_KEY_BYTES[spec]
    assert public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der
    assert kms.get_public_key(KeyId=metadata["Arn"])["PublicKey"] == der
    assert keys.new(spec)["KeyId"] != metadata["KeyId"]
    assert kms.get_public_key(KeyId=keys.new(spec)["KeyId"])["PublicKey"] != der


# ===================================================================== Encapsulate / Decapsulate


@pytest.mark.parametrize("spec", SPECS)
def test_encapsulate_then_decapsulate(kms: Any, keys: Keys, spec: str) -> None:
    metadata = keys(spec)
    encapsulated = body(kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM"))
    assert set(encapsulated) == {"KeyId", "SharedSecret", "SharedSecretCiphertextBlob", "EncapsulationAlgorithm"}
    assert encapsulated["KeyId"] == metadata["Arn"]
    assert encapsulated["EncapsulationAlgorithm"] == "ML_KEM"
    secret, ciphertext = encapsulated["SharedSecret"], encapsulated["SharedSecretCiphertextBlob"]
    assert len(secret) == 32
    assert len(ciphertext) == CIPHERTEXT_BYTES[spec]  # FIPS 203 and the model's documentation

    decapsulated = body(
        kms.decapsulate(KeyId=metadata["Arn"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")
    )
    assert decapsulated == {"KeyId": metadata["Arn"], "SharedSecret": secret, "EncapsulationAlgorithm": "ML_KEM"}

    again = kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != secret
    assert again["SharedSecretCiphertextBlob"] != ciphertext


def test_encapsulate_and_decapsulate_through_an_alias(kms: Any, keys: Keys) -> None:
    metadata = keys("ML_KEM_768")
    alias = f"alias/kem-{uuid.uuid4().hex[:12]}"
    kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    encapsulated = kms.encapsulate(KeyId=alias, EncapsulationAlgorithm="ML_KEM")
    assert encapsulated["KeyId"] == metadata["Arn"]
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"
    decapsulated = kms.decapsulate(
        KeyId=alias_arn,
        SharedSecretCiphertextBlob=encapsulated["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert decapsulated["SharedSecret"] == encapsulated["SharedSecret"]


@pytest.mark.parametrize("spec", SPECS)
def test_secret_encapsulated_locally_decapsulates_in_trent(kms: Any, keys: Keys, spec: str) -> None:
    secret, ciphertext = encapsulate_locally(keys.public(spec))
    assert len(ciphertext) == CIPHERTEXT_BYTES[spec]
    decapsulated = kms.decapsulate(
        KeyId=keys(spec)["KeyId"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert decapsulated["SharedSecret"] == secret


@pytest.mark.parametrize("spec", SPECS)
def test_altered_ciphertext_gives_a_pseudo_random_secret(kms: Any, keys: Keys, spec: str) -> None:
    """Implicit rejection (the model's Decapsulate documentation): no error, a different 32-byte value."""
    key_id = keys(spec)["KeyId"]
    secret, ciphertext = encapsulate_locally(keys.public(spec))
    altered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 0x80])
    first = kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=altered, EncapsulationAlgorithm="ML_KEM")
    assert len(first["SharedSecret"]) == 32
    assert first["SharedSecret"] != secret
    second = kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=altered, EncapsulationAlgorithm="ML_KEM")
    assert second["SharedSecret"] == first["SharedSecret"]
    # Made for another key of the same spec: no error either, and not that key's secret.
    other = keys.new(spec)["KeyId"]
    assert (
        kms.decapsulate(KeyId=other, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")[
            "SharedSecret"
        ]
        != secret
    )


# ===================================================================== imported key material


def _local_private_key(spec: str) -> Any:
    return (mlkem.MLKEM768PrivateKey if spec == "ML_KEM_768" else mlkem.MLKEM1024PrivateKey).generate()


@pytest.mark.parametrize("spec", SPECS)
def test_imported_material_trent_encapsulates_and_the_holder_decapsulates(kms: Any, spec: str) -> None:
    """With the private key known outside Trent, Trent's Encapsulate output opens locally to the same secret."""
    local = _local_private_key(spec)
    pkcs8 = local.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    metadata = new_key(kms, KeySpec=spec, KeyUsage=USAGE, Origin="EXTERNAL")
    assert metadata["KeyState"] == "PendingImport"
    with aws_error(kms, "KMSInvalidStateException", f"{metadata['Arn']} is pending import."):
        kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM")
    import_material(kms, metadata["KeyId"], pkcs8, "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072")
    public_der = kms.get_public_key(KeyId=metadata["KeyId"])["PublicKey"]
    assert public_der == local.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encapsulated = kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert local.decapsulate(encapsulated["SharedSecretCiphertextBlob"]) == encapsulated["SharedSecret"]


def test_material_of_another_parameter_set_is_not_imported(kms: Any) -> None:
    local = _local_private_key("ML_KEM_768")
    pkcs8 = local.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    metadata = new_key(kms, KeySpec="ML_KEM_1024", KeyUsage=USAGE, Origin="EXTERNAL")
    with aws_error(kms, "IncorrectKeyMaterialException", "The key material is not valid for a ML_KEM_1024 KMS key."):
        import_material(kms, metadata["KeyId"], pkcs8, "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072")


# ===================================================================== errors and the order of checks


def _other_keys(kms: Any) -> dict[str, dict[str, Any]]:
    return {
        "ENCRYPT_DECRYPT": dict(kms.create_key()["KeyMetadata"]),
        "SIGN_VERIFY": dict(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]),
        "KEY_AGREEMENT": dict(kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]),
        "GENERATE_VERIFY_MAC": dict(kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]),
    }


def test_keys_of_another_usage_are_refused(kms: Any) -> None:
    ciphertext = bytes(CIPHERTEXT_BYTES["ML_KEM_768"])
    for usage, metadata in _other_keys(kms).items():
        arn = metadata["Arn"]
        with aws_error(
            kms, "InvalidKeyUsageException", f"{arn} key usage is {usage} which is not valid for Encapsulate."
        ):
            kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM")
        with aws_error(
            kms, "InvalidKeyUsageException", f"{arn} key usage is {usage} which is not valid for Decapsulate."
        ):
            kms.decapsulate(
                KeyId=metadata["KeyId"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
            )


def test_an_ml_kem_key_is_refused_by_other_operations(kms: Any, keys: Keys) -> None:
    metadata = keys("ML_KEM_768")
    arn = metadata["Arn"]
    with aws_error(kms, "InvalidKeyUsageException", f"{arn} key usage is {USAGE} which is not valid for Sign."):
        kms.sign(KeyId=metadata["KeyId"], Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256")
    with aws_error(
        kms, "InvalidKeyUsageException", f"{arn} key usage is {USAGE} which is not valid for DeriveSharedSecret."
    ):
        kms.derive_shared_secret(
            KeyId=metadata["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=keys.public("ML_KEM_768")
        )
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encrypt(KeyId=metadata["KeyId"], Plaintext=b"p")


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("length", [0, -1, 1, "other spec"])
def test_ciphertext_of_the_wrong_length_is_invalid(kms: Any, keys: Keys, spec: str, length: int | str) -> None:
    _, ciphertext = encapsulate_locally(keys.public(spec))
    if length == "other spec":
        wrong = bytes(CIPHERTEXT_BYTES["ML_KEM_1024" if spec == "ML_KEM_768" else "ML_KEM_768"])
    elif length == 0:
        wrong = b"\x01"  # the model's minimum length is 1
    else:
        assert isinstance(length, int)
        wrong = (ciphertext + b"\x00")[: len(ciphertext) + length]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decapsulate(KeyId=keys(spec)["KeyId"], SharedSecretCiphertextBlob=wrong, EncapsulationAlgorithm="ML_KEM")


def test_an_unknown_algorithm_is_a_model_validation_error(kms: Any, keys: Keys) -> None:
    key_id = keys("ML_KEM_768")["KeyId"]
    expected = (
        "1 validation error detected: Value 'ML_KEM_768' at 'encapsulationAlgorithm' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ML_KEM]"
    )
    with aws_error(kms, "ValidationException", expected):
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM_768")
    with aws_error(kms, "ValidationException", expected):
        kms.decapsulate(
            KeyId=key_id,
            SharedSecretCiphertextBlob=bytes(CIPHERTEXT_BYTES["ML_KEM_768"]),
            EncapsulationAlgorithm="ML_KEM_768",
        )


def test_unknown_key(kms: Any) -> None:
    missing = str(uuid.uuid4())
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.encapsulate(KeyId=missing, EncapsulationAlgorithm="ML_KEM")
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.decapsulate(KeyId=missing, SharedSecretCiphertextBlob=b"\x00", EncapsulationAlgorithm="ML_KEM")


def test_disabled_and_pending_deletion_keys(kms: Any, keys: Keys) -> None:
    metadata = keys.new("ML_KEM_1024")
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    secret, ciphertext = encapsulate_locally(bytes(kms.get_public_key(KeyId=key_id)["PublicKey"]))
    kms.disable_key(KeyId=key_id)
    with aws_error(kms, "DisabledException", f"{arn} is disabled."):
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    with aws_error(kms, "DisabledException", f"{arn} is disabled."):
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")
    with aws_error(kms, "DisabledException", f"{arn} is disabled."):  # state before DryRun and the ciphertext
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=b"\x00", EncapsulationAlgorithm="ML_KEM", DryRun=True)
    with aws_error(kms, "DisabledException", f"{arn} is disabled."):
        kms.get_public_key(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    assert (
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")[
            "SharedSecret"
        ]
        == secret
    )
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with aws_error(kms, "KMSInvalidStateException", f"{arn} is pending deletion."):
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    with aws_error(kms, "KMSInvalidStateException", f"{arn} is pending deletion."):
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")


def test_disabled_comes_before_key_usage(kms: Any) -> None:
    metadata = dict(kms.create_key()["KeyMetadata"])
    kms.disable_key(KeyId=metadata["KeyId"])
    with aws_error(kms, "DisabledException", f"{metadata['Arn']} is disabled."):
        kms.encapsulate(KeyId=metadata["KeyId"], EncapsulationAlgorithm="ML_KEM")


def test_dry_run(kms: Any, keys: Keys) -> None:
    key_id = keys("ML_KEM_768")["KeyId"]
    with aws_error(kms, "DryRunOperationException", DRY_RUN):
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", DryRun=True)
    _, ciphertext = encapsulate_locally(keys.public("ML_KEM_768"))
    with aws_error(kms, "DryRunOperationException", DRY_RUN):
        kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM", DryRun=True
        )
    # The ciphertext's length is checked before DryRun answers; key usage before that.
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=ciphertext[:-1], EncapsulationAlgorithm="ML_KEM", DryRun=True
        )
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encapsulate(KeyId=symmetric, EncapsulationAlgorithm="ML_KEM", DryRun=True)


# ===================================================================== grants


def test_create_grant_with_the_new_operations(kms: Any, keys: Keys) -> None:
    key_id = keys("ML_KEM_768")["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:role/kem-{uuid.uuid4().hex[:8]}"
    created = kms.create_grant(
        KeyId=key_id, GranteePrincipal=grantee, Operations=["Encapsulate", "Decapsulate", "GetPublicKey", "DescribeKey"]
    )
    listed = [g for g in kms.list_grants(KeyId=key_id)["Grants"] if g["GrantId"] == created["GrantId"]]
    assert listed[0]["Operations"] == ["Encapsulate", "Decapsulate", "GetPublicKey", "DescribeKey"]
    kms.revoke_grant(KeyId=key_id, GrantId=created["GrantId"])


@pytest.mark.parametrize(
    ("spec", "usage", "operation"),
    [
        ("ML_KEM_768", USAGE, "Sign"),
        ("ML_KEM_1024", USAGE, "Decrypt"),
        ("ML_KEM_768", USAGE, "DeriveSharedSecret"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Encapsulate"),
        ("ECC_NIST_P256", "KEY_AGREEMENT", "Decapsulate"),
        ("RSA_2048", "ENCRYPT_DECRYPT", "Decapsulate"),
    ],
)
def test_a_grant_for_an_operation_the_key_cannot_do_is_refused(kms: Any, spec: str, usage: str, operation: str) -> None:
    key_id = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    with aws_error(kms, "ValidationException") as caught:
        kms.create_grant(
            KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:role/nobody", Operations=[operation]
        )
    assert operation in caught.message


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    """A server that checks signatures, with IAM users that are not the account's root."""
    srv = TrentServer(tmp_path_factory.mktemp("kem-authz") / "data", dev=False).start()
    yield srv
    srv.stop()


def test_a_grant_lets_a_user_encapsulate_and_decapsulate(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    key_id = kms_admin.create_key(KeySpec="ML_KEM_768", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    arn, user = user_with(secure, "kem-grantee")
    message = denied(user.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert f"User: {arn} is not authorized to perform: kms:Encapsulate on resource: {key_arn(key_id)}" in message
    denied(user.get_public_key, KeyId=key_id)

    grant = kms_admin.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Encapsulate", "GetPublicKey"])
    tokens = [grant["GrantToken"]]
    encapsulated = user.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", GrantTokens=tokens)
    public = user.get_public_key(KeyId=key_id, GrantTokens=tokens)["PublicKey"]
    assert public == kms_admin.get_public_key(KeyId=key_id)["PublicKey"]
    blob = encapsulated["SharedSecretCiphertextBlob"]
    message = denied(user.decapsulate, KeyId=key_id, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")
    assert "kms:Decapsulate" in message

    second = kms_admin.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Decapsulate"])
    decapsulated = user.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=blob,
        EncapsulationAlgorithm="ML_KEM",
        GrantTokens=[second["GrantToken"]],
    )
    assert decapsulated["SharedSecret"] == encapsulated["SharedSecret"]
    # The owner decapsulates the user's ciphertext to the same secret: both parties share it.
    owner = kms_admin.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")
    assert owner["SharedSecret"] == encapsulated["SharedSecret"]

    kms_admin.revoke_grant(KeyId=key_id, GrantId=second["GrantId"])
    denied(user.decapsulate, KeyId=key_id, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")
    with pytest.raises(ClientError) as info:
        user.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", GrantTokens=["not-a-grant-token"])
    assert info.value.response["Error"]["Code"] == "InvalidGrantTokenException"


def test_policy_actions_and_condition_keys(secure: TrentServer) -> None:
    kms_admin = secure.client("kms", **admin(secure))
    kem_768 = kms_admin.create_key(KeySpec="ML_KEM_768", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    kem_1024 = kms_admin.create_key(KeySpec="ML_KEM_1024", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    alias = f"alias/kem-policy-{uuid.uuid4().hex[:8]}"
    kms_admin.create_alias(AliasName=alias, TargetKeyId=kem_1024)
    only_768 = identity(
        "Allow",
        ["kms:Encapsulate", "kms:Decapsulate"],
        Condition={"StringEquals": {"kms:KeySpec": "ML_KEM_768", "kms:KeyUsage": USAGE}},
    )
    _, by_spec = user_with(secure, "kem-768-only", only_768)
    encapsulated = by_spec.encapsulate(KeyId=kem_768, EncapsulationAlgorithm="ML_KEM")
    by_spec.decapsulate(
        KeyId=kem_768,
        SharedSecretCiphertextBlob=encapsulated["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    denied(by_spec.encapsulate, KeyId=kem_1024, EncapsulationAlgorithm="ML_KEM")

    # kms:Decapsulate does not allow Encapsulate; kms:RequestAlias names the alias used.
    via_alias = identity("Allow", "kms:Decapsulate", Condition={"StringEquals": {"kms:RequestAlias": alias}})
    _, by_alias = user_with(secure, "kem-alias-only", via_alias)
    denied(by_alias.encapsulate, KeyId=alias, EncapsulationAlgorithm="ML_KEM")
    secret, ciphertext = encapsulate_locally(bytes(kms_admin.get_public_key(KeyId=kem_1024)["PublicKey"]))
    assert (
        by_alias.decapsulate(KeyId=alias, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")[
            "SharedSecret"
        ]
        == secret
    )
    denied(by_alias.decapsulate, KeyId=kem_1024, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")

    # An explicit deny in the key policy wins over the identity policy.
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {"Effect": "Deny", "Principal": "*", "Action": "kms:Encapsulate", "Resource": "*"},
        ],
    }
    kms_admin.put_key_policy(KeyId=kem_768, PolicyName="default", Policy=json.dumps(deny))
    denied(by_spec.encapsulate, KeyId=kem_768, EncapsulationAlgorithm="ML_KEM")


# ===================================================================== audit and GetKeyLastUsage


def _secret_forms(secret: bytes) -> list[bytes]:
    return [secret, base64.b64encode(secret), secret.hex().encode()]


def test_audit_records(server: TrentServer, kms: Any) -> None:
    metadata = dict(kms.create_key(KeySpec="ML_KEM_768", KeyUsage=USAGE)["KeyMetadata"])
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    encapsulated = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    record = one_record(server, rid(encapsulated))
    check_envelope(
        record, request_id=rid(encapsulated), event_name="Encapsulate", identity=root_identity(), read_only=True
    )
    assert record["requestParameters"] == {"keyId": key_id, "encapsulationAlgorithm": "ML_KEM"}
    assert record["responseElements"] is None
    assert record["resources"] == key_resources(arn)

    blob = encapsulated["SharedSecretCiphertextBlob"]
    decapsulated = kms.decapsulate(KeyId=arn, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")
    decap_record = one_record(server, rid(decapsulated))
    check_envelope(
        decap_record, request_id=rid(decapsulated), event_name="Decapsulate", identity=root_identity(), read_only=True
    )
    # The ciphertext is a blob and the shared secret is sensitive: neither is recorded.
    assert decap_record["requestParameters"] == {"keyId": arn, "encapsulationAlgorithm": "ML_KEM"}
    assert decap_record["responseElements"] is None
    assert decap_record["resources"] == key_resources(arn)
    recorded = json.dumps([record, decap_record]).encode()
    for secret in (encapsulated["SharedSecret"], blob[:48]):
        for form in _secret_forms(secret):
            assert form not in recorded

    with pytest.raises(ClientError) as info:
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=blob[:-1], EncapsulationAlgorithm="ML_KEM")
    failed = one_record(server, rid(info.value.response))
    assert failed["errorCode"] == "InvalidCiphertextException"
    assert failed["eventName"] == "Decapsulate"
    assert failed["resources"] == key_resources(arn)

    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Decapsulate"
    assert usage["KmsRequestId"] == rid(decapsulated)
    assert usage["CloudTrailEventId"] == decap_record["eventID"]


def test_shared_secrets_reach_neither_the_store_nor_the_log(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = kms.create_key(KeySpec="ML_KEM_1024", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    encapsulated = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    secret, ciphertext = encapsulate_locally(bytes(kms.get_public_key(KeyId=key_id)["PublicKey"]))
    assert (
        kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM")[
            "SharedSecret"
        ]
        == secret
    )
    database = fresh_server.data_dir / "trent.db"
    files: list[Callable[[], bytes]] = [database.read_bytes, lambda: fresh_server.log().encode()]
    wal = database.with_name("trent.db-wal")
    if wal.exists():
        files.append(wal.read_bytes)
    for read in files:
        content = read()
        for value in (encapsulated["SharedSecret"], secret):
            for form in _secret_forms(value):
                assert form not in content
