"""What people read: the step summary (one plain sentence, a canary-versus-baseline table, Mermaid
`xychart-beta` charts of each look's error rate and p95 with the rule's threshold) and the JSON
report."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

from deploy_actions import files
from deploy_actions.verify.canary import evidence, rules
from deploy_actions.verify.canary.decision import AnalysisConfig, Conclusion, Decision, Point, Verdict

Carried = tuple[str, int] | None  # resume-from: the earlier report and how many looks its evidence holds

MAX_CHART_POINTS = 40
_ICONS = {"pass": "✅ pass", "fail": "❌ fail", "watch": "⚠️ watch", "shared": "🌩️ baseline too", "nodata": "❔ no data"}
# Line colours of the charts, in the order the lines are drawn: canary, baseline, threshold.
PALETTE = ("#d62728", "#1f77b4", "#7f7f7f")
LEGEND = "red: canary · blue: baseline · grey: the rule's threshold"


def _value(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if unit == "ratio":
        return f"{value * 100:.3g}%"
    if unit == "seconds":
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g}"


def risk(config: AnalysisConfig, carried: Carried = None) -> str:
    """The family-wise statement of the false-rollback risk, and what it assumes."""
    shares = ", ".join(f"{g.name} {config.alpha_of(g):.2g}" for g in config.guards)
    split = f"split as {shares}, " if len(config.guards) > 1 else ""
    what = "this analysis"
    if carried is not None:
        what = (f"this analysis, together with the stages before it whose evidence it continues ({carried[1]} looks, "
                "resume-from),")
    return (f"The chance that {what} rolls back a canary that is within every guard's tolerance is at most "
            f"{config.alpha:g} in all ({split}however often it looked), provided errors and slowness cluster "
            "within looks rather than across many of them. Custom metrics are plain thresholds, outside that bound.")


def _allowed(v: Verdict) -> str:
    """The largest regression the data still allows, in the rule's words."""
    bound = v.largest_regression
    if bound is None:
        return "—"
    if v.unit == "ratio" and v.rule.startswith("error rate > baseline"):
        return f"+{max(0.0, bound) * 100:.2g} points"
    if v.unit == "ratio":
        return f"{bound * 100:.3g}%"
    if not math.isfinite(bound) or bound >= 10:
        return "more than 10x"
    return f"+{max(0.0, bound - 1) * 100:.3g}%"


def _allowed_words(v: Verdict) -> str:
    if v.unit == "ratio" and v.rule.startswith("error rate > baseline"):
        return f"an error rate {_allowed(v)} above the baseline's"
    if v.unit == "ratio":
        return f"an error rate of {_allowed(v)}"
    return f"a {v.metric} {_allowed(v)} over the baseline's"


