"""10,000 single-bit flips of real ciphertexts (issue 15): none decrypts, none is a server error.

Every kind of blob Decrypt takes: symmetric Encrypt blobs with and without encryption context (and
with KeyId named), multi-Region keys, old material after a rotation, imported (EXTERNAL) material,
GenerateDataKey and GenerateDataKeyWithoutPlaintext blobs, GenerateDataKeyPair private key blobs
(ECC and RSA), ReEncrypt's source blob, and RSA_2048 RSAES_OAEP_SHA_256 / SHA_1 ciphertexts
(Decrypt with KeyId and algorithm). Small blobs are flipped at every bit, large ones at a seeded
sample. Each flipped blob must answer:

* InvalidCiphertextException, with no message (AWS says nothing about why), or
* for a flip in the key-id bytes of Trent's header (flags bit 0 and bytes 2-17) when the request
  names the key: IncorrectKeyException, as AWS answers a ciphertext of another key. Without KeyId
  the flipped id names a key that was never issued, which Trent cannot tell from tampering and
  answers InvalidCiphertextException (docs/architecture.md, "Keys, material, ciphertexts"); AWS's
  AccessDeniedException is for ids of keys that exist elsewhere or were deleted.

TRENT_BIT_FLIPS sets the total (10,000 by default); TRENT_BIT_FLIP_SEED the sample (printed).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import TrentServer
from tests.e2e.helpers import rotate_on_demand
from tests.e2e.test_import import import_material

pytestmark = pytest.mark.e2e

FLIPS = int(os.environ.get("TRENT_BIT_FLIPS", "10000"))
SEED = int(os.environ.get("TRENT_BIT_FLIP_SEED", "15"))
THREADS = 4
CONTEXT = {"purpose": "bit flips", "tenant": "\u00e9\U0001f600"}
# Trent's symmetric header: version(1) | flags(1) | key id(16) | material id(32) | salt(16); then IV, ct, tag.
# InvalidCiphertextException says nothing (AWS sends no message); IncorrectKeyException has AWS's words.
MESSAGES = {
    "InvalidCiphertextException": "",
    "IncorrectKeyException": "The key ID in the request does not identify a CMK that can perform this operation.",
}
KEY_ID_BITS = frozenset({8} | set(range(16, 18 * 8)))  # flags bit 0, and the 16 key-id bytes


@dataclass
class Kind:
    """One blob and how Decrypt (or ReEncrypt) is asked to open it."""

    name: str
    blob: bytes
    operation: str  # "Decrypt" or "ReEncrypt"
    params: dict[str, Any]  # every member but the blob
    weight: int  # flips out of 10,000; a weight of at least the blob's bit count flips every bit
    symmetric: bool = True
    names_key: bool = False  # KeyId / SourceKeyId given
    bits: list[int] = field(default_factory=list)

    def request(self, blob: bytes) -> dict[str, Any]:
        return {**self.params, "CiphertextBlob": base64.b64encode(blob).decode()}

    def expected(self, bit: int) -> str:
        if self.symmetric and self.names_key and bit in KEY_ID_BITS:
            return "IncorrectKeyException"
        return "InvalidCiphertextException"


@pytest.fixture(scope="module")
def flip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path_factory.mktemp("flips") / "data").start()
    yield srv
    srv.stop()


def make_kinds(kms: Any) -> list[Kind]:
    sym = kms.create_key(Description="bit flips")["KeyMetadata"]["KeyId"]
    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    rotated = kms.create_key()["KeyMetadata"]["KeyId"]
    old_blob = kms.encrypt(KeyId=rotated, Plaintext=b"r" * 32, EncryptionContext=CONTEXT)["CiphertextBlob"]
    rotate_on_demand(kms, rotated)
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, external, os.urandom(32))

    def encrypt(key: str, **kwargs: Any) -> bytes:
        return bytes(kms.encrypt(KeyId=key, Plaintext=b"p" * 32, **kwargs)["CiphertextBlob"])

    ctx = {"EncryptionContext": CONTEXT}
    return [
        Kind("symmetric", encrypt(sym), "Decrypt", {}, 1008),
        Kind("symmetric+context", encrypt(sym, **ctx), "Decrypt", ctx, 1008),
        Kind("symmetric+KeyId", encrypt(sym), "Decrypt", {"KeyId": sym}, 1008, names_key=True),
        Kind("multi-Region", encrypt(mrk), "Decrypt", {}, 1008),
        Kind("rotated (old material)", old_blob, "Decrypt", ctx, 600),
        Kind("imported material", encrypt(external, **ctx), "Decrypt", ctx, 600),
        Kind(
            "GenerateDataKey",
            kms.generate_data_key(KeyId=sym, KeySpec="AES_256", **ctx)["CiphertextBlob"],
            "Decrypt",
            ctx,
            1008,
        ),
        Kind(
            "GenerateDataKeyWithoutPlaintext",
            kms.generate_data_key_without_plaintext(KeyId=sym, NumberOfBytes=16)["CiphertextBlob"],
            "Decrypt",
            {},
            880,
        ),
        Kind(
            "GenerateDataKeyPair ECC_NIST_P256",
            kms.generate_data_key_pair(KeyId=sym, KeyPairSpec="ECC_NIST_P256", **ctx)["PrivateKeyCiphertextBlob"],
            "Decrypt",
            ctx,
            800,
        ),
        Kind(
            "GenerateDataKeyPair RSA_2048",
            kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec="RSA_2048")["PrivateKeyCiphertextBlob"],
            "Decrypt",
            {},
            400,
        ),
        Kind(
            "ReEncrypt source",
            encrypt(sym, **ctx),
            "ReEncrypt",
            {"SourceEncryptionContext": CONTEXT, "DestinationKeyId": sym},
            600,
        ),
        Kind(
            "RSA_2048 RSAES_OAEP_SHA_256",
            encrypt(rsa, EncryptionAlgorithm="RSAES_OAEP_SHA_256"),
            "Decrypt",
            {"KeyId": rsa, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
            800,
            symmetric=False,
            names_key=True,
        ),
        Kind(
            "RSA_2048 RSAES_OAEP_SHA_1",
            encrypt(rsa, EncryptionAlgorithm="RSAES_OAEP_SHA_1"),
            "Decrypt",
            {"KeyId": rsa, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"},
            280,
            symmetric=False,
            names_key=True,
        ),
    ]


def plan(kinds: list[Kind], total: int, rng: random.Random) -> None:
    """Spread ``total`` flips over the kinds by weight; every bit of a blob when its share covers it."""
    scale = total / sum(kind.weight for kind in kinds)
    for kind in kinds:
        bits = len(kind.blob) * 8
        share = min(bits, max(1, round(kind.weight * scale)))
        kind.bits = list(range(bits)) if share >= bits else sorted(rng.sample(range(bits), share))


class Sender:
    """Signed raw requests over one keep-alive connection per thread."""

    def __init__(self, server: TrentServer) -> None:
        self.server = server
        self.local = threading.local()
        self.opened: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def close(self) -> None:
        for connection in self.opened:
            connection.close()

    def post(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        request = AWSRequest(
            method="POST",
            url=self.server.endpoint + "/",
            data=data,
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{operation}"},
        )
        SigV4Auth(Credentials("AKIDFLIPS", "flips"), "kms", "us-east-1").add_auth(request)
        for attempt in range(2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                self.local.connection = connection
                with self.lock:
                    self.opened.append(connection)
            try:
                connection.request("POST", "/", body=data, headers=dict(request.headers.items()))
                response = connection.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected):
                connection.close()
                self.local.connection = None
                if attempt:
                    raise
                continue
            return response.status, json.loads(payload) if payload else {}
        raise AssertionError("unreachable")


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.timeout(120 + FLIPS // 100)
def test_every_single_bit_flip_is_refused(flip_server: TrentServer) -> None:
    kms = flip_server.client()
    kinds = make_kinds(kms)
    plan(kinds, FLIPS, random.Random(SEED))
    sender = Sender(flip_server)
    for kind in kinds:  # the unflipped blobs open: the requests are right, only the flips are wrong
        status, body = sender.post(kind.operation, kind.request(kind.blob))
        assert status == 200, (kind.name, body)

    jobs = [(kind, bit) for kind in kinds for bit in kind.bits]
    print(f"\nbit flips: {len(jobs)} (TRENT_BIT_FLIPS={FLIPS}, TRENT_BIT_FLIP_SEED={SEED})")

    def attempt(job: tuple[Kind, int]) -> tuple[Kind, int, int, dict[str, Any]]:
        kind, bit = job
        status, body = sender.post(kind.operation, kind.request(flip(kind.blob, bit)))
        return kind, bit, status, body

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(attempt, jobs))
    finally:
        sender.close()
    elapsed = time.monotonic() - started

    tally: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    for kind, bit, status, body in results:
        code = body.get("__type", "")
        tally[(kind.name, f"{status} {code}")] += 1
        expected = kind.expected(bit)
        if status != 400 or code != expected or body.get("message", "") != MESSAGES[expected]:
            wrong.append(f"{kind.name}: bit {bit} (byte {bit // 8}) -> {status} {body}; expected {expected}")
    print(f"sent in {elapsed:.1f} s ({len(results) / elapsed:.0f}/s)")
    for kind in kinds:
        outcomes = ", ".join(f"{label}: {n}" for (name, label), n in sorted(tally.items()) if name == kind.name)
        covered = "every bit" if len(kind.bits) == len(kind.blob) * 8 else "sampled"
        print(f"  {kind.name} ({len(kind.blob)} bytes, {len(kind.bits)} flips, {covered}): {outcomes}")
    assert len(results) >= 0.98 * FLIPS
    assert not wrong, f"{len(wrong)} flips answered wrongly (seed {SEED}):\n" + "\n".join(wrong[:20])
    assert "Traceback" not in flip_server.log()
