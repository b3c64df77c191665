#!/usr/bin/env python3
"""The console's keys list as the store grows: the same pages with 1,000 and with N (default 100,000) keys.

For each store size: fill a fresh data directory straight through the store (as bench/scale.py does,
in large transactions: symmetric keys with sealed material, every 10th one Disabled, every 4th one with
an alias), start `trent serve` (not --dev) pinned to CPU 1, sign into the console over HTTP (the
sign-in form with its CSRF token and cookie, then the session cookie), and time these pages with a
plain keep-alive HTTP client on CPU 0:

  first     GET /console/keys                          the first page
  next-20   the page reached by following "Next page" 20 times (its URL fetched again and again)
  deep      GET /console/keys?marker=<near the end>    a marker 50 keys before the end of the list
  disabled  GET /console/keys?state=Disabled           a filtered view (it reads up to 200 keys for 25 matches)
  search    GET /console/keys?q=bench-key-1            a text search (id, alias or description)

Every page is checked (status 200, the rows it should show) before it is timed. The two sizes are
measured in interleaved rounds (a fresh server per size per round); figures are the median and p95 of
all samples over the rounds, and the ratio is N / 1,000 of the medians. A page's cost that does not
grow with the store shows a ratio near 1.

  bench/console_keys.py [--keys 100000] [--small 1000] [--rounds 3] [--samples 30] [--doc]

--doc also writes the table into docs/benchmarks.md (its `bench:console_keys` section; see bench/run.py).
"""

from __future__ import annotations

import argparse
import base64
import html
import http.client
import math
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from trent.domain.keys import KeyState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port, write_section
from scale import KeyShape, credentials, fill, rss_mib, start

PAGES = ("first", "next-20", "deep", "disabled", "search")
NEXT_HOPS = 20
KEY_LINK = re.compile(r'<td><a href="/console/keys/([0-9a-f-]{36})">')
NEXT_LINK = re.compile(r'<a href="([^"]+)">Next page</a>')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_key(number: int) -> KeyShape:
    """Every 10th key Disabled, every 4th with an alias: filters and searches find something."""
    state = KeyState.DISABLED if number % 10 == 9 else KeyState.ENABLED
    return KeyShape(f"bench key {number}", state, f"alias/bench-key-{number}" if number % 4 == 0 else None)


