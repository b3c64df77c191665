"""Console sessions in the database: shared by worker processes, kept across a restart, idle expiry,
a --dev sign-in refused once the server runs without --dev, sign-in throttling, and the Region switch.

Real `trent serve` processes, driven over HTTP with a cookie jar (tests/console/test_console_http.py).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TrentServer
from tests.console.conftest import Browserless, admin

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    data = Path(tmp_path_factory.mktemp("console-sessions")) / "data"
    srv = TrentServer(data, dev=False, env={"TRENT_WORKERS": "2"}).start()
    yield srv
    srv.stop()


def _session_cookie(client: Browserless) -> str:
    return next(c.value for c in client.jar if c.name == "trent_console" and c.value)


def test_a_session_works_on_every_worker_and_its_row_holds_no_usable_secret(two_workers: TrentServer) -> None:
    client = Browserless(two_workers)
    credentials = admin(two_workers)
    status, _, _ = client.sign_in(credentials["access_key"], credentials["secret_key"])
    assert status == 303
    # Many new connections: the kernel spreads them over both workers; every one knows the session.
    for _ in range(30):
        status, _, body = client.get("/console/keys")
        assert status == 200, body
        assert '<table id="keys">' in body
    # One flash message, written by whichever worker took the POST, shown by whichever takes the GET.
    status, _, _ = client.post("/console/keys", {"description": "two workers", "csrf_token": client.csrf()})
    assert status == 303
    cookie = _session_cookie(client)
    with sqlite3.connect(two_workers.data_dir / "trent.db") as db:
        rows = db.execute("SELECT id_hash, access_key_id, flash FROM console_sessions").fetchall()
    hashes = {row[0] for row in rows}
    assert hashlib.sha256(cookie.encode()).hexdigest() in hashes
    assert cookie not in {value for row in rows for value in row if isinstance(value, str)}
    assert credentials["secret_key"] not in repr(rows)
    status, _, body = client.get("/console/keys")
    assert re.search(r'role="status">Key [0-9a-f-]{36} created.<', body), body


def test_sign_out_on_one_worker_ends_the_session_on_all(two_workers: TrentServer) -> None:
    client = Browserless(two_workers)
    credentials = admin(two_workers)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    cookie = next(c for c in client.jar if c.name == "trent_console")
    status, _, _ = client.post("/console/sign-out", {"csrf_token": client.csrf()})
    assert status == 303
    # A copy of the cookie taken before sign-out opens nothing, on whichever worker answers.
    replay = Browserless(two_workers)
    replay.jar.set_cookie(cookie)
    for _ in range(10):
        status, headers, _ = replay.get("/console/keys")
        assert (status, headers["location"]) == (302, "/console/sign-in")


def test_a_session_outlives_a_restart_but_a_dev_sign_in_does_not_outlive_dev_mode(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", dev=True).start()
    try:
        client = Browserless(server)
        credentials = admin(server)
        client.sign_in(credentials["access_key"], credentials["secret_key"])
        dev = Browserless(server)
        token = dev.csrf("/console/sign-in")
        status, headers, _ = dev.post("/console/sign-in/dev", {"csrf_token": token})
        assert (status, headers["location"]) == (303, "/console/keys")
        assert dev.get("/console/keys")[0] == 200
        server.restart()
        assert client.get("/console/keys")[0] == 200  # still --dev: both sessions live on
        assert dev.get("/console/keys")[0] == 200
        server.stop()
        server.dev = False
        server.start()
        assert client.get("/console/keys")[0] == 200
        status, headers, _ = dev.get("/console/keys")
        assert (status, headers["location"]) == (302, "/console/sign-in")
    finally:
        server.stop()


def test_a_session_idle_longer_than_the_limit_is_over(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", dev=False, env={"TRENT_CONSOLE_IDLE_SECONDS": "2"}).start()
    try:
        client = Browserless(server)
        credentials = admin(server)
        client.sign_in(credentials["access_key"], credentials["secret_key"])
        # Requests closer together than the limit keep it alive past the limit in total.
        for _ in range(5):
            assert client.get("/console/keys")[0] == 200
            time.sleep(0.6)
        time.sleep(2.5)
        status, headers, _ = client.get("/console/keys")
        assert (status, headers["location"]) == (302, "/console/sign-in")
    finally:
        server.stop()


def test_repeated_wrong_secrets_are_throttled_even_for_the_right_secret(tmp_path: Path) -> None:
    # Two workers: the failures are counted in the database, so which worker takes each attempt
    # does not matter (ten in all, not ten per worker).
    server = TrentServer(tmp_path / "data", dev=False, env={"TRENT_WORKERS": "2"}).start()
    try:
        credentials = admin(server)
        client = Browserless(server)
        for _ in range(10):
            status, _, body = client.sign_in(credentials["access_key"], "wrong")
            assert status == 401, body
        status, _, body = client.sign_in(credentials["access_key"], credentials["secret_key"])
        assert status == 429
        assert re.search(r'role="alert">Too many failed sign-in attempts. Try again in \d+ seconds.<', body)
        assert not [c for c in client.jar if c.name == "trent_console" and c.value]
        # The refused attempt is audited as a failed ConsoleLogin.
        trail = server.client("cloudtrail", **credentials)
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}])
        assert len(events["Events"]) == 11
    finally:
        server.stop()


def test_the_region_switch_changes_where_the_console_works(two_workers: TrentServer) -> None:
    client = Browserless(two_workers)
    credentials = admin(two_workers)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    west = two_workers.client("kms", region="eu-west-1", **credentials)
    key_id = west.create_key(Description="in eu-west-1")["KeyMetadata"]["KeyId"]
    assert key_id not in client.get("/console/keys")[2]
    status, _, body = client.post("/console/region", {"region": "eu-west-1"})
    assert status == 403  # no CSRF token
    status, _, body = client.post("/console/region", {"region": "mars-1", "csrf_token": client.csrf()})
    assert status == 400
    assert "Region is not a valid AWS Region name." in body
    status, headers, _ = client.post(
        "/console/region", {"region": "eu-west-1", "back": "/console/keys/x", "csrf_token": client.csrf()}
    )
    assert (status, headers["location"]) == (303, "/console/keys")
    status, _, body = client.get("/console/keys")
    assert key_id in body
    assert "Now working in eu-west-1." in body
    assert re.search(r"<option selected>eu-west-1</option>", body)
    status, headers, _ = client.post(
        "/console/region", {"region": "us-east-1", "back": "https://evil.example/", "csrf_token": client.csrf()}
    )
    assert (status, headers["location"]) == (303, "/console/keys")
    assert key_id not in client.get("/console/keys")[2]
