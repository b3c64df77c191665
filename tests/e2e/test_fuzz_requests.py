"""An end-to-end corpus of malformed requests against real servers (issue 15).

Every request is generated from one seed (printed, and set with TRENT_FUZZ_SEED) and sent raw over
a socket, several threads at once, each with a timeout. The corpus covers broken, missing and
repeated headers, wrong and unknown X-Amz-Target values, bad Content-Types, bad SigV4 (on a
``--dev`` server, which only parses signatures, and on a server without ``--dev``, which checks
them), correctly signed requests with bad bodies (a wrong JSON type at every member of every
operation's model, unicode, huge numbers, deep nesting, NaN-ish tokens, bad base64 in blobs,
truncated and bit-flipped CiphertextBlobs, bad policies, bad encryption contexts, forged markers,
oversized bodies), STS/IAM query requests and CloudTrail requests.

Asserted for every request: no 5xx, no hang, every answer Trent's own (x-amzn-RequestId) and
AWS-shaped (JSON with a known ``__type``, or the query protocol's XML for STS/IAM); a tampered
ciphertext never decrypts. Afterwards both servers are healthy, a normal Encrypt/Decrypt round
trip works and their logs hold no traceback. Requests the HTTP parser (uvicorn) refuses before
Trent sees them (invalid HTTP) are counted apart: only "no 5xx, no hang" applies to them.

TRENT_FUZZ_REQUESTS sets the corpus size (5,000 by default, for CI; 100,000 for the documented
run in docs/operations.md, "Fuzzing"). The bugs the corpus found have regression tests at the end
of this file.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import http.client
import json
import os
import queue
import random
import re
import socket
import string
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import TrentServer
from tests.fuzzing import (
    ACCOUNT,
    CLOUDTRAIL_MODEL,
    HOSTILE_TOKENS,
    KNOWN_JSON_CODES,
    MODEL,
    Raw,
    broken_policies,
    json_type_mismatch,
    member_paths,
    render,
    set_path,
    unicode_text,
    valid_policy,
    wrong_values,
)
from trent.api import sigv4
from trent.api.model import Shape, load_model

pytestmark = pytest.mark.e2e

REQUESTS = int(os.environ.get("TRENT_FUZZ_REQUESTS", "5000"))
SEED = int(os.environ.get("TRENT_FUZZ_SEED", "15"))
THREADS = int(os.environ.get("TRENT_FUZZ_THREADS", "4"))
REQUEST_TIMEOUT = 20.0  # seconds; a request still unanswered by then counts as a hang
REGION = "us-east-1"
JSON_TYPE = "application/x-amz-json-1.1"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
KMS_PREFIX = "TrentService."
CLOUDTRAIL_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
EXTRA_ROUTES = ("/_trent/health", "/_trent/dev/advance-clock")
MAX_BODY = 1024 * 1024
# The operations whose Marker position is a row number: a forged one once answered 500 (test below).
INTEGER_MARKER_OPERATIONS = frozenset({"ListKeys", "ListGrants", "ListRetirableGrants", "ListKeyRotations"})
# Operations that change or destroy a key: they only ever name the throwaway "victim" keys.
DESTRUCTIVE = frozenset(
    {
        "ScheduleKeyDeletion",
        "DisableKey",
        "PutKeyPolicy",
        "UpdateAlias",
        "DeleteAlias",
        "CancelKeyDeletion",
        "DeleteImportedKeyMaterial",
        "ImportKeyMaterial",
        "UpdatePrimaryRegion",
        "ReplicateKey",
        "RotateKeyOnDemand",
        "DisableKeyRotation",
        "EnableKeyRotation",
        "RetireGrant",
        "RevokeGrant",
        "UpdateKeyDescription",
        "TagResource",
        "UntagResource",
        "CreateAlias",
    }
)
# Enum values that are cheap to act on (no RSA-4096 key generation per request), best first.
CHEAP_ENUMS = ("SYMMETRIC_DEFAULT", "AES_256", "ECC_NIST_P256", "ENCRYPT_DECRYPT", "RSA_2048", "RSAES_OAEP_SHA_256")


# ----------------------------------------------------------------- the resources requests name


@dataclass
class Resources:
    key_refs: list[str]  # ids, ARNs and alias names of keys the corpus may use but never breaks
    by_usage: dict[str, str]  # "agreement", "kem", "ml-dsa", "ed25519", "rsa-sign", "ecc-sign", "mac"
    victims: list[str]  # keys destructive operations may act on
    blobs: list[bytes]  # real ciphertexts of every kind Decrypt takes
    grant_token: str
    grant_id: str
    admin: tuple[str, str]  # the secure server's admin access key and secret
    secure_key: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_resources(dev: TrentServer, secure: TrentServer) -> Resources:
    kms = dev.client()
    sym = kms.create_key(Description="fuzz")["KeyMetadata"]
    kms.create_alias(AliasName="alias/fuzz-target", TargetKeyId=sym["KeyId"])
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    sign = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]
    # One key of every other usage, so each operation's handler is reached with a key it accepts.
    others = [
        kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
        for spec, usage in [
            ("ECC_NIST_P256", "KEY_AGREEMENT"),
            ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
            ("ML_DSA_44", "SIGN_VERIFY"),
            ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
            ("RSA_2048", "SIGN_VERIFY"),
        ]
    ]
    victims = [kms.create_key(Description=f"victim {n}")["KeyMetadata"]["KeyId"] for n in range(6)]
    context = {"purpose": "fuzz", "tenant": "\u00e9\U0001f600"}
    blobs = [
        kms.encrypt(KeyId=sym["KeyId"], Plaintext=b"fuzz plaintext")["CiphertextBlob"],
        kms.encrypt(KeyId=sym["KeyId"], Plaintext=b"x" * 300, EncryptionContext=context)["CiphertextBlob"],
        kms.encrypt(KeyId=mrk["KeyId"], Plaintext=b"multi-region")["CiphertextBlob"],
        kms.generate_data_key(KeyId=sym["KeyId"], KeySpec="AES_256")["CiphertextBlob"],
        kms.generate_data_key_pair_without_plaintext(KeyId=sym["KeyId"], KeyPairSpec="ECC_NIST_P256")[
            "PrivateKeyCiphertextBlob"
        ],
        kms.encrypt(KeyId=rsa["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"],
    ]
    grant = kms.create_grant(
        KeyId=sym["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:root", Operations=["Encrypt", "Decrypt"]
    )
    refs = [
        sym["KeyId"],
        sym["Arn"],
        "alias/fuzz-target",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/fuzz-target",
        rsa["KeyId"],
        sign["KeyId"],
        mac["KeyId"],
        mrk["KeyId"],
        *others,
        "alias/aws/s3",
        "alias/does-not-exist",
        "00000000-0000-0000-0000-000000000000",
    ]
    parser = configparser.ConfigParser()
    parser.read(secure.data_dir / "credentials")
    admin = (parser["trent"]["aws_access_key_id"], parser["trent"]["aws_secret_access_key"])
    secure_kms = secure.client(access_key=admin[0], secret_key=admin[1])
    secure_key = secure_kms.create_key()["KeyMetadata"]["KeyId"]
    by_usage = dict(zip(["agreement", "kem", "ml-dsa", "ed25519", "rsa-sign"], others, strict=True))
    by_usage |= {"ecc-sign": sign["KeyId"], "mac": mac["KeyId"], "rsa-encrypt": rsa["KeyId"]}
    return Resources(refs, by_usage, victims, blobs, grant["GrantToken"], grant["GrantId"], admin, secure_key)


# ----------------------------------------------------------------- cases


@dataclass
class Case:
    category: str
    method: str = "POST"
    path: str = "/"
    headers: list[tuple[str, str | bytes]] = field(default_factory=list)
    body: bytes = b""
    server: str = "dev"  # "dev" or "secure"
    http_invalid: bool = False  # not valid HTTP: the HTTP parser may answer before Trent
    fresh: bool = False  # framing the next request could not survive: own connection
    must_fail: bool = False  # a 200 would be a bug (a tampered ciphertext that decrypted)
    raw_head: bytes | None = None  # the whole request head as bytes, for framing cases
    operation: str = ""

    def describe(self) -> str:
        head = self.raw_head if self.raw_head is not None else f"{self.method} {self.path} {self.headers}".encode()
        return f"[{self.category}] {head[:600]!r} body={self.body[:400]!r}{'...' if len(self.body) > 400 else ''}"


def sign(
    body: bytes,
    headers: dict[str, str],
    *,
    port: int,
    service: str = "kms",
    region: str = REGION,
    access_key: str = "AKIDFUZZ",
    secret: str = "fuzz",
    token: str | None = None,
    path: str = "/",
) -> list[tuple[str, str | bytes]]:
    """Headers botocore's SigV4Auth signs for a POST of ``body``, plus Host."""
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}{path}", data=body, headers=headers)
    SigV4Auth(Credentials(access_key, secret, token), service, region).add_auth(request)
    return [("Host", f"127.0.0.1:{port}"), *((name, str(value)) for name, value in request.headers.items())]


