#!/usr/bin/env python3
"""One Trent node against two, on one PostgreSQL database: requests/s, p99 and CPU per request.

Makes a fresh schema in the PostgreSQL database, starts node A (`trent serve`, not --dev) on it,
then node B on the same schema with a data directory holding a copy of A's `root.key` (and A's
`credentials` file: the admin access key lives in the database, so A's key signs for B too), as
docs/operations.md describes. Both nodes stay up for the whole run. Per round and operation:

  one node   A alone, pinned to the first --node-cpus entry; one kmsload, concurrency C (16)
  two nodes  A and B, pinned to the --node-cpus entries; two kmsloads at once, C/2 each (the same
             requests in flight), req/s summed, p50/p99 the worse of the two

wrk is pinned to CPU 0 (both wrks in the two-node case). Rounds are interleaved (one, two, two,
one, ...), so drift of the shared machine hits both configurations alike; figures are medians, the
ratio is the median of the per-round ratios two/one. `trent CPU/req` is the nodes' own CPU time per
request (kmsload's srv_cpu x duration / requests, summed over the nodes): on a 2-core machine both
nodes share CPU 1 by default, so req/s cannot scale there; the CPU per request says whether a second
node on its own core would. `pg CPU/req` estimates PostgreSQL's CPU per request (all `postgres`
processes on this machine, over the whole load window, in proportion to Trent's CPU over that window).

  bench/nodes.py [--rounds 3] [--duration 6] [--warmup 2] [--ops encrypt,describe-key]
                 [--node-cpus 1,1] [--concurrency 16] [--database postgresql://...] [--json FILE] [--doc]

`--node-cpus 1,0` puts node B on its own core (next to wrk here; on a bigger machine give it a
free one). The harness is prepared as by bench/run.py (a copy of ../shared/bench in bench/.work).
--doc also writes the table into docs/benchmarks.md (its `bench:nodes` section; see bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    HARNESS_VENV,
    WORK,
    drop_schema,
    free_port,
    fresh_schema,
    prepare_harness,
    start_trent,
    where,
    write_section,
)

REGION = "us-east-1"
DEFAULT_DATABASE = os.environ.get("TRENT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CONFIGS = ("one node", "two nodes")
MEDIANS = ("rps", "p50_ms", "p99_ms", "trent_us_per_req", "pg_us_per_req")


# ------------------------------------------------------------------------------------------------
# PostgreSQL's CPU use (the fresh schema per run comes from run.py, as tests/conftest.py makes it)
# ------------------------------------------------------------------------------------------------
def cpu_seconds(pids: list[int] | None = None, comm: str = "") -> float:
    """utime+stime of the given processes (with their threads), or of every process named ``comm``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    entries = [str(pid) for pid in pids] if pids is not None else [e for e in os.listdir("/proc") if e.isdigit()]
    for entry in entries:
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        if comm and name != comm:
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        total += (int(rest[11]) + int(rest[12])) / tick
    return total


# ------------------------------------------------------------------------------------------------
# nodes
# ------------------------------------------------------------------------------------------------
def pin(pid: int, cpu: str) -> None:
    """Move every thread of a running node to ``cpu`` (run.start_trent starts it on CPU 1)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, stdout=subprocess.DEVNULL)


def log_tail(tmp: Path, lines: int = 20) -> str:
    out = []
    for log in sorted(tmp.glob("trent-bench-*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(out)


def start_nodes(
    tmp: Path, url: str, nodes: list[subprocess.Popen[bytes]]
) -> tuple[tuple[subprocess.Popen[bytes], int], tuple[subprocess.Popen[bytes], int], str, str]:
    """Node A on the fresh schema, then node B with a copy of A's root key; both appended to ``nodes``."""
    port_a = free_port()
    node_a, access_key, secret = start_trent(tmp / "a", port_a, database=url)
    nodes.append(node_a)
    # node B: the same root key (copied, mode 0600 kept) and A's admin credentials file, which
    # B does not rewrite: it finds the account in the database and creates no admin key
    (tmp / "b").mkdir(mode=0o700)
    for name in ("root.key", "credentials", "config"):
        if (tmp / "a" / name).exists():
            shutil.copy2(tmp / "a" / name, tmp / "b" / name)
    port_b = free_port()
    node_b, key_b, _ = start_trent(tmp / "b", port_b, database=url)
    nodes.append(node_b)
    if key_b != access_key:
        raise SystemExit("node B's credentials file was rewritten")
    return (node_a, port_a), (node_b, port_b), access_key, secret


