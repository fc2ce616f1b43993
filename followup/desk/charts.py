"""Charts drawn on the server as SVG: plain values in, an SVG string out. No JavaScript and
no chart library, so a page shows its chart on any phone, and a screen reader gets the
chart's ``<title>``, its ``<desc>`` and the table of the same values beside it.

Pure: every value written into the SVG is escaped here, whatever the caller passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

#: the soreness scale the check-ins ask for
LOW, HIGH = 0, 10
WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 16, 16, 36


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
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-title chart-desc" class="chart">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(summary)}</desc>'
    )
    body = [head, _axes()]
    if not points:
        body.append(
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
            'class="chart-empty">No scores yet</text>'
        )
    else:
        xy = [(_x(i, len(points)), _y(p.score)) for i, p in enumerate(points)]
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


def _axes() -> str:
    lines = [
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{HEIGHT - _BOTTOM}" class="chart-axis"/>',
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _RIGHT}" '
        f'y2="{HEIGHT - _BOTTOM}" class="chart-axis"/>',
    ]
    for value in (0, 5, 10):
        y = _y(value)
        lines.append(
            f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" class="chart-tick">'
            f"{value}</text>"
        )
        lines.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" '
            'class="chart-grid"/>'
        )
    return "".join(lines)


def _x(i: int, n: int) -> float:
    span = WIDTH - _LEFT - _RIGHT - 20
    return _LEFT + 10 + (span * i / (n - 1) if n > 1 else span / 2)


def _y(score: int) -> float:
    span = HEIGHT - _TOP - _BOTTOM
    return HEIGHT - _BOTTOM - span * (score - LOW) / (HIGH - LOW)
