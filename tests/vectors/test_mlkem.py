"""Unit tests of trent.crypto.kem (ML-KEM, FIPS 203): known answers, round trips, sizes, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from trent.crypto import asymmetric, kem

VECTORS = Path(__file__).parent / "mlkem"
SUPPORTED = ["ML_KEM_768", "ML_KEM_1024"]
_PUBLIC_TYPES: dict[str, Any] = {"ML_KEM_768": mlkem.MLKEM768PublicKey, "ML_KEM_1024": mlkem.MLKEM1024PublicKey}
_KEYS: dict[str, bytes] = {}


def key(spec: str) -> bytes:
    if spec not in _KEYS:
        _KEYS[spec] = kem.generate_private_key(spec)
    return _KEYS[spec]


def known_answers(spec: str) -> list[dict[str, str]]:
    name = {"ML_KEM_768": "mlkem_768_test.json", "ML_KEM_1024": "mlkem_1024_test.json"}[spec]
    data = json.loads((VECTORS / name).read_text())
    return [test for group in data["testGroups"] for test in group["tests"]]


# ===================================================================== known answers (Wycheproof)


@pytest.mark.parametrize("spec", SUPPORTED)
def test_wycheproof_seed_gives_the_encapsulation_key_and_decapsulation_the_shared_secret(spec: str) -> None:
    for case in known_answers(spec):
        private = kem.private_key_from_seed(spec, bytes.fromhex(case["seed"]))
        public: Any = serialization.load_der_public_key(kem.public_key_der(spec, private))
        assert public.public_bytes_raw() == bytes.fromhex(case["ek"]), case["tcId"]
        assert kem.decapsulate(spec, private, bytes.fromhex(case["c"])) == bytes.fromhex(case["K"]), case["tcId"]


# ===================================================================== generation and encodings


@pytest.mark.parametrize("spec", SUPPORTED)
def test_generated_key_is_seed_form_pkcs8_with_an_spki_public_key(spec: str) -> None:
    private = key(spec)
    loaded = serialization.load_der_private_key(private, password=None)
    assert kem.spec_of(loaded) == spec
    assert len(loaded.private_bytes_raw()) == kem.SEED_BYTES  # type: ignore[union-attr]
    spki = kem.public_key_der(spec, private)
    public = serialization.load_der_public_key(spki)
    assert isinstance(public, _PUBLIC_TYPES[spec])
    assert len(public.public_bytes_raw()) == kem.PUBLIC_KEY_BYTES[spec]
    # Canonical DER: re-encoding gives the same bytes.
    assert public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki
    assert kem.generate_private_key(spec) != private


@pytest.mark.parametrize("spec", SUPPORTED)
def test_asymmetric_module_knows_ml_kem_keys(spec: str) -> None:
    """Generation, spec detection (imports) and GetPublicKey's DER go through trent.crypto.asymmetric."""
    assert spec in asymmetric.ASYMMETRIC_KEY_SPECS
    private = asymmetric.generate_private_key(spec)
    assert asymmetric.spec_of_private_key(private) == spec
    assert asymmetric.public_key_der(private) == kem.public_key_der(spec, private)


def test_ml_kem_512_is_refused_not_hand_rolled() -> None:
    assert frozenset({"ML_KEM_512"}) == kem.UNSUPPORTED_SPECS
    assert "ML_KEM_512" not in asymmetric.ASYMMETRIC_KEY_SPECS
    with pytest.raises(kem.UnsupportedKemSpec):
        kem.generate_private_key("ML_KEM_512")
    with pytest.raises(asymmetric.UnsupportedAlgorithm):
        asymmetric.generate_private_key("ML_KEM_512")
    with pytest.raises(kem.UnsupportedKemSpec):
        kem.check_ciphertext("ML_KEM_512", bytes(768))


def test_unknown_spec() -> None:
    with pytest.raises(kem.UnknownKemSpec):
        kem.generate_private_key("ML_KEM_2048")


# ===================================================================== Encapsulate / Decapsulate


