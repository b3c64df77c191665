#!/usr/bin/env python3
"""Sign and Verify requests/s through a real `trent serve`, next to the harness's Sign baselines, as ratios.

Reuses bench/run.py: the harness copied into bench/.work with its own virtual environment, Trent started
without --dev (SigV4 verified) pinned to CPU 1. The baselines (moto, the sketch) are started pinned to CPU 1
by the harness's own run_baselines.py functions, and every measurement goes through the harness's own
pieces (kmsload: botocore SigV4 pre-signing of 512 requests, one checked request, wrk pinned to CPU 0,
warm-up, then the measured run), in rounds whose order is rotated as run_baselines.py rotates them
(ordered by operation, so the two sides of a ratio are measured seconds apart, not a round apart).

The harness knows one signing load, `sign` (ECC_NIST_P256, ECDSA_SHA_256, 256 B RAW message). This
script adds the others to kmsload's operation tables, with bodies of the same shape:

  sign-rsa-pss      RSA_2048, RSASSA_PSS_SHA_256, a fresh 256 B RAW message per pooled request
  sign-rsa-pkcs1    RSA_2048, RSASSA_PKCS1_V1_5_SHA_256, likewise
  verify-ecdsa      the `sign` key, 16 (message, signature) pairs made once through boto3, cycled
  verify-rsa-pss    the RSA key, likewise
  verify-rsa-pkcs1  the RSA key, likewise

moto gets every operation (it implements them all), the sketch only `sign` (all it implements), so
each row has a ratio against moto and Sign P-256 also one against the sketch. Before each measurement
the first request of each kind is checked as kmsload checks it (200 with the member AWS returns); on top,
every Verify pair of the pool answers SignatureValid=true and a Sign answer verifies under the key's public
key (GetPublicKey; PSS with a digest-long salt as AWS KMS signs, any salt length for moto, which signs
with the longest). During the load wrk counts every status >= 400 as an error; any error fails the run.

  .venv/bin/python bench/sign_verify.py [--rounds 3] [--duration 6] [--warmup 2] [--baselines moto,sketch]
                                        [--ops sign,sign-rsa-pss,...] [--crypto] [--doc]

--crypto also prints the in-process cost of trent.crypto.asymmetric.sign/verify per call (CPU 1).
Results: bench/.work/results/sign-verify-<time>.jsonl and .md (the table, in run_baselines.py's format).
--doc also writes the table (and --crypto's) into docs/benchmarks.md (its `bench:sign-verify` section; see
bench/run.py).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from run import WORK, free_port, prepare_harness, start_trent, write_section

SIGN_ALGORITHM = {  # op -> (key: "ecc" or "rsa", KMS SigningAlgorithm)
    "sign": ("ecc", "ECDSA_SHA_256"),  # the harness's own op; its body is kmsload's
    "sign-rsa-pss": ("rsa", "RSASSA_PSS_SHA_256"),
    "sign-rsa-pkcs1": ("rsa", "RSASSA_PKCS1_V1_5_SHA_256"),
    "verify-ecdsa": ("ecc", "ECDSA_SHA_256"),
    "verify-rsa-pss": ("rsa", "RSASSA_PSS_SHA_256"),
    "verify-rsa-pkcs1": ("rsa", "RSASSA_PKCS1_V1_5_SHA_256"),
}
ALL_OPS = list(SIGN_ALGORITHM)
VERIFY_SAMPLES = 16  # distinct (message, signature) pairs per Verify op, like kmsload's 16 Decrypt ciphertexts
REGION = "us-east-1"


def load_harness() -> tuple[ModuleType, ModuleType]:
    """kmsload and run_baselines from bench/.work, with this script's operations added to kmsload's tables."""
    prepare_harness()
    sys.path.insert(0, str(WORK))
    import kmsload  # noqa: PLC0415 - exists only after prepare_harness()
    import run_baselines  # noqa: PLC0415

    base_body = kmsload.request_body

    def request_body(op: str, fx: Any, i: int) -> dict[str, Any]:
        if op == "sign" or op not in SIGN_ALGORITHM:
            return base_body(op, fx, i)
        kind, algorithm = SIGN_ALGORITHM[op]
        key_id = fx.sign_key_id if kind == "ecc" else fx.rsa_key_id
        body: dict[str, Any] = {"KeyId": key_id, "MessageType": "RAW", "SigningAlgorithm": algorithm}
        if op.startswith("sign"):
            body["Message"] = kmsload.b64(os.urandom(kmsload.SIGN_MESSAGE_BYTES))
        else:
            message, signature = fx.samples[op][i % len(fx.samples[op])]
            body["Message"] = kmsload.b64(message)
            body["Signature"] = kmsload.b64(signature)
        return body

    # sign_requests() and check_requests() look these up at call time
    kmsload.request_body = request_body
    for op in ALL_OPS:
        kmsload.OPERATIONS[op] = "Sign" if op.startswith("sign") else "Verify"
        kmsload.EXPECTED_FIELD[op] = "Signature" if op.startswith("sign") else "SignatureValid"
    return kmsload, run_baselines


@dataclass
class Target:
    name: str
    endpoint: str
    pid: int
    access_key: str
    secret_key: str
    ops: list[str]
    fixtures: Any = None
    public_keys: dict[str, Any] = field(default_factory=dict)  # "ecc"/"rsa" -> cryptography public key
    pss_salt: Any = 32  # AWS KMS: PSS salt as long as the digest; moto signs with the longest salt instead


def prepare(kmsload: ModuleType, target: Target) -> None:
    """Keys through boto3 (the harness's ECC key, one RSA_2048 key), and the Verify pairs made by the server."""
    fx = kmsload.prepare_fixtures(target.endpoint, target.access_key, target.secret_key, REGION, ["sign"])
    fx.rsa_key_id = ""  # read by request_body() above, with the Verify pairs
    fx.samples = {}
    kms = kmsload.boto3_client(target.endpoint, target.access_key, target.secret_key, REGION, None)
    if any(SIGN_ALGORITHM[op][0] == "rsa" for op in target.ops):
        meta = kms.create_key(Description="sign_verify RSA_2048 key", KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")
        fx.rsa_key_id = meta["KeyMetadata"]["KeyId"]
    key_ids = {"ecc": fx.sign_key_id, "rsa": fx.rsa_key_id}
    for kind, key_id in key_ids.items():
        if not key_id:
            continue
        try:
            der = kms.get_public_key(KeyId=key_id)["PublicKey"]
        except ClientError as error:  # the sketch has no GetPublicKey: its Sign answers are checked as kmsload does
            print(f"# {target.name}: no GetPublicKey ({error}); Sign answers not verified locally", file=sys.stderr)
            continue
        target.public_keys[kind] = serialization.load_der_public_key(der)
    for op in target.ops:
        if not op.startswith("verify"):
            continue
        kind, algorithm = SIGN_ALGORITHM[op]
        pairs = []
        for _ in range(VERIFY_SAMPLES):
            message = os.urandom(kmsload.SIGN_MESSAGE_BYTES)
            signed = kms.sign(KeyId=key_ids[kind], Message=message, MessageType="RAW", SigningAlgorithm=algorithm)
            pairs.append((message, signed["Signature"]))
        fx.samples[op] = pairs
    target.fixtures = fx


def send(endpoint: str, raw: bytes) -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    try:
        conn.connect()
        conn.sock.sendall(raw)
        resp = http.client.HTTPResponse(conn.sock, method="POST")
        resp.begin()
        return resp.status, resp.read()
    finally:
        conn.close()


def verify_locally(public_key: Any, algorithm: str, message: bytes, signature: bytes, pss_salt: Any) -> None:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    elif isinstance(public_key, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if "PKCS1" in algorithm
            else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=pss_salt)
        )
        public_key.verify(signature, message, pad, hashes.SHA256())
    else:
        raise TypeError(f"unexpected public key {type(public_key).__name__}")


def check_answers(target: Target, op: str, requests: list[Any]) -> None:
    """Beyond kmsload's check: every Verify pair of the pool is valid; a Sign answer verifies under the key."""
    kind, algorithm = SIGN_ALGORITHM[op]
    for req in requests[: VERIFY_SAMPLES if op.startswith("verify") else 1]:
        status, body = send(target.endpoint, req.raw)
        if status != 200:
            raise SystemExit(f"{target.name} {op}: HTTP {status}: {body[:400]!r}")
        doc = json.loads(body)
        if op.startswith("verify"):
            if doc.get("SignatureValid") is not True:
                raise SystemExit(f"{target.name} {op}: SignatureValid is not true: {body[:400]!r}")
            continue
        if kind not in target.public_keys:
            continue
        sent = json.loads(req.raw.split(b"\r\n\r\n", 1)[1])
        try:
            verify_locally(
                target.public_keys[kind],
                algorithm,
                base64.b64decode(sent["Message"]),
                base64.b64decode(doc["Signature"]),
                target.pss_salt,
            )
        except InvalidSignature:
            raise SystemExit(f"{target.name} {op}: the signature does not verify under the public key") from None


def measure(kmsload: ModuleType, target: Target, op: str, *, duration: float, warmup: float, label: str) -> Any:
    """kmsload.measure() step by step (same plan, signing, check, warm-up, wrk run), plus check_answers()."""
    plan = kmsload.build_plan({op: 1}, 512)
    requests = kmsload.sign_requests(
        target.endpoint, target.access_key, target.secret_key, REGION, plan, target.fixtures
    )
    kmsload.check_requests(target.endpoint, requests, target.fixtures)
    check_answers(target, op, requests)
    if warmup > 0:
        kmsload.run_wrk(target.endpoint, requests, 16, warmup, 1, "0", None, label=label)
    return kmsload.run_wrk(target.endpoint, requests, 16, duration, 1, "0", target.pid, label=label, ops_label=op)


def crypto_timings() -> str:
    """µs per call of trent.crypto.asymmetric.sign/verify (the server's crypto, without HTTP/auth/audit)."""
    from trent.crypto import asymmetric  # noqa: PLC0415 - only with --crypto

    os.sched_setaffinity(0, {1})
    lines = ["| call | µs per call (median of 5) |", "|---|---:|"]
    for spec, algorithm in (("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_256"),
                            ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")):  # fmt: skip
        private = asymmetric.generate_private_key(spec)
        public = asymmetric.public_key_der(private)
        message = os.urandom(256)
        signature = asymmetric.sign(spec, private, algorithm, message)
        for name, call in (
            ("sign", functools.partial(asymmetric.sign, spec, private, algorithm, message)),
            ("verify", functools.partial(asymmetric.verify, spec, public, algorithm, message, "RAW", signature)),
        ):
            number = 200 if spec.startswith("RSA") and name == "sign" else 2000
            runs = timeit.repeat(call, number=number, repeat=5)
            lines.append(f"| {name} {spec} {algorithm} | {statistics.median(runs) / number * 1e6:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--baselines", default="moto,sketch", help="harness targets that implement Sign")
    parser.add_argument("--ops", default=",".join(ALL_OPS))
    parser.add_argument("--crypto", action="store_true", help="also time trent's sign/verify in process")
    parser.add_argument("--doc", action="store_true", help="also write the table into docs/benchmarks.md")
    args = parser.parse_args()
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = [op for op in ops if op not in SIGN_ALGORITHM]
    if unknown:
        sys.exit(f"unknown ops {unknown}; choose from {ALL_OPS}")

    kmsload, run_baselines = load_harness()
    results = WORK / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    jsonl = results / f"sign-verify-{stamp}.jsonl"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="trent-sign-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        process, access_key, secret = start_trent(workdir / "data", port)
        baselines = run_baselines.make_targets(workdir, ["sign"])
        started = []
        try:
            targets = []
            for name in [n.strip() for n in args.baselines.split(",") if n.strip()]:
                base = baselines[name]
                base_ops = ops if name in {"moto", "localstack"} else [op for op in ops if op == "sign"]
                run_baselines.start(base, "1", workdir)
                started.append(base)
                run_baselines.wait_ready(base)
                baseline = Target(name, base.endpoint, base.pid, base.access_key, base.secret_key, base_ops)
                baseline.pss_salt = padding.PSS.AUTO  # moto signs with PSS.MAX_LENGTH; accept any salt length
                targets.append(baseline)
            targets.append(Target("trent", f"http://127.0.0.1:{port}", process.pid, access_key, secret, ops))
            for target in targets:
                prepare(kmsload, target)
                print(f"# {target.name} ready on {target.endpoint} (pid {target.pid}): {target.ops}", file=sys.stderr)
            # operation-major (moto, sketch, trent on one op back to back), unlike run_baselines.py's
            # target-major order: on this shared machine a burst of other work then hits the measurements
            # a ratio is taken between alike, instead of one side of it
            pairs = [(target, op) for op in ops for target in targets if op in target.ops]
            print(f"# {len(pairs)} pairs x {args.rounds} rounds, c=16, {args.duration:g}s (+{args.warmup:g}s warm-up); "
                  "servers on CPU 1, wrk on CPU 0", file=sys.stderr)  # fmt: skip
            for rnd in range(args.rounds):
                shift = (rnd * len(pairs)) // max(1, args.rounds)
                for target, op in pairs[shift:] + pairs[:shift]:
                    res = measure(kmsload, target, op, duration=args.duration, warmup=args.warmup, label=target.name)
                    row = {"round": rnd, **asdict(res)}
                    rows.append(row)
                    with jsonl.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"r{rnd} {res.line()}", flush=True)
        finally:
            for base in started:
                run_baselines.stop(base)
            process.terminate()
            process.wait(timeout=30)
    refs = tuple(n.strip() for n in args.baselines.split(",") if n.strip())
    env = (
        f"Run {stamp}: {args.rounds} rounds, c=16, {args.duration:g}s per measurement (+{args.warmup:g}s warm-up), "
        "servers pinned to CPU 1, wrk (1 thread) pinned to CPU 0. Ratios are per-round ratios, median over rounds."
    )
    table = run_baselines.summarize(rows, refs)
    (results / f"sign-verify-{stamp}.md").write_text(f"{env}\n\n{table}\n")
    body = f"{env}\n\n{table}"
    if args.crypto:
        body += "\n\n" + crypto_timings()
    print(f"\n{body}")
    if args.doc:
        shown = (
            f"bench/sign_verify.py --rounds {args.rounds} --duration {args.duration} --warmup {args.warmup} "
            f"--baselines {args.baselines} --ops {','.join(ops)}{' --crypto' if args.crypto else ''} --doc"
        )
        write_section("sign-verify", "Sign and Verify per algorithm", shown, body)
    print(f"\n# results: {jsonl}", file=sys.stderr)
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
