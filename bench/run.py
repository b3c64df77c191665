#!/usr/bin/env python3
"""`make bench`: Trent side by side with the shared harness's baselines, in one run, as ratios.

Copies ../shared/bench (read-only) into bench/.work, gives it its own virtual environment, starts
`trent serve` (not --dev: every request's SigV4 signature is verified) pinned to CPU 1, and runs the
harness's run_baselines.py with Trent as an external target, wrk pinned to CPU 0. The table it prints
goes into docs/benchmarks.md with the command and the machine.

  bench/run.py [--rounds 3] [--duration 6] [--targets moto,sketch,uvicorn] [--ops encrypt,...]
               [--compare NAME=SRC_DIR]   # also measure Trent from another source tree, same rounds
               [--compare-database NAME=postgresql://...[,src=SRC_DIR]]   # and on PostgreSQL

--compare measures, say, the tree of an earlier commit (`git worktree add /tmp/before <commit>`,
then `--compare before=/tmp/before/src`) next to the current one, so a change's cost is a ratio
taken within the same rounds rather than across noisy runs.
"""

from __future__ import annotations

import argparse
import configparser
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = Path(os.environ.get("TRENT_SHARED_BENCH", REPO.parent / "shared" / "bench"))
WORK = REPO / "bench" / ".work"
HARNESS_VENV = WORK / ".venv"
DOC = REPO / "docs" / "benchmarks.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_harness() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    for item in SHARED_BENCH.iterdir():
        if item.is_file():
            shutil.copy2(item, WORK / item.name)
        elif item.is_dir() and not item.name.startswith("."):
            shutil.copytree(item, WORK / item.name, dirs_exist_ok=True)
    if not (HARNESS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(HARNESS_VENV)], check=True)
        subprocess.run(
            [str(HARNESS_VENV / "bin" / "pip"), "install", "-q", "-r", str(WORK / "requirements.txt")], check=True
        )


def start_trent(
    data_dir: Path, port: int, src: Path | None = None, database: str = ""
) -> tuple[subprocess.Popen[bytes], str, str]:
    env = dict(os.environ)
    if src is not None:  # another source tree shadows the installed package
        env["PYTHONPATH"] = str(src)
    if database:  # this instance on PostgreSQL instead of its SQLite file
        env["TRENT_DATABASE_URL"] = database
    log = (data_dir.parent / f"trent-bench-{port}.log").open("wb")
    command = ["taskset", "-c", "1", sys.executable, "-m", "trent.cli.main", "serve"]
    command += ["--data-dir", str(data_dir), "--port", str(port)]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_trent/health", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        sys.exit("trent did not start")
    credentials = configparser.ConfigParser()
    credentials.read(data_dir / "credentials")
    profile = credentials["trent"]
    return process, profile["aws_access_key_id"], profile["aws_secret_access_key"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--targets", default="moto,sketch,uvicorn")
    parser.add_argument("--ops", default="encrypt,decrypt,generate-data-key,describe-key")
    parser.add_argument("--no-doc", action="store_true", help="print the table without writing docs/benchmarks.md")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=SRC_DIR")
    parser.add_argument(
        "--compare-database",
        action="append",
        default=[],
        metavar="NAME=URL[,src=SRC_DIR]",
        help="also measure Trent (this tree, or SRC_DIR's) on PostgreSQL (an empty database or schema), same rounds",
    )
    args = parser.parse_args()

    prepare_harness()
    results = WORK / "results"
    with tempfile.TemporaryDirectory(prefix="trent-bench-") as tmp:
        port = free_port()
        process, access_key, secret = start_trent(Path(tmp) / "data", port)
        others: list[subprocess.Popen[bytes]] = []
        externals = [f"trent=http://127.0.0.1:{port},pid={process.pid},key={access_key}:{secret}"]
        for spec in args.compare:
            name, _, src = spec.partition("=")
            other_port = free_port()
            other, other_key, other_secret = start_trent(Path(tmp) / name, other_port, Path(src))
            others.append(other)
            externals.append(f"{name}=http://127.0.0.1:{other_port},pid={other.pid},key={other_key}:{other_secret}")
        for spec in args.compare_database:
            name, _, rest = spec.partition("=")
            url, _, src = rest.partition(",src=")
            other_port = free_port()
            other, other_key, other_secret = start_trent(
                Path(tmp) / name, other_port, Path(src) if src else None, database=url
            )
            others.append(other)
            externals.append(f"{name}=http://127.0.0.1:{other_port},pid={other.pid},key={other_key}:{other_secret}")
        try:
            command = [
                str(HARNESS_VENV / "bin" / "python"),
                str(WORK / "run_baselines.py"),
                "--targets", args.targets,
                "--ops", args.ops,
                "--rounds", str(args.rounds),
                "--duration", str(args.duration),
                "--warmup", str(args.warmup),
                "--out", str(results),
            ]  # fmt: skip
            for external in externals:
                command += ["--external", external]
            before = set(results.glob("*.md")) if results.exists() else set()
            subprocess.run(command, check=True, cwd=WORK)
        finally:
            for running in [process, *others]:
                running.terminate()
                running.wait(timeout=30)
    table = sorted(set(results.glob("*.md")) - before)[-1].read_text()
    parts = ["bench/run.py", f"--rounds {args.rounds}", f"--duration {args.duration}"]
    parts += [f"--targets {args.targets}", f"--ops {args.ops}"]
    parts += [f"--compare {spec}" for spec in args.compare]
    parts += [f"--compare-database {spec.partition('=')[0]}=postgresql://..." for spec in args.compare_database]
    shown = " ".join(parts)
    if not args.no_doc:
        write_doc(table, shown)
    print(table)
    return 0


def write_doc(table: str, command: str) -> None:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    text = DOC.read_text() if DOC.exists() else ""
    marker = "<!-- latest make bench run -->"
    head = text.split(marker)[0] if marker in text else text
    section = (
        f"{marker}\n## Latest run ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"Command: `{command}` (make bench). Machine: {os.cpu_count()} vCPU {cpu}, Python "
        f"{platform.python_version()}; Trent pinned to CPU 1 without --dev (SigV4 verified), wrk on CPU 0.\n\n"
        f"{table}\n"
    )
    DOC.write_text(head.rstrip() + "\n\n" + section)


if __name__ == "__main__":
    raise SystemExit(main())
