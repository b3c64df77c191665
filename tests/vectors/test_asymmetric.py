"""Unit tests of trent.crypto.asymmetric and trent.crypto.hmac_keys: round trips, interop, limits, malformed input."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from trent.crypto import asymmetric, hmac_keys
from trent.crypto.asymmetric import SIGNING_ALGORITHMS_FOR_SPEC

_KEYS: dict[str, bytes] = {}

_HASHLIB = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_HASHES: dict[str, hashes.HashAlgorithm] = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def key(spec: str) -> bytes:
    """One generated key per spec for the whole module (RSA-4096 generation is slow)."""
    if spec not in _KEYS:
        _KEYS[spec] = asymmetric.generate_private_key(spec)
    return _KEYS[spec]


def _hash_bits(algorithm: str) -> str:
    return algorithm.rsplit("_", 1)[1]


_SIGN_CASES = [
    (spec, algorithm, message_type)
    for spec, algorithms in SIGNING_ALGORITHMS_FOR_SPEC.items()
    for algorithm in algorithms
    for message_type in ("RAW", "DIGEST", "EXTERNAL_MU")
    if message_type in asymmetric._SIGNING[algorithm].message_types and algorithm != "ED25519_PH_SHA_512"
]


def _message(algorithm: str, message_type: str, raw: bytes = b"the message") -> bytes:
    if message_type == "DIGEST":
        return _HASHLIB[_hash_bits(algorithm)](raw).digest()
    if message_type == "EXTERNAL_MU":
        return hashlib.sha512(raw).digest()
    return raw


# --- generation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", asymmetric.ASYMMETRIC_KEY_SPECS)
def test_generated_key_is_pkcs8_of_its_spec(spec: str) -> None:
    private = key(spec)
    loaded = serialization.load_der_private_key(private, password=None)
    assert asymmetric.spec_of_private_key(private) == spec
    spki = asymmetric.public_key_der(private)
    assert serialization.load_der_public_key(spki).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == loaded.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(("spec", "size"), [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)])
def test_hmac_key_sizes(spec: str, size: int) -> None:
    secret = hmac_keys.generate_hmac_key(spec)
    assert len(secret) == size
    assert secret != hmac_keys.generate_hmac_key(spec)


@pytest.mark.parametrize("spec", asymmetric.DATA_KEY_PAIR_SPECS)
def test_data_key_pair(spec: str) -> None:
    private, public = asymmetric.generate_key_pair(spec)
    assert asymmetric.public_key_der(private) == public
    assert asymmetric.spec_of_private_key(private) == spec


def test_unknown_specs() -> None:
    with pytest.raises(asymmetric.UnknownKeySpec):
        asymmetric.generate_private_key("SYMMETRIC_DEFAULT")
    with pytest.raises(asymmetric.UnknownKeySpec):
        asymmetric.generate_key_pair("ML_DSA_44")
    with pytest.raises(asymmetric.UnknownKeySpec):
        hmac_keys.generate_hmac_key("HMAC_1024")


# --- sign / verify ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "algorithm", "message_type"), _SIGN_CASES)
def test_sign_verify_round_trip(spec: str, algorithm: str, message_type: str) -> None:
    private = key(spec)
    public = asymmetric.public_key_der(private)
    message = _message(algorithm, message_type)
    signature = asymmetric.sign(spec, private, algorithm, message, message_type)
    assert asymmetric.verify(spec, public, algorithm, message, message_type, signature)
    other = bytes([message[0] ^ 1]) + message[1:]
    assert not asymmetric.verify(spec, public, algorithm, other, message_type, signature)
    tampered = signature[:-1] + bytes([signature[-1] ^ 1])
    assert not asymmetric.verify(spec, public, algorithm, message, message_type, tampered)
    for malformed in (b"", b"\x00", signature[:-1], signature + b"\x00", b"\x30\x81" * 40):
        assert not asymmetric.verify(spec, public, algorithm, message, message_type, malformed)


@pytest.mark.parametrize(("spec", "algorithm", "message_type"), _SIGN_CASES)
def test_signatures_interoperate_with_cryptography(spec: str, algorithm: str, message_type: str) -> None:
    """Signatures verify with cryptography's public API directly; DIGEST is never hashed twice (Prehashed)."""
    private = key(spec)
    public = serialization.load_der_public_key(asymmetric.public_key_der(private))
    raw = b"interop message"
    message = _message(algorithm, message_type, raw)
    signature = asymmetric.sign(spec, private, algorithm, message, message_type)
    if isinstance(public, rsa.RSAPublicKey):
        h = _HASHES[_hash_bits(algorithm)]
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15() if "PKCS1" in algorithm else padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        )
        public.verify(signature, _message(algorithm, "DIGEST", raw), pad, Prehashed(h))
        public.verify(signature, raw, pad, h)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        h = _HASHES[_hash_bits(algorithm)]
        public.verify(signature, _message(algorithm, "DIGEST", raw), ec.ECDSA(Prehashed(h)))
        public.verify(signature, raw, ec.ECDSA(h))
    elif isinstance(public, ed25519.Ed25519PublicKey):
        assert len(signature) == 64
        public.verify(signature, raw)
    else:
        assert isinstance(public, mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey)
        if message_type == "RAW":
            public.verify(signature, raw)
        else:
            public.verify_mu(signature, message)
        with pytest.raises(InvalidSignature):
            public.verify(signature, raw, b"a context")


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072"])
@pytest.mark.parametrize("bits", ["256", "384", "512"])
def test_pkcs1_raw_equals_digest_of_hash(spec: str, bits: str) -> None:
    """Deterministic PKCS#1 v1.5: RAW over m equals DIGEST over sha(m), so DIGEST is not hashed again."""
    algorithm = f"RSASSA_PKCS1_V1_5_SHA_{bits}"
    message = b"deterministic"
    raw = asymmetric.sign(spec, key(spec), algorithm, message, "RAW")
    digest = asymmetric.sign(spec, key(spec), algorithm, _HASHLIB[bits](message).digest(), "DIGEST")
    assert raw == digest
    public = asymmetric.public_key_der(key(spec))
    # Verify's message type need not equal Sign's: the hashing agrees.
    assert asymmetric.verify(spec, public, algorithm, _HASHLIB[bits](message).digest(), "DIGEST", raw)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "ECDSA_SHA_256"),
        ("ECC_NIST_P256", "ECDSA_SHA_384"),
        ("ECC_NIST_P384", "ECDSA_SHA_256"),
        ("ECC_NIST_P521", "ECDSA_SHA_256"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_512"),
        ("ML_DSA_44", "ED25519_SHA_512"),
        ("ECC_NIST_EDWARDS25519", "ECDSA_SHA_512"),
    ],
)
def test_incompatible_algorithm(spec: str, algorithm: str) -> None:
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.sign(spec, key(spec), algorithm, b"m", "RAW")


