"""`trent serve` over TLS: --tls-self-signed (a development CA in the data directory) and
--tls-cert/--tls-key (TRENT_TLS_CERT/TRENT_TLS_KEY), through boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import configparser
import json
import ssl
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, SSLError

from tests.conftest import ACCOUNT_ID, BIN, REGION
from tests.e2e.cli_support import FlagsServer, aws_with_env, profile_env, trent
from trent.crypto.tls import issue_server_certificate, new_certificate_authority

pytestmark = pytest.mark.e2e

PLAINTEXT = b"sent over TLS only"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlagsServer]:
    srv = FlagsServer(tmp_path_factory.mktemp("tls") / "data", ["--tls-self-signed"], tls=True).start()
    yield srv
    srv.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


def test_start_message_names_the_https_endpoint_and_how_to_trust_the_ca(tls_server: FlagsServer) -> None:
    log = tls_server.log()
    ca = tls_server.data_dir.resolve() / "ca.pem"
    assert f"serving the AWS KMS API on https://127.0.0.1:{tls_server.port}" in log
    assert f"--ca-bundle {ca}" in log
    assert f"AWS_CA_BUNDLE={ca}" in log
    assert "http://" not in log


def test_the_ca_and_keys_are_kept_in_the_data_directory(tls_server: FlagsServer) -> None:
    data = tls_server.data_dir
    assert (data / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    for private in (data / "tls" / "ca.key", data / "tls" / "server.key"):
        assert mode(private) == 0o600, private
        assert b"PRIVATE KEY" in private.read_bytes()
    assert b"PRIVATE KEY" not in (data / "ca.pem").read_bytes()


def test_boto3_trusting_the_ca_encrypts_and_decrypts(tls_server: FlagsServer) -> None:
    kms = tls_server.client_verifying(str(tls_server.data_dir / "ca.pem"))
    key_id = kms.create_key(Description="tls")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT, EncryptionContext={"over": "tls"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"over": "tls"})["Plaintext"] == PLAINTEXT


def test_aws_cli_with_ca_bundle_encrypts_and_decrypts(tls_server: FlagsServer, tmp_path: Path) -> None:
    ca = str(tls_server.data_dir / "ca.pem")
    env = cli_env(tmp_path)

    def aws(*args: str) -> str:
        result = subprocess.run(
            [str(BIN / "aws"), "--endpoint-url", tls_server.endpoint, "--ca-bundle", ca, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    key_id = aws("kms", "create-key", "--query", "KeyMetadata.KeyId", "--output", "text")
    (tmp_path / "plain.txt").write_bytes(PLAINTEXT)
    blob = aws(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'plain.txt'}",
        "--query", "CiphertextBlob", "--output", "text",
    )  # fmt: skip
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(blob))
    plain = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}",
        "--query", "Plaintext", "--output", "text",
    )  # fmt: skip
    assert base64.b64decode(plain) == PLAINTEXT


def test_aws_ca_bundle_variable_is_enough_for_sdks(tls_server: FlagsServer, tmp_path: Path) -> None:
    env = cli_env(tmp_path, AWS_CA_BUNDLE=str(tls_server.data_dir / "ca.pem"))
    result = aws_with_env("--endpoint-url", tls_server.endpoint, "kms", "list-keys", env=env)
    assert result.returncode == 0, result.stderr
    assert "Keys" in json.loads(result.stdout)


def test_plain_http_to_the_tls_port_fails(tls_server: FlagsServer) -> None:
    plain = f"http://127.0.0.1:{tls_server.port}"
    with pytest.raises((OSError, HTTPException)):
        urllib.request.urlopen(plain + "/_trent/health", timeout=5)
    client = boto3.session.Session().client(
        "kms",
        endpoint_url=plain,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.list_keys()
    # The server is still well: the TLS clients are served.
    tls_server.client().list_keys()


def test_a_client_without_the_ca_fails_verification(tls_server: FlagsServer, tmp_path: Path) -> None:
    with pytest.raises(SSLError):
        tls_server.client_verifying(True).list_keys()  # the system's CAs only
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(tls_server.endpoint + "/_trent/health", timeout=5, context=ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    result = aws_with_env("--endpoint-url", tls_server.endpoint, "kms", "list-keys", env=cli_env(tmp_path))
    assert result.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr or "SSL" in result.stderr, result.stderr


def test_a_restart_keeps_the_ca_and_the_server_certificate(tmp_path: Path) -> None:
    server = FlagsServer(tmp_path / "data", ["--tls-self-signed"], tls=True).start()
    data = server.data_dir
    try:
        first = {name: (data / name).read_bytes() for name in ("ca.pem", "tls/ca.key", "tls/server.pem")}
        server.restart()
        assert {name: (data / name).read_bytes() for name in first} == first
        assert "created" not in server.log().split("TLS: self-signed")[-1].splitlines()[0]
        server.client().list_keys()
    finally:
        server.stop()


def _operator_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """An operator's own CA and server certificate (made here with trent.crypto.tls)."""
    now = datetime.now(UTC)
    ca = new_certificate_authority("Operator test CA", now)
    server = issue_server_certificate(ca, ["localhost"], ["127.0.0.1"], now)
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    for path, data in zip(paths, (ca.cert_pem, server.cert_pem, server.key_pem), strict=True):
        path.write_bytes(data)
    paths[2].chmod(0o600)
    return paths


