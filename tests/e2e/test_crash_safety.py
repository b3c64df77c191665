"""Crash safety (issue 15): kill -9 the server at random moments under mixed load, then check that
everything it acknowledged survived, that nothing is half done, and that the audit trail holds one
record per acknowledged request and still verifies.

Each cycle: 8 client threads (boto3, retries off) run a random mix of Encrypt, GenerateDataKey,
CreateKey, CreateAlias, PutKeyPolicy, TagResource and ScheduleKeyDeletion against keys of their own;
at a random moment the server gets SIGKILL; it is restarted, and the checker then compares what the
server says with what the clients were told (a 200 response = acknowledged):

- every acknowledged key is listed and describes with its state, spec and description; every
  listed key is one that was acknowledged or one whose unacknowledged CreateKey went through (found
  by the unique token in its description); no key is half created: an Enabled symmetric key
  encrypts, an Enabled ECC key signs (both need its material);
- every acknowledged alias points at its key, and no other test alias exists;
- every key's policy and tags are exactly the acknowledged ones;
- every acknowledged ciphertext (Encrypt, GenerateDataKey) decrypts to its plaintext, under its key
  (KMSInvalidStateException while the key is pending deletion; the last cycle cancels those
  deletions and decrypts them all);
- a request cut off by the kill (no complete response) either took effect with exactly one audit
  record of it, or took no effect and has none;
- every acknowledged request (the load's and the checker's own) has exactly one record in
  ``audit_events`` with its requestID, eventName and no errorCode; no requestID is recorded twice;
- ``trent audit verify --json`` reports the chain intact.

After an intermediate cycle the checker covers everything created or changed since the previous
check plus a random sample of older ciphertexts and keys (the whole model would make the run
quadratic); the last cycle checks everything. Listing (keys, aliases) and the audit checks are always
complete.

Sized for a 2-core CI machine: ``TRENT_CRASH_CYCLES`` (default 10) sets the number of kill cycles
per store; the documented long run is ``TRENT_CRASH_CYCLES=50``. ``TRENT_CRASH_SEED`` replays the
random choices of a run (timings still differ). The figures (requests acknowledged, restart to
first successful request: min/median/max) are printed; run with ``-rP`` (or ``-s`` without xdist)
to see them. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import (
    ACCOUNT_ID,
    BIN,
    REGION,
    TrentServer,
    drop_postgres_schema,
    fresh_postgres_schema,
    require_postgres,
)
from tests.e2e.test_audit import all_records

pytestmark = pytest.mark.e2e

CYCLES = int(os.environ.get("TRENT_CRASH_CYCLES", "10"))
CLIENTS = 8
SEED = int(os.environ.get("TRENT_CRASH_SEED") or random.SystemRandom().randrange(2**32))
LOAD_SECONDS = (0.1, 0.4)  # how long the load runs before the kill, uniformly drawn per cycle
SAMPLE = 16  # older ciphertexts and keys re-checked after an intermediate cycle
TIMEOUT = 90 + 12 * CYCLES

SYMMETRIC = "SYMMETRIC_DEFAULT"
ECC = "ECC_NIST_P256"
TAG_KEYS = ("owner", "purpose", "cost-center", "project")
DEFAULT_POLICY_ID = "key-default-1"
TOKEN = re.compile(r"\b[0-9a-f]{32}\b")  # the workers' per-request tokens, as requestParameters show them
OPERATIONS = (
    "Encrypt",
    "GenerateDataKey",
    "CreateKey",
    "CreateAlias",
    "PutKeyPolicy",
    "TagResource",
    "ScheduleKeyDeletion",
)
WEIGHTS = (30, 20, 12, 8, 10, 14, 6)


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def policy_text(token: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"crash-{token}",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


class TruncatedResponse(BotoCoreError):
    """The connection closed before the whole body arrived (botocore reads without checking the length)."""

    fmt = "the response body ended after {received} of {expected} bytes"


def _whole_body(response_dict: dict[str, Any], **_: Any) -> None:
    # The server sends the status line and headers, then the body: a kill between the two leaves a 200
    # with a short body, which botocore (enforce_content_length=False) would parse as an empty answer.
    # That is a response the client never got, so not an acknowledgement.
    expected = response_dict["headers"].get("content-length")
    body = response_dict["body"]
    if expected is not None and isinstance(body, bytes) and len(body) != int(expected):
        raise TruncatedResponse(received=len(body), expected=expected)


_SESSION = boto3.session.Session()
_SESSION_LOCK = threading.Lock()


def make_client(server: TrentServer) -> Any:
    """boto3 with retries really off (``total_max_attempts`` 1: conftest's ``max_attempts`` 1 still retries once)."""
    with _SESSION_LOCK:  # one session, so the service model is loaded once; clients are thread-safe
        client = _SESSION.client(
            "kms",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=30,
                max_pool_connections=4,
            ),
        )
    client.meta.events.register("before-parse.kms.*", _whole_body)
    return client