def sign_at(
    body: bytes, headers: dict[str, str], *, port: int, moment: datetime, access_key: str, secret: str
) -> list[tuple[str, str | bytes]]:
    """A valid signature made at another time (botocore always signs at its own now)."""
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    full = {name.lower(): value for name, value in headers.items()}
    full["host"] = f"127.0.0.1:{port}"
    full["x-amz-date"] = amz_date
    names = tuple(sorted(full))
    scope = f"{amz_date[:8]}/{REGION}/kms/aws4_request"
    canonical = sigv4.canonical_request(
        "POST", "/", "", full, signed_headers=names, payload_hash=hashlib.sha256(body).hexdigest()
    )
    signature = sigv4.calculate_signature(
        secret, amz_date[:8], REGION, "kms", sigv4.string_to_sign(amz_date, scope, canonical)
    )
    full["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return list(full.items())


class Generator:
    """Deterministic from the seed: the same seed gives the same corpus (up to signature dates)."""

    def __init__(self, seed: int, resources: Resources, dev_port: int, secure_port: int) -> None:
        self.rng = random.Random(seed)
        self.res = resources
        self.dev_port = dev_port
        self.secure_port = secure_port
        self.operations = list(MODEL.operation_names)
        self.members = {
            name: list(member_paths(shape)) for name in self.operations if (shape := MODEL.input_shape(name))
        }
        self.members_ops = [name for name in self.operations if self.members.get(name)]
        self.policies = broken_policies(self.rng)
        self.foreign_public_keys = foreign_public_keys(self.rng)
        self.query_models = {service: load_model(service) for service in ("sts", "iam")}
        self.categories: list[tuple[Callable[[], Case], float]] = [
            (self.json_member, 24),
            (self.json_edge, 8),
            (self.json_hostile, 8),
            (self.json_unicode, 6),
            (self.json_deep, 3),
            (self.json_shape, 5),
            (self.body_bytes, 6),
            (self.bad_base64, 4),
            (self.ciphertext, 6),
            (self.policy, 4),
            (self.context, 4),
            (self.asymmetric_inputs, 3),
            (self.marker, 2),
            (self.target, 5),
            (self.content_type, 3),
            (self.sigv4_dev, 6),
            (self.sigv4_secure, 5),
            (self.secure_body, 2),
            (self.headers, 3),
            (self.method_path, 2),
            (self.query, 5),
            (self.cloudtrail, 2),
            (self.oversized, 0.3),
            (self.framing, 1),
            (self.dev_route, 0.5),
        ]

    def cases(self, count: int) -> Iterator[Case]:
        makers = [maker for maker, _ in self.categories]
        weights = [weight for _, weight in self.categories]
        for _ in range(count):
            case = self.rng.choices(makers, weights)[0]()
            case.http_invalid = not_valid_http(case)
            yield case

    # ------------------------------------------------------------- building blocks

    def below(self, n: int) -> int:
        """A random index below ``n`` that always draws one number, whatever ``n`` is.

        Lengths of real ciphertexts and grant tokens vary from server to server; ``randrange`` would
        draw a varying count of random bits for them and the rest of the corpus would change.
        """
        return int(self.rng.random() * n)

    def plausible(self, name: str, shape: Shape, operation: str, depth: int = 0) -> Any:
        """A value that passes validation for most members, with real resources where they matter."""
        rng = self.rng
        if name in ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId"):
            return rng.choice(self.res.victims if operation in DESTRUCTIVE else self.res.key_refs)
        if name == "AliasName":
            return f"alias/fuzz-{rng.randrange(10**6)}"
        if name == "Policy":
            return json.dumps(valid_policy())
        if name == "PolicyName":
            return "default"
        if name in ("CiphertextBlob", "SourceCiphertextBlob"):
            return _b64(rng.choice(self.res.blobs))
        if name == "GrantTokens":
            return [self.res.grant_token]
        if name == "GrantToken":
            return self.res.grant_token
        if name == "GrantId":
            return self.res.grant_id
        if name in ("GranteePrincipal", "RetiringPrincipal"):
            return f"arn:aws:iam::{ACCOUNT}:root"
        if name == "Operations":
            return ["Encrypt"]
        if name == "NumberOfBytes":
            return 32
        if name == "PendingWindowInDays":
            return 7
        if name == "Limit":
            return 5
        kind = shape.type_name
        if kind == "string":
            if shape.enum:
                cheap = [value for value in CHEAP_ENUMS if value in shape.enum]
                return cheap[0] if cheap else rng.choice(shape.enum)
            return "f" * max(int(shape.min or 1), 1)
        if kind == "blob":
            return _b64(rng.randbytes(max(int(shape.min or 1), 16)))
        if kind in ("integer", "long"):
            low = int(shape.min) if shape.min is not None else 1
            return max(low, 1) if shape.max is None else min(max(low, 1), int(shape.max))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return 1_700_000_000
        if depth > 3:
            return None
        if kind == "list":
            return [self.plausible(name, shape.list_member(), operation, depth + 1)]
        if kind == "map":
            return {"purpose": "fuzz"}
        if kind == "structure":
            members = shape.members()
            # Model order, never the frozenset's: its order changes with the process's hash seed.
            return {
                m: self.plausible(m, shape_, operation, depth + 1)
                for m, shape_ in members.items()
                if m in shape.required
            }
        return None

    def base(self, operation: str) -> dict[str, Any]:
        shape = MODEL.input_shape(operation)
        if shape is None:
            return {}
        members = shape.members()
        request = {
            name: self.plausible(name, member, operation) for name, member in members.items() if name in shape.required
        }
        optional = [name for name in members if name not in shape.required]
        for name in self.rng.sample(optional, min(len(optional), self.rng.randrange(3))):
            request[name] = self.plausible(name, members[name], operation)
        return request

    def kms(self, category: str, operation: str, body: bytes, **extra: Any) -> Case:
        headers = sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + operation}, port=self.dev_port)
        return Case(category, headers=headers, body=body, operation=operation, **extra)

    def text(self, value: Any) -> bytes:
        return render(value, self.rng).encode()

    def pick_member(self, operation: str, kinds: tuple[str, ...] | None = None) -> tuple[Any, Shape] | None:
        members = self.members.get(operation, [])
        if kinds is not None:
            members = [(path, shape) for path, shape in members if shape.type_name in kinds]
        return self.rng.choice(members) if members else None

    def operation_with(self, kinds: tuple[str, ...]) -> tuple[str, Any, Shape]:
        while True:
            operation = self.rng.choice(self.members_ops)
            picked = self.pick_member(operation, kinds)
            if picked is not None:
                return operation, picked[0], picked[1]

    # ------------------------------------------------------------- bodies

    def json_member(self) -> Case:
        operation = self.rng.choice(self.members_ops)
        path, shape = self.rng.choice(self.members[operation])
        value = self.rng.choice(wrong_values(shape))
        body = self.text(set_path(self.base(operation), path, value))
        # A top-level member of the wrong JSON type can never be accepted.
        return self.kms(
            "json-wrong-type", operation, body, must_fail=len(path) == 1 and json_type_mismatch(shape, value)
        )

    def json_edge(self) -> Case:
        """Values of the right JSON type at and just past the model's bounds, and odd-but-typed ones."""
        rng = self.rng
        operation = rng.choice(self.members_ops)
        path, shape = rng.choice(self.members[operation])
        value = rng.choice(self.edge_values(shape))
        return self.kms("json-edge", operation, self.text(set_path(self.base(operation), path, value)))

    def edge_values(self, shape: Shape) -> list[Any]:
        rng = self.rng
        low = int(shape.min) if shape.min is not None else 0
        high = int(shape.max) if shape.max is not None else None
        kind = shape.type_name
        if kind == "string":
            uuid = "1234abcd-12ab-34cd-56ef-1234567890ab"
            values: list[Any] = [
                "",
                "a" * low,
                "a" * max(low - 1, 0),
                *shape.enum,
                rng.choice(shape.enum or ["x"]).lower(),
            ]
            if high is not None and high <= 100_000:
                values += ["a" * high, "a" * (high + 1), unicode_text(rng, high)]
            values += [
                uuid,
                uuid.upper(),
                "mrk-" + "0" * 32,
                f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid}",
                f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{uuid}",
                f"arn:aws:kms:{REGION}:999999999999:key/{uuid}",
                f"arn:aws-cn:kms:{REGION}:{ACCOUNT}:alias/fuzz-target",
                f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/",
                f"arn:aws:kms:{REGION}:{ACCOUNT}:key/",
                "arn:aws:kms:::key/x",
                "arn:",
                "alias/",
                "alias/aws/",
                "alias/aws/nope",
                f"arn:aws:iam::{ACCOUNT}:role/" + "r" * 60,
                f"arn:aws:sts::{ACCOUNT}:assumed-role/a/b",
                "*",
            ]
            return values
        if kind in ("integer", "long"):
            values = [0, -1, low, low - 1, 2**31 - 1, -(2**31)]
            if kind == "long":
                values += [2**63 - 1, -(2**63)]
            if high is not None:
                values += [high, high + 1]
            return values
        if kind == "blob":
            sizes = [0, low, max(low - 1, 0), 1]
            if high is not None and high <= 300_000:
                sizes += [high, high + 1]
            return [_b64(rng.randbytes(size)) for size in sizes]
        if kind == "timestamp":
            return [
                0,
                -1,
                1e10,
                253402300799,
                253402300800,
                -62135596800,
                "0001-01-01T00:00:00Z",
                "9999-12-31T23:59:59+14:00",
                "2024-02-30T00:00:00Z",
                1.5,
            ]
        if kind == "boolean":
            return [True, False]
        if kind == "list":
            element = shape.list_member()
            one = self.plausible("", element, "")
            return [[], [one] * (high + 1 if high is not None and high < 5000 else 1001), [one, one]]
        if kind == "map":
            count = high + 1 if high is not None and high < 5000 else 1001
            return [{}, {f"k{n}": "v" for n in range(count)}, {"": ""}, {unicode_text(rng, 3): ""}]
        return [{}]

    def json_hostile(self) -> Case:
        operation = self.rng.choice(self.members_ops)
        token = Raw(self.rng.choice(HOSTILE_TOKENS))
        if self.rng.random() < 0.2:
            return self.kms("json-hostile-token", operation, token.text.encode())
        path, _ = self.rng.choice(self.members[operation])
        return self.kms("json-hostile-token", operation, self.text(set_path(self.base(operation), path, token)))

    def json_unicode(self) -> Case:
        operation, path, shape = self.operation_with(("string", "map"))
        rng = self.rng
        text = unicode_text(rng, rng.choice([1, 3, 20, 300, 5000]))
        value: Any = {text: unicode_text(rng, 8)} if shape.type_name == "map" else text
        return self.kms("json-unicode", operation, self.text(set_path(self.base(operation), path, value)))

    def json_deep(self) -> Case:
        operation = self.rng.choice(self.members_ops)
        path, _ = self.rng.choice(self.members[operation])
        depth = self.rng.choice([10, 200, 1023, 1025, 5000, 50_000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        nested = Raw(opener * depth + "1" + closer * depth)
        return self.kms("json-deep", operation, self.text(set_path(self.base(operation), path, nested)))

    def random_json(self, depth: int = 0) -> Any:
        rng = self.rng
        roll = rng.random()
        if depth > 3 or roll < 0.5:
            return rng.choice([None, True, False, 0, -1, 2**64, 1.5, -1e300, "", "x", unicode_text(rng, 4), Raw("NaN")])
        if roll < 0.75:
            return [self.random_json(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(["KeyId", "Plaintext", "", unicode_text(rng, 3)]): self.random_json(depth + 1)}

    def json_shape(self) -> Case:
        operation = self.rng.choice(self.operations)
        value = self.random_json()
        if self.rng.random() < 0.7:
            request = self.base(operation)
            request[self.rng.choice([*request, "Unknown", ""])] = value
            value = request
        return self.kms("json-shape", operation, self.text(value))

    def body_bytes(self) -> Case:
        rng = self.rng
        operation = rng.choice(self.operations)
        body = json.dumps(self.base(operation)).encode()
        mutation = rng.choice(["random", "truncate", "flip", "insert", "bom", "utf16", "latin1", "nul", "array"])
        if mutation == "random":
            body = rng.randbytes(rng.randrange(1, 600))
        elif mutation == "truncate":
            body = body[: self.below(len(body))]
        elif mutation == "flip":
            at = self.below(len(body))
            body = body[:at] + bytes([body[at] ^ (1 << rng.randrange(8))]) + body[at + 1 :]
        elif mutation == "insert":
            at = self.below(len(body) + 1)
            body = body[:at] + rng.randbytes(rng.randrange(1, 6)) + body[at:]
        elif mutation == "bom":
            body = b"\xef\xbb\xbf" + body
        elif mutation == "utf16":
            body = body.decode().encode(rng.choice(["utf-16", "utf-16-be", "utf-32"]))
        elif mutation == "latin1":
            body = b'{"Description": "caf\xe9 \xff\xfe"}'
        elif mutation == "nul":
            body = body.replace(b":", b":\x00", 1)
        else:
            body = b"[" + body + b"]"
        return self.kms("body-bytes", operation, body)

    def bad_base64(self) -> Case:
        operation, path, shape = self.operation_with(("blob",))
        rng = self.rng
        value = rng.choice(
            [v for v in wrong_values(shape) if isinstance(v, str | Raw)]
            + ["A" * rng.randrange(1, 9000), "=" * rng.randrange(1, 5), unicode_text(rng, 8), " YQ==", "YQ==" * 3000]
        )
        return self.kms("bad-base64", operation, self.text(set_path(self.base(operation), path, value)))

    def ciphertext(self) -> Case:
        rng = self.rng
        blob = bytearray(rng.choice(self.res.blobs))
        how = rng.choice(["flip", "flip", "flip", "truncate", "extend", "swap", "zero", "garbage", "header-only"])
        if how == "flip":
            bit = self.below(len(blob) * 8)
            blob[bit // 8] ^= 1 << (bit % 8)
        elif how == "truncate":
            blob = blob[: 1 + self.below(len(blob) - 1)]
        elif how == "extend":
            blob += rng.randbytes(rng.randrange(1, 40))
        elif how == "swap":
            i, j = self.below(len(blob)), self.below(len(blob))
            if blob[i] == blob[j]:
                blob[i] ^= 0xFF
            blob[i], blob[j] = blob[j], blob[i]
        elif how == "zero":
            start = self.below(len(blob))
            end = min(len(blob), start + rng.randrange(1, 32))
            if any(blob[start:end]):
                blob[start:end] = bytes(end - start)
            else:
                blob[start] = 1
        elif how == "garbage":
            blob = bytearray(rng.randbytes(rng.randrange(1, 6144)))
        else:
            blob = blob[:66]
        operation = rng.choice(["Decrypt", "Decrypt", "ReEncrypt"])
        request: dict[str, Any] = {"CiphertextBlob": _b64(bytes(blob))}
        if operation == "ReEncrypt":
            request["DestinationKeyId"] = self.res.key_refs[0]
        if rng.random() < 0.3:
            request["KeyId" if operation == "Decrypt" else "SourceKeyId"] = rng.choice(self.res.key_refs[:5])
            if rng.random() < 0.5:
                field_name = "EncryptionAlgorithm" if operation == "Decrypt" else "SourceEncryptionAlgorithm"
                request[field_name] = rng.choice(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SYMMETRIC_DEFAULT"])
        if rng.random() < 0.3:
            context_name = "EncryptionContext" if operation == "Decrypt" else "SourceEncryptionContext"
            request[context_name] = {"purpose": "fuzz", "tenant": "\u00e9\U0001f600"}
        return self.kms(f"ciphertext-{how}", operation, self.text(request), must_fail=True)

    def asymmetric_inputs(self) -> Case:
        """Public keys, signatures, MACs and KEM ciphertexts that are wrong in kind, curve or length."""
        rng = self.rng
        keys = self.res.by_usage
        junk = rng.choice(self.foreign_public_keys)
        if len(junk) > 8 and rng.random() < 0.3:
            cut = bytearray(junk[: 1 + self.below(len(junk) - 1)] if rng.random() < 0.5 else junk)
            cut[self.below(len(cut))] ^= 1 << rng.randrange(8)
            junk = bytes(cut)
        operation = rng.choice(["DeriveSharedSecret", "Verify", "VerifyMac", "Decapsulate", "Sign", "GenerateMac"])
        if operation == "DeriveSharedSecret":
            request: dict[str, Any] = {
                "KeyId": keys["agreement"],
                "KeyAgreementAlgorithm": "ECDH",
                "PublicKey": _b64(junk),
            }
        elif operation == "Verify":
            key = rng.choice(["ecc-sign", "ml-dsa", "ed25519", "rsa-sign"])
            algorithm = rng.choice(
                [
                    "ECDSA_SHA_256",
                    "ML_DSA_SHAKE_256",
                    "ED25519_SHA_512",
                    "RSASSA_PSS_SHA_256",
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    "ED25519_PH_SHA_512",
                ]
            )
            request = {
                "KeyId": keys[key],
                "Message": _b64(rng.randbytes(rng.choice([0, 1, 32, 64, 4096]))),
                "MessageType": rng.choice(["RAW", "DIGEST", "EXTERNAL_MU"]),
                "Signature": _b64(junk),
                "SigningAlgorithm": algorithm,
            }
        elif operation == "Sign":
            key = rng.choice(["ecc-sign", "ml-dsa", "ed25519", "rsa-sign"])
            request = {
                "KeyId": keys[key],
                "Message": _b64(rng.randbytes(rng.choice([1, 20, 32, 48, 64, 65, 4096]))),
                "MessageType": rng.choice(["RAW", "DIGEST", "EXTERNAL_MU"]),
                "SigningAlgorithm": rng.choice(
                    [
                        "ECDSA_SHA_256",
                        "ECDSA_SHA_384",
                        "ML_DSA_SHAKE_256",
                        "ED25519_SHA_512",
                        "ED25519_PH_SHA_512",
                        "RSASSA_PSS_SHA_512",
                    ]
                ),
            }
        elif operation == "VerifyMac":
            request = {
                "KeyId": keys["mac"],
                "Message": _b64(b"m"),
                "Mac": _b64(junk),
                "MacAlgorithm": rng.choice(["HMAC_SHA_256", "HMAC_SHA_512"]),
            }
        elif operation == "GenerateMac":
            request = {
                "KeyId": rng.choice(list(keys.values())),
                "Message": _b64(rng.randbytes(rng.choice([1, 4096]))),
                "MacAlgorithm": rng.choice(["HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_224"]),
            }
        else:
            size = rng.choice([1, 767, 768, 1087, 1088, 1089, 1568, len(junk)])
            request = {"KeyId": keys["kem"], "Ciphertext": _b64(rng.randbytes(size) if size != len(junk) else junk)}
        return self.kms("asymmetric-inputs", operation, self.text(request))

    def policy(self) -> Case:
        rng = self.rng
        text = rng.choice(self.policies)
        if rng.random() < 0.3:  # a random edit of a valid policy
            good = json.dumps(valid_policy())
            at = self.below(len(good))
            text = (
                good[:at]
                + rng.choice(['"', "{", "}", "[", ",", ":", "\\", "\\u12", "", unicode_text(rng, 2)])
                + good[at + 1 :]
            )
        operation = rng.choice(["CreateKey", "PutKeyPolicy", "PutKeyPolicy", "ReplicateKey"])
        request = self.base(operation)
        request["Policy"] = text
        if rng.random() < 0.3:
            request["BypassPolicyLockoutSafetyCheck"] = True
        return self.kms("policy", operation, self.text(request))

    def context(self) -> Case:
        rng = self.rng
        contexts: list[Any] = [
            {"": "v"},
            {"k": ""},
            {"k": None},
            {"k": 1},
            {"k": True},
            {"k": ["v"]},
            {"k": {"v": "w"}},
            ["k", "v"],
            "k=v",
            {"k" * 3000: "v"},
            {"k": "v" * 20_000},
            {f"k{n}": "v" for n in range(rng.choice([65, 500, 5000]))},
            {unicode_text(rng, 6): unicode_text(rng, 6)},
            {"aws:": "reserved"},
            Raw('{"k":"v","k":"w"}'),
            Raw('{"k":"\\ud800"}'),
            Raw('{"\\udc00":"v"}'),
        ]
        value = rng.choice(contexts)
        operation = rng.choice(
            ["Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyPair", "ReEncrypt", "CreateGrant"]
        )
        request = self.base(operation)
        if operation == "CreateGrant":
            request["Constraints"] = {rng.choice(["EncryptionContextSubset", "EncryptionContextEquals"]): value}
        elif operation == "ReEncrypt":
            request[rng.choice(["SourceEncryptionContext", "DestinationEncryptionContext"])] = value
        else:
            request["EncryptionContext"] = value
        return self.kms("encryption-context", operation, self.text(request))

    def marker(self) -> Case:
        rng = self.rng
        operation = rng.choice([name for name in self.operations if name.startswith("List")])
        request = self.base(operation)
        position = rng.choice(["", "0", "1", "-1", "9" * 30, "\x00", "zz'--", unicode_text(rng, 5), "1e3", " 1"])
        forged = rng.random() < 0.5
        named = rng.choice([operation, "ListKeys", "Other"])
        raw_marker = f"{named}\x00{position}" if forged else rng.choice(["\x00", "x", "", "=="])
        marker = base64.urlsafe_b64encode(raw_marker.encode()).decode() or "A"
        if rng.random() < 0.2:
            marker = rng.choice(["!!!!", "%%%%", "A", "AB=", unicode_text(rng, 3)])
        request["Marker"] = marker
        return self.kms("marker", operation, self.text(request))

    # ------------------------------------------------------------- headers and signatures

    def target(self) -> Case:
        rng = self.rng
        operation = rng.choice(self.operations)
        body = self.text(self.base(operation))
        value = rng.choice(
            [
                None,
                "",
                KMS_PREFIX,
                KMS_PREFIX + "StealKeys",
                KMS_PREFIX + operation.lower(),
                KMS_PREFIX.lower() + operation,
                f" {KMS_PREFIX}{operation} ",
                KMS_PREFIX + operation + "\t",
                KMS_PREFIX + operation + ".",
                "DynamoDB_20120810.ListTables",
                CLOUDTRAIL_PREFIX + "StealEvents",
                CLOUDTRAIL_PREFIX,
                KMS_PREFIX + unicode_text(rng, 6),
                KMS_PREFIX + "A" * 8000,
                f"{KMS_PREFIX}{operation},{KMS_PREFIX}{operation}",
                "AWSSecurityTokenServiceV20110615.GetCallerIdentity",
            ]
        )
        headers = {"Content-Type": JSON_TYPE}
        if value is not None:
            headers["X-Amz-Target"] = value
        signed = sign(body, headers, port=self.dev_port)
        if rng.random() < 0.2:  # a second X-Amz-Target header after signing
            signed.append(("X-Amz-Target", KMS_PREFIX + rng.choice(self.operations)))
        return Case("target", headers=signed, body=body, operation=operation)

    def content_type(self) -> Case:
        rng = self.rng
        operation = rng.choice(self.operations)
        body = self.text(self.base(operation))
        value = rng.choice(
            [
                None,
                "",
                "application/json",
                "text/plain",
                "application/x-amz-json-1.0",
                "application/cbor",
                "multipart/form-data; boundary=x",
                FORM_TYPE,
                "application/x-amz-json-1.1; charset=latin-1",
                unicode_text(rng, 5),
                "a" * 5000,
            ]
        )
        headers = {"X-Amz-Target": KMS_PREFIX + operation}
        if value is not None:
            headers["Content-Type"] = value
        signed = sign(body, headers, port=self.dev_port)
        if rng.random() < 0.2:
            signed.append(("Content-Type", "text/xml"))
        return Case("content-type", headers=signed, body=body, operation=operation)

    def sigv4_dev(self) -> Case:
        """Authorization and X-Amz-Date mutations: the --dev server still parses every signature."""
        rng = self.rng
        operation = rng.choice(self.operations)
        body = self.text(self.base(operation))
        headers = dict(
            sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + operation}, port=self.dev_port)
        )
        auth = str(headers["Authorization"])
        now = datetime.now(UTC)
        edit = rng.choice(
            [
                "drop-auth",
                "empty-auth",
                "garbage-auth",
                "sigv2",
                "bearer",
                "lowercase-alg",
                "no-credential",
                "no-signature",
                "no-signed-headers",
                "short-credential",
                "long-credential",
                "bad-terminator",
                "bad-region",
                "other-service",
                "scope-date",
                "unsorted-signed",
                "unsigned-target",
                "upper-signature",
                "short-signature",
                "duplicate-param",
                "drop-date",
                "bad-date",
                "past",
                "future",
                "month-13",
                "unsigned-token",
                "long-auth",
                "duplicate-auth",
                "unicode-auth",
                "tab-separated",
                "lowercase-names",
            ]
        )
        if edit == "drop-auth":
            del headers["Authorization"]
        elif edit == "empty-auth":
            headers["Authorization"] = rng.choice(["", " ", "\t"])
        elif edit == "garbage-auth":
            headers["Authorization"] = "".join(rng.choice(string.printable[:94]) for _ in range(rng.randrange(1, 200)))
        elif edit == "sigv2":
            headers["Authorization"] = "AWS AKIDFUZZ:c2lnbmF0dXJl"
        elif edit == "bearer":
            headers["Authorization"] = "Bearer eyJhbGciOiJub25lIn0.e30."
        elif edit == "lowercase-alg":
            headers["Authorization"] = auth.replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256")
        elif edit == "no-credential":
            headers["Authorization"] = re.sub(r"Credential=[^,]*, ", "", auth)
        elif edit == "no-signature":
            headers["Authorization"] = auth.split(", Signature=", maxsplit=1)[0]
        elif edit == "no-signed-headers":
            headers["Authorization"] = re.sub(r"SignedHeaders=[^,]*, ", "", auth)
        elif edit == "short-credential":
            headers["Authorization"] = auth.replace("/aws4_request", "")
        elif edit == "long-credential":
            headers["Authorization"] = auth.replace("/aws4_request", "/aws4_request/extra")
        elif edit == "bad-terminator":
            headers["Authorization"] = auth.replace("aws4_request", "aws5_request")
        elif edit == "bad-region":
            region = rng.choice(["US-EAST-1", "", "a" * 65, "us_east_1", unicode_text(rng, 3), "mars-north-9"])
            headers["Authorization"] = auth.replace(f"/{REGION}/", f"/{region}/")
        elif edit == "other-service":
            headers["Authorization"] = auth.replace("/kms/", f"/{rng.choice(['s3', 'KMS', '', 'sts', 'iam'])}/")
        elif edit == "scope-date":
            headers["Authorization"] = auth.replace(now.strftime("/%Y%m%d/"), "/19700101/")
        elif edit == "unsorted-signed":
            headers["Authorization"] = auth.replace("content-type;host", "host;content-type")
        elif edit == "unsigned-target":
            headers["Authorization"] = auth.replace(";x-amz-target", "")
        elif edit == "upper-signature":
            head, _, signature = auth.partition("Signature=")
            headers["Authorization"] = head + "Signature=" + signature.upper()
        elif edit == "short-signature":
            headers["Authorization"] = auth[: -rng.randrange(1, 64)]
        elif edit == "duplicate-param":
            headers["Authorization"] = auth + ", Signature=" + "0" * 64
        elif edit == "drop-date":
            del headers["X-Amz-Date"]
        elif edit == "bad-date":
            headers["X-Amz-Date"] = rng.choice(
                ["", "yesterday", "2024-01-01T00:00:00Z", "20241301T000000Z", "\u0661" * 8 + "T000000Z"]
            )
        elif edit in ("past", "future"):
            shift = timedelta(seconds=rng.choice([330, 3600, 86400 * 365 * 50]))
            moment = now - shift if edit == "past" else now + shift
            headers["X-Amz-Date"] = moment.strftime("%Y%m%dT%H%M%SZ")
        elif edit == "month-13":
            headers["X-Amz-Date"] = now.strftime("%Y13%dT%H%M%SZ")
        elif edit == "unsigned-token":
            headers["X-Amz-Security-Token"] = "FQoGZXIvYXdzE" + "A" * rng.randrange(400)
        elif edit == "long-auth":
            headers["Authorization"] = auth + ", X=" + "y" * rng.choice([1000, 30_000])
        elif edit == "unicode-auth":
            headers["Authorization"] = auth.replace("AKIDFUZZ", unicode_text(rng, 4)).encode()  # type: ignore[assignment]
        elif edit == "tab-separated":
            headers["Authorization"] = auth.replace(", ", ",\t")
        elif edit == "lowercase-names":
            headers["Authorization"] = auth.replace("Credential=", "credential=")
        items: list[tuple[str, str | bytes]] = list(headers.items())
        if edit == "duplicate-auth":
            items.append(("Authorization", auth))
        return Case(f"sigv4-dev-{edit}", headers=items, body=body, operation=operation)

    def sigv4_secure(self) -> Case:
        """Signed with the secure server's admin key, then tampered with: the signature must catch it."""
        rng = self.rng
        access, secret = self.res.admin
        operation = rng.choice(["ListKeys", "DescribeKey", "Encrypt", "GenerateRandom", "ListAliases"])
        request = (
            {"KeyId": self.res.secure_key, "Plaintext": _b64(b"secret")}
            if operation in ("DescribeKey", "Encrypt")
            else {}
        )
        body = self.text(request)
        base_headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + operation}
        port = self.secure_port
        edit = rng.choice(
            [
                "body-after",
                "target-after",
                "wrong-secret",
                "unknown-key",
                "token-garbage",
                "asia-without-token",
                "skew-past",
                "skew-future",
                "sha256-mismatch",
                "unsigned-payload",
                "signature-char",
                "path-after",
                "same-canonical-path",
                "query-after",
                "region-other",
                "content-type-after",
                "host-after",
                "valid",
                "dev-credentials",
            ]
        )
        sent_body, path = body, "/"
        if edit == "wrong-secret":
            headers = sign(body, base_headers, port=port, access_key=access, secret=secret + "x")
        elif edit == "unknown-key":
            headers = sign(
                body,
                base_headers,
                port=port,
                access_key="AKIA" + "".join(rng.choices(string.ascii_uppercase, k=16)),
                secret=secret,
            )
        elif edit == "token-garbage":
            headers = sign(
                body, base_headers, port=port, access_key=access, secret=secret, token="garbage" * rng.randrange(1, 60)
            )
        elif edit == "asia-without-token":
            headers = sign(body, base_headers, port=port, access_key="ASIA" + access[4:], secret=secret)
        elif edit in ("skew-past", "skew-future"):
            # Far enough that the time a case waits in the send queue cannot bring it back in range.
            shift = timedelta(seconds=rng.choice([330, 900, 86400]) + (300 if edit == "skew-future" else 0))
            moment = datetime.now(UTC) + (shift if edit == "skew-future" else -shift)
            headers = sign_at(body, base_headers, port=port, moment=moment, access_key=access, secret=secret)
        elif edit == "sha256-mismatch":
            headers = sign(
                body, {**base_headers, "X-Amz-Content-Sha256": "0" * 64}, port=port, access_key=access, secret=secret
            )
        elif edit == "unsigned-payload":
            headers = sign(
                body,
                {**base_headers, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
                port=port,
                access_key=access,
                secret=secret,
            )
        elif edit == "region-other":
            headers = sign(
                body,
                base_headers,
                port=port,
                access_key=access,
                secret=secret,
                region=rng.choice(["eu-west-1", "mars-north-9"]),
            )
        elif edit == "dev-credentials":
            headers = sign(body, base_headers, port=port)
        else:
            headers = sign(body, base_headers, port=port, access_key=access, secret=secret)
        if edit == "body-after":
            sent_body = body + b" " if rng.random() < 0.5 else body.replace(b"{", b"{ ", 1) + b"x"
        elif edit == "target-after":
            other = "ListKeys" if operation != "ListKeys" else "ListAliases"
            headers = [(n, KMS_PREFIX + other if n == "X-Amz-Target" else v) for n, v in headers]
        elif edit == "signature-char":
            headers = [(n, _flip_last_hex(str(v)) if n == "Authorization" else v) for n, v in headers]
        elif edit == "path-after":
            path = rng.choice(["/x", "/%2F", "/kms"])
        elif edit == "same-canonical-path":  # SigV4 normalizes these to "/": still correctly signed
            path = rng.choice(["//", "/?", "/./", "/a/.."])
        elif edit == "query-after":
            path = "/?" + rng.choice(["a=1", "Action=ListKeys", "%zz", "a=%ff"])
        elif edit == "content-type-after":
            headers = [(n, "application/json" if n == "Content-Type" else v) for n, v in headers]
        elif edit == "host-after":
            headers = [(n, "evil.example" if n == "Host" else v) for n, v in headers]
        must_fail = edit not in ("valid", "region-other", "same-canonical-path")
        return Case(
            f"sigv4-secure-{edit}",
            path=path,
            headers=headers,
            body=sent_body,
            server="secure",
            must_fail=must_fail,
            operation=operation,
        )

    def secure_body(self) -> Case:
        """Correctly signed requests with bad bodies, through the real authentication path."""
        case = self.rng.choice([self.json_member, self.json_hostile, self.ciphertext, self.context])()
        access, secret = self.res.admin
        target = next(str(v) for n, v in case.headers if n == "X-Amz-Target")
        headers = sign(
            case.body,
            {"Content-Type": JSON_TYPE, "X-Amz-Target": target},
            port=self.secure_port,
            access_key=access,
            secret=secret,
        )
        return Case(
            f"secure-{case.category}",
            headers=headers,
            body=case.body,
            server="secure",
            must_fail=case.must_fail,
            operation=case.operation,
        )

    def headers(self) -> Case:
        rng = self.rng
        operation = rng.choice(["ListKeys", "Encrypt", "DescribeKey", "GenerateRandom"])
        body = self.text(self.base(operation))
        headers = sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + operation}, port=self.dev_port)
        edit = rng.choice(
            [
                "no-host",
                "two-hosts",
                "many",
                "huge",
                "obs-text",
                "utf8-value",
                "duplicate-date",
                "odd-names",
                "expect",
                "connection",
                "empty-values",
            ]
        )
        if edit == "no-host":
            headers = [(n, v) for n, v in headers if n != "Host"]
        elif edit == "two-hosts":
            headers.append(("Host", "other.example"))
        elif edit == "many":
            headers += [(f"X-Fuzz-{n}", "v") for n in range(rng.choice([100, 1000]))]
        elif edit == "huge":
            headers.append(("X-Fuzz", "v" * rng.choice([8000, 60_000])))
        elif edit == "obs-text":
            headers.append(("X-Fuzz", bytes(range(0x80, 0x100))))
        elif edit == "utf8-value":
            headers.append(
                (
                    "User-Agent",
                    unicode_text(rng, 20).replace("\r", "").replace("\n", "").replace("\x00", "").replace("\x85", ""),
                )
            )
        elif edit == "duplicate-date":
            headers.append(("X-Amz-Date", "20200101T000000Z"))
        elif edit == "odd-names":
            headers += [("X-!#$%&'*+.^_`|~", "v"), ("x-amz-target", KMS_PREFIX + "ListAliases")]
        elif edit == "expect":
            headers.append(("Expect", "100-continue"))
        elif edit == "connection":
            headers.append(("Connection", rng.choice(["close", "upgrade", "keep-alive, close", "Upgrade"])))
            if rng.random() < 0.5:
                headers.append(("Upgrade", "h2c"))
        else:
            headers += [("X-Amz-Security-Token", ""), ("X-Amz-Content-Sha256", "")]
        return Case(f"headers-{edit}", headers=headers, body=body, operation=operation, fresh=edit == "connection")

    def method_path(self) -> Case:
        rng = self.rng
        body = b"{}"
        method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST", "TRACE", "FUZZ"])
        path = rng.choice(
            [
                "/",
                "/x",
                "//",
                "/_trent",
                "/_trent/",
                "/_trent/health",
                "/_trent/health?x=1",
                "/_trent/unknown",
                "/%ff%fe",
                "/%00",
                "/..%2f..%2fetc/passwd",
                "/?Action=ListKeys",
                "/" + "a" * 4000,
                "/\u00e9".encode().decode("latin-1"),
                "http://127.0.0.1/",
                "*",
            ]
        )
        headers = sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + "ListKeys"}, port=self.dev_port)
        if rng.random() < 0.5:
            headers = [(n, v) for n, v in headers if n != "X-Amz-Target"]
        return Case("method-path", method=method, path=path, headers=headers, body=body)

    # ------------------------------------------------------------- other protocols on the endpoint

    def query(self) -> Case:
        rng = self.rng
        service = rng.choice(["sts", "iam"])
        model = self.query_models[service]
        action = rng.choice([*model.operation_names, "", "StealCredentials", unicode_text(rng, 4)])
        fields: dict[str, str] = {
            "Action": action,
            "Version": rng.choice([model.api_version, model.api_version, "", "2000-01-01"]),
        }
        shape = model.input_shape(action) if model.has_operation(action) else None
        if shape is not None:
            for name, member in shape.members().items():
                if rng.random() < 0.6:
                    fields[name] = self.query_value(name, member)
        for _ in range(rng.randrange(3)):
            fields[rng.choice(["Tags.member.1.Key", "Tags.member.x.Value", "A." * 30, "", unicode_text(rng, 3)])] = (
                unicode_text(rng, 5)
            )
        body = urlencode(fields).encode()
        mutation = rng.random()
        if mutation < 0.1:
            body += rng.choice([b"&%zz=1", b"&a=%ff%fe", b"&&&", b"&=", b"&a", b"\xff\xfe"])
        elif mutation < 0.12:
            body += b"&" + b"&".join(b"f%d=v" % n for n in range(11_000))
        content_type = FORM_TYPE if rng.random() < 0.9 else rng.choice([JSON_TYPE, "text/plain"])
        signed = sign(
            body,
            {"Content-Type": content_type},
            port=self.dev_port,
            service=rng.choice([service, service, service, "kms"]),
        )
        if rng.random() < 0.1:
            signed = [(n, v) for n, v in signed if n != "Authorization"]
        return Case(f"query-{service}", headers=signed, body=body, operation=action)

    def query_value(self, name: str, shape: Shape) -> str:
        rng = self.rng
        if "PolicyDocument" in name or name == "Policy":
            return rng.choice(self.policies)
        kind = shape.type_name
        choices = ["", unicode_text(rng, 8), "9" * 30, "-1", "true", "x" * 3000]
        if kind in ("integer", "long"):
            choices += ["900", "3600", "43201", "1.5", "0x10"]
        elif kind == "boolean":
            choices += ["True", "yes"]
        elif kind == "timestamp":
            choices += ["2024-01-01T00:00:00Z", "yesterday"]
        elif shape.enum:
            choices += list(shape.enum)
        else:
            choices += ["fuzz", f"arn:aws:iam::{ACCOUNT}:role/fuzz"]
        return rng.choice(choices)

    def cloudtrail(self) -> Case:
        rng = self.rng
        operation = rng.choice(["LookupEvents"] * 4 + list(CLOUDTRAIL_MODEL.operation_names[:10]))
        shape = CLOUDTRAIL_MODEL.input_shape(operation)
        request: dict[str, Any] = {}
        if shape is not None:
            members = list(member_paths(shape))
            if members:
                path, member = rng.choice(members)
                request = set_path(request, path, rng.choice([*wrong_values(member), unicode_text(rng, 5)]))
        if operation == "LookupEvents" and rng.random() < 0.3:
            request = {
                "NextToken": rng.choice(
                    [
                        "x",
                        "",
                        base64.urlsafe_b64encode(b"trent-lookup-v1:99999999999999999999999:ab").decode(),
                        _b64(rng.randbytes(20)),
                    ]
                )
            }
        body = self.text(request)
        headers = sign(
            body,
            {"Content-Type": JSON_TYPE, "X-Amz-Target": CLOUDTRAIL_PREFIX + operation},
            port=self.dev_port,
            service="cloudtrail",
        )
        return Case("cloudtrail", headers=headers, body=body, operation=operation)

    def oversized(self) -> Case:
        rng = self.rng
        if rng.random() < 0.5:
            body = b'{"KeyId": "' + b"a" * (MAX_BODY + rng.randrange(1, 4096)) + b'"}'
            return self.kms("oversized-body", "DescribeKey", body, fresh=True)
        body = b"{}"
        headers = sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + "ListKeys"}, port=self.dev_port)
        head = _head(
            "POST",
            "/",
            [(n, v) for n, v in headers],
            extra=f"Content-Length: {rng.choice([MAX_BODY + 1, 50 * MAX_BODY, 10**30])}\r\n",
        )
        return Case("oversized-declared", body=body, raw_head=head, fresh=True, http_invalid=True)

    def framing(self) -> Case:
        """Requests that are not valid HTTP; uvicorn's parser answers some of them itself."""
        rng = self.rng
        body = b"{}"
        headers = sign(body, {"Content-Type": JSON_TYPE, "X-Amz-Target": KMS_PREFIX + "ListKeys"}, port=self.dev_port)
        kind = rng.choice(
            [
                "no-colon",
                "nul",
                "bad-length",
                "two-lengths",
                "chunked",
                "bad-chunk",
                "short-length",
                "version",
                "garbage",
                "space-name",
            ]
        )
        extra = ""
        length: bool = True
        payload = body
        request_line = "POST / HTTP/1.1"
        if kind == "no-colon":
            extra = "BrokenHeader\r\n"
        elif kind == "nul":
            extra = "X-Fuzz: a\x00b\r\n"
        elif kind == "bad-length":
            extra, length = f"Content-Length: {rng.choice(['abc', '-1', '1.5', ' ', '0x2'])}\r\n", False
        elif kind == "two-lengths":
            extra = "Content-Length: 3\r\n"
        elif kind == "chunked":
            extra, length = "Transfer-Encoding: chunked\r\n", False
            payload = b"2\r\n{}\r\n0\r\n\r\n"
        elif kind == "bad-chunk":
            extra, length = "Transfer-Encoding: chunked\r\n", False
            payload = b"zz\r\n{}\r\n0\r\n\r\n"
        elif kind == "short-length":
            extra, length = "Content-Length: 1\r\n", False
        elif kind == "version":
            request_line = rng.choice(["POST / HTTP/1.0", "POST / HTTP/9.9", "POST /", "POST / HTTP/1.1 extra"])
        elif kind == "garbage":
            request_line = rng.choice(
                [
                    "\x16\x03\x01\x02\x00\x01",
                    "GET",
                    "PRI * HTTP/2.0",
                    unicode_text(rng, 10).replace("\r", "").replace("\n", ""),
                ]
            )
        else:
            extra = "X Fuzz: v\r\n"
        head = _head(
            "POST", "/", headers, extra=extra, length=len(payload) if length else None, request_line=request_line
        )
        return Case(f"framing-{kind}", body=payload, raw_head=head, fresh=True, http_invalid=True)

    def dev_route(self) -> Case:
        rng = self.rng
        path = rng.choice(EXTRA_ROUTES)
        body = rng.choice(
            [
                b"",
                b"{}",
                b"[]",
                b"null",
                b'{"seconds": "x"}',
                b'{"seconds": -5}',
                b'{"seconds": null}',
                b'{"seconds": []}',
                b'{"seconds": 1e999}',
                b"\xff",
                b'{"seconds": "NaN"}',
                b'{"seconds": true}',
                b'{"seconds": 0}',
            ]
        )
        headers = [
            ("Host", f"127.0.0.1:{self.dev_port}"),
            ("Content-Type", rng.choice([JSON_TYPE, "application/json", FORM_TYPE])),
        ]
        return Case("dev-route", path=path, headers=headers, body=body)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def not_valid_http(case: Case) -> bool:
    """Whether RFC 9110/9112 forbid the request: the HTTP parser may refuse it before Trent sees it."""
    if case.raw_head is not None:
        return case.http_invalid
    if case.method not in _METHODS or any(ord(c) < 0x21 or ord(c) > 0x7E for c in case.path):
        return True
    for name, value in case.headers:
        raw = value if isinstance(value, bytes) else value.encode()
        if not _TOKEN.fullmatch(name.encode()) or _CONTROL.search(raw):
            return True
    return False


