"""Helpers for the tests of the operator's commands: `trent ...` runs, a server with extra flags (TLS)."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.conftest import BIN, REGION, TrentServer


def trent(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One `trent` command; TRENT_* variables of the test process are left out unless given."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("TRENT_")}
    return subprocess.run(
        [str(BIN / "trent"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**base, **(env or {})},
        cwd=cwd,
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = trent(*args, env=env)
    assert result.returncode == 0, f"trent {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def profile_env(data_dir: Path, home: Path) -> dict[str, str]:
    """Only the data directory's profile: no keys, no endpoint, no region in the environment."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(data_dir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(data_dir / "credentials"),
        "AWS_PROFILE": "trent",
        "AWS_MAX_ATTEMPTS": "1",
    }


def aws_with_env(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "aws"), "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


class FlagsServer(TrentServer):
    """`trent serve` with extra flags; under TLS the endpoint is https:// and ``ca`` its trust anchor."""

    def __init__(
        self,
        data_dir: Path,
        extra: Sequence[str] = (),
        *,
        tls: bool = False,
        ca: Path | None = None,
        dev: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, dev=dev, env=env)
        self.extra = list(extra)
        self.tls = tls
        self.ca = ca if ca is not None else data_dir / "ca.pem"
        if tls:
            self.endpoint = f"https://127.0.0.1:{self.port}"

    def start(self) -> FlagsServer:
        args = [str(BIN / "trent"), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra]
        if self.dev:
            args.append("--dev")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trent exited early:\n{self.log()}")
            try:
                context = ssl.create_default_context(cafile=str(self.ca)) if self.tls else None
                with urllib.request.urlopen(self.endpoint + "/_trent/health", timeout=1, context=context) as response:
                    if response.status == 200:
                        return self
            except OSError:  # not listening yet, or ca.pem not written yet
                time.sleep(0.05)
        raise RuntimeError(f"trent did not become healthy:\n{self.log()}")

    def client(self, service: str = "kms", region: str = REGION, **credentials: str) -> Any:
        return self.client_verifying(str(self.ca) if self.tls else True, service, region, **credentials)

    def client_verifying(
        self, verify: str | bool, service: str = "kms", region: str = REGION, **credentials: str
    ) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=credentials.get("access_key", "test"),
            aws_secret_access_key=credentials.get("secret_key", "test"),
            verify=verify,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )
