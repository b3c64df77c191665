"""Every key spec through the AWS CLI, checked offline with the `openssl` command line (issue 5).

`aws kms create-key/get-public-key/sign/verify/encrypt/decrypt/generate-mac/verify-mac/derive-shared-secret/
generate-data-key-pair` against a real server; signatures verified with `openssl dgst`/`openssl pkeyutl`,
RSA-OAEP ciphertexts made with `openssl pkeyutl -encrypt`, ECDH secrets derived with `openssl pkeyutl -derive`
(spec/kms-api.md 2.1, 3.2, 4.2-4.3). OpenSSL 3.0 has no ML-DSA, so ML-DSA is checked with `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import ACCOUNT_ID, REGION, TrentServer

OPENSSL = shutil.which("openssl")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        OPENSSL is None, reason="needs the `openssl` command line tool (system package `openssl`), not installed"
    ),
]

MESSAGE = b"Signed through the AWS CLI, verified by openssl.\n"
RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
]  # fmt: skip
SIGNING_ALGORITHMS = {
    "RSA_2048": RSA_SIGNING,
    "RSA_3072": RSA_SIGNING,
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    "ML_DSA_44": ["ML_DSA_SHAKE_256"],
}
SIGN_CASES = [
    *[("RSA_2048", algorithm) for algorithm in RSA_SIGNING],
    ("RSA_3072", "RSASSA_PSS_SHA_384"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]
DIGEST_CASES = [
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
]
OAEP_LIMIT = {("RSA_2048", "RSAES_OAEP_SHA_1"): 214, ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
              ("RSA_3072", "RSAES_OAEP_SHA_1"): 342, ("RSA_3072", "RSAES_OAEP_SHA_256"): 318}  # fmt: skip
OPENSSL_TEXT = {  # what `openssl pkey -pubin -text` prints for each spec's public key
    "RSA_2048": "Public-Key: (2048 bit)",
    "RSA_3072": "Public-Key: (3072 bit)",
    "ECC_NIST_P256": "ASN1 OID: prime256v1",
    "ECC_NIST_P384": "ASN1 OID: secp384r1",
    "ECC_NIST_P521": "ASN1 OID: secp521r1",
    "ECC_SECG_P256K1": "ASN1 OID: secp256k1",
    "ECC_NIST_EDWARDS25519": "ED25519 Public-Key:",
}
OPENSSL_CURVE = {"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"}


# ===================================================================== helpers


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    result = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, timeout=60, check=False)
    if check:
        assert result.returncode == 0, (args, result.stderr.decode(errors="replace"))
    return result


def fileb(path: Path, data: bytes | None = None) -> str:
    """A `fileb://` argument for the CLI, writing ``data`` first when given."""
    if data is not None:
        path.write_bytes(data)
    return f"fileb://{path}"


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def openssl_hash(algorithm: str) -> str:
    return "-sha" + algorithm.rsplit("_", 1)[1]


def cli_error(server: TrentServer, *args: str) -> str:
    """Run a CLI command that must fail with a service error; its stderr."""
    result = server.aws(*args, check=False)
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""
    assert "An error occurred (" in result.stderr, result.stderr
    assert "InternalFailure" not in result.stderr
    assert "KMSInternalException" not in result.stderr
    return str(result.stderr)


class CliKeys:
    """Keys made with `aws kms create-key`, once per module; their public keys as PEM files via openssl."""

    def __init__(self, server: TrentServer, directory: Path) -> None:
        self.server = server
        self.directory = directory
        self._metadata: dict[tuple[str, str], dict[str, Any]] = {}
        self._pem: dict[tuple[str, str], Path] = {}

    def __call__(self, spec: str, usage: str) -> dict[str, Any]:
        if (spec, usage) not in self._metadata:
            created = self.server.aws("kms", "create-key", "--key-spec", spec, "--key-usage", usage)["KeyMetadata"]
            assert (created["KeySpec"], created["KeyUsage"]) == (spec, usage)
            assert created["Arn"] == key_arn(created["KeyId"])
            self._metadata[spec, usage] = created
        return self._metadata[spec, usage]

    def public_der(self, spec: str, usage: str) -> bytes:
        metadata = self(spec, usage)
        response = self.server.aws("kms", "get-public-key", "--key-id", metadata["KeyId"])
        assert response["KeyId"] == metadata["Arn"]
        assert (response["KeySpec"], response["KeyUsage"]) == (spec, usage)
        if usage == "SIGN_VERIFY":
            assert response["SigningAlgorithms"] == SIGNING_ALGORITHMS[spec]
        elif usage == "ENCRYPT_DECRYPT":
            assert response["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        else:
            assert response["KeyAgreementAlgorithms"] == ["ECDH"]
        return b64(response["PublicKey"])

    def public_pem(self, spec: str, usage: str) -> Path:
        """The public key from `aws kms get-public-key`, converted by openssl from DER SPKI to PEM."""
        if (spec, usage) not in self._pem:
            der = self.directory / f"{spec}-{usage}.der"
            der.write_bytes(self.public_der(spec, usage))
            pem = self.directory / f"{spec}-{usage}.pem"
            openssl("pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem)
            self._pem[spec, usage] = pem
        return self._pem[spec, usage]


@pytest.fixture(scope="module")
def cli_keys(server: TrentServer, tmp_path_factory: pytest.TempPathFactory) -> CliKeys:
    return CliKeys(server, tmp_path_factory.mktemp("cli-keys"))


@pytest.fixture(scope="module")
def cli_symmetric(server: TrentServer) -> dict[str, Any]:
    return dict(server.aws("kms", "create-key", "--description", "cli data key pairs")["KeyMetadata"])


def openssl_verify(pem: Path, algorithm: str, signature: Path, message: Path, *, check: bool = True) -> bool:
    """Verify ``signature`` over the file ``message`` with the openssl command line alone."""
    if algorithm == "ED25519_SHA_512":
        args: list[str | Path] = ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", message]
        args += ["-sigfile", signature]
        result = openssl(*args, check=False)
        ok = result.returncode == 0 and b"Signature Verified Successfully" in result.stdout
    else:
        args = ["dgst", openssl_hash(algorithm)]
        if "_PSS_" in algorithm:  # salt length = digest length (-1)
            args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
        args += ["-verify", pem, "-signature", signature, message]
        result = openssl(*args, check=False)
        ok = result.returncode == 0 and b"Verified OK" in result.stdout
    if check:
        assert ok, (algorithm, result.stdout, result.stderr)
    return ok


# ===================================================================== Sign / Verify


@pytest.mark.parametrize(("spec", "algorithm"), SIGN_CASES)
def test_cli_sign_verified_by_openssl(
    server: TrentServer, cli_keys: CliKeys, tmp_path: Path, spec: str, algorithm: str
) -> None:
    metadata = cli_keys(spec, "SIGN_VERIFY")
    pem = cli_keys.public_pem(spec, "SIGN_VERIFY")
    assert pem.read_text().startswith("-----BEGIN PUBLIC KEY-----")  # an SPKI, not PKCS #1
    text = openssl("pkey", "-pubin", "-in", pem, "-noout", "-text").stdout.decode()
    assert OPENSSL_TEXT[spec] in text, text

    message = tmp_path / "message.txt"
    signed = server.aws(
        "kms", "sign", "--key-id", metadata["KeyId"], "--message", fileb(message, MESSAGE),
        "--message-type", "RAW", "--signing-algorithm", algorithm,
    )  # fmt: skip
    assert set(signed) == {"KeyId", "Signature", "SigningAlgorithm"}
    assert (signed["KeyId"], signed["SigningAlgorithm"]) == (metadata["Arn"], algorithm)
    signature = tmp_path / "signature.bin"
    signature.write_bytes(b64(signed["Signature"]))

    openssl_verify(pem, algorithm, signature, message)
    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(MESSAGE + b"!")
    assert not openssl_verify(pem, algorithm, signature, tampered, check=False)

    verified = server.aws(
        "kms", "verify", "--key-id", metadata["KeyId"], "--message", fileb(message),
        "--signature", fileb(signature), "--signing-algorithm", algorithm,
    )  # fmt: skip
    assert verified == {"KeyId": metadata["Arn"], "SignatureValid": True, "SigningAlgorithm": algorithm}


@pytest.mark.parametrize(("spec", "algorithm"), DIGEST_CASES)
def test_cli_sign_openssl_digest(
    server: TrentServer, cli_keys: CliKeys, tmp_path: Path, spec: str, algorithm: str
) -> None:
    """`openssl dgst -binary` makes the digest, KMS signs it as DIGEST, openssl verifies over the message."""
    metadata = cli_keys(spec, "SIGN_VERIFY")
    pem = cli_keys.public_pem(spec, "SIGN_VERIFY")
    message = tmp_path / "message.txt"
    message.write_bytes(MESSAGE * 3)
    digest = tmp_path / "digest.bin"
    openssl("dgst", openssl_hash(algorithm), "-binary", "-out", digest, message)
    signed = server.aws(
        "kms", "sign", "--key-id", metadata["KeyId"], "--message", fileb(digest),
        "--message-type", "DIGEST", "--signing-algorithm", algorithm,
    )  # fmt: skip
    signature = tmp_path / "signature.bin"
    signature.write_bytes(b64(signed["Signature"]))
    openssl_verify(pem, algorithm, signature, message)
    # The digest itself taken as a message does not verify: KMS did not hash it again.
    assert not openssl_verify(pem, algorithm, signature, digest, check=False)


def test_cli_digest_of_the_wrong_length(server: TrentServer, cli_keys: CliKeys, tmp_path: Path) -> None:
    key_id = cli_keys("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"]
    stderr = cli_error(
        server, "kms", "sign", "--key-id", key_id, "--message", fileb(tmp_path / "short", bytes(31)),
        "--message-type", "DIGEST", "--signing-algorithm", "ECDSA_SHA_256",
    )  # fmt: skip
    assert (
        "An error occurred (ValidationException) when calling the Sign operation: "
        "Digest is invalid length for algorithm ECDSA_SHA_256." in stderr
    ), stderr


def test_cli_ml_dsa_sign_and_external_mu(server: TrentServer, cli_keys: CliKeys, tmp_path: Path) -> None:
    """OpenSSL 3.0 knows no ML-DSA: the CLI signs, `cryptography` verifies (when it has ML-DSA)."""
    metadata = cli_keys("ML_DSA_44", "SIGN_VERIFY")
    der = cli_keys.public_der("ML_DSA_44", "SIGN_VERIFY")
    message = tmp_path / "message.txt"
    signed = server.aws(
        "kms", "sign", "--key-id", metadata["KeyId"], "--message", fileb(message, MESSAGE),
        "--signing-algorithm", "ML_DSA_SHAKE_256",
    )  # fmt: skip
    signature = tmp_path / "signature.bin"
    signature.write_bytes(b64(signed["Signature"]))
    assert len(signature.read_bytes()) == 2420
    verified = server.aws(
        "kms", "verify", "--key-id", metadata["KeyId"], "--message", fileb(message),
        "--signature", fileb(signature), "--signing-algorithm", "ML_DSA_SHAKE_256",
    )  # fmt: skip
    assert verified["SignatureValid"] is True

    try:
        from cryptography.hazmat.primitives.asymmetric import mldsa  # noqa: F401
    except ImportError:
        pytest.skip("cryptography has no ML-DSA (needs cryptography >= 47)")
    public_key: Any = serialization.load_der_public_key(der)
    public_key.verify(signature.read_bytes(), MESSAGE)
    tr = hashlib.shake_256(public_key.public_bytes_raw()).digest(64)
    mu = hashlib.shake_256(tr + b"\x00\x00" + MESSAGE).digest(64)
    signed_mu = server.aws(
        "kms", "sign", "--key-id", metadata["KeyId"], "--message", fileb(tmp_path / "mu.bin", mu),
        "--message-type", "EXTERNAL_MU", "--signing-algorithm", "ML_DSA_SHAKE_256",
    )  # fmt: skip
    public_key.verify(b64(signed_mu["Signature"]), MESSAGE)


# ===================================================================== RSA encryption


@pytest.mark.parametrize(("spec", "algorithm"), list(OAEP_LIMIT))
def test_cli_openssl_encrypts_kms_decrypts(
    server: TrentServer, cli_keys: CliKeys, tmp_path: Path, spec: str, algorithm: str
) -> None:
    metadata = cli_keys(spec, "ENCRYPT_DECRYPT")
    pem = cli_keys.public_pem(spec, "ENCRYPT_DECRYPT")
    md = "sha1" if algorithm == "RSAES_OAEP_SHA_1" else "sha256"
    for size in (12, OAEP_LIMIT[spec, algorithm]):  # a short secret and the largest OAEP allows
        plaintext = tmp_path / f"plain-{size}.bin"
        plaintext.write_bytes(hashlib.shake_256(f"{spec}{algorithm}".encode()).digest(size))
        ciphertext = tmp_path / f"cipher-{size}.bin"
        openssl(
            "pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-pkeyopt", "rsa_padding_mode:oaep",
            "-pkeyopt", f"rsa_oaep_md:{md}", "-pkeyopt", f"rsa_mgf1_md:{md}", "-in", plaintext, "-out", ciphertext,
        )  # fmt: skip
        decrypted = server.aws(
            "kms", "decrypt", "--key-id", metadata["KeyId"], "--encryption-algorithm", algorithm,
            "--ciphertext-blob", fileb(ciphertext),
        )  # fmt: skip
        assert set(decrypted) == {"KeyId", "Plaintext", "EncryptionAlgorithm"}
        assert b64(decrypted["Plaintext"]) == plaintext.read_bytes()
        assert (decrypted["KeyId"], decrypted["EncryptionAlgorithm"]) == (metadata["Arn"], algorithm)


def test_cli_rsa_encrypt_round_trip_and_limit(server: TrentServer, cli_keys: CliKeys, tmp_path: Path) -> None:
    metadata = cli_keys("RSA_2048", "ENCRYPT_DECRYPT")
    encrypted = server.aws(
        "kms", "encrypt", "--key-id", metadata["KeyId"], "--plaintext", fileb(tmp_path / "p", b"card 4111"),
        "--encryption-algorithm", "RSAES_OAEP_SHA_256",
    )  # fmt: skip
    assert (encrypted["KeyId"], encrypted["EncryptionAlgorithm"]) == (metadata["Arn"], "RSAES_OAEP_SHA_256")
    blob = tmp_path / "ct.bin"
    blob.write_bytes(b64(encrypted["CiphertextBlob"]))
    assert len(blob.read_bytes()) == 256
    decrypted = server.aws(
        "kms", "decrypt", "--key-id", metadata["KeyId"], "--encryption-algorithm", "RSAES_OAEP_SHA_256",
        "--ciphertext-blob", fileb(blob), "--query", "Plaintext", "--output", "text", check=False,
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    assert b64(decrypted.stdout.strip()) == b"card 4111"

    stderr = cli_error(
        server, "kms", "encrypt", "--key-id", metadata["KeyId"], "--plaintext", fileb(tmp_path / "big", bytes(191)),
        "--encryption-algorithm", "RSAES_OAEP_SHA_256",
    )  # fmt: skip
    assert (
        "An error occurred (ValidationException) when calling the Encrypt operation: "
        "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes." in stderr
    ), stderr


# ===================================================================== DeriveSharedSecret


@pytest.mark.parametrize("spec", list(OPENSSL_CURVE))
def test_cli_derive_shared_secret_matches_openssl(
    server: TrentServer, cli_keys: CliKeys, tmp_path: Path, spec: str
) -> None:
    metadata = cli_keys(spec, "KEY_AGREEMENT")
    kms_pem = cli_keys.public_pem(spec, "KEY_AGREEMENT")
    peer = tmp_path / "peer.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{OPENSSL_CURVE[spec]}", "-out", peer)
    peer_public = tmp_path / "peer-public.der"
    openssl("pkey", "-in", peer, "-pubout", "-outform", "DER", "-out", peer_public)

    derived = server.aws(
        "kms", "derive-shared-secret", "--key-id", metadata["KeyId"], "--key-agreement-algorithm", "ECDH",
        "--public-key", fileb(peer_public),
    )  # fmt: skip
    assert derived["KeyId"] == metadata["Arn"]
    assert (derived["KeyAgreementAlgorithm"], derived["KeyOrigin"]) == ("ECDH", "AWS_KMS")

    secret = tmp_path / "secret.bin"
    openssl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", kms_pem, "-out", secret)
    assert b64(derived["SharedSecret"]) == secret.read_bytes()
    assert len(secret.read_bytes()) == {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}[spec]


def test_cli_derive_shared_secret_errors(server: TrentServer, cli_keys: CliKeys, tmp_path: Path) -> None:
    agreement = cli_keys("ECC_NIST_P256", "KEY_AGREEMENT")
    wrong_curve = tmp_path / "p384.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", wrong_curve)
    wrong_public = tmp_path / "p384.der"
    openssl("pkey", "-in", wrong_curve, "-pubout", "-outform", "DER", "-out", wrong_public)
    stderr = cli_error(
        server, "kms", "derive-shared-secret", "--key-id", agreement["KeyId"], "--key-agreement-algorithm", "ECDH",
        "--public-key", fileb(wrong_public),
    )  # fmt: skip
    assert "(ValidationException) when calling the DeriveSharedSecret operation" in stderr, stderr

    signing = cli_keys("ECC_NIST_P256", "SIGN_VERIFY")
    right_curve = tmp_path / "p256.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", right_curve)
    right_public = tmp_path / "p256.der"
    openssl("pkey", "-in", right_curve, "-pubout", "-outform", "DER", "-out", right_public)
    stderr = cli_error(
        server, "kms", "derive-shared-secret", "--key-id", signing["KeyId"], "--key-agreement-algorithm", "ECDH",
        "--public-key", fileb(right_public),
    )  # fmt: skip
    assert (
        "An error occurred (InvalidKeyUsageException) when calling the DeriveSharedSecret operation: "
        f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret." in stderr
    ), stderr


# ===================================================================== GenerateMac / VerifyMac


@pytest.mark.parametrize(("spec", "length"), [("HMAC_224", 28), ("HMAC_512", 64)])
def test_cli_generate_and_verify_mac(server: TrentServer, tmp_path: Path, spec: str, length: int) -> None:
    created = server.aws("kms", "create-key", "--key-spec", spec, "--key-usage", "GENERATE_VERIFY_MAC")["KeyMetadata"]
    algorithm = "HMAC_SHA_" + spec.removeprefix("HMAC_")
    assert created["MacAlgorithms"] == [algorithm]
    assert "CurrentKeyMaterialId" not in created
    message = fileb(tmp_path / "message.txt", MESSAGE)
    generated = server.aws(
        "kms", "generate-mac", "--key-id", created["KeyId"], "--message", message, "--mac-algorithm", algorithm
    )
    assert (generated["KeyId"], generated["MacAlgorithm"]) == (created["Arn"], algorithm)
    mac = b64(generated["Mac"])
    assert len(mac) == length
    verified = server.aws(
        "kms", "verify-mac", "--key-id", created["KeyId"], "--message", message,
        "--mac", fileb(tmp_path / "mac.bin", mac), "--mac-algorithm", algorithm,
    )  # fmt: skip
    assert verified == {"KeyId": created["Arn"], "MacValid": True, "MacAlgorithm": algorithm}
    stderr = cli_error(
        server, "kms", "verify-mac", "--key-id", created["KeyId"], "--message", message,
        "--mac", fileb(tmp_path / "bad.bin", bytes([mac[0] ^ 1]) + mac[1:]), "--mac-algorithm", algorithm,
    )  # fmt: skip
    assert "(KMSInvalidMacException) when calling the VerifyMac operation" in stderr, stderr


# ===================================================================== GenerateDataKeyPair


@pytest.mark.parametrize("pair_spec", ["RSA_2048", "ECC_NIST_P384", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"])
def test_cli_data_key_pair_checked_by_openssl(
    server: TrentServer, cli_symmetric: dict[str, Any], tmp_path: Path, pair_spec: str
) -> None:
    generated = server.aws(
        "kms", "generate-data-key-pair", "--key-id", cli_symmetric["KeyId"], "--key-pair-spec", pair_spec,
        "--encryption-context", "app=cli,purpose=pair",
    )  # fmt: skip
    assert (generated["KeyId"], generated["KeyPairSpec"]) == (cli_symmetric["Arn"], pair_spec)
    private = tmp_path / "private.der"
    private.write_bytes(b64(generated["PrivateKeyPlaintext"]))
    # openssl reads it as unencrypted PKCS #8 ...
    openssl("pkcs8", "-inform", "DER", "-nocrypt", "-in", private, "-out", tmp_path / "private.pem")
    # ... and its public half is the PublicKey KMS returned.
    derived_public = tmp_path / "derived-public.der"
    openssl("pkey", "-inform", "DER", "-in", private, "-pubout", "-outform", "DER", "-out", derived_public)
    assert derived_public.read_bytes() == b64(generated["PublicKey"])

    blob = tmp_path / "private.enc"
    blob.write_bytes(b64(generated["PrivateKeyCiphertextBlob"]))
    decrypted = server.aws(
        "kms", "decrypt", "--ciphertext-blob", fileb(blob), "--encryption-context", "app=cli,purpose=pair"
    )
    assert b64(decrypted["Plaintext"]) == private.read_bytes()
    assert decrypted["KeyId"] == cli_symmetric["Arn"]
    stderr = cli_error(server, "kms", "decrypt", "--ciphertext-blob", fileb(blob))
    assert "(InvalidCiphertextException) when calling the Decrypt operation" in stderr


def test_cli_data_key_pair_without_plaintext(
    server: TrentServer, cli_symmetric: dict[str, Any], tmp_path: Path
) -> None:
    generated = server.aws(
        "kms", "generate-data-key-pair-without-plaintext", "--key-id", cli_symmetric["KeyId"],
        "--key-pair-spec", "ECC_NIST_P256",
    )  # fmt: skip
    assert set(generated) == {"PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec", "KeyMaterialId"}
    blob = fileb(tmp_path / "private.enc", b64(generated["PrivateKeyCiphertextBlob"]))
    private = tmp_path / "private.der"
    private.write_bytes(b64(server.aws("kms", "decrypt", "--ciphertext-blob", blob)["Plaintext"]))
    # Sign with the data private key and verify with its public key, both with openssl.
    message = tmp_path / "message.txt"
    message.write_bytes(MESSAGE)
    signature = tmp_path / "signature.bin"
    openssl("dgst", "-sha256", "-keyform", "DER", "-sign", private, "-out", signature, message)
    public = tmp_path / "public.der"
    public.write_bytes(b64(generated["PublicKey"]))
    pem = tmp_path / "public.pem"
    openssl("pkey", "-pubin", "-inform", "DER", "-in", public, "-out", pem)
    openssl_verify(pem, "ECDSA_SHA_256", signature, message)


# ===================================================================== errors through the CLI


def test_cli_create_key_errors(server: TrentServer) -> None:
    stderr = cli_error(server, "kms", "create-key", "--key-spec", "HMAC_256", "--key-usage", "SIGN_VERIFY")
    assert (
        "An error occurred (ValidationException) when calling the CreateKey operation: "
        "KeyUsage SIGN_VERIFY is not compatible with KeySpec HMAC_256" in stderr
    ), stderr
    stderr = cli_error(server, "kms", "create-key", "--key-spec", "ECC_NIST_P256")
    assert (
        "An error occurred (ValidationException) when calling the CreateKey operation: "
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys." in stderr
    ), stderr


def test_cli_usage_errors(
    server: TrentServer, cli_keys: CliKeys, cli_symmetric: dict[str, Any], tmp_path: Path
) -> None:
    message = fileb(tmp_path / "m", b"m")
    stderr = cli_error(
        server, "kms", "sign", "--key-id", cli_symmetric["KeyId"], "--message", message,
        "--signing-algorithm", "ECDSA_SHA_256",
    )  # fmt: skip
    assert (
        "An error occurred (InvalidKeyUsageException) when calling the Sign operation: "
        f"{cli_symmetric['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign." in stderr
    ), stderr

    stderr = cli_error(server, "kms", "get-public-key", "--key-id", cli_symmetric["KeyId"])
    assert "(UnsupportedOperationException) when calling the GetPublicKey operation" in stderr, stderr

    signing = cli_keys("ECC_NIST_P384", "SIGN_VERIFY")
    stderr = cli_error(
        server, "kms", "sign", "--key-id", signing["KeyId"], "--message", message,
        "--signing-algorithm", "ECDSA_SHA_256",
    )  # fmt: skip
    assert "(InvalidKeyUsageException) when calling the Sign operation" in stderr, stderr

    signature = b64(
        server.aws(
            "kms", "sign", "--key-id", signing["KeyId"], "--message", message, "--signing-algorithm", "ECDSA_SHA_384"
        )["Signature"]
    )
    stderr = cli_error(
        server, "kms", "verify", "--key-id", signing["KeyId"], "--message", fileb(tmp_path / "other", b"n"),
        "--signature", fileb(tmp_path / "signature.bin", signature), "--signing-algorithm", "ECDSA_SHA_384",
    )  # fmt: skip
    assert "An error occurred (KMSInvalidSignatureException) when calling the Verify operation" in stderr, stderr

    rsa_key = cli_keys("RSA_2048", "ENCRYPT_DECRYPT")
    stderr = cli_error(
        server, "kms", "generate-data-key-pair", "--key-id", rsa_key["KeyId"], "--key-pair-spec", "ECC_NIST_P256"
    )
    assert "(InvalidKeyUsageException) when calling the GenerateDataKeyPair operation" in stderr, stderr