def method_name(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


# ===================================================================== what the clients were told


@dataclass(eq=False)
class Key:
    key_id: str
    spec: str
    token: str  # the description is "crash <token>"
    owner: int
    state: str = "Enabled"  # or PendingDeletion
    policy: str | None = None  # the last policy put; None: the default policy
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    in_doubt: bool = False  # an unacknowledged request touched it; resolved after the restart
    dirty: bool = True  # created or changed since the last check


@dataclass(eq=False)
class Sealed:
    key: Key
    blob: bytes
    plaintext: bytes
    context: dict[str, str]
    checked: bool = False


@dataclass(eq=False)
class Unknown:
    """A request cut off by the kill: sent, never answered."""

    operation: str
    token: str
    key: Key | None = None
    value: Any = None  # policy text, (tag key, tag value), alias name, (key spec,)
    owner: int = -1
    applied: bool | None = None  # found out after the restart (None: nothing to find out)


class Stop(Exception):
    """A worker's request failed: the worker ends its part of the cycle."""


class Ledger:
    """Shared by the workers and the checker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acks: list[tuple[str, str]] = []  # (requestID, operation) of every 200 response
        self.load_acks = 0
        self.keys: dict[str, Key] = {}
        self.sealed: list[Sealed] = []
        self.aliases: dict[str, Key] = {}
        self.unknowns: list[Unknown] = []  # of the current cycle
        self.resolved: list[Unknown] = []  # of every cycle, with what was found
        self.unexpected: list[str] = []
        self.killed = threading.Event()
        self.stop = threading.Event()

    def ack(self, rid: str, operation: str, *, load: bool) -> None:
        with self.lock:
            self.acks.append((rid, operation))
            self.load_acks += load

    def note(self, problem: str) -> None:
        with self.lock:
            self.unexpected.append(problem)


class Worker:
    """One client thread; it changes only keys it created, so its own order is the keys' order."""

    def __init__(self, index: int, client: Any, ledger: Ledger, seed: int) -> None:
        self.index = index
        self.client = client
        self.ledger = ledger
        self.rng = random.Random(seed)

    def run(self) -> None:
        try:
            while not self.ledger.stop.is_set():
                self.step()
        except Stop:
            return
        except Exception as exc:  # noqa: BLE001 - a failing worker must fail the test, not vanish
            self.ledger.note(f"worker {self.index}: {exc!r}")

    def call(self, operation: str, unknown: Unknown, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, method_name(operation))(**params)
        except ClientError as exc:
            # The server was up and refused: the model and the server disagree.
            self.ledger.note(f"{operation} {_summary(params)} -> {exc.response.get('Error')}")
            raise Stop from exc
        except BotoCoreError as exc:
            unknown.owner = self.index
            if not self.ledger.killed.is_set():
                self.ledger.note(f"{operation} {_summary(params)} failed while the server was up: {exc!r}")
            if unknown.key is not None:
                unknown.key.in_doubt = True
                unknown.key.dirty = True
            with self.ledger.lock:
                self.ledger.unknowns.append(unknown)
            raise Stop from exc
        self.ledger.ack(request_id(response), operation, load=True)
        return response

    def my_keys(self) -> list[Key]:
        with self.ledger.lock:
            return [
                k
                for k in self.ledger.keys.values()
                if k.owner == self.index and k.state == "Enabled" and not k.in_doubt
            ]

    def step(self) -> None:
        keys = self.my_keys()
        symmetric = [k for k in keys if k.spec == SYMMETRIC]
        operation = "CreateKey" if len(symmetric) < 2 else self.rng.choices(OPERATIONS, WEIGHTS)[0]
        token = uuid.UUID(int=self.rng.getrandbits(128)).hex
        if operation in {"Encrypt", "GenerateDataKey"}:
            self.seal(operation, self.rng.choice(symmetric), token)
        elif operation == "CreateKey":
            self.create_key(token)
        else:
            getattr(self, method_name(operation))(self.rng.choice(keys), token)

    def reference(self, key: Key, *, aliases: bool = True) -> str:
        """Key id, key ARN or (where AWS takes one: not TagResource, ScheduleKeyDeletion) an alias."""
        choices = [key.key_id, key_arn(key.key_id), *(key.aliases if aliases else [])]
        return self.rng.choice(choices)

    def seal(self, operation: str, key: Key, token: str) -> None:
        context = {} if self.rng.random() < 0.5 else {"crash": token[:8], "n": str(self.rng.randrange(1000))}
        params: dict[str, Any] = {"KeyId": self.reference(key), "EncryptionContext": context}
        if operation == "Encrypt":
            params["Plaintext"] = self.rng.randbytes(self.rng.randint(1, 512))
        elif self.rng.random() < 0.5:
            params["KeySpec"] = "AES_256"
        else:
            params["NumberOfBytes"] = self.rng.randint(1, 1024)
        response = self.call(operation, Unknown(operation, token), **params)
        if response["KeyId"] != key_arn(key.key_id):
            self.ledger.note(f"{operation} under {params['KeyId']} answered KeyId {response['KeyId']}")
        plaintext = params.get("Plaintext", response.get("Plaintext"))
        with self.ledger.lock:
            self.ledger.sealed.append(Sealed(key, response["CiphertextBlob"], plaintext, context))

    def create_key(self, token: str) -> None:
        spec = SYMMETRIC if self.rng.random() < 0.85 else ECC
        params: dict[str, Any] = {"Description": f"crash {token}", "KeySpec": spec}
        if spec == ECC:
            params["KeyUsage"] = "SIGN_VERIFY"
        response = self.call("CreateKey", Unknown("CreateKey", token, value=(spec,)), **params)
        key = Key(response["KeyMetadata"]["KeyId"], spec, token, self.index)
        with self.ledger.lock:
            self.ledger.keys[key.key_id] = key

    def create_alias(self, key: Key, token: str) -> None:
        name = f"alias/crash-{token}"
        self.call("CreateAlias", Unknown("CreateAlias", token, key, name), AliasName=name, TargetKeyId=key.key_id)
        key.aliases.append(name)
        key.dirty = True
        with self.ledger.lock:
            self.ledger.aliases[name] = key

    def put_key_policy(self, key: Key, token: str) -> None:
        policy = policy_text(token)
        self.call("PutKeyPolicy", Unknown("PutKeyPolicy", token, key, policy), KeyId=key.key_id, Policy=policy)
        key.policy = policy
        key.dirty = True

    def tag_resource(self, key: Key, token: str) -> None:
        tag = (self.rng.choice(TAG_KEYS), token)
        self.call(
            "TagResource",
            Unknown("TagResource", token, key, tag),
            KeyId=self.reference(key, aliases=False),
            Tags=[{"TagKey": tag[0], "TagValue": tag[1]}],
        )
        key.tags[tag[0]] = tag[1]
        key.dirty = True

    def schedule_key_deletion(self, key: Key, token: str) -> None:
        response = self.call(
            "ScheduleKeyDeletion",
            Unknown("ScheduleKeyDeletion", token, key),
            KeyId=self.reference(key, aliases=False),
            PendingWindowInDays=self.rng.randint(7, 30),
        )
        if response.get("KeyState") != "PendingDeletion":
            self.ledger.note(f"ScheduleKeyDeletion of {key.key_id} answered {response}")
        key.state = "PendingDeletion"
        key.dirty = True


def _summary(params: dict[str, Any]) -> str:
    return json.dumps({k: v if isinstance(v, str | int | dict | list) else "<bytes>" for k, v in params.items()})


# ===================================================================== the server's side


@dataclass
class Target:
    server: TrentServer
    database_url: str | None

    def spawn(self) -> float:
        """Start `trent serve`; seconds from the spawn to the first successful KMS request."""
        server = self.server
        args = [str(BIN / "trent"), "serve", "--port", str(server.port), "--data-dir", str(server.data_dir), "--dev"]
        probe = make_client(server)
        started = time.monotonic()
        with server.log_path.open("ab") as log:
            server.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=server.env)
        deadline = started + 60
        while True:
            if server.process.poll() is not None:
                raise AssertionError(f"trent exited at restart ({server.process.returncode}):\n{server.log()[-4000:]}")
            try:
                probe.list_keys(Limit=1)
            except BotoCoreError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"trent did not answer within 60 s:\n{server.log()[-4000:]}") from None
                time.sleep(0.005)
                continue
            return time.monotonic() - started

    def kill(self) -> None:
        process = self.server.process
        assert process is not None
        assert process.poll() is None, f"trent died before the kill:\n{self.server.log()[-4000:]}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        self.server.process = None

    def records(self) -> list[dict[str, Any]]:
        if self.database_url is None:
            return all_records(self.server)
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT record FROM audit_events ORDER BY sequence").fetchall()
        return [json.loads(bytes(row[0])) for row in rows]

    def audit_verify(self) -> subprocess.Popen[str]:
        """`trent audit verify --json`, started: it reads one snapshot while the checks go on."""
        env = dict(os.environ)
        if self.database_url is not None:
            env["TRENT_DATABASE_URL"] = self.database_url
        args = [str(BIN / "trent"), "audit", "verify", "--json", "--data-dir", str(self.server.data_dir)]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def verify_report(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode in {0, 1}, stdout + stderr
    report: dict[str, Any] = json.loads(stdout)
    return report


class Checker:
    """Compares the restarted server with the ledger; collects every disagreement."""

    def __init__(self, target: Target, ledger: Ledger, seed: int) -> None:
        self.target = target
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=CLIENTS)
        self.problems: list[str] = []
        self.just_resolved: list[Unknown] = []
        self.problem_lock = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def fail(self, problem: str) -> None:
        with self.problem_lock:
            self.problems.append(problem)

    def client(self) -> Any:
        if not hasattr(self.local, "client"):
            self.local.client = make_client(self.target.server)
        return self.local.client

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = getattr(self.client(), method_name(operation))(**params)
        self.ledger.ack(request_id(response), operation, load=False)
        return response

    def paginate(self, operation: str, member: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Limit": 1000 if operation == "ListKeys" else 100}
        while True:
            page = self.call(operation, **params)
            items += page[member]
            if not page.get("Truncated"):
                return items
            params["Marker"] = page["NextMarker"]

    def each(self, work: Callable[[Any], None], items: list[Any]) -> None:
        def guarded(item: Any) -> None:
            try:
                work(item)
            except ClientError as exc:
                self.fail(f"{work.__name__}({item!r:.120}): {exc.response.get('Error')}")

        list(self.pool.map(guarded, items))

    # ----------------------------------------------------------------- one check

    def check(self, *, final: bool) -> None:
        self.problems = []
        verifying = self.target.audit_verify()  # the trail as the crash left it (plus the probe)
        listed = {k["KeyId"] for k in self.paginate("ListKeys", "Keys")}
        self.resolve(listed)
        missing = [key_id for key_id in self.ledger.keys if key_id not in listed]
        if missing:
            self.fail(f"acknowledged keys not listed: {missing}")
        strangers = listed - set(self.ledger.keys)
        if strangers:
            self.fail(f"listed keys no request created: {sorted(strangers)}")

        keys = [k for k in self.ledger.keys.values() if k.key_id in listed]
        older = [k for k in keys if not k.dirty]
        chosen = keys if final else [k for k in keys if k.dirty] + self.sample(older)
        self.each(self.check_key, chosen)
        for key in chosen:
            key.dirty = False

        self.check_aliases()

        unchecked = [s for s in self.ledger.sealed if not s.checked]
        chosen_sealed = (
            self.ledger.sealed if final else unchecked + self.sample([s for s in self.ledger.sealed if s.checked])
        )
        self.each(self.check_sealed, chosen_sealed)
        if final:
            self.revive_pending_keys()

        self.check_audit()
        reports = [verify_report(verifying)]
        if final:  # and once more over everything, the checks' own records too
            reports.append(verify_report(self.target.audit_verify()))
        for report in reports:
            if report.get("intact") is not True:
                self.fail(f"trent audit verify: {report}")
        if self.problems:
            shown = "\n  ".join(self.problems[:25])
            raise AssertionError(f"{len(self.problems)} problems after the restart (seed {SEED}):\n  {shown}")

    def sample(self, items: list[Any]) -> list[Any]:
        return self.rng.sample(items, min(SAMPLE, len(items)))

    # ----------------------------------------------------------------- requests the kill cut off

    def resolve(self, listed: set[str]) -> None:
        """What each unanswered request did: all or nothing, found out from the server."""
        unknowns, self.ledger.unknowns = self.ledger.unknowns, []
        creates = {u.token: u for u in unknowns if u.operation == "CreateKey"}
        for key_id in sorted(listed - set(self.ledger.keys)):
            metadata = self.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
            token = metadata.get("Description", "").removeprefix("crash ")
            unknown = creates.get(token)
            if unknown is None:
                continue  # reported as a stranger
            self.ledger.keys[key_id] = Key(key_id, unknown.value[0], token, unknown.owner)
            unknown.applied = True
        aliases = None
        for unknown in unknowns:
            key = unknown.key
            if unknown.operation == "CreateKey":
                unknown.applied = bool(unknown.applied)
            elif unknown.operation == "CreateAlias":
                assert key is not None
                if aliases is None:
                    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in self.paginate("ListAliases", "Aliases")}
                unknown.applied = unknown.value in aliases
                if unknown.applied:
                    if aliases[unknown.value] != key.key_id:
                        self.fail(f"alias {unknown.value} points at {aliases[unknown.value]}, not {key.key_id}")
                    key.aliases.append(unknown.value)
                    self.ledger.aliases[unknown.value] = key
            elif unknown.operation == "PutKeyPolicy":
                assert key is not None
                found = self.call("GetKeyPolicy", KeyId=key.key_id, PolicyName="default")["Policy"]
                unknown.applied = _same_policy(found, unknown.value)
                if unknown.applied:
                    key.policy = unknown.value
                elif not _same_policy(found, key.policy):
                    self.fail(
                        f"key {key.key_id} has policy {found!r}: neither the last acknowledged nor the cut-off one"
                    )
            elif unknown.operation == "TagResource":
                assert key is not None
                tags = self.tags_of(key)
                tag_key, tag_value = unknown.value
                unknown.applied = tags.get(tag_key) == tag_value
                if unknown.applied:
                    key.tags[tag_key] = tag_value
            elif unknown.operation == "ScheduleKeyDeletion":
                assert key is not None
                state = self.call("DescribeKey", KeyId=key.key_id)["KeyMetadata"]["KeyState"]
                unknown.applied = state == "PendingDeletion"
                if unknown.applied:
                    key.state = "PendingDeletion"
            if key is not None:
                key.in_doubt = False
        self.ledger.resolved += unknowns
        self.just_resolved = unknowns

    # ----------------------------------------------------------------- keys, aliases, ciphertexts

    def tags_of(self, key: Key) -> dict[str, str]:
        tags: dict[str, str] = {}
        params: dict[str, Any] = {"KeyId": key.key_id}
        while True:
            page = self.call("ListResourceTags", **params)
            tags.update({t["TagKey"]: t["TagValue"] for t in page["Tags"]})
            if not page.get("Truncated"):
                return tags
            params["Marker"] = page["NextMarker"]

    def check_key(self, key: Key) -> None:
        metadata = self.call("DescribeKey", KeyId=key.key_id)["KeyMetadata"]
        seen = (metadata["KeyState"], metadata["KeySpec"], metadata.get("Description"))
        if seen != (key.state, key.spec, f"crash {key.token}"):
            self.fail(f"key {key.key_id}: (state, spec, description) {seen}, acknowledged {key.state, key.spec}")
        if metadata["KeyState"] == "Enabled" and metadata["KeySpec"] == SYMMETRIC:
            # Its material is there (the acknowledged ciphertexts prove it decrypts, too).
            self.call("Encrypt", KeyId=key.key_id, Plaintext=os.urandom(24))
        elif metadata["KeyState"] == "Enabled" and metadata["KeySpec"] == ECC:
            self.call("Sign", KeyId=key.key_id, Message=b"crash", SigningAlgorithm="ECDSA_SHA_256")
        policy = self.call("GetKeyPolicy", KeyId=key.key_id, PolicyName="default")["Policy"]
        if not _same_policy(policy, key.policy):
            self.fail(f"key {key.key_id}: policy {policy!r}, acknowledged {key.policy!r}")
        tags = self.tags_of(key)
        if tags != key.tags:
            self.fail(f"key {key.key_id}: tags {tags}, acknowledged {key.tags}")

    def check_aliases(self) -> None:
        found = {
            a["AliasName"]: a.get("TargetKeyId")
            for a in self.paginate("ListAliases", "Aliases")
            if a["AliasName"].startswith("alias/crash-")
        }
        expected = {name: key.key_id for name, key in self.ledger.aliases.items()}
        if found != expected:
            lost = {n: t for n, t in expected.items() if found.get(n) != t}
            extra = {n: t for n, t in found.items() if n not in expected}
            self.fail(f"aliases: lost or moved {lost}, unexpected {extra}")

    def check_sealed(self, sealed: Sealed) -> None:
        params: dict[str, Any] = {"CiphertextBlob": sealed.blob, "EncryptionContext": sealed.context}
        if sealed.key.state == "PendingDeletion":
            try:
                self.call("Decrypt", **params)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "KMSInvalidStateException":
                    self.fail(f"Decrypt under pending-deletion key {sealed.key.key_id}: {exc.response['Error']}")
            else:
                self.fail(f"Decrypt under pending-deletion key {sealed.key.key_id} succeeded")
            sealed.checked = True  # and decrypted once its deletion is cancelled, in the last cycle
            return
        response = self.call("Decrypt", **params)
        if (response["Plaintext"], response["KeyId"]) != (sealed.plaintext, key_arn(sealed.key.key_id)):
            self.fail(f"acknowledged ciphertext under {sealed.key.key_id} decrypts to something else")
        sealed.checked = True

    def revive_pending_keys(self) -> None:
        """Cancel every deletion, so the ciphertexts under those keys are proven to decrypt too."""
        pending = [k for k in self.ledger.keys.values() if k.state == "PendingDeletion"]

        def revive(key: Key) -> None:
            self.call("CancelKeyDeletion", KeyId=key.key_id)
            self.call("EnableKey", KeyId=key.key_id)
            key.state = "Enabled"

        self.each(revive, pending)
        self.each(self.check_sealed, [s for s in self.ledger.sealed if s.key in pending])

    # ----------------------------------------------------------------- the audit trail

    def check_audit(self) -> None:
        records = self.target.records()
        by_request: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record.get("requestID"):
                by_request.setdefault(record["requestID"], []).append(record)
        twice = [rid for rid, found in by_request.items() if len(found) > 1]
        if twice:
            self.fail(f"requestIDs recorded more than once: {twice[:10]}")
        with self.ledger.lock:
            acks = list(self.ledger.acks)
        for rid, operation in acks:
            found = by_request.get(rid, [])
            if len(found) != 1:
                self.fail(f"acknowledged {operation} {rid}: {len(found)} audit records")
            elif found[0]["eventName"] != operation or "errorCode" in found[0]:
                self.fail(
                    f"acknowledged {operation} {rid}: recorded as {found[0]['eventName']} {found[0].get('errorCode')}"
                )
        successes = Counter[tuple[str, str]]()
        for record in records:
            if "errorCode" in record or record.get("eventType") != "AwsApiCall":
                continue
            if record["eventName"] == "ScheduleKeyDeletion":
                marks = {r["ARN"] for r in record.get("resources") or []}
            else:
                marks = set(TOKEN.findall(json.dumps(record.get("requestParameters"))))
            for mark in marks:
                successes[record["eventName"], mark] += 1
        # Only this cycle's: a later, acknowledged ScheduleKeyDeletion of the same key has a record too.
        for unknown in self.just_resolved:
            if unknown.applied is None:
                continue
            mark = unknown.token
            if unknown.operation == "ScheduleKeyDeletion":
                assert unknown.key is not None
                mark = key_arn(unknown.key.key_id)
            count = successes[unknown.operation, mark]
            if count != int(unknown.applied):
                done = "took effect" if unknown.applied else "took no effect"
                trail = [
                    (r["eventName"], r.get("errorCode"), r.get("requestID"), r["eventTime"])
                    for r in records
                    if mark in json.dumps(r)
                ]
                self.fail(
                    f"cut-off {unknown.operation} {mark} {done} but has {count} successful audit records; "
                    f"its records: {trail}"
                )


