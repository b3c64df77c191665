"""The AWS Encryption SDKs for Python and JavaScript with KMS keys held by a real server (issue 13).

The Python SDK (aws-encryption-sdk) reaches Trent through a botocore session whose shared config
names Trent as the KMS endpoint, or through AWS_ENDPOINT_URL_KMS alone; the JavaScript SDK
(@aws-crypto/client-node, tests/interop/esdk.mjs) through KMS clients of @aws-sdk/client-kms with
the endpoint set, or the same variable alone. Both write the same message format, so each one's
messages are decrypted by the other too.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy, DiscoveryAwsKmsMasterKeyProvider, StrictAwsKmsMasterKeyProvider
from aws_encryption_sdk.exceptions import DecryptKeyError, MasterKeyProviderError
from aws_encryption_sdk.identifiers import Algorithm
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryFilter,
    MRKAwareDiscoveryAwsKmsMasterKeyProvider,
    MRKAwareStrictAwsKmsMasterKeyProvider,
)
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.interop.nodejs import require_node, run_script

pytestmark = pytest.mark.e2e

OTHER_ACCOUNT = "444455556666"
REPLICA_REGION = "eu-west-1"
DEFAULT_SUITE = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
CONTEXT = {"tenant": "acme", "purpose": "interop"}
PLAINTEXT = os.urandom(3000) + b"the end"  # several 1 KiB frames where a test asks for them


# ----------------------------------------------------------------- plumbing


@pytest.fixture(autouse=True)
def no_developer_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing of the developer's own AWS configuration reaches botocore."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def trent_session(server: TrentServer, home: Path) -> botocore.session.Session:
    """A botocore session whose shared config sends every KMS client it makes, in any region, to Trent."""
    config = home / "trent-aws-config"
    config.write_text(
        "[profile trent]\n"
        f"region = {REGION}\n"
        "aws_access_key_id = test\n"
        "aws_secret_access_key = test\n"
        "max_attempts = 1\n"
        "services = trent\n"
        "[services trent]\n"
        "kms =\n"
        f"  endpoint_url = {server.endpoint}\n"
    )
    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config))
    session.set_config_variable("profile", "trent")
    return session


@pytest.fixture
def node() -> None:
    """Skip (fail under CI) before any work when Node.js or the JavaScript SDK is missing."""
    require_node()


@pytest.fixture
def session(server: TrentServer, tmp_path: Path) -> botocore.session.Session:
    return trent_session(server, tmp_path)


@pytest.fixture(scope="module")
def esdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def new_key(kms: Any, **kwargs: Any) -> str:
    return str(kms.create_key(**kwargs)["KeyMetadata"]["Arn"])


def key_infos(header: Any) -> set[str]:
    """The KMS key ARNs of a Python ESDK message header's encrypted data keys."""
    assert {edk.key_provider.provider_id for edk in header.encrypted_data_keys} == {"aws-kms"}
    return {edk.key_provider.key_info.decode() for edk in header.encrypted_data_keys}


def replicate(server: TrentServer, kms: Any, region: str) -> tuple[str, str]:
    """A new multi-Region key and its replica in ``region``, once the replica is usable: both ARNs."""
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=region)["ReplicaKeyMetadata"]
    there = server.client(region=region)
    deadline = time.monotonic() + 10
    while there.describe_key(KeyId=replica["Arn"])["KeyMetadata"]["KeyState"] == "Creating":
        assert time.monotonic() < deadline, "the replica stayed in Creating"
        time.sleep(0.05)
    return str(primary["Arn"]), str(replica["Arn"])


def strict(session: botocore.session.Session, *arns: str) -> StrictAwsKmsMasterKeyProvider:
    return StrictAwsKmsMasterKeyProvider(key_ids=list(arns), botocore_session=session)


def discovery(session: botocore.session.Session, account: str = ACCOUNT_ID) -> DiscoveryAwsKmsMasterKeyProvider:
    return DiscoveryAwsKmsMasterKeyProvider(
        discovery_filter=DiscoveryFilter(account_ids=[account], partition="aws"), botocore_session=session
    )


def js_esdk(server: TrentServer, home: Path, op: str, keyring: dict[str, Any], **params: Any) -> dict[str, Any]:
    env = {"AWS_ENDPOINT_URL_KMS": server.endpoint} if keyring.get("clientFromEnv") else {}
    return run_script("esdk.mjs", server, home, {"op": op, "keyring": keyring, **params}, **env)


