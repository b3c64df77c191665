"""Every key spec through a real server with boto3 (issue 5; spec/kms-api.md 2.1, 3.2-3.4, 4.2-4.3).

CreateKey for every spec/usage pair, GetPublicKey, RSA Encrypt/Decrypt/ReEncrypt, Sign/Verify for every
spec x algorithm x message type, GenerateMac/VerifyMac, DeriveSharedSecret and GenerateDataKeyPair(+Without
Plaintext). Whatever can be checked without Trent is checked offline with `cryptography`: signatures, OAEP
ciphertexts made from the public key, ECDH shared secrets, data key pairs.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

from tests.conftest import ACCOUNT_ID, REGION
from tests.e2e.helpers import Caught, aws_error, body

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # cryptography < 47
    mldsa = None

pytestmark = pytest.mark.e2e

# ===================================================================== the matrix (spec 3.1, 3.2)

RSA_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096"]
NIST_SPECS = ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"]
ML_DSA_SPECS = ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]
HMAC_SPECS = ["HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"]
ED25519 = "ECC_NIST_EDWARDS25519"

# AWS's order: PKCS #1 v1.5 first, then PSS (spec 3.2, botocore's GetPublicKey example).
RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
]  # fmt: skip
RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
ML_DSA_SIGNING = ["ML_DSA_SHAKE_256"]
SIGNING_ALGORITHMS: dict[str, list[str]] = {
    **dict.fromkeys(RSA_SPECS, RSA_SIGNING),
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    ED25519: ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    **dict.fromkeys(ML_DSA_SPECS, ML_DSA_SIGNING),
}
MAC_ALGORITHM = {spec: "HMAC_SHA_" + spec.removeprefix("HMAC_") for spec in HMAC_SPECS}
MAC_LENGTH = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}
# The deprecated CustomerMasterKeySpec enum lacks Ed25519 and ML-DSA (spec 3.1).
OLD_ENUM = {*RSA_SPECS, *NIST_SPECS, "ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", *HMAC_SPECS, "SM2"}

VALID_PAIRS: list[tuple[str, str]] = [
    *[(spec, "ENCRYPT_DECRYPT") for spec in RSA_SPECS],
    *[(spec, "SIGN_VERIFY") for spec in SIGNING_ALGORITHMS],
    *[(spec, "KEY_AGREEMENT") for spec in NIST_SPECS],
    *[(spec, "GENERATE_VERIFY_MAC") for spec in HMAC_SPECS],
]
ASYMMETRIC_PAIRS = [(spec, usage) for spec, usage in VALID_PAIRS if usage != "GENERATE_VERIFY_MAC"]

ALGORITHM_LIST_MEMBER = {
    "ENCRYPT_DECRYPT": "EncryptionAlgorithms",
    "SIGN_VERIFY": "SigningAlgorithms",
    "GENERATE_VERIFY_MAC": "MacAlgorithms",
    "KEY_AGREEMENT": "KeyAgreementAlgorithms",
}
ALGORITHM_LISTS = set(ALGORITHM_LIST_MEMBER.values())


def expected_algorithms(spec: str, usage: str) -> list[str]:
    if usage == "ENCRYPT_DECRYPT":
        return ["SYMMETRIC_DEFAULT"] if spec == "SYMMETRIC_DEFAULT" else RSA_ENCRYPTION
    if usage == "SIGN_VERIFY":
        return SIGNING_ALGORITHMS[spec]
    if usage == "KEY_AGREEMENT":
        return ["ECDH"]
    return [MAC_ALGORITHM[spec]]


# Always-present KeyMetadata members of an AWS_KMS customer key (spec 3.4).
ALWAYS_METADATA = {
    "AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage", "KeyState",
    "Origin", "KeyManager", "KeySpec", "MultiRegion",
}  # fmt: skip

# Offline hashing of each signing algorithm.
ALGORITHM_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RSASSA_PKCS1_V1_5_SHA_256": hashes.SHA256,
    "RSASSA_PKCS1_V1_5_SHA_384": hashes.SHA384,
    "RSASSA_PKCS1_V1_5_SHA_512": hashes.SHA512,
    "RSASSA_PSS_SHA_256": hashes.SHA256,
    "RSASSA_PSS_SHA_384": hashes.SHA384,
    "RSASSA_PSS_SHA_512": hashes.SHA512,
    "ECDSA_SHA_256": hashes.SHA256,
    "ECDSA_SHA_384": hashes.SHA384,
    "ECDSA_SHA_512": hashes.SHA512,
}
CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
SHARED_SECRET_LENGTH = {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}
ML_DSA_SIGNATURE_LENGTH = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}
OAEP_LIMIT = {  # k - 2*hLen - 2 (spec 4.2)
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214, ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342, ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470, ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}  # fmt: skip
DATA_KEY_PAIR_SPECS = [*RSA_SPECS, *NIST_SPECS, "ECC_SECG_P256K1", ED25519]

SIGN_CASES = [(spec, alg) for spec, algs in SIGNING_ALGORITHMS.items() for alg in algs if alg != "ED25519_PH_SHA_512"]
DIGEST_CASES = [(spec, alg) for spec, alg in SIGN_CASES if alg in ALGORITHM_HASH]
RSA_ENCRYPTION_CASES = [(spec, alg) for spec in RSA_SPECS for alg in RSA_ENCRYPTION]
MESSAGE = b"The quick brown fox signs the lazy dog's manifest."


# ===================================================================== helpers


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


@contextmanager
def aws_error_in(codes: set[str]) -> Iterator[Caught]:
    """An AWS-shaped 400 whose error code is one of ``codes`` (where the spec does not pin one)."""
    caught = Caught()
    with pytest.raises(ClientError) as info:
        yield caught
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] in codes, response["Error"]
    caught.message = response["Error"]["Message"]


class Keys:
    """Keys created once per module, by (KeySpec, KeyUsage): RSA_4096 generation is slow."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self._metadata: dict[tuple[str, str], dict[str, Any]] = {}
        self._public: dict[tuple[str, str], bytes] = {}

    def __call__(self, spec: str, usage: str) -> dict[str, Any]:
        if (spec, usage) not in self._metadata:
            created = self.kms.create_key(KeySpec=spec, KeyUsage=usage, Description=f"{spec} {usage}")
            self._metadata[spec, usage] = dict(created["KeyMetadata"])
        return self._metadata[spec, usage]

    def public_der(self, spec: str, usage: str) -> bytes:
        if (spec, usage) not in self._public:
            self._public[spec, usage] = self.kms.get_public_key(KeyId=self(spec, usage)["KeyId"])["PublicKey"]
        return self._public[spec, usage]


@pytest.fixture(scope="module")
def keys(kms: Any) -> Keys:
    return Keys(kms)


