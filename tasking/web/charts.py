"""Server-rendered SVG charts: pure functions that turn a series into drawing geometry.

Templates draw the geometry with SVG elements and classes from tasking.css (the
Content-Security-Policy allows no inline style). Nothing here touches Flask or
the database, so the arithmetic is unit-tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 640
HEIGHT = 220
# Plot area margins: room for the y labels on the left and the dates below.
LEFT, RIGHT, TOP, BOTTOM = 48, 72, 12, 28


@dataclass(frozen=True, slots=True)
class Point:
    """One plotted value: where it is drawn and what it says."""

    x: float
    y: float
    label: str
    css: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """A horizontal guide (a band threshold or a tick) at height y."""

    y: float
    label: str
    css: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """A label along the time axis."""

    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything a template needs to draw one line chart."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    points: tuple[Point, ...]
    path: str  # the polyline's `points` attribute
    guides: tuple[Line, ...]  # thresholds, labelled at the right
    y_ticks: tuple[Line, ...]  # scale, labelled at the left
    x_ticks: tuple[Tick, ...]

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return not self.points


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `value` (>= 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def time_chart(
    series: Sequence[tuple[datetime, float, str]],
    *,
    guides: Sequence[tuple[float, str, str]] = (),
    invert: bool = False,
    y_floor: float = 0.0,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """Geometry of values over time.

    `series` is (moment, value, css class) in any order; `guides` are
    horizontal lines (value, label, css class) such as band thresholds, always
    inside the scale. `invert` puts small values at the top (ranks: 1 is best).
    """
    ordered = sorted(series, key=lambda item: item[0])
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    values = [value for _, value, _ in ordered] + [value for value, _, _ in guides]
    y_max = nice_ceiling(max(values, default=1.0) * (1.0 if invert else 1.1))
    y_min = y_floor

    def y_of(value: float) -> float:
        share = (value - y_min) / (y_max - y_min) if y_max > y_min else 0.0
        share = min(1.0, max(0.0, share))
        return round(top + share * (bottom - top) if invert else bottom - share * (bottom - top), 2)

    if ordered:
        start, end = ordered[0][0], ordered[-1][0]
        span = (end - start).total_seconds()
    else:
        start = end = datetime.min
        span = 0.0

    def x_of(moment: datetime) -> float:
        if span <= 0:
            return round((left + right) / 2, 2)
        return round(left + (moment - start).total_seconds() / span * (right - left), 2)

    points = tuple(
        Point(x_of(moment), y_of(value), f"{_day(moment)}: {value:.1f}", css)
        for moment, value, css in ordered
    )
    steps = 1 if invert else 4  # ranks: just the best (1) and the scale's end
    ticks = tuple(
        Line(y_of(y_min + (y_max - y_min) * i / steps), f"{y_min + (y_max - y_min) * i / steps:g}")
        for i in range(steps + 1)
    )
    x_ticks: tuple[Tick, ...] = ()
    if ordered:
        x_ticks = (Tick(x_of(start), _day(start)),)
        if span > 0:
            x_ticks += (Tick(x_of(end), _day(end)),)
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=points,
        path=" ".join(f"{p.x},{p.y}" for p in points),
        guides=tuple(Line(y_of(value), label, css) for value, label, css in guides),
        y_ticks=ticks,
        x_ticks=x_ticks,
    )
