"""Wycheproof vectors through Trent's own asymmetric and HMAC functions (not cryptography's directly)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.vectors._wycheproof import ACCEPTABLE, WYCHEPROOF, cases, expected, load, needs_wycheproof
from trent.crypto import asymmetric, hmac_keys

pytestmark = needs_wycheproof

_CURVE_SPEC = {
    "secp256r1": "ECC_NIST_P256",
    "secp384r1": "ECC_NIST_P384",
    "secp521r1": "ECC_NIST_P521",
    "secp256k1": "ECC_SECG_P256K1",
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "secp521r1": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}
_SHA_BITS = {"SHA-1": 160, "SHA-224": 224, "SHA-256": 256, "SHA-384": 384, "SHA-512": 512}

# PSS files whose groups are not a KMS algorithm (salt length != hash length, or MGF1 hash != hash), with the reason.
# All PSS files shipped in shared/vectors match KMS's parameters, so nothing is skipped; a new file that does not
# match makes test_pss_files_are_kms_parameters fail until it is listed here.
PSS_NOT_KMS: dict[str, str] = {}


def _verify(spec: str, spki: bytes, algorithm: str, msg: bytes, sig: bytes) -> bool:
    try:
        return asymmetric.verify(spec, spki, algorithm, msg, "RAW", sig)
    except asymmetric.InvalidPublicKey:
        return False


def _mismatches(name: str, results: list[tuple[dict[str, Any], bool]]) -> list[str]:
    return [
        f"{name} tcId {t['tcId']} ({t['result']}, {t['flags']}): got {'accept' if got else 'reject'}"
        for t, got in results
        if got != expected(name, t)
    ]


def _assert_acceptables_are_decided(name: str) -> None:
    for _, test in cases(name):
        if test["result"] == "acceptable":
            for flag in test["flags"]:
                assert (name, flag) in ACCEPTABLE, f"undecided acceptable case: {name} {flag}"


def _files(pattern: str) -> list[str]:
    return sorted(p.name for p in WYCHEPROOF.glob(pattern)) if WYCHEPROOF.is_dir() else [pattern]


def _sig_results(name: str, spec_of: Any, algorithm_of: Any) -> list[tuple[dict[str, Any], bool]]:
    results = []
    for group, test in cases(name):
        spki = bytes.fromhex(group["publicKeyDer"])
        ok = _verify(spec_of(group), spki, algorithm_of(group), bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
        results.append((test, ok))
    return results


@pytest.mark.parametrize("name", _files("ecdsa_*_test.json"))
def test_ecdsa_verify(name: str) -> None:
    def spec_of(group: dict[str, Any]) -> str:
        return _CURVE_SPEC[group["publicKey"]["curve"]]

    def algorithm_of(group: dict[str, Any]) -> str:
        return f"ECDSA_SHA_{_SHA_BITS[group['sha']]}"

    results = _sig_results(name, spec_of, algorithm_of)
    assert len(results) == load(name)["numberOfTests"]
    assert _mismatches(name, results) == []


@pytest.mark.parametrize("name", _files("rsa_signature_*_test.json"))
def test_rsa_pkcs1_verify(name: str) -> None:
    _assert_acceptables_are_decided(name)
    results = _sig_results(
        name, lambda g: f"RSA_{g['keySize']}", lambda g: f"RSASSA_PKCS1_V1_5_SHA_{_SHA_BITS[g['sha']]}"
    )
    assert len(results) == load(name)["numberOfTests"]
    assert _mismatches(name, results) == []


def _is_kms_pss(group: dict[str, Any]) -> bool:
    return bool(
        group["mgf"] == "MGF1" and group["mgfSha"] == group["sha"] and group["sLen"] * 8 == _SHA_BITS[group["sha"]]
    )


def test_pss_files_are_kms_parameters() -> None:
    not_kms = {name for name in _files("rsa_pss_*_test.json") if not all(_is_kms_pss(g) for g, _ in cases(name))}
    assert not_kms == set(PSS_NOT_KMS)


# Files with non-KMS PSS parameters are not run (listed, with why, in PSS_NOT_KMS).
@pytest.mark.parametrize("name", [n for n in _files("rsa_pss_*_test.json") if n not in PSS_NOT_KMS])
def test_rsa_pss_verify(name: str) -> None:
    results = _sig_results(name, lambda g: f"RSA_{g['keySize']}", lambda g: f"RSASSA_PSS_SHA_{_SHA_BITS[g['sha']]}")
    assert len(results) == load(name)["numberOfTests"]
    assert _mismatches(name, results) == []


def test_ed25519_verify() -> None:
    name = "ed25519_test.json"
    results = _sig_results(name, lambda _: "ECC_NIST_EDWARDS25519", lambda _: "ED25519_SHA_512")
    assert len(results) == load(name)["numberOfTests"]
    assert _mismatches(name, results) == []


@pytest.mark.parametrize("name", _files("rsa_oaep_*_test.json"))
def test_rsa_oaep_decrypt(name: str) -> None:
    mismatches = []
    labelled = 0
    for group, test in cases(name):
        spec = f"RSA_{group['keySize']}"
        algorithm = "RSAES_OAEP_SHA_1" if group["sha"] == "SHA-1" else "RSAES_OAEP_SHA_256"
        assert group["mgfSha"] == group["sha"]
        try:
            plaintext: bytes | None = asymmetric.rsa_decrypt(
                spec, bytes.fromhex(group["privateKeyPkcs8"]), algorithm, bytes.fromhex(test["ct"])
            )
        except asymmetric.DecryptionFailed:
            plaintext = None
        # KMS always uses the empty label: a ciphertext made with another label must not decrypt.
        want = expected(name, test) and test["label"] == ""
        labelled += test["label"] != ""
        if want != (plaintext is not None) or (want and plaintext != bytes.fromhex(test["msg"])):
            mismatches.append(f"{name} tcId {test['tcId']} ({test['result']}, label {test['label']!r})")
    assert mismatches == []
    assert labelled > 0  # the label cases ran, and were refused


@pytest.mark.parametrize("name", _files("hmac_sha*_test.json"))
def test_hmac(name: str) -> None:
    bits = int(name.removeprefix("hmac_sha").removesuffix("_test.json"))
    spec, algorithm = f"HMAC_{bits}", f"HMAC_SHA_{bits}"
    mismatches = []
    full = truncated = 0
    for group, test in cases(name):
        key, msg, tag = bytes.fromhex(test["key"]), bytes.fromhex(test["msg"]), bytes.fromhex(test["tag"])
        mac = hmac_keys.generate_mac(spec, key, algorithm, msg)
        ok = hmac_keys.verify_mac(spec, key, algorithm, msg, tag)
        if group["tagSize"] == bits:
            full += 1
            if ok != expected(name, test) or (test["result"] == "valid" and mac != tag):
                mismatches.append(f"tcId {test['tcId']}")
        else:
            # KMS compares full-length tags only: a truncated tag never verifies, though the primitive matches it.
            truncated += 1
            if ok or (test["result"] == "valid" and mac[: len(tag)] != tag):
                mismatches.append(f"truncated tcId {test['tcId']}")
    assert mismatches == []
    assert full > 0
    assert truncated > 0


def _pkcs8_from_scalar(private_hex: str, curve: ec.EllipticCurve) -> bytes:
    key = ec.derive_private_key(int(private_hex, 16), curve)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize("name", _files("ecdh_*_test.json"))
def test_ecdh(name: str) -> None:
    _assert_acceptables_are_decided(name)
    results = []
    wrong_secret = []
    for group, test in cases(name):
        curve = group["curve"]
        assert group["encoding"] == "asn"
        private = _pkcs8_from_scalar(test["private"], _CURVES[curve])
        peer = bytes.fromhex(test["public"])
        try:
            # secp256k1 is not a KMS agreement curve: the KMS entry point refuses it; the primitive is tested anyway.
            if curve == "secp256k1":
                secret = asymmetric.ecdh_raw(private, peer)
            else:
                secret = asymmetric.derive_shared_secret(private, peer)
        except asymmetric.InvalidPublicKey:
            results.append((test, False))
            continue
        results.append((test, True))
        if secret.hex() != test["shared"]:
            wrong_secret.append(test["tcId"])
    assert len(results) == load(name)["numberOfTests"]
    assert _mismatches(name, results) == []
    assert wrong_secret == []


def test_ecdh_secp256k1_is_not_a_kms_agreement_curve() -> None:
    group, test = cases("ecdh_secp256k1_test.json")[0]
    private = _pkcs8_from_scalar(test["private"], _CURVES[group["curve"]])
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.derive_shared_secret(private, bytes.fromhex(test["public"]))


@pytest.mark.parametrize("level", [44, 65, 87])
def test_mldsa_verify(level: int) -> None:
    name = f"mldsa_{level}_verify_test.json"
    spec = f"ML_DSA_{level}"
    results = []
    with_context = 0
    for group, test in cases(name):
        ok = _verify(
            spec,
            bytes.fromhex(group["publicKeyDer"]),
            "ML_DSA_SHAKE_256",
            bytes.fromhex(test["msg"]),
            bytes.fromhex(test["sig"]),
        )
        if test.get("ctx", ""):
            # KMS signs with the empty context: a signature made under another context must not verify.
            with_context += 1
            assert not ok, f"{name} tcId {test['tcId']} verified under the empty context"
        else:
            results.append((test, ok))
    assert _mismatches(name, results) == []
    assert with_context > 0


def _der(tag: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([tag, len(body)]) + body


def _mldsa_seed_pkcs8(level: int, seed: bytes) -> bytes:
    """PKCS#8 in the seed-only form (RFC 9881 ``[0] seed``), for seeds of any (wrong) length."""
    oid = bytes.fromhex("608648016503040311")[:-1] + bytes([{44: 0x11, 65: 0x12, 87: 0x13}[level]])
    algorithm = _der(0x30, _der(0x06, oid))
    return _der(0x30, _der(0x02, b"\x00") + algorithm + _der(0x04, _der(0x80, seed)))


