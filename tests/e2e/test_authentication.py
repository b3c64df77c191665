"""Without --dev only known access keys work: the admin key made on first start, SigV4 checked."""

from __future__ import annotations

import configparser
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TrentServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("secure") / "data", dev=False).start()
    yield srv
    srv.stop()


def admin_credentials(server: TrentServer) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    return parser["trent"]["aws_access_key_id"], parser["trent"]["aws_secret_access_key"]


def code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_first_start_writes_private_files(secure_server: TrentServer) -> None:
    for name in ("credentials", "root.key"):
        assert stat.S_IMODE((secure_server.data_dir / name).stat().st_mode) == 0o600
    access_key, secret = admin_credentials(secure_server)
    assert access_key.startswith("AKIA")
    assert len(access_key) == 20
    assert secret not in secure_server.log()
    assert "credentials" in secure_server.log()


def test_admin_key_works_with_boto3(secure_server: TrentServer) -> None:
    access_key, secret = admin_credentials(secure_server)
    kms = secure_server.client(access_key=access_key, secret_key=secret)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_admin_profile_works_with_the_aws_cli(secure_server: TrentServer) -> None:
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(secure_server.data_dir / "credentials"),
        "AWS_CONFIG_FILE": str(secure_server.data_dir / "config"),
        "AWS_PROFILE": "trent",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    result = secure_server.aws("kms", "list-keys", env=env, check=False)
    assert result.returncode == 0, result.stderr


def test_unknown_access_key(secure_server: TrentServer) -> None:
    kms = secure_server.client(access_key="AKIAUNKNOWNUNKNOWN00", secret_key="x")
    with pytest.raises(ClientError) as info:
        kms.list_keys()
    assert code_of(info.value) == "UnrecognizedClientException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_secret(secure_server: TrentServer) -> None:
    access_key, _ = admin_credentials(secure_server)
    kms = secure_server.client(access_key=access_key, secret_key="wrong-secret")
    with pytest.raises(ClientError) as info:
        kms.list_keys()
    assert code_of(info.value) == "InvalidSignatureException"
    assert "does not match" in info.value.response["Error"]["Message"]


def test_changed_body_after_signing_is_rejected(secure_server: TrentServer) -> None:
    access_key, secret = admin_credentials(secure_server)
    kms = secure_server.client(access_key=access_key, secret_key=secret)

    def tamper(request: object, **_: object) -> None:
        request.body = b'{"Limit": 2}'  # type: ignore[attr-defined]

    kms.meta.events.register("before-send.kms.ListKeys", tamper)
    with pytest.raises(ClientError) as info:
        kms.list_keys(Limit=1)
    assert code_of(info.value) == "InvalidSignatureException"


def test_dev_credentials_do_not_work_without_dev(secure_server: TrentServer) -> None:
    with pytest.raises(ClientError) as info:
        secure_server.client().list_keys()
    assert code_of(info.value) == "UnrecognizedClientException"


def test_second_start_keeps_the_admin_key(tmp_path: Path) -> None:
    srv = TrentServer(tmp_path / "data", dev=False).start()
    try:
        first = admin_credentials(srv)
        srv.restart()
        assert admin_credentials(srv) == first
        kms = srv.client(access_key=first[0], secret_key=first[1])
        assert kms.list_keys()["Keys"] == []
    finally:
        srv.stop()
