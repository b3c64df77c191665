"""What an operator watches: Prometheus metrics (/metrics) and one access-log line per request.

Both are fed by the audit broker (every audited request, once its record is durable) and by the
edge for requests that never reached an operation (unknown target, body too large). Neither
sees a request body: a log line and a label hold only the request id, operation, key ARN,
principal ARN, Region, status, error code and latency, never plaintext, key material or secrets.

With several worker processes, prometheus-client's multi-process mode keeps each process's values
in files under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``trent serve`` before the workers start) and
/metrics on any worker adds them up.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from trent.api.errors import status_for
from trent.domain.errors import TrentError
from trent.services.request import RequestContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
OTHER_OPERATION = "Other"  # an operation name outside the served set (labels stay bounded)


class KeyCounts(Collector):
    """keys by state and spec, read from the store at scrape time (any process gives the answer)."""

    def __init__(self, count: Callable[[], Sequence[tuple[str, str, int]]]) -> None:
        self._count = count

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("trent_keys", "KMS keys by key state and key spec.", labels=["state", "spec"])
        for state, spec, count in self._count():
            family.add_metric([state, spec], count)
        yield family


class Telemetry:
    """Implements ``services.request.RequestObserver``; also counts background work and caches."""

    def __init__(self, operations: Iterable[str], key_counts: Callable[[], Sequence[tuple[str, str, int]]]) -> None:
        self._operations = frozenset(operations)
        self._multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multi-process mode the values live in files; the registry only serves this process's scrape.
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self._multiprocess else self.registry
        self._requests = Counter(
            "trent_requests",
            "Requests by operation and error code (empty when the request succeeded).",
            ["operation", "error_code"],
            registry=registry,
        )
        self._latency = Histogram(
            "trent_request_duration_seconds",
            "Time from the request's arrival to its answer, by operation.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._batch_size = Histogram(
            "trent_audit_batch_size", "Audit records per group commit.", buckets=_BATCH_BUCKETS, registry=registry
        )
        self._batch_seconds = Histogram(
            "trent_audit_commit_seconds",
            "Time to make one audit batch durable.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._cache = Counter(
            "trent_key_cache_lookups", "Key and material lookups by answer.", ["cache", "result"], registry=registry
        )
        self._sweeps = Counter("trent_background_runs", "Background sweeps by task.", ["task"], registry=registry)
        self._sweep_changes = Counter(
            "trent_background_changes", "Keys changed by background sweeps, by task.", ["task"], registry=registry
        )
        self._up = Gauge("trent_up", "1 while this process serves.", registry=registry, multiprocess_mode="livemax")
        self._up.set(1)
        self._seen_cache = (0, 0, 0, 0)
        self._key_counts = KeyCounts(key_counts)
        # Label children looked up once: .labels() costs a lock and a dict build per call.
        self._request_children: dict[tuple[str, str], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self.access = AccessLog()

    # ----------------------------------------------------------------- requests

    def request_finished(self, request: RequestContext, error: TrentError | None) -> None:
        self.observe(request, error)

    def observe(self, request: RequestContext, error: TrentError | None) -> None:
        seconds = time.perf_counter() - request.started
        operation = request.operation if request.operation in self._operations else OTHER_OPERATION
        code = "" if error is None else error.code
        counter = self._request_children.get((operation, code))
        if counter is None:
            counter = self._request_children[operation, code] = self._requests.labels(operation, code)
        counter.inc()
        latency = self._latency_children.get(operation)
        if latency is None:
            latency = self._latency_children[operation] = self._latency.labels(operation)
        latency.observe(seconds)
        if self.access.enabled:
            self.access.write(_access_fields(request, error, seconds))

    # ----------------------------------------------------------------- the rest

    def audit_batch(self, size: int, seconds: float) -> None:
        self._batch_size.observe(size)
        self._batch_seconds.observe(seconds)

    def background(self, task: str, changed: int) -> None:
        self._sweeps.labels(task).inc()
        if changed:
            self._sweep_changes.labels(task).inc(changed)

    def cache_totals(self, key_hits: int, key_misses: int, material_hits: int, material_misses: int) -> None:
        """The key cache's running totals; counters advance by what is new since the last call."""
        now = (key_hits, key_misses, material_hits, material_misses)
        labels = (("key", "hit"), ("key", "miss"), ("material", "hit"), ("material", "miss"))
        for (cache, result), current, seen in zip(labels, now, self._seen_cache, strict=True):
            if current > seen:
                self._cache.labels(cache, result).inc(current - seen)
        self._seen_cache = now

    def exposition(self) -> bytes:
        """The Prometheus text format of every process's metrics, plus keys by state and spec."""
        registry = self.registry
        if self._multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
        counts = CollectorRegistry()
        counts.register(self._key_counts)
        return output + generate_latest(counts)


def _access_fields(request: RequestContext, error: TrentError | None, seconds: float) -> dict[str, object]:
    caller = request.caller_or_none
    keys = request.key_arns
    return {
        "request_id": request.request_id,
        "operation": request.operation,
        "service": request.event_source.split(".", 1)[0],
        "key_id": keys[0] if keys else None,
        "principal": caller.arn if caller is not None else None,
        "region": caller.region if caller is not None else request.claimed_region,
        "source_ip": request.source_ip,
        "status": 200 if error is None else status_for(error.code),
        "error_code": None if error is None else error.code,
        "latency_ms": round(seconds * 1000, 3),
    }


class AccessLog:
    """The access log: one line per request on stderr, written in batches.

    A line per request through ``logging`` (a LogRecord, a lock, a formatted time, a write and a
    flush each) costs more than a quarter of an Encrypt. Lines are queued here and written
    together by ``flush()``, which the server calls a few times a second and at shutdown; a
    process killed with SIGKILL loses at most that fraction of a second of log lines (the
    audit trail, not the log, is the durable record of requests).
    """

    def __init__(self) -> None:
        self.enabled = False
        self.json = True
        self._pending: list[bytes] = []
        self._second = -1
        self._stamp = ""

    def configure(self, log_format: str, level: str) -> None:
        self.json = log_format == "json"
        self.enabled = logging.getLevelName(level.upper()) <= logging.INFO

    def write(self, fields: dict[str, object]) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = f"{self._stamp}.{int((now - second) * 1000):03d}Z"
        if self.json:
            # orjson of the fields alone, then the fixed prefix: cheaper than merging dicts per line.
            line = b'{"time":"%s","level":"info","logger":"trent.access",%s' % (
                stamp.encode(),
                orjson.dumps(fields)[1:],
            )
        else:
            pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
            line = f"{stamp} INFO trent.access: {pairs}".encode()
        self._pending.append(line)
        if len(self._pending) >= 1024:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        stream = getattr(sys.stderr, "buffer", None)
        try:
            if stream is not None:
                stream.write(b"\n".join(lines) + b"\n")
                stream.flush()
            else:
                sys.stderr.write(b"\n".join(lines).decode() + "\n")
        except (OSError, ValueError):
            pass  # stderr closed: nothing to be done about a log line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an access line's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update(access)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines; an access line as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            stamp = self.formatTime(record)
            pairs = " ".join(f"{k}={v}" for k, v in access.items() if v is not None)
            return f"{stamp} {record.levelname} {record.name}: {pairs}"
        return super().format(record)


def configure_logging(log_format: str, level: str) -> None:
    """Root logging for a serving process (and its workers): JSON or text lines on stderr."""
    handler = logging.StreamHandler()
    formatter: logging.Formatter = (
        JsonFormatter() if log_format == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own error lines go through the same handler; its access log stays off.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
