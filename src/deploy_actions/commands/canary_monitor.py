"""`deploy-actions canary-monitor`: promote, roll back or hold a canary, decided from data with a
bounded false-rollback rate."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="canary-monitor",
    description="Compare a canary with its baseline until the evidence decides: promote, roll back or hold. "
                "Anytime-valid sequential tests, counted per look with each guard's tolerance as the null, keep "
                "the chance of rolling back a canary within its tolerances at or below alpha however often it "
                "looks, and no data is never promote. With a baseline other than concurrent it is the watch after "
                "a deploy without a canary: the service against its own past, with the runbooks' absolute guards.",
    run="deploy_actions.commands.canary_monitor:run",
    options=(
        Option("provider", "Where the data comes from: prometheus (PromQL over the HTTP API) or probe (send our "
               "own requests to canary-url and baseline-url).", "prometheus", kind="choice",
               choices=("prometheus", "probe")),
        Option("baseline", "What the canary is compared with: concurrent (baseline-selector's series over the same "
               "windows), or, after a deploy without a canary (rolling), the watched service's own past: "
               "before-deploy (baseline-window before deployed-at), last-week (the same time a week earlier, for "
               "diurnal traffic) or both (the larger p99). Those watch with the absolute guards max-error-rate, "
               "max-p99-ratio and max-unhealthy (no statistics: no alpha).", "concurrent", kind="choice",
               choices=("concurrent", "before-deploy", "last-week", "both")),
        Option("prometheus-url", "Prometheus base URL, e.g. http://prometheus:9090.", "",
               env_fallback="PROMETHEUS_URL"),
        Option("prometheus-token", "Bearer token for Prometheus.", "", secret=True, env_fallback="PROMETHEUS_TOKEN"),
        Option("prometheus-username", "User name for basic auth to Prometheus.", ""),
        Option("prometheus-password", "Password for basic auth to Prometheus.", "", secret=True,
               env_fallback="PROMETHEUS_PASSWORD"),
        Option("canary-selector", "PromQL label matchers of the canary's series, e.g. "
               "job=\"app\",track=\"canary\" (a watch: the deployed service's, e.g. job=\"app\").", ""),
        Option("baseline-selector", "PromQL label matchers of the baseline's series (the stable version, or a "
               "baseline deployed beside the canary; a watch: default canary-selector).", ""),
        Option("request-metric", "Request counter with a status label.", "http_requests_total"),
        Option("status-label", "Label of request-metric holding the HTTP status.", "code"),
        Option("error-status", "Statuses that count as errors (regular expression; probe: also no answer at all).",
               "5.."),
        Option("latency-metric", "Latency histogram (base name; its _bucket series are read).",
               "http_request_duration_seconds"),
        Option("metrics", "Custom metrics: a YAML list of {name, query, max and/or min, for}; query is PromQL "
               "using {{ selector }} and {{ interval }}. Checked on the canary at every look.", ""),
        Option("canary-url", "probe: URL to send the canary's requests to.", ""),
        Option("baseline-url", "probe: URL to send the baseline's requests to.", ""),
        Option("rate", "probe: requests per second to each of canary-url and baseline-url.", "10", kind="float"),
        Option("duration", "Longest the analysis may take before it holds, e.g. 10m (a watch: the window, 15-30 "
               "minutes, up to 2 hours for major releases).", "10m", kind="duration"),
        Option("interval", "Time between looks.", "10s", kind="duration"),
        Option("lookback", "prometheus: also judge this much history at once (range query), e.g. 10m; counted in "
               "duration.", "", kind="duration"),
        Option("timeout", "Timeout of one query or probe request.", "10s", kind="duration"),
        Option("retries", "Retries of a failed query before the look counts as missing data (within duration).", "2",
               kind="int", maximum=10),
        Option("alpha", "Largest acceptable probability of rolling back a canary that is within every guard's "
               "tolerance, over the whole analysis however often it looks (split over the guards 1:3:2:1; with "
               "resume-from, over all the stages it continues).", "0.01",
               kind="float"),
        Option("min-requests", "Canary requests needed before promoting.", "300", kind="int"),
        Option("min-duration", "Time needed before promoting (at most duration).", "5m", kind="duration"),
        Option("max-error-rate", "Absolute guard: canary error rate in percent, optionally sustained 'for' a "
               "time; off disables.", "5 for 2m"),
        Option("max-error-increase", "Relative guard: canary error rate above the baseline's, in percentage "
               "points; off disables.", "0.5"),
        Option("max-p95-increase", "Relative guard: canary p95 latency above the baseline's, in percent; off "
               "disables.", "50"),
        Option("max-p99-ratio", "Relative guard: canary p99 latency as a multiple of the baseline's; off disables.",
               "5x for 5m"),
        Option("max-unhealthy", "Watch (baseline other than concurrent): percentage of instances down (Prometheus' "
               "up) that decides rollback at once; off disables.", "50"),
        Option("deployed-at", "Watch: when the deploy commit landed, ISO 8601 (default: now); before-deploy's "
               "window ends there.", ""),
        Option("baseline-window", "Watch: how much time before deployed-at the before-deploy p99 covers.", "30m",
               kind="duration"),
        Option("rate-window", "Watch: the window of each look's rates, as rate(...[1m]).", "1m", kind="duration"),
        Option("failure-counting", "How 'for' durations count breached looks: consecutive (a clean look resets) "
               "or cumulative (never reset, as Flagger counts failed checks).", "consecutive", kind="choice",
               choices=("consecutive", "cumulative")),
        Option("max-idle", "Largest share of the analysis so far (0 to 1) the canary may go without new requests; "
               "longer means its traffic stopped, which is no data, never promote.", "0.2", kind="float"),
        Option("on-no-data", "What no data means: hold, fail (hold and exit 1) or rollback. Never promote.",
               "hold", kind="choice", choices=("hold", "fail", "rollback")),
        Option("fail-on-rollback", "Exit 1 when the decision is rollback.", "false", kind="bool"),
        Option("report", "Write a JSON report (decision, verdicts, every look, each guard's running evidence) to "
               "this file.", "", kind="path"),
        Option("resume-from", "A previous stage's report: continue each guard's evidence from it instead of starting "
               "at e = 1, so the stages together are tested against one alpha (same guards and alpha required).",
               "", kind="path"),
    ),
    outputs=(
        Output("decision", "promote, rollback or hold (a watch: promote when the window passed)."),
        Output("reason", "The rule that decided and its numbers."),
        Output("verdicts", "Per-metric verdicts (JSON list of metric, rule, verdict, canary, baseline, "
               "p_value, e_value, largest_regression, breached_seconds)."),
        Output("report", "Path of the JSON report, when report is set."),
        Output("elapsed", "Seconds of data the decision rests on."),
    ),
    action=True,
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.verify.canary.monitor import CanaryMonitorOptions, canary_monitor

    return canary_monitor(CanaryMonitorOptions(**options)).outcome()
