"""Charts drawn on the server as inline SVG: the geometry (paths, ticks, marked points), written out as SVG
markup by `Chart.svg` (a chart has hundreds of points: a template loop over them would cost more than the
rest of the page) and, for the key-event timeline, by network/includes/call_timeline.html. No script, no
style attribute (the page's Content-Security-Policy allows neither): colours come from classes of
network/static/network/calls.css.

Lines are drawn point to point; a gap longer than `gap` seconds breaks the line (a user who left and came
back, a pull that lost samples), and a series with more points than the plot has pixels keeps the lowest and
highest point of each pixel column, so that no spike disappears. Points above a metric's threshold are marked
(Agora's red points) and carry the value as a tooltip.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 26
PALETTE = 10  # series-0 .. series-9 in calls.css
MAX_MARKS = 240  # marked points per chart; beyond that the runs still show as red stretches of the line
TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)

Point = tuple[float, float]  # (unix seconds, value)


@dataclass
class Line:
    label: str
    css: str  # series-N
    path: str  # the SVG path's d
    last: str  # the last value, for the legend


@dataclass
class Mark:
    x: float
    y: float
    title: str


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    bad: bool = False


@dataclass
class Dot:
    x: float
    y: float
    css: str
    title: str


@dataclass
class Chart:
    title: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)  # every point of a sparse series (few points: lines too short)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    threshold: tuple[float, str] | None = None  # (y, label)
    note: str = ""
    bad_count: int = 0

    @property
    def empty(self) -> bool:
        return not self.lines and not self.bars

    @property
    def plot(self) -> dict:
        return {"left": LEFT, "top": TOP, "right": self.width - RIGHT, "bottom": self.height - BOTTOM}

    @property
    def y_label_x(self) -> int:
        return LEFT - 6

    @property
    def x_label_y(self) -> int:
        return self.height - 8

    @property
    def tick_end(self) -> int:
        return self.height - BOTTOM + 4

    @property
    def threshold_label_y(self) -> float:
        """Just above the threshold line, or below it when the line is at the top of the plot."""
        y = self.threshold[0] if self.threshold else TOP
        return round(y - 3 if y > TOP + 10 else y + 11, 1)

    def svg(self) -> SafeString:
        """The chart's <svg> element (every text in it escaped)."""
        left, right, bottom = LEFT, self.width - RIGHT, self.height - BOTTOM
        above = f": {self.bad_count} points above {self.threshold[1]}" if self.bad_count and self.threshold else ""
        label = escape(self.title + above)
        parts = [f'<svg class="chart-svg" viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{label}">']
        for y, text in self.y_ticks:
            parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"/>')
            parts.append(
                f'<text class="tick" x="{self.y_label_x}" y="{y}" text-anchor="end" dominant-baseline="middle">'
                f"{escape(text)}</text>"
            )
        parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
        for x, text in self.x_ticks:
            parts.append(f'<line class="axis" x1="{x}" x2="{x}" y1="{bottom}" y2="{self.tick_end}"/>')
            parts.append(f'<text class="tick" x="{x}" y="{self.x_label_y}" text-anchor="middle">{escape(text)}</text>')
        for bar in self.bars:
            parts.append(
                f'<rect class="bar{" bad" if bar.bad else ""}" x="{bar.x}" y="{bar.y}" width="{bar.width}" '
                f'height="{bar.height}"><title>{escape(bar.title)}</title></rect>'
            )
        if self.threshold:
            y, text = self.threshold
            parts.append(
                f'<line class="threshold" x1="{left}" x2="{right}" y1="{y}" y2="{y}"><title>Threshold: above '
                f'{escape(text)} is bad</title></line><text class="threshold-label" x="{right}" '
                f'y="{self.threshold_label_y}" text-anchor="end">{escape(text)}</text>'
            )
        for line in self.lines:
            parts.append(
                f'<path class="line {line.css}" d="{line.path}"><title>{escape(line.label)} (last: '
                f"{escape(line.last)})</title></path>"
            )
        for dot in self.dots:
            parts.append(
                f'<circle class="{dot.css}" cx="{dot.x}" cy="{dot.y}" r="2.6"><title>{escape(dot.title)}</title>'
                "</circle>"
            )
        for mark in self.marks:
            parts.append(
                f'<circle class="bad-point" cx="{mark.x}" cy="{mark.y}" r="2.8"><title>{escape(mark.title)}</title>'
                "</circle>"
            )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308  (built here from numbers and escaped text)

    @property
    def plot_width(self) -> int:
        return self.width - LEFT - RIGHT

    @property
    def plot_height(self) -> int:
        return self.height - TOP - BOTTOM


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * 1.0000001:
            return step * power
    return 10 * power


