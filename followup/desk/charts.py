"""Charts drawn on the server as SVG: plain values in, an SVG string out. No JavaScript and
no chart library, so a page shows its chart on any phone, and a screen reader gets the
chart's ``<title>``, its ``<desc>`` and the table of the same values beside it. Two kinds:
the soreness line of a patient, and the column charts of a clinic's reports (one series, or
several side by side or stacked), drawn in the same :class:`Frame` with the same axes.

Pure: every value written into the SVG is escaped here, whatever the caller passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

#: the soreness scale the check-ins ask for
LOW, HIGH = 0, 10
WIDTH, HEIGHT = 640, 240


@dataclass(frozen=True)
class Frame:
    """Where a chart draws: the viewBox (the SVG scales to its container: a phone gets the
    same chart, smaller), the margins around the plot, and the value scale of the y axis."""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = 40
    right: int = 16
    top: int = 16
    bottom: int = 36
    low: float = LOW
    high: float = HIGH
    ticks: tuple[float, ...] = (0, 5, 10)

    def y(self, value: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - span * (value - self.low) / (self.high - self.low)

    @property
    def floor(self) -> float:
        return self.height - self.bottom


SORENESS = Frame()


@dataclass(frozen=True)
class Point:
    """One score, and the local time it was given at (as staff read it)."""

    at: datetime
    score: int
    label: str


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the SVG markup, and the same values as rows for a table fallback."""

    svg: str
    points: tuple[Point, ...]
    summary: str


def soreness_chart(
    scores: Sequence[tuple[datetime, int]], tz: ZoneInfo, *, title: str = "Soreness over time"
) -> Chart:
    """A line chart of soreness scores (0-10) over time, in ``tz``. With no scores, an SVG
    that says so (the page still has its place for it)."""
    points = tuple(
        Point(at, max(LOW, min(HIGH, int(score))), at.astimezone(tz).strftime("%d %b %H:%M"))
        for at, score in sorted(scores, key=lambda s: s[0])
    )
    summary = _summary(points)
    body = [_head("chart", title, summary, SORENESS), _axes(SORENESS)]
    if not points:
        body.append(_empty(SORENESS, "No scores yet"))
    else:
        xy = [(_x(i, len(points)), SORENESS.y(p.score)) for i, p in enumerate(points)]
        if len(xy) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            body.append(f'<polyline points="{path}" class="chart-line" fill="none"/>')
        for (x, y), p in zip(xy, points, strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="chart-dot">'
                f"<title>{escape(p.label)}: {p.score}</title></circle>"
            )
        step = max(1, len(points) // 6)
        for i in range(0, len(points), step):
            x = xy[i][0]
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                f'class="chart-tick">{escape(points[i].label.rsplit(" ", 1)[0])}</text>'
            )
    body.append("</svg>")
    return Chart("".join(body), points, summary)


def _summary(points: Sequence[Point]) -> str:
    if not points:
        return "No soreness scores have been received."
    first, last = points[0], points[-1]
    high = max(points, key=lambda p: p.score)
    return (
        f"{len(points)} score{'s' if len(points) != 1 else ''} from {first.label} to "
        f"{last.label}: first {first.score}, latest {last.score}, highest {high.score} "
        f"(on a scale of {LOW} to {HIGH})."
    )


def _head(chart_id: str, title: str, summary: str, frame: Frame) -> str:
    """The ``<svg>`` opening with its accessible name and description. ``chart_id`` keeps
    the ids apart when a page has several charts."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>'
    )


def _empty(frame: Frame, message: str) -> str:
    return (
        f'<text x="{frame.width / 2:.0f}" y="{frame.height / 2:.0f}" text-anchor="middle" '
        f'class="chart-empty">{escape(message)}</text>'
    )


def _axes(frame: Frame, unit: str = "") -> str:
    """The two axes, and a grid line with its value at each of the frame's ticks."""
    f = frame
    lines = [
        f'<line x1="{f.left}" y1="{f.top}" x2="{f.left}" y2="{f.floor}" class="chart-axis"/>',
        f'<line x1="{f.left}" y1="{f.floor}" x2="{f.width - f.right}" '
        f'y2="{f.floor}" class="chart-axis"/>',
    ]
    for value in f.ticks:
        y = f.y(value)
        lines.append(
            f'<text x="{f.left - 8}" y="{y + 4:.1f}" text-anchor="end" class="chart-tick">'
            f"{_number(value)}{escape(unit)}</text>"
        )
        lines.append(
            f'<line x1="{f.left}" y1="{y:.1f}" x2="{f.width - f.right}" y2="{y:.1f}" '
            'class="chart-grid"/>'
        )
    return "".join(lines)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _x(i: int, n: int) -> float:
    f = SORENESS
    span = f.width - f.left - f.right - 20
    return f.left + 10 + (span * i / (n - 1) if n > 1 else span / 2)


