"""Inline SVG charts drawn on the server: no chart library, no script, nothing from a CDN.

Functions here turn series into coordinates; templates/analytics/_*.html draw them. Every chart
is also given as a table on the page, so the numbers are readable without the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 720
HEIGHT = 220
LEFT = 48  # room for the y-axis labels
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the x-axis labels
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # CSS class suffix
    title: str  # tooltip and accessible text


@dataclass(frozen=True)
class Series:
    name: str
    kind: str
    points: list[tuple[float, float, str]]  # x, y, title
    paths: list[str]  # "x,y x,y ..." runs; a missing value breaks the line


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom_y: float
    right_x: float
    ticks: list[Tick]
    x_labels: list[XLabel]
    bars: list[Bar]
    series: list[Series]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (axis maximum)."""
    if value <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def axis_top(value: float) -> float:
    """An axis maximum whose four gridlines fall on round numbers."""
    return 4 * nice_ceiling(value / 4)


def _frame(days: Sequence[date], top: float, unit: str) -> tuple[list[Tick], list[XLabel], float]:
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(days), 1)
    ticks = [
        Tick(_y(top * i / 4, top), _number(top * i / 4) + unit) for i in range(5)
    ]  # 0, 1/4, ... top
    every = max(1, math.ceil(len(days) / MAX_X_LABELS))
    labels = [
        XLabel(round(LEFT + slot * (i + 0.5), 1), f"{day:%b} {day.day}")
        for i, day in enumerate(days)
        if i % every == 0
    ]
    return ticks, labels, slot


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return round(HEIGHT - BOTTOM - plot_h * (value / top), 1)


def _number(value: float) -> str:
    if value >= 10 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def stacked_bars(days: Sequence[date], stacks: Sequence[tuple[str, str, Sequence[int]]]) -> Chart:
    """One bar per day, stacks bottom up: (name, kind, values per day)."""
    totals = [sum(values[i] for _n, _k, values in stacks) for i in range(len(days))]
    top = axis_top(max(totals, default=0))
    ticks, labels, slot = _frame(days, top, "")
    width = round(max(slot * 0.7, 1.0), 1)
    bars = []
    for i, day in enumerate(days):
        base = 0.0
        x = round(LEFT + slot * i + (slot - width) / 2, 1)
        for name, kind, values in stacks:
            value = values[i]
            if value:
                y_top, y_base = _y(base + value, top), _y(base, top)
                bars.append(
                    Bar(
                        x,
                        y_top,
                        width,
                        round(y_base - y_top, 1),
                        kind,
                        f"{day:%b} {day.day}: {value} {name}",
                    )
                )
            base += value
    return Chart(WIDTH, HEIGHT, LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, ticks, labels, bars, [])


def lines(
    days: Sequence[date], series: Sequence[tuple[str, str, Sequence[float | None]]], unit: str
) -> Chart:
    """One line per series over the days; a day without a value leaves a gap."""
    values = [v for _n, _k, vs in series for v in vs if v is not None]
    top = axis_top(max(values, default=0))
    ticks, labels, slot = _frame(days, top, unit)
    drawn = []
    for name, kind, per_day in series:
        points: list[tuple[float, float, str]] = []
        runs: list[list[str]] = [[]]
        for i, (day, value) in enumerate(zip(days, per_day, strict=True)):
            if value is None:
                runs.append([])
                continue
            x, y = round(LEFT + slot * (i + 0.5), 1), _y(value, top)
            points.append((x, y, f"{day:%b} {day.day}: {name} {_number(value)}{unit}"))
            runs[-1].append(f"{x},{y}")
        drawn.append(Series(name, kind, points, [" ".join(run) for run in runs if run]))
    return Chart(WIDTH, HEIGHT, LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, ticks, labels, [], drawn)
