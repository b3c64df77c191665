"""AWS JSON 1.1 on the wire: every malformed request gets an AWS error and a 400, never a 500."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TrentServer

pytestmark = pytest.mark.e2e

KNOWN_CODES = {
    "UnknownOperationException", "SerializationException", "ValidationException", "NotFoundException",
    "InvalidCiphertextException", "MissingAuthenticationTokenException", "IncompleteSignatureException",
    "InvalidSignatureException", "UnsupportedOperationException", "InvalidMarkerException", "TagException",
    "DisabledException", "KMSInvalidStateException", "AlreadyExistsException", "NotAuthorizedException",
    "InvalidKeyUsageException", "IncorrectKeyException", "MalformedPolicyDocumentException",
    "LimitExceededException", "DryRunOperationException", "CustomKeyStoreNotFoundException",
    "InvalidArnException", "InvalidGrantTokenException", "InvalidAliasNameException",
}  # fmt: skip


def signed_headers(
    server: TrentServer, target: str | None, body: bytes, region: str = "us-east-1", secret: str = "test"
) -> dict[str, str]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials("AKIDEXAMPLE", secret), "kms", region).add_auth(request)
    return dict(request.headers.items())


def raw(
    server: TrentServer,
    body: bytes,
    *,
    target: str | None = "TrentService.ListKeys",
    sign: bool = True,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    all_headers = signed_headers(server, target, body) if sign else {}
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, "/", body=body, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        response_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    return response.status, (json.loads(payload) if payload else {}), response_headers


def expect_error(result: tuple[int, dict[str, Any], dict[str, str]], code: str, status: int = 400) -> str:
    got_status, body, headers = result
    assert (got_status, body.get("__type")) == (status, code), body
    assert headers.get("x-amzn-requestid")
    assert headers.get("content-type") == "application/x-amz-json-1.1"
    return str(body.get("message", ""))


def test_success_carries_request_id_and_content_type(server: TrentServer) -> None:
    status, body, headers = raw(server, b"{}")
    assert status == 200
    assert "Keys" in body
    assert len(headers["x-amzn-requestid"]) == 36
    # As AWS KMS: a Date header, no Server header naming the stack.
    assert headers.get("date", "").endswith(" GMT")
    assert "server" not in headers


def test_empty_body_is_an_empty_request(server: TrentServer) -> None:
    status, body, _ = raw(server, b"")
    assert status == 200
    assert isinstance(body["Keys"], list)
    assert isinstance(body["Truncated"], bool)


def test_unknown_operation(server: TrentServer) -> None:
    expect_error(raw(server, b"{}", target="TrentService.StealKeys"), "UnknownOperationException")


def test_missing_target(server: TrentServer) -> None:
    expect_error(raw(server, b"{}", target=None), "UnknownOperationException")


def test_other_service_prefix(server: TrentServer) -> None:
    expect_error(raw(server, b"{}", target="DynamoDB_20120810.ListTables"), "UnknownOperationException")


def test_get_request(server: TrentServer) -> None:
    expect_error(raw(server, b"", method="GET"), "UnknownOperationException")


@pytest.mark.parametrize("body", [b"{", b"[]", b'"text"', b"42", b"null", b'{"a":}', b"\xff\xfe"])
def test_malformed_json(server: TrentServer, body: bytes) -> None:
    expect_error(raw(server, body), "SerializationException")


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("ListKeys", {"Limit": "ten"}),
        ("ListKeys", {"Limit": True}),
        ("ListKeys", {"Limit": 1.5}),
        ("DescribeKey", {"KeyId": 42}),
        ("DescribeKey", {"KeyId": ["a"]}),
        ("Encrypt", {"KeyId": "alias/x", "Plaintext": "not base64!!"}),
        ("Encrypt", {"KeyId": "alias/x", "Plaintext": "aGk=", "EncryptionContext": {"a": 1}}),
        ("Encrypt", {"KeyId": "alias/x", "Plaintext": "aGk=", "EncryptionContext": ["a"]}),
        ("CreateKey", {"Tags": {"TagKey": "a"}}),
    ],
)
def test_wrong_json_types(server: TrentServer, target: str, body: dict[str, Any]) -> None:
    expect_error(raw(server, json.dumps(body).encode(), target=f"TrentService.{target}"), "SerializationException")


def test_validation_message_template(server: TrentServer) -> None:
    message = expect_error(
        raw(server, b'{"NumberOfBytes": 0}', target="TrentService.GenerateRandom"), "ValidationException"
    )
    assert message == (
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_sensitive_values_stay_out_of_messages(server: TrentServer) -> None:
    secret = "canary-plaintext-" + "x" * 4096
    body = json.dumps({"KeyId": "alias/nope", "Plaintext": base64.b64encode(secret.encode()).decode()})
    message = expect_error(raw(server, body.encode(), target="TrentService.Encrypt"), "ValidationException")
    assert "canary" not in message
    assert "Value at 'plaintext'" in message


def test_oversized_body_is_refused(server: TrentServer) -> None:
    body = b'{"KeyId": "' + b"a" * (1024 * 1024) + b'"}'
    expect_error(raw(server, body, target="TrentService.DescribeKey"), "ValidationException")


def test_oversized_content_length_is_refused_without_reading(server: TrentServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", str(50 * 1024 * 1024))
        connection.putheader("X-Amz-Target", "TrentService.ListKeys")
        connection.endheaders()
        connection.send(b"{" * 1000)
        response = connection.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["__type"] == "ValidationException"
    finally:
        connection.close()


def test_missing_authentication(server: TrentServer) -> None:
    expect_error(raw(server, b"{}", sign=False, headers={"X-Amz-Target": "TrentService.ListKeys"}),
                 "MissingAuthenticationTokenException")  # fmt: skip


def test_malformed_authorization(server: TrentServer) -> None:
    expect_error(
        raw(server, b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}),
        "IncompleteSignatureException",
    )


@pytest.mark.parametrize(
    "blob", [b"\x00", b"\x01" * 40, b"\xff" * 4, b"\x01" + b"\x00" * 120, b"\x01\x01" + b"\x07" * 300]
)
def test_garbage_ciphertext(server: TrentServer, blob: bytes) -> None:
    body = json.dumps({"CiphertextBlob": base64.b64encode(blob).decode()}).encode()
    expect_error(raw(server, body, target="TrentService.Decrypt"), "InvalidCiphertextException")


def test_empty_ciphertext_is_a_validation_error(server: TrentServer) -> None:
    body = json.dumps({"CiphertextBlob": ""}).encode()
    expect_error(raw(server, body, target="TrentService.Decrypt"), "ValidationException")


def test_every_model_operation_answers_with_an_aws_error_or_success(server: TrentServer) -> None:
    from trent.api.codec import ServiceCodec

    for operation in ServiceCodec("kms").operation_names:
        status, body, _ = raw(server, b"{}", target=f"TrentService.{operation}")
        assert status in (200, 400), (operation, status, body)
        if status == 400:
            assert body["__type"] in KNOWN_CODES, (operation, body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
member_names = st.sampled_from(
    ["KeyId", "Plaintext", "CiphertextBlob", "EncryptionContext", "Limit", "Marker", "Tags", "NumberOfBytes",
     "KeySpec", "AliasName", "TargetKeyId", "Description", "PendingWindowInDays", "GrantTokens", "DryRun"]
)  # fmt: skip
operations = st.sampled_from(
    ["CreateKey", "DescribeKey", "Encrypt", "Decrypt", "GenerateDataKey", "ListKeys", "ListAliases",
     "CreateAlias", "TagResource", "ScheduleKeyDeletion", "GenerateRandom", "ReEncrypt", "Sign"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operation=operations, body=st.dictionaries(member_names, json_values, max_size=4))
def test_fuzzed_bodies_never_cause_a_server_error(server: TrentServer, operation: str, body: dict[str, Any]) -> None:
    status, payload, headers = raw(server, json.dumps(body).encode(), target=f"TrentService.{operation}")
    assert status in (200, 400), payload
    assert headers["x-amzn-requestid"]
    if status == 400:
        assert payload["__type"] in KNOWN_CODES, payload


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_fuzzed_bytes_never_cause_a_server_error(server: TrentServer, body: bytes) -> None:
    status, payload, _ = raw(server, body, target="TrentService.Encrypt")
    assert status == 400
    assert payload["__type"] in KNOWN_CODES