class Console:
    """One keep-alive HTTP connection with the console's cookies; answers as (status, headers, body)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"user-agent": "bench-console-keys/1"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["content-type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie_name, _, rest = value.partition("=")
                self.cookies[cookie_name.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("location") or "", text

    def sign_in(self, access_key: str, secret_key: str) -> None:
        status, _, body = self.request("GET", "/console/sign-in")
        match = CSRF.search(body)
        if status != 200 or match is None:
            sys.exit(f"the sign-in page answered {status}")
        form = {"access_key_id": access_key, "secret_access_key": secret_key, "csrf_token": match.group(1)}
        status, location, _ = self.request("POST", "/console/sign-in", form)
        if status != 303 or location != "/console/keys":
            sys.exit(f"sign-in answered {status} {location!r}")

    def page(self, path: str) -> str:
        status, location, body = self.request("GET", path)
        if status != 200:
            sys.exit(f"GET {path} answered {status} {location}")
        return body


def rows(body: str) -> list[str]:
    return KEY_LINK.findall(body)


def next_link(body: str) -> str | None:
    match = NEXT_LINK.search(body)
    return html.unescape(match.group(1)) if match else None


def page_urls(console: Console, count: int) -> dict[str, str]:
    """The URL of each timed page, each checked once: it answers 200 with the rows it should show."""
    first = console.page("/console/keys")
    if len(rows(first)) != 25:
        sys.exit(f"the first page shows {len(rows(first))} keys, not 25")
    url, body = "/console/keys", first
    for hop in range(NEXT_HOPS):
        following = next_link(body)
        if following is None:
            sys.exit(f"no Next page link after {hop} hops")
        url, body = following, console.page(following)
    if len(rows(body)) != 25 or set(rows(body)) & set(rows(first)):
        sys.exit("the page 20 hops on does not show 25 other keys")
    # The marker is ListKeys' NextMarker as Trent hands it out: base64url of "ListKeys\0<position>",
    # the position being the store's row number (the first key's + n).
    marker = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["marker"][0]
    operation, _, position = base64.urlsafe_b64decode(marker).decode().partition("\x00")
    deep_position = int(position) - 25 * NEXT_HOPS + count - 50
    deep_marker = base64.urlsafe_b64encode(f"{operation}\x00{deep_position}".encode()).decode()
    deep = "/console/keys?" + urllib.parse.urlencode({"marker": deep_marker})
    deep_body = console.page(deep)
    if len(rows(deep_body)) != 25 or next_link(deep_body) is None:
        sys.exit(f"the deep page shows {len(rows(deep_body))} keys (want 25, then a next page)")
    last = console.page(next_link(deep_body) or "")
    if len(rows(last)) != 25 or next_link(last) is not None:
        sys.exit("the page after the deep one is not the last page of 25 keys")
    disabled = console.page("/console/keys?state=Disabled")
    # Every 10th key is Disabled: the 200 keys a filtered page may read hold 20 of them.
    if len(rows(disabled)) != 20 or "Enabled</td>" in disabled:
        sys.exit(f"?state=Disabled shows {len(rows(disabled))} keys (want the 20 Disabled among the first 200)")
    search = "/console/keys?" + urllib.parse.urlencode({"q": "bench-key-1"})
    if not rows(console.page(search)):
        sys.exit("?q=bench-key-1 shows no key on the first page")
    return {
        "first": "/console/keys",
        "next-20": url,
        "deep": deep,
        "disabled": "/console/keys?state=Disabled",
        "search": search,
    }


def measure(data_dir: Path, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One server on this store: the samples of each page (ms), interleaved page by page, and its RSS."""
    port = free_port()
    process = start(data_dir, port, args.database)
    try:
        console = Console(port)
        console.sign_in(*credentials(data_dir))
        urls = page_urls(console, count)
        for _ in range(3):  # warm-up: the key cache, the compiled policies, the templates
            for url in urls.values():
                console.page(url)
        samples: dict[str, list[float]] = {name: [] for name in PAGES}
        for _ in range(args.samples):
            for name in PAGES:
                started = time.perf_counter()
                console.page(urls[name])
                samples[name].append((time.perf_counter() - started) * 1000)
        result: dict[str, Any] = {"keys": count, "samples": samples, "rss_mib": rss_mib(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=30)
    shown = {name: round(statistics.median(values), 1) for name, values in samples.items()}
    print(f"  {count:,} keys: median ms {shown}", flush=True)
    return result


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def table(small: list[dict[str, Any]], large: list[dict[str, Any]]) -> str:
    n_small, n_large = small[0]["keys"], large[0]["keys"]
    lines = [
        f"| page | {n_small:,} keys median ms | p95 ms | {n_large:,} keys median ms | p95 ms | ratio (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in PAGES:
        a = [v for r in small for v in r["samples"][name]]
        b = [v for r in large for v in r["samples"][name]]
        ratio = statistics.median(b) / statistics.median(a)
        lines.append(
            f"| {name} | {statistics.median(a):.1f} | {p95(a):.1f} | {statistics.median(b):.1f} | {p95(b):.1f} "
            f"| {ratio:.2f} |"
        )
    rss_a, rss_b = statistics.median(r["rss_mib"] for r in small), statistics.median(r["rss_mib"] for r in large)
    lines.append(f"| server RSS MiB (after) | {rss_a:.0f} | | {rss_b:.0f} | | {rss_b / rss_a:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000, help="the large store")
    parser.add_argument("--small", type=int, default=1_000, help="the small store")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of both store sizes")
    parser.add_argument("--samples", type=int, default=30, help="timed requests per page per round")
    parser.add_argument("--database", default="", help="postgresql://... (each size in a fresh schema is up to you)")
    parser.add_argument("--doc", action="store_true", help="also write the table into docs/benchmarks.md")
    args = parser.parse_args()
    if min(args.keys, args.small) < 25 * (NEXT_HOPS + 3):
        sys.exit(f"both stores need at least {25 * (NEXT_HOPS + 3)} keys (20 pages deep and more)")
    os.sched_setaffinity(0, {0})  # the client on CPU 0, the server (taskset) on CPU 1
    with tempfile.TemporaryDirectory(prefix="trent-console-keys-") as tmp:
        sizes = {args.small: Path(tmp) / f"keys-{args.small}", args.keys: Path(tmp) / f"keys-{args.keys}"}
        for count, data_dir in sizes.items():
            print(f"filling a store with {count:,} keys", flush=True)
            fill(data_dir, count, args.database, console_key)
        os.sync()  # the fill's dirty pages must not be written back during a measurement
        time.sleep(2)
        runs: dict[int, list[dict[str, Any]]] = {count: [] for count in sizes}
        for _ in range(args.rounds):  # interleaved, so drift of the machine hits both sizes alike
            for count, data_dir in sizes.items():
                runs[count].append(measure(data_dir, count, args))
    text = table(runs[args.small], runs[args.keys])
    print(f"\n{text}")
    if args.doc:
        shown = f"bench/console_keys.py --keys {args.keys} --small {args.small} --rounds {args.rounds}"
        shown += f" --samples {args.samples}" + (" --database postgresql://..." if args.database else "") + " --doc"
        setup = (
            f"{'PostgreSQL' if args.database else 'SQLite'} store; Trent pinned to CPU 1 without --dev, signed into "
            f"the console with the admin access key; one keep-alive HTTP client on CPU 0 fetching each page in "
            f"turn. Median and p95 of {args.rounds} interleaved rounds x {args.samples} requests per page; "
            f"ratio = {args.keys:,} / {args.small:,} of the medians. Pages: `first` /console/keys; `next-20` the "
            f'page 20 "Next page" links on; `deep` a marker 50 keys before the end; `disabled` ?state=Disabled; '
            f"`search` ?q=bench-key-1. Each page shows 25 keys: ListKeys, then a DescribeKey and a ListAliases "
            f"per key, each authorized and audited."
        )
        title = f"console keys list, {args.small:,} vs {args.keys:,} keys"
        write_section("console_keys", title, shown, f"{setup}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
