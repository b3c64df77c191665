"""`trent audit ...` against the data directory of a running server: verify, digest, search, tail, export."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import ACCOUNT_ID, BIN, REGION, TrentServer

pytestmark = pytest.mark.e2e

CANARY = b"canary-plaintext-5d0c2e9a1f7b4c33"


def trent_audit(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "trent"), "audit", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(data_dir: Path, *args: str) -> str:
    result = trent_audit(data_dir, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def stored_records(data_dir: Path) -> list[bytes]:
    db = sqlite3.connect(data_dir / "trent.db")
    try:
        return [bytes(row[0]) for row in db.execute("SELECT record FROM audit_events ORDER BY sequence")]
    finally:
        db.close()


class Calls:
    """What the module's KMS calls left behind."""

    def __init__(self, server: TrentServer) -> None:
        kms = server.client()
        self.started = datetime.now(UTC)
        self.key_id = kms.create_key(Description="audit cli")["KeyMetadata"]["KeyId"]
        encrypted = kms.encrypt(KeyId=self.key_id, Plaintext=CANARY, EncryptionContext={"purpose": "audit-test"})
        self.encrypt_request_id = encrypted["ResponseMetadata"]["RequestId"]
        decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"purpose": "audit-test"})
        assert decrypted["Plaintext"] == CANARY
        self.decrypt_request_id = decrypted["ResponseMetadata"]["RequestId"]
        kms.describe_key(KeyId=self.key_id)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrentServer, Calls]]:
    srv = TrentServer(tmp_path_factory.mktemp("audit") / "data").start()
    yield srv, Calls(srv)
    srv.stop()


def test_verify_digest_and_verify_again(audited: tuple[TrentServer, Calls]) -> None:
    server, _ = audited
    out = ok(server.data_dir, "verify")
    assert "intact" in out
    assert "records: 4" in out  # CreateKey, Encrypt, Decrypt, DescribeKey
    assert "signed records 1..4" in ok(server.data_dir, "digest")
    assert "nothing new" in ok(server.data_dir, "digest")
    report = json.loads(ok(server.data_dir, "verify", "--json"))
    assert report["intact"] is True
    assert (report["records"], report["digests"]) == (4, 1)
    assert report["issues"] == []


def test_search_finds_the_encrypt_record(audited: tuple[TrentServer, Calls]) -> None:
    server, calls = audited
    [record] = json_lines(ok(server.data_dir, "search", "--event-name", "Encrypt"))
    assert record["requestID"] == calls.encrypt_request_id
    assert record["eventName"] == "Encrypt"
    assert record["requestParameters"]["encryptionContext"] == {"purpose": "audit-test"}
    assert record["responseElements"] is None
    by_resource = json_lines(ok(server.data_dir, "search", "--resource-name", record["resources"][0]["ARN"]))
    assert [r["eventName"] for r in by_resource] == ["DescribeKey", "Decrypt", "Encrypt", "CreateKey"]  # newest first
    assert [r["eventName"] for r in json_lines(ok(server.data_dir, "search", "-n", "1"))] == ["DescribeKey"]
    assert json_lines(ok(server.data_dir, "search", "--read-only", "false")) == [by_resource[-1]]
    assert json_lines(ok(server.data_dir, "search", "--region", "eu-west-1")) == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert json_lines(ok(server.data_dir, "search", "--since", future)) == []


def test_search_takes_one_attribute(audited: tuple[TrentServer, Calls]) -> None:
    server, _ = audited
    result = trent_audit(server.data_dir, "search", "--event-name", "Encrypt", "--username", "root")
    assert result.returncode == 2
    assert "at most one attribute" in result.stderr


def test_tail_prints_the_newest_oldest_first(audited: tuple[TrentServer, Calls]) -> None:
    server, calls = audited
    records = json_lines(ok(server.data_dir, "tail", "-n", "2"))
    assert [r["eventName"] for r in records] == ["Decrypt", "DescribeKey"]
    assert records[0]["requestID"] == calls.decrypt_request_id


