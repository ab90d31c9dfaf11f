"""The report's charts, as Mermaid (for Markdown that renders it) and as SVG files (pygal) for the
places that do not: production deployments per day by outcome, the lead-time distribution, and the
error rate with the deploy and rollback commits marked on the same time axis.

Both forms are drawn from the same `Chart` values, so they always show the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

OUTCOMES = ("concluded", "rolled-back", "shelved", "superseded", "active")
# Lead-time buckets follow the DORA bands' bounds (hours), so the chart reads against them.
LEAD_BUCKETS = (("< 1 h", 1.0), ("1 h – 1 d", 24.0), ("1 d – 1 w", 168.0), ("1 w – 1 mo", 720.0),
                ("> 1 mo", float("inf")))


@dataclass(frozen=True)
class Chart:
    """Bars (or a line) over labelled x positions; each series is (name, values, kind)."""

    name: str  # file stem: deployments-per-day
    title: str
    x_labels: tuple[str, ...]
    y_title: str
    series: tuple[tuple[str, tuple[float, ...], str], ...]  # kind: "bar" or "line"
    stacked: bool = False
    markers: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (name, x indexes): deploys, rollbacks
    caption: str = ""


def deployments_per_day(days: Sequence[dt.date], counts: dict[str, list[int]]) -> Chart:
    """counts[outcome][i]: production deployments started on days[i] that ended with outcome."""
    series = tuple((o, tuple(float(v) for v in counts.get(o, [0] * len(days))), "bar") for o in OUTCOMES
                   if any(counts.get(o, ())))
    return Chart("deployments-per-day", "Production deployments per day, by outcome",
                 tuple(d.strftime("%m-%d") for d in days), "deployments", series, stacked=True)


def lead_time_distribution(hours: Sequence[float]) -> Chart:
    counts = [0] * len(LEAD_BUCKETS)
    for value in hours:
        counts[next(i for i, (_, bound) in enumerate(LEAD_BUCKETS) if value < bound)] += 1
    return Chart("lead-time", "Lead time for changes (commit → concluded in production)",
                 tuple(name for name, _ in LEAD_BUCKETS), "deployments",
                 (("deployments", tuple(float(c) for c in counts), "bar"),))


def error_rate(app: str, environment: str, series: Sequence[tuple[float, float]],
               deploys: Sequence[dt.datetime], rollbacks: Sequence[dt.datetime]) -> Chart:
    """The error rate (percent) over time, the deploys and rollbacks marked at their position."""
    times = [t for t, _ in series]
    labels = tuple(dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%m-%d %H:%M") for t in times)

    def index(moment: dt.datetime) -> int:
        stamp = moment.timestamp()
        return min(range(len(times)), key=lambda i: abs(times[i] - stamp))

    marks = tuple((name, tuple(sorted({index(m) for m in moments}))) for name, moments in
                  (("deploys", deploys), ("rollbacks", rollbacks)) if moments and times)
    return Chart(f"error-rate-{app}-{environment}", f"Error rate of {app} in {environment}", labels, "errors %",
                 (("error rate", tuple(100 * v for _, v in series), "line"),), markers=marks,
                 caption="bars mark the deploys (first bar series) and the rollbacks (second)")


def mermaid(chart: Chart) -> str:
    """A Mermaid xychart. Mermaid draws bar series over each other and has no legend, so stacked bars
    are drawn as running totals (the tallest first) and the caption names the series."""
    top = max([sum(v) for v in zip(*(s[1] for s in chart.series), strict=True)] if chart.stacked and chart.series
              else [max(s[1], default=0.0) for s in chart.series] or [0.0])
    top = max(top, 1.0)
    lines = ["```mermaid", "xychart-beta", f"    title {_quote(chart.title)}",
             "    x-axis [" + ", ".join(_quote(x) for x in chart.x_labels) + "]",
             f"    y-axis {_quote(chart.y_title)} 0 --> {_number(top * 1.1 if chart.markers else top)}"]
    if chart.stacked:
        running = [0.0] * len(chart.x_labels)
        totals = []
        for _, values, _kind in chart.series:
            running = [a + b for a, b in zip(running, values, strict=True)]
            totals.append(list(running))
        lines += [f"    bar [{', '.join(_number(v) for v in values)}]" for values in reversed(totals)]
    else:
        lines += [f"    {kind} [{', '.join(_number(v) for v in values)}]" for _, values, kind in chart.series]
    for _, indexes in chart.markers:
        marked = [top * 1.1 if i in indexes else 0.0 for i in range(len(chart.x_labels))]
        lines.append(f"    bar [{', '.join(_number(v) for v in marked)}]")
    lines.append("```")
    names = [name for name, _, _ in chart.series]
    caption = chart.caption or ("bars, back to front: " + ", ".join(reversed(names)) if chart.stacked else "")
    return "\n".join(lines) + (f"\n\n_{caption}_" if caption else "")


def _quote(text: str) -> str:
    """A Mermaid string: it has no escapes, so a double quote inside becomes a single one."""
    return '"' + text.replace('"', "'").replace("\n", " ") + '"'


def _number(value: float) -> str:
    return f"{value:.4g}"


def svg(chart: Chart) -> bytes:
    """The chart as a standalone SVG document (pygal: no JavaScript file is referenced)."""
    import pygal

    common = {"js": [], "width": 900, "height": 420, "x_label_rotation": 30 if len(chart.x_labels) > 8 else 0,
              "title": chart.title, "y_title": chart.y_title, "legend_at_bottom": True,
              "show_minor_x_labels": len(chart.x_labels) <= 16, "truncate_label": -1}
    if chart.markers or any(kind == "line" for _, _, kind in chart.series):
        graph = pygal.Line(allow_interruptions=True, show_dots=False, x_labels_major_every=max(1,
                           len(chart.x_labels) // 12), **common)
        graph.x_labels = list(chart.x_labels)
        for name, values, _kind in chart.series:
            graph.add(name, list(values))
        top = max((v for _, values, _ in chart.series for v in values), default=0.0) or 1.0
        for name, indexes in chart.markers:
            # A vertical line at each marked position: a value at that x only, broken elsewhere.
            graph.add(name, [top if i in indexes else None for i in range(len(chart.x_labels))],
                      stroke=False, show_dots=True, dots_size=6)
    else:
        graph = (pygal.StackedBar if chart.stacked else pygal.Bar)(**common)
        graph.x_labels = list(chart.x_labels)
        for name, values, _kind in chart.series:
            graph.add(name, list(values))
    return bytes(graph.render())