def kms_client(endpoint: str, access_key: str, secret: str) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def shared_keys(a: str, b: str, access_key: str, secret: str, ops: list[str]) -> list[str]:
    """Keys made on node A and checked on node B (same database, same root key): kmsload args."""
    kms_a, kms_b = kms_client(a, access_key, secret), kms_client(b, access_key, secret)
    key_id = kms_a.create_key(Description="bench/nodes.py")["KeyMetadata"]["KeyId"]
    blob = kms_b.encrypt(KeyId=key_id, Plaintext=b"node B seals")["CiphertextBlob"]
    if kms_a.decrypt(CiphertextBlob=blob)["Plaintext"] != b"node B seals":
        raise SystemExit("node A cannot open what node B sealed")
    extra = ["--key-id", key_id]
    if "sign" in ops:
        meta = kms_a.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
        kms_b.describe_key(KeyId=meta["KeyId"])
        extra += ["--sign-key-id", meta["KeyId"]]
    return extra


# ------------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------------
def run_loads(
    targets: list[tuple[str, int]], op: str, concurrency: int, creds: tuple[str, str], extra: list[str], args: Any
) -> dict[str, Any]:
    """kmsload against every (endpoint, node pid) at the same time; the combined figures."""
    outs, procs = [], []
    pids = [pid for _, pid in targets]
    pg0, trent0, started = cpu_seconds(comm="postgres"), cpu_seconds(pids), time.monotonic()
    try:
        for endpoint, pid in targets:
            with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
                outs.append(Path(handle.name))
            command = [
                str(HARNESS_VENV / "bin" / "python"), str(WORK / "kmsload.py"),
                "--endpoint", endpoint, "--access-key", creds[0], "--secret-key", creds[1],
                "--region", REGION, "--ops", op, "--concurrency", str(concurrency),
                "--duration", str(args.duration), "--warmup", str(args.warmup),
                "--generator-cpus", args.generator_cpus, "--server-pid", str(pid), "--json", str(outs[-1]),
                *extra,
            ]  # fmt: skip
            procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        texts = [proc.communicate()[0].decode(errors="replace") for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    pg_cpu, trent_cpu = cpu_seconds(comm="postgres") - pg0, cpu_seconds(pids) - trent0
    window = time.monotonic() - started
    lines = []
    for out, text in zip(outs, texts, strict=True):
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
        out.unlink(missing_ok=True)
        if not rows:
            raise SystemExit(f"kmsload gave no result:\n{text}")
        lines.append(rows[-1])
    requests = sum(line["requests"] for line in lines)
    node_cpu = sum((line["server_cpu_pct"] or 0) / 100 * line["duration_s"] for line in lines)
    trent_us = 1e6 * node_cpu / requests if requests else float("nan")
    return {
        "rps": sum(line["rps"] for line in lines),
        "p50_ms": max(line["p50_ms"] for line in lines),
        "p99_ms": max(line["p99_ms"] for line in lines),
        "errors": sum(line["errors"] for line in lines),
        "errors_detail": [line["errors_detail"] for line in lines],
        "requests": requests,
        "srv_cpu_pct": [line["server_cpu_pct"] for line in lines],
        "gen_cpu_pct": [line["generator_cpu_pct"] for line in lines],
        "trent_us_per_req": trent_us,
        # PostgreSQL's CPU in proportion to the nodes' over the same window (both idle outside the load)
        "pg_us_per_req": trent_us * pg_cpu / trent_cpu if trent_cpu else float("nan"),
        "pg_cpu_pct": 100 * pg_cpu / window,
        "per_node": lines,
    }


def summary_line(round_no: int, op: str, config: str, r: dict[str, Any]) -> str:
    srv = "/".join(f"{v:.0f}" for v in r["srv_cpu_pct"] if v is not None)
    return (
        f"round {round_no} {op:<13} {config:<9} {r['rps']:8.0f} req/s  p50={r['p50_ms']:.2f}ms "
        f"p99={r['p99_ms']:.2f}ms errors={r['errors']} srv_cpu={srv}% "
        f"trent={r['trent_us_per_req']:.0f}us/req pg~{r['pg_us_per_req']:.0f}us/req ({r['pg_cpu_pct']:.0f}% of a core)"
    )


def table(results: dict[str, dict[str, list[dict[str, Any]]]], ops: list[str]) -> str:
    rows = [
        "| operation | nodes | req/s | p50 ms | p99 ms | trent CPU µs/req | pg CPU µs/req (est.) | errors "
        "| two/one req/s (per round) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for op in ops:
        one, two = results[op]["one node"], results[op]["two nodes"]
        ratios = [b["rps"] / a["rps"] for a, b in zip(one, two, strict=True) if a["rps"]]
        for config, runs in (("1", one), ("2", two)):
            med = {name: statistics.median(r[name] for r in runs) for name in MEDIANS}
            ratio = ""
            if config == "2" and ratios:
                ratio = f"**{statistics.median(ratios):.2f}** ({', '.join(f'{x:.2f}' for x in ratios)})"
            rows.append(
                f"| {op} | {config} | {med['rps']:,.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} "
                f"| {med['trent_us_per_req']:.0f} | {med['pg_us_per_req']:.0f} "
                f"| {sum(r['errors'] for r in runs)} | {ratio} |"
            )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--ops", default="encrypt,describe-key", help="measured one at a time")
    parser.add_argument("--concurrency", type=int, default=16, help="in flight in total; each node gets half of it")
    parser.add_argument("--node-cpus", default="1,1", help="taskset CPU for node A and node B")
    parser.add_argument("--generator-cpus", default="0", help="taskset CPU list for wrk")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL database; a fresh schema is used")
    parser.add_argument("--json", dest="json_out", default=None, help="write every measurement and the table here")
    parser.add_argument("--doc", action="store_true", help="also write the table into docs/benchmarks.md")
    args = parser.parse_args()
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    cpus = [cpu.strip() for cpu in args.node_cpus.split(",")]
    if len(cpus) != 2 or args.concurrency < 2:
        parser.error("--node-cpus takes two CPUs (A,B) and --concurrency at least 2")
    half = args.concurrency // 2

    prepare_harness()
    schema, url = fresh_schema(args.database, "bench_nodes")
    nodes: list[subprocess.Popen[bytes]] = []
    results: dict[str, dict[str, list[dict[str, Any]]]] = {op: {c: [] for c in CONFIGS} for op in ops}
    try:
        with tempfile.TemporaryDirectory(prefix="trent-nodes-") as tmp_name:
            tmp = Path(tmp_name)
            try:
                (node_a, port_a), (node_b, port_b), access_key, secret = start_nodes(tmp, url, nodes)
                pin(node_a.pid, cpus[0])
                pin(node_b.pid, cpus[1])
                a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
                extra = shared_keys(a, b, access_key, secret, ops)
                print(
                    f"# schema {schema}; node A pid {node_a.pid} CPU {cpus[0]}, node B pid {node_b.pid} CPU {cpus[1]}; "
                    f"wrk on CPU {args.generator_cpus}; key {extra[1]}",
                    flush=True,
                )
                creds = (access_key, secret)
                for round_no in range(1, args.rounds + 1):
                    order = CONFIGS if round_no % 2 else CONFIGS[::-1]
                    for op in ops:
                        for config in order:
                            if config == "one node":
                                r = run_loads([(a, node_a.pid)], op, args.concurrency, creds, extra, args)
                            else:
                                targets = [(a, node_a.pid), (b, node_b.pid)]
                                r = run_loads(targets, op, half, creds, extra, args)
                            results[op][config].append(r)
                            print(summary_line(round_no, op, config, r), flush=True)
            except BaseException:
                print(log_tail(tmp), file=sys.stderr)
                raise
            finally:
                for node in nodes:
                    node.terminate()
                for node in nodes:
                    try:
                        node.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        node.kill()
                        node.wait()
    finally:
        drop_schema(args.database, schema)

    shown = (
        f"bench/nodes.py --rounds {args.rounds} --duration {args.duration} --warmup {args.warmup} "
        f"--ops {','.join(ops)} --concurrency {args.concurrency} --node-cpus {args.node_cpus}"
    )
    text = table(results, ops)
    setup = (
        f"PostgreSQL at {where(args.database)}; wrk on CPU {args.generator_cpus}; one node: c={args.concurrency}; "
        f"two nodes: c={half} each, p50/p99 the worse node."
    )
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{shown}`, {os.cpu_count()} vCPU, Python "
        f"{platform.python_version()}; {setup}\n"
    )
    print(text)
    if args.doc:
        write_section("nodes", "one vs two PostgreSQL nodes", f"{shown} --doc", f"{setup}\n\n{text}")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"command": shown, "results": results, "table": text}, indent=1, default=str) + "\n"
        )
    return 1 if any(r["errors"] for per_op in results.values() for runs in per_op.values() for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
