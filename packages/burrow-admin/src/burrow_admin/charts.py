"""The throughput chart: completed and dead jobs per minute over the last hour, laid out
here as plain numbers so the template can draw it as inline SVG (no script, no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from burrow_tasks.jobs import FinishedMinute

__all__ = ["MINUTES", "Bar", "Chart", "build_chart", "chart_window", "nice_ceiling"]

MINUTES = 60
WIDTH = 1100
HEIGHT = 220
LEFT = 36
RIGHT = 24
TOP = 12
BOTTOM = 24
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
SLOT = PLOT_WIDTH / MINUTES
GAP = 2.0


@dataclass(frozen=True, slots=True)
class Bar:
    """One minute: a completed segment at the bottom and a dead segment stacked on it."""

    minute: datetime
    completed: int
    dead: int
    x: float
    width: float
    completed_y: float
    completed_height: float
    dead_y: float
    dead_height: float


@dataclass(frozen=True, slots=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True, slots=True)
class TimeLabel:
    minute: datetime
    x: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    ticks: list[Tick]
    time_labels: list[TimeLabel]
    total_completed: int
    total_dead: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = PLOT_WIDTH
    plot_height: int = PLOT_HEIGHT

    @property
    def baseline(self) -> int:
        return TOP + PLOT_HEIGHT

    @property
    def empty(self) -> bool:
        return self.total_completed == 0 and self.total_dead == 0


def chart_window(now: datetime) -> tuple[datetime, datetime]:
    """The first and last minute shown: the current minute and the 59 before it."""
    last = now.replace(second=0, microsecond=0)
    return last - timedelta(minutes=MINUTES - 1), last


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value`` (a readable axis)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def build_chart(finished: list[FinishedMinute], now: datetime) -> Chart:
    first, _ = chart_window(now)
    by_minute = {f.minute: f for f in finished}
    slots = [first + timedelta(minutes=i) for i in range(MINUTES)]
    counts = [
        (by_minute[m].completed, by_minute[m].dead) if m in by_minute else (0, 0) for m in slots
    ]
    top_value = nice_ceiling(max((c + d for c, d in counts), default=0) or 1)
    scale = PLOT_HEIGHT / top_value
    baseline = TOP + PLOT_HEIGHT
    bars: list[Bar] = []
    for index, (minute, (completed, dead)) in enumerate(zip(slots, counts, strict=True)):
        completed_height = completed * scale
        dead_height = dead * scale
        bars.append(
            Bar(
                minute=minute,
                completed=completed,
                dead=dead,
                x=round(LEFT + index * SLOT + GAP / 2, 2),
                width=round(SLOT - GAP, 2),
                completed_y=round(baseline - completed_height, 2),
                completed_height=round(completed_height, 2),
                dead_y=round(baseline - completed_height - dead_height, 2),
                dead_height=round(dead_height, 2),
            )
        )
    ticks = [
        Tick(value=v, y=round(baseline - v * scale, 2)) for v in (0, top_value // 2, top_value)
    ]
    if top_value == 1:
        ticks = [Tick(0, float(baseline)), Tick(1, float(TOP))]
    labels = [
        TimeLabel(minute=slots[i], x=round(LEFT + i * SLOT + SLOT / 2, 2))
        for i in (0, 15, 30, 45, 59)
    ]
    return Chart(
        bars=bars,
        ticks=ticks,
        time_labels=labels,
        total_completed=sum(c for c, _ in counts),
        total_dead=sum(d for _, d in counts),
    )
