"""Admin commands refuse a directory without a Trent store; `trent init` creates one; the data
directory's profile (`config` + `credentials`) alone reaches the server (AWS CLI, boto3, the AWS
Encryption SDK), and follows it to another port."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import aws_encryption_sdk
import boto3
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider

from tests.conftest import TrentServer
from tests.e2e.cli_support import aws_with_env, ok, profile_env, trent

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "command",
    [
        ["iam", "list-users"],
        ["iam", "create-user", "--user-name", "alice"],
        ["iam", "create-account", "--account-id", "444455556666"],
        ["audit", "verify"],
        ["backup", "--to", "backup.db"],
    ],
)
@pytest.mark.parametrize("exists", [False, True])
def test_admin_commands_refuse_a_directory_without_a_store(tmp_path: Path, command: list[str], exists: bool) -> None:
    typo = tmp_path / "typo"
    if exists:
        typo.mkdir()
    result = trent(*command, "--data-dir", str(typo), cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trent: ")
    assert "no Trent store in" in lines[0]
    assert f"trent init --data-dir {typo}" in lines[0]
    assert result.stdout == ""
    assert typo.exists() == exists
    assert not exists or list(typo.iterdir()) == []


def test_init_creates_the_store_explicitly_and_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = ok("init", "--data-dir", str(data))
    assert "Trent store ready in" in out
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for private in ("root.key", "credentials", "config"):
        assert stat.S_IMODE((data / private).stat().st_mode) == 0o600, private
    assert (data / "trent.db").exists()
    assert "aws_secret_access_key" in (data / "credentials").read_text()
    assert "endpoint_url = http://127.0.0.1:4599" in (data / "config").read_text()
    secret = (data / "credentials").read_text().split("aws_secret_access_key = ")[1].strip()
    assert secret not in out  # the secret is only in the file

    before = {name: (data / name).read_bytes() for name in ("root.key", "credentials")}
    assert "already" in ok("init", "--data-dir", str(data))
    assert {name: (data / name).read_bytes() for name in before} == before

    # The admin commands now have a store to act on.
    assert json.loads(ok("iam", "list-users", "--data-dir", str(data)))["Users"] == []
    assert "intact" in ok("audit", "verify", "--data-dir", str(data))


def _key_and_ciphertext(env: dict[str, str], tmp_path: Path) -> tuple[str, Path]:
    created = aws_with_env("kms", "create-key", "--description", "profile only", env=env)
    assert created.returncode == 0, created.stderr
    key_id = json.loads(created.stdout)["KeyMetadata"]["KeyId"]
    (tmp_path / "plain.txt").write_bytes(b"profile")
    encrypted = aws_with_env(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}", env=env
    )
    assert encrypted.returncode == 0, encrypted.stderr
    blob = tmp_path / "ct.bin"
    blob.write_bytes(base64.b64decode(json.loads(encrypted.stdout)["CiphertextBlob"]))
    return key_id, blob


def _decrypts(env: dict[str, str], blob: Path) -> None:
    decrypted = aws_with_env("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", env=env)
    assert decrypted.returncode == 0, decrypted.stderr
    assert base64.b64decode(json.loads(decrypted.stdout)["Plaintext"]) == b"profile"


@pytest.fixture
def clean_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_aws_environment")
def test_the_profile_alone_reaches_the_server_and_follows_its_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    ok("init", "--data-dir", str(data))  # the profile first names the default port
    env = profile_env(data, tmp_path)
    server = TrentServer(data, dev=False).start()
    try:
        assert f"endpoint_url = {server.endpoint}" in (data / "config").read_text()
        key_id, blob = _key_and_ciphertext(env, tmp_path)
        _decrypts(env, blob)

        # boto3 and the Encryption SDK: the profile in the environment, nothing in the code.
        for name, value in env.items():
            if name.startswith("AWS_"):
                monkeypatch.setenv(name, value)
        kms = boto3.session.Session().client("kms")
        assert kms.meta.endpoint_url == server.endpoint
        assert key_id in [key["KeyId"] for key in kms.list_keys()["Keys"]]
        assert kms.decrypt(CiphertextBlob=blob.read_bytes())["Plaintext"] == b"profile"
        arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        esdk = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore.session.Session())
        message, _header = esdk.encrypt(source=b"envelope", key_provider=provider)
        assert esdk.decrypt(source=message, key_provider=provider)[0] == b"envelope"
    finally:
        server.stop()

    # Another port (a new server object picks a free one): the profile follows at the next start.
    moved = TrentServer(data, dev=False).start()
    try:
        assert moved.port != server.port
        assert f"endpoint_url = {moved.endpoint}" in (data / "config").read_text()
        _decrypts(env, blob)
    finally:
        moved.stop()