def js_encrypt(
    server: TrentServer, home: Path, keyring: dict[str, Any], plaintext: bytes = PLAINTEXT
) -> dict[str, Any]:
    out = js_esdk(
        server,
        home,
        "encrypt",
        keyring,
        plaintext=base64.b64encode(plaintext).decode(),
        encryptionContext=CONTEXT,
        frameLength=1024,
    )
    assert out["ok"] is True
    return out


def js_decrypt(
    server: TrentServer, home: Path, keyring: dict[str, Any], message: bytes, **params: Any
) -> dict[str, Any]:
    return js_esdk(server, home, "decrypt", keyring, ciphertext=base64.b64encode(message).decode(), **params)


def js_key_infos(header: dict[str, Any]) -> set[str]:
    assert {edk["providerId"] for edk in header["encryptedDataKeys"]} == {"aws-kms"}
    return {edk["providerInfo"] for edk in header["encryptedDataKeys"]}


def kms_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The KMS error codes behind the Python SDK's DecryptKeyError: it logs each ClientError it swallows."""
    return [
        record.exc_info[1].response["Error"]["Code"]
        for record in caplog.records
        if record.exc_info and isinstance(record.exc_info[1], ClientError)
    ]


def kms_calls(out: dict[str, Any], operation: str) -> list[tuple[str, str]]:
    return [(call["region"], call["keyId"]) for call in out["calls"] if call["operation"] == operation]


# ----------------------------------------------------------------- the Python Encryption SDK


def test_python_round_trip(kms: Any, session: Any, esdk: Any, caplog: pytest.LogCaptureFixture) -> None:
    arn = new_key(kms)
    message, header = esdk.encrypt(
        source=PLAINTEXT, key_provider=strict(session, arn), encryption_context=CONTEXT, frame_length=1024
    )

    assert PLAINTEXT[:64] not in message
    assert header.algorithm == DEFAULT_SUITE
    assert key_infos(header) == {arn}
    assert CONTEXT.items() <= header.encryption_context.items()
    assert "aws-crypto-public-key" in header.encryption_context  # the signing suite's public key
    # The encrypted data key is a real KMS ciphertext under the key, bound to the message's context.
    (edk,) = header.encrypted_data_keys
    data_key = kms.decrypt(
        KeyId=arn, CiphertextBlob=edk.encrypted_data_key, EncryptionContext=header.encryption_context
    )
    assert len(data_key["Plaintext"]) == DEFAULT_SUITE.kdf_input_len == 32
    assert data_key["KeyId"] == arn

    decrypted, decrypted_header = esdk.decrypt(source=message, key_provider=strict(session, arn))
    assert decrypted == PLAINTEXT
    assert decrypted_header.encryption_context == header.encryption_context
    assert key_infos(decrypted_header) == {arn}

    # A provider of another key cannot open it; nor can the right one once the key is disabled.
    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=message, key_provider=strict(session, new_key(kms)))
    assert kms_errors(caplog) == []  # no data key of that key: the SDK did not even ask KMS
    kms.disable_key(KeyId=arn)
    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=message, key_provider=strict(session, arn))
    assert kms_errors(caplog) == ["DisabledException"]


def test_python_multi_key_decrypts_with_either_key_alone(
    kms: Any, session: Any, esdk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = new_key(kms), new_key(kms)
    message, header = esdk.encrypt(source=PLAINTEXT, key_provider=strict(session, first, second))
    assert key_infos(header) == {first, second}

    for arn in (first, second):
        plaintext, decrypted_header = esdk.decrypt(source=message, key_provider=strict(session, arn))
        assert plaintext == PLAINTEXT
        assert key_infos(decrypted_header) == {first, second}

    # Each data key opens only through its own KMS key: with the first disabled, the second still works.
    kms.disable_key(KeyId=first)
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=message, key_provider=strict(session, first))
    assert kms_errors(caplog) == ["DisabledException"]
    assert esdk.decrypt(source=message, key_provider=strict(session, second))[0] == PLAINTEXT