def foreign_public_keys(rng: random.Random) -> list[bytes]:
    """SubjectPublicKeyInfo DER of other curves and algorithms, a point off the curve, and junk.

    Every key comes from ``rng``, so the corpus stays a function of the seed.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    modulus = rng.getrandbits(2048) | (1 << 2047) | 1  # a public key needs no known factors
    keys = [
        ec.derive_private_key(rng.randrange(1, 2**255), ec.SECP256R1()).public_key(),
        ec.derive_private_key(rng.randrange(1, 2**383), ec.SECP384R1()).public_key(),
        ec.derive_private_key(rng.randrange(1, 2**255), ec.SECP256K1()).public_key(),
        ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)).public_key(),
        x25519.X25519PrivateKey.from_private_bytes(rng.randbytes(32)).public_key(),
        rsa.RSAPublicNumbers(65537, modulus).public_key(),
    ]
    found = [key.public_bytes(der, spki) for key in keys]
    p256 = found[0]
    off_curve = bytearray(p256)
    off_curve[-1] ^= 1  # the point's y no longer satisfies the curve equation
    raw_point = keys[0].public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return [*found, bytes(off_curve), raw_point, b"", b"\x30", b"\x30\x82\xff\xff", bytes(91), b"\x04" + bytes(64)]


def _flip_last_hex(auth: str) -> str:
    last = auth[-1]
    return auth[:-1] + ("0" if last != "0" else "1")


def _head(
    method: str,
    path: str,
    headers: list[tuple[str, str | bytes]],
    *,
    extra: str = "",
    length: int | None = None,
    request_line: str | None = None,
) -> bytes:
    lines = [(request_line or f"{method} {path} HTTP/1.1").encode("latin-1", "replace")]
    for name, value in headers:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n" + extra.encode("latin-1", "replace") + b"\r\n"


# ----------------------------------------------------------------- sending


@dataclass
class Outcome:
    case: Case
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    seconds: float = 0.0


class Client:
    """One thread's keep-alive connection to each server; framing cases get a connection of their own."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.sockets: dict[str, socket.socket] = {}

    def _connect(self, server: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.ports[server]), timeout=REQUEST_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()

    def send(self, case: Case) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(case)
        if case.raw_head is not None:
            data = case.raw_head + case.body
        else:
            names = {name.lower() for name, _ in case.headers}
            lines = [f"{case.method} {case.path} HTTP/1.1".encode("latin-1", "replace")]
            if "host" not in names and case.category != "headers-no-host":
                lines.append(f"Host: 127.0.0.1:{self.ports[case.server]}".encode())
            for name, value in case.headers:
                lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
            lines.append(b"Content-Length: %d" % len(case.body))
            if case.fresh:
                lines.append(b"Connection: close")
            data = b"\r\n".join(lines) + b"\r\n\r\n" + case.body
        own = case.fresh or case.raw_head is not None  # a connection of its own, closed afterwards
        for attempt in range(2):
            reused = not own and case.server in self.sockets
            sock: socket.socket | None = None
            try:
                sock = self._connect(case.server) if own else self.sockets.get(case.server)
                if sock is None:
                    sock = self.sockets[case.server] = self._connect(case.server)
                try:
                    sock.sendall(data)
                except OSError:
                    if not own:
                        raise
                    # The server may answer a refused body before reading it all: read what it said.
                response = http.client.HTTPResponse(sock, method=case.method)
                response.begin()
                outcome.body = response.read()
                outcome.status = response.status
                outcome.headers = {name.lower(): value for name, value in response.getheaders()}
                outcome.error = None
                if own or response.will_close:
                    self._close(case.server, sock, own)
                break
            except (OSError, http.client.HTTPException) as error:
                if sock is not None:
                    self._close(case.server, sock, own)
                outcome.error = (
                    "timeout (hang)" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
                )
                if isinstance(error, TimeoutError) or not reused or attempt:
                    break  # only a keep-alive connection the server closed while idle is retried
        outcome.seconds = time.monotonic() - started
        return outcome

    def _close(self, server: str, sock: socket.socket, own: bool) -> None:
        sock.close()
        if not own:
            self.sockets.pop(server, None)