@pytest.mark.parametrize(("algorithm", "message_type"), [("ED25519_SHA_512", "DIGEST"), ("ED25519_PH_SHA_512", "RAW")])
def test_ed25519_message_type_rules(algorithm: str, message_type: str) -> None:
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.sign("ECC_NIST_EDWARDS25519", key("ECC_NIST_EDWARDS25519"), algorithm, bytes(64), message_type)


def test_message_types_outside_the_algorithm() -> None:
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.sign("ML_DSA_44", key("ML_DSA_44"), "ML_DSA_SHAKE_256", bytes(32), "DIGEST")
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.sign("ECC_NIST_P256", key("ECC_NIST_P256"), "ECDSA_SHA_256", bytes(64), "EXTERNAL_MU")


def test_ed25519ph_is_unsupported() -> None:
    spec = "ECC_NIST_EDWARDS25519"
    public = asymmetric.public_key_der(key(spec))
    with pytest.raises(asymmetric.UnsupportedAlgorithm):
        asymmetric.sign(spec, key(spec), "ED25519_PH_SHA_512", bytes(64), "DIGEST")
    with pytest.raises(asymmetric.UnsupportedAlgorithm):
        asymmetric.verify(spec, public, "ED25519_PH_SHA_512", bytes(64), "DIGEST", bytes(64))
    with pytest.raises(asymmetric.InvalidDigestLength):  # the length rule is checked first, as AWS validates input
        asymmetric.sign(spec, key(spec), "ED25519_PH_SHA_512", bytes(32), "DIGEST")


