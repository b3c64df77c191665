"""`trent backup` while a server runs under load, `trent restore` into a fresh data directory with the
same root.key, and the restored server decrypting everything made before the backup."""

from __future__ import annotations

import shutil
import stat
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import ACCOUNT_ID, PG_ADMIN_URL, TrentServer, require_postgres
from tests.e2e.cli_support import ok, trent

pytestmark = pytest.mark.e2e

CONTEXT = {"purpose": "backup-test"}


class Load:
    """Encrypt calls in a thread until stopped, each ciphertext kept."""

    def __init__(self, server: TrentServer, key_id: str) -> None:
        self._client = server.client()
        self._key_id = key_id
        self._stop = threading.Event()
        self.done: list[bytes] = []
        self.errors: list[BaseException] = []
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                blob = self._client.encrypt(KeyId=self._key_id, Plaintext=b"load", EncryptionContext=CONTEXT)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
                return
            self.done.append(blob["CiphertextBlob"])
            if len(self.done) >= 20:
                self.started.set()

    def running(self) -> bool:
        return self._thread.is_alive() and not self.errors

    def __enter__(self) -> Load:
        self._thread.start()
        assert self.started.wait(60), self.errors
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def _populate(server: TrentServer) -> dict[str, Any]:
    kms, iam = server.client(), server.client("iam")
    grantee = iam.create_user(UserName="backup-grantee")["User"]["Arn"]
    keys = [kms.create_key(Description=f"backup {n}")["KeyMetadata"]["KeyId"] for n in range(3)]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/backup-orders", TargetKeyId=keys[0])
    kms.tag_resource(KeyId=keys[1], Tags=[{"TagKey": "team", "TagValue": "payments"}])
    grant = kms.create_grant(KeyId=keys[2], GranteePrincipal=grantee, Operations=["Encrypt", "Decrypt"])["GrantId"]
    ciphertexts = [
        (kms.encrypt(KeyId=key, Plaintext=f"before {n}".encode(), EncryptionContext=CONTEXT)["CiphertextBlob"], n)
        for n, key in enumerate([*keys, "alias/backup-orders"] * 5)
    ]
    signature = kms.sign(KeyId=signing, Message=b"signed", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    return {
        "keys": keys,
        "signing": signing,
        "grant": grant,
        "ciphertexts": ciphertexts,
        "signature": signature,
    }


def _copy_root_key(source: Path, target: Path) -> None:
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copy2(source / "root.key", target / "root.key")  # keeps mode 0600


def test_backup_under_load_then_restore_into_a_fresh_directory(tmp_path: Path) -> None:
    source = TrentServer(tmp_path / "source").start()
    backup_file = tmp_path / "trent-backup.db"
    try:
        made = _populate(source)
        with Load(source, made["keys"][0]) as load:
            before = len(load.done)
            out = ok("backup", "--data-dir", str(source.data_dir), "--to", str(backup_file))
            assert load.running()  # Encrypt calls went on all through the backup
        assert not load.errors, load.errors
        assert "keep that file separately" in out
        acknowledged_before_backup = load.done[:before]
    finally:
        source.stop()

    # Still sealed, and without the root key.
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    data = backup_file.read_bytes()
    root_hex = (source.data_dir / "root.key").read_bytes().split(b"\n")[1]
    assert root_hex not in data
    assert bytes.fromhex(root_hex.decode()) not in data
    assert not Path(f"{backup_file}-wal").exists()

    restored_dir = tmp_path / "restored"
    _copy_root_key(source.data_dir, restored_dir)
    out = ok("restore", "--data-dir", str(restored_dir), "--from", str(backup_file))
    assert "restored" in out
    assert "intact" in ok("audit", "verify", "--data-dir", str(restored_dir))

    restored = TrentServer(restored_dir).start()
    try:
        kms = restored.client()
        for blob, n in made["ciphertexts"]:
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == f"before {n}".encode()
        for blob in acknowledged_before_backup:
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"load"
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        assert aliases["alias/backup-orders"] == made["keys"][0]
        assert kms.list_resource_tags(KeyId=made["keys"][1])["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]
        grants = kms.list_grants(KeyId=made["keys"][2])["Grants"]
        assert [g["GrantId"] for g in grants] == [made["grant"]]
        assert kms.verify(
            KeyId=made["signing"],
            Message=b"signed",
            Signature=made["signature"],
            SigningAlgorithm="ECDSA_SHA_256",
        )["SignatureValid"]
        users = restored.client("iam").list_users()["Users"]
        assert [u["UserName"] for u in users] == ["backup-grantee"]
        # The restored server keeps appending to the same chain.
        kms.encrypt(KeyId=made["keys"][0], Plaintext=b"after", EncryptionContext=CONTEXT)
    finally:
        restored.stop()
    assert "intact" in ok("audit", "verify", "--data-dir", str(restored_dir))


@pytest.fixture(scope="module")
def backup_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a backup, the data directory it was made from, its server stopped)."""
    base = tmp_path_factory.mktemp("backup")
    server = TrentServer(base / "data").start()
    try:
        server.client().create_key()
        target = base / "backup.db"
        ok("backup", "--data-dir", str(server.data_dir), "--to", str(target))
    finally:
        server.stop()
    return target, server.data_dir


def test_restore_refuses_another_root_key(backup_file: tuple[Path, Path], tmp_path: Path) -> None:
    backup, _source = backup_file
    other = tmp_path / "other"
    ok("init", "--data-dir", str(tmp_path / "elsewhere"))
    _copy_root_key(tmp_path / "elsewhere", other)
    result = trent("restore", "--data-dir", str(other), "--from", str(backup))
    assert result.returncode == 2
    assert "does not open this backup" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (other / "trent.db").exists()


def test_restore_needs_the_root_key_in_the_directory(backup_file: tuple[Path, Path], tmp_path: Path) -> None:
    backup, _source = backup_file
    result = trent("restore", "--data-dir", str(tmp_path / "empty"), "--from", str(backup))
    assert result.returncode == 2
    assert "no root.key in" in result.stderr
    assert not (tmp_path / "empty").exists()


def test_restore_over_a_store_needs_force_and_a_stopped_server(backup_file: tuple[Path, Path], tmp_path: Path) -> None:
    backup, source = backup_file
    target = tmp_path / "target"
    _copy_root_key(source, target)
    ok("restore", "--data-dir", str(target), "--from", str(backup))
    server = TrentServer(target).start()
    try:
        created = server.client().create_key()["KeyMetadata"]["KeyId"]  # made after the backup
        refused = trent("restore", "--data-dir", str(target), "--from", str(backup))
        assert refused.returncode == 2
        assert "--force" in refused.stderr
        busy = trent("restore", "--data-dir", str(target), "--from", str(backup), "--force")
        assert busy.returncode == 2
        assert "in use" in busy.stderr
    finally:
        server.stop()
    out = ok("restore", "--data-dir", str(target), "--from", str(backup), "--force")
    assert "trent.db.replaced" in out
    assert (target / "trent.db.replaced").exists()
    server = TrentServer(target).start()
    try:
        keys = [k["KeyId"] for k in server.client().list_keys()["Keys"]]
        assert created not in keys  # the state of the backup, not of the replaced database
        assert len(keys) == 1
    finally:
        server.stop()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database")
    result = trent("restore", "--data-dir", str(tmp_path / "d"), "--from", str(tmp_path / "notes.txt"))
    assert result.returncode == 2
    assert "not a SQLite database" in result.stderr or "not a Trent database" in result.stderr


@pytest.mark.parametrize("command", [["backup", "--to", "x.db"], ["restore", "--from", "x.db"]])
def test_postgresql_stores_point_to_pg_dump(tmp_path: Path, command: list[str]) -> None:
    url = f"postgresql://trent@db.invalid/trent_{ACCOUNT_ID}"
    result = trent(*command, "--data-dir", str(tmp_path), "--database", url)
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
    assert "docs/operations.md" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _database_url(name: str) -> str:
    parts = urlsplit(PG_ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def test_pg_dump_and_pg_restore_as_docs_operations_describes(tmp_path: Path) -> None:
    require_postgres()
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (system dependency: postgresql-client)")
    names = [f"trent_dump_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for name in names:
            admin.execute(f"CREATE DATABASE {name}")
    source_url, target_url = (_database_url(name) for name in names)
    node = tmp_path / "node"
    try:
        server = TrentServer(node, env={"TRENT_DATABASE_URL": source_url}).start()
        try:
            kms = server.client()
            key_id = kms.create_key()["KeyMetadata"]["KeyId"]
            blob = kms.encrypt(KeyId=key_id, Plaintext=b"dumped", EncryptionContext=CONTEXT)["CiphertextBlob"]
        finally:
            server.stop()
        dump = tmp_path / "trent.dump"
        for command in (
            ["pg_dump", "-Fc", "-d", source_url, "-f", str(dump)],
            ["pg_restore", "-d", target_url, "--no-owner", str(dump)],
        ):
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
        assert "intact" in ok("audit", "verify", "--data-dir", str(node), env={"TRENT_DATABASE_URL": target_url})
        restored = TrentServer(node, env={"TRENT_DATABASE_URL": target_url}).start()
        try:
            kms = restored.client()
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"dumped"
        finally:
            restored.stop()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for name in names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_restore_refuses_a_root_key_others_can_read(backup_file: tuple[Path, Path], tmp_path: Path) -> None:
    backup, source = backup_file
    target = tmp_path / "target"
    _copy_root_key(source, target)
    (target / "root.key").chmod(0o644)
    result = trent("restore", "--data-dir", str(target), "--from", str(backup))
    assert result.returncode == 2
    assert "must not be readable by group or others" in result.stderr
    assert not (target / "trent.db").exists()
