"""canary-monitor with `baseline: before-deploy`, `last-week` or `both`: the monitoring window after
a rolling (or recreate, or blue/green) deploy, when there is no canary running beside the stable.

The runbooks' automated rollback triggers, as they write them, judge the deployed service
(`canary-selector`) against itself: its error rate above 5 % for 2 minutes (`max-error-rate`), its
p99 latency above 5 times the baseline's for 5 minutes (`max-p99-ratio`), and health checks failing
on more than half its instances (`max-unhealthy`, from Prometheus' `up`). The baseline p99 is the
service's own (or `baseline-selector`'s) over `baseline-window` before the deploy commit
(`before-deploy`), over the same window one week earlier, read at each look, for diurnal traffic
(`last-week`), or the larger of both (`both`: a breach must beat each); the report says which.

These are absolute guards, not statistical tests: a breach is a breach once it has lasted its
`for` time (counted as `failure-counting` says), and no false-rollback rate is bounded. A window
that passes is `promote` (keep the deploy); one without requests is no data, never a pass
(`on-no-data`). A failed query is a look without data, never a crash.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from deploy_actions import actions_runtime, files
from deploy_actions.errors import EXIT_CHECK_FAILED, InputError
from deploy_actions.records import journal
from deploy_actions.verify.canary import report, rules
from deploy_actions.verify.canary.decision import Conclusion, Decision, Verdict
from deploy_actions.verify.canary.providers import prometheus

if TYPE_CHECKING:
    from deploy_actions.verify.canary.monitor import CanaryMonitorOptions, CanaryMonitorResult

WEEK = 7 * 24 * 3600.0
BASELINES = ("before-deploy", "last-week", "both")
DEFAULT_MAX_UNHEALTHY = "50"  # percent of the instances
_CONCURRENT_ONLY = (("max-error-increase", "max_error_increase", rules.DEFAULT_MAX_ERROR_INCREASE),
                    ("max-p95-increase", "max_p95_increase", rules.DEFAULT_MAX_P95_INCREASE))
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class WatchGuard:
    name: str  # error-rate, p99-ratio, unhealthy
    label: str
    threshold: float  # a fraction (error rate, share of instances down) or a factor (p99)
    for_seconds: float
    unit: str  # ratio or seconds


@dataclass(frozen=True)
class GuardStanding:
    guard: WatchGuard
    verdict: str = "nodata"
    now: float | None = None
    baseline: float | None = None
    breached_seconds: float = 0.0

    def verdict_row(self) -> Verdict:
        return Verdict(self.guard.name, self.guard.label, self.verdict, self.now, self.baseline, self.guard.unit,
                       breached_seconds=self.breached_seconds)


def _check(opts: CanaryMonitorOptions) -> None:
    """What a watch cannot use: one-line errors naming the input."""
    if opts.baseline not in BASELINES:
        raise InputError("baseline", opts.baseline, "one of concurrent, " + ", ".join(BASELINES))
    mode = f"baseline: {opts.baseline}"
    if opts.provider != "prometheus":
        raise InputError("provider", opts.provider, f"prometheus with {mode} (the service's past is in Prometheus)")
    for name, value in (("lookback", opts.lookback), ("resume-from", opts.resume_from),
                        ("metrics", opts.metrics.strip())):
        if value:
            raise InputError(name, str(value).splitlines()[0], f"nothing with {mode} (a watch judges the service's "
                             "absolute guards from now on)")
    for name, field, default in _CONCURRENT_ONLY:
        value = str(getattr(opts, field)).strip()
        if value and value != default and value.lower() != "off":
            raise InputError(name, value, f"off with {mode}: it compares with a canary's concurrent baseline, which "
                             "a rolling deploy does not have (the watch uses max-error-rate, max-p99-ratio and "
                             "max-unhealthy)")


def guards(opts: CanaryMonitorOptions) -> tuple[WatchGuard, ...]:
    found = []
    rate = rules.parse_guard("max-error-rate", opts.max_error_rate or "off", "error-rate")
    if rate is not None:
        found.append(WatchGuard("error-rate", rate.label, rate.threshold, rate.for_seconds, "ratio"))
    ratio = rules.parse_guard("max-p99-ratio", opts.max_p99_ratio or "off", "p99-ratio")
    if ratio is not None:
        found.append(WatchGuard("p99-ratio", ratio.label, ratio.threshold, ratio.for_seconds, "seconds"))
    unhealthy = opts.max_unhealthy.strip()
    if unhealthy.lower() not in ("off", "none", "false", "disabled", ""):
        try:
            share = float(unhealthy.removesuffix("%"))
        except ValueError:
            share = -1.0
        if not 0 <= share < 100:
            raise InputError("max-unhealthy", opts.max_unhealthy, "a percentage of instances from 0 up to 100, or off")
        found.append(WatchGuard("unhealthy", f"more than {share:g}% of instances down", share / 100, 0.0, "ratio"))
    if not found:
        raise InputError("max-error-rate", "off", "at least one guard to watch by")
    return tuple(found)


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


def watch(opts: CanaryMonitorOptions, *, clock: Callable[[], float] = time.time,
          sleep: Callable[[float], None] = time.sleep) -> CanaryMonitorResult:
    """Watch the service for `duration`, look every `interval`, and decide."""
    from deploy_actions.verify.canary.monitor import CanaryMonitorResult

    _check(opts)
    if not opts.prometheus_url:
        raise InputError("prometheus-url", "", "the Prometheus base URL")
    if not opts.canary_selector:
        raise InputError("canary-selector", "", f'label matchers of the deployed service\'s series, e.g. job="app" '
                         f"(baseline: {opts.baseline})")
    selector = prometheus.normalize_selector("canary-selector", opts.canary_selector)
    baseline_selector = prometheus.normalize_selector("baseline-selector",
                                                      opts.baseline_selector or opts.canary_selector)
    requests = prometheus.validate_metric_name("request-metric", opts.request_metric)
    latency = prometheus.validate_metric_name("latency-metric", opts.latency_metric)
    label = opts.status_label.strip() or "code"
    if not _LABEL.fullmatch(label):
        raise InputError("status-label", opts.status_label, "a Prometheus label name such as code")
    try:
        errors_match = re.compile(opts.error_status)
    except re.error as err:
        raise InputError("error-status", opts.error_status, f"a regular expression ({err})") from None
    duration = _positive("duration", opts.duration, 600.0)
    interval = min(_positive("interval", opts.interval, 10.0), duration)
    window = _positive("rate-window", opts.rate_window, 60.0)
    base_window = _positive("baseline-window", opts.baseline_window, 1800.0)
    timeout = _positive("timeout", opts.timeout, 10.0)
    watched = guards(opts)
    on_no_data = opts.on_no_data
    deployed = _deployed_at(opts.deployed_at, clock())
    if opts.report:
        files.report_target(opts.report, "report")  # before the window, not after thirty minutes of it
    client = prometheus.PrometheusClient(
        opts.prometheus_url, token=opts.prometheus_token, username=opts.prometheus_username,
        password=opts.prometheus_password, timeout=timeout, retries=2 if opts.retries is None else opts.retries,
        deadline=time.monotonic() + duration + timeout)
    problems: list[str] = []

    def value(query: str, at: float, input_name: str, input_value: str) -> float | None:
        try:
            return _one(client.instant(query, at))
        except prometheus.PrometheusRejected as err:
            raise InputError(input_name, input_value, f"something Prometheus accepts in {query} ({err})") from None
        except prometheus.PrometheusUnavailable as err:
            if str(err) not in problems:
                problems.append(str(err))
            return None

    def p99(sel: str, win: float, at: float) -> float | None:
        query = f"histogram_quantile(0.99, sum by (le) (rate({latency}_bucket{{{sel}}}[{win:g}s])))"
        return value(query, at, "latency-metric", latency)

    def rates(at: float) -> tuple[float | None, float | None]:
        """Requests per second and the error rate over the look's window (statuses matched here,
        never pasted into PromQL)."""
        query = f"sum by ({label}) (rate({requests}{{{selector}}}[{window:g}s]))"
        try:
            result = client.instant(query, at)
        except prometheus.PrometheusRejected as err:
            raise InputError("canary-selector", selector, f"something Prometheus accepts in {query} ({err})") from None
        except prometheus.PrometheusUnavailable as err:
            if str(err) not in problems:
                problems.append(str(err))
            return None, None
        total = bad = 0.0
        seen = False
        for series in result.series:
            for _, sample in series.samples:
                if math.isfinite(sample):
                    seen = True
                    total += sample
                    if errors_match.fullmatch(series.labels.get(label, "")):
                        bad += sample
        if not seen:
            return None, None
        return total, (bad / total if total > 0 else None)

    stamp = journal.timestamp(dt.datetime.fromtimestamp(deployed, dt.timezone.utc))
    before = p99(baseline_selector, base_window, deployed) if opts.baseline != "last-week" else None
    described = {
        "before-deploy": f"before-deploy: the p99 of {baseline_selector} over the {base_window:g}s before the deploy "
                         f"({stamp})",
        "last-week": f"last-week: the p99 of {baseline_selector} over the same {window:g}s one week earlier, at "
                     "each look",
        "both": f"both: the larger of the p99 of {baseline_selector} over the {base_window:g}s before the deploy "
                f"({stamp}) and over the same {window:g}s one week earlier",
    }[opts.baseline]
    standings = [GuardStanding(g) for g in watched]
    looks: list[dict[str, object]] = []
    start = clock()
    k = 0
    conclusion: Conclusion | None = None
    counting = opts.failure_counting
    with actions_runtime.group(f"canary-monitor: watching every {interval:g}s for {duration:g}s ({described})"):
        while True:
            due = start + k * interval
            if due - start > duration + 1e-9:
                break
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            t = round(due - start, 3)
            total, rate = rates(due)
            up = value(f"avg(up{{{selector}}})", due, "canary-selector", selector)
            now_p99 = p99(selector, window, due) if any(g.name == "p99-ratio" for g in watched) else None
            week = (p99(baseline_selector, window, due - WEEK)
                    if opts.baseline != "before-deploy" and any(g.name == "p99-ratio" for g in watched) else None)
            base = max((b for b in (before, week) if b is not None), default=None)
            values = {"error-rate": (rate, None), "p99-ratio": (now_p99, base),
                      "unhealthy": (None if up is None else 1 - up, None)}
            step = interval if k else 0.0
            standings = [_judge(s, *values[s.guard.name], step, counting) for s in standings]
            looks.append({"t": t, "requests_per_second": total, "error_rate": rate, "p99_seconds": now_p99,
                          "baseline_p99_seconds": base, "up": up})
            actions_runtime.log(f"  {t:7.1f}s  " + ", ".join(f"{s.guard.name} {_show(s.now)} {s.verdict}"
                                                              for s in standings))
            failed = next((s for s in standings if s.verdict == "fail"), None)
            if failed is not None:
                g = failed.guard
                numbers = f"{_show(failed.now, g.unit)} for {failed.breached_seconds:g}s" + (
                    f" against the baseline's {_show(failed.baseline, g.unit)}" if failed.baseline is not None else "")
                conclusion = Conclusion(Decision.ROLLBACK, f"{g.name} ({g.label}): {numbers} (at {t:g}s)",
                                        t, tuple(s.verdict_row() for s in standings), rule=g.name)
                break
            k += 1
    if conclusion is None:
        at = min(duration, max(0, k - 1) * interval)
        rows = tuple(s.verdict_row() for s in standings)
        if not any(look["requests_per_second"] for look in looks):
            why = f"no data: no requests from {selector} in {at:g}s" + (f" ({'; '.join(problems[-3:])})"
                                                                        if problems else "")
            decision = Decision.ROLLBACK if on_no_data == "rollback" else Decision.HOLD
            conclusion = Conclusion(decision, f"no data (on-no-data: {on_no_data}): {why}", at, rows,
                                    no_data=True, failed=on_no_data == "fail",
                                    rule="no-data" if decision is Decision.ROLLBACK else "")
        else:
            conclusion = Conclusion(Decision.PROMOTE, f"no guard breached for its time in {at:g}s", at, rows)
    summary = _summary(conclusion, described, len(looks))
    path = ""
    if opts.report:
        path = report.write(opts.report, {
            "decision": conclusion.decision.value, "reason": conclusion.reason, "sentence": conclusion.reason,
            "baseline": {"mode": opts.baseline, "described": described, "before_deploy_p99_seconds": before,
                         "deployed_at": stamp},
            "risk": RISK, "at_seconds": conclusion.at, "no_data": conclusion.no_data, "rule": conclusion.rule,
            "provider": f"prometheus at {client.base}", "verdicts": [v.as_json() for v in conclusion.verdicts],
            "config": {"duration_seconds": duration, "interval_seconds": interval, "rate_window_seconds": window,
                       "baseline_window_seconds": base_window, "failure_counting": counting,
                       "on_no_data": on_no_data,
                       "guards": [{"name": g.name, "rule": g.label, "threshold": g.threshold,
                                   "for_seconds": g.for_seconds} for g in watched]},
            "problems": problems, "looks": looks})
    code = EXIT_CHECK_FAILED if conclusion.failed or (
        conclusion.decision is Decision.ROLLBACK and opts.fail_on_rollback) else 0
    return CanaryMonitorResult(conclusion, None, summary, path, f"prometheus at {client.base}", code)


RISK = ("These are the runbooks' absolute guards, not statistical tests: no false-rollback rate is bounded; a "
        "guard rolls back once it has been breached for its 'for' time.")


def _judge(standing: GuardStanding, now: float | None, baseline: float | None, step: float,
           counting: str) -> GuardStanding:
    """One look of one guard: breached looks add up to its `for` time; a clean look resets the count
    (consecutive) or not (cumulative); a look without data neither counts nor resets."""
    g = standing.guard
    limit = (g.threshold * baseline if baseline else None) if g.name == "p99-ratio" else g.threshold
    if now is None or limit is None:
        return replace(standing, verdict="nodata" if standing.breached_seconds == 0 else "watch", now=now,
                       baseline=baseline)
    if now > limit:
        breached = standing.breached_seconds + step
        return GuardStanding(g, "fail" if breached >= g.for_seconds else "watch", now, baseline, breached)
    breached = 0.0 if counting == "consecutive" else standing.breached_seconds
    return GuardStanding(g, "pass" if breached == 0 else "watch", now, baseline, breached)


def _summary(conclusion: Conclusion, described: str, looks: int) -> str:
    icon = {Decision.PROMOTE: "✅", Decision.ROLLBACK: "⏪", Decision.HOLD: "⏸️"}[conclusion.decision]
    rows = "".join(f"| {v.metric} | {v.rule} | {_show(v.canary, v.unit)} | {_show(v.baseline, v.unit)} | "
                   f"{v.verdict} |\n" for v in conclusion.verdicts)
    return (f"## canary-monitor (watch): {icon} {conclusion.decision.value}\n\n{conclusion.reason}\n\n"
            f"| guard | rule | now | baseline | verdict |\n| --- | --- | --- | --- | --- |\n{rows}\n"
            f"<sub>baseline {described}; {looks} looks. {RISK}</sub>\n")


def _show(value: float | None, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "ratio":
        return f"{value * 100:.3g}%"
    if unit == "seconds":
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g}"


def _one(result: prometheus.QueryResult) -> float | None:
    """The one number of an instant query (None for no series or NaN)."""
    for series in result.series:
        for _, sample in series.samples:
            if math.isfinite(sample):
                return float(sample)
    return None