_DIGEST_CASES = [
    (spec, algorithm, length)
    for spec, algorithm, message_type in _SIGN_CASES
    if message_type in ("DIGEST", "EXTERNAL_MU")
    for length in (0, 20, 28, 31, 32, 33, 48, 63, 64, 65)
    if length != (64 if message_type == "EXTERNAL_MU" else int(_hash_bits(algorithm)) // 8)
]


@pytest.mark.parametrize(("spec", "algorithm", "length"), _DIGEST_CASES)
def test_wrong_digest_length(spec: str, algorithm: str, length: int) -> None:
    message_type = "EXTERNAL_MU" if algorithm == "ML_DSA_SHAKE_256" else "DIGEST"
    public = asymmetric.public_key_der(key(spec))
    with pytest.raises(asymmetric.InvalidDigestLength):
        asymmetric.sign(spec, key(spec), algorithm, bytes(length), message_type)
    with pytest.raises(asymmetric.InvalidDigestLength):
        asymmetric.verify(spec, public, algorithm, bytes(length), message_type, b"sig")


def test_key_that_does_not_match_the_spec() -> None:
    with pytest.raises(asymmetric.InvalidKeyMaterial):
        asymmetric.sign("ECC_NIST_P384", key("ECC_NIST_P256"), "ECDSA_SHA_384", b"m", "RAW")
    with pytest.raises(asymmetric.InvalidKeyMaterial):
        asymmetric.sign("RSA_3072", key("RSA_2048"), "RSASSA_PSS_SHA_256", b"m", "RAW")
    with pytest.raises(asymmetric.InvalidKeyMaterial):
        asymmetric.sign("RSA_2048", b"\x30\x03\x02\x01\x00", "RSASSA_PSS_SHA_256", b"m", "RAW")
    with pytest.raises(asymmetric.InvalidPublicKey):
        asymmetric.verify("ECC_NIST_P256", b"not a key", "ECDSA_SHA_256", b"m", "RAW", b"s")
    p384 = asymmetric.public_key_der(key("ECC_NIST_P384"))
    with pytest.raises(asymmetric.InvalidPublicKey):
        asymmetric.verify("ECC_NIST_P256", p384, "ECDSA_SHA_256", b"m", "RAW", b"s")


def test_error_messages_carry_no_material() -> None:
    private = key("ECC_NIST_P256")
    calls: list[Callable[[], bytes]] = [
        lambda: asymmetric.sign("ECC_NIST_P384", private, "ECDSA_SHA_384", b"secret message", "RAW"),
        lambda: asymmetric.rsa_encrypt(
            "RSA_2048", asymmetric.public_key_der(key("RSA_2048")), "RSAES_OAEP_SHA_256", b"secret" * 100
        ),
    ]
    for call in calls:
        with pytest.raises(asymmetric.CryptoKeyError) as info:
            call()
        assert "secret" not in str(info.value)
        assert private.hex() not in str(info.value)


# --- RSA-OAEP --------------------------------------------------------------------------------------------------------

_OAEP_LIMITS = {
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214,
    ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342,
    ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470,
    ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}


@pytest.mark.parametrize(("spec", "algorithm"), list(_OAEP_LIMITS))
def test_oaep_limits_and_round_trip(spec: str, algorithm: str) -> None:
    limit = _OAEP_LIMITS[(spec, algorithm)]
    assert asymmetric.oaep_plaintext_limit(spec, algorithm) == limit
    private = key(spec)
    public = asymmetric.public_key_der(private)
    for plaintext in (b"", b"x", (bytes(range(256)) * 2)[:limit]):
        ciphertext = asymmetric.rsa_encrypt(spec, public, algorithm, plaintext)
        assert len(ciphertext) == int(spec[4:]) // 8
        assert asymmetric.rsa_decrypt(spec, private, algorithm, ciphertext) == plaintext
    with pytest.raises(asymmetric.PlaintextTooLarge) as info:
        asymmetric.rsa_encrypt(spec, public, algorithm, bytes(limit + 1))
    assert info.value.limit == limit


@pytest.mark.parametrize(("spec", "algorithm"), list(_OAEP_LIMITS))
def test_oaep_interop_and_failures(spec: str, algorithm: str) -> None:
    private = key(spec)
    loaded = serialization.load_der_public_key(asymmetric.public_key_der(private))
    assert isinstance(loaded, rsa.RSAPublicKey)
    h: hashes.HashAlgorithm = hashes.SHA256() if algorithm.endswith("256") else hashes.SHA1()  # noqa: S303
    ciphertext = loaded.encrypt(b"made offline", padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    assert asymmetric.rsa_decrypt(spec, private, algorithm, ciphertext) == b"made offline"
    other = "RSAES_OAEP_SHA_1" if algorithm.endswith("256") else "RSAES_OAEP_SHA_256"
    labelled = loaded.encrypt(b"m", padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=b"label"))
    bad_inputs = (b"", b"\x00", ciphertext[:-1], ciphertext + b"\x00", bytes(len(ciphertext)), labelled)
    for bad in bad_inputs:
        with pytest.raises(asymmetric.DecryptionFailed) as info:
            asymmetric.rsa_decrypt(spec, private, algorithm, bad)
        assert str(info.value) == ""
    with pytest.raises(asymmetric.DecryptionFailed):
        asymmetric.rsa_decrypt(spec, private, other, ciphertext)


def test_oaep_incompatible() -> None:
    with pytest.raises(asymmetric.UnknownKeySpec):
        asymmetric.oaep_plaintext_limit("ECC_NIST_P256", "RSAES_OAEP_SHA_256")
    with pytest.raises(asymmetric.IncompatibleAlgorithm):
        asymmetric.oaep_plaintext_limit("RSA_2048", "SYMMETRIC_DEFAULT")


# --- HMAC ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", ["224", "256", "384", "512"])
def test_hmac_round_trip(bits: str) -> None:
    import hmac as std_hmac

    spec, algorithm = f"HMAC_{bits}", f"HMAC_SHA_{bits}"
    secret = hmac_keys.generate_hmac_key(spec)
    mac = hmac_keys.generate_mac(spec, secret, algorithm, b"message")
    assert mac == std_hmac.new(secret, b"message", f"sha{bits}").digest()
    assert hmac_keys.verify_mac(spec, secret, algorithm, b"message", mac)
    for bad in (b"", mac[:-1], mac + b"\x00", bytes(len(mac)), mac[:16]):
        assert not hmac_keys.verify_mac(spec, secret, algorithm, b"message", bad)
    assert not hmac_keys.verify_mac(spec, secret, algorithm, b"messagf", mac)


def test_hmac_algorithm_must_match_spec() -> None:
    with pytest.raises(asymmetric.IncompatibleAlgorithm, match="HMAC_SHA_256 is incompatible with key spec HMAC_224"):
        hmac_keys.generate_mac("HMAC_224", bytes(28), "HMAC_SHA_256", b"m")
    with pytest.raises(asymmetric.UnknownKeySpec):
        hmac_keys.verify_mac("RSA_2048", bytes(28), "HMAC_SHA_256", b"m", b"")


# --- ECDH ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", asymmetric.KEY_AGREEMENT_SPECS)
def test_ecdh_agrees_both_ways(spec: str) -> None:
    a, b = key(spec), asymmetric.generate_private_key(spec)
    secret = asymmetric.derive_shared_secret(a, asymmetric.public_key_der(b))
    assert secret == asymmetric.derive_shared_secret(b, asymmetric.public_key_der(a))
    loaded = serialization.load_der_private_key(a, password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert len(secret) == (loaded.curve.key_size + 7) // 8


def test_ecdh_refuses_bad_peers_and_keys() -> None:
    private = key("ECC_NIST_P256")
    peer = asymmetric.public_key_der(asymmetric.generate_private_key("ECC_NIST_P256"))
    for bad_peer in (
        b"",
        b"garbage",
        peer[:-1],
        peer[:-1] + bytes([peer[-1] ^ 1]),  # off the curve
        asymmetric.public_key_der(key("ECC_NIST_P384")),  # wrong curve
        asymmetric.public_key_der(key("ECC_SECG_P256K1")),  # same size, other curve
        asymmetric.public_key_der(key("ECC_NIST_EDWARDS25519")),
        asymmetric.public_key_der(key("RSA_2048")),
    ):
        with pytest.raises(asymmetric.InvalidPublicKey):
            asymmetric.derive_shared_secret(private, bad_peer)
    for not_agreement in ("ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "RSA_2048"):
        with pytest.raises(asymmetric.IncompatibleAlgorithm):
            asymmetric.derive_shared_secret(key(not_agreement), peer)


def test_all_spec_algorithm_pairs_are_covered() -> None:
    covered = {(spec, algorithm) for spec, algorithm, _ in _SIGN_CASES}
    every = set(
        itertools.chain.from_iterable(((s, a) for a in algs) for s, algs in SIGNING_ALGORITHMS_FOR_SPEC.items())
    )
    assert every - covered == {("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512")}  # unsupported, tested above
