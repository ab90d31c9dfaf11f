"""canary-monitor: read the inputs, pick the provider, look every `interval` until decided or
`duration` is up, and report; or, with a baseline other than concurrent, watch the service
against its own past (`rolling`).

With `lookback`, the first looks come at once from Prometheus' history (a range query), so a
canary that has been serving for a while can be judged immediately; live looks continue after
that until `duration` (counted from the start of the lookback).

With `resume-from`, each guard's e-process continues from an earlier stage's report
(`evidence`) instead of starting at e = 1, so a staged rollout spends one alpha over all its stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from deploy_actions import actions_runtime, files
from deploy_actions.errors import EXIT_CHECK_FAILED, InputError
from deploy_actions.outcome import Outcome
from deploy_actions.verify.canary import evidence, report, rules
from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis, Conclusion, Decision, OnNoData
from deploy_actions.verify.canary.providers import Provider


@dataclass(frozen=True)
class CanaryMonitorOptions:
    provider: str = "prometheus"
    prometheus_url: str = ""
    prometheus_token: str = ""
    prometheus_username: str = ""
    prometheus_password: str = ""
    canary_selector: str = ""
    baseline_selector: str = ""
    request_metric: str = "http_requests_total"
    status_label: str = "code"
    error_status: str = "5.."
    latency_metric: str = "http_request_duration_seconds"
    metrics: str = ""
    canary_url: str = ""
    baseline_url: str = ""
    rate: float | None = 10.0
    duration: float | None = 600.0
    interval: float | None = 10.0
    lookback: float | None = None
    timeout: float | None = 10.0
    retries: int | None = 2
    alpha: float | None = 0.01
    min_requests: int | None = 300
    min_duration: float | None = 300.0
    max_error_rate: str = rules.DEFAULT_MAX_ERROR_RATE
    max_error_increase: str = rules.DEFAULT_MAX_ERROR_INCREASE
    max_p95_increase: str = rules.DEFAULT_MAX_P95_INCREASE
    max_p99_ratio: str = rules.DEFAULT_MAX_P99_RATIO
    failure_counting: str = "consecutive"
    max_idle: float | None = 0.2
    on_no_data: str = "hold"
    fail_on_rollback: bool = False
    report: str = ""
    resume_from: str = ""
    baseline: str = "concurrent"
    deployed_at: str = ""
    baseline_window: float | None = 1800.0
    rate_window: float | None = 60.0
    max_unhealthy: str = "50"


@dataclass(frozen=True)
class CanaryMonitorResult:
    conclusion: Conclusion
    config: AnalysisConfig | None  # None: a watch (baseline other than concurrent), absolute guards only
    summary: str
    report_path: str
    provider: str
    exit_code: int

    def outputs(self) -> dict[str, object]:
        c = self.conclusion
        return {
            "decision": c.decision.value,
            "reason": c.reason,
            "verdicts": [v.as_json() for v in c.verdicts],
            "report": self.report_path,
            "elapsed": f"{c.at:g}",
        }

    def outcome(self) -> Outcome:
        text = f"canary-monitor: {self.conclusion.decision.value}: {self.conclusion.reason}"
        return Outcome(outputs=self.outputs(), text=text, summary=self.summary, exit_code=self.exit_code)


def _positive(name: str, value: float | None, default: float) -> float:
    value = default if value is None else value
    if value <= 0:
        raise InputError(name, f"{value:g}", "a value above 0")
    return value


def analysis_config(opts: CanaryMonitorOptions) -> AnalysisConfig:
    """The analysis settings, validated; one-line input errors otherwise."""
    alpha = 0.01 if opts.alpha is None else opts.alpha
    if not 0 < alpha <= 0.5:
        raise InputError("alpha", f"{alpha:g}", "a probability above 0 and at most 0.5, e.g. 0.01")
    duration = _positive("duration", opts.duration, 600.0)
    min_duration = 300.0 if opts.min_duration is None else opts.min_duration
    guards = tuple(g for g in (
        rules.parse_guard("max-error-rate", opts.max_error_rate or "off", "error-rate"),
        rules.parse_guard("max-error-increase", opts.max_error_increase or "off", "error-increase"),
        rules.parse_guard("max-p95-increase", opts.max_p95_increase or "off", "p95-increase"),
        rules.parse_guard("max-p99-ratio", opts.max_p99_ratio or "off", "p99-ratio"),
    ) if g is not None)
    custom = rules.parse_custom_metrics(opts.metrics)
    if custom and opts.provider != "prometheus":
        raise InputError("metrics", opts.metrics.strip().splitlines()[0],
                         "no custom metrics with provider: probe (they are PromQL)")
    max_idle = 0.2 if opts.max_idle is None else opts.max_idle
    if not 0 <= max_idle < 1:
        raise InputError("max-idle", f"{max_idle:g}", "a share of the analysis from 0 up to (not including) 1, "
                         "e.g. 0.2")
    if not guards and not custom:
        raise InputError("max-error-rate", "off", "at least one guard or custom metric to judge the canary by")
    return AnalysisConfig(
        alpha=alpha, min_requests=300 if opts.min_requests is None else opts.min_requests,
        min_duration=min_duration, duration=duration, guards=guards, custom=custom,
        counting=cast(rules.Counting, opts.failure_counting), on_no_data=cast(OnNoData, opts.on_no_data),
        max_idle=max_idle,
    )


def build_provider(opts: CanaryMonitorOptions, config: AnalysisConfig, interval: float) -> tuple[Provider, str]:
    timeout = _positive("timeout", opts.timeout, 10.0)
    latency = any(g.kind == "latency" for g in config.guards)
    if opts.provider == "probe":
        from deploy_actions.verify.canary.providers import probe

        for name, value in (("canary-url", opts.canary_url), ("baseline-url", opts.baseline_url)):
            if not value:
                raise InputError(name, "", "a URL to probe (provider: probe needs canary-url and baseline-url)")
        canary, baseline = probe.validate_url("canary-url", opts.canary_url), probe.validate_url(
            "baseline-url", opts.baseline_url)
        rate = _positive("rate", opts.rate, 10.0)
        if rate > 1000:
            raise InputError("rate", f"{rate:g}", "at most 1000 requests per second per target")
        provider = probe.ProbeProvider(canary, baseline, rate=rate, timeout=timeout, error_status=opts.error_status)
        provider.start()
        return provider, f"probe ({rate:g} req/s each to the canary and the baseline)"
    from deploy_actions.verify.canary.providers import prometheus

    if not opts.prometheus_url:
        raise InputError("prometheus-url", "", "the Prometheus base URL (provider: prometheus)")
    for name, value in (("canary-selector", opts.canary_selector), ("baseline-selector", opts.baseline_selector)):
        if not value:
            raise InputError(name, "", 'label matchers such as job="app",track="canary"')
    client = prometheus.PrometheusClient(
        opts.prometheus_url, token=opts.prometheus_token, username=opts.prometheus_username,
        password=opts.prometheus_password, timeout=timeout, retries=2 if opts.retries is None else opts.retries,
        deadline=time.monotonic() + config.duration + timeout)  # the last look gets one query's time
    provider_ = prometheus.PrometheusProvider(
        client,
        canary_selector=prometheus.normalize_selector("canary-selector", opts.canary_selector),
        baseline_selector=prometheus.normalize_selector("baseline-selector", opts.baseline_selector),
        request_metric=prometheus.validate_metric_name("request-metric", opts.request_metric),
        status_label=opts.status_label.strip() or "code", error_status=opts.error_status,
        latency_metric=prometheus.validate_metric_name("latency-metric", opts.latency_metric),
        custom=config.custom, interval=interval, latency=latency)
    return provider_, f"prometheus at {client.base}"


def canary_monitor(opts: CanaryMonitorOptions, *, clock: Callable[[], float] = time.time,
                   sleep: Callable[[float], None] = time.sleep) -> CanaryMonitorResult:
    """Run the analysis. `clock` is wall-clock time (Prometheus timestamps), `sleep` waits.
    A baseline other than concurrent is the watch after a deploy without a canary (`rolling`)."""
    if opts.baseline != "concurrent":
        from deploy_actions.verify.canary import rolling

        return rolling.watch(opts, clock=clock, sleep=sleep)
    if opts.deployed_at.strip():
        raise InputError("deployed-at", opts.deployed_at, "nothing with baseline: concurrent (it is the watch's: "
                         "before-deploy, last-week or both)")
    config = analysis_config(opts)
    interval = min(_positive("interval", opts.interval, 10.0), config.duration)
    lookback = opts.lookback or 0.0
    if lookback and opts.provider != "prometheus":
        raise InputError("lookback", f"{lookback:g}s", "0 with provider: probe (it has no history)")
    if lookback > config.duration:
        raise InputError("lookback", f"{lookback:g}s", f"at most duration ({config.duration:g}s)")
    if opts.report:
        files.report_target(opts.report, "report")  # before the analysis, not after ten minutes of it
    resumed = evidence.read(opts.resume_from, config.guards, config.alpha) if opts.resume_from else ()
    provider, described = build_provider(opts, config, interval)
    analysis = CanaryAnalysis(config, resumed)
    try:
        conclusion = _run(analysis, provider, config, interval, lookback, clock, sleep)
    finally:
        provider.close()
    carried = (opts.resume_from, analysis.resumed_looks) if opts.resume_from else None
    summary = report.summary(conclusion, config, analysis.timeline, described, carried)
    path = ""
    if opts.report:
        path = report.write(opts.report, report.document(conclusion, config, analysis.timeline, described,
                                                         analysis.problems, analysis.guards, carried))
    exit_code = 0
    if conclusion.failed or (conclusion.decision is Decision.ROLLBACK and opts.fail_on_rollback):
        exit_code = EXIT_CHECK_FAILED
    return CanaryMonitorResult(conclusion, config, summary, path, described, exit_code)


def _run(analysis: CanaryAnalysis, provider: Provider, config: AnalysisConfig, interval: float, lookback: float,
         clock: Callable[[], float], sleep: Callable[[float], None]) -> Conclusion:
    now = clock()
    start = round(now - lookback, 3)
    # The first answer comes before any log line, so a query Prometheus rejects is one line.
    first = provider.history(start, now, interval) if lookback else [(start, provider.look(now))]
    with actions_runtime.group(f"canary-monitor: looking every {interval:g}s for up to {config.duration:g}s"):
        k = 0
        for t, data in first:
            k += 1
            done = analysis.look(round(t - start, 3), data)
            _log(round(t - start, 3), analysis, data.problems)
            if done is not None:
                return done
        while True:
            due = start + k * interval
            if due - start > config.duration + 1e-9:
                break
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            data = provider.look(due)
            done = analysis.look(round(due - start, 3), data)
            _log(round(due - start, 3), analysis, data.problems)
            k += 1
            if done is not None:
                return done
        return analysis.finish(min(config.duration, (k - 1) * interval))


def _log(t: float, analysis: CanaryAnalysis, problems: tuple[str, ...]) -> None:
    point = analysis.timeline[-1]
    if point.missing:
        actions_runtime.log(f"  {t:7.1f}s  no data{': ' + problems[-1] if problems else ''}")
        return
    rate = "n/a" if point.canary_error_rate is None else f"{point.canary_error_rate * 100:.2f}%"
    base = "n/a" if point.baseline_error_rate is None else f"{point.baseline_error_rate * 100:.2f}%"
    actions_runtime.log(f"  {t:7.1f}s  canary {point.canary_requests:.0f} req, errors this look {rate} | baseline "
                        f"{point.baseline_requests:.0f} req, errors this look {base}")
