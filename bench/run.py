#!/usr/bin/env python3
"""`make bench`: Trent side by side with the shared harness's baselines, in one run, as ratios.

Copies ../shared/bench (read-only) into bench/.work, gives it its own virtual environment, starts
`trent serve` (not --dev: every request's SigV4 signature is verified) pinned to CPU 1, and runs the
harness's run_baselines.py with Trent as an external target, wrk pinned to CPU 0. The table it prints
goes into docs/benchmarks.md with the command and the machine.

  bench/run.py [--rounds 3] [--duration 6] [--targets moto,sketch,uvicorn] [--ops encrypt,...]
               [--compare NAME=SRC_DIR]   # also measure Trent from another source tree, same rounds
               [--compare-database NAME=postgresql://...[,src=SRC_DIR]]   # and on PostgreSQL
               [--all [--scale-keys 1000000] [--console-keys 100000]]   # then every other scenario (make bench)

--compare measures, say, the tree of an earlier commit (`git worktree add /tmp/before <commit>`,
then `--compare before=/tmp/before/src`) next to the current one, so a change's cost is a ratio
taken within the same rounds rather than across noisy runs.

--all (`make bench`) then runs every other scenario with the same --rounds/--duration/--warmup, each
writing its own section of the doc: sign_verify.py, scale.py (--scale-keys), console_keys.py (--console-keys;
its --rounds only, it times whole pages rather than a load), and, if PostgreSQL answers at
TRENT_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test), nodes.py, and this run also
measures Trent on a fresh schema there (`pg`). Each section lies between `<!-- bench:NAME -->` and
`<!-- /bench:NAME -->` in docs/benchmarks.md (TRENT_BENCH_DOC overrides the path) and is replaced as a
whole; the text outside the markers is never touched.
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
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = Path(os.environ.get("TRENT_SHARED_BENCH", REPO.parent / "shared" / "bench"))
WORK = REPO / "bench" / ".work"
HARNESS_VENV = WORK / ".venv"
DOC = Path(os.environ.get("TRENT_BENCH_DOC", REPO / "docs" / "benchmarks.md"))
OLD_MARKER = "<!-- latest make bench run -->"  # before the per-scenario sections: run.py's, to the end
POSTGRES = os.environ.get("TRENT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


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


def fresh_schema(admin_url: str, prefix: str) -> tuple[str, str]:
    """A new empty schema (as tests/conftest.py does) and the URL that puts it first on the search path."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in admin_url else "?"
    return schema, f"{admin_url}{separator}options=-csearch_path%3D{schema}"


