#!/usr/bin/env python3
"""Per-request CPU cost of one operation through the ASGI app, without HTTP or a load generator.

Builds Trent (not --dev: SigV4 verified) on a temporary data directory, pre-signs N requests with
botocore, and drives them through the app with C concurrent tasks, so group commit batches as it
does under load. Prints µs per request; with --profile, the top functions by cumulative time.
Figures from this tool explain where time goes; throughput claims come from bench/run.py.

  bench/inprocess.py [--op encrypt] [-n 20000] [-c 16] [--profile]
  PYTHONPATH=/tmp/before/src bench/inprocess.py ...   # the same for another source tree
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import configparser
import cProfile
import json
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import trent
from trent.bootstrap import create_app, initialize
from trent.config import settings_from_env


def signed(credentials: Credentials, target: str, body: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(credentials, "kms", "us-east-1").add_auth(request)
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"host", b"127.0.0.1:4599"))
    return headers, data


async def call(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "scheme": "http",
    }
    await app(scope, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def start_lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    """Start the app's background tasks (the WAL checkpointer among them), as a server would."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    await started.wait()
    return inbox, task


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--op", default="encrypt", choices=["encrypt", "decrypt", "describe-key"])
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("-c", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_env({}, data_dir=Path(tmp) / "data", dev=False)
        initialize(settings)
        app = create_app(settings)
        lifespan_inbox, lifespan = await start_lifespan(app)
        profile = configparser.ConfigParser()
        profile.read(settings.credentials_path)
        credentials = Credentials(profile["trent"]["aws_access_key_id"], profile["trent"]["aws_secret_access_key"])
        _, out = await call(app, *signed(credentials, "TrentService.CreateKey", {}))
        key_id = json.loads(out)["KeyMetadata"]["KeyId"]
        plaintext = base64.b64encode(os.urandom(4096)).decode()
        if args.op == "encrypt":
            request = signed(credentials, "TrentService.Encrypt", {"KeyId": key_id, "Plaintext": plaintext})
        elif args.op == "decrypt":
            _, out = await call(
                app, *signed(credentials, "TrentService.Encrypt", {"KeyId": key_id, "Plaintext": plaintext})
            )
            request = signed(credentials, "TrentService.Decrypt", {"CiphertextBlob": json.loads(out)["CiphertextBlob"]})
        else:
            request = signed(credentials, "TrentService.DescribeKey", {"KeyId": key_id})

        for _ in range(500):  # warm caches
            await call(app, *request)

        async def worker(count: int) -> None:
            for _ in range(count):
                status, body = await call(app, *request)
                if status != 200:
                    raise SystemExit(f"unexpected {status}: {body[:200]!r}")

        profiler = cProfile.Profile() if args.profile else None
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        await asyncio.gather(*(worker(args.n // args.c) for _ in range(args.c)))
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        done = (args.n // args.c) * args.c
        user = (usage.ru_utime - usage0.ru_utime) / done * 1e6
        system = (usage.ru_stime - usage0.ru_stime) / done * 1e6
        print(
            f"trent from {Path(trent.__file__).parent}: {args.op} x{done}, c={args.c}: "
            f"{wall / done * 1e6:.1f} µs wall/request, {cpu / done * 1e6:.1f} µs CPU/request "
            f"(user {user:.1f}, system {system:.1f}), {done / wall:,.0f} req/s in-process"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(35)
        await lifespan_inbox.put({"type": "lifespan.shutdown"})
        await lifespan


if __name__ == "__main__":
    asyncio.run(main())
