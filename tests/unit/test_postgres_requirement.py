"""The rule for PostgreSQL suites: skip without a server, except under CI (CI=true), where they fail.

``require_postgres`` (tests/conftest.py) decides; reachability is replaced here, so no socket opens.
"""

from __future__ import annotations

import pytest

from tests import conftest


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "postgres_available", lambda: False)


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_no_server_outside_ci_skips_naming_the_dependency(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"system dependency: postgresql"):
        conftest.require_postgres()


@pytest.mark.usefixtures("unreachable")
def test_no_server_under_ci_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL is not reachable at .*CI must start it"):
        conftest.require_postgres()


@pytest.mark.parametrize("ci", [None, "true"])
def test_a_reachable_server_neither_skips_nor_fails(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    monkeypatch.setattr(conftest, "postgres_available", lambda: True)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    conftest.require_postgres()
