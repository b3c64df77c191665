"""README.md's examples run verbatim against a real server.

Each shell block of the README is preceded by ``<!-- readme-test -->`` (run it) or
``<!-- readme-test: skip (why) -->``. The blocks to run go, in the README's order, into one bash
script (``set -e -o pipefail``), as a reader pastes them into one shell: later blocks use what
earlier ones made (``$E``, ``$KEY``, alice). The script runs in a fresh directory whose ``.trent`` is
the data directory of a ``trent serve --dev`` (what ``make run`` starts), with nothing of the test
process's AWS or Trent settings in its environment. The only change to the text is the port: the
README's ``127.0.0.1:4599`` becomes the test server's. Python blocks marked to run are run the same
way, each on its own, with the venv's interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, TrentServer

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
README_ENDPOINT = "127.0.0.1:4599"
_SHELLS = {"sh", "bash", "shell", "zsh", "console"}
_FENCE = re.compile(
    r"(?:^<!-- readme-test(?P<skip>: skip \((?P<why>[^)]*)\))? -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    marked: bool
    skip_reason: str | None


def blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        marked = match.group(0).startswith("<!--")
        found.append(
            Block(
                line=text.count("\n", 0, match.start("lang")) + 1,
                lang=match.group("lang"),
                body=match.group("body"),
                marked=marked,
                skip_reason=match.group("why") if match.group("skip") else None,
            )
        )
    return found


def test_every_shell_block_is_run_or_says_why_not() -> None:
    shell = [block for block in blocks() if block.lang in _SHELLS]
    assert shell, "no shell blocks found: has the README's fence syntax changed?"
    unmarked = [block.line for block in shell if not block.marked]
    assert not unmarked, f"README shell blocks at lines {unmarked} need <!-- readme-test --> (or a skip with a reason)"
    assert all(block.skip_reason is None or block.skip_reason.strip() for block in shell)
    assert sum(block.skip_reason is None for block in shell) >= 5


@pytest.fixture
def readme_server(tmp_path: Path) -> TrentServer:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (system dependency: openssl), used by a README block")
    return TrentServer(tmp_path / ".trent").start()


def _environment(home: Path) -> dict[str, str]:
    keep = {name: os.environ[name] for name in ("LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    return {**keep, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home)}


def _script(selected: list[Block], port: int) -> str:
    parts = ["set -e -o pipefail"]
    for block in selected:
        parts.append(f"echo '>>> README.md line {block.line}' >&2")
        parts.append(block.body.replace(README_ENDPOINT, f"127.0.0.1:{port}"))
    return "\n".join(parts) + "\n"


def test_the_readme_runs_verbatim(readme_server: TrentServer, tmp_path: Path) -> None:
    try:
        selected = [b for b in blocks() if b.marked and b.skip_reason is None]
        shell = [b for b in selected if b.lang in _SHELLS]
        script = tmp_path / "readme.sh"
        script.write_text(_script(shell, readme_server.port), encoding="utf-8")
        result = subprocess.run(
            ["bash", str(script)],
            cwd=tmp_path,
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        failed_at = [line for line in result.stderr.splitlines() if line.startswith(">>> README.md")][-1:]
        assert result.returncode == 0, f"failed after {failed_at}:\n{result.stdout}\n{result.stderr}"
        assert "card 4111" in result.stdout  # the quickstart's decrypt
        assert "Verified OK" in result.stdout  # openssl checked Trent's signature
        assert "intact" in result.stdout  # trent audit verify
        assert (tmp_path / "restored" / "trent.db").exists()
        assert (tmp_path / "trail" / "AWSLogs").exists() or "exported 0 records" in result.stdout

        for block in (b for b in selected if b.lang == "python"):
            code = block.body.replace(README_ENDPOINT, f"127.0.0.1:{readme_server.port}")
            ran = subprocess.run(
                [sys.executable, "-c", code],
                cwd=tmp_path,
                env=_environment(tmp_path),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert ran.returncode == 0, f"README.md line {block.line}:\n{ran.stderr}"
    finally:
        readme_server.stop()
