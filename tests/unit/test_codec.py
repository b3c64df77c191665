"""The model-driven AWS JSON 1.1 codec: decoding, Coral validation messages, encoding."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import orjson
import pybase64
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trent.api.codec import OperationCodec, ServiceCodec
from trent.api.model import Shape, load_model
from trent.domain.errors import SerializationException, ValidationException

CODEC = ServiceCodec()
MODEL = load_model("kms")
BOTOCORE_KMS = botocore.session.get_session().get_service_model("kms")

# From the model's documentation, not its shapes: these take no output structure at all.
NO_OUTPUT = (
    "CreateAlias",
    "DeleteAlias",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "PutKeyPolicy",
    "RetireGrant",
    "RevokeGrant",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
)
EMPTY_OUTPUT = (
    "ConnectCustomKeyStore",
    "DeleteCustomKeyStore",
    "DisconnectCustomKeyStore",
    "UpdateCustomKeyStore",
)

_START_OF_MAP = "Start of structure or map found where not expected."
NOT_NULL = "failed to satisfy constraint: Member must not be null"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def op(name: str) -> OperationCodec:
    codec = CODEC.operation(name)
    assert codec is not None, name
    return codec


def body(value: Any) -> bytes:
    return orjson.dumps(value)


def b64(data: bytes) -> str:
    return pybase64.b64encode(data).decode("ascii")


def validation_message(operation: str, request: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        op(operation).decode(body(request))
    return caught.value.message


def serialization_message(operation: str, raw: bytes) -> str:
    with pytest.raises(SerializationException) as caught:
        op(operation).decode(raw)
    return caught.value.message


# ----------------------------------------------------------------- the model and compilation


def test_operations_are_the_models() -> None:
    assert CODEC.operation_names == tuple(BOTOCORE_KMS.operation_names)
    assert {"Encrypt", "Decrypt", "CreateKey", "GenerateRandom"} <= set(CODEC.operation_names)


def test_unknown_operation_is_none() -> None:
    assert CODEC.operation("Frobnicate") is None
    assert CODEC.operation("encrypt") is None


@pytest.mark.parametrize("name", MODEL.operation_names)
def test_every_operation_compiles_and_reports_its_required_members(name: str) -> None:
    codec = op(name)
    assert codec.name == name
    shape = MODEL.input_shape(name)
    assert shape is not None
    required = [member for member in shape.members() if member in shape.required]
    if not required:
        assert codec.decode(b"{}") == {}
        return
    expected = [f"Value null at '{member[0].lower()}{member[1:]}' {NOT_NULL}" for member in required]
    noun = "error" if len(expected) == 1 else "errors"
    assert validation_message(name, {}) == f"{len(expected)} validation {noun} detected: " + "; ".join(expected)


@pytest.mark.parametrize("service", ["kms", "sts", "iam", "cloudtrail"])
def test_other_services_models_compile(service: str) -> None:
    # pytest turns warnings into errors, so a pattern Python reads differently would fail here too.
    codec = ServiceCodec(service)
    assert codec.operation_names
    assert all(codec.operation(name) is not None for name in codec.operation_names)


def test_model_is_loaded_once() -> None:
    assert load_model("kms") is load_model("kms")
    assert ServiceCodec().model is CODEC.model


# ----------------------------------------------------------------- decoding


def test_empty_body_is_an_empty_object() -> None:
    assert op("ListKeys").decode(b"") == {}
    assert op("ListKeys").decode(b" \r\n\t") == {}
    assert op("ListKeys").decode(b"{}") == {}


def test_empty_body_still_needs_required_members() -> None:
    with pytest.raises(ValidationException, match="at 'keyId'"):
        op("DescribeKey").decode(b"")


def test_encrypt_request_decodes_to_python_values() -> None:
    plaintext = bytes(range(256)) * 16
    request = {
        "KeyId": "alias/app",
        "Plaintext": b64(plaintext),
        "EncryptionContext": {"purpose": "test", "tenant": "acme"},
        "GrantTokens": ["t1"],
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DryRun": False,
    }
    decoded = op("Encrypt").decode(body(request))
    assert decoded == {**request, "Plaintext": plaintext}
    assert type(decoded["Plaintext"]) is bytes


def test_unknown_members_are_dropped() -> None:
    decoded = op("DescribeKey").decode(body({"KeyId": "k", "Bogus": {"x": [1]}, "keyId": 3}))
    assert decoded == {"KeyId": "k"}


def test_nested_unknown_members_are_dropped() -> None:
    request = {"KeyId": "k", "Tags": [{"TagKey": "a", "TagValue": "b", "Extra": 1}]}
    assert op("TagResource").decode(body(request)) == {
        "KeyId": "k",
        "Tags": [{"TagKey": "a", "TagValue": "b"}],
    }


def test_null_members_are_absent() -> None:
    assert op("Encrypt").decode(body({"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": None})) == {
        "KeyId": "k",
        "Plaintext": b"hi",
    }
    message = validation_message("Encrypt", {"KeyId": None, "Plaintext": "aGk="})
    assert message == f"1 validation error detected: Value null at 'keyId' {NOT_NULL}"


def test_null_list_entries_are_dropped() -> None:
    decoded = op("Encrypt").decode(body({"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": [None, "t", None]}))
    assert decoded["GrantTokens"] == ["t"]


def test_null_map_value_is_rejected() -> None:
    serialization_message("Encrypt", body({"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": None}}))


def test_empty_blob_decodes_to_empty_bytes_then_fails_its_minimum() -> None:
    message = validation_message("Encrypt", {"KeyId": "k", "Plaintext": ""})
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'KeyId': 'k'}", b'{"KeyId": "k",}', b"\xff\xfe{}", b'{"a": NaN}', b"\xef\xbb\xbf{}", b"nul"],
)
def test_malformed_json_is_a_serialization_error(raw: bytes) -> None:
    message = serialization_message("DescribeKey", raw)
    assert message
    assert "KeyId" not in message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[]", "Start of list found where not expected"),
        (b'[{"KeyId": "k"}]', "Start of list found where not expected"),
        (b'"KeyId"', "Expected null"),
        (b"42", "Expected null"),
        (b"true", "Expected null"),
        (b"null", "Expected null"),
    ],
)
def test_top_level_must_be_an_object(raw: bytes, message: str) -> None:
    assert serialization_message("DescribeKey", raw) == message


@pytest.mark.parametrize(
    ("operation", "request_body", "message"),
    [
        ("DescribeKey", {"KeyId": 5}, "NUMBER_VALUE can not be converted to a String"),
        ("DescribeKey", {"KeyId": 5.5}, "NUMBER_VALUE can not be converted to a String"),
        ("DescribeKey", {"KeyId": True}, "TRUE_VALUE can not be converted to a String"),
        ("DescribeKey", {"KeyId": False}, "FALSE_VALUE can not be converted to a String"),
        ("DescribeKey", {"KeyId": ["k"]}, "Start of list found where not expected"),
        ("DescribeKey", {"KeyId": {"k": "v"}}, _START_OF_MAP),
        ("GenerateRandom", {"NumberOfBytes": "32"}, "STRING_VALUE can not be converted to an Integer"),
        ("GenerateRandom", {"NumberOfBytes": True}, "TRUE_VALUE can not be converted to an Integer"),
        ("GenerateRandom", {"NumberOfBytes": 1.5}, "NUMBER_VALUE can not be converted to an Integer"),
        ("GenerateRandom", {"NumberOfBytes": 2**31}, "NUMBER_VALUE can not be converted to an Integer"),
        ("GenerateRandom", {"NumberOfBytes": [32]}, "Start of list found where not expected"),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "DryRun": "true"},
            "STRING_VALUE can not be converted to a Boolean",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "DryRun": 1},
            "NUMBER_VALUE can not be converted to a Boolean",
        ),
        ("Encrypt", {"KeyId": "k", "Plaintext": 12}, "NUMBER_VALUE can not be converted to a Blob"),
        ("Encrypt", {"KeyId": "k", "Plaintext": ["aGk="]}, "Start of list found where not expected"),
        ("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": "t"}, "Expected list or null"),
        ("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": {"t": "t"}}, _START_OF_MAP),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": [1]},
            "NUMBER_VALUE can not be converted to a String",
        ),
        ("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": "a=b"}, "Expected map or null"),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": ["a"]},
            "Start of list found where not expected",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": 1}},
            "NUMBER_VALUE can not be converted to a String",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": {"b": "c"}}},
            _START_OF_MAP,
        ),
        ("TagResource", {"KeyId": "k", "Tags": ["a"]}, "Expected null"),
        ("TagResource", {"KeyId": "k", "Tags": [["a"]]}, "Start of list found where not expected"),
        ("CreateGrant", {"KeyId": "k", "Operations": ["Decrypt"], "Constraints": 7}, "Expected null"),
    ],
)
def test_wrong_json_types_are_serialization_errors(operation: str, request_body: Any, message: str) -> None:
    assert serialization_message(operation, body(request_body)) == message


@pytest.mark.parametrize("value", ["aGk", "aGk=\n", "a Gk=", "aGk=aGk=", "-_8=", "aGk=====", "!!!!", "é"])
def test_bad_base64_is_a_serialization_error(value: str) -> None:
    message = serialization_message("Encrypt", body({"KeyId": "k", "Plaintext": value}))
    assert message
    assert value.strip() not in message


def test_integral_float_is_an_integer() -> None:
    decoded = op("GenerateRandom").decode(b'{"NumberOfBytes": 32.0}')
    assert decoded == {"NumberOfBytes": 32}
    assert type(decoded["NumberOfBytes"]) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1893456000, datetime(2030, 1, 1, tzinfo=UTC)),
        (1893456000.25, datetime(2030, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T02:00:00+02:00", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T00:00:00", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc_datetimes(value: Any, expected: datetime) -> None:
    request = {"KeyId": "k", "ImportToken": "AAE=", "EncryptedKeyMaterial": "AAE=", "ValidTo": value}
    decoded = op("ImportKeyMaterial").decode(body(request))["ValidTo"]
    assert decoded == expected
    assert decoded.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["tomorrow", "", True, [1], {"a": 1}, 1e300])
def test_bad_timestamps_are_serialization_errors(value: Any) -> None:
    request = {"KeyId": "k", "ImportToken": "AAE=", "EncryptedKeyMaterial": "AAE=", "ValidTo": value}
    serialization_message("ImportKeyMaterial", body(request))


def test_serialization_error_wins_over_validation_errors() -> None:
    # Coral deserializes before it validates: a type error anywhere hides constraint violations.
    message = serialization_message("ListKeys", body({"Limit": 0, "Marker": 5}))
    assert message == "NUMBER_VALUE can not be converted to a String"


# ----------------------------------------------------------------- Coral validation messages


def test_number_of_bytes_below_minimum() -> None:
    assert validation_message("GenerateRandom", {"NumberOfBytes": 0}) == (
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_number_of_bytes_above_maximum() -> None:
    assert validation_message("GenerateRandom", {"NumberOfBytes": 1025}) == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024"
    )


@pytest.mark.parametrize("size", [1, 4096])
def test_plaintext_at_its_limits_is_accepted(size: int) -> None:
    assert len(op("Encrypt").decode(body({"KeyId": "k", "Plaintext": b64(b"x" * size)}))["Plaintext"]) == size


def test_plaintext_too_long_omits_the_value() -> None:
    assert validation_message("Encrypt", {"KeyId": "k", "Plaintext": b64(b"x" * 4097)}) == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_enum_violation_lists_the_models_values_in_order() -> None:
    key_spec = MODEL.shape("KeySpec")
    assert "SYMMETRIC_DEFAULT" in key_spec.enum
    assert validation_message("CreateKey", {"KeySpec": "HMAC_random"}) == (
        "1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(key_spec.enum)}]"
    )


def test_tag_key_too_long_has_a_nested_path() -> None:
    tag_key = "k" * 129
    request = {"KeyId": "k", "Tags": [{"TagKey": "ok", "TagValue": ""}, {"TagKey": tag_key, "TagValue": "v"}]}
    assert validation_message("TagResource", request) == (
        f"1 validation error detected: Value '{tag_key}' at 'tags.2.member.tagKey' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )


def test_first_tag_is_number_one() -> None:
    message = validation_message("CreateKey", {"Tags": [{"TagKey": "k" * 129, "TagValue": "v"}]})
    assert "at 'tags.1.member.tagKey'" in message


def test_required_member_inside_a_list_entry() -> None:
    assert validation_message("TagResource", {"KeyId": "k", "Tags": [{"TagKey": "a"}]}) == (
        "1 validation error detected: Value null at 'tags.1.member.tagValue' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_missing_required_key_id() -> None:
    assert validation_message("DescribeKey", {}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
    )


def test_two_errors_in_member_order() -> None:
    assert validation_message("GenerateDataKey", {"KeyId": "", "NumberOfBytes": 2000}) == (
        "2 validation errors detected: "
        "Value '' at 'keyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '2000' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024"
    )


def test_length_and_pattern_are_separate_errors() -> None:
    assert validation_message("CreateAlias", {"AliasName": "", "TargetKeyId": "k"}) == (
        "2 validation errors detected: "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_alias_name_pattern() -> None:
    assert validation_message("CreateAlias", {"AliasName": "alias/my key", "TargetKeyId": "k"}) == (
        "1 validation error detected: Value 'alias/my key' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_pattern_must_match_the_whole_value() -> None:
    # PolicyNameType is '[\w]+' without anchors; Coral still requires a full match.
    message = validation_message("GetKeyPolicy", {"KeyId": "k", "PolicyName": "default policy"})
    assert "Member must satisfy regular expression pattern: [\\w]+" in message
    assert op("GetKeyPolicy").decode(body({"KeyId": "k", "PolicyName": "default"}))["PolicyName"] == "default"


def test_pattern_word_class_is_ascii_as_in_java() -> None:
    validation_message("GetKeyPolicy", {"KeyId": "k", "PolicyName": "défaut"})


def test_list_length_and_element_enum() -> None:
    message = validation_message("CreateGrant", {"KeyId": "k", "Operations": ["Decrypt", "Bogus"]})
    operations = MODEL.shape("GrantOperation").enum
    assert message == (
        "1 validation error detected: Value '[Decrypt, Bogus]' at 'operations' failed to satisfy constraint: "
        f"Member must satisfy constraint: [Member must satisfy enum value set: [{', '.join(operations)}]]"
    )


def test_grant_tokens_list_too_long() -> None:
    tokens = [f"t{i}" for i in range(11)]
    assert validation_message("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": tokens}) == (
        f"1 validation error detected: Value '[{', '.join(tokens)}]' at 'grantTokens' failed to satisfy "
        "constraint: Member must have length less than or equal to 10"
    )


def test_grant_token_too_short_is_reported_for_the_list() -> None:
    message = validation_message("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "GrantTokens": ["t", ""]})
    assert message == (
        "1 validation error detected: Value '[t, ]' at 'grantTokens' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 8192, "
        "Member must have length greater than or equal to 1]"
    )


def test_sensitive_strings_are_never_echoed() -> None:
    password = "short1"
    secret = "not-base32-secret"
    request = {
        "CustomKeyStoreName": "store",
        "KeyStorePassword": password,
        "XksProxyAuthenticationCredential": {"AccessKeyId": secret, "RawSecretAccessKey": "x"},
    }
    message = validation_message("CreateCustomKeyStore", request)
    assert password not in message
    assert secret not in message
    assert message.startswith("4 validation errors detected: ")
    assert "Value at 'keyStorePassword' failed to satisfy constraint" in message
    assert "Value at 'xksProxyAuthenticationCredential.accessKeyId' failed" in message
    assert "Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed" in message


def test_blob_values_are_never_echoed_even_when_not_sensitive() -> None:
    message = validation_message("Decrypt", {"CiphertextBlob": b64(b"c" * 6145)})
    assert message == (
        "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: "
        "Member must have length less than or equal to 6144"
    )


def test_errors_are_collected_across_nesting() -> None:
    request = {
        "KeyId": "",
        "Tags": [{"TagKey": "", "TagValue": "v" * 257}],
    }
    message = validation_message("TagResource", request)
    assert message.startswith("3 validation errors detected: Value '' at 'keyId'")
    assert "Value '' at 'tags.1.member.tagKey' failed" in message
    assert "at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than" in message


# ----------------------------------------------------------------- encoding


def test_encrypt_response() -> None:
    blob = bytes(range(256)) * 17
    encoded = op("Encrypt").encode(
        {"CiphertextBlob": blob, "KeyId": KEY_ARN, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    )
    assert orjson.loads(encoded) == {
        "CiphertextBlob": b64(blob),
        "KeyId": KEY_ARN,
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }


def test_encode_omits_none() -> None:
    encoded = op("Encrypt").encode({"CiphertextBlob": b"c", "KeyId": KEY_ARN, "KeyMaterialId": None})
    assert orjson.loads(encoded) == {"CiphertextBlob": "Yw==", "KeyId": KEY_ARN}


def test_encode_nested_structures_lists_and_datetimes() -> None:
    created = datetime(2024, 11, 28, 12, 0, 0, 123000, tzinfo=UTC)
    encoded = op("DescribeKey").encode(
        {
            "KeyMetadata": {
                "KeyId": "k",
                "CreationDate": created,
                "DeletionDate": None,
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "MultiRegionConfiguration": {"ReplicaKeys": [{"Arn": KEY_ARN, "Region": "eu-west-1"}]},
            }
        }
    )
    assert encoded == (
        b'{"KeyMetadata":{"KeyId":"k","CreationDate":1732795200.123,"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],'
        b'"MultiRegionConfiguration":{"ReplicaKeys":[{"Arn":"' + KEY_ARN.encode() + b'","Region":"eu-west-1"}]}}}'
    )


def test_datetimes_of_any_zone_and_naive_ones_are_utc() -> None:
    aware = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 1, 1, 0, 0)  # how a naive value is read is the point
    for value in (aware, naive):
        encoded = op("GetParametersForImport").encode({"ParametersValidTo": value})
        assert orjson.loads(encoded) == {"ParametersValidTo": 1704067200.0}


@pytest.mark.parametrize("name", NO_OUTPUT)
def test_operations_without_output_shape_answer_an_empty_body(name: str) -> None:
    assert MODEL.output_shape(name) is None
    assert op(name).encode(None) == b""
    assert op(name).encode({}) == b""
    with pytest.raises(TypeError):
        op(name).encode({"KeyId": "k"})


@pytest.mark.parametrize("name", EMPTY_OUTPUT)
def test_empty_output_structures_answer_an_empty_object(name: str) -> None:
    assert op(name).encode({}) == b"{}"


def test_unknown_result_members_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="Plaintext"):
        op("Encrypt").encode({"CiphertextBlob": b"c", "Plaintext": b"secret"})
    with pytest.raises(TypeError, match="Secret"):
        op("DescribeKey").encode({"KeyMetadata": {"KeyId": "k", "Secret": "x"}})


def test_only_model_members_per_output_structure() -> None:
    # Every output member name is accepted; encode never invents names.
    for name in MODEL.operation_names:
        shape = MODEL.output_shape(name)
        if shape is None:
            continue
        assert set(op(name).output_members) == set(shape.members())


# ----------------------------------------------------------------- round trips through botocore


SERIALIZER = botocore.serialize.create_serializer("json", include_validation=True)
PARSER = botocore.parsers.create_parser("json")


@pytest.mark.parametrize(
    ("name", "params"),
    [
        (
            "Encrypt",
            {
                "KeyId": "alias/app",
                "Plaintext": b"\x00secret\xff",
                "EncryptionContext": {"a": "1", "b": "2"},
                "GrantTokens": ["t"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "DryRun": True,
            },
        ),
        (
            "CreateKey",
            {
                "Description": "d",
                "KeyUsage": "SIGN_VERIFY",
                "KeySpec": "ECC_NIST_P256",
                "Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagKey": "c", "TagValue": ""}],
                "MultiRegion": False,
            },
        ),
        (
            "ImportKeyMaterial",
            {
                "KeyId": "k",
                "ImportToken": b"\x01\x02",
                "EncryptedKeyMaterial": b"\x03" * 32,
                "ValidTo": datetime(2030, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
                "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            },
        ),
        (
            "CreateGrant",
            {
                "KeyId": "k",
                "GranteePrincipal": "arn:aws:iam::111122223333:role/r",
                "Operations": ["Decrypt", "Encrypt"],
                "Constraints": {"EncryptionContextSubset": {"a": "b"}},
                "Name": "g",
            },
        ),
        ("ListKeys", {"Limit": 10, "Marker": "m"}),
        ("GenerateRandom", {"NumberOfBytes": 1024}),
    ],
)
def test_requests_botocore_sends_decode_to_its_params(name: str, params: dict[str, Any]) -> None:
    request = SERIALIZER.serialize_to_request(params, BOTOCORE_KMS.operation_model(name))
    assert op(name).decode(request["body"]) == params


@pytest.mark.parametrize(
    ("name", "result"),
    [
        (
            "Encrypt",
            {"CiphertextBlob": b"\x00" * 100, "KeyId": KEY_ARN, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        ),
        (
            "DescribeKey",
            {
                "KeyMetadata": {
                    "AWSAccountId": "111122223333",
                    "KeyId": "k",
                    "Arn": KEY_ARN,
                    "CreationDate": datetime(2024, 11, 28, 12, 0, 0, 125000, tzinfo=UTC),
                    "Enabled": True,
                    "KeyState": "Enabled",
                    "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                }
            },
        ),
        (
            "ListAliases",
            {
                "Aliases": [{"AliasName": "alias/a", "AliasArn": KEY_ARN, "TargetKeyId": "k"}],
                "Truncated": False,
            },
        ),
        (
            "ListResourceTags",
            {"Tags": [{"TagKey": "a", "TagValue": "b"}], "Truncated": True, "NextMarker": "n"},
        ),
        ("GenerateRandom", {"Plaintext": b"\x01" * 32}),
        ("GetKeyRotationStatus", {"KeyRotationEnabled": True, "RotationPeriodInDays": 365, "KeyId": KEY_ARN}),
    ],
)
def test_responses_parse_in_botocore(name: str, result: dict[str, Any]) -> None:
    encoded = op(name).encode(result)
    parsed = PARSER.parse(
        {"body": encoded, "headers": {}, "status_code": 200}, BOTOCORE_KMS.operation_model(name).output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == result


def test_empty_body_parses_in_botocore_for_no_output_operations() -> None:
    assert op("CreateAlias").encode(None) == b""


# ----------------------------------------------------------------- sensitivity


def test_sensitive_members() -> None:
    assert CODEC.is_sensitive_member("Encrypt", "Plaintext")
    assert not CODEC.is_sensitive_member("Encrypt", "KeyId")
    assert CODEC.is_sensitive_member("Decrypt", "Plaintext", output=True)
    assert not CODEC.is_sensitive_member("Decrypt", "CiphertextBlob")
    assert CODEC.is_sensitive_member("GenerateDataKeyPair", "PrivateKeyPlaintext", output=True)
    # The structure itself is not marked; its members are.
    assert CODEC.is_sensitive_member("CreateCustomKeyStore", "XksProxyAuthenticationCredential")
    assert CODEC.is_sensitive_member("CreateCustomKeyStore", "KeyStorePassword")


def test_unloggable_members_add_blobs() -> None:
    assert CODEC.unloggable_members("Encrypt") == {"Plaintext"}
    assert CODEC.unloggable_members("Encrypt", output=True) == {"CiphertextBlob"}
    # Recipient holds an attestation document, which is a blob.
    assert CODEC.unloggable_members("Decrypt") == {"CiphertextBlob", "Recipient"}
    assert CODEC.is_binary_member("Decrypt", "CiphertextBlob")
    assert CODEC.unloggable_members("DescribeKey") == frozenset()


@pytest.mark.parametrize("name", MODEL.operation_names)
def test_every_sensitive_shape_is_covered(name: str) -> None:
    for output, shape in ((False, MODEL.input_shape(name)), (True, MODEL.output_shape(name))):
        if shape is None:
            continue
        for member, member_shape in shape.members().items():
            if member_shape.sensitive or member_shape.type_name == "blob":
                assert member in CODEC.unloggable_members(name, output=output)


# ----------------------------------------------------------------- property: decode never crashes

# orjson cannot encode lone surrogates, and no client could send them either.
_CHARACTERS = st.characters(exclude_categories=["Cs"])
_TEXT = st.text(_CHARACTERS, max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
    | st.binary(max_size=12).map(b64)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)


def _mostly(typed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The typed value nine times in ten, any JSON value otherwise (one wrong member per request)."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda roll: _JSON if roll == 0 else typed)


def _typed(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    """Mostly well-typed values for a shape, so that deep members and constraints get exercised."""
    kind = shape.type_name
    if depth > 3:
        return _JSON
    if kind == "structure":
        members = {name: _mostly(_typed(member, depth + 1)) for name, member in shape.members().items()}
        return st.fixed_dictionaries({}, optional=members)
    if kind == "list":
        return st.lists(_typed(shape.list_member(), depth + 1), max_size=12)
    if kind == "map":
        return st.dictionaries(_TEXT, _typed(shape.map_value(), depth + 1), max_size=10)
    if kind == "string":
        near = st.text(_CHARACTERS, min_size=0, max_size=int(shape.min or 0) + 3)
        return st.sampled_from(shape.enum) | near if shape.enum else near
    if kind == "blob":
        return st.binary(max_size=20).map(b64) | st.just("")
    if kind in ("integer", "long"):
        low, high = (
            int(shape.min if shape.min is not None else -5),
            int(shape.max if shape.max is not None else 5),
        )
        return st.integers(min_value=low - 2, max_value=high + 2)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(min_value=-(2**40), max_value=2**40) | st.floats(allow_nan=False, allow_infinity=False)
    return _JSON


@functools.cache
def _request_strategy(name: str) -> st.SearchStrategy[Any]:
    shape = MODEL.input_shape(name)
    assert shape is not None
    unknown = st.dictionaries(_TEXT, _JSON, max_size=2)
    return st.tuples(_typed(shape, 0), unknown).map(lambda pair: {**pair[1], **pair[0]})


_REQUEST = st.sampled_from(MODEL.operation_names).flatmap(
    lambda name: st.tuples(st.just(name), _request_strategy(name))
)
_COUNT = re.compile(r"^(\d+) validation errors? detected: Value")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_REQUEST)
def test_decode_raises_only_protocol_errors(case: tuple[str, Any]) -> None:
    name, request = case
    codec = op(name)
    error: Exception | None = None
    try:
        decoded = codec.decode(orjson.dumps(request))
    except (ValidationException, SerializationException) as caught:
        error = caught
    if isinstance(error, ValidationException):
        # The count in the summary agrees with the elements that follow it.
        match = _COUNT.match(error.message)
        assert match is not None, error.message
        assert error.message.count("failed to satisfy constraint") == int(match.group(1))
    elif isinstance(error, SerializationException):
        assert error.message
    else:
        assert isinstance(decoded, dict)
        assert set(decoded) <= set(codec.input_members)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODEL.operation_names), _JSON)
def test_decode_of_arbitrary_json_raises_only_protocol_errors(name: str, value: Any) -> None:
    try:
        result = op(name).decode(orjson.dumps(value))
    except (ValidationException, SerializationException):
        return
    assert isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODEL.operation_names), st.binary(max_size=64))
def test_decode_of_arbitrary_bytes_raises_only_protocol_errors(name: str, raw: bytes) -> None:
    try:
        result = op(name).decode(raw)
    except (ValidationException, SerializationException):
        return
    assert isinstance(result, dict)
