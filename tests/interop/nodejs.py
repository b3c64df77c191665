"""Runs this folder's Node.js scripts against a trent server: one JSON request in, one JSON result out.

The scripts need Node.js 20+ and this folder's node_modules (`npm ci --prefix tests/interop`, which
`make test` runs). Without Node.js the tests skip, except under CI, where .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, REGION, TrentServer

HERE = Path(__file__).parent
MIN_NODE_MAJOR = 20
REQUIRED_MODULES = ("@aws-sdk/client-kms", "@aws-crypto/client-node")


def require_node() -> str:
    """The node binary, or a skip (a failure under CI) naming what is missing."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not on PATH (CI must install nodejs and npm: see .ci/run)")
        pytest.skip("Node.js not found (system dependency: nodejs, npm); the JavaScript interop tests need it")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
        pytest.fail(f"Node.js {version.strip()} is too old: the AWS SDK for JavaScript v3 needs {MIN_NODE_MAJOR}+")
    missing = [name for name in REQUIRED_MODULES if not (HERE / "node_modules" / name / "package.json").is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `npm ci --prefix tests/interop` (make test does)")
    return node


def node_env(home: Path, **extra: str) -> dict[str, str]:
    """Dev credentials and nothing of the developer's own AWS configuration."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


def run_script(script: str, server: TrentServer, home: Path, request: dict[str, Any], **env: str) -> dict[str, Any]:
    """Run tests/interop/<script> with ``request`` (plus the endpoint, region and account) on stdin."""
    node = require_node()
    payload = {"endpoint": server.endpoint, "region": REGION, "account": ACCOUNT_ID, **request}
    result = subprocess.run(
        [node, str(HERE / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=HERE,
        env=node_env(home, **env),
        timeout=90,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"node {script} {request.get('scenario') or request.get('op')} failed ({result.returncode}):\n"
            f"{result.stderr}\n{result.stdout}"
        )
    return dict(json.loads(result.stdout))
