"""Shared fixtures: a real `trent serve` process, and boto3 / AWS CLI clients pointed at it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "111122223333"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TrentServer:
    """One `trent serve` subprocess; stdout and stderr go to a log file the tests can grep."""

    def __init__(
        self, data_dir: Path, *, dev: bool = True, env: dict[str, str] | None = None, flags: bool = True
    ) -> None:
        self.data_dir = data_dir
        self.dev = dev
        self.flags = flags  # False: port, data dir and dev mode travel only as TRENT_* variables
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.env = {**os.environ, "TRENT_DELETION_SWEEP_SECONDS": "0.2", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TrentServer:
        args = [str(BIN / "trent"), "serve"]
        if self.flags:
            args += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
            if self.dev:
                args.append("--dev")
        else:
            self.env["TRENT_PORT"] = str(self.port)
            self.env["TRENT_DATA_DIR"] = str(self.data_dir)
            self.env["TRENT_DEV"] = "1" if self.dev else "0"
        with self.log_path.open("ab") as log:
            # The child keeps its own copy of the descriptor; ours can close at once.
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trent exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/_trent/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"trent did not become healthy:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoint + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    def client(self, service: str = "kms", region: str = REGION, **credentials: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=credentials.get("access_key", "test"),
            aws_secret_access_key=credentials.get("secret_key", "test"),
            aws_session_token=credentials.get("session_token"),
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def aws(self, *args: str, region: str = REGION, env: dict[str, str] | None = None, check: bool = True) -> Any:
        """Run the AWS CLI (awscli from PyPI) against this server; JSON output parsed."""
        cli_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.data_dir.parent),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": region,
            "AWS_MAX_ATTEMPTS": "1",
            **(env or {}),
        }
        result = subprocess.run(
            [str(BIN / "aws"), "--endpoint-url", self.endpoint, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        if not check:
            return result
        return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    """A dev-mode server shared by the tests of one worker."""
    srv = TrentServer(tmp_path_factory.mktemp("shared") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[TrentServer]:
    """A server of its own, for tests that restart it, move its clock or read its files."""
    srv = TrentServer(tmp_path / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def kms(server: TrentServer) -> Any:
    return server.client()


# ----------------------------------------------------------------- PostgreSQL

PG_ADMIN_URL = os.environ.get("TRENT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def require_postgres() -> None:
    """Skip (naming the missing system dependency) unless CI, where .ci/run starts the server."""
    if postgres_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (CI must start it)")
    pytest.skip(f"PostgreSQL server not reachable at {PG_ADMIN_URL} (system dependency: postgresql)")


def fresh_postgres_schema() -> str:
    """A URL whose connections work in a new, empty schema of the test database."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    return f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str) -> None:
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# ----------------------------------------------------------------- web console screenshots


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Where the console's browser tests (tests/console) left their screenshots, when they took any.

    Here, not in tests/console/conftest.py: under pytest-xdist only this process prints, and it
    loads only this conftest. The folder is $TRENT_CONSOLE_SCREENSHOTS or console-screenshots in
    pytest's base temporary directory, the one every worker's own temporary directory is under.
    """
    configured = os.environ.get("TRENT_CONSOLE_SCREENSHOTS")
    if configured:
        folder = Path(configured).resolve()
    else:
        factory = getattr(config, "_tmp_path_factory", None)
        if factory is None:
            return
        folder = factory.getbasetemp() / "console-screenshots"
    if folder.is_dir() and any(folder.iterdir()):
        terminalreporter.write_line(f"console screenshots: {folder}")
