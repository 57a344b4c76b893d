"""The JSS history as an SVG line chart, laid out in Python and drawn by a template (no JavaScript).

Pure: snapshots in (date, score or None), coordinates out. A snapshot without a score breaks the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 34
TOP_RATED_LINE = 90


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    as_of: date
    score: int
    window: str | None


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    segments: tuple[str, ...]  # SVG polyline "x,y x,y" strings, one per unbroken run of scores
    points: tuple[Point, ...]
    gaps: tuple[tuple[float, date], ...]  # x of each snapshot without a score
    y_ticks: tuple[tuple[float, int], ...]
    x_labels: tuple[tuple[float, str], ...]
    threshold_y: float
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int


def _y(score: float) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - score / 100), 1)


def build_chart(history: Sequence[tuple[date, int | None, str | None]]) -> Chart | None:
    """``history``: (as_of, score, window), oldest first. None when there is nothing to draw."""
    if not history:
        return None
    first, last = history[0][0], history[-1][0]
    span = max((last - first).days, 1)
    plot_width = WIDTH - LEFT - RIGHT

    def x_of(day: date) -> float:
        if first == last:
            return round(LEFT + plot_width / 2, 1)
        return round(LEFT + plot_width * (day - first).days / span, 1)

    segments, run, points, gaps = [], [], [], []
    for as_of, score, window in history:
        x = x_of(as_of)
        if score is None:
            gaps.append((x, as_of))
            if run:
                segments.append(" ".join(run))
                run = []
            continue
        y = _y(score)
        run.append(f"{x},{y}")
        points.append(Point(x, y, as_of, score, window))
    if run:
        segments.append(" ".join(run))

    labels = [(x_of(first), first.strftime("%-d %b %Y"))]
    if last != first:
        labels.append((x_of(last), last.strftime("%-d %b %Y")))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        segments=tuple(segments),
        points=tuple(points),
        gaps=tuple(gaps),
        y_ticks=tuple((_y(value), value) for value in (0, 25, 50, 75, 100)),
        x_labels=tuple(labels),
        threshold_y=_y(TOP_RATED_LINE),
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
    )
