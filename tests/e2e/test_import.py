"""Importing key material (BYOK) through a real server: material wrapped client-side exactly as AWS's
documentation describes (RSA-OAEP, or RSA-OAEP + AES key wrap with padding), with `cryptography` and
with the `openssl` command line, then proved to be the key Trent uses (spec/kms-api.md 7.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import sqlite3
import struct
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from tests.conftest import TrentServer
from tests.e2e.helpers import aws_error, new_key, rotate_on_demand

pytestmark = pytest.mark.e2e

DAY = 86400
_OAEP = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_SHA_1": hashes.SHA1,
    "RSA_AES_KEY_WRAP_SHA_256": hashes.SHA256,
}


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """What AWS's documentation tells a client to do with the wrapping public key."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    hash_type = _OAEP[algorithm]
    oaep = padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


def import_material(
    kms: Any,
    key_id: str,
    material: bytes,
    algorithm: str = "RSAES_OAEP_SHA_256",
    spec: str = "RSA_2048",
    **kwargs: Any,
) -> dict[str, Any]:
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    encrypted = wrap(params["PublicKey"], algorithm, material)
    kwargs.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return dict(
        kms.import_key_material(
            KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=encrypted, **kwargs
        )
    )


def external_key(kms: Any, **kwargs: Any) -> dict[str, Any]:
    return new_key(kms, Origin="EXTERNAL", **kwargs)


# ----------------------------------------------------------------- Trent's documented ciphertext format,
# reimplemented here with `cryptography` only (docs/import.md), to prove which material Trent uses.

_HEADER = 66


def _key_id_bytes(key_id: str) -> bytes:
    return uuid.UUID(key_id).bytes


def _data_key(material: bytes, header: bytes) -> bytes:
    kdf = KBKDFHMAC(
        algorithm=hashes.SHA256(),
        mode=Mode.CounterMode,
        length=32,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=b"trent derived data key v1",
        context=header,
        fixed=None,
    )
    return kdf.derive(material)


def _context_bytes(context: dict[str, str]) -> bytes:
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    out = struct.pack(">I", len(pairs))
    for k, v in pairs:
        out += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return out


def offline_decrypt(material: bytes, blob: bytes, context: dict[str, str]) -> bytes:
    header, iv, body = blob[:_HEADER], blob[_HEADER : _HEADER + 12], blob[_HEADER + 12 :]
    return AESGCM(_data_key(material, header)).decrypt(iv, body, header + _context_bytes(context))


def offline_encrypt(material: bytes, key_id: str, plaintext: bytes, context: dict[str, str]) -> bytes:
    header = bytes((1, 0)) + _key_id_bytes(key_id) + bytes.fromhex(material_id(key_id, material)) + os.urandom(16)
    iv = os.urandom(12)
    return header + iv + AESGCM(_data_key(material, header)).encrypt(iv, plaintext, header + _context_bytes(context))


def material_id(key_id: str, material: bytes) -> str:
    return hmac.new(material, b"trent key material id\x00" + key_id.encode(), hashlib.sha256).hexdigest()


# ----------------------------------------------------------------- symmetric


def test_a_symmetric_key_takes_imported_material_and_uses_it(kms: Any) -> None:
    key = external_key(kms, Description="byok")
    assert key["KeyState"] == "PendingImport"
    assert key["Enabled"] is False
    assert key["Origin"] == "EXTERNAL"
    assert "CurrentKeyMaterialId" not in key
    assert "ExpirationModel" not in key
    with aws_error(kms, "KMSInvalidStateException", f"{key['Arn']} is pending import."):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")

    before = datetime.now(UTC)
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    assert params["KeyId"] == key["Arn"]
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert abs((params["ParametersValidTo"] - (before + timedelta(hours=24))).total_seconds()) < 60

    material = os.urandom(32)
    result = kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert result["KeyId"] == key["Arn"]
    assert result["KeyMaterialId"] == material_id(key["KeyId"], material)
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled"
    assert metadata["Enabled"] is True
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in metadata
    assert metadata["CurrentKeyMaterialId"] == result["KeyMaterialId"]

    context = {"purpose": "byok"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"made by Trent", EncryptionContext=context)["CiphertextBlob"]
    assert offline_decrypt(material, blob, context) == b"made by Trent"
    offline = offline_encrypt(material, key["KeyId"], b"made offline", context)
    assert kms.decrypt(CiphertextBlob=offline, EncryptionContext=context)["Plaintext"] == b"made offline"


@pytest.mark.parametrize("algorithm", sorted(_OAEP))
@pytest.mark.parametrize("wrapping_spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
def test_every_wrapping_algorithm_and_key_spec(kms: Any, algorithm: str, wrapping_spec: str) -> None:
    key = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key["KeyId"], material, algorithm, wrapping_spec)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"wrapped")["CiphertextBlob"]
    assert offline_decrypt(material, blob, {}) == b"wrapped"


