"""Secrecy canaries (issue 15): secrets that pass through Trent leave no trace in anything it writes.

One non-dev server runs the end-to-end flows with fresh random canaries (32 random bytes each, new
every run): Encrypt/Decrypt/ReEncrypt plaintexts (symmetric and RSA-OAEP), the plaintext data keys
GenerateDataKey and GenerateRandom return, the private keys of GenerateDataKeyPair (the DER and
the private numbers inside it), key material imported into EXTERNAL keys (symmetric, HMAC and an
ECC private key), an IAM user's secret access key and an STS session's secret and token, messages
signed with Sign and MACed with GenerateMac; and the same secrets in requests that fail (too long,
a disabled key, a tampered ciphertext, a wrong MAC).

Then every file of the data directory (trent.db, -wal, -shm, the version file, credentials and
config; read while the server runs and again after it stops), the output of `trent audit export`
(log and digest files, gunzipped), `trent audit tail` and `search`, a backup, and the server's log
are searched for every canary: raw bytes, Python's bytes repr, hex (lower and upper), and base64
(standard and URL-safe, with and without padding, at each of the three alignments a canary can
have inside a longer encoded value). Expected hits: zero.

A positive control proves the search sees what it searches: a random marker sent as an encryption
context value, which AWS (and Trent) record in plain text, must be found in the audit store and in
the export.

The backup: `trent backup` when the command exists; until then the copy the operations guide
documents (SQLite's online backup of trent.db).
"""

from __future__ import annotations

import base64
import configparser
import functools
import gzip
import io
import json
import os
import re
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import ACCOUNT_ID, BIN, TrentServer
from tests.e2e.test_iam_sts import admin, new_user, trust
from tests.e2e.test_import import import_material

pytestmark = pytest.mark.e2e

CANARY_BYTES = 32


# ===================================================================== canaries and their encodings