@pytest.mark.parametrize("spec", SUPPORTED)
def test_round_trip_and_sizes(spec: str) -> None:
    private = key(spec)
    secret, ciphertext = kem.encapsulate(spec, kem.public_key_der(spec, private))
    assert len(secret) == kem.SHARED_SECRET_BYTES
    assert len(ciphertext) == kem.CIPHERTEXT_BYTES[spec]
    assert kem.decapsulate(spec, private, ciphertext) == secret
    again, other_ciphertext = kem.encapsulate_with_private_key(spec, private)
    assert (again, other_ciphertext) != (secret, ciphertext)  # fresh randomness each time
    assert kem.decapsulate(spec, private, other_ciphertext) == again


@pytest.mark.parametrize("spec", SUPPORTED)
def test_interop_with_cryptography_directly(spec: str) -> None:
    private = key(spec)
    public: Any = serialization.load_der_public_key(kem.public_key_der(spec, private))
    secret, ciphertext = public.encapsulate()
    assert kem.decapsulate(spec, private, ciphertext) == secret
    ours, our_ciphertext = kem.encapsulate_with_private_key(spec, private)
    loaded: Any = serialization.load_der_private_key(private, password=None)
    assert loaded.decapsulate(our_ciphertext) == ours


@pytest.mark.parametrize("spec", SUPPORTED)
def test_altered_ciphertext_gives_implicit_rejection(spec: str) -> None:
    """A ciphertext of the right length is never refused: the result is a deterministic pseudo-random value."""
    private = key(spec)
    secret, ciphertext = kem.encapsulate_with_private_key(spec, private)
    altered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    rejected = kem.decapsulate(spec, private, altered)
    assert len(rejected) == kem.SHARED_SECRET_BYTES
    assert rejected != secret
    assert kem.decapsulate(spec, private, altered) == rejected
    other = kem.generate_private_key(spec)
    assert kem.decapsulate(spec, other, ciphertext) != secret


@pytest.mark.parametrize("spec", SUPPORTED)
@pytest.mark.parametrize("delta", [-1, 1, None])
def test_wrong_length_ciphertext_is_refused(spec: str, delta: int | None) -> None:
    private = key(spec)
    _, ciphertext = kem.encapsulate_with_private_key(spec, private)
    wrong = b"" if delta is None else (ciphertext + b"\0")[: len(ciphertext) + delta]
    with pytest.raises(kem.InvalidKemCiphertext):
        kem.check_ciphertext(spec, wrong)
    with pytest.raises(kem.InvalidKemCiphertext):
        kem.decapsulate(spec, private, wrong)


def test_ciphertext_of_the_other_parameter_set_is_refused() -> None:
    _, ciphertext_1024 = kem.encapsulate_with_private_key("ML_KEM_1024", key("ML_KEM_1024"))
    with pytest.raises(kem.InvalidKemCiphertext):
        kem.decapsulate("ML_KEM_768", key("ML_KEM_768"), ciphertext_1024)


def test_keys_of_another_spec_or_type_are_refused() -> None:
    with pytest.raises(kem.InvalidKemKey):
        kem.encapsulate_with_private_key("ML_KEM_1024", key("ML_KEM_768"))
    with pytest.raises(kem.InvalidKemKey):
        kem.encapsulate("ML_KEM_768", kem.public_key_der("ML_KEM_1024", key("ML_KEM_1024")))
    ec_key = asymmetric.generate_private_key("ECC_NIST_P256")
    with pytest.raises(kem.InvalidKemKey):
        kem.decapsulate("ML_KEM_768", ec_key, bytes(kem.CIPHERTEXT_BYTES["ML_KEM_768"]))
    with pytest.raises(kem.InvalidKemKey):
        kem.encapsulate("ML_KEM_768", asymmetric.public_key_der(ec_key))
    with pytest.raises(kem.InvalidKemKey):
        kem.encapsulate("ML_KEM_768", b"not a key")
    with pytest.raises(kem.InvalidKemKey):
        kem.public_key_der("ML_KEM_768", b"not a key")
    with pytest.raises(kem.InvalidKemKey):
        kem.private_key_from_seed("ML_KEM_768", bytes(32))


def test_errors_carry_no_secret_material() -> None:
    private = key("ML_KEM_768")
    _, ciphertext = kem.encapsulate_with_private_key("ML_KEM_768", private)
    with pytest.raises(kem.KemError) as info:
        kem.decapsulate("ML_KEM_768", private, ciphertext[:-1])
    text = str(info.value)
    assert ciphertext[:8].hex() not in text
    assert private.hex()[-16:] not in text
