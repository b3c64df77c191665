"""Symmetric cryptographic operations through a real server (spec/kms-api.md 1.7, 2, 2.1, 4.3, 6.6, 9).

Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext), GenerateRandom: exact output
members, every key identifier form, encryption context binding, tampering, sizes and DryRun.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, body

pytestmark = pytest.mark.e2e

OTHER_REGION = "eu-west-1"
INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."
DRY_RUN = "The request would have succeeded, but the DryRun option is set."
IDENTIFIER_FORMS = ["key id", "key ARN", "alias name", "alias ARN"]
ENCRYPT_MEMBERS = {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
DECRYPT_MEMBERS = {"KeyId", "Plaintext", "EncryptionAlgorithm", "KeyMaterialId"}
DATA_KEY_MEMBERS = {"CiphertextBlob", "Plaintext", "KeyId", "KeyMaterialId"}
RE_ENCRYPT_MEMBERS = {
    "CiphertextBlob", "SourceKeyId", "KeyId", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm",
    "SourceKeyMaterialId", "DestinationKeyMaterialId",
}  # fmt: skip


# ===================================================================== helpers


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias_name: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:{alias_name}"


class TestKey:
    """A fresh key with an alias, and every way to name it."""

    __test__ = False

    def __init__(self, kms: Any) -> None:
        metadata = kms.create_key(Description="crypto test")["KeyMetadata"]
        self.metadata: dict[str, Any] = metadata
        self.key_id: str = metadata["KeyId"]
        self.arn: str = metadata["Arn"]
        self.material_id: str = metadata["CurrentKeyMaterialId"]
        self.alias = f"alias/crypto-{uuid.uuid4().hex}"
        kms.create_alias(AliasName=self.alias, TargetKeyId=self.key_id)

    def ref(self, form: str) -> str:
        return {
            "key id": self.key_id,
            "key ARN": self.arn,
            "alias name": self.alias,
            "alias ARN": alias_arn(self.alias),
        }[form]


@pytest.fixture
def key(kms: Any) -> TestKey:
    return TestKey(kms)


@pytest.fixture
def other_key(kms: Any) -> TestKey:
    return TestKey(kms)


@pytest.fixture(scope="module")
def raw_kms(server: TrentServer) -> Any:
    """A client that sends what botocore itself would refuse (min length, required), as other SDKs may."""
    return boto3.session.Session().client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


# ===================================================================== Encrypt / Decrypt


def test_encrypt_decrypt_round_trip_output_members(kms: Any, key: TestKey) -> None:
    encrypted = body(kms.encrypt(KeyId=key.key_id, Plaintext=b"hello, trent"))
    assert set(encrypted) == ENCRYPT_MEMBERS
    assert encrypted["KeyId"] == key.arn
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = encrypted["CiphertextBlob"]
    assert isinstance(blob, bytes)
    assert b"hello, trent" not in blob
    assert 1 <= len(blob) <= 6144

    decrypted = body(kms.decrypt(CiphertextBlob=blob))
    assert decrypted == {
        "KeyId": key.arn,
        "Plaintext": b"hello, trent",
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "KeyMaterialId": key.material_id,
    }
    described = kms.describe_key(KeyId=key.key_id)["KeyMetadata"]
    assert decrypted["KeyMaterialId"] == described["CurrentKeyMaterialId"]


def test_ciphertexts_are_randomized(kms: Any, key: TestKey) -> None:
    blobs = {kms.encrypt(KeyId=key.key_id, Plaintext=b"same")["CiphertextBlob"] for _ in range(5)}
    assert len(blobs) == 5
    assert {kms.decrypt(CiphertextBlob=b)["Plaintext"] for b in blobs} == {b"same"}


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_encrypt_accepts_every_identifier_form(kms: Any, key: TestKey, form: str) -> None:
    encrypted = kms.encrypt(KeyId=key.ref(form), Plaintext=b"by " + form.encode())
    assert encrypted["KeyId"] == key.arn  # always the ARN, whatever was sent
    assert kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])["Plaintext"] == b"by " + form.encode()


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_decrypt_with_matching_key_id_in_every_form(kms: Any, key: TestKey, form: str) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"named")["CiphertextBlob"]
    decrypted = body(kms.decrypt(CiphertextBlob=blob, KeyId=key.ref(form)))
    assert set(decrypted) == DECRYPT_MEMBERS
    assert decrypted["KeyId"] == key.arn
    assert decrypted["Plaintext"] == b"named"


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_decrypt_with_another_key_is_incorrect_key(kms: Any, key: TestKey, other_key: TestKey, form: str) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"mine")["CiphertextBlob"]
    with aws_error(kms, "IncorrectKeyException", INCORRECT_KEY):
        kms.decrypt(CiphertextBlob=blob, KeyId=other_key.ref(form))


def test_decrypt_with_key_id_that_does_not_resolve(kms: Any, key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"x")["CiphertextBlob"]
    missing = str(uuid.uuid4())
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.decrypt(CiphertextBlob=blob, KeyId=missing)
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn('alias/nothing-here')} is not found."):
        kms.decrypt(CiphertextBlob=blob, KeyId="alias/nothing-here")
    with aws_error(kms, "NotFoundException", "Invalid keyId 'garbage'"):
        kms.decrypt(CiphertextBlob=blob, KeyId="garbage")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("alias/does-not-exist", f"Alias {alias_arn('alias/does-not-exist')} is not found."),
        (alias_arn("alias/does-not-exist"), f"Alias {alias_arn('alias/does-not-exist')} is not found."),
        ("fake-key-id", "Invalid keyId 'fake-key-id'"),
        (
            "6c1e8f0a-3b6d-4e2f-9a7c-1d2e3f4a5b6c",
            f"Key '{key_arn('6c1e8f0a-3b6d-4e2f-9a7c-1d2e3f4a5b6c')}' does not exist",
        ),
        (key_arn("6c1e8f0a-3b6d-4e2f-9a7c-1d2e3f4a5b6c", OTHER_REGION), f"Invalid arn {OTHER_REGION}"),
        (alias_arn("alias/x", OTHER_REGION), f"Invalid arn {OTHER_REGION}"),
    ],
)
def test_crypto_operations_report_unknown_keys(kms: Any, reference: str, message: str) -> None:
    with aws_error(kms, "NotFoundException", message):
        kms.encrypt(KeyId=reference, Plaintext=b"x")
    with aws_error(kms, "NotFoundException", message):
        kms.generate_data_key(KeyId=reference, KeySpec="AES_256")
    with aws_error(kms, "NotFoundException", message):
        kms.generate_data_key_without_plaintext(KeyId=reference, KeySpec="AES_256")
    with aws_error(kms, "NotFoundException", message):
        kms.encrypt(KeyId=reference, Plaintext=b"x", DryRun=True)


def test_encrypt_with_explicit_algorithm(kms: Any, key: TestKey) -> None:
    encrypted = kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = encrypted["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="SYMMETRIC_DEFAULT")["Plaintext"] == b"x"
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with aws_error(kms, "InvalidKeyUsageException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    with aws_error(kms, "ValidationException") as caught:
        kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionAlgorithm="BOGUS")
    assert "'encryptionAlgorithm'" in caught.message
    assert "enum value set" in caught.message


# ===================================================================== encryption context


def test_round_trip_with_encryption_context(kms: Any, key: TestKey) -> None:
    context = {"purpose": "test", "user": "alice", "unicode": "\u00e9t\u00e9 \u2603", "empty": ""}
    blob = kms.encrypt(KeyId=key.alias, Plaintext=b"bound", EncryptionContext=context)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"bound"
    reordered = dict(reversed(list(context.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"bound"


@pytest.mark.parametrize(
    "wrong",
    [
        None,  # missing
        {"purpose": "test"},  # a pair missing
        {"purpose": "test", "user": "alice", "extra": "1"},  # an extra pair
        {"purpose": "test", "user": "bob"},  # a wrong value
        {"purpose": "test", "User": "alice"},  # keys are case-sensitive
        {"purpose": "test", "user": "Alice"},  # values too
        {"purposeuser": "testalice"},
    ],
)
def test_wrong_encryption_context_is_invalid_ciphertext(kms: Any, key: TestKey, wrong: dict[str, str] | None) -> None:
    context = {"purpose": "test", "user": "alice"}
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"bound", EncryptionContext=context)["CiphertextBlob"]
    kwargs: dict[str, Any] = {"CiphertextBlob": blob}
    if wrong is not None:
        kwargs["EncryptionContext"] = wrong
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(**kwargs)


def test_context_given_only_at_decrypt_is_invalid_ciphertext(kms: Any, key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"unbound")["CiphertextBlob"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})


@pytest.mark.parametrize(
    ("encrypt_with", "decrypt_with"),
    [
        ({"ab": "c"}, {"a": "bc"}),
        ({"a": "bc"}, {"ab": "c"}),
        ({"a": "b", "c": "d"}, {"a": "bc", "": "d"}),
        ({"a": "b=c"}, {"a=b": "c"}),
    ],
)
def test_encryption_context_encoding_is_injective(
    kms: Any, key: TestKey, encrypt_with: dict[str, str], decrypt_with: dict[str, str]
) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionContext=encrypt_with)["CiphertextBlob"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=decrypt_with)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=encrypt_with)["Plaintext"] == b"x"


# ===================================================================== tampered and garbage ciphertexts


def test_every_flipped_byte_is_invalid_ciphertext(kms: Any, key: TestKey) -> None:
    context = {"k": "v"}
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"0123456789abcdef", EncryptionContext=context)["CiphertextBlob"]
    for position in range(len(blob)):
        for mask in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= mask
            with aws_error(kms, "InvalidCiphertextException", ""):
                kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=context)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"0123456789abcdef"


def test_truncated_and_extended_ciphertexts_are_invalid(kms: Any, key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"some plaintext")["CiphertextBlob"]
    for length in range(1, len(blob)):
        with aws_error(kms, "InvalidCiphertextException", ""):
            kms.decrypt(CiphertextBlob=blob[:length])
    for extra in (b"\x00", b"\xff" * 16):
        with aws_error(kms, "InvalidCiphertextException", ""):
            kms.decrypt(CiphertextBlob=blob + extra)


def test_ciphertext_spliced_from_two_keys_is_invalid(kms: Any, key: TestKey, other_key: TestKey) -> None:
    mine = kms.encrypt(KeyId=key.key_id, Plaintext=b"a" * 32)["CiphertextBlob"]
    theirs = kms.encrypt(KeyId=other_key.key_id, Plaintext=b"a" * 32)["CiphertextBlob"]
    for cut in (18, 50, 66, 78):
        with aws_error(kms, "InvalidCiphertextException", ""):
            kms.decrypt(CiphertextBlob=mine[:cut] + theirs[cut:])


@pytest.mark.parametrize(
    "blob",
    [
        b"\x00",
        b"\x01",
        b"garbage",
        b"\x00" * 32,
        b"\x01" * 94,
        b"\x01\x00" + b"\x00" * 200,
        os.urandom(150),
        b"\xff" * 6144,
    ],
)
def test_garbage_is_invalid_ciphertext(kms: Any, blob: bytes) -> None:
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId="alias/whatever-it-is-never-reached")


def test_garbage_with_a_key_id(kms: Any, key: TestKey) -> None:
    # The blob names no key of ours: the request's KeyId cannot match it.
    with pytest.raises(ClientError) as info:
        kms.decrypt(CiphertextBlob=os.urandom(120), KeyId=key.key_id)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"]["Code"] in {"InvalidCiphertextException", "IncorrectKeyException"}


def test_ciphertext_sizes_outside_the_model(raw_kms: Any) -> None:
    with aws_error(raw_kms, "ValidationException") as caught:
        raw_kms.decrypt(CiphertextBlob=b"")
    assert "'ciphertextBlob'" in caught.message
    with aws_error(raw_kms, "ValidationException") as caught:
        raw_kms.decrypt(CiphertextBlob=b"\x01" * 6145)
    assert "'ciphertextBlob'" in caught.message
    assert "Member must have length less than or equal to 6144" in caught.message
    with aws_error(raw_kms, "ValidationException") as caught:
        raw_kms.decrypt()
    assert "ciphertextBlob" in caught.message


# ===================================================================== plaintext sizes


def test_plaintext_of_4096_bytes(kms: Any, key: TestKey) -> None:
    plaintext = os.urandom(4096)
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=plaintext)["CiphertextBlob"]
    assert len(blob) <= 6144
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
    one_byte = kms.encrypt(KeyId=key.key_id, Plaintext=b"\x00")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=one_byte)["Plaintext"] == b"\x00"


def test_plaintext_of_4097_bytes(kms: Any, key: TestKey) -> None:
    with aws_error(
        kms,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
    ):
        kms.encrypt(KeyId=key.key_id, Plaintext=b"p" * 4097)


def test_empty_plaintext(raw_kms: Any, key: TestKey) -> None:
    with aws_error(
        raw_kms,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ):
        raw_kms.encrypt(KeyId=key.key_id, Plaintext=b"")


# ===================================================================== ReEncrypt


def test_re_encrypt_to_another_key_with_a_new_context(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"moving", EncryptionContext={"from": "a"})["CiphertextBlob"]
    response = body(
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext={"from": "a"},
            DestinationKeyId=other_key.alias,
            DestinationEncryptionContext={"to": "b"},
        )
    )
    assert set(response) == RE_ENCRYPT_MEMBERS
    assert response["SourceKeyId"] == key.arn
    assert response["KeyId"] == other_key.arn
    assert response["SourceEncryptionAlgorithm"] == response["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert response["SourceKeyMaterialId"] == key.material_id
    assert response["DestinationKeyMaterialId"] == other_key.material_id
    new_blob = response["CiphertextBlob"]
    assert new_blob != blob

    decrypted = kms.decrypt(CiphertextBlob=new_blob, EncryptionContext={"to": "b"})
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"moving", other_key.arn)
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=new_blob, EncryptionContext={"from": "a"})
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=new_blob)
    with aws_error(kms, "IncorrectKeyException", INCORRECT_KEY):
        kms.decrypt(CiphertextBlob=new_blob, KeyId=key.key_id, EncryptionContext={"to": "b"})
    # The original ciphertext is untouched.
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"from": "a"})["Plaintext"] == b"moving"


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_re_encrypt_identifier_forms(kms: Any, key: TestKey, other_key: TestKey, form: str) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"forms")["CiphertextBlob"]
    response = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=key.ref(form), DestinationKeyId=other_key.ref(form))
    assert (response["SourceKeyId"], response["KeyId"]) == (key.arn, other_key.arn)
    assert kms.decrypt(CiphertextBlob=response["CiphertextBlob"])["Plaintext"] == b"forms"


def test_re_encrypt_on_the_same_key_changes_the_context(kms: Any, key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"same key", EncryptionContext={"v": "1"})["CiphertextBlob"]
    response = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=key.key_id,
        DestinationEncryptionContext={"v": "2"},
    )
    assert response["SourceKeyId"] == response["KeyId"] == key.arn
    assert kms.decrypt(CiphertextBlob=response["CiphertextBlob"], EncryptionContext={"v": "2"})["Plaintext"] == (
        b"same key"
    )


def test_re_encrypt_source_errors(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"src", EncryptionContext={"c": "1"})["CiphertextBlob"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other_key.key_id)
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"c": "2"}, DestinationKeyId=other_key.key_id)
    with aws_error(kms, "IncorrectKeyException", INCORRECT_KEY):
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceKeyId=other_key.alias,
            SourceEncryptionContext={"c": "1"},
            DestinationKeyId=other_key.key_id,
        )
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn('alias/no-destination')} is not found."):
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"c": "1"}, DestinationKeyId="alias/no-destination")


# ===================================================================== GenerateDataKey


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 64}, 64),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key_sizes(kms: Any, key: TestKey, kwargs: dict[str, Any], size: int) -> None:
    response = body(kms.generate_data_key(KeyId=key.key_id, **kwargs))
    assert set(response) == DATA_KEY_MEMBERS
    assert response["KeyId"] == key.arn
    assert response["KeyMaterialId"] == key.material_id
    assert len(response["Plaintext"]) == size
    decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"])
    assert decrypted["Plaintext"] == response["Plaintext"]
    assert decrypted["KeyId"] == key.arn


def test_data_keys_are_random(kms: Any, key: TestKey) -> None:
    plaintexts = {kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_256")["Plaintext"] for _ in range(5)}
    assert len(plaintexts) == 5


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
def test_generate_data_key_with_context_and_every_identifier_form(kms: Any, key: TestKey, form: str) -> None:
    context = {"bucket": "b1", "object": "o1"}
    response = kms.generate_data_key(KeyId=key.ref(form), KeySpec="AES_256", EncryptionContext=context)
    assert response["KeyId"] == key.arn
    blob = response["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == response["Plaintext"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=blob)


def test_generate_data_key_needs_exactly_one_size(kms: Any, key: TestKey) -> None:
    with aws_error(kms, "ValidationException"):
        kms.generate_data_key(KeyId=key.key_id)
    with aws_error(kms, "ValidationException"):
        kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_256", NumberOfBytes=32)
    with aws_error(kms, "ValidationException"):
        kms.generate_data_key_without_plaintext(KeyId=key.key_id)
    with aws_error(kms, "ValidationException"):
        kms.generate_data_key_without_plaintext(KeyId=key.key_id, KeySpec="AES_128", NumberOfBytes=16)


def test_generate_data_key_bounds(kms: Any, raw_kms: Any, key: TestKey) -> None:
    with aws_error(
        kms,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024",
    ):
        kms.generate_data_key(KeyId=key.key_id, NumberOfBytes=1025)
    with aws_error(
        raw_kms,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ):
        raw_kms.generate_data_key(KeyId=key.key_id, NumberOfBytes=0)
    with aws_error(kms, "ValidationException") as caught:
        kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_512")
    assert "'keySpec'" in caught.message
    assert "enum value set" in caught.message


@pytest.mark.parametrize("form", IDENTIFIER_FORMS)
@pytest.mark.parametrize(("kwargs", "size"), [({"KeySpec": "AES_256"}, 32), ({"NumberOfBytes": 7}, 7)])
def test_generate_data_key_without_plaintext(
    kms: Any, key: TestKey, kwargs: dict[str, Any], size: int, form: str
) -> None:
    context = {"purpose": "envelope"}
    response = body(kms.generate_data_key_without_plaintext(KeyId=key.ref(form), EncryptionContext=context, **kwargs))
    assert set(response) == {"CiphertextBlob", "KeyId", "KeyMaterialId"}  # no Plaintext
    assert response["KeyId"] == key.arn
    assert response["KeyMaterialId"] == key.material_id
    decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"], EncryptionContext=context)
    assert len(decrypted["Plaintext"]) == size
    assert decrypted["KeyId"] == key.arn


# ===================================================================== GenerateRandom


@pytest.mark.parametrize("size", [1, 16, 32, 1024])
def test_generate_random_sizes(kms: Any, size: int) -> None:
    response = body(kms.generate_random(NumberOfBytes=size))
    assert set(response) == {"Plaintext"}
    assert len(response["Plaintext"]) == size


def test_generate_random_is_random(kms: Any) -> None:
    assert len({kms.generate_random(NumberOfBytes=32)["Plaintext"] for _ in range(5)}) == 5


def test_generate_random_bounds(kms: Any, raw_kms: Any) -> None:
    with aws_error(kms, "ValidationException", "NumberOfBytes is required."):
        kms.generate_random()
    with aws_error(
        kms,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024",
    ):
        kms.generate_random(NumberOfBytes=1025)
    with aws_error(
        raw_kms,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ):
        raw_kms.generate_random(NumberOfBytes=0)


# ===================================================================== DryRun


def test_dry_run_of_calls_that_would_succeed(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"dry", EncryptionContext={"a": "1"})["CiphertextBlob"]
    calls = {
        "Encrypt": lambda: kms.encrypt(KeyId=key.alias, Plaintext=b"x", DryRun=True),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"}, DryRun=True),
        "ReEncrypt": lambda: kms.re_encrypt(
            CiphertextBlob=blob, SourceEncryptionContext={"a": "1"}, DestinationKeyId=other_key.key_id, DryRun=True
        ),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_256", DryRun=True),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=key.arn, NumberOfBytes=16, DryRun=True
        ),
    }
    for name, call in calls.items():
        with aws_error(kms, "DryRunOperationException", DRY_RUN):
            call()
        assert name
    # DryRun=False is an ordinary call.
    assert kms.encrypt(KeyId=key.key_id, Plaintext=b"x", DryRun=False)["KeyId"] == key.arn


def test_dry_run_reports_the_error_the_real_call_would_get(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"dry", EncryptionContext={"a": "1"})["CiphertextBlob"]
    with aws_error(kms, "InvalidCiphertextException", ""):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "2"}, DryRun=True)
    with aws_error(kms, "IncorrectKeyException", INCORRECT_KEY):
        kms.decrypt(CiphertextBlob=blob, KeyId=other_key.key_id, EncryptionContext={"a": "1"}, DryRun=True)
    with aws_error(kms, "ValidationException"):
        kms.generate_data_key(KeyId=key.key_id, DryRun=True)
    kms.disable_key(KeyId=key.key_id)
    disabled = f"{key.arn} is disabled."
    with aws_error(kms, "DisabledException", disabled):
        kms.encrypt(KeyId=key.key_id, Plaintext=b"x", DryRun=True)
    with aws_error(kms, "DisabledException", disabled):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"}, DryRun=True)
    with aws_error(kms, "DisabledException", disabled):
        kms.generate_data_key(KeyId=key.alias, NumberOfBytes=8, DryRun=True)
    with aws_error(kms, "DisabledException", disabled):
        kms.generate_data_key_without_plaintext(KeyId=key.alias, NumberOfBytes=8, DryRun=True)
    with aws_error(kms, "DisabledException", disabled):
        kms.re_encrypt(
            CiphertextBlob=blob, SourceEncryptionContext={"a": "1"}, DestinationKeyId=other_key.key_id, DryRun=True
        )


# ===================================================================== key state, as seen by crypto


def test_disabled_key_messages(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"before")["CiphertextBlob"]
    other_blob = kms.encrypt(KeyId=other_key.key_id, Plaintext=b"other")["CiphertextBlob"]
    kms.disable_key(KeyId=key.key_id)
    disabled = f"{key.arn} is disabled."
    with aws_error(kms, "DisabledException", disabled):
        kms.encrypt(KeyId=key.alias, Plaintext=b"x")
    with aws_error(kms, "DisabledException", disabled):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error(kms, "DisabledException", disabled):
        kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_128")
    with aws_error(kms, "DisabledException", disabled):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other_key.key_id)
    with aws_error(kms, "DisabledException", disabled):
        kms.re_encrypt(CiphertextBlob=other_blob, DestinationKeyId=key.alias)
    # Another key is unaffected.
    assert kms.decrypt(CiphertextBlob=other_blob)["Plaintext"] == b"other"


def test_pending_deletion_messages(kms: Any, key: TestKey, other_key: TestKey) -> None:
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"before")["CiphertextBlob"]
    other_blob = kms.encrypt(KeyId=other_key.key_id, Plaintext=b"other")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key.key_id, PendingWindowInDays=7)
    pending = f"{key.arn} is pending deletion."
    with aws_error(kms, "KMSInvalidStateException", pending):
        kms.encrypt(KeyId=key.alias, Plaintext=b"x")
    with aws_error(kms, "KMSInvalidStateException", pending):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error(kms, "KMSInvalidStateException", pending):
        kms.generate_data_key_without_plaintext(KeyId=key.key_id, KeySpec="AES_128")
    with aws_error(kms, "KMSInvalidStateException", pending):
        kms.re_encrypt(CiphertextBlob=other_blob, DestinationKeyId=key.key_id)
    kms.cancel_key_deletion(KeyId=key.key_id)
    kms.enable_key(KeyId=key.key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_ciphertext_does_not_decrypt_in_another_region(server: TrentServer, kms: Any, key: TestKey) -> None:
    europe = server.client(region=OTHER_REGION)
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"us only")["CiphertextBlob"]
    # The key does not exist in eu-west-1: AWS's AccessDenied wording (spec 1.6).
    with pytest.raises(ClientError) as info:
        europe.decrypt(CiphertextBlob=blob)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert info.value.response["Error"]["Message"] == (
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, "
        "or you are not allowed to access."
    )
    with aws_error(europe, "NotFoundException", f"Invalid arn {REGION}"):
        europe.decrypt(CiphertextBlob=blob, KeyId=key.arn)