def sentence(conclusion: Conclusion, config: AnalysisConfig) -> str:
    """One plain sentence a person can act on (and the risk it carries)."""
    failing = [v for v in conclusion.verdicts if v.verdict == "fail"]
    when = _clock(conclusion.at)
    if conclusion.decision is Decision.ROLLBACK and failing:
        v = failing[0]
        what = "error rate" if v.unit == "ratio" else ("the metric " + v.metric if v.unit == "value" else v.metric)
        chance = ""
        if v.p_value is not None and v.unit != "value":
            chance = (f"; a canary inside that tolerance shows evidence this strong on this guard less than "
                      f"{_one_in(v.p_value)}")
        return (f"Roll back: after {when} the canary's {what} was {_value(v.canary, v.unit)} against the baseline's "
                f"{_value(v.baseline, v.unit)}, breaking the rule \"{v.rule}\"{chance}.")
    if conclusion.decision is Decision.ROLLBACK:
        return f"Roll back: there was no data to judge the canary by after {when}, and on-no-data is rollback."
    if conclusion.decision is Decision.PROMOTE:
        allowed = [_allowed_words(v) for v in conclusion.verdicts if v.largest_regression is not None]
        hidden = (" What could still be hiding (at the guards' alpha): " + "; ".join(allowed) + ".") if allowed else ""
        return (f"Promote: after {when} and at least {config.min_requests} canary requests there is no evidence "
                f"that the canary is worse than the baseline beyond the tolerated amount.{hidden}")
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
    rows = ["| metric | rule | canary | baseline | evidence (e-value) | always-valid p | largest regression the data "
            "allows | verdict |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in verdicts:
        evidence = "—" if v.e_value is None else f"{v.e_value:.3g}"
        p_value = "—" if v.p_value is None else f"{v.p_value:.3g}"
        rows.append(f"| {v.metric} | {v.rule} | {_value(v.canary, v.unit)} | {_value(v.baseline, v.unit)} | "
                    f"{evidence} | {p_value} | {_allowed(v)} | {_ICONS.get(v.verdict, v.verdict)} |")
    return "\n".join(rows) + "\n"


def _thin(points: Sequence[Point]) -> list[Point]:
    if len(points) <= MAX_CHART_POINTS:
        return list(points)
    step = len(points) / MAX_CHART_POINTS
    picked = [points[int(i * step)] for i in range(MAX_CHART_POINTS - 1)]
    return [*picked, points[-1]]


def _gaps(timeline: Sequence[Point]) -> str:
    """The looks without data, as time ranges ("" when none)."""
    ranges: list[list[float]] = []
    previous_missing = False
    for p in timeline:
        missing = p.missing or p.canary_error_rate is None
        if missing and previous_missing:
            ranges[-1][1] = p.t
        elif missing:
            ranges.append([p.t, p.t])
        previous_missing = missing
    return ", ".join(_clock(a) if a == b else f"{_clock(a)}–{_clock(b)}" for a, b in ranges)


def charts(timeline: Sequence[Point], config: AnalysisConfig | None = None) -> str:
    """Mermaid `xychart-beta` charts of each look's own error rate and p95 (not cumulative: a late
    change shows), canary, baseline and the threshold the rule draws from the baseline. Looks
    without data are left out, never drawn as 0, and listed under the chart."""
    guards = (config.guards if config is not None else ())
    increase = next((g.threshold for g in guards if g.kind == "increase"), None)
    absolute = next((g.threshold for g in guards if g.kind == "rate"), None)
    p95 = next((g.threshold for g in guards if g.kind == "latency" and g.quantile == 0.95), None)
    with_data = [p for p in timeline if not p.missing and p.canary_error_rate is not None
                 and p.baseline_error_rate is not None]
    points = _thin(with_data)
    if len(points) < 2:
        return ""
    labels = ", ".join(f'"{_clock(p.t)}"' for p in points)
    gaps = _gaps([p for p in timeline if p.t > 0])
    blocks = []
    specs: list[tuple[str, str, float, list[float | None], list[float | None], Callable[[float], float] | None,
                      str]] = [
        ("Error rate per look (%)", "%", 100.0, [p.canary_error_rate for p in points],
         [p.baseline_error_rate for p in points],
         (lambda b: b + increase) if increase is not None else ((lambda b: absolute) if absolute is not None else None),
         f"baseline + {increase * 100:g} points" if increase is not None else
         (f"{absolute * 100:g}%" if absolute is not None else "")),
        ("p95 latency per look (ms)", "ms", 1000.0, [p.canary_p95 for p in points], [p.baseline_p95 for p in points],
         (lambda b: b * p95) if p95 is not None else None,
         f"baseline + {(p95 - 1) * 100:g}%" if p95 is not None else ""),
    ]
    for title, unit, scale, canary, baseline, threshold, threshold_label in specs:
        keep = [i for i in range(len(points)) if canary[i] is not None and baseline[i] is not None]
        if len(keep) < 2:
            continue
        c = [round(float(canary[i] or 0.0) * scale, 4) for i in keep]
        b = [round(float(baseline[i] or 0.0) * scale, 4) for i in keep]
        lines = [c, b]
        if threshold is not None:
            lines.append([round(threshold(float(baseline[i] or 0.0)) * scale, 4) for i in keep])
        top = max(max(line) for line in lines)
        top = round(top * 1.1, 4) if top > 0 else 1.0
        palette = ", ".join(PALETTE[:len(lines)])
        legend = LEGEND if threshold is not None else LEGEND.rsplit(" · ", 1)[0]
        caption = f"<sub>{legend}" + (f" ({threshold_label})" if threshold_label and threshold else "")
        caption += f"; no data (not drawn): {gaps}</sub>" if gaps else "</sub>"
        x_labels = labels if len(keep) == len(points) else ", ".join(f'"{_clock(points[i].t)}"' for i in keep)
        blocks.append("\n".join([
            "```mermaid",
            f'%%{{init: {{"themeVariables": {{"xyChart": {{"plotColorPalette": "{palette}"}}}}}}}}%%',
            "xychart-beta",
            f'    title "{title}"',
            f"    x-axis [{x_labels}]",
            f'    y-axis "{unit}" 0 --> {top:g}',
            *(f"    line [{', '.join(f'{v:g}' for v in line)}]" for line in lines),
            "```",
            caption,
        ]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def summary(conclusion: Conclusion, config: AnalysisConfig, timeline: Sequence[Point], provider: str,
            carried: Carried = None) -> str:
    icon = {Decision.PROMOTE: "✅", Decision.ROLLBACK: "⏪", Decision.HOLD: "⏸️"}[conclusion.decision]
    parts = [
        f"## canary-monitor: {icon} {conclusion.decision.value}\n",
        sentence(conclusion, config) + "\n",
        table(conclusion.verdicts),
        f"<sub>{risk(config, carried)}</sub>\n",
    ]
    chart = charts(timeline, config)
    if chart:
        parts.append(chart)
    parts.append(f"<sub>{provider}; alpha {config.alpha:g} over {len(config.guards)} guard(s); "
                 f"{len(timeline)} looks; reason: {conclusion.reason}</sub>\n")
    return "\n".join(parts)


def document(conclusion: Conclusion, config: AnalysisConfig, timeline: Sequence[Point], provider: str,
             problems: Sequence[str] = (), guards: Sequence[rules.GuardState] = (),
             carried: Carried = None) -> dict[str, object]:
    """The JSON report: the decision, the verdicts, the configuration, every look, and each guard's
    running evidence (what `resume-from` continues)."""
    return {
        "decision": conclusion.decision.value,
        "reason": conclusion.reason,
        "sentence": sentence(conclusion, config),
        "risk": risk(config, carried),
        "baseline": {"mode": "concurrent", "described": "concurrent: the baseline's series over the same windows as "
                     "the canary's"},
        "resumed_from": None if carried is None else {"report": carried[0], "looks": carried[1]},
        "evidence": evidence.document(guards, config.alpha),
        "at_seconds": conclusion.at,
        "no_data": conclusion.no_data,
        "rule": conclusion.rule,
        "provider": provider,
        "verdicts": [v.as_json() for v in conclusion.verdicts],
        "config": {
            "alpha": config.alpha, "min_requests": config.min_requests,
            "min_duration_seconds": config.min_duration, "duration_seconds": config.duration,
            "failure_counting": config.counting, "on_no_data": config.on_no_data, "max_idle": config.max_idle,
            "guards": [{"name": g.name, "rule": g.label, "threshold": g.threshold, "for_seconds": g.for_seconds,
                        "alpha": config.alpha_of(g)} for g in config.guards],
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