def drop_schema(admin_url: str, schema: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def postgres_problem(url: str) -> str:
    """Why PostgreSQL at ``url`` cannot be used, or "" if it answers."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return ""
    except psycopg.Error as error:
        message = str(error).strip()
        return message.splitlines()[0] if message else type(error).__name__


def where(url: str) -> str:
    """host:port/database of a PostgreSQL URL, without user or password."""
    return url.rsplit("@", maxsplit=1)[-1].split("?", maxsplit=1)[0]


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} vCPU {cpu}, Python {platform.python_version()}"


def write_section(name: str, title: str, command: str, body: str) -> None:
    """Replace the doc's `<!-- bench:NAME -->` ... `<!-- /bench:NAME -->` block (append it if absent).

    Only the block changes; every byte outside it stays as the humans wrote it. The first "baselines"
    block takes the place of the old `<!-- latest make bench run -->` section (up to the next block).
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = (
        f"{start}\n## Latest run: {title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"Command: `{command}`. Machine: {machine()}.\n\n{body.strip()}\n\n{end}"
    )
    text = DOC.read_text() if DOC.exists() else ""
    if start in text and end in text.split(start, 1)[1]:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    elif name == "baselines" and OLD_MARKER in text:
        before, rest = text.split(OLD_MARKER, 1)
        following = rest.find("<!-- bench:")
        text = before + block + ("\n\n" + rest[following:] if following >= 0 else "\n")
    else:  # appended after a blank line; the existing text keeps every byte
        if text and not text.endswith("\n"):
            text += "\n"
        text += ("\n" if text else "") + block + "\n"
    DOC.write_text(text)


def measure(args: argparse.Namespace, compare_database: list[str]) -> str:
    """Trent (and --compare trees, --compare-database nodes) next to the harness's targets: the table."""
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
        for spec in compare_database:
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
    return sorted(set(results.glob("*.md")) - before)[-1].read_text()


def other_scenarios(args: argparse.Namespace, postgres_skipped: str) -> list[str]:
    """bench/sign_verify.py, scale.py, console_keys.py and (with PostgreSQL) nodes.py, each writing its section;
    the failed ones."""
    doc = [] if args.no_doc else ["--doc"]
    timing = ["--rounds", str(args.rounds), "--duration", str(args.duration)]
    bench = REPO / "bench"
    scenarios = {
        "sign_verify.py": [*doc, *timing, "--warmup", str(args.warmup)],
        "scale.py": [*doc, *timing, "--keys", str(args.scale_keys)],
        "console_keys.py": [*doc, "--rounds", str(args.rounds), "--keys", str(args.console_keys)],
    }
    if not postgres_skipped:
        scenarios["nodes.py"] = [*doc, *timing, "--warmup", str(args.warmup), "--database", POSTGRES]
    elif not args.no_doc:
        write_section("nodes", "one vs two PostgreSQL nodes", "bench/nodes.py --doc", f"Not run: {postgres_skipped}")
    failed = []
    for script, script_args in scenarios.items():
        print(f"\n# bench/{script} {' '.join(script_args).replace(POSTGRES, where(POSTGRES))}", flush=True)
        if subprocess.run([sys.executable, str(bench / script), *script_args], check=False, cwd=REPO).returncode:
            failed.append(script)
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--targets", default="moto,sketch,sketch-fdatasync,uvicorn")
    parser.add_argument("--ops", default="encrypt,decrypt,generate-data-key,describe-key,sign")
    parser.add_argument("--no-doc", action="store_true", help="print the tables without writing docs/benchmarks.md")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=SRC_DIR")
    parser.add_argument(
        "--compare-database",
        action="append",
        default=[],
        metavar="NAME=URL[,src=SRC_DIR]",
        help="also measure Trent (this tree, or SRC_DIR's) on PostgreSQL (an empty database or schema), same rounds",
    )
    parser.add_argument("--all", action="store_true", help="then every other scenario, each into its doc section")
    parser.add_argument("--scale-keys", type=int, default=1_000_000, help="with --all: scale.py's large store")
    parser.add_argument("--console-keys", type=int, default=100_000, help="with --all: console_keys.py's large store")
    args = parser.parse_args()

    postgres_skipped, schema = "", ""
    compare_database = list(args.compare_database)
    if args.all:
        problem = postgres_problem(POSTGRES)
        if problem:
            postgres_skipped = f"PostgreSQL scenarios skipped: no server at {where(POSTGRES)} ({problem})."
            print(postgres_skipped, flush=True)
        else:
            schema, url = fresh_schema(POSTGRES, "bench_run")
            compare_database.append(f"pg={url}")
    try:
        table = measure(args, compare_database)
    finally:
        if schema:
            drop_schema(POSTGRES, schema)
    parts = ["bench/run.py", f"--rounds {args.rounds}", f"--duration {args.duration}", f"--warmup {args.warmup}"]
    parts += [f"--targets {args.targets}", f"--ops {args.ops}"]
    parts += [f"--compare {spec}" for spec in args.compare]
    parts += [f"--compare-database {spec.partition('=')[0]}=postgresql://..." for spec in compare_database]
    shown = " ".join(parts)
    if not args.no_doc:
        notes = "Trent pinned to CPU 1 without --dev (SigV4 verified), wrk on CPU 0."
        if args.all:
            notes += " Part of `bench/run.py --all` (make bench)."
        if postgres_skipped:
            notes += f" {postgres_skipped}"
        write_section("baselines", "Trent and the harness's baselines", shown, f"{notes}\n\n{table}")
    print(table)
    failed = other_scenarios(args, postgres_skipped) if args.all else []
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