def run_corpus(cases: Iterator[Case], ports: dict[str, int], threads: int) -> list[Outcome]:
    """Send every case with ``threads`` workers; generation overlaps sending through a bounded queue."""
    work: queue.Queue[Case | None] = queue.Queue(maxsize=threads * 64)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def worker() -> None:
        client = Client(ports)
        mine: list[Outcome] = []
        try:
            while (case := work.get()) is not None:
                mine.append(client.send(case))
        finally:
            client.close()
            with lock:
                outcomes.extend(mine)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for case in cases:
        work.put(case)
    for _ in pool:
        work.put(None)
    for thread in pool:
        thread.join()
    return outcomes


# ----------------------------------------------------------------- judging answers

_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/,\s]*/([^/,\s]+)/aws4_request")


def expected_format(case: Case) -> str:
    """'json' or 'xml': STS/IAM query requests are answered in XML, all else in AWS JSON 1.1.

    As the server reads a request: an X-Amz-Target means JSON; else a signature scoped to sts or iam,
    or a form body, means the query protocol.
    """
    joined: dict[str, str] = {}
    for name, value in case.headers:
        text = value.decode("latin-1") if isinstance(value, bytes) else value.encode().decode("latin-1")
        key = name.lower()
        joined[key] = f"{joined[key]},{text}" if key in joined else text
    if case.path.split("?")[0] in EXTRA_ROUTES:
        return "any"
    if "x-amz-target" in joined:
        return "json"
    match = _CREDENTIAL_SERVICE.search(joined.get("authorization", ""))
    if match is not None and match.group(1) in ("sts", "iam"):
        return "xml"
    if joined.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return "xml"
    return "json"