def test_python_discovery_decrypt(kms: Any, session: Any, esdk: Any) -> None:
    arn = new_key(kms)
    message, _ = esdk.encrypt(source=PLAINTEXT, key_provider=strict(session, arn), encryption_context=CONTEXT)

    plaintext, header = esdk.decrypt(source=message, key_provider=discovery(session))
    assert plaintext == PLAINTEXT
    assert key_infos(header) == {arn}
    assert CONTEXT.items() <= header.encryption_context.items()

    # The discovery filter is the SDK's: another account's provider never asks KMS and fails.
    with pytest.raises(MasterKeyProviderError, match="not allowed by this Master Key Provider"):
        esdk.decrypt(source=message, key_provider=discovery(session, OTHER_ACCOUNT))


def test_python_discovery_with_only_the_endpoint_variable(
    server: TrentServer, kms: Any, session: Any, esdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unmodified program: a default botocore session, Trent named only by AWS_ENDPOINT_URL_KMS."""
    arn = new_key(kms)
    message, _ = esdk.encrypt(source=PLAINTEXT, key_provider=strict(session, arn))
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    provider = DiscoveryAwsKmsMasterKeyProvider(
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT_ID], partition="aws")
    )
    plaintext, header = esdk.decrypt(source=message, key_provider=provider)
    assert plaintext == PLAINTEXT
    assert key_infos(header) == {arn}


def test_python_multi_region_key_decrypts_in_the_replica_region(
    server: TrentServer, kms: Any, session: Any, esdk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    primary_arn, replica_arn = replicate(server, kms, REPLICA_REGION)
    assert replica_arn == primary_arn.replace(f":{REGION}:", f":{REPLICA_REGION}:")
    message, header = esdk.encrypt(
        source=PLAINTEXT,
        key_provider=MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[primary_arn], botocore_session=session),
    )
    assert key_infos(header) == {primary_arn}

    in_replica = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[replica_arn], botocore_session=session)
    assert esdk.decrypt(source=message, key_provider=in_replica)[0] == PLAINTEXT
    replica_discovery = MRKAwareDiscoveryAwsKmsMasterKeyProvider(
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT_ID], partition="aws"),
        discovery_region=REPLICA_REGION,
        botocore_session=session,
    )
    assert esdk.decrypt(source=message, key_provider=replica_discovery)[0] == PLAINTEXT
    # The replica did the work: disabled in its Region (replicas are enabled each on its own, as in
    # AWS), it fails while the primary still decrypts.
    server.client(region=REPLICA_REGION).disable_key(KeyId=replica_arn)
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=message, key_provider=in_replica)
    assert kms_errors(caplog) == ["DisabledException"]
    assert esdk.decrypt(source=message, key_provider=strict(session, primary_arn))[0] == PLAINTEXT


# ----------------------------------------------------------------- the JavaScript Encryption SDK


@pytest.mark.usefixtures("node")
def test_js_round_trip_and_python_decrypts_it(
    server: TrentServer, kms: Any, session: Any, esdk: Any, tmp_path: Path
) -> None:
    arn = new_key(kms)
    out = js_encrypt(server, tmp_path, {"generator": arn})

    header = out["header"]
    assert header["suiteId"] == DEFAULT_SUITE.algorithm_id
    assert js_key_infos(header) == {arn}
    assert CONTEXT.items() <= header["encryptionContext"].items()
    assert "aws-crypto-public-key" in header["encryptionContext"]
    assert kms_calls(out, "generateDataKey") == [(REGION, arn)]
    assert kms_calls(out, "decrypt") == [(REGION, arn)]  # esdk.mjs reads back what it wrote

    message = base64.b64decode(out["ciphertext"])
    plaintext, python_header = esdk.decrypt(source=message, key_provider=strict(session, arn))
    assert plaintext == PLAINTEXT
    assert python_header.encryption_context == header["encryptionContext"]
    assert key_infos(python_header) == {arn}
    assert base64.b64decode(header["messageId"]) == python_header.message_id


@pytest.mark.usefixtures("node")
def test_js_multi_key_decrypts_with_only_the_second_key(
    server: TrentServer, kms: Any, session: Any, esdk: Any, tmp_path: Path
) -> None:
    first, second = new_key(kms), new_key(kms)
    out = js_encrypt(server, tmp_path, {"generator": first, "keyIds": [second]})
    assert js_key_infos(out["header"]) == {first, second}
    assert kms_calls(out, "generateDataKey") == [(REGION, first)]
    assert kms_calls(out, "encrypt") == [(REGION, second)]
    message = base64.b64decode(out["ciphertext"])

    kms.disable_key(KeyId=first)  # so only the second key's data key can open it
    decrypted = js_decrypt(server, tmp_path, {"keyIds": [second]}, message)
    assert base64.b64decode(decrypted["plaintext"]) == PLAINTEXT
    assert kms_calls(decrypted, "decrypt") == [(REGION, second)]
    assert esdk.decrypt(source=message, key_provider=strict(session, second))[0] == PLAINTEXT


@pytest.mark.usefixtures("node")
def test_js_decrypts_a_python_multi_key_message_with_either_key(
    server: TrentServer, kms: Any, session: Any, esdk: Any, tmp_path: Path
) -> None:
    first, second = new_key(kms), new_key(kms)
    message, header = esdk.encrypt(
        source=PLAINTEXT, key_provider=strict(session, first, second), encryption_context=CONTEXT
    )
    for arn in (first, second):
        out = js_decrypt(server, tmp_path, {"keyIds": [arn]}, message)
        assert base64.b64decode(out["plaintext"]) == PLAINTEXT
        assert out["header"]["encryptionContext"] == header.encryption_context
        assert js_key_infos(out["header"]) == {first, second}
        assert kms_calls(out, "decrypt") == [(REGION, arn)]


@pytest.mark.usefixtures("node")
def test_js_discovery_decrypt(server: TrentServer, kms: Any, session: Any, esdk: Any, tmp_path: Path) -> None:
    arn = new_key(kms)
    message, _ = esdk.encrypt(source=PLAINTEXT, key_provider=strict(session, arn), encryption_context=CONTEXT)

    ours = {"discovery": True, "filter": {"accountIDs": [ACCOUNT_ID], "partition": "aws"}}
    out = js_decrypt(server, tmp_path, ours, message)
    assert out["ok"] is True
    assert base64.b64decode(out["plaintext"]) == PLAINTEXT
    assert js_key_infos(out["header"]) == {arn}
    assert kms_calls(out, "decrypt") == [(REGION, arn)]

    # Another account's filter: the keyring refuses before any KMS call.
    theirs = {"discovery": True, "filter": {"accountIDs": [OTHER_ACCOUNT], "partition": "aws"}}
    refused = js_decrypt(server, tmp_path, theirs, message, expectError=True)
    assert refused["ok"] is False
    assert refused["error"]["message"] == "unencryptedDataKey has not been set"
    assert refused["calls"] == []

    # An unmodified program: the SDK's default KMS clients, Trent named only by AWS_ENDPOINT_URL_KMS.
    from_env = js_decrypt(server, tmp_path, {**ours, "clientFromEnv": True}, message)
    assert base64.b64decode(from_env["plaintext"]) == PLAINTEXT
    assert kms_calls(from_env, "decrypt") == [(REGION, arn)]


@pytest.mark.usefixtures("node")
def test_js_multi_region_key_decrypts_in_the_replica_region(
    server: TrentServer, kms: Any, session: Any, esdk: Any, tmp_path: Path
) -> None:
    primary_arn, replica_arn = replicate(server, kms, REPLICA_REGION)
    out = js_encrypt(server, tmp_path, {"mrk": "strict", "generator": primary_arn})
    assert js_key_infos(out["header"]) == {primary_arn}
    message = base64.b64decode(out["ciphertext"])

    in_replica = js_decrypt(server, tmp_path, {"mrk": "strict", "generator": replica_arn}, message)
    assert base64.b64decode(in_replica["plaintext"]) == PLAINTEXT
    assert kms_calls(in_replica, "decrypt") == [(REPLICA_REGION, replica_arn)]
    replica_discovery = {
        "mrk": "discovery",
        "regions": [REPLICA_REGION],
        "filter": {"accountIDs": [ACCOUNT_ID], "partition": "aws"},
    }
    discovered = js_decrypt(server, tmp_path, replica_discovery, message)
    assert base64.b64decode(discovered["plaintext"]) == PLAINTEXT
    assert kms_calls(discovered, "decrypt") == [(REPLICA_REGION, replica_arn)]
    # And the Python SDK reads the JavaScript SDK's MRK message in the replica Region too.
    python_replica = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[replica_arn], botocore_session=session)
    assert esdk.decrypt(source=message, key_provider=python_replica)[0] == PLAINTEXT
