"""Accessibility of the web console in a real browser (Chromium via Playwright) against `trent serve`.

What is checked, on every main page (sign-in, keys, create key, key detail, aliases, identities,
audit, usage): each visible form control has a label the browser associates with it; the sign-in form
and the main navigation work from the keyboard alone; whatever has keyboard focus shows it (an outline
or a box shadow); and at 390 px as at 1280 px no page scrolls sideways and the navigation stays on screen.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import TrentServer
from tests.console.conftest import NARROW, WIDE, admin

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

NAV = ["Keys", "Aliases", "Identities", "Audit", "Usage"]
KEYS_URL = re.compile(r"/console/keys(\?.*)?$")

# Each visible input, select and textarea that no label names: label[for] (or a wrapping <label>, both
# through el.labels), aria-label, or aria-labelledby pointing at text. Also every label[for] whose id
# is missing or not unique, since such a label names the wrong control or none.
UNLABELLED_JS = """() => {
  const shown = el => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0;
  };
  const text = el => (el && el.textContent || '').trim();
  const controls = [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && shown(el));
  const unlabelled = controls.filter(el => {
    if ((el.getAttribute('aria-label') || '').trim()) return false;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.some(id => text(document.getElementById(id)))) return false;
    return ![...el.labels].some(label => text(label));
  }).map(el => el.outerHTML.slice(0, 160));
  const dangling = [...document.querySelectorAll('label[for]')]
    .filter(label => document.querySelectorAll('[id="' + CSS.escape(label.htmlFor) + '"]').length !== 1)
    .map(label => label.outerHTML.slice(0, 160));
  return {checked: controls.length, unlabelled, dangling};
}"""

# The focused element: what it is, whether it shows focus (outline or box shadow), where it is.
FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || el.value || '').trim().slice(0, 40),
    href: el.getAttribute('href'), inNav: !!el.closest('nav[aria-label="Main"]'),
    visible: outline || shadow, outline: style.outlineStyle + ' ' + style.outlineWidth, shadow: style.boxShadow,
    left: box.left, right: box.right, width: box.width, height: box.height,
  };
}"""

OVERFLOW_JS = """() => ({
  scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth,
  wide: [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(el => !el.closest('.scroll, pre') || ['absolute', 'fixed'].includes(getComputedStyle(el).position))
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : '')),
})"""

NAV_JS = """() => [...document.querySelectorAll('nav[aria-label="Main"] a')].map(a => {
  const box = a.getBoundingClientRect();
  const style = getComputedStyle(a);
  return {text: a.textContent.trim(), left: box.left, right: box.right, width: box.width, height: box.height,
          shown: style.visibility !== 'hidden' && style.display !== 'none'};
})"""


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    """One non-dev server for the module."""
    srv = TrentServer(Path(tmp_path_factory.mktemp("console-a11y")) / "data", dev=False).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def key_id(server: TrentServer) -> str:
    """Something on every page: keys (one disabled), an alias, a user with an access key, traffic; a key's id."""
    srv = server
    kms = srv.client("kms", **admin(srv))
    tags = [{"TagKey": "team", "TagValue": "payments"}]
    key_id: str = kms.create_key(Description="Card numbers of the orders service", Tags=tags)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key_id)
    kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="Release signing")
    disabled = kms.create_key(Description="Retired")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    for _ in range(3):
        kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key_id, Plaintext=b"4111 1111 1111 1111")["CiphertextBlob"])
    with contextlib.suppress(ClientError):
        kms.decrypt(CiphertextBlob=b"\x01" * 64)  # an error in the audit trail and the chart
    iam = srv.client("iam", **admin(srv))
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    return key_id


def main_pages(key_id: str) -> dict[str, str]:
    """The pages behind the sign-in: name -> path."""
    return {
        "keys": "/console/keys",
        "create-key": "/console/keys/new",
        "key-detail": f"/console/keys/{key_id}",
        "aliases": "/console/aliases",
        "identities": "/console/identities",
        "audit": "/console/audit",
        "usage": "/console/usage",
    }


