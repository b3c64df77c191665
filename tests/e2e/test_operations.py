"""Operating Trent (issue 15): /metrics, readiness, the access log, request quotas, request limits,
and the edges of `trent serve` — all through real server processes."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BIN, TrentServer, drop_postgres_schema, fresh_postgres_schema, require_postgres
from tests.e2e.helpers import aws_error, new_key

pytestmark = pytest.mark.e2e


def get(server: TrentServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(server.endpoint + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(server: TrentServer, headers: dict[str, str] | None = None) -> Samples:
    status, body = get(server, "/metrics", headers)
    assert status == 200, body
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


# ===================================================================== /metrics


def test_metrics_count_requests_errors_latency_keys_and_audit_batches(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    for _ in range(5):
        kms.encrypt(KeyId=key_id, Plaintext=b"counted")
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="11111111-1111-1111-1111-111111111111")
    kms.disable_key(KeyId=new_key(kms)["KeyId"])
    time.sleep(1.2)  # the cache counters are published every second
    found = samples(fresh_server)
    assert value(found, "trent_requests_total", operation="Encrypt", error_code="") == 5
    assert value(found, "trent_requests_total", operation="DescribeKey", error_code="NotFoundException") == 1
    assert value(found, "trent_request_duration_seconds_count", operation="Encrypt") == 5
    assert value(found, "trent_request_duration_seconds_bucket", operation="Encrypt", le="+Inf") == 5
    assert value(found, "trent_keys", state="Enabled", spec="SYMMETRIC_DEFAULT") == 1
    assert value(found, "trent_keys", state="Disabled", spec="SYMMETRIC_DEFAULT") == 1
    assert value(found, "trent_audit_batch_size_count") >= 1
    assert value(found, "trent_audit_commit_seconds_count") >= 1
    assert value(found, "trent_key_cache_lookups_total", cache="key", result="hit") >= 1
    assert value(found, "trent_background_runs_total", task="DeleteKey") >= 1
    # Labels stay bounded: an unknown operation is counted as Other / no operation.
    kms_raw = urllib.request.Request(
        fresh_server.endpoint + "/", data=b"{}", method="POST", headers={"X-Amz-Target": "TrentService.Nope"}
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(kms_raw, timeout=10)
    found = samples(fresh_server)
    assert value(found, "trent_requests_total", operation="Other", error_code="UnknownOperationException") == 1


def test_metrics_can_require_a_bearer_token(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(24)
    server = TrentServer(tmp_path / "data", env={"TRENT_METRICS_TOKEN": token}).start()
    try:
        status, body = get(server, "/metrics")
        assert status == 401
        assert json.loads(body)["__type"] == "UnauthorizedException"
        assert get(server, "/metrics", {"Authorization": "Bearer wrong"})[0] == 401
        assert "trent_up" in {name for name, _ in samples(server, {"Authorization": f"Bearer {token}"})}
    finally:
        server.stop()
    assert token not in server.log()


def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", env={"TRENT_WORKERS": "2"}).start()
    try:
        kms = server.client()
        key_id = new_key(kms)["KeyId"]
        for _ in range(40):  # new connections each: both workers take some
            server.client().encrypt(KeyId=key_id, Plaintext=b"w")
        assert value(samples(server), "trent_requests_total", operation="Encrypt", error_code="") == 40
    finally:
        server.stop()


# ===================================================================== readiness


class TcpProxy:
    """A TCP forwarder to PostgreSQL that a test can cut and restore, to see readiness follow."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.open.clear()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.connections.clear()

    def restore(self) -> None:
        self.open.set()


