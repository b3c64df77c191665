"""The AWS CLI and an unmodified boto3 program against a real server: the README's quickstart, verbatim."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, BIN, REGION, TrentServer

pytestmark = pytest.mark.e2e


def alias_arn(alias_name: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:{alias_name}"


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Dev credentials and nothing from the developer's own AWS configuration."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


def test_readme_quickstart(fresh_server: TrentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the README's relative fileb:// paths
    secret = b"card 4111"
    (tmp_path / "secret.txt").write_bytes(secret)

    created = fresh_server.aws("kms", "create-key", "--description", "orders")
    metadata = created["KeyMetadata"]
    key_id = metadata["KeyId"]
    assert metadata["Description"] == "orders"
    assert metadata["Arn"] == key_arn(key_id)
    assert metadata["KeyState"] == "Enabled"
    assert metadata["Enabled"] is True

    assert fresh_server.aws("kms", "create-alias", "--alias-name", "alias/orders", "--target-key-id", key_id) is None

    encrypted = fresh_server.aws(
        "kms", "encrypt", "--key-id", "alias/orders", "--plaintext", "fileb://secret.txt",
        "--encryption-context", "app=shop",
    )  # fmt: skip
    assert set(encrypted) == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    assert encrypted["KeyId"] == metadata["Arn"]
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))

    decrypted = fresh_server.aws(
        "kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "app=shop"
    )
    assert base64.b64decode(decrypted["Plaintext"]) == secret
    assert decrypted["KeyId"] == metadata["Arn"]
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    described = fresh_server.aws("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert decrypted["KeyMaterialId"] == described["CurrentKeyMaterialId"]

    # The same ciphertext without the context does not decrypt.
    result = fresh_server.aws("kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin", check=False)
    assert result.returncode != 0
    assert "(InvalidCiphertextException)" in result.stderr

    aliases = fresh_server.aws("kms", "list-aliases", "--key-id", key_id)["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in aliases] == [
        ("alias/orders", alias_arn("alias/orders"), key_id)
    ]


def test_readme_text_output_pipeline(
    fresh_server: TrentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's `--query ... --output text | base64 -d` variant."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_bytes(b"card 4111")
    key_id = fresh_server.aws("kms", "create-key", "--description", "orders")["KeyMetadata"]["KeyId"]
    fresh_server.aws("kms", "create-alias", "--alias-name", "alias/orders", "--target-key-id", key_id)

    encrypted = fresh_server.aws(
        "kms", "encrypt", "--key-id", "alias/orders", "--plaintext", "fileb://secret.txt",
        "--encryption-context", "app=shop", "--query", "CiphertextBlob", "--output", "text", check=False,
    )  # fmt: skip
    assert encrypted.returncode == 0, encrypted.stderr
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(encrypted.stdout.strip()))
    decrypted = fresh_server.aws(
        "kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "app=shop",
        "--query", "Plaintext", "--output", "text", check=False,
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    assert base64.b64decode(decrypted.stdout.strip()) == b"card 4111"


def test_cli_error_exit_status_and_message(server: TrentServer) -> None:
    result = server.aws("kms", "describe-key", "--key-id", "alias/no-such-alias", check=False)
    assert result.returncode != 0
    assert "(NotFoundException)" in result.stderr
    assert (
        "An error occurred (NotFoundException) when calling the DescribeKey operation: "
        f"Alias {alias_arn('alias/no-such-alias')} is not found."
    ) in result.stderr
    assert result.stdout == ""

    result = server.aws("kms", "encrypt", "--key-id", "fake-key-id", "--plaintext", "x", check=False)
    assert result.returncode != 0
    assert "(NotFoundException)" in result.stderr
    assert "Invalid keyId 'fake-key-id'" in result.stderr


def test_cli_sees_regions_apart(server: TrentServer) -> None:
    key_id = server.aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    result = server.aws("kms", "describe-key", "--key-id", key_id, region="eu-west-1", check=False)
    assert result.returncode != 0
    assert f"(NotFoundException) when calling the DescribeKey operation: Key '{key_arn(key_id, 'eu-west-1')}'" in (
        result.stderr
    )
    european = server.aws("kms", "list-keys", region="eu-west-1")["Keys"]
    assert key_id not in {k["KeyId"] for k in european}


def test_cli_data_keys_random_and_lifecycle(server: TrentServer) -> None:
    key_id = server.aws("kms", "create-key", "--tags", "TagKey=team,TagValue=shop")["KeyMetadata"]["KeyId"]
    data_key = server.aws("kms", "generate-data-key", "--key-id", key_id, "--key-spec", "AES_256")
    assert set(data_key) == {"CiphertextBlob", "Plaintext", "KeyId", "KeyMaterialId"}
    assert len(base64.b64decode(data_key["Plaintext"])) == 32
    random = server.aws("kms", "generate-random", "--number-of-bytes", "24")
    assert len(base64.b64decode(random["Plaintext"])) == 24
    assert server.aws("kms", "list-resource-tags", "--key-id", key_id)["Tags"] == [
        {"TagKey": "team", "TagValue": "shop"}
    ]
    scheduled = server.aws("kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7")
    assert scheduled["KeyId"] == key_arn(key_id)
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    result = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "x", check=False)
    assert result.returncode != 0
    assert f"(KMSInvalidStateException) when calling the Encrypt operation: {key_arn(key_id)} is pending deletion." in (
        result.stderr
    )
    assert server.aws("kms", "cancel-key-deletion", "--key-id", key_id) == {"KeyId": key_arn(key_id)}
    policy = json.loads(server.aws("kms", "get-key-policy", "--key-id", key_id, "--policy-name", "default")["Policy"])
    assert policy["Id"] == "key-default-1"


BOTO3_PROGRAM = """
import json
import boto3

kms = boto3.client("kms")  # no endpoint_url: AWS_ENDPOINT_URL_KMS decides
key = kms.create_key(Description="configured by environment")["KeyMetadata"]
blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"env", EncryptionContext={"app": "shop"})["CiphertextBlob"]
plaintext = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "shop"})["Plaintext"]
print(json.dumps({"KeyId": key["KeyId"], "Arn": key["Arn"], "Plaintext": plaintext.decode()}))
"""


def run_python(program: str, env: dict[str, str]) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_boto3_with_aws_endpoint_url_kms(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    out = run_python(BOTO3_PROGRAM, isolated_env(tmp_path, AWS_ENDPOINT_URL_KMS=server.endpoint))
    assert out["Plaintext"] == "env"
    assert out["Arn"] == key_arn(out["KeyId"])
    # It really was this server.
    assert kms.describe_key(KeyId=out["KeyId"])["KeyMetadata"]["Description"] == "configured by environment"


def test_aws_cli_with_aws_endpoint_url_kms(server: TrentServer, kms: Any, tmp_path: Path) -> None:
    key_id = kms.create_key(Description="seen by the CLI")["KeyMetadata"]["KeyId"]
    result = subprocess.run(
        [str(BIN / "aws"), "kms", "describe-key", "--key-id", key_id, "--output", "json"],
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path, AWS_ENDPOINT_URL_KMS=server.endpoint),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["KeyMetadata"]["Description"] == "seen by the CLI"
