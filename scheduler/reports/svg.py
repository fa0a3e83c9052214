"""Small inline-SVG charts for the HTML report: no plotting library, no JavaScript.

Each function returns one ``<svg>`` element as text. Every mark carries a ``<title>`` so a
browser shows its exact value on hover, and a ``data-value`` attribute so tests can read it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 44, 44
PALETTE = ("#2e7d32", "#9e9e9e", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#c62828")


@dataclass(frozen=True, kw_only=True)
class Span:
    """A horizontal bar on a time axis (a job's run), drawn in lane ``lane``."""

    start: datetime
    end: datetime
    label: str
    lane: int = 0


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 × 10^k)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value:
            return candidate
    return 10.0 ** (exponent + 1)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


class _Frame:
    """Plot area geometry and the y scale shared by the chart functions."""

    def __init__(self, y_max: float, title: str, y_label: str, height: int = HEIGHT) -> None:
        self.height = height
        self.y_max = nice_max(y_max)
        self.title, self.y_label = title, y_label
        self.inner_w = WIDTH - LEFT - RIGHT
        self.inner_h = height - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.inner_h * (1.0 - value / self.y_max)

    def open(self, css_class: str) -> list[str]:
        parts = [
            f'<svg class="chart {css_class}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}" '
            f'role="img" aria-label="{escape(self.title)}">',
            f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">'
            f"{escape(self.title)}</text>",
            f'<text x="14" y="{TOP + self.inner_h / 2}" font-size="11" '
            f'transform="rotate(-90 14 {TOP + self.inner_h / 2})" text-anchor="middle">'
            f"{escape(self.y_label)}</text>",
        ]
        for i in range(5):
            value = self.y_max * i / 4
            y = self.y(value)
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#e0e0e0"/><text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" '
                f'text-anchor="end">{_fmt(value)}</text>'
            )
        return parts


def legend(names: Sequence[str], x: float, y: float) -> list[str]:
    """Colour keys for ``names`` in ``PALETTE`` order, left to right."""
    parts = []
    for i, name in enumerate(names):
        left = x + 150 * i
        parts.append(
            f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{PALETTE[i % 7]}"/>'
            f'<text x="{left + 14}" y="{y}" font-size="11">{escape(name)}</text>'
        )
    return parts


def _legend_x(count: int) -> float:
    return float(WIDTH - RIGHT - 150 * count)


def pack_lanes(intervals: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """A lane per interval so that intervals in one lane never overlap (greedy, in order)."""
    lane_ends: list[datetime] = []
    lanes: list[int] = []
    for start, end in intervals:
        free = [i for i, last in enumerate(lane_ends) if last <= start]
        lane = free[0] if free else len(lane_ends)
        if lane == len(lane_ends):
            lane_ends.append(end)
        lane_ends[lane] = end
        lanes.append(lane)
    return lanes


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    y_label: str,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    peak = max((v for values in series.values() for v in values), default=0.0)
    frame = _Frame(peak, title, y_label)
    parts = [*frame.open("bars"), *legend(list(series), _legend_x(len(series)), 34)]
    group_w = frame.inner_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = LEFT + c * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series.items()):
            value = max(values[c], 0.0)
            y = frame.y(value)
            parts.append(
                f'<rect class="bar" data-series="{escape(name)}" '
                f'data-category="{escape(category)}" data-value="{values[c]:.6g}" '
                f'x="{x0 + s * bar_w:.1f}" y="{y:.1f}" width="{bar_w * 0.95:.1f}" '
                f'height="{TOP + frame.inner_h - y:.1f}" fill="{PALETTE[s % 7]}">'
                f"<title>{escape(category)} · {escape(name)}: {_fmt(values[c])}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{frame.height - BOTTOM + 16}" '
            f'font-size="11" text-anchor="middle">{escape(category[:18])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], *, bins: int, title: str, x_label: str) -> str:
    """Counts of ``values`` in at most ``bins`` bins of a round width, from 0."""
    top = max([*values, 0.0])
    width = nice_max(top / bins) if top > 0 else 1.0
    count = max(1, min(bins, math.ceil(top / width + 1e-9)))
    counts = [0] * count
    for value in values:
        counts[min(int(value / width), count - 1)] += 1
    labels = [f"{i * width:g}–{(i + 1) * width:g}" for i in range(count)]
    chart = bar_chart(labels, {x_label: [float(c) for c in counts]}, title=title, y_label="jobs")
    return chart.replace('class="chart bars"', 'class="chart histogram"', 1)


def _time_x(start: datetime, end: datetime, inner_w: float) -> tuple[float, ...]:
    return (start.timestamp(), max(end.timestamp() - start.timestamp(), 1.0), inner_w)


def line_chart(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    *,
    title: str,
    y_label: str,
    spans: Sequence[Span] = (),
    step: bool = False,
) -> str:
    """Lines over time (``step``: hold each value until the next point), with ``spans`` below."""
    points = [p for values in series.values() for p in values]
    times = [t for t, _ in points] + [s.start for s in spans] + [s.end for s in spans]
    if not times:
        return (
            f'<svg class="chart empty" width="{WIDTH}" height="40">'
            f'<text y="20">{escape(title)}: no data</text></svg>'
        )
    lanes = max((s.lane for s in spans), default=-1) + 1
    frame = _Frame(max((v for _, v in points), default=0.0), title, y_label, HEIGHT + 14 * lanes)
    frame.inner_h -= 14 * lanes
    t0, span_s, inner_w = _time_x(min(times), max(times), frame.inner_w)

    def x(moment: datetime) -> float:
        return LEFT + inner_w * (moment.timestamp() - t0) / span_s

    parts = [*frame.open("lines"), *legend(list(series), _legend_x(len(series)), 34)]
    for s, (name, values) in enumerate(series.items()):
        coords: list[str] = []
        for i, (moment, value) in enumerate(values):
            if step and i:
                coords.append(f"{x(moment):.1f},{frame.y(values[i - 1][1]):.1f}")
            coords.append(f"{x(moment):.1f},{frame.y(value):.1f}")
        parts.append(
            f'<polyline class="line" data-series="{escape(name)}" '
            f'data-last="{values[-1][1] if values else 0:.6g}" fill="none" '
            f'stroke="{PALETTE[s % 7]}" stroke-width="2" points="{" ".join(coords)}"/>'
        )
    base = TOP + frame.inner_h + 6
    for span in spans:
        left, right = x(span.start), max(x(span.end), x(span.start) + 2)
        parts.append(
            f'<rect class="span" x="{left:.1f}" y="{base + 14 * span.lane:.1f}" '
            f'width="{right - left:.1f}" height="10" fill="#1565c0" opacity="0.7">'
            f"<title>{escape(span.label)}</title></rect>"
        )
    parts.append(_time_ticks(min(times), max(times), x, frame.height - 10))
    parts.append("</svg>")
    return "".join(parts)


def _time_ticks(start: datetime, end: datetime, x: Callable[[datetime], float], y: float) -> str:
    ticks = []
    for i in range(5):
        moment = datetime.fromtimestamp(
            start.timestamp() + (end.timestamp() - start.timestamp()) * i / 4, tz=start.tzinfo
        )
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        ticks.append(
            f'<text x="{x(moment):.1f}" y="{y}" font-size="10" text-anchor="{anchor}">'
            f"{moment.strftime('%m-%d %H:%M')}</text>"
        )
    return "".join(ticks)