@pytest.fixture(scope="module")
def symmetric(kms: Any) -> dict[str, Any]:
    return dict(kms.create_key(Description="wraps data key pairs")["KeyMetadata"])


def assert_key_matches_spec(key: Any, spec: str) -> None:
    """A public or private key object from `cryptography` is of ``spec``'s type and size."""
    if spec.startswith("RSA_"):
        assert isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey), type(key)
        assert key.key_size == int(spec.removeprefix("RSA_"))
        if isinstance(key, rsa.RSAPublicKey):
            assert key.public_numbers().e == 65537
    elif spec in CURVES:
        assert isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey), type(key)
        assert key.curve.name == CURVES[spec]().name
    elif spec == ED25519:
        assert isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey), type(key)
    elif spec in ML_DSA_SPECS:
        if mldsa is None:
            return
        level = spec.removeprefix("ML_DSA_")
        classes = (getattr(mldsa, f"MLDSA{level}PublicKey"), getattr(mldsa, f"MLDSA{level}PrivateKey"))
        assert isinstance(key, classes), type(key)
    else:
        raise AssertionError(f"no key type for {spec}")


def digest(algorithm: str, message: bytes) -> bytes:
    hasher = hashes.Hash(ALGORITHM_HASH[algorithm]())
    hasher.update(message)
    return hasher.finalize()


def verify_offline(
    public_der: bytes, algorithm: str, signature: bytes, message: bytes, *, prehashed: bool = False
) -> None:
    """Verify with `cryptography` alone; raises InvalidSignature on a bad signature."""
    public_key: Any = serialization.load_der_public_key(public_der)
    if algorithm.startswith("RSASSA_"):
        chosen = ALGORITHM_HASH[algorithm]()
        scheme = (
            padding.PKCS1v15()
            if "PKCS1" in algorithm
            else padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
        )
        public_key.verify(signature, message, scheme, Prehashed(chosen) if prehashed else chosen)
    elif algorithm.startswith("ECDSA_"):
        chosen = ALGORITHM_HASH[algorithm]()
        public_key.verify(signature, message, ec.ECDSA(Prehashed(chosen) if prehashed else chosen))
    elif algorithm == "ED25519_SHA_512":
        public_key.verify(signature, message)
    elif algorithm == "ML_DSA_SHAKE_256":
        if mldsa is None:
            pytest.skip("cryptography has no ML-DSA (needs cryptography >= 47)")
        public_key.verify(signature, message)
    else:
        raise AssertionError(f"no offline verification for {algorithm}")


def raw_public_key(public_der: bytes) -> bytes:
    """The raw FIPS 204 public key inside an ML-DSA SubjectPublicKeyInfo."""
    if mldsa is None:
        pytest.skip("cryptography has no ML-DSA (needs cryptography >= 47)")
    public_key: Any = serialization.load_der_public_key(public_der)
    return bytes(public_key.public_bytes_raw())


def external_mu(raw_pk: bytes, message: bytes) -> bytes:
    """FIPS 204 mu for pure ML-DSA with an empty context: SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64)."""
    tr = hashlib.shake_256(raw_pk).digest(64)
    return hashlib.shake_256(tr + b"\x00\x00" + message).digest(64)


def flip(blob: bytes, index: int = -1) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 0x01
    return bytes(changed)


