"""`trent serve` itself: configuration from flags and TRENT_* variables, workers, start-up message."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BIN, TrentServer

pytestmark = pytest.mark.e2e


def test_start_message_says_how_to_connect(fresh_server: TrentServer) -> None:
    log = fresh_server.log()
    assert fresh_server.endpoint in log
    assert "aws --endpoint-url" in log
    assert "AWS_ENDPOINT_URL_KMS" in log
    assert "AWS_ACCESS_KEY_ID=" in log  # dev credentials printed


def test_settings_from_environment(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "env-data", env={"TRENT_ACCOUNT_ID": "444455556666"}, flags=False)
    server.start()
    try:
        key = server.client().create_key()["KeyMetadata"]
        assert key["AWSAccountId"] == "444455556666"
        assert key["Arn"].startswith("arn:aws:kms:us-east-1:444455556666:key/")
        assert (tmp_path / "env-data" / "trent.db").exists()
    finally:
        server.stop()


def test_flags_win_over_environment(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", env={"TRENT_ACCOUNT_ID": "444455556666"})
    server.start()
    try:
        # the fixture passes --port and --data-dir as flags; the account comes from the environment
        assert server.client().create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account-id", "123"], "12 digits"),
        (["--port", "0"], "port"),
        (["--workers", "0"], "workers"),
    ],
)
def test_bad_settings_are_refused_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [str(BIN / "trent"), "serve", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=os.environ.copy(),
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_two_workers_share_state_and_see_each_others_changes(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data")
    server.env["TRENT_WORKERS"] = "2"
    server.start()
    try:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
        # New connections land on either worker; every one must see the key, then its disabling.
        for _ in range(10):
            assert server.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
        kms.disable_key(KeyId=key_id)
        for _ in range(10):
            with pytest.raises(ClientError) as info:
                server.client().encrypt(KeyId=key_id, Plaintext=b"x")
            assert info.value.response["Error"]["Code"] == "DisabledException"
    finally:
        server.stop()