def judge(outcome: Outcome) -> tuple[str, str | None]:
    """(label for the tally, violation or None)."""
    case = outcome.case
    if outcome.error is not None:
        if case.category.startswith("oversized") and "timeout" not in outcome.error:
            return "connection closed by server", None  # a refused upload may be cut off
        return f"error {outcome.error}", f"no answer: {outcome.error}"
    status = outcome.status
    assert status is not None
    if status >= 500:
        return f"{status}", f"server error {status}: {outcome.body[:300]!r}"
    request_id = outcome.headers.get("x-amzn-requestid")
    content_type = outcome.headers.get("content-type", "")
    if request_id is None:
        # Only the HTTP parser answers without Trent's request id, and only to invalid HTTP.
        if case.http_invalid and status == 400 and content_type.startswith("text/plain"):
            return "400 (uvicorn: invalid HTTP)", None
        return f"{status} {content_type}", f"answer without x-amzn-RequestId: {status} {outcome.body[:200]!r}"
    if len(request_id) != 36:
        return f"{status}", f"malformed request id {request_id!r}"
    if case.must_fail and status == 200:
        return "200", "a request that must fail succeeded (a tampered ciphertext or signature was accepted)"
    wanted = "any" if case.http_invalid else expected_format(case)
    if content_type == JSON_TYPE and wanted in ("json", "any"):
        if case.method == "HEAD":
            return f"{status} (HEAD)", None
        try:
            body = json.loads(outcome.body) if outcome.body else {}
        except ValueError:
            return f"{status}", f"not JSON: {outcome.body[:200]!r}"
        if not isinstance(body, dict):
            return f"{status}", f"JSON body is not an object: {outcome.body[:200]!r}"
        if status == 200:
            return "200", None
        code = body.get("__type")
        if not isinstance(code, str) or code not in KNOWN_JSON_CODES:
            return f"{status} {code}", f"unknown __type {code!r}: {outcome.body[:200]!r}"
        if not isinstance(body.get("message", ""), str):
            return f"{status} {code}", "message is not a string"
        return f"{status} {code}", None
    if content_type == "text/xml" and wanted in ("xml", "any"):
        if case.method == "HEAD":
            return f"{status} (HEAD)", None
        try:
            root = ElementTree.fromstring(outcome.body)  # noqa: S314 - the server under test wrote it
        except ElementTree.ParseError:
            return f"{status}", f"not XML: {outcome.body[:200]!r}"
        if status == 200:
            return "200 (xml)", None
        namespace = root.tag.partition("}")[0] + "}"
        code = root.findtext(f"{namespace}Error/{namespace}Code")
        if not root.tag.endswith("ErrorResponse") or not code:
            return f"{status} (xml)", f"XML error without Error/Code: {outcome.body[:200]!r}"
        if root.findtext(f"{namespace}RequestId") != request_id:
            return f"{status} {code} (xml)", "XML RequestId differs from x-amzn-RequestId"
        return f"{status} {code} (xml)", None
    return f"{status} {content_type}", f"{content_type!r} answer where {wanted} was expected: {outcome.body[:200]!r}"