def der_sequence_contents(blob: bytes) -> bytes:
    assert blob[0] == 0x30, blob[:4].hex()
    length, start = blob[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, start = int.from_bytes(blob[2 : 2 + count], "big"), 2 + count
    assert start + length == len(blob)
    return blob[start:]


def assert_pkcs8(blob: bytes) -> None:
    """PKCS #8 PrivateKeyInfo / OneAsymmetricKey: SEQUENCE { INTEGER 0|1, SEQUENCE AlgorithmIdentifier, ... }.

    (PKCS #1 RSAPrivateKey would continue with INTEGER n, SEC1 ECPrivateKey with OCTET STRING.)"""
    contents = der_sequence_contents(blob)
    assert contents[:3] in {b"\x02\x01\x00", b"\x02\x01\x01"}, contents[:8].hex()
    assert contents[3] == 0x30, contents[:8].hex()


def peer_public_der(curve: ec.EllipticCurve) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    private = ec.generate_private_key(curve)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, der


# ===================================================================== CreateKey / DescribeKey


@pytest.mark.parametrize(("spec", "usage"), VALID_PAIRS)
def test_create_key_every_spec_and_usage(kms: Any, keys: Keys, spec: str, usage: str) -> None:
    created = keys(spec, usage)
    list_member = ALGORITHM_LIST_MEMBER[usage]
    expected = ALWAYS_METADATA | {list_member} | ({"CustomerMasterKeySpec"} if spec in OLD_ENUM else set())
    assert set(created) == expected  # one algorithm list, no CurrentKeyMaterialId for HMAC/asymmetric
    assert created["KeySpec"] == spec
    assert created["KeyUsage"] == usage
    assert created[list_member] == expected_algorithms(spec, usage)  # values and AWS's order
    if spec in OLD_ENUM:
        assert created["CustomerMasterKeySpec"] == spec
    assert created["Arn"] == key_arn(created["KeyId"])
    assert created["AWSAccountId"] == ACCOUNT_ID
    assert (created["KeyState"], created["Enabled"]) == ("Enabled", True)
    assert (created["Origin"], created["KeyManager"], created["MultiRegion"]) == ("AWS_KMS", "CUSTOMER", False)
    assert created["Description"] == f"{spec} {usage}"

    described = dict(kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"])
    assert described == created


def test_symmetric_default_metadata_is_unchanged(kms: Any, symmetric: dict[str, Any]) -> None:
    assert symmetric["KeySpec"] == symmetric["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert symmetric["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert "CurrentKeyMaterialId" in symmetric
    assert not ALGORITHM_LISTS - {"EncryptionAlgorithms"} & set(symmetric)


INCOMPATIBLE_PAIRS = [
    ("RSA_2048", "KEY_AGREEMENT"),
    ("RSA_3072", "GENERATE_VERIFY_MAC"),
    ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
    ("ECC_NIST_P521", "GENERATE_VERIFY_MAC"),
    ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
    ("ECC_SECG_P256K1", "ENCRYPT_DECRYPT"),
    (ED25519, "KEY_AGREEMENT"),
    (ED25519, "ENCRYPT_DECRYPT"),
    ("ML_DSA_44", "ENCRYPT_DECRYPT"),
    ("ML_DSA_65", "KEY_AGREEMENT"),
    ("ML_DSA_87", "GENERATE_VERIFY_MAC"),
    ("HMAC_256", "SIGN_VERIFY"),
    ("HMAC_512", "ENCRYPT_DECRYPT"),
    ("HMAC_224", "KEY_AGREEMENT"),
    ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
    ("SYMMETRIC_DEFAULT", "GENERATE_VERIFY_MAC"),
]


@pytest.mark.parametrize(("spec", "usage"), INCOMPATIBLE_PAIRS)
def test_create_key_incompatible_usage(kms: Any, spec: str, usage: str) -> None:
    with aws_error(kms, "ValidationException", f"KeyUsage {usage} is not compatible with KeySpec {spec}"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1", ED25519, "ML_DSA_44", "HMAC_256"])
def test_create_key_without_key_usage(kms: Any, spec: str) -> None:
    with aws_error(
        kms,
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    ):
        kms.create_key(KeySpec=spec)


def test_create_key_with_the_deprecated_customer_master_key_spec(kms: Any) -> None:
    created = kms.create_key(CustomerMasterKeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert (created["KeySpec"], created["CustomerMasterKeySpec"]) == ("ECC_SECG_P256K1", "ECC_SECG_P256K1")
    assert created["SigningAlgorithms"] == ["ECDSA_SHA_256"]


def test_sm2_is_created_or_refused_cleanly(kms: Any) -> None:
    """SM2 exists only in China Regions; Trent may refuse it, but as an AWS error, not a 500."""
    try:
        created = kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    except ClientError as error:
        response = error.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
        assert response["Error"]["Code"] in {"ValidationException", "UnsupportedOperationException"}
    else:
        assert created["KeySpec"] == "SM2"
        assert created["SigningAlgorithms"] == ["SM2DSA"]


def test_unknown_key_spec_is_an_enum_violation(kms: Any) -> None:
    with aws_error(kms, "ValidationException") as caught:
        kms.create_key(KeySpec="ECC_NIST_P192", KeyUsage="SIGN_VERIFY")
    assert caught.message.startswith(
        "1 validation error detected: Value 'ECC_NIST_P192' at 'keySpec' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    ), caught.message


# ===================================================================== GetPublicKey


@pytest.mark.parametrize(("spec", "usage"), ASYMMETRIC_PAIRS)
def test_get_public_key(kms: Any, keys: Keys, spec: str, usage: str) -> None:
    metadata = keys(spec, usage)
    response = body(kms.get_public_key(KeyId=metadata["KeyId"]))
    list_member = ALGORITHM_LIST_MEMBER[usage]
    expected = {"KeyId", "PublicKey", "KeySpec", "KeyUsage", list_member}
    if spec in OLD_ENUM:
        expected.add("CustomerMasterKeySpec")
        assert response["CustomerMasterKeySpec"] == spec
    assert set(response) == expected
    assert response["KeyId"] == metadata["Arn"]
    assert (response["KeySpec"], response["KeyUsage"]) == (spec, usage)
    assert response[list_member] == expected_algorithms(spec, usage)

    der = response["PublicKey"]
    public_key: Any = serialization.load_der_public_key(der)
    assert_key_matches_spec(public_key, spec)
    # Canonical DER SubjectPublicKeyInfo: re-encoding gives the same bytes.
    assert public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der
    # The same key every time.
    assert kms.get_public_key(KeyId=metadata["Arn"])["PublicKey"] == der


def test_public_keys_differ_between_keys(kms: Any, keys: Keys) -> None:
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert kms.get_public_key(KeyId=other)["PublicKey"] != keys.public_der("ECC_NIST_P256", "SIGN_VERIFY")


@pytest.mark.parametrize("spec", ["SYMMETRIC_DEFAULT", "HMAC_256"])
def test_get_public_key_of_a_symmetric_key(kms: Any, symmetric: dict[str, Any], keys: Keys, spec: str) -> None:
    key_id = symmetric["KeyId"] if spec == "SYMMETRIC_DEFAULT" else keys(spec, "GENERATE_VERIFY_MAC")["KeyId"]
    with aws_error(kms, "UnsupportedOperationException"):
        kms.get_public_key(KeyId=key_id)


# ===================================================================== RSA Encrypt / Decrypt / ReEncrypt


def oaep(algorithm: str) -> padding.OAEP:
    chosen: hashes.HashAlgorithm = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()  # noqa: S303
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


@pytest.mark.parametrize(("spec", "algorithm"), RSA_ENCRYPTION_CASES)
def test_rsa_ciphertext_made_offline_decrypts(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    metadata = keys(spec, "ENCRYPT_DECRYPT")
    public_key: Any = serialization.load_der_public_key(keys.public_der(spec, "ENCRYPT_DECRYPT"))
    plaintext = f"made offline for {spec} {algorithm}".encode()
    ciphertext = public_key.encrypt(plaintext, oaep(algorithm))
    decrypted = body(kms.decrypt(CiphertextBlob=ciphertext, KeyId=metadata["KeyId"], EncryptionAlgorithm=algorithm))
    assert decrypted == {"KeyId": metadata["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}


@pytest.mark.parametrize(("spec", "algorithm"), RSA_ENCRYPTION_CASES)
def test_rsa_encrypt_round_trip(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    metadata = keys(spec, "ENCRYPT_DECRYPT")
    plaintext = b"through trent " + spec.encode()
    encrypted = body(kms.encrypt(KeyId=metadata["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm))
    assert set(encrypted) == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    assert (encrypted["KeyId"], encrypted["EncryptionAlgorithm"]) == (metadata["Arn"], algorithm)
    blob = encrypted["CiphertextBlob"]
    assert len(blob) == int(spec.removeprefix("RSA_")) // 8  # a bare RSA ciphertext, no envelope
    again = kms.encrypt(KeyId=metadata["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)
    assert again["CiphertextBlob"] != blob  # OAEP is randomized

    decrypted = body(kms.decrypt(CiphertextBlob=blob, KeyId=metadata["Arn"], EncryptionAlgorithm=algorithm))
    assert decrypted == {"KeyId": metadata["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}

    other = "RSAES_OAEP_SHA_1" if algorithm == "RSAES_OAEP_SHA_256" else "RSAES_OAEP_SHA_256"
    with aws_error(kms, "InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=metadata["KeyId"], EncryptionAlgorithm=other)
    with aws_error(kms, "InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=flip(blob, 10), KeyId=metadata["KeyId"], EncryptionAlgorithm=algorithm)


@pytest.mark.parametrize(("spec", "algorithm"), RSA_ENCRYPTION_CASES)
def test_rsa_plaintext_limit(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    key_id = keys(spec, "ENCRYPT_DECRYPT")["KeyId"]
    limit = OAEP_LIMIT[spec, algorithm]
    largest = os.urandom(limit)
    blob = kms.encrypt(KeyId=key_id, Plaintext=largest, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionAlgorithm=algorithm)["Plaintext"] == largest
    with aws_error(
        kms,
        "ValidationException",
        f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes.",
    ):
        kms.encrypt(KeyId=key_id, Plaintext=os.urandom(limit + 1), EncryptionAlgorithm=algorithm)


def test_rsa_encrypt_without_algorithm(kms: Any, keys: Keys) -> None:
    """EncryptionAlgorithm defaults to SYMMETRIC_DEFAULT, which does not fit an RSA key (spec 2.1 Encrypt)."""
    key_id = keys("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"no algorithm")
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"symmetric on rsa", EncryptionAlgorithm="SYMMETRIC_DEFAULT")


def test_oaep_on_a_symmetric_key(kms: Any, symmetric: dict[str, Any]) -> None:
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_rsa_decrypt_needs_key_id_and_algorithm(kms: Any, keys: Keys) -> None:
    key_id = keys("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bare", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    # No metadata in a bare RSA ciphertext: without KeyId it cannot be decrypted.
    with aws_error_in({"InvalidCiphertextException", "ValidationException"}):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error_in({"InvalidCiphertextException", "ValidationException"}):
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    # KeyId without EncryptionAlgorithm: the default SYMMETRIC_DEFAULT does not fit.
    with aws_error_in({"InvalidCiphertextException", "InvalidKeyUsageException"}):
        kms.decrypt(CiphertextBlob=blob, KeyId=key_id)


def test_rsa_encryption_context_is_refused(kms: Any, keys: Keys) -> None:
    """An encryption context is only for symmetric keys (spec 2.1 Encrypt)."""
    key_id = keys("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    with aws_error_in({"ValidationException", "InvalidKeyUsageException"}):
        kms.encrypt(
            KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext={"a": "b"}
        )


def test_re_encrypt_from_rsa_to_symmetric(kms: Any, keys: Keys, symmetric: dict[str, Any]) -> None:
    rsa_key = keys("RSA_3072", "ENCRYPT_DECRYPT")
    public_key: Any = serialization.load_der_public_key(keys.public_der("RSA_3072", "ENCRYPT_DECRYPT"))
    source = public_key.encrypt(b"moving house", oaep("RSAES_OAEP_SHA_256"))
    moved = body(
        kms.re_encrypt(
            CiphertextBlob=source,
            SourceKeyId=rsa_key["KeyId"],
            SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
            DestinationKeyId=symmetric["KeyId"],
            DestinationEncryptionContext={"purpose": "re-encrypt"},
        )
    )
    assert set(moved) == {
        "CiphertextBlob", "SourceKeyId", "KeyId", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm",
        "DestinationKeyMaterialId",
    }  # fmt: skip
    assert moved["SourceKeyId"] == rsa_key["Arn"]
    assert moved["KeyId"] == symmetric["Arn"]
    assert moved["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert moved["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert moved["DestinationKeyMaterialId"] == symmetric["CurrentKeyMaterialId"]
    decrypted = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"purpose": "re-encrypt"})
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"moving house", symmetric["Arn"])


def test_re_encrypt_from_symmetric_to_rsa(kms: Any, keys: Keys, symmetric: dict[str, Any]) -> None:
    rsa_key = keys("RSA_2048", "ENCRYPT_DECRYPT")
    source = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"to rsa")["CiphertextBlob"]
    moved = body(
        kms.re_encrypt(
            CiphertextBlob=source, DestinationKeyId=rsa_key["KeyId"], DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1"
        )
    )
    assert moved["SourceKeyId"] == symmetric["Arn"]
    assert moved["KeyId"] == rsa_key["Arn"]
    assert moved["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert moved["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert moved["SourceKeyMaterialId"] == symmetric["CurrentKeyMaterialId"]
    assert "DestinationKeyMaterialId" not in moved
    assert len(moved["CiphertextBlob"]) == 256
    decrypted = kms.decrypt(
        CiphertextBlob=moved["CiphertextBlob"], KeyId=rsa_key["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_1"
    )
    assert decrypted["Plaintext"] == b"to rsa"


# ===================================================================== Sign / Verify


@pytest.mark.parametrize(("spec", "algorithm"), SIGN_CASES)
def test_sign_raw_verifies_offline_and_in_trent(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    metadata = keys(spec, "SIGN_VERIFY")
    public_der = keys.public_der(spec, "SIGN_VERIFY")
    message = MESSAGE + f" {spec} {algorithm}".encode()
    signed = body(kms.sign(KeyId=metadata["KeyId"], Message=message, SigningAlgorithm=algorithm))
    assert set(signed) == {"KeyId", "Signature", "SigningAlgorithm"}
    assert (signed["KeyId"], signed["SigningAlgorithm"]) == (metadata["Arn"], algorithm)
    signature = signed["Signature"]

    # Encodings: RSA k bytes, ECDSA DER, Ed25519 64 raw bytes, ML-DSA raw FIPS 204.
    if spec in RSA_SPECS:
        assert len(signature) == int(spec.removeprefix("RSA_")) // 8
    elif spec in CURVES:
        r, s = decode_dss_signature(signature)
        assert encode_dss_signature(r, s) == signature
    elif spec == ED25519:
        assert len(signature) == 64
    else:
        assert len(signature) == ML_DSA_SIGNATURE_LENGTH[spec]

    verify_offline(public_der, algorithm, signature, message)
    with pytest.raises(InvalidSignature):
        verify_offline(public_der, algorithm, signature, message + b".")

    verified = body(
        kms.verify(KeyId=metadata["KeyId"], Message=message, Signature=signature, SigningAlgorithm=algorithm)
    )
    assert verified == {"KeyId": metadata["Arn"], "SignatureValid": True, "SigningAlgorithm": algorithm}
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(KeyId=metadata["KeyId"], Message=message, Signature=flip(signature, 5), SigningAlgorithm=algorithm)
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(KeyId=metadata["KeyId"], Message=message + b".", Signature=signature, SigningAlgorithm=algorithm)


@pytest.mark.parametrize(("spec", "algorithm"), DIGEST_CASES)
def test_sign_digest_equals_raw_signature(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    """DIGEST signs the given hash as is; the result is a valid signature of the original message."""
    key_id = keys(spec, "SIGN_VERIFY")["KeyId"]
    public_der = keys.public_der(spec, "SIGN_VERIFY")
    message = MESSAGE + b" digested"
    hashed = digest(algorithm, message)
    signature = kms.sign(KeyId=key_id, Message=hashed, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
    verify_offline(public_der, algorithm, signature, message)
    verify_offline(public_der, algorithm, signature, hashed, prehashed=True)

    # Verify's message type need not be Sign's: RAW message, DIGEST signature, and the other way round.
    verified = kms.verify(
        KeyId=key_id, Message=message, MessageType="RAW", Signature=signature, SigningAlgorithm=algorithm
    )
    assert verified["SignatureValid"] is True
    raw_signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm=algorithm)["Signature"]
    verified = kms.verify(
        KeyId=key_id, Message=hashed, MessageType="DIGEST", Signature=raw_signature, SigningAlgorithm=algorithm
    )
    assert verified["SignatureValid"] is True
    if "PKCS1" in algorithm:  # deterministic: the digest is not hashed again
        assert raw_signature == signature
    # A DIGEST is never hashed again: the digest taken as a RAW message gives a different signature.
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(KeyId=key_id, Message=hashed, MessageType="RAW", Signature=signature, SigningAlgorithm=algorithm)


DIGEST_LENGTH_CASES = [
    ("ECC_NIST_P256", "ECDSA_SHA_256", 31),
    ("ECC_NIST_P256", "ECDSA_SHA_256", 33),
    ("ECC_NIST_P256", "ECDSA_SHA_256", 64),
    ("ECC_NIST_P384", "ECDSA_SHA_384", 32),
    ("ECC_NIST_P521", "ECDSA_SHA_512", 48),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256", 20),
    ("RSA_2048", "RSASSA_PSS_SHA_256", 48),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384", 32),
    ("RSA_2048", "RSASSA_PSS_SHA_512", 63),
]


@pytest.mark.parametrize(("spec", "algorithm", "length"), DIGEST_LENGTH_CASES)
def test_digest_of_the_wrong_length(kms: Any, keys: Keys, spec: str, algorithm: str, length: int) -> None:
    key_id = keys(spec, "SIGN_VERIFY")["KeyId"]
    message = f"Digest is invalid length for algorithm {algorithm}."
    with aws_error(kms, "ValidationException", message):
        kms.sign(KeyId=key_id, Message=bytes(length), MessageType="DIGEST", SigningAlgorithm=algorithm)
    with aws_error(kms, "ValidationException", message):
        kms.verify(
            KeyId=key_id, Message=bytes(length), MessageType="DIGEST", Signature=bytes(64), SigningAlgorithm=algorithm
        )


WRONG_ALGORITHM_CASES = [
    ("ECC_NIST_P256", "ECDSA_SHA_384"),
    ("ECC_NIST_P384", "ECDSA_SHA_256"),
    ("ECC_NIST_P521", "ECDSA_SHA_256"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_512"),
    ("RSA_2048", "ECDSA_SHA_256"),
    ("ECC_NIST_P256", "RSASSA_PSS_SHA_256"),
    (ED25519, "ECDSA_SHA_512"),
    ("ECC_NIST_P256", "ED25519_SHA_512"),
    ("ML_DSA_44", "ED25519_SHA_512"),
    ("ECC_NIST_P256", "ML_DSA_SHAKE_256"),
    ("RSA_3072", "ML_DSA_SHAKE_256"),
    ("ML_DSA_65", "RSASSA_PKCS1_V1_5_SHA_256"),
]


@pytest.mark.parametrize(("spec", "algorithm"), WRONG_ALGORITHM_CASES)
def test_signing_algorithm_that_does_not_fit_the_key(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    key_id = keys(spec, "SIGN_VERIFY")["KeyId"]
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.verify(KeyId=key_id, Message=b"m", Signature=bytes(64), SigningAlgorithm=algorithm)


def test_verify_with_another_algorithm_of_the_key(kms: Any, keys: Keys) -> None:
    key_id = keys("RSA_2048", "SIGN_VERIFY")["KeyId"]
    signature = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    for other in ("RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_384"):
        with aws_error(kms, "KMSInvalidSignatureException", ""):
            kms.verify(KeyId=key_id, Message=MESSAGE, Signature=signature, SigningAlgorithm=other)


def test_verify_with_another_key_of_the_same_spec(kms: Any, keys: Keys) -> None:
    signer = keys("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signer, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(KeyId=other, Message=MESSAGE, Signature=signature, SigningAlgorithm="ECDSA_SHA_256")


def test_ed25519_message_types(kms: Any, keys: Keys) -> None:
    """ED25519_SHA_512 takes RAW only; ED25519_PH_SHA_512 takes DIGEST only (spec 3.2)."""
    key_id = keys(ED25519, "SIGN_VERIFY")["KeyId"]
    sha512 = hashlib.sha512(MESSAGE).digest()
    refusals = {"ValidationException", "InvalidKeyUsageException"}
    with aws_error_in(refusals):
        kms.sign(KeyId=key_id, Message=sha512, MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512")
    with aws_error_in(refusals | {"UnsupportedOperationException"}):
        kms.sign(KeyId=key_id, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ED25519_PH_SHA_512")
    with aws_error_in(refusals):
        kms.sign(KeyId=key_id, Message=MESSAGE, MessageType="EXTERNAL_MU", SigningAlgorithm="ED25519_SHA_512")


def test_ed25519_ph_is_supported_or_refused_cleanly(kms: Any, keys: Keys) -> None:
    """AWS signs Ed25519ph over a 64-byte DIGEST; Trent may not offer it, but must then answer as AWS would."""
    key_id = keys(ED25519, "SIGN_VERIFY")["KeyId"]
    public_der = keys.public_der(ED25519, "SIGN_VERIFY")
    hashed = hashlib.sha512(MESSAGE).digest()
    try:
        signed = kms.sign(KeyId=key_id, Message=hashed, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512")
    except ClientError as error:
        response = error.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
        assert response["Error"]["Code"] in {"UnsupportedOperationException", "ValidationException"}, response
        return
    signature = signed["Signature"]
    assert len(signature) == 64
    assert signed["SigningAlgorithm"] == "ED25519_PH_SHA_512"
    # Ed25519ph differs from pure Ed25519 over the same bytes.
    with pytest.raises(InvalidSignature):
        verify_offline(public_der, "ED25519_SHA_512", signature, hashed)
    verified = kms.verify(
        KeyId=key_id, Message=hashed, MessageType="DIGEST", Signature=signature, SigningAlgorithm="ED25519_PH_SHA_512"
    )
    assert verified["SignatureValid"] is True
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(
            KeyId=key_id,
            Message=hashed,
            MessageType="DIGEST",
            Signature=flip(signature),
            SigningAlgorithm="ED25519_PH_SHA_512",
        )


@pytest.mark.parametrize("spec", ML_DSA_SPECS)
def test_ml_dsa_external_mu(kms: Any, keys: Keys, spec: str) -> None:
    key_id = keys(spec, "SIGN_VERIFY")["KeyId"]
    public_der = keys.public_der(spec, "SIGN_VERIFY")
    message = MESSAGE + b" external mu"
    mu = external_mu(raw_public_key(public_der), message)
    signed = kms.sign(KeyId=key_id, Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")
    signature = signed["Signature"]
    assert len(signature) == ML_DSA_SIGNATURE_LENGTH[spec]
    # Pure ML-DSA with an empty context over the original message.
    verify_offline(public_der, "ML_DSA_SHAKE_256", signature, message)
    for message_type, payload in (("EXTERNAL_MU", mu), ("RAW", message)):
        verified = kms.verify(
            KeyId=key_id,
            Message=payload,
            MessageType=message_type,
            Signature=signature,
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )
        assert verified["SignatureValid"] is True
    raw_signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    verified = kms.verify(
        KeyId=key_id,
        Message=mu,
        MessageType="EXTERNAL_MU",
        Signature=raw_signature,
        SigningAlgorithm="ML_DSA_SHAKE_256",
    )
    assert verified["SignatureValid"] is True
    with aws_error(kms, "KMSInvalidSignatureException", ""):
        kms.verify(
            KeyId=key_id,
            Message=flip(mu),
            MessageType="EXTERNAL_MU",
            Signature=signature,
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )


@pytest.mark.parametrize("length", [32, 63, 65])
def test_ml_dsa_external_mu_must_be_64_bytes(kms: Any, keys: Keys, length: int) -> None:
    key_id = keys("ML_DSA_44", "SIGN_VERIFY")["KeyId"]
    with aws_error(kms, "ValidationException"):
        kms.sign(KeyId=key_id, Message=bytes(length), MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")


def test_message_types_outside_their_algorithms(kms: Any, keys: Keys) -> None:
    """EXTERNAL_MU is for ML-DSA only; ML-DSA has no DIGEST (pure ML-DSA, not HashML-DSA)."""
    refusals = {"ValidationException", "InvalidKeyUsageException"}
    ml_dsa = keys("ML_DSA_65", "SIGN_VERIFY")["KeyId"]
    with aws_error_in(refusals):
        kms.sign(KeyId=ml_dsa, Message=bytes(64), MessageType="DIGEST", SigningAlgorithm="ML_DSA_SHAKE_256")
    ecdsa = keys("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    with aws_error_in(refusals):
        kms.sign(KeyId=ecdsa, Message=bytes(64), MessageType="EXTERNAL_MU", SigningAlgorithm="ECDSA_SHA_256")
    rsa_key = keys("RSA_2048", "SIGN_VERIFY")["KeyId"]
    with aws_error_in(refusals):
        kms.sign(KeyId=rsa_key, Message=bytes(64), MessageType="EXTERNAL_MU", SigningAlgorithm="RSASSA_PSS_SHA_512")


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [("ECC_NIST_P256", "ECDSA_SHA_256"), (ED25519, "ED25519_SHA_512"), ("ML_DSA_44", "ML_DSA_SHAKE_256")],
)
def test_message_size_limit(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    key_id = keys(spec, "SIGN_VERIFY")["KeyId"]
    public_der = keys.public_der(spec, "SIGN_VERIFY")
    largest = os.urandom(4096)
    signature = kms.sign(KeyId=key_id, Message=largest, SigningAlgorithm=algorithm)["Signature"]
    verify_offline(public_der, algorithm, signature, largest)
    with aws_error(kms, "ValidationException") as caught:
        kms.sign(KeyId=key_id, Message=os.urandom(4097), SigningAlgorithm=algorithm)
    assert "4096" in caught.message
    with aws_error(kms, "ValidationException"):
        kms.verify(KeyId=key_id, Message=os.urandom(4097), Signature=signature, SigningAlgorithm=algorithm)


def test_sign_through_an_alias(kms: Any, keys: Keys) -> None:
    metadata = keys("ECC_NIST_P384", "SIGN_VERIFY")
    alias = f"alias/signer-{uuid.uuid4().hex}"
    kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    signed = kms.sign(KeyId=alias, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
    assert signed["KeyId"] == metadata["Arn"]
    verify_offline(keys.public_der("ECC_NIST_P384", "SIGN_VERIFY"), "ECDSA_SHA_384", signed["Signature"], MESSAGE)
    verified = kms.verify(KeyId=alias, Message=MESSAGE, Signature=signed["Signature"], SigningAlgorithm="ECDSA_SHA_384")
    assert verified["KeyId"] == metadata["Arn"]
    assert kms.get_public_key(KeyId=alias)["KeyId"] == metadata["Arn"]


# ===================================================================== key usage errors (spec 4.3)


def call_operation(kms: Any, operation: str, key_id: str) -> Any:
    """``operation`` with parameters that would suit a key of the right kind."""
    if operation == "Sign":
        return kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    if operation == "Verify":
        return kms.verify(KeyId=key_id, Message=b"m", Signature=bytes(70), SigningAlgorithm="ECDSA_SHA_256")
    if operation == "GenerateMac":
        return kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    if operation == "VerifyMac":
        return kms.verify_mac(KeyId=key_id, Message=b"m", Mac=bytes(32), MacAlgorithm="HMAC_SHA_256")
    if operation == "DeriveSharedSecret":
        _, peer = peer_public_der(ec.SECP256R1())
        return kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    if operation == "Encrypt":
        return kms.encrypt(KeyId=key_id, Plaintext=b"m")
    raise AssertionError(operation)


WRONG_USAGE_CASES = [
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Sign"),
    ("RSA_2048", "ENCRYPT_DECRYPT", "Sign"),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "Sign"),
    ("ECC_NIST_P256", "KEY_AGREEMENT", "Sign"),
    ("ECC_NIST_P256", "KEY_AGREEMENT", "Verify"),
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Verify"),
    ("ECC_NIST_P256", "SIGN_VERIFY", "DeriveSharedSecret"),
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "DeriveSharedSecret"),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "DeriveSharedSecret"),
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "GenerateMac"),
    ("ECC_NIST_P256", "SIGN_VERIFY", "GenerateMac"),
    ("RSA_2048", "ENCRYPT_DECRYPT", "VerifyMac"),
    ("ML_DSA_44", "SIGN_VERIFY", "VerifyMac"),
    ("ECC_NIST_P256", "SIGN_VERIFY", "Encrypt"),
    ("HMAC_384", "GENERATE_VERIFY_MAC", "Encrypt"),
    ("ECC_NIST_P384", "KEY_AGREEMENT", "Encrypt"),
]


@pytest.mark.parametrize(("spec", "usage", "operation"), WRONG_USAGE_CASES)
def test_operation_not_valid_for_the_key_usage(
    kms: Any, keys: Keys, symmetric: dict[str, Any], spec: str, usage: str, operation: str
) -> None:
    metadata = symmetric if spec == "SYMMETRIC_DEFAULT" else keys(spec, usage)
    with aws_error(
        kms, "InvalidKeyUsageException", f"{metadata['Arn']} key usage is {usage} which is not valid for {operation}."
    ):
        call_operation(kms, operation, metadata["KeyId"])


# ===================================================================== GenerateMac / VerifyMac


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_generate_and_verify_mac(kms: Any, keys: Keys, spec: str) -> None:
    metadata = keys(spec, "GENERATE_VERIFY_MAC")
    algorithm = MAC_ALGORITHM[spec]
    generated = body(kms.generate_mac(KeyId=metadata["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm))
    assert set(generated) == {"Mac", "MacAlgorithm", "KeyId"}
    assert (generated["KeyId"], generated["MacAlgorithm"]) == (metadata["Arn"], algorithm)
    mac = generated["Mac"]
    assert len(mac) == MAC_LENGTH[spec]
    # HMAC is deterministic, and depends on the message.
    assert kms.generate_mac(KeyId=metadata["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)["Mac"] == mac
    assert kms.generate_mac(KeyId=metadata["KeyId"], Message=MESSAGE + b".", MacAlgorithm=algorithm)["Mac"] != mac

    verified = body(kms.verify_mac(KeyId=metadata["KeyId"], Message=MESSAGE, Mac=mac, MacAlgorithm=algorithm))
    assert verified == {"KeyId": metadata["Arn"], "MacValid": True, "MacAlgorithm": algorithm}
    with aws_error(kms, "KMSInvalidMacException", ""):
        kms.verify_mac(KeyId=metadata["KeyId"], Message=MESSAGE, Mac=flip(mac, 0), MacAlgorithm=algorithm)
    with aws_error(kms, "KMSInvalidMacException", ""):
        kms.verify_mac(KeyId=metadata["KeyId"], Message=MESSAGE + b".", Mac=mac, MacAlgorithm=algorithm)


def test_mac_depends_on_the_key(kms: Any, keys: Keys) -> None:
    first = keys("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
    second = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=first, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.generate_mac(KeyId=second, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"] != mac
    with aws_error(kms, "KMSInvalidMacException", ""):
        kms.verify_mac(KeyId=second, Message=MESSAGE, Mac=mac, MacAlgorithm="HMAC_SHA_256")


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("HMAC_256", "HMAC_SHA_512"),
        ("HMAC_224", "HMAC_SHA_256"),
        ("HMAC_384", "HMAC_SHA_224"),
        ("HMAC_512", "HMAC_SHA_384"),
    ],
)
def test_mac_algorithm_that_does_not_fit_the_key(kms: Any, keys: Keys, spec: str, algorithm: str) -> None:
    key_id = keys(spec, "GENERATE_VERIFY_MAC")["KeyId"]
    message = f"Algorithm {algorithm} is incompatible with key spec {spec}."
    with aws_error(kms, "InvalidKeyUsageException", message):
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=algorithm)
    with aws_error(kms, "InvalidKeyUsageException", message):
        kms.verify_mac(KeyId=key_id, Message=b"m", Mac=bytes(64), MacAlgorithm=algorithm)


def test_mac_message_size_limit(kms: Any, keys: Keys) -> None:
    key_id = keys("HMAC_512", "GENERATE_VERIFY_MAC")["KeyId"]
    mac = kms.generate_mac(KeyId=key_id, Message=bytes(4096), MacAlgorithm="HMAC_SHA_512")["Mac"]
    assert kms.verify_mac(KeyId=key_id, Message=bytes(4096), Mac=mac, MacAlgorithm="HMAC_SHA_512")["MacValid"] is True
    with aws_error(kms, "ValidationException") as caught:
        kms.generate_mac(KeyId=key_id, Message=bytes(4097), MacAlgorithm="HMAC_SHA_512")
    assert "4096" in caught.message


# ===================================================================== DeriveSharedSecret


@pytest.mark.parametrize("spec", NIST_SPECS)
def test_derive_shared_secret_matches_local_ecdh(kms: Any, keys: Keys, spec: str) -> None:
    metadata = keys(spec, "KEY_AGREEMENT")
    trent_public: Any = serialization.load_der_public_key(keys.public_der(spec, "KEY_AGREEMENT"))
    peer_private, peer_der = peer_public_der(CURVES[spec]())
    derived = body(kms.derive_shared_secret(KeyId=metadata["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der))
    assert set(derived) == {"KeyId", "SharedSecret", "KeyAgreementAlgorithm", "KeyOrigin"}
    assert derived["KeyId"] == metadata["Arn"]
    assert (derived["KeyAgreementAlgorithm"], derived["KeyOrigin"]) == ("ECDH", "AWS_KMS")
    expected = peer_private.exchange(ec.ECDH(), trent_public)
    assert len(expected) == SHARED_SECRET_LENGTH[spec]
    assert derived["SharedSecret"] == expected
    # Another peer, another secret.
    _, other_der = peer_public_der(CURVES[spec]())
    again = kms.derive_shared_secret(KeyId=metadata["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=other_der)
    assert again["SharedSecret"] != expected


def invalid_peer_keys() -> list[tuple[str, bytes]]:
    _, p384 = peer_public_der(ec.SECP384R1())
    _, k1 = peer_public_der(ec.SECP256K1())
    rsa_der = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ed_der = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _, p256 = peer_public_der(ec.SECP256R1())
    return [
        ("garbage", b"not a public key at all"),
        ("truncated SPKI", p256[:-5]),
        ("P-384 key on a P-256 key", p384),
        ("secp256k1 key on a P-256 key", k1),
        ("RSA key", rsa_der),
        ("Ed25519 key", ed_der),
    ]


def test_derive_shared_secret_with_bad_peer_keys(kms: Any, keys: Keys) -> None:
    key_id = keys("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"]
    for what, peer in invalid_peer_keys():
        with pytest.raises(ClientError) as info:
            kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
        response = info.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, (what, response)
        assert response["Error"]["Code"] == "ValidationException", (what, response["Error"])
    with aws_error(kms, "ValidationException", ""):
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=b"not a public key at all")


def test_derive_shared_secret_algorithm_must_be_ecdh(kms: Any, keys: Keys) -> None:
    key_id = keys("ECC_NIST_P384", "KEY_AGREEMENT")["KeyId"]
    _, peer = peer_public_der(ec.SECP384R1())
    with aws_error(kms, "ValidationException") as caught:
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="X25519", PublicKey=peer)
    assert "keyAgreementAlgorithm" in caught.message


# ===================================================================== GenerateDataKeyPair


CONTEXT = {"purpose": "data key pair", "tenant": "42"}


@pytest.mark.parametrize("pair_spec", DATA_KEY_PAIR_SPECS)
def test_generate_data_key_pair(kms: Any, symmetric: dict[str, Any], pair_spec: str) -> None:
    generated = body(
        kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec=pair_spec, EncryptionContext=CONTEXT)
    )
    assert set(generated) == {
        "PrivateKeyCiphertextBlob", "PrivateKeyPlaintext", "PublicKey", "KeyId", "KeyPairSpec", "KeyMaterialId"
    }  # fmt: skip
    assert (generated["KeyId"], generated["KeyPairSpec"]) == (symmetric["Arn"], pair_spec)
    assert generated["KeyMaterialId"] == symmetric["CurrentKeyMaterialId"]

    private_der = generated["PrivateKeyPlaintext"]
    assert_pkcs8(private_der)
    private_key: Any = serialization.load_der_private_key(private_der, password=None)
    assert_key_matches_spec(private_key, pair_spec)
    public_key: Any = serialization.load_der_public_key(generated["PublicKey"])
    assert_key_matches_spec(public_key, pair_spec)
    assert (
        private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == generated["PublicKey"]
    )

    decrypted = body(kms.decrypt(CiphertextBlob=generated["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT))
    assert decrypted["Plaintext"] == private_der
    assert decrypted["KeyId"] == symmetric["Arn"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=generated["PrivateKeyCiphertextBlob"])


@pytest.mark.parametrize("pair_spec", DATA_KEY_PAIR_SPECS)
def test_generate_data_key_pair_without_plaintext(kms: Any, symmetric: dict[str, Any], pair_spec: str) -> None:
    generated = body(
        kms.generate_data_key_pair_without_plaintext(
            KeyId=symmetric["KeyId"], KeyPairSpec=pair_spec, EncryptionContext=CONTEXT
        )
    )
    assert set(generated) == {"PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec", "KeyMaterialId"}
    assert (generated["KeyId"], generated["KeyPairSpec"]) == (symmetric["Arn"], pair_spec)
    assert generated["KeyMaterialId"] == symmetric["CurrentKeyMaterialId"]

    private_der = kms.decrypt(CiphertextBlob=generated["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT)[
        "Plaintext"
    ]
    assert_pkcs8(private_der)
    private_key: Any = serialization.load_der_private_key(private_der, password=None)
    assert_key_matches_spec(private_key, pair_spec)
    assert (
        private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == generated["PublicKey"]
    )
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=generated["PrivateKeyCiphertextBlob"], EncryptionContext={"purpose": "other"})


def test_data_key_pairs_are_fresh_and_usable(kms: Any, symmetric: dict[str, Any]) -> None:
    first = kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec="ECC_NIST_P256")
    second = kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert first["PublicKey"] != second["PublicKey"]
    assert first["PrivateKeyPlaintext"] != second["PrivateKeyPlaintext"]
    # The private key signs; the public key verifies (usage rules of KMS keys do not apply).
    private_key: Any = serialization.load_der_private_key(first["PrivateKeyPlaintext"], password=None)
    signature = private_key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    verify_offline(first["PublicKey"], "ECDSA_SHA_256", signature, MESSAGE)


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P256", "KEY_AGREEMENT"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
    ],
)
def test_data_key_pair_under_a_non_symmetric_key(kms: Any, keys: Keys, spec: str, usage: str) -> None:
    key_id = keys(spec, usage)["KeyId"]
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")


def test_symmetric_data_key_under_an_rsa_key(kms: Any, keys: Keys) -> None:
    key_id = keys("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"]
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")


def test_data_key_pair_spec_outside_the_enum(kms: Any, symmetric: dict[str, Any]) -> None:
    """DataKeyPairSpec has no ML-DSA (spec 2.1 GenerateDataKeyPair)."""
    with aws_error(kms, "ValidationException") as caught:
        kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec="ML_DSA_44")
    assert caught.message.startswith(
        "1 validation error detected: Value 'ML_DSA_44' at 'keyPairSpec' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    ), caught.message


def test_sm2_data_key_pair_is_made_or_refused_cleanly(kms: Any, symmetric: dict[str, Any]) -> None:
    try:
        generated = kms.generate_data_key_pair_without_plaintext(KeyId=symmetric["KeyId"], KeyPairSpec="SM2")
    except ClientError as error:
        response = error.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
        assert response["Error"]["Code"] in {"ValidationException", "UnsupportedOperationException"}, response
    else:
        assert generated["KeyPairSpec"] == "SM2"


# ===================================================================== key states


DISABLED_CASES = [
    ("ECC_NIST_P256", "SIGN_VERIFY", "Sign"),
    ("ML_DSA_44", "SIGN_VERIFY", "Verify"),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "GenerateMac"),
    ("ECC_NIST_P256", "KEY_AGREEMENT", "DeriveSharedSecret"),
]


def prepared_request(kms: Any, operation: str, key_id: str, spec: str) -> Callable[[], Any]:
    """A request that succeeds on an enabled key of ``spec`` (anything it needs is made now)."""
    if operation in {"Sign", "Verify"}:
        algorithm = SIGNING_ALGORITHMS[spec][0]
        if operation == "Sign":
            return lambda: kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)
        signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
        return lambda: kms.verify(KeyId=key_id, Message=b"m", Signature=signature, SigningAlgorithm=algorithm)
    if operation == "GenerateMac":
        return lambda: kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm=MAC_ALGORITHM[spec])
    if operation == "DeriveSharedSecret":
        _, peer = peer_public_der(CURVES[spec]())
        return lambda: kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    raise AssertionError(operation)


@pytest.mark.parametrize(("spec", "usage", "operation"), DISABLED_CASES)
def test_disabled_key(kms: Any, spec: str, usage: str, operation: str) -> None:
    metadata = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    request = prepared_request(kms, operation, metadata["KeyId"], spec)
    kms.disable_key(KeyId=metadata["KeyId"])
    with aws_error(kms, "DisabledException", f"{metadata['Arn']} is disabled."):
        request()
    if usage != "GENERATE_VERIFY_MAC":
        with aws_error(kms, "DisabledException", f"{metadata['Arn']} is disabled."):
            kms.get_public_key(KeyId=metadata["KeyId"])
    assert kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=metadata["KeyId"])
    assert body(request())["KeyId"] == metadata["Arn"]


def test_pending_deletion_signing_key(kms: Any) -> None:
    metadata = kms.create_key(KeySpec=ED25519, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    with aws_error(kms, "KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms.sign(KeyId=metadata["KeyId"], Message=b"m", SigningAlgorithm="ED25519_SHA_512")
    kms.cancel_key_deletion(KeyId=metadata["KeyId"])