def _whole_ceiling(value: float) -> float:
    """For counts: a multiple of 4 at or above `value` (at least 4), so that the five ticks are whole numbers."""
    return float(max(4, math.ceil(value / 4) * 4)) if value <= 40 else _nice_ceiling(value)


def _number(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _moment(seconds: float, with_day: bool) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%m-%d %H:%M}" if with_day else f"{moment:%H:%M}"


def time_ticks(start: float, end: float, plot_width: float, *, daily: bool = False) -> list[tuple[float, str]]:
    """About five ticks at round times (UTC) between start and end, as (x within the plot, label)."""
    span = max(end - start, 1)
    step = next((step for step in TIME_STEPS if span / step <= 6), TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    ticks: list[tuple[float, str]] = []
    moment = first
    while moment <= end and len(ticks) < 12:
        label = f"{datetime.fromtimestamp(moment, UTC):%m-%d}" if daily or step >= 86400 else _moment(moment, False)
        ticks.append((round((moment - start) / span * plot_width, 1), label))
        moment += step
    return ticks


class Scale:
    """Values and times to SVG coordinates inside the plot."""

    def __init__(self, chart: Chart, start: float, end: float, top_value: float):
        self.chart, self.start, self.span = chart, start, max(end - start, 1)
        self.top_value = top_value

    def x(self, moment: float) -> float:
        return round(LEFT + (moment - self.start) / self.span * self.chart.plot_width, 1)

    def y(self, value: float) -> float:
        share = min(max(value / self.top_value, 0), 1)
        return round(TOP + (1 - share) * self.chart.plot_height, 1)


def _thinned(points: Sequence[Point], start: float, span: float, columns: int) -> list[Point]:
    """At most two points (the lowest and highest, in time order) per pixel column."""
    if len(points) <= 2 * columns:
        return list(points)
    kept: list[Point] = []
    column_points: list[Point] = []
    column = None
    for point in points:
        here = int((point[0] - start) / span * columns)
        if here != column and column_points:
            kept += _extremes(column_points)
            column_points = []
        column = here
        column_points.append(point)
    kept += _extremes(column_points)
    return kept


def _extremes(points: list[Point]) -> list[Point]:
    low, high = min(points, key=lambda p: p[1]), max(points, key=lambda p: p[1])
    return [low] if low is high else sorted((low, high))


def line_chart(
    title: str,
    unit: str,
    series: Sequence[tuple[str, Sequence[Point]]],
    start: float,
    end: float,
    *,
    bad_above: float | None = None,
    gap: float | None = None,
    who: str = "",
    sparse: int = 0,
) -> Chart:
    """One line per (label, points) between start and end (unix seconds); points above `bad_above` marked. A
    series of at most `sparse` points also gets a dot on each point (hourly figures, say, where lines between
    distant points would be short or missing)."""
    chart = Chart(title, unit)
    values = [value for _, points in series for _, value in points]
    highest = max(values, default=0)
    if bad_above is not None:
        highest = max(highest, bad_above * 1.25)
    top_value = _nice_ceiling(highest)
    scale = Scale(chart, start, end, top_value)
    chart.y_ticks = [(scale.y(top_value * share), _number(top_value * share)) for share in (0, 0.25, 0.5, 0.75, 1)]
    chart.x_ticks = [(LEFT + x, label) for x, label in time_ticks(start, end, chart.plot_width)]
    if bad_above is not None:
        chart.threshold = (scale.y(bad_above), f"{_number(bad_above)} {unit}")
    for index, (label, points) in enumerate(series):
        if not points:
            continue
        drawn = _thinned(points, start, scale.span, chart.plot_width // 2)  # lines are drawn to the pixel
        chart.lines.append(
            Line(label, f"series-{index % PALETTE}", _path(drawn, scale, gap), f"{_number(points[-1][1])} {unit}")
        )
        if len(points) <= sparse:
            for moment, value in points:
                if bad_above is None or value <= bad_above:
                    title = f"{_moment(moment, True)} UTC · {label}: {_number(value)} {unit}"
                    chart.dots.append(Dot(scale.x(moment), scale.y(value), f"point {chart.lines[-1].css}", title))
        if bad_above is None:
            continue
        for moment, value in points:
            if value <= bad_above:
                continue
            chart.bad_count += 1
            if len(chart.marks) < MAX_MARKS:  # noqa: SIM102
                text = f"{_moment(moment, True)}:{datetime.fromtimestamp(moment, UTC):%S} UTC · {who}{label}: "
                chart.marks.append(Mark(scale.x(moment), scale.y(value), f"{text}{_number(value)} {unit}"))
    return chart


def _path(points: Sequence[Point], scale: Scale, gap: float | None) -> str:
    """The SVG path through the points, to the pixel: "M x y x y ..." (a moveto's further pairs are linetos), a
    new "M" after a gap (scale.x and scale.y inlined: this runs for every point drawn)."""
    start, x_factor = scale.start, scale.chart.plot_width / scale.span
    top_value, bottom, y_factor = (
        scale.top_value,
        TOP + scale.chart.plot_height,
        scale.chart.plot_height / scale.top_value,
    )
    gap = gap if gap is not None else math.inf
    runs, run = [], []
    previous = None
    for moment, value in points:
        if previous is not None and moment - previous > gap:
            runs.append(run)
            run = []
        clipped = 0 if value < 0 else top_value if value > top_value else value
        run.append(f"{int(LEFT + (moment - start) * x_factor + 0.5)} {int(bottom - clipped * y_factor + 0.5)}")
        previous = moment
    runs.append(run)
    for lone in (run for run in runs if len(run) == 1):  # a lone point: a short tick so that it shows
        x, y = lone[0].split()
        lone.append(f"{int(x) + 2} {y}")
    return " ".join("M" + " ".join(run) for run in runs if run)


def bar_chart(
    title: str,
    unit: str,
    buckets: Sequence[tuple[float, float]],
    start: float,
    end: float,
    bucket_seconds: float,
    *,
    daily: bool = False,
    bad_above: float | None = None,
    whole: bool = False,
) -> Chart:
    """One bar per (bucket start, value); bars above `bad_above` marked; `whole`: counts (whole-number ticks)."""
    chart = Chart(title, unit)
    highest = max([value for _, value in buckets] + [bad_above * 1.25 if bad_above else 0])
    top_value = _whole_ceiling(highest) if whole else _nice_ceiling(highest)
    scale = Scale(chart, start, end, top_value)
    chart.y_ticks = [(scale.y(top_value * share), _number(top_value * share)) for share in (0, 0.25, 0.5, 0.75, 1)]
    chart.x_ticks = [(LEFT + x, label) for x, label in time_ticks(start, end, chart.plot_width, daily=daily)]
    if bad_above is not None:
        chart.threshold = (scale.y(bad_above), f"{_number(bad_above)} {unit}")
    width = max(bucket_seconds / scale.span * chart.plot_width - 1.5, 1)
    for moment, value in buckets:
        if value <= 0:
            continue
        y = scale.y(value)
        bad = bad_above is not None and value > bad_above
        chart.bad_count += bad
        when = _moment(moment, True) if not daily else f"{datetime.fromtimestamp(moment, UTC):%Y-%m-%d}"
        chart.bars.append(
            Bar(
                scale.x(moment) + 0.75,
                y,
                round(width, 1),
                round(TOP + chart.plot_height - y, 1),
                f"{when} UTC: {_number(value)} {unit}".rstrip(),
                bad,
            )
        )
    return chart


# The key-event timeline -------------------------------------------------------------------------------

LANE = 24
TIMELINE_LEFT = 96


@dataclass
class Timeline:
    width: int
    height: int
    lanes: list[tuple[float, str]]  # (y, label)
    dots: list[Dot]
    x_ticks: list[tuple[float, str]]

    @property
    def right(self) -> int:
        return self.width - RIGHT

    @property
    def axis_y(self) -> int:
        return self.height - BOTTOM + 4


def timeline(lanes: Sequence[str], events: Sequence[tuple[float, int, str, str]], start: float, end: float) -> Timeline:
    """Events (unix seconds, lane index, css class, tooltip) on one lane per user, between start and end."""
    width = 1000
    plot = width - TIMELINE_LEFT - RIGHT
    height = TOP + LANE * max(len(lanes), 1) + BOTTOM
    span = max(end - start, 1)
    dots = [
        Dot(
            round(TIMELINE_LEFT + min(max((moment - start) / span, 0), 1) * plot, 1),
            TOP + LANE * lane + LANE / 2,
            css,
            title,
        )
        for moment, lane, css, title in events
        if start - 1 <= moment <= end + 1
    ]
    ticks = [(TIMELINE_LEFT + x, label) for x, label in time_ticks(start, end, plot)]
    return Timeline(width, height, [(TOP + LANE * n + LANE / 2, label) for n, label in enumerate(lanes)], dots, ticks)
