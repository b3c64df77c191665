"""Loading the Wycheproof files shared beside the checkout, and the written-down `acceptable` decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

WYCHEPROOF = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "wycheproof"

needs_wycheproof = pytest.mark.skipif(
    not WYCHEPROOF.is_dir(), reason="shared/vectors/wycheproof not present beside the checkout"
)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WYCHEPROOF / name).read_text())
    return data


def cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (group, test) pair of a file."""
    return [(group, test) for group in load(name)["testGroups"] for test in group["tests"]]


_ECDH_FILES = [f"ecdh_{curve}_test.json" for curve in ("secp256r1", "secp384r1", "secp521r1", "secp256k1")]
_RSA_PKCS1_FILES = [f"rsa_signature_{bits}_sha{h}_test.json" for bits in (2048, 3072, 4096) for h in (256, 384, 512)]

_ECDH_FLAG_DECISIONS: dict[str, tuple[bool, str]] = {
    "CompressedPublic": (True, "a compressed point in the SPKI is the same valid point; cryptography decompresses it"),
    "CompressedPoint": (True, "same case as CompressedPublic: valid point, compressed encoding"),
    "UnnamedCurve": (False, "explicit curve parameters are refused: KMS keys use named curves only"),
    "UnusedParam": (False, "comes with explicit parameters, which are refused (named curves only)"),
    "WrongOrder": (False, "explicit parameters with a wrong order are refused (named curves only)"),
    "ModifiedGenerator": (False, "explicit parameters with another generator are refused (named curves only)"),
    "ModifiedCofactor": (False, "explicit parameters with another cofactor are refused (named curves only)"),
    "NoCofactor": (False, "explicit parameters without a cofactor are refused (named curves only)"),
    "ModifiedCurveParameter": (False, "explicit parameters with altered a/b are refused (named curves only)"),
    "InvalidAsn": (False, "peer keys must be strict DER SubjectPublicKeyInfo; BER oddities are refused"),
}

# (file name, flag) -> (accepted?, reason). Tests assert the observed behaviour matches each entry, and that every
# `acceptable` case in the files has an entry for each of its flags.
ACCEPTABLE: dict[tuple[str, str], tuple[bool, str]] = {
    **{(f, flag): decision for f in _ECDH_FILES for flag, decision in _ECDH_FLAG_DECISIONS.items()},
    **{
        (f, "MissingNull"): (False, "DigestInfo must carry the NULL parameters KMS itself emits; strict is safer")
        for f in _RSA_PKCS1_FILES
    },
}


def decision(name: str, test: dict[str, Any]) -> bool:
    """The written-down decision for an `acceptable` case; every flag of the case must agree."""
    decisions = {ACCEPTABLE[(name, flag)][0] for flag in test["flags"]}
    assert len(decisions) == 1, f"{name} tcId {test['tcId']}: flags {test['flags']} have conflicting decisions"
    return decisions.pop()


def expected(name: str, test: dict[str, Any]) -> bool:
    result = test["result"]
    if result == "acceptable":
        return decision(name, test)
    assert result in ("valid", "invalid"), result
    return bool(result == "valid")