def test_tail_follow_prints_new_records_and_stops_on_ctrl_c(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    kms.create_key()
    command = ["tail", "-n", "1", "--follow", "--interval", "0.1", "--data-dir", str(fresh_server.data_dir)]
    process = subprocess.Popen(
        [str(BIN / "trent"), "audit", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["eventName"] == "CreateKey"
        kms.list_keys()
        assert json.loads(process.stdout.readline())["eventName"] == "ListKeys"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_tampered_record_fails_verify_at_its_position(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    ok(fresh_server.data_dir, "digest")
    db = sqlite3.connect(fresh_server.data_dir / "trent.db", isolation_level=None)
    try:
        (record,) = db.execute("SELECT record FROM audit_events WHERE sequence = 2").fetchone()
        db.execute("UPDATE audit_events SET record = ? WHERE sequence = 2", (bytes(record).replace(b"Enc", b"Dec"),))
    finally:
        db.close()
    result = trent_audit(fresh_server.data_dir, "verify")
    assert result.returncode == 1, result.stdout
    assert "NOT INTACT: first issue at record 2 (altered)" in result.stdout
    report = json.loads(trent_audit(fresh_server.data_dir, "verify", "--json").stdout)
    assert report["intact"] is False
    assert (report["firstIssue"]["position"], report["firstIssue"]["kind"]) == (2, "altered")


def test_verify_is_intact_while_the_server_keeps_appending(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    stop = threading.Event()

    def load() -> None:
        client = fresh_server.client()
        while not stop.is_set():
            client.encrypt(KeyId=key_id, Plaintext=b"x")

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(3):
            result = trent_audit(fresh_server.data_dir, "verify")
            assert result.returncode == 0, result.stdout + result.stderr
            assert "intact" in result.stdout
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def test_a_data_directory_without_its_root_key_is_refused(audited: tuple[TrentServer, Calls], tmp_path: Path) -> None:
    # A copied database without its root key must not get a new root key behind the operator's back.
    copy = tmp_path / "copy"
    copy.mkdir()
    source = sqlite3.connect(audited[0].data_dir / "trent.db")
    target = sqlite3.connect(copy / "trent.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    result = trent_audit(copy, "digest")
    assert result.returncode == 2
    assert "no root key file" in result.stderr
    assert not (copy / "root.key").exists()


# ----------------------------------------------------------------- export


def _public_keys(data_dir: Path) -> dict[str, rsa.RSAPublicKey]:
    listing = json.loads(ok(data_dir, "public-key"))["PublicKeyList"]
    keys = {}
    for entry in listing:
        key = serialization.load_der_public_key(base64.b64decode(entry["Value"]))
        assert isinstance(key, rsa.RSAPublicKey)
        keys[entry["Fingerprint"]] = key
    pem = ok(data_dir, "public-key", "--pem")
    block = pem[pem.index("-----BEGIN") :].split("-----END PUBLIC KEY-----")[0] + "-----END PUBLIC KEY-----\n"
    assert serialization.load_pem_public_key(block.encode()) == next(iter(keys.values()))
    return keys


def test_export_writes_cloudtrail_log_and_digest_files(audited: tuple[TrentServer, Calls], tmp_path: Path) -> None:
    server, calls = audited
    out = tmp_path / "export"
    since = (calls.started - timedelta(minutes=10)).isoformat()
    until = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    assert "exported 4 records" in ok(server.data_dir, "export", "--since", since, "--until", until, "--out", str(out))
    base = out / "AWSLogs" / ACCOUNT_ID

    # Log files: every record exactly as stored, in order.
    logs = sorted((base / "CloudTrail" / REGION).rglob("*.json.gz"), key=lambda path: path.name)
    assert logs
    uncompressed = {path.relative_to(out).as_posix(): gzip.decompress(path.read_bytes()) for path in logs}
    exported = [record for body in uncompressed.values() for record in json.loads(body)["Records"]]
    assert exported == [json.loads(record) for record in stored_records(server.data_dir)]
    for key in uncompressed:
        assert key.split("/")[-1].startswith(f"{ACCOUNT_ID}_CloudTrail_{REGION}_")

    # Digest files: signed with a published key, chained, hashing the uncompressed log files.
    keys = _public_keys(server.data_dir)
    digests = sorted((base / "CloudTrail-Digest" / REGION).rglob("*.json.gz"), key=lambda path: path.name)
    assert digests
    listed: list[str] = []
    previous: tuple[str, str, str] | None = None  # (object, SHA-256 of its body, signature hex)
    for path in digests:
        body = gzip.decompress(path.read_bytes())
        digest = json.loads(body)
        obj = path.relative_to(out).as_posix()
        assert (digest["awsAccountId"], digest["digestS3Bucket"], digest["digestS3Object"]) == (
            ACCOUNT_ID,
            "trent-export",
            obj,
        )
        assert digest["digestSignatureAlgorithm"] == "SHA256withRSA"
        if previous is None:
            assert digest["previousDigestS3Object"] is None
            assert digest["previousDigestSignature"] is None
            assert digest["previousDigestHashValue"] is None
        else:
            assert digest["previousDigestS3Object"] == previous[0]
            assert digest["previousDigestHashValue"] == previous[1]
            assert digest["previousDigestHashAlgorithm"] == "SHA-256"
            assert digest["previousDigestSignature"] == previous[2]
        signature = Path(f"{path}.sig").read_text().strip()
        message = (
            f"{digest['digestEndTime']}\ntrent-export/{obj}\n{hashlib.sha256(body).hexdigest()}\n"
            f"{digest['previousDigestSignature'] or 'null'}"
        )
        keys[digest["digestPublicKeyFingerprint"]].verify(
            bytes.fromhex(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        for log in digest["logFiles"]:
            assert log["hashAlgorithm"] == "SHA-256"
            assert log["hashValue"] == hashlib.sha256(uncompressed[log["s3Object"]]).hexdigest()
            listed.append(log["s3Object"])
        previous = (obj, hashlib.sha256(body).hexdigest(), signature)
    assert sorted(listed) == sorted(uncompressed)

    # Nothing written, compressed or not, holds the plaintext.
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            texts = [data, gzip.decompress(data)] if path.name.endswith(".gz") else [data]
            for text in texts:
                assert CANARY not in text
                assert base64.b64encode(CANARY) not in text


def test_export_writes_digests_only_for_hours_with_records(audited: tuple[TrentServer, Calls], tmp_path: Path) -> None:
    # A range from days before the store existed to days in the future: no digest for an empty hour.
    server, calls = audited
    out = tmp_path / "export"
    since = (calls.started - timedelta(days=3)).isoformat()
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    printed = ok(server.data_dir, "export", "--since", since, "--until", until, "--out", str(out))
    db = sqlite3.connect(server.data_dir / "trent.db")
    try:
        hours = {int(row[0]) // 3600 for row in db.execute("SELECT event_time FROM audit_events")}
    finally:
        db.close()
    digests = sorted((out / "AWSLogs" / ACCOUNT_ID / "CloudTrail-Digest" / REGION).rglob("*.json.gz"))
    assert len(digests) == len(hours), printed
    assert f"and {len(hours)} digest files" in printed
    starts = set()
    for path in digests:
        digest = json.loads(gzip.decompress(path.read_bytes()))
        assert digest["logFiles"], digest
        start = datetime.strptime(digest["digestStartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        starts.add(int(start.timestamp()) // 3600)
    assert starts == hours