def _b64_forms(secret: bytes) -> Iterator[tuple[str, bytes]]:
    for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        whole = encode(secret)
        yield name, whole
        yield f"{name} unpadded", whole.rstrip(b"=")
        # Inside a longer encoded value the canary starts at one of three byte offsets modulo 3;
        # the characters that do not mix in the neighbours' bits are these.
        for shift in (1, 2):
            shifted = encode(bytes(shift) + secret)
            head = (shift * 8 + 5) // 6  # characters that hold a bit of the prefix
            tail = len(secret) + shift
            body = shifted[head : (tail * 8) // 6]  # characters wholly inside the canary
            yield f"{name} at offset {shift}", body
        # ...and at offset 0, followed by more data: the last, partial character mixes too.
        yield f"{name} followed by more", whole[: (len(secret) * 8) // 6]


@functools.cache
def encodings(secret: bytes) -> list[tuple[str, bytes]]:
    forms = [
        ("raw", secret),
        ("hex", secret.hex().encode()),
        ("HEX", secret.hex().upper().encode()),
        *_b64_forms(secret),
    ]
    escaped = repr(secret)[2:-1].encode()
    if escaped != secret:
        forms.append(("bytes repr", escaped))
    # Long enough to rule out accidental matches; every form of a 16+ byte secret is.
    assert all(len(form) >= 16 for _, form in forms), forms
    return forms


@dataclass
class Canaries:
    secrets: dict[str, bytes] = field(default_factory=dict)

    def new(self, name: str, size: int = CANARY_BYTES) -> bytes:
        return self.add(name, os.urandom(size))

    def add(self, name: str, secret: bytes | str) -> bytes:
        value = secret.encode() if isinstance(secret, str) else bytes(secret)
        assert len(value) >= 16, (name, value)
        assert name not in self.secrets
        self.secrets[name] = value
        return value

    def hits(self, data: bytes, where: str) -> list[str]:
        # Also with line breaks taken out (raw or JSON-escaped): PEM and MIME wrap base64 every 64 or 76.
        joined = data.replace(b"\r", b"").replace(b"\n", b"").replace(b"\\n", b"")
        haystacks = [data] if joined == data else [data, joined]
        found = []
        for name, secret in self.secrets.items():
            for form, needle in encodings(secret):
                if any(needle in haystack for haystack in haystacks):
                    found.append(f"{name} ({form}) in {where}")
        return found


def private_numbers(der: bytes) -> Iterator[tuple[str, bytes]]:
    """The secret integers inside a PKCS#8 private key, as fixed-size big-endian bytes."""
    private = serialization.load_der_private_key(der, password=None)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        size = (private.curve.key_size + 7) // 8
        yield "private value", private.private_numbers().private_value.to_bytes(size, "big")
    elif isinstance(private, rsa.RSAPrivateKey):
        numbers = private.private_numbers()
        for name in ("d", "p", "q", "dmp1", "dmq1", "iqmp"):
            value = getattr(numbers, name)
            yield name, value.to_bytes((value.bit_length() + 7) // 8, "big")
    else:
        raise TypeError(f"unexpected private key type {type(private)}")


def pkcs8(private: Any) -> bytes:
    return bytes(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


# ===================================================================== the flows


def refused(call: Any, code: str, canaries: Canaries) -> None:
    """The call fails with ``code``, and its error message holds no canary."""
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    assert error["Code"] == code, error
    message = json.dumps(error).encode()
    assert canaries.hits(message, "the error response") == [], error


def exercise(server: TrentServer, canaries: Canaries, control: str) -> str:
    """Run the flows; the request id of the first Encrypt (every request has its log line)."""
    root = admin(server)
    kms = server.client("kms", **root)

    # Encrypt / Decrypt / ReEncrypt with a symmetric key, the control marker in the context.
    context = {"control": control}
    first = kms.create_key(Description="canary a")["KeyMetadata"]["KeyId"]
    second = kms.create_key(Description="canary b")["KeyMetadata"]["KeyId"]
    plaintext = canaries.new("Encrypt plaintext")
    encrypted = kms.encrypt(KeyId=first, Plaintext=plaintext, EncryptionContext=context)
    blob = encrypted["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext
    moved = kms.re_encrypt(
        CiphertextBlob=blob, SourceEncryptionContext=context, DestinationKeyId=second, DestinationEncryptionContext={}
    )["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=moved)["Plaintext"] == plaintext
    large = canaries.new("Encrypt plaintext, 4 KiB", 4096)
    canaries.add("Encrypt plaintext, 4 KiB: its first 32 bytes", large[:32])  # a log that cuts values short
    canaries.add("Encrypt plaintext, 4 KiB: its last 32 bytes", large[-32:])
    assert (
        kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=second, Plaintext=large)["CiphertextBlob"])["Plaintext"] == large
    )

    # RSA-OAEP with an asymmetric key.
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    oaep_plaintext = canaries.new("RSA-OAEP plaintext")
    oaep_blob = kms.encrypt(KeyId=rsa_key, Plaintext=oaep_plaintext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    decrypted = kms.decrypt(
        KeyId=rsa_key, CiphertextBlob=oaep_blob["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert decrypted["Plaintext"] == oaep_plaintext

    # Data keys and random bytes Trent made.
    for spec in ({"KeySpec": "AES_256"}, {"KeySpec": "AES_128"}, {"NumberOfBytes": 64}):
        data_key = kms.generate_data_key(KeyId=first, **spec)
        canaries.add(f"GenerateDataKey {spec} plaintext", data_key["Plaintext"])
        assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=first, KeySpec="AES_256")["CiphertextBlob"]
    canaries.add("GenerateDataKeyWithoutPlaintext, decrypted", kms.decrypt(CiphertextBlob=without)["Plaintext"])
    canaries.add("GenerateRandom", kms.generate_random(NumberOfBytes=32)["Plaintext"])

    # Data key pairs: the private key, and the numbers inside it.
    for pair_spec in ("ECC_NIST_P256", "RSA_2048"):
        pair = kms.generate_data_key_pair(KeyId=first, KeyPairSpec=pair_spec)
        der = pair["PrivateKeyPlaintext"]
        canaries.add(f"GenerateDataKeyPair {pair_spec} private key", der)
        for name, number in private_numbers(der):
            canaries.add(f"GenerateDataKeyPair {pair_spec} {name}", number)
        assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == der

    # Imported key material: symmetric, HMAC, and an ECC private key.
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, external, canaries.new("imported symmetric material"))
    sealed = kms.encrypt(KeyId=external, Plaintext=canaries.new("Encrypt plaintext under imported material"))
    kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])
    external_hmac = kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    hmac_id = external_hmac["KeyMetadata"]["KeyId"]
    import_material(kms, hmac_id, canaries.new("imported HMAC material"))
    kms.generate_mac(KeyId=hmac_id, Message=canaries.new("MAC message, imported key"), MacAlgorithm="HMAC_SHA_256")
    external_ecc = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    ecc_import_id = external_ecc["KeyMetadata"]["KeyId"]
    private = ec.generate_private_key(ec.SECP256R1())
    imported_der = canaries.add("imported ECC private key", pkcs8(private))
    for name, number in private_numbers(imported_der):
        canaries.add(f"imported ECC {name}", number)
    import_material(kms, ecc_import_id, imported_der)
    signed = kms.sign(
        KeyId=ecc_import_id, Message=canaries.new("message signed by imported key"), SigningAlgorithm="ECDSA_SHA_256"
    )
    assert signed["Signature"]

    # Sign and Verify, GenerateMac and VerifyMac.
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    message = canaries.new("Sign message")
    signature = kms.sign(KeyId=signer, Message=message, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verified = kms.verify(KeyId=signer, Message=message, Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    assert verified["SignatureValid"] is True
    rsa_signer = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    rsa_message = canaries.new("Sign message, RSA-PSS")
    kms.sign(KeyId=rsa_signer, Message=rsa_message, SigningAlgorithm="RSASSA_PSS_SHA_256")
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac_message = canaries.new("MAC message")
    mac = kms.generate_mac(KeyId=mac_key, Message=mac_message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=mac_key, Message=mac_message, Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]

    # IAM: a user's secret access key, used; an STS session's secret and token, used.
    user, credentials = new_user(server, "canary-user")
    canaries.add("IAM secret access key", credentials["secret_key"])
    identity = server.client("sts", **credentials).get_caller_identity()
    assert identity["Arn"] == user["Arn"]
    iam = server.client("iam", **root)
    role = iam.create_role(RoleName="canary-role", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    session = server.client("sts", **root).assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="canary")
    temporary = session["Credentials"]
    canaries.add("STS session secret access key", temporary["SecretAccessKey"])
    canaries.add("STS session token", temporary["SessionToken"])
    as_role = server.client(
        "sts",
        access_key=temporary["AccessKeyId"],
        secret_key=temporary["SecretAccessKey"],
        session_token=temporary["SessionToken"],
    )
    assert "assumed-role/canary-role/canary" in as_role.get_caller_identity()["Arn"]

    # The same kinds of secrets in requests that fail: validation, state, tampering, a wrong MAC.
    too_long = canaries.new("plaintext of a refused, too long Encrypt")
    refused(lambda: kms.encrypt(KeyId=first, Plaintext=too_long * 130), "ValidationException", canaries)
    refused(
        lambda: kms.sign(KeyId=signer, Message=too_long * 130, SigningAlgorithm="ECDSA_SHA_256"),
        "ValidationException",
        canaries,
    )
    refused(
        lambda: kms.generate_mac(KeyId=mac_key, Message=too_long * 130, MacAlgorithm="HMAC_SHA_256"),
        "ValidationException",
        canaries,
    )
    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    refused_plaintext = canaries.new("plaintext sent to a disabled key")
    refused(lambda: kms.encrypt(KeyId=disabled, Plaintext=refused_plaintext), "DisabledException", canaries)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    refused(
        lambda: kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=context),
        "InvalidCiphertextException",
        canaries,
    )
    wrong_mac = canaries.new("MAC message with a wrong MAC")
    refused(
        lambda: kms.verify_mac(KeyId=mac_key, Message=wrong_mac, Mac=bytes(32), MacAlgorithm="HMAC_SHA_256"),
        "KMSInvalidMacException",
        canaries,
    )
    refused(
        lambda: kms.verify(
            KeyId=signer,
            Message=canaries.new("message of a bad signature"),
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        ),
        "KMSInvalidSignatureException",
        canaries,
    )
    return str(encrypted["ResponseMetadata"]["RequestId"])


# ===================================================================== what Trent wrote


def trent(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "trent"), *args], capture_output=True, timeout=120, check=False)


def unpacked(where: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """The bytes, and what a gzip or tar container holds (a backup may come as either)."""
    yield where, data
    if data[:2] == b"\x1f\x8b":
        yield from unpacked(f"{where} (gunzipped)", gzip.decompress(data))
    elif len(data) > 262 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    yield from unpacked(f"{where}:{member.name}", extracted.read())


def files_under(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield from unpacked(str(path), path.read_bytes())


def backup_copy(data_dir: Path, out: Path) -> str:
    """`trent backup --to` into ``out`` (or, where that command is missing, SQLite's online backup)."""
    out.mkdir()
    result = trent("backup", "--data-dir", str(data_dir), "--to", str(out / "trent-backup.db"))
    if b"invalid choice: 'backup'" not in result.stderr:
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
        return "trent backup"
    source = sqlite3.connect(data_dir / "trent.db")
    target = sqlite3.connect(out / "backup.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return "SQLite online backup (no `trent backup` command)"


@pytest.fixture
def secure_server(tmp_path: Path) -> Iterator[TrentServer]:
    """Not --dev (IAM secrets are real), logging all it can: debug level, JSON lines (every field)."""
    env = {"TRENT_LOG_LEVEL": "debug", "TRENT_LOG_FORMAT": "json"}
    srv = TrentServer(tmp_path / "data", dev=False, env=env).start()
    yield srv
    srv.stop()


def test_no_canary_reaches_disk_exports_backups_or_logs(secure_server: TrentServer, tmp_path: Path) -> None:
    server = secure_server
    canaries = Canaries()
    control = os.urandom(16).hex()
    started = datetime.now(UTC)
    encrypt_request_id = exercise(server, canaries, control)
    assert len(canaries.secrets) >= 30

    hits: list[str] = []
    control_seen: set[str] = set()
    control_needle = control.encode()

    def search(where: str, data: bytes) -> None:
        hits.extend(canaries.hits(data, where))
        if control_needle in data:
            control_seen.add(where)

    # While the server runs: the WAL still holds the latest pages.
    for where, data in files_under(server.data_dir):
        search(f"{where} (server running)", data)
    backup_kind = backup_copy(server.data_dir, tmp_path / "backup")
    server.stop()
    for where, data in files_under(server.data_dir):
        search(where, data)
    for where, data in files_under(tmp_path / "backup"):
        search(where, data)

    data_dir = ["--data-dir", str(server.data_dir)]
    since = (started - timedelta(hours=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    exported = trent(
        "audit", "export", "--since", since, "--until", until, "--out", str(tmp_path / "export"), *data_dir
    )
    assert exported.returncode == 0, exported.stderr
    for where, data in files_under(tmp_path / "export"):
        search(where, data)
    for command in (["tail", "-n", "100000"], ["search", "-n", "1000"]):
        result = trent("audit", *command, *data_dir)
        assert result.returncode == 0, result.stderr
        search(f"trent audit {' '.join(command)}", result.stdout + result.stderr)
    search("the server log", server.log_path.read_bytes())
    search("trent audit export's output", exported.stdout + exported.stderr)

    # The search sees what it searches: the context marker is recorded, so in the store and the export.
    assert any("trent.db" in where for where in control_seen), control_seen
    assert any("(gunzipped)" in where and "export" in where for where in control_seen), control_seen
    # (A backup format this search cannot read would make its zero hits meaningless: teach unpacked().)
    assert any("backup" in where for where in control_seen), (backup_kind, control_seen)
    assert encrypt_request_id in server.log(), "the server log has no line for the Encrypt request"
    # The IAM secret is nowhere on disk, not even in the credentials file (which holds only the admin key).
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    assert parser["trent"]["aws_secret_access_key"] != canaries.secrets["IAM secret access key"].decode()

    print(
        f"\ncanaries: {len(canaries.secrets)} secrets x {len(encodings(os.urandom(CANARY_BYTES)))} encodings; "
        f"searched the data directory (running and stopped), {backup_kind}, the audit export, "
        f"trent audit tail/search and the server log: {len(hits)} hits"
    )
    assert hits == [], "\n".join(hits)


def test_the_search_finds_a_planted_canary(tmp_path: Path) -> None:
    """The encodings the search tries are the ones a leak would take."""
    canaries = Canaries()
    secret = canaries.new("planted")
    for prefix in (b"", b"x", b"xy", b"xyz"):
        embedded = prefix + secret + b"tail"
        assert canaries.hits(base64.b64encode(embedded), "b64"), prefix
        assert canaries.hits(base64.urlsafe_b64encode(embedded).rstrip(b"="), "b64url"), prefix
        assert canaries.hits(embedded.hex().upper().encode(), "HEX"), prefix
        assert canaries.hits(repr(embedded).encode(), "repr"), prefix
    pem = base64.encodebytes(bytes(45) + secret)  # MIME: a line break every 76 characters, here mid-canary
    assert b"\n" in pem[60:103]
    assert canaries.hits(pem, "MIME base64")
    assert canaries.hits(json.dumps(pem.decode()).encode(), "MIME base64 in a JSON string")
    log = tmp_path / "log.gz"
    log.write_bytes(gzip.compress(json.dumps({"Plaintext": base64.b64encode(secret).decode()}).encode()))
    assert any(canaries.hits(data, where) for where, data in files_under(tmp_path))
    assert not canaries.hits(os.urandom(1 << 20), "random bytes")
    assert re.fullmatch(r"[0-9a-f]{64}", secret.hex())
