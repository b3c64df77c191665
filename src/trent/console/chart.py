"""Usage charts: requests per minute by operation, and errors, as a small inline SVG.

Built server-side from audit records (CloudTrail JSON), so the picture shows exactly what the trail
holds; the same figures are given as a table beside it for screen readers and for reading.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup, escape

# Colours for the most frequent operations (colour-blind safe, Okabe-Ito); the rest are "Other".
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_OTHER = "#999999"
_ERROR = "#B00020"
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 40, 28, 10


@dataclass
class Usage:
    start: datetime
    minutes: int
    buckets: list[Counter[str]] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    totals: Counter[str] = field(default_factory=Counter)
    error_total: int = 0
    truncated: bool = False

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def usage_from_records(records: list[dict[str, object]], now: datetime, minutes: int = 60) -> Usage:
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    usage = Usage(start, minutes, [Counter() for _ in range(minutes)], [0] * minutes)
    for record in records:
        try:
            when = datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        index = int((when - start).total_seconds() // 60)
        if not 0 <= index < minutes:
            continue
        name = str(record.get("eventName", ""))
        usage.buckets[index][name] += 1
        usage.totals[name] += 1
        if record.get("errorCode"):
            usage.errors[index] += 1
            usage.error_total += 1
    return usage


def colours(usage: Usage) -> dict[str, str]:
    top = [name for name, _ in usage.totals.most_common(len(_PALETTE))]
    return {name: _PALETTE[i] for i, name in enumerate(top)}


def summary(usage: Usage) -> str:
    parts = ", ".join(f"{name} {count}" for name, count in usage.totals.most_common())
    text = (
        f"Requests per minute over the last {usage.minutes} minutes: {usage.total} requests, {usage.error_total} errors"
    )
    return f"{text}; {parts}" if parts else text


def svg(usage: Usage) -> Markup:
    palette = colours(usage)
    peak = max([sum(b.values()) for b in usage.buckets] + [1])
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    bar_w = plot_w / usage.minutes
    label = escape(summary(usage))
    out = [
        f'<svg role="img" aria-label="{label}" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 4}" y2="{PAD_TOP + plot_h}" stroke="#555"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, bucket in enumerate(usage.buckets):
        x = PAD_LEFT + i * bar_w
        y = float(PAD_TOP + plot_h)
        for name, count in sorted(bucket.items(), key=lambda item: -usage.totals[item[0]]):
            h = plot_h * count / peak
            y -= h
            minute = (usage.start + timedelta(minutes=i)).strftime("%H:%M")
            out.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{palette.get(name, _OTHER)}"><title>{minute} {escape(name)}: {count}</title></rect>'
            )
        if usage.errors[i]:
            h = plot_h * usage.errors[i] / peak
            out.append(
                f'<rect x="{x + bar_w / 2 - 1:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="2" height="{h:.1f}" '
                f'fill="{_ERROR}"><title>{usage.errors[i]} errors</title></rect>'
            )
    for i in range(0, usage.minutes, 10):
        minute = (usage.start + timedelta(minutes=i)).strftime("%H:%M")
        out.append(f'<text x="{PAD_LEFT + i * bar_w:.1f}" y="{HEIGHT - 8}" font-size="11">{minute}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every interpolated text is escaped above