def sign_in(page: Any, server: TrentServer) -> None:
    credentials = admin(server)
    page.goto(server.endpoint + "/console/sign-in")
    page.get_by_label("Access key ID").fill(credentials["access_key"])
    page.get_by_label("Secret access key").fill(credentials["secret_key"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(KEYS_URL)


def open_page(page: Any, server: TrentServer, path: str) -> None:
    response = page.goto(server.endpoint + path)
    assert response is not None, path
    assert response.status == 200, (path, response.status)
    if path != "/console/sign-in":
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def focused(page: Any) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(FOCUS_JS)
    return result


def tab_until(page: Any, wanted: Any, limit: int = 15) -> list[dict[str, Any] | None]:
    """Press Tab until ``wanted(focused)`` holds; every stop on the way, the last one the wanted one."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = focused(page)
        stops.append(stop)
        if stop is not None and wanted(stop):
            return stops
    raise AssertionError(f"not reached in {limit} presses of Tab; stops: {stops}")


# ----------------------------------------------------------------- (1) labels


# The fewest visible controls each page must have: a page that stops rendering its forms fails here
# instead of passing with nothing to check.
MIN_CONTROLS = {"sign-in": 3, "keys": 6, "create-key": 8, "key-detail": 5, "aliases": 2, "identities": 1, "audit": 5}


def test_every_visible_form_control_has_a_label(server: TrentServer, key_id: str, page: Any) -> None:
    report = {}
    open_page(page, server, "/console/sign-in")
    report["sign-in"] = page.evaluate(UNLABELLED_JS)
    sign_in(page, server)
    for name, path in main_pages(key_id).items():
        open_page(page, server, path)
        report[name] = page.evaluate(UNLABELLED_JS)
    too_few = {name: r["checked"] for name, r in report.items() if r["checked"] < MIN_CONTROLS.get(name, 0)}
    assert not too_few, f"pages with fewer form controls than expected: {too_few}"
    unlabelled = {name: r["unlabelled"] for name, r in report.items() if r["unlabelled"]}
    assert not unlabelled, f"controls without a label: {unlabelled}"
    dangling = {name: r["dangling"] for name, r in report.items() if r["dangling"]}
    assert not dangling, f"labels whose for= names no single element: {dangling}"


# ----------------------------------------------------------------- (2) keyboard only


def test_sign_in_and_navigate_with_the_keyboard_only(server: TrentServer, page: Any) -> None:
    credentials = admin(server)
    open_page(page, server, "/console/sign-in")
    stops = tab_until(page, lambda f: f["id"] == "access_key_id", limit=5)
    assert stops[0] is not None
    assert stops[0]["href"] == "#main", f"the first Tab stop is not the skip link: {stops}"
    page.keyboard.type(credentials["access_key"])
    page.keyboard.press("Tab")
    stop = focused(page)
    assert stop is not None
    assert stop["id"] == "secret_access_key", stop
    page.keyboard.type(credentials["secret_key"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(KEYS_URL)
    expect(page.get_by_role("heading", name="Keys", exact=True)).to_be_visible()

    # The first Tab stops of a signed-in page: the skip link, then the main navigation in order.
    stops = tab_until(page, lambda f: f["inNav"], limit=5)
    assert stops[-1] is not None
    assert stops[-1]["text"] == "Keys", stops
    for expected in NAV[1:3]:
        page.keyboard.press("Tab")
        stop = focused(page)
        assert stop is not None
        assert stop["inNav"], (expected, stop)
        assert stop["text"] == expected, (expected, stop)
    page.keyboard.press("Enter")  # on "Identities"
    expect(page).to_have_url(re.compile(r"/console/identities$"))
    expect(page.get_by_role("link", name="Identities", exact=True)).to_have_attribute("aria-current", "page")


def test_the_skip_link_appears_and_moves_focus_to_the_content(server: TrentServer, page: Any) -> None:
    sign_in(page, server)
    page.keyboard.press("Tab")
    stop = focused(page)
    assert stop is not None
    assert stop["href"] == "#main", stop
    assert stop["width"] > 0, f"skip link not shown: {stop}"
    assert 0 <= stop["left"] < page.viewport_size["width"], f"skip link off screen: {stop}"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    stops = tab_until(page, lambda f: True, limit=1)  # the next stop is inside <main>, past the navigation
    assert stops[0] is not None
    assert not stops[0]["inNav"], stops


# ----------------------------------------------------------------- (3) visible focus


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280px", "390px"])
def test_every_keyboard_focus_stop_shows_focus(
    server: TrentServer, key_id: str, page: Any, viewport: dict[str, int]
) -> None:
    """Tab through the first stops of every page: each shows an outline or a box shadow, on screen."""
    page.set_viewport_size(viewport)
    failures: dict[str, list[dict[str, Any]]] = {}
    checked = 0

    def walk(name: str, presses: int) -> None:
        nonlocal checked
        seen = set()
        for _ in range(presses):
            page.keyboard.press("Tab")
            stop = focused(page)
            if stop is None:  # off the end of the page, into the browser's own UI
                break
            marker = (stop["tag"], stop["id"], stop["href"], stop["text"], stop["left"])
            if marker in seen:
                break
            seen.add(marker)
            checked += 1
            on_screen = stop["width"] > 0 and stop["height"] > 0 and stop["right"] > 0
            on_screen = on_screen and stop["left"] < viewport["width"]
            if not stop["visible"] or not on_screen:
                failures.setdefault(name, []).append(stop)

    open_page(page, server, "/console/sign-in")
    walk("sign-in", 8)
    sign_in(page, server)
    for name, path in main_pages(key_id).items():
        open_page(page, server, path)
        walk(name, 30)
    assert checked >= 40, f"only {checked} focus stops were checked"
    assert not failures, f"focus stops without a visible focus indicator or off screen: {failures}"


# ----------------------------------------------------------------- (4) narrow and wide screens


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280px", "390px"])
def test_no_page_scrolls_sideways_and_the_navigation_stays_on_screen(
    server: TrentServer, key_id: str, page: Any, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    overflowing: dict[str, Any] = {}
    nav_problems: dict[str, Any] = {}
    open_page(page, server, "/console/sign-in")
    measured = page.evaluate(OVERFLOW_JS)
    if measured["scrollWidth"] > measured["innerWidth"]:
        overflowing["sign-in"] = measured
    sign_in(page, server)
    for name, path in main_pages(key_id).items():
        open_page(page, server, path)
        measured = page.evaluate(OVERFLOW_JS)
        assert measured["innerWidth"] == viewport["width"]
        if measured["scrollWidth"] > measured["innerWidth"]:
            overflowing[name] = measured
        links = page.evaluate(NAV_JS)
        bad = [
            link
            for link in links
            if not link["shown"] or link["width"] == 0 or link["left"] < 0 or link["right"] > viewport["width"]
        ]
        if [link["text"] for link in links] != NAV or bad:
            nav_problems[name] = bad or links
    assert not overflowing, f"pages wider than the {viewport['width']} px window: {overflowing}"
    assert not nav_problems, f"navigation links missing or off screen: {nav_problems}"
    # And the navigation works at this width: a click on each link lands on its page.
    for text in NAV:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=text, exact=True).click()
        expect(page).to_have_url(re.compile(rf"/console/{text.lower()}$"))