def _same_policy(found: str, expected: str | None) -> bool:
    document = json.loads(found)
    if expected is None:
        return bool(document.get("Id") == DEFAULT_POLICY_ID)
    return bool(document == json.loads(expected))


# ===================================================================== the cycles


def crash_cycles(server: TrentServer, database_url: str | None) -> None:
    target = Target(server, database_url)
    ledger = Ledger()
    rng = random.Random(SEED)
    checker = Checker(target, ledger, SEED + 1)
    restarts: list[float] = []
    try:
        target.spawn()
        workers = [Worker(i, make_client(server), ledger, SEED * 100 + i) for i in range(CLIENTS)]
        for cycle in range(CYCLES):
            ledger.stop.clear()
            ledger.killed.clear()
            threads = [threading.Thread(target=w.run, name=f"crash-client-{w.index}") for w in workers]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(*LOAD_SECONDS))
            ledger.killed.set()
            target.kill()
            ledger.stop.set()
            for thread in threads:
                thread.join(timeout=60)
                assert not thread.is_alive(), f"{thread.name} still waits for a dead server"
            assert not ledger.unexpected, f"cycle {cycle} (seed {SEED}): " + "\n".join(ledger.unexpected[:20])
            restarts.append(target.spawn())
            checker.check(final=cycle == CYCLES - 1)
        resolved = Counter(str(u.applied) for u in ledger.resolved if u.applied is not None)
        store = "PostgreSQL" if database_url else "SQLite"
        print(
            f"\ncrash safety ({store}, seed {SEED}): {CYCLES} kill -9 cycles, {CLIENTS} clients; "
            f"{ledger.load_acks} load requests acknowledged ({len(ledger.acks)} with the checks'), "
            f"{len(ledger.keys)} keys, {len(ledger.aliases)} aliases, {len(ledger.sealed)} ciphertexts; "
            f"cut-off requests found applied/not applied: {resolved['True']}/{resolved['False']} "
            f"(+{sum(u.applied is None for u in ledger.resolved)} cut-off Encrypt/GenerateDataKey); "
            f"restart to first successful request: min {min(restarts):.3f} s, "
            f"median {statistics.median(restarts):.3f} s, max {max(restarts):.3f} s"
        )
    finally:
        checker.close()
        server.stop()


@pytest.mark.timeout(TIMEOUT)
def test_kill_9_under_load_loses_nothing_acknowledged_sqlite(tmp_path: Path) -> None:
    crash_cycles(TrentServer(tmp_path / "data"), None)


@pytest.mark.timeout(TIMEOUT)
def test_kill_9_under_load_loses_nothing_acknowledged_postgresql(tmp_path: Path) -> None:
    require_postgres()
    url = fresh_postgres_schema()
    try:
        crash_cycles(TrentServer(tmp_path / "data", env={"TRENT_DATABASE_URL": url}), url)
    finally:
        drop_postgres_schema(url)
