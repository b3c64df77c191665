"""ML-KEM keys in the domain tables and the audit shaping: usages, algorithm lists, grant operations,
GetKeyLastUsage tracking, CloudTrail read-only flags and hidden members (no sockets)."""

from __future__ import annotations

import pytest

from trent.api.audit_records import RecordShaper, is_read_only
from trent.api.model import load_model
from trent.domain.audit import TRACKED_OPERATIONS
from trent.domain.grants import grantable_operations
from trent.domain.keys import UNSUPPORTED_KEY_SPECS, USAGES_BY_SPEC, algorithms_for

ML_KEM_SPECS = ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"]


def test_every_ml_kem_spec_of_the_model_is_known() -> None:
    model = load_model("kms")
    spec_enum = model.input_shape("CreateKey").members()["KeySpec"].enum  # type: ignore[union-attr]
    usage_enum = model.input_shape("CreateKey").members()["KeyUsage"].enum  # type: ignore[union-attr]
    assert {s for s in spec_enum if s.startswith("ML_KEM")} == set(ML_KEM_SPECS)
    assert "ENCAPSULATE_DECAPSULATE" in usage_enum


@pytest.mark.parametrize("spec", ML_KEM_SPECS)
def test_usage_and_algorithms(spec: str) -> None:
    assert USAGES_BY_SPEC[spec] == {"ENCAPSULATE_DECAPSULATE"}
    assert algorithms_for(spec, "ENCAPSULATE_DECAPSULATE") == ("EncapsulationAlgorithms", ("ML_KEM",))
    assert algorithms_for("ECC_NIST_P256", "ENCAPSULATE_DECAPSULATE") == ("EncapsulationAlgorithms", ())
    assert not any("ENCAPSULATE_DECAPSULATE" in usages for s, usages in USAGES_BY_SPEC.items() if s not in ML_KEM_SPECS)


def test_only_ml_kem_512_is_unsupported() -> None:
    assert frozenset({"ML_KEM_512"}) == UNSUPPORTED_KEY_SPECS


def test_grant_operations() -> None:
    grantable = grantable_operations("ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
    assert grantable == {"Encapsulate", "Decapsulate", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"}
    for spec, usage in [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "KEY_AGREEMENT")]:
        assert not {"Encapsulate", "Decapsulate"} & grantable_operations(spec, usage)
    model_operations = load_model("kms").input_shape("CreateGrant").members()["Operations"].list_member().enum  # type: ignore[union-attr]
    assert {"Encapsulate", "Decapsulate"} <= set(model_operations)


def test_tracked_and_read_only() -> None:
    assert {"Encapsulate", "Decapsulate"} <= TRACKED_OPERATIONS
    assert is_read_only("Encapsulate")
    assert is_read_only("Decapsulate")


def test_records_leave_out_the_secret_and_the_ciphertext() -> None:
    shaper = RecordShaper(load_model("kms"))
    request = {"KeyId": "k", "SharedSecretCiphertextBlob": b"c" * 1088, "EncapsulationAlgorithm": "ML_KEM"}
    assert shaper.request_parameters("Decapsulate", request) == {"keyId": "k", "encapsulationAlgorithm": "ML_KEM"}
    grant_tokens = {"KeyId": "k", "EncapsulationAlgorithm": "ML_KEM", "GrantTokens": ["t"], "DryRun": False}
    assert shaper.request_parameters("Encapsulate", grant_tokens) == {
        "keyId": "k",
        "encapsulationAlgorithm": "ML_KEM",
        "dryRun": False,
    }
    response = {
        "KeyId": "arn",
        "SharedSecret": b"s" * 32,
        "SharedSecretCiphertextBlob": b"c",
        "EncapsulationAlgorithm": "ML_KEM",
    }
    assert shaper.response_elements("Encapsulate", response) is None
    assert shaper.response_elements("Decapsulate", response) is None
