"""Browser fixtures for the web console (issue 14): Playwright for Python driving Debian's Chromium.

No browser is ever downloaded (`playwright install` is never run): the tests launch /usr/bin/chromium,
which `.ci/run` installs with apt when it is missing. Without it a test skips, except under CI=true,
where it fails. Screenshots go to $TRENT_CONSOLE_SCREENSHOTS, or to a folder in pytest's temporary
directory; the path is printed at the end of the run (by tests/conftest.py) and in each test's captured output.
"""

from __future__ import annotations

import configparser
import contextlib
import http.cookiejar
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TrentServer

CHROMIUM = Path(os.environ.get("TRENT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "console"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it: .ci/run installs Debian's chromium)")
    pytest.skip(f"{reason} (system dependency: apt-get install -y chromium)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; skips when it is missing, except under CI=true, where it fails."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing(f"Chromium not found at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest, screenshots: Path) -> Iterator[Any]:
    """A fresh browser context (own cookies) at 1280 px; a failing test leaves a screenshot of each page."""
    ctx = browser.new_context(viewport=WIDE)
    ctx.set_default_timeout(15_000)
    yield ctx
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for number, page in enumerate(ctx.pages):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            # A page that cannot be captured must not hide the failure.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(screenshots / f"FAILED-{name}-{number}.png"), full_page=True)
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifacts folder: $TRENT_CONSOLE_SCREENSHOTS, else console-screenshots in pytest's basetemp."""
    configured = os.environ.get("TRENT_CONSOLE_SCREENSHOTS")
    if configured:
        folder = Path(configured).resolve()
    else:
        base = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            base = base.parent  # one folder for every worker of the run
        folder = base / "console-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {folder}")  # and at the end of the run: tests/conftest.py
    return folder


# ----------------------------------------------------------------- servers and identities


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[TrentServer]:
    """A non-dev `trent serve` of the test's own: every request signed, the console signs in by key."""
    srv = TrentServer(tmp_path / "data", dev=False).start()
    yield srv
    srv.stop()


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[TrentServer]:
    srv = TrentServer(tmp_path / "dev-data", dev=True).start()
    yield srv
    srv.stop()


def admin(server: TrentServer) -> dict[str, str]:
    """The admin access key `trent serve` wrote to <data-dir>/credentials (profile trent)."""
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    return {
        "access_key": parser["trent"]["aws_access_key_id"],
        "secret_key": parser["trent"]["aws_secret_access_key"],
    }


# ----------------------------------------------------------------- clients shared by the test files


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browserless:
    """A cookie jar and a few helpers; answers as (status, headers, body)."""

    def __init__(self, server: TrentServer, user_agent: str = "console-http-test/1") -> None:
        self.server = server
        self.user_agent = user_agent
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, Any, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"user-agent": self.user_agent}
        if data is not None:
            headers["content-type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.server.endpoint + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def get(self, path: str) -> tuple[int, Any, str]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, Any, str]:
        return self.request("POST", path, form)

    def csrf(self, path: str = "/console/keys/new") -> str:
        _, _, body = self.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert match is not None, body
        return match.group(1)

    def sign_in(self, access_key: str, secret_key: str) -> tuple[int, Any, str]:
        # The sign-in form's own CSRF token (and its cookie) first, as a browser would have them.
        token = self.csrf("/console/sign-in")
        form = {"access_key_id": access_key, "secret_access_key": secret_key, "csrf_token": token}
        return self.post("/console/sign-in", form)


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def sign_in(page: Any, server: TrentServer, credentials: dict[str, str]) -> None:
    page.goto(server.endpoint + "/console/sign-in")
    page.get_by_label("Access key ID").fill(credentials["access_key"])
    page.get_by_label("Secret access key").fill(credentials["secret_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/keys(\?.*)?$"))