def wait_for_status(server: TrentServer, path: str, status: int, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        got, body = get(server, path)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"{path} stayed {got}: {body!r}"
        time.sleep(0.2)


def test_ready_reports_the_store_and_the_root_of_trust(fresh_server: TrentServer) -> None:
    status, body = get(fresh_server, "/_trent/ready")
    assert (status, json.loads(body)) == (200, {"status": "ready"})
    assert get(fresh_server, "/_trent/health") == (200, b'{"status":"ok"}')


def test_ready_goes_red_and_back_when_postgresql_goes_away(tmp_path: Path) -> None:
    require_postgres()
    url = fresh_postgres_schema()
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    server = TrentServer(tmp_path / "data", env={"TRENT_DATABASE_URL": proxied}).start()
    try:
        wait_for_status(server, "/_trent/ready", 200)
        proxy.cut()
        problems = json.loads(wait_for_status(server, "/_trent/ready", 503))
        assert problems["status"] == "not ready"
        assert problems["problems"][0].startswith("store")
        assert get(server, "/_trent/health")[0] == 200  # alive, only not ready
        proxy.restore()
        wait_for_status(server, "/_trent/ready", 200)  # without a restart
        kms = server.client()
        assert kms.describe_key(KeyId=new_key(kms)["KeyId"])["KeyMetadata"]["Enabled"] is True
    finally:
        server.stop()
        drop_postgres_schema(url)


# ===================================================================== the access log


def test_one_json_log_line_per_request_without_secrets(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", env={"TRENT_LOG_FORMAT": "json"}).start()
    canary = secrets.token_bytes(24)
    try:
        kms = server.client()
        key = new_key(kms)
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=canary)["CiphertextBlob"]
        decrypted = kms.decrypt(CiphertextBlob=blob)
        with pytest.raises(ClientError):
            kms.describe_key(KeyId="alias/missing")
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "trent.access"]
    by_id = {line["request_id"]: line for line in access}
    decrypt_line = by_id[decrypted["ResponseMetadata"]["RequestId"]]
    assert decrypt_line["operation"] == "Decrypt"
    assert decrypt_line["key_id"] == key["Arn"]
    assert decrypt_line["principal"].endswith(":root")
    assert decrypt_line["region"] == "us-east-1"
    assert decrypt_line["status"] == 200
    assert decrypt_line["error_code"] is None
    assert decrypt_line["latency_ms"] > 0
    failed = [line for line in access if line["operation"] == "DescribeKey"]
    assert [(line["status"], line["error_code"]) for line in failed] == [(400, "NotFoundException")]
    text = server.log()
    for form in (canary.hex(), base64.b64encode(canary).decode(), base64.b64encode(blob).decode()[:40]):
        assert form not in text


# ===================================================================== request quotas


def test_requests_over_the_quota_are_throttled_as_aws_does(tmp_path: Path) -> None:
    env = {"TRENT_THROTTLE": "1", "TRENT_THROTTLE_SYMMETRIC_RPS": "5", "TRENT_THROTTLE_MANAGEMENT_RPS": "50"}
    server = TrentServer(tmp_path / "data", env=env).start()
    try:
        kms = server.client()
        key_id = new_key(kms)["KeyId"]
        clients = [server.client() for _ in range(8)]

        def attempt(n: int) -> tuple[str, int, str]:
            try:
                clients[n % 8].encrypt(KeyId=key_id, Plaintext=b"q")
            except ClientError as error:
                response = error.response
                return (
                    response["Error"]["Code"],
                    response["ResponseMetadata"]["HTTPStatusCode"],
                    response["Error"]["Message"],
                )
            return "ok", 200, ""

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(attempt, range(40)))
        elapsed = time.monotonic() - started
        admitted = [o for o in outcomes if o[0] == "ok"]
        throttled = [o for o in outcomes if o[0] != "ok"]
        # A bucket of 5 that refills at 5/s admits no more than that, and refuses the rest.
        assert 5 <= len(admitted) <= 5 + 5 * elapsed + 1
        assert set(throttled) == {
            (
                "ThrottlingException",
                400,
                "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
            )
        }
        # Another class has its own bucket; and an SDK's retries get through once the bucket refills.
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
        patient = server.client()
        patient.meta.config.retries = {"max_attempts": 10, "mode": "standard"}
        time.sleep(1.0)
        assert patient.encrypt(KeyId=key_id, Plaintext=b"later")["KeyId"].endswith(key_id)
    finally:
        server.stop()