# ----------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def fuzz_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrentServer, TrentServer]]:
    base = tmp_path_factory.mktemp("fuzz")
    dev = TrentServer(base / "dev").start()
    secure = TrentServer(base / "secure", dev=False).start()
    yield dev, secure
    dev.stop()
    secure.stop()


def _healthy(server: TrentServer, **credentials: str) -> None:
    assert server.process is not None
    assert server.process.poll() is None, f"server exited:\n{server.log()[-3000:]}"
    with urllib.request.urlopen(server.endpoint + "/_trent/health", timeout=10) as response:
        assert response.status == 200
    kms = server.client(**credentials)
    key_id = kms.create_key(Description="after the fuzz")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"still works", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"still works"


@pytest.mark.timeout(120 + REQUESTS // 100)
def test_malformed_request_corpus(fuzz_servers: tuple[TrentServer, TrentServer]) -> None:
    dev, secure = fuzz_servers
    print(f"\nfuzz corpus: TRENT_FUZZ_SEED={SEED} TRENT_FUZZ_REQUESTS={REQUESTS} threads={THREADS}")
    resources = make_resources(dev, secure)
    generator = Generator(SEED, resources, dev.port, secure.port)
    started = time.monotonic()
    outcomes = run_corpus(generator.cases(REQUESTS), {"dev": dev.port, "secure": secure.port}, THREADS)
    elapsed = time.monotonic() - started

    tally: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    violations: list[str] = []
    for outcome in outcomes:
        label, violation = judge(outcome)
        tally[label] += 1
        by_category[outcome.case.category.split("-")[0]] += 1
        if violation is not None:
            violations.append(f"{violation}\n    request: {outcome.case.describe()}")
    slowest = max(outcomes, key=lambda o: o.seconds)
    rate = len(outcomes) / elapsed
    print(f"sent {len(outcomes)} requests in {elapsed:.1f} s ({rate:.0f}/s)")
    print(f"slowest answer {slowest.seconds:.2f} s [{slowest.case.category}]")
    print("by outcome:")
    for label, count in sorted(tally.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:7d}  {label}")
    print("by category: " + ", ".join(f"{name} {count}" for name, count in sorted(by_category.items())))
    assert len(outcomes) == REQUESTS
    assert not violations, f"{len(violations)} bad answers (seed {SEED}); first ones:\n" + "\n".join(violations[:15])

    _healthy(dev)
    _healthy(secure, access_key=resources.admin[0], secret_key=resources.admin[1])
    for server in (dev, secure):
        log = server.log()
        assert "Traceback" not in log, f"the server logged a traceback (seed {SEED}):\n{_first_traceback(log)}"


def _first_traceback(log: str) -> str:
    start = log.find("Traceback")
    return log[max(0, start - 300) : start + 3000]


def test_the_generator_is_deterministic() -> None:
    usage = dict.fromkeys(["agreement", "kem", "ml-dsa", "ed25519", "rsa-sign", "ecc-sign", "mac"], "k")
    resources = Resources(["k"], usage, ["v"], [b"\x01" * 120], "t", "g", ("AKIA", "s"), "k")
    first = [(c.category, c.body) for c in Generator(7, resources, 1, 2).cases(300)]
    second = [(c.category, c.body) for c in Generator(7, resources, 1, 2).cases(300)]
    assert first == second
    assert len({category.split("-")[0] for category, _ in first}) > 15
    # Another server's resources (other lengths of blobs and tokens): the same requests, in order.
    other = Resources(["key"], usage, ["victim"], [b"\x02" * 333], "token" * 9, "g", ("AKIA", "s"), "k")
    assert [c.category for c in Generator(7, other, 1, 2).cases(300)] == [category for category, _ in first]


# ----------------------------------------------------------------- what the fuzzing found
# Each of these answered 500 until fixed; the corpus sends such requests too, these pin them down.


def _raw(server: TrentServer, target: str, body: dict[str, Any] | bytes, service: str = "kms") -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign(data, {"Content-Type": JSON_TYPE, "X-Amz-Target": target}, port=server.port, service=service)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", "/", body=data, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("operation", sorted(INTEGER_MARKER_OPERATIONS))
@pytest.mark.parametrize("position", ["zz", "9" * 30, "-1", "\u0663"])
def test_forged_integer_marker_is_invalid_marker(server: TrentServer, operation: str, position: str) -> None:
    # Was: int() of the position in the store (ValueError, or SQLite's OverflowError) -> 500.
    body: dict[str, Any] = {"Marker": base64.urlsafe_b64encode(f"{operation}\x00{position}".encode()).decode()}
    if operation in ("ListGrants", "ListKeyRotations"):
        body["KeyId"] = server.client().create_key()["KeyMetadata"]["KeyId"]
    if operation == "ListRetirableGrants":
        body["RetiringPrincipal"] = f"arn:aws:iam::{ACCOUNT}:root"
    status, payload = _raw(server, KMS_PREFIX + operation, body)
    assert (status, json.loads(payload)["__type"]) == (400, "InvalidMarkerException"), payload


_SURROGATE_POLICIES = [
    '{"\\ud800": 1}',
    '{"Statement": [{"\\udc00": 1}]}',
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*",'
    ' "Resource": "*", "Condition": {"StringEquals": {"\\ud800": "x"}}}]}',
]


@pytest.mark.parametrize("operation", ["CreateKey", "PutKeyPolicy"])
@pytest.mark.parametrize("policy", _SURROGATE_POLICIES)
def test_policy_with_lone_surrogate_escape_is_malformed(server: TrentServer, operation: str, policy: str) -> None:
    # Was: the error message quoted the raw surrogate, the audit record could not be written -> 500.
    body: dict[str, Any] = {"Policy": policy}
    if operation == "PutKeyPolicy":
        body["KeyId"] = server.client().create_key()["KeyMetadata"]["KeyId"]
        body["PolicyName"] = "default"
    status, payload = _raw(server, KMS_PREFIX + operation, body)
    assert (status, json.loads(payload)["__type"]) == (400, "MalformedPolicyDocumentException"), payload


def test_a_refused_policy_does_not_fail_the_requests_that_share_its_audit_batch(server: TrentServer) -> None:
    # Was: the unwritable record failed its whole group-commit batch: innocent requests sent at the
    # same time answered 500 too (74 of 300 ListAliases in one measurement).
    answers: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()

    def send(kind: str, target: str, body: dict[str, Any]) -> None:
        for _ in range(25):
            status, _payload = _raw(server, target, body)
            with lock:
                answers[(kind, status)] += 1

    bad = {"Policy": _SURROGATE_POLICIES[0]}
    threads = [threading.Thread(target=send, args=("good", KMS_PREFIX + "ListAliases", {})) for _ in range(4)]
    threads += [threading.Thread(target=send, args=("bad", KMS_PREFIX + "CreateKey", bad)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {("good", 200): 100, ("bad", 400): 50}


def test_dev_clock_refuses_an_overflowing_advance(server: TrentServer) -> None:
    # Was: timedelta(seconds=1e300) raised OverflowError, which the route did not catch -> 500.
    request = urllib.request.Request(
        server.endpoint + "/_trent/dev/advance-clock",
        data=b'{"seconds": 1e300}',
        method="POST",
        headers={"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["__type"] == "ValidationException"
    refused.value.close()
