"""What people read: the step summary (a canary-versus-baseline table, Mermaid `xychart-beta`
charts of error rate and p95 over time, one plain sentence) and the JSON report."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from deploy_actions import files
from deploy_actions.verify.canary.decision import AnalysisConfig, Conclusion, Decision, Point, Verdict

MAX_CHART_POINTS = 40
_ICONS = {"pass": "✅ pass", "fail": "❌ fail", "watch": "⚠️ watch", "tolerated": "➖ tolerated", "nodata": "❔ no data"}


def _value(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if unit == "ratio":
        return f"{value * 100:.3g}%"
    if unit == "seconds":
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g}"


def sentence(conclusion: Conclusion, config: AnalysisConfig) -> str:
    """One plain sentence a person can act on."""
    failing = [v for v in conclusion.verdicts if v.verdict == "fail"]
    when = _clock(conclusion.at)
    if conclusion.decision is Decision.ROLLBACK and failing:
        v = failing[0]
        what = "error rate" if v.unit == "ratio" else ("the metric " + v.metric if v.unit == "value" else v.metric)
        chance = ""
        if v.p_value is not None and v.unit != "value":
            chance = (f"; a canary as good as the baseline shows evidence this strong less than "
                      f"{_one_in(v.p_value)}")
        return (f"Roll back: after {when} the canary's {what} was {_value(v.canary, v.unit)} against the baseline's "
                f"{_value(v.baseline, v.unit)}, breaking the rule \"{v.rule}\"{chance}.")
    if conclusion.decision is Decision.ROLLBACK:
        return f"Roll back: there was no data to judge the canary by after {when}, and on-no-data is rollback."
    if conclusion.decision is Decision.PROMOTE:
        return (f"Promote: after {when} and at least {config.min_requests} canary requests there is no evidence "
                f"that the canary is worse than the baseline by the tolerated amount (false-rollback risk held at "
                f"{config.alpha:g}).")
    if conclusion.no_data:
        verb = "Fail" if conclusion.failed else "Hold"
        return (f"{verb}: there was no data to judge the canary by after {when}, so it is neither promoted nor "
                "rolled back.")
    return f"Hold: after {when} the data was not enough to promote or roll back with confidence ({conclusion.reason})."


def _one_in(p: float) -> str:
    if p < 1e-6:
        return "1 time in a million"
    return f"1 time in {max(1, round(1 / p)):,}"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def table(verdicts: Sequence[Verdict]) -> str:
    rows = ["| metric | rule | canary | baseline | evidence (e-value) | always-valid p | verdict |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for v in verdicts:
        evidence = "—" if v.e_value is None else f"{v.e_value:.3g}"
        p_value = "—" if v.p_value is None else f"{v.p_value:.3g}"
        rows.append(f"| {v.metric} | {v.rule} | {_value(v.canary, v.unit)} | {_value(v.baseline, v.unit)} | "
                    f"{evidence} | {p_value} | {_ICONS.get(v.verdict, v.verdict)} |")
    return "\n".join(rows) + "\n"


def _thin(points: Sequence[Point]) -> list[Point]:
    if len(points) <= MAX_CHART_POINTS:
        return list(points)
    step = len(points) / MAX_CHART_POINTS
    picked = [points[int(i * step)] for i in range(MAX_CHART_POINTS - 1)]
    return [*picked, points[-1]]


def _series(values: Sequence[float | None], scale: float) -> list[float]:
    out: list[float] = []
    last = 0.0
    for value in values:
        if value is not None and math.isfinite(value):
            last = round(value * scale, 4)
        out.append(last)  # xychart-beta has no gaps: carry the last value
    return out


def charts(timeline: Sequence[Point]) -> str:
    """Mermaid `xychart-beta` charts of the cumulative error rate and p95, canary then baseline."""
    points = [p for p in _thin(timeline) if p.canary_requests > 0 or p.baseline_requests > 0]
    if len(points) < 2:
        return ""
    labels = ", ".join(f'"{_clock(p.t)}"' for p in points)
    blocks = []
    for title, unit, scale, canary, baseline in (
        ("Error rate (%)", "%", 100.0, [p.canary_error_rate for p in points], [p.baseline_error_rate for p in points]),
        ("p95 latency (ms)", "ms", 1000.0, [p.canary_p95 for p in points], [p.baseline_p95 for p in points]),
    ):
        c, b = _series(canary, scale), _series(baseline, scale)
        if not any(c) and not any(b) and unit == "ms":
            continue
        top = max([*c, *b, 0.0])
        top = round(top * 1.1, 4) if top > 0 else 1.0
        blocks.append("\n".join([
            "```mermaid",
            "xychart-beta",
            f'    title "{title}: canary (first line) vs baseline, since the start"',
            f"    x-axis [{labels}]",
            f'    y-axis "{unit}" 0 --> {top:g}',
            f"    line [{', '.join(f'{v:g}' for v in c)}]",
            f"    line [{', '.join(f'{v:g}' for v in b)}]",
            "```",
        ]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def summary(conclusion: Conclusion, config: AnalysisConfig, timeline: Sequence[Point], provider: str) -> str:
    icon = {Decision.PROMOTE: "✅", Decision.ROLLBACK: "⏪", Decision.HOLD: "⏸️"}[conclusion.decision]
    parts = [
        f"## canary-monitor: {icon} {conclusion.decision.value}\n",
        sentence(conclusion, config) + "\n",
        table(conclusion.verdicts),
    ]
    chart = charts(timeline)
    if chart:
        parts.append(chart)
    parts.append(f"<sub>{provider}; alpha {config.alpha:g} split over {len(config.guards)} guard(s); "
                 f"{len(timeline)} looks; reason: {conclusion.reason}</sub>\n")
    return "\n".join(parts)


def document(conclusion: Conclusion, config: AnalysisConfig, timeline: Sequence[Point], provider: str,
             problems: Sequence[str] = ()) -> dict[str, object]:
    """The JSON report: the decision, the verdicts, the configuration and every look."""
    return {
        "decision": conclusion.decision.value,
        "reason": conclusion.reason,
        "sentence": sentence(conclusion, config),
        "at_seconds": conclusion.at,
        "no_data": conclusion.no_data,
        "rule": conclusion.rule,
        "provider": provider,
        "verdicts": [v.as_json() for v in conclusion.verdicts],
        "config": {
            "alpha": config.alpha, "guard_alpha": config.guard_alpha, "min_requests": config.min_requests,
            "min_duration_seconds": config.min_duration, "duration_seconds": config.duration,
            "failure_counting": config.counting, "on_no_data": config.on_no_data,
            "guards": [{"name": g.name, "rule": g.label, "threshold": g.threshold, "for_seconds": g.for_seconds}
                       for g in config.guards],
            "metrics": [{"name": m.name, "query": m.query, "max": m.max, "min": m.min, "for_seconds": m.for_seconds}
                        for m in config.custom],
        },
        "problems": list(problems),
        "timeline": [
            {"t": p.t, "canary_requests": p.canary_requests, "baseline_requests": p.baseline_requests,
             "canary_error_rate": p.canary_error_rate, "baseline_error_rate": p.baseline_error_rate,
             "canary_p95_seconds": p.canary_p95, "baseline_p95_seconds": p.baseline_p95, "missing": p.missing}
            for p in timeline
        ],
    }


def write(path: str, doc: dict[str, object]) -> str:
    """Write the JSON report atomically; returns the path written."""
    text = json.dumps(doc, indent=2, allow_nan=False, default=_jsonable) + "\n"
    files.write_report(path, text.encode("utf-8"), "report")
    return path


def _jsonable(value: object) -> object:
    return str(value)