def test_dev_servers_do_not_throttle_by_default(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    for _ in range(600):  # above the asymmetric default, in a second or two
        kms.generate_random(NumberOfBytes=1)
    assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)


# ===================================================================== request limits


def raw_connection(server: TrentServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TrentServer]:
    env = {"TRENT_HEADER_TIMEOUT_SECONDS": "1", "TRENT_BODY_TIMEOUT_SECONDS": "1"}
    server = TrentServer(tmp_path / "data", env=env).start()
    yield server
    server.stop()


def test_slow_headers_are_cut_off_and_the_server_stays_healthy(limited: TrentServer) -> None:
    slow = [raw_connection(limited) for _ in range(50)]
    for sock in slow:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    try:
        assert all(closed_within(sock, 5) for sock in slow)
    finally:
        for sock in slow:
            sock.close()
    with raw_connection(limited) as silent:  # connects and says nothing at all
        assert closed_within(silent, 5)
    kms = limited.client()
    assert kms.describe_key(KeyId=new_key(kms)["KeyId"])["KeyMetadata"]["Enabled"] is True


def test_a_body_that_never_arrives_gets_an_aws_shaped_timeout(limited: TrentServer) -> None:
    with raw_connection(limited) as sock:
        response = _send_and_read(
            sock,
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{",
        )
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"x-amzn-requestid" in head.lower()
    assert json.loads(body)["__type"] == "RequestTimeoutException"


def _send_and_read(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    sock.settimeout(10)
    response = b""
    while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    return response


# ===================================================================== the edges of trent serve


def test_a_busy_port_fails_before_any_banner(fresh_server: TrentServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "trent"), "serve", "--dev", "--port", str(fresh_server.port), "--data-dir", str(tmp_path / "d2")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "serving" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"trent: cannot listen on 127.0.0.1:{fresh_server.port}: Address already in use"
    ]


def test_cli_failures_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "trent"), "serve", "--dev", "--data-dir", "/proc/trent-nowhere/x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("trent: ")
    # A reader that goes away (`trent ... | head`): one line, no traceback.
    process = subprocess.Popen(
        [str(BIN / "trent"), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ}
    )
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr


def test_a_region_aws_does_not_have_is_refused(fresh_server: TrentServer) -> None:
    martian = fresh_server.client(region="mars-north-9")
    with aws_error(
        martian, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'mars-north-9'."
    ):
        martian.list_keys()
    assert fresh_server.client(region="eu-west-3").list_keys()["Keys"] == []


def test_non_api_paths_say_what_trent_is(fresh_server: TrentServer, tmp_path: Path) -> None:
    status, body = get(fresh_server, "/")
    answer = json.loads(body)
    assert status == 400
    assert answer["__type"] == "UnknownOperationException"
    assert "Trent" in answer["message"]
    assert "AWS KMS API" in answer["message"]
    # An API call AWS does not know gets AWS's bare answer.
    request = urllib.request.Request(
        fresh_server.endpoint + "/", data=b"{}", method="POST", headers={"X-Amz-Target": "TrentService.Nope"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert json.loads(info.value.read()) == {"__type": "UnknownOperationException"}
    secure = TrentServer(tmp_path / "secure", dev=False).start()
    try:
        form = urllib.request.Request(
            secure.endpoint + "/_trent/dev/advance-clock",
            data=b"seconds=10",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(form, timeout=10)
        assert json.loads(info.value.read()) == {
            "__type": "UnknownOperationException",
            "message": "/_trent/dev/advance-clock is served only by a --dev server.",
        }
    finally:
        secure.stop()


def test_advancing_the_clock_runs_what_became_due(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", env={"TRENT_DELETION_SWEEP_SECONDS": "3600"}).start()
    try:
        kms = server.client()
        key_id = new_key(kms)["KeyId"]
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        server.post("/_trent/dev/advance-clock", {"seconds": 7 * 86400 + 1})
        with aws_error(kms, "NotFoundException"):
            kms.describe_key(KeyId=key_id)
    finally:
        server.stop()
