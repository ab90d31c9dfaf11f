"""watch: the monitoring window after a rolling deploy, with no canary to compare against.

The runbooks' automated rollback triggers, as they write them, against the same service before
the deploy: the error rate above 5 % for 2 minutes, p99 latency above 5 times the baseline's for
5 minutes, and health checks failing on more than half the instances (`up` below 0.5). The
baseline is the service's own p99 over `baseline-window` before the deploy commit
(`before-deploy`), over the same window of time one week earlier for diurnal traffic
(`last-week`, read at each look), or the larger of both (`both`: a breach must beat each). These
are absolute guards, no statistics: a breach is a breach once it has lasted its `for` time, in
consecutive looks. No data is never a pass: a window without data ends in hold.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy_actions import actions_runtime
from deploy_actions.errors import EXIT_CHECK_FAILED, InputError
from deploy_actions.outcome import Outcome
from deploy_actions.records import journal
from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.providers import prometheus

WEEK = 7 * 24 * 3600.0
BASELINES = ("before-deploy", "last-week", "both")


@dataclass(frozen=True)
class WatchOptions:
    prometheus_url: str = ""
    prometheus_token: str = ""
    prometheus_username: str = ""
    prometheus_password: str = ""
    selector: str = ""
    baseline_selector: str = ""
    baseline: str = "before-deploy"
    deployed_at: str = ""
    baseline_window: float | None = 1800.0
    duration: float | None = 1800.0
    interval: float | None = 30.0
    rate_window: float | None = 60.0
    request_metric: str = "http_requests_total"
    status_label: str = "code"
    error_status: str = "5.."
    latency_metric: str = "http_request_duration_seconds"
    max_error_rate: str = "5% for 2m"
    max_p99_ratio: str = "5x for 5m"
    max_unhealthy: str = "50"
    fail_on_rollback: bool = False
    report: str = ""


@dataclass
class _Guard:
    name: str
    rule: str
    threshold: float
    for_seconds: float
    breached: float = 0.0  # consecutive seconds in breach
    now: float | None = None
    baseline: float | None = None
    verdict: str = "nodata"

    def as_json(self) -> dict[str, object]:
        return {"metric": self.name, "rule": self.rule, "verdict": self.verdict, "canary": self.now,
                "baseline": self.baseline, "p_value": None, "breached_seconds": self.breached}


@dataclass(frozen=True)
class WatchResult:
    decision: str  # pass, rollback or hold
    reason: str
    guards: tuple[dict[str, object], ...]
    baseline: str
    looks: tuple[dict[str, object], ...] = field(default=())
    report: str = ""
    exit_code: int = 0

    def outputs(self) -> dict[str, object]:
        return {"decision": self.decision, "reason": self.reason, "verdicts": list(self.guards),
                "report": self.report}

    def outcome(self) -> Outcome:
        rows = "".join(f"| {g['metric']} | {g['rule']} | {_show(g['canary'])} | {_show(g['baseline'])} | "
                       f"{g['verdict']} |\n" for g in self.guards)
        summary = (f"## watch: {self.decision}\n\n{self.reason}\n\n| guard | rule | now | baseline | verdict |\n"
                   f"| --- | --- | --- | --- | --- |\n{rows}\nbaseline: {self.baseline}\n")
        return Outcome(outputs=self.outputs(), text=f"watch: {self.decision}: {self.reason}", summary=summary,
                       exit_code=self.exit_code)


def _show(value: object) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _positive(name: str, value: float | None, default: float) -> float:
    value = default if value is None else value
    if value <= 0:
        raise InputError(name, f"{value:g}", "a duration above 0")
    return value


def _deployed_at(text: str, now: float) -> float:
    if not text.strip():
        return now
    moment = journal.parse_time(text.strip())
    if moment is None:
        raise InputError("deployed-at", text, "an ISO 8601 time such as 2026-11-22T10:15:00Z (the deploy commit's)")
    return moment.timestamp()


def watch(opts: WatchOptions, *, clock: Callable[[], float] = time.time,
          sleep: Callable[[float], None] = time.sleep) -> WatchResult:
    if opts.baseline not in BASELINES:
        raise InputError("baseline", opts.baseline, "one of " + ", ".join(BASELINES))
    if not opts.prometheus_url:
        raise InputError("prometheus-url", "", "the Prometheus base URL")
    selector = prometheus.normalize_selector("selector", opts.selector)
    baseline_selector = prometheus.normalize_selector("baseline-selector", opts.baseline_selector or opts.selector)
    requests = prometheus.validate_metric_name("request-metric", opts.request_metric)
    latency = prometheus.validate_metric_name("latency-metric", opts.latency_metric)
    duration = _positive("duration", opts.duration, 1800.0)
    interval = min(_positive("interval", opts.interval, 30.0), duration)
    window = _positive("rate-window", opts.rate_window, 60.0)
    base_window = _positive("baseline-window", opts.baseline_window, 1800.0)
    guards = _guards(opts)
    deployed = _deployed_at(opts.deployed_at, clock())
    client = prometheus.PrometheusClient(opts.prometheus_url, token=opts.prometheus_token,
                                         username=opts.prometheus_username, password=opts.prometheus_password)
    label = opts.status_label.strip() or "code"

    def p99(sel: str, win: float, at: float) -> float | None:
        query = f"histogram_quantile(0.99, sum by (le) (rate({latency}_bucket{{{sel}}}[{win:g}s])))"
        return _value(client.instant(query, at))

    before = p99(baseline_selector, base_window, deployed) if opts.baseline != "last-week" else None
    described = {"before-deploy": f"p99 of {baseline_selector} over {base_window:g}s before the deploy "
                                  f"({journal.timestamp(dt.datetime.fromtimestamp(deployed, dt.timezone.utc))})",
                 "last-week": f"p99 of {baseline_selector} over the same {window:g}s one week earlier, at each look",
                 "both": "the larger of the p99 before the deploy and one week earlier"}[opts.baseline]
    looks: list[dict[str, object]] = []
    start = clock()
    k = 0
    decision, reason = "", ""
    with actions_runtime.group(f"watch: looking every {interval:g}s for {duration:g}s"):
        while True:
            due = start + k * interval
            if due - start > duration + 1e-9:
                break
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            errors = _value(client.instant(
                f'sum(rate({requests}{{{selector},{label}=~"{opts.error_status}"}}[{window:g}s])) or vector(0)', due))
            total = _value(client.instant(f"sum(rate({requests}{{{selector}}}[{window:g}s]))", due))
            up = _value(client.instant(f"avg(up{{{selector}}})", due))
            now_p99 = p99(selector, window, due)
            week = p99(baseline_selector, window, due - WEEK) if opts.baseline != "before-deploy" else None
            base = max((b for b in (before, week) if b is not None), default=None)
            rate = None if not total else (errors or 0.0) / total
            values = {"error-rate": (rate, None), "p99-ratio": (now_p99, base),
                      "unhealthy": (None if up is None else 1 - up, None)}
            step = interval if k else 0.0
            for guard in guards:
                now, baseline_value = values[guard.name]
                guard.now, guard.baseline = now, baseline_value
                limit = guard.threshold * baseline_value if guard.name == "p99-ratio" and baseline_value else (
                    guard.threshold if guard.name != "p99-ratio" else None)
                if now is None or limit is None:
                    guard.verdict, guard.breached = "nodata", 0.0
                elif now > limit:
                    guard.breached += step
                    guard.verdict = "fail" if guard.breached >= guard.for_seconds else "breached"
                else:
                    guard.verdict, guard.breached = "pass", 0.0
            looks.append({"t": round(due - start, 3), "requests_per_second": total, "error_rate": rate,
                          "p99": now_p99, "baseline_p99": base, "up": up})
            actions_runtime.log(f"  {due - start:7.1f}s  " + ", ".join(f"{g.name} {_show(g.now)} {g.verdict}"
                                                                        for g in guards))
            failed = [g for g in guards if g.verdict == "fail"]
            if failed:
                g = failed[0]
                decision = "rollback"
                reason = f"{g.rule}: {_show(g.now)} for {g.breached:g}s" + (
                    f" (baseline {_show(g.baseline)})" if g.baseline is not None else "")
                break
            k += 1
    if not decision:
        seen = [look for look in looks if look["requests_per_second"]]
        if not seen:
            decision, reason = "hold", f"no requests from {selector} in {duration:g}s: no data is never a pass"
        else:
            decision, reason = "pass", f"no guard breached for its time in {duration:g}s"
    result = WatchResult(decision, reason, tuple(g.as_json() for g in guards), described, tuple(looks))
    path = ""
    if opts.report:
        Path(opts.report).write_text(json.dumps({"decision": decision, "reason": reason, "baseline": described,
                                                 "verdicts": list(result.guards), "looks": looks},
                                                indent=2, default=str) + "\n")
        path = opts.report
    code = EXIT_CHECK_FAILED if decision == "rollback" and opts.fail_on_rollback else 0
    return WatchResult(decision, reason, result.guards, described, result.looks, path, code)


def _guards(opts: WatchOptions) -> list[_Guard]:
    guards = []
    rate = rules.parse_guard("max-error-rate", opts.max_error_rate or "off", "error-rate")
    if rate is not None:
        guards.append(_Guard("error-rate", f"error rate > {rate.threshold * 100:g}%", rate.threshold,
                             rate.for_seconds))
    ratio = rules.parse_guard("max-p99-ratio", opts.max_p99_ratio or "off", "p99-ratio")
    if ratio is not None:
        guards.append(_Guard("p99-ratio", f"p99 > {ratio.threshold:g}x baseline", ratio.threshold, ratio.for_seconds))
    unhealthy = opts.max_unhealthy.strip()
    if unhealthy.lower() not in ("off", ""):
        try:
            share = float(unhealthy.rstrip("%"))
        except ValueError:
            share = -1.0
        if not 0 <= share < 100:
            raise InputError("max-unhealthy", opts.max_unhealthy, "a percentage of instances from 0 to 100, or off")
        guards.append(_Guard("unhealthy", f"more than {share:g}% of instances down", share / 100, 0.0))
    if not guards:
        raise InputError("max-error-rate", "off", "at least one guard to watch by")
    return guards


def _value(result: prometheus.QueryResult) -> float | None:
    """The one number of an instant query (None for no series or NaN)."""
    for series in result.series:
        for _, value in series.samples:
            if math.isfinite(value):
                return float(value)
    return None