def test_wrapping_with_the_openssl_command_line(kms: Any, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed (Debian package openssl)")
    key = external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072"
    )
    (tmp_path / "wrapping.der").write_bytes(params["PublicKey"])
    material = os.urandom(32)
    (tmp_path / "material.bin").write_bytes(material)
    subprocess.run(
        [
            "openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "wrapping.der"),
            "-in", str(tmp_path / "material.bin"), "-out", str(tmp_path / "wrapped.bin"),
            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=(tmp_path / "wrapped.bin").read_bytes(),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"openssl")["CiphertextBlob"]
    assert offline_decrypt(material, blob, {}) == b"openssl"


# ----------------------------------------------------------------- HMAC and asymmetric


def test_an_hmac_key_takes_imported_material(kms: Any) -> None:
    key = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    material = os.urandom(32)
    import_material(kms, key["KeyId"], material)
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"message", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, b"message", hashlib.sha256).digest()
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert "CurrentKeyMaterialId" not in metadata
    assert metadata["MacAlgorithms"] == ["HMAC_SHA_256"]


def _pkcs8(private: Any) -> bytes:
    return bytes(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _spki(public: Any) -> bytes:
    return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_an_ecc_signing_key_takes_an_imported_private_key(kms: Any) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    import_material(kms, key["KeyId"], _pkcs8(private))
    assert kms.get_public_key(KeyId=key["KeyId"])["PublicKey"] == _spki(private.public_key())
    signature = kms.sign(KeyId=key["KeyId"], Message=b"signed in Trent", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"signed in Trent", ec.ECDSA(hashes.SHA256()))
    offline = private.sign(b"signed offline", ec.ECDSA(hashes.SHA256()))
    verified = kms.verify(
        KeyId=key["KeyId"], Message=b"signed offline", Signature=offline, SigningAlgorithm="ECDSA_SHA_256"
    )
    assert verified["SignatureValid"] is True


def test_an_rsa_key_takes_its_private_key_through_aes_key_wrap(kms: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = external_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    import_material(kms, key["KeyId"], _pkcs8(private), "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
    assert kms.get_public_key(KeyId=key["KeyId"])["PublicKey"] == _spki(private.public_key())
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    offline = private.public_key().encrypt(b"to the imported key", oaep)
    plain = kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=offline, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert plain["Plaintext"] == b"to the imported key"
    made = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"from Trent", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert private.decrypt(made["CiphertextBlob"], oaep) == b"from Trent"


def test_material_of_the_wrong_kind_is_refused(kms: Any) -> None:
    ecc = external_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    with aws_error(kms, "IncorrectKeyMaterialException"):
        import_material(kms, ecc["KeyId"], _pkcs8(ec.generate_private_key(ec.SECP256R1())))
    symmetric = external_key(kms)
    with aws_error(kms, "IncorrectKeyMaterialException"):
        import_material(kms, symmetric["KeyId"], os.urandom(16))
    assert kms.describe_key(KeyId=symmetric["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


# ----------------------------------------------------------------- tokens and requests


def test_token_rules(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key, other = external_key(kms), external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
    )
    wrapped = wrap(params["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32))
    common = {"EncryptedKeyMaterial": wrapped, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    with aws_error(kms, "InvalidImportTokenException"):
        kms.import_key_material(KeyId=other["KeyId"], ImportToken=params["ImportToken"], **common)
    with aws_error(kms, "InvalidImportTokenException"):
        kms.import_key_material(KeyId=key["KeyId"], ImportToken=b"not a token at all", **common)
    tampered = params["ImportToken"][:-1] + bytes([params["ImportToken"][-1] ^ 1])
    with aws_error(kms, "InvalidImportTokenException"):
        kms.import_key_material(KeyId=key["KeyId"], ImportToken=tampered, **common)
    with aws_error(kms, "InvalidCiphertextException"):
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrapped[:-1] + bytes([wrapped[-1] ^ 1]),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    fresh_server.post("/_trent/dev/advance-clock", {"seconds": DAY + 1})
    with aws_error(kms, "ExpiredImportTokenException"):
        kms.import_key_material(KeyId=key["KeyId"], ImportToken=params["ImportToken"], **common)


def test_expiration_model_rules(kms: Any) -> None:
    key = external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapped = wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    base = {"KeyId": key["KeyId"], "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": wrapped}
    with aws_error(
        kms, "ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    ):
        kms.import_key_material(**base)
    with aws_error(kms, "ValidationException"):
        kms.import_key_material(**base, ValidTo=datetime.now(UTC) - timedelta(minutes=5))
    with aws_error(kms, "ValidationException"):
        kms.import_key_material(**base, ValidTo=datetime.now(UTC) + timedelta(days=366))
    with aws_error(kms, "ValidationException"):
        kms.import_key_material(
            **base, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ValidTo=datetime.now(UTC) + timedelta(days=3)
        )
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


def test_parameters_only_for_external_keys(kms: Any) -> None:
    key = new_key(kms)
    with aws_error(
        kms, "UnsupportedOperationException", f"{key['Arn']} origin is AWS_KMS which is not valid for this operation."
    ):
        kms.get_parameters_for_import(
            KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    with aws_error(kms, "UnsupportedOperationException"):
        kms.delete_imported_key_material(KeyId=key["KeyId"])


# ----------------------------------------------------------------- expiry, deletion, reimport


def expiry_records(server: TrentServer) -> list[str]:
    db = sqlite3.connect(server.data_dir / "trent.db")
    try:
        rows = db.execute("SELECT record FROM audit_events WHERE event_name = 'DeleteExpiredKeyMaterial'")
        return [bytes(row[0]).decode() for row in rows]
    finally:
        db.close()


def test_expired_material_sends_the_key_back_to_pending_import(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key = external_key(kms)
    material = os.urandom(32)
    valid_to = datetime.now(UTC) + timedelta(days=2)
    import_material(kms, key["KeyId"], material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((metadata["ValidTo"] - valid_to).total_seconds()) < 1
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before expiry")["CiphertextBlob"]

    fresh_server.post("/_trent/dev/advance-clock", {"seconds": 2 * DAY + 1})
    deadline = time.monotonic() + 10
    while kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingImport":
        assert time.monotonic() < deadline, "the material did not expire"
        time.sleep(0.05)
    with aws_error(kms, "KMSInvalidStateException", f"{key['Arn']} is pending import."):
        kms.decrypt(CiphertextBlob=blob)
    (record,) = expiry_records(fresh_server)
    assert key["Arn"] in record
    assert '"eventType":"AwsServiceEvent"' in record.replace(" ", "")

    with aws_error(kms, "IncorrectKeyMaterialException"):
        import_material(kms, key["KeyId"], os.urandom(32))
    import_material(kms, key["KeyId"], material)  # the same material again
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before expiry"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"


def test_delete_and_reimport(kms: Any) -> None:
    key = external_key(kms)
    material = os.urandom(32)
    imported = import_material(kms, key["KeyId"], material)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    deleted = kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert deleted["KeyId"] == key["Arn"]
    assert deleted["KeyMaterialId"] == imported["KeyMaterialId"]
    metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert metadata["KeyState"] == "PendingImport"
    assert "ExpirationModel" not in metadata
    import_material(
        kms, key["KeyId"], material, KeyMaterialId=imported["KeyMaterialId"], ImportType="EXISTING_KEY_MATERIAL"
    )
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


def test_new_material_waits_for_an_on_demand_rotation(kms: Any) -> None:
    key = external_key(kms)
    first, second = os.urandom(32), os.urandom(32)
    one = import_material(kms, key["KeyId"], first)
    with aws_error(
        kms,
        "KMSInvalidStateException",
        f"No available key material pending rotation for the key: {key['Arn']}.",
    ):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    old_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"first")["CiphertextBlob"]
    two = import_material(kms, key["KeyId"], second, ImportType="NEW_KEY_MATERIAL")
    listed = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (one["KeyMaterialId"], "CURRENT", "IMPORTED"),
        (two["KeyMaterialId"], "PENDING_ROTATION", "IMPORTED"),
    ]
    with aws_error(kms, "KMSInvalidStateException"):
        import_material(kms, key["KeyId"], os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == one["KeyMaterialId"]
    rotate_on_demand(kms, key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == two["KeyMaterialId"]
    new_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"second")["CiphertextBlob"]
    assert offline_decrypt(second, new_blob, {}) == b"second"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"first"
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [(r["KeyMaterialId"], r["RotationType"]) for r in rotations] == [(two["KeyMaterialId"], "ON_DEMAND")]


def test_import_through_the_aws_cli(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    key_id = server.aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    params = server.aws(
        "kms", "get-parameters-for-import", "--key-id", key_id,
        "--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048",
    )  # fmt: skip
    material = os.urandom(32)
    (tmp_path / "token.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    (tmp_path / "wrapped.bin").write_bytes(wrap(base64.b64decode(params["PublicKey"]), "RSAES_OAEP_SHA_256", material))
    result = server.aws(
        "kms", "import-key-material", "--key-id", key_id,
        "--import-token", f"fileb://{tmp_path / 'token.bin'}",
        "--encrypted-key-material", f"fileb://{tmp_path / 'wrapped.bin'}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )  # fmt: skip
    assert result["KeyMaterialId"] == material_id(key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"cli")["CiphertextBlob"]
    assert offline_decrypt(material, blob, {}) == b"cli"