#: the reports' column charts: room for a legend above and an axis label on each side
COLUMNS = Frame(height=280, left=64, right=16, top=40, bottom=56)
NO_DATA = "No data in this period"


@dataclass(frozen=True)
class Series:
    """One set of columns: its name (the legend's), a value per category (None: no data
    there, no column), and the CSS class that colours it."""

    name: str
    values: tuple[float | None, ...]
    css: str


def column_chart(
    *, chart_id: str, title: str, summary: str, categories: Sequence[str],
    series: Sequence[Series], y_label: str, x_label: str, unit: str = "",
    high: float | None = None, stacked: bool = False, has_data: bool | None = None,
) -> str:  # fmt: skip
    """Columns per category, the series side by side (or ``stacked``), on a y axis from 0 to
    ``high`` (by default a round number above the tallest column). Without data (no value
    that is not None, unless ``has_data`` says otherwise) the chart says so instead."""
    n = len(categories)
    given = [v for s in series for v in s.values if v is not None]
    if has_data is None:
        has_data = bool(given)
    tallest = max(
        [sum(s.values[i] or 0 for s in series) for i in range(n)] if stacked else given,
        default=0,
    )
    top = high if high is not None else max(2.0, _round_up(tallest))
    frame = replace(COLUMNS, high=top, ticks=(0, top / 2, top))
    body = [_head(chart_id, title, summary, frame), _axes(frame, unit), _labels(frame, y_label,
            x_label), _legend(frame, series)]  # fmt: skip
    if not has_data or n == 0:
        body.append(_empty(frame, NO_DATA))
    else:
        slot = (frame.width - frame.left - frame.right) / n
        for i, category in enumerate(categories):
            body += _columns(frame, series, i, category, frame.left + i * slot, slot, unit,
                             stacked)  # fmt: skip
        step = max(1, math.ceil(n / 6))
        for i in range(0, n, step):
            body.append(
                f'<text x="{frame.left + (i + 0.5) * slot:.1f}" y="{frame.floor + 16}" '
                f'text-anchor="middle" class="chart-tick">{escape(categories[i])}</text>'
            )
    body.append("</svg>")
    return "".join(body)


def _columns(
    frame: Frame, series: Sequence[Series], i: int, category: str, x: float, slot: float,
    unit: str, stacked: bool,
) -> list[str]:  # fmt: skip
    drawn, base = [], 0.0
    width = slot * (0.7 if stacked else 0.8 / len(series))
    for j, s in enumerate(series):
        value = s.values[i]
        # no data draws nothing; a zero of its own (0 %) is a hairline, so the two differ
        if value is None or (value <= 0 and stacked):
            continue
        left = x + slot * 0.15 if stacked else x + slot * 0.1 + j * width
        y0, y1 = frame.y(base + value if stacked else value), frame.y(base)
        y0 = min(y0, y1 - 1.5)
        drawn.append(
            f'<rect x="{left:.1f}" y="{y0:.1f}" width="{width:.1f}" height="{y1 - y0:.1f}" '
            f'class="chart-bar {escape(s.css)}"><title>{escape(category)}, {escape(s.name)}: '
            f"{_number(value)}{escape(unit)}</title></rect>"
        )
        if stacked:
            base += value
    return drawn


def _labels(frame: Frame, y_label: str, x_label: str) -> str:
    middle = (frame.top + frame.floor) / 2
    return (
        f'<text transform="rotate(-90)" x="{-middle:.1f}" y="16" text-anchor="middle" '
        f'class="chart-label">{escape(y_label)}</text>'
        f'<text x="{(frame.left + frame.width - frame.right) / 2:.1f}" y="{frame.height - 8}" '
        f'text-anchor="middle" class="chart-label">{escape(x_label)}</text>'
    )


def _legend(frame: Frame, series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    parts, x = [], float(frame.left)
    for s in series:
        parts.append(
            f'<rect x="{x:.1f}" y="12" width="12" height="12" class="chart-bar {escape(s.css)}"/>'
            f'<text x="{x + 16:.1f}" y="22" class="chart-tick">{escape(s.name)}</text>'
        )
        x += 28 + 7 * len(s.name)
    return "".join(parts)


def _round_up(value: float) -> float:
    """The round number (1, 2 or 5 times a power of ten) at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)
