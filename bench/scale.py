#!/usr/bin/env python3
"""Cost as work grows: the same server with 100 keys and with N (default 1,000,000) keys in its store.

For each store size: fill a fresh data directory (keys with sealed material, written through the
store in large transactions), start `trent serve` (not --dev) pinned to CPU 1, measure Encrypt
and DescribeKey with the shared harness (kmsload + wrk on CPU 0), time ListKeys pages at the start
and at the end of the key list, and read the server's resident memory. Both stores are filled first and
then measured in interleaved rounds; figures are medians over rounds, ratios are N / 100.

  bench/scale.py [--keys 1000000] [--duration 6] [--rounds 3] [--database postgresql://...] [--doc]

Run `make bench` (or bench/run.py) once first: it prepares the harness in bench/.work. --doc also
writes the table into docs/benchmarks.md (its `bench:scale` section; see bench/run.py).
"""

from __future__ import annotations

import argparse
import base64
import configparser
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import boto3
from botocore.config import Config

from trent.bootstrap import build, initialize
from trent.config import settings_from_env
from trent.domain import ciphertext
from trent.domain.aliases import Alias
from trent.domain.ids import key_arn, new_key_id
from trent.domain.keys import Key, KeyState, Material
from trent.domain.policy import default_key_policy
from trent.services.keycache import material_aad

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port, write_section

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
HARNESS_PYTHON = WORK / ".venv" / "bin" / "python"
ACCOUNT = "111122223333"
REGION = "us-east-1"
BATCH = 20_000


class KeyShape(NamedTuple):
    """What one bench key is: its description, its state, and an alias for it if any."""

    description: str
    state: KeyState
    alias: str | None


def plain_key(number: int) -> KeyShape:
    return KeyShape("scale", KeyState.ENABLED, None)


def fill(data_dir: Path, count: int, database: str, shape: Callable[[int], KeyShape] = plain_key) -> None:
    """``count`` symmetric keys with sealed material, written straight through the store; ``shape``
    says what the n-th one is."""
    settings = settings_from_env(data_dir=data_dir, database_url=database or None)
    initialize(settings)
    components = build(settings)
    store, root = components.store, components.root
    now = datetime.now(UTC)
    policy = default_key_policy(ACCOUNT, REGION)
    started = time.monotonic()
    for offset in range(0, count, BATCH):
        with store.transaction():
            for number in range(offset, min(offset + BATCH, count)):
                kind = shape(number)
                key_id = new_key_id()
                material = secrets.token_bytes(32)
                material_id = ciphertext.material_id_for(key_id, material)
                store.insert_key(
                    Key(
                        key_id=key_id,
                        account_id=ACCOUNT,
                        region=REGION,
                        arn=key_arn(REGION, ACCOUNT, key_id),
                        creation_date=now,
                        description=kind.description,
                        key_spec="SYMMETRIC_DEFAULT",
                        key_usage="ENCRYPT_DECRYPT",
                        origin="AWS_KMS",
                        key_manager="CUSTOMER",
                        state=kind.state,
                        policy=policy,
                        current_material_id=material_id,
                    )
                )
                sealed = root.seal(material, material_aad(key_id, material_id))
                store.insert_material(Material(key_id, material_id, sealed, now))
                if kind.alias is not None:
                    store.insert_alias(Alias(ACCOUNT, REGION, kind.alias, key_id, now, now))
        print(f"  {min(offset + BATCH, count):,} keys written ({time.monotonic() - started:.0f} s)", flush=True)
    store.close()


def start(data_dir: Path, port: int, database: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TRENT_DATABASE_URL=database)
    log_path = data_dir.parent / f"trent-{port}.log"
    log = log_path.open("wb")
    command = ["taskset", "-c", "1", sys.executable, "-m", "trent.cli.main", "serve"]
    command += ["--data-dir", str(data_dir), "--port", str(port)]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_trent/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit(f"trent did not start on port {port}:\n{log_path.read_text(errors='replace')[-2000:]}")


