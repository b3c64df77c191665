"""Security properties, tested: nothing secret at rest or in logs, sealed blobs bound to their key."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TrentServer
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.keycache import material_aad

pytestmark = pytest.mark.e2e


def forms(secret: bytes) -> list[bytes]:
    """The ways a secret could leak into a file: raw, hex, base64."""
    return [secret, secret.hex().encode(), base64.b64encode(secret), base64.b64encode(secret).rstrip(b"=")]


def unsealed_materials(data_dir: Path) -> list[bytes]:
    root = LocalFileRootOfTrust.load(data_dir / "root.key")
    with sqlite3.connect(data_dir / "trent.db") as db:
        rows = db.execute("SELECT key_id, material_id, sealed FROM key_materials").fetchall()
    return [root.unseal(bytes(sealed), material_aad(key_id, material_id)) for key_id, material_id, sealed in rows]


def stored_bytes(server: TrentServer) -> bytes:
    data = b""
    for path in server.data_dir.iterdir():
        if path.name.startswith("trent.db"):
            data += path.read_bytes()
    return data + server.log_path.read_bytes()


def test_no_plaintext_data_key_or_material_at_rest_or_in_logs(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    canary = b"CANARY-" + os.urandom(24).hex().encode()
    key_id = kms.create_key(Description="canary")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/canary", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId="alias/canary", Plaintext=canary, EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == canary
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    random_bytes = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    with pytest.raises(ClientError):  # failed requests must not leak either
        kms.encrypt(KeyId="alias/missing", Plaintext=canary)
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "wrong"})
    fresh_server.stop()  # checkpoint nothing away: read the WAL as it is too

    materials = unsealed_materials(fresh_server.data_dir)
    assert len(materials) == 1
    assert len(materials[0]) == 32
    haystack = stored_bytes(fresh_server)
    assert len(haystack) > 0
    for secret in [canary, data_key, random_bytes, *materials]:
        for form in forms(secret):
            assert form not in haystack


def test_admin_secret_is_stored_only_sealed(tmp_path: Path) -> None:
    srv = TrentServer(tmp_path / "data", dev=False).start()
    srv.stop()
    secret = (srv.data_dir / "credentials").read_text().split("aws_secret_access_key = ")[1].split()[0]
    db = b"".join(p.read_bytes() for p in srv.data_dir.iterdir() if p.name.startswith("trent.db"))
    assert secret.encode() not in db
    assert secret.encode() not in srv.log_path.read_bytes()


def test_swapped_sealed_material_fails_closed(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    a = kms.create_key()["KeyMetadata"]["KeyId"]
    b = kms.create_key()["KeyMetadata"]["KeyId"]
    blob_a = kms.encrypt(KeyId=a, Plaintext=b"a")["CiphertextBlob"]
    blob_b = kms.encrypt(KeyId=b, Plaintext=b"b")["CiphertextBlob"]
    fresh_server.stop()
    with sqlite3.connect(fresh_server.data_dir / "trent.db") as db:
        rows = dict(db.execute("SELECT key_id, sealed FROM key_materials").fetchall())
        db.execute("UPDATE key_materials SET sealed = ? WHERE key_id = ?", (rows[b], a))
        db.execute("UPDATE key_materials SET sealed = ? WHERE key_id = ?", (rows[a], b))
    fresh_server.start()
    kms = fresh_server.client()
    for blob in (blob_a, blob_b):
        with pytest.raises(ClientError) as info:
            kms.decrypt(CiphertextBlob=blob)
        assert info.value.response["Error"]["Code"] == "KMSInternalException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    for key_id in (a, b):
        with pytest.raises(ClientError) as info:
            kms.encrypt(KeyId=key_id, Plaintext=b"x")
        assert info.value.response["Error"]["Code"] == "KMSInternalException"


def test_database_without_root_key_yields_nothing(fresh_server: TrentServer, tmp_path: Path) -> None:
    kms = fresh_server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    fresh_server.stop()
    other = LocalFileRootOfTrust.open_or_create(tmp_path / "other.key")
    with sqlite3.connect(fresh_server.data_dir / "trent.db") as db:
        key, material_id, sealed = db.execute("SELECT key_id, material_id, sealed FROM key_materials").fetchone()
    with pytest.raises(Exception, match="did not open"):
        other.unseal(bytes(sealed), material_aad(key, material_id))


def test_acknowledged_writes_survive_kill_9(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    made = []
    for i in range(20):
        key_id = kms.create_key(Description=f"k{i}")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/k{i}", TargetKeyId=key_id)
        blob = kms.encrypt(KeyId=f"alias/k{i}", Plaintext=f"p{i}".encode())["CiphertextBlob"]
        made.append((key_id, blob, f"p{i}".encode()))
    fresh_server.stop(signal.SIGKILL)
    fresh_server.start()
    kms = fresh_server.client()
    for key_id, blob, plaintext in made:
        assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == plaintext
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert {f"alias/k{i}" for i in range(20)} <= aliases