def test_operator_certificate_from_the_environment_and_secure_transport(tmp_path: Path) -> None:
    ca, cert, key = _operator_certificate(tmp_path)
    env = {"TRENT_TLS_CERT": str(cert), "TRENT_TLS_KEY": str(key)}
    server = FlagsServer(tmp_path / "data", tls=True, ca=ca, dev=False, env=env).start()
    try:
        assert f"https://127.0.0.1:{server.port}" in server.log()
        assert not (server.data_dir / "ca.pem").exists()
        credentials = configparser.ConfigParser()
        credentials.read(server.data_dir / "credentials")
        admin = {
            "access_key": credentials["trent"]["aws_access_key_id"],
            "secret_key": credentials["trent"]["aws_secret_access_key"],
        }
        kms = server.client(**admin)
        root = f"arn:aws:iam::{ACCOUNT_ID}:root"

        def key_denying_when(secure: str) -> str:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": ["kms:Encrypt", "kms:Decrypt"],
                        "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": secure}},
                    },
                ],
            }
            return str(kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"])

        # aws:SecureTransport is true over TLS: a Deny on "false" does not apply, a Deny on "true" does.
        allowed = key_denying_when("false")
        blob = kms.encrypt(KeyId=allowed, Plaintext=PLAINTEXT)["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == PLAINTEXT
        denied = key_denying_when("true")
        with pytest.raises(ClientError) as caught:
            kms.encrypt(KeyId=denied, Plaintext=PLAINTEXT)
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException"

        # The profile names the https endpoint; the operator's CA comes from AWS_CA_BUNDLE.
        config = (server.data_dir / "config").read_text()
        assert f"endpoint_url = https://127.0.0.1:{server.port}" in config
        assert "ca_bundle" not in config
        result = aws_with_env(
            "kms", "list-keys", env={**profile_env(server.data_dir, tmp_path), "AWS_CA_BUNDLE": str(ca)}
        )
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "server.crt"], "--tls-cert and --tls-key"),
        (["--tls-self-signed", "--tls-cert", "a", "--tls-key", "b"], "--tls-self-signed"),
        (["--tls-cert", "missing.crt", "--tls-key", "missing.key"], "cannot read the TLS certificate"),
    ],
)
def test_bad_tls_settings_are_refused_before_anything_is_created(tmp_path: Path, args: list[str], message: str) -> None:
    data = tmp_path / "data"
    result = trent("serve", "--data-dir", str(data), "--port", "1", *args, env={}, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data / "trent.db").exists()
    assert not (data / "root.key").exists()