def credentials(data_dir: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(data_dir / "credentials")
    return parser["trent"]["aws_access_key_id"], parser["trent"]["aws_secret_access_key"]


def load(endpoint: str, op: str, creds: tuple[str, str], pid: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        out = Path(handle.name)
    subprocess.run(
        [str(HARNESS_PYTHON), str(WORK / "kmsload.py"), "--endpoint", endpoint, "--ops", op,
         "--access-key", creds[0], "--secret-key", creds[1], "--duration", str(args.duration),
         "--repeat", str(args.repeat), "--generator-cpus", "0", "--server-pid", str(pid), "--json", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    out.unlink()
    return {name: statistics.median(line[name] for line in lines) for name in ("rps", "p50_ms", "p99_ms", "errors")}


def list_keys_ms(endpoint: str, creds: tuple[str, str], marker: str | None) -> float:
    client = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        config=Config(retries={"max_attempts": 1}),
    )
    kwargs = {"Limit": 100} | ({"Marker": marker} if marker else {})
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        client.list_keys(**kwargs)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(data_dir: Path, count: int, args: argparse.Namespace) -> dict[str, Any]:
    database = args.database
    port = free_port()  # not a fixed one: a client's ephemeral port may hold it
    process = start(data_dir, port, database)
    endpoint = f"http://127.0.0.1:{port}"
    creds = credentials(data_dir)
    try:
        result: dict[str, Any] = {"keys": count}
        for op in ("encrypt", "describe-key"):
            line = load(endpoint, op, creds, process.pid, args)
            if line["errors"]:
                sys.exit(f"{op}: the server answered errors")
            result[op] = {"rps": line["rps"], "p50": line["p50_ms"], "p99": line["p99_ms"]}
        deep_marker = base64.urlsafe_b64encode(f"ListKeys\x00{count - 50}".encode()).decode()
        result["list_keys_first_ms"] = list_keys_ms(endpoint, creds, None)
        result["list_keys_deep_ms"] = list_keys_ms(endpoint, creds, deep_marker)
        result["rss_mib"] = rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(json.dumps(result), flush=True)
    return result


def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"keys": results[0]["keys"]}
    for op in ("encrypt", "describe-key"):
        out[op] = {m: statistics.median(r[op][m] for r in results) for m in ("rps", "p50", "p99")}
    for name in ("list_keys_first_ms", "list_keys_deep_ms", "rss_mib"):
        out[name] = statistics.median(r[name] for r in results)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--repeat", type=int, default=1, help="kmsload repetitions per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of both store sizes")
    parser.add_argument("--database", default="", help="postgresql://... (each size in a fresh schema is up to you)")
    parser.add_argument("--doc", action="store_true", help="also write the table into docs/benchmarks.md")
    args = parser.parse_args()
    if not HARNESS_PYTHON.exists():
        sys.exit("run bench/run.py once first: it prepares the harness in bench/.work")
    with tempfile.TemporaryDirectory(prefix="trent-scale-") as tmp:
        sizes = {100: Path(tmp) / "keys-100", args.keys: Path(tmp) / f"keys-{args.keys}"}
        for count, data_dir in sizes.items():
            print(f"filling a store with {count:,} keys", flush=True)
            fill(data_dir, count, args.database)
        os.sync()  # the fill's gigabyte of dirty pages must not be written back during a measurement
        time.sleep(5)
        runs: dict[int, list[dict[str, Any]]] = {count: [] for count in sizes}
        for _ in range(args.rounds):  # interleaved, so drift of the machine hits both sizes alike
            for count, data_dir in sizes.items():
                runs[count].append(measure(data_dir, count, args))
        small, large = median_result(runs[100]), median_result(runs[args.keys])
    lines = [f"| figure | 100 keys | {args.keys:,} keys | ratio |", "|---|---:|---:|---:|"]
    for op in ("encrypt", "describe-key"):
        ratio = large[op]["rps"] / small[op]["rps"]
        lines.append(f"| {op} req/s | {small[op]['rps']:,.0f} | {large[op]['rps']:,.0f} | {ratio:.2f} |")
        lines.append(f"| {op} p99 ms | {small[op]['p99']:.2f} | {large[op]['p99']:.2f} | |")
    for name in ("list_keys_first_ms", "list_keys_deep_ms", "rss_mib"):
        ratio = large[name] / small[name] if small[name] else float("nan")
        lines.append(f"| {name} | {small[name]:.2f} | {large[name]:.2f} | {ratio:.2f} |")
    text = "\n".join(lines)
    print(f"\n{text}")
    if args.doc:
        shown = f"bench/scale.py --keys {args.keys} --rounds {args.rounds} --duration {args.duration}"
        shown += f" --repeat {args.repeat}" + (" --database postgresql://..." if args.database else "") + " --doc"
        setup = (
            f"{'PostgreSQL' if args.database else 'SQLite'} store; Trent pinned to CPU 1 without --dev, "
            f"kmsload (wrk) on CPU 0; medians over {args.rounds} interleaved rounds, ratio = {args.keys:,} / 100."
        )
        write_section("scale", f"100 vs {args.keys:,} keys", shown, f"{setup}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