@pytest.mark.parametrize("level", [44, 65, 87])
def test_mldsa_sign_seed(level: int) -> None:
    name = f"mldsa_{level}_sign_seed_test.json"
    spec = f"ML_DSA_{level}"
    unreachable = []
    wrong_seed = mu_only = 0
    signed_groups: set[int] = set()
    for group, test in cases(name):
        seed = bytes.fromhex(group["privateSeed"])
        pkcs8 = _mldsa_seed_pkcs8(level, seed)
        if "IncorrectPrivateKeyLength" in test["flags"]:
            wrong_seed += 1
            with pytest.raises(asymmetric.InvalidKeyMaterial):
                asymmetric.public_key_der(pkcs8)
            continue
        if "privateKeyPkcs8" in group:
            assert pkcs8 == bytes.fromhex(group["privateKeyPkcs8"])
        spki = asymmetric.public_key_der(pkcs8)
        assert spki.endswith(bytes.fromhex(group["publicKey"]))
        if "InvalidContext" in test["flags"]:
            unreachable.append(test["tcId"])  # a context over 255 bytes: KMS never passes a context at all
            continue
        sig, mu = bytes.fromhex(test["sig"]), bytes.fromhex(test["mu"])
        assert test["result"] == "valid"
        # Signing is hedged, so the vector's signature cannot be reproduced; it must verify through mu, and
        # through RAW exactly when it was made under the empty context (the only one KMS uses).
        assert asymmetric.verify(spec, spki, "ML_DSA_SHAKE_256", mu, "EXTERNAL_MU", sig)
        if "msg" in test:
            msg = bytes.fromhex(test["msg"])
            assert asymmetric.verify(spec, spki, "ML_DSA_SHAKE_256", msg, "RAW", sig) == (test.get("ctx", "") == "")
        else:
            mu_only += 1
        if id(group) not in signed_groups:
            signed_groups.add(id(group))
            ours = asymmetric.sign(spec, pkcs8, "ML_DSA_SHAKE_256", mu, "EXTERNAL_MU")
            assert asymmetric.verify(spec, spki, "ML_DSA_SHAKE_256", mu, "EXTERNAL_MU", ours)
            assert not asymmetric.verify(spec, spki, "ML_DSA_SHAKE_256", bytes(64), "EXTERNAL_MU", ours)
    assert len(unreachable) == 1
    assert wrong_seed == 3
