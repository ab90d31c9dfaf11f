"""`deploy-actions watch`: the monitoring window after a rolling deploy, against the same service
before the deploy, with the runbooks' absolute rollback triggers."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="watch",
    description="Watch a service after a rolling deploy: error rate above 5 percent for 2 minutes, p99 above 5 times "
                "its own p99 before the deploy (or a week earlier) for 5 minutes, or more than half its instances "
                "down decides rollback; a quiet window passes; no data holds.",
    run="deploy_actions.commands.watch:run",
    options=(
        Option("prometheus-url", "Prometheus base URL.", "", env_fallback="PROMETHEUS_URL"),
        Option("prometheus-token", "Bearer token for Prometheus.", "", secret=True, env_fallback="PROMETHEUS_TOKEN"),
        Option("prometheus-username", "User name for basic auth to Prometheus.", ""),
        Option("prometheus-password", "Password for basic auth to Prometheus.", "", secret=True,
               env_fallback="PROMETHEUS_PASSWORD"),
        Option("selector", "PromQL label matchers of the service's series, e.g. job=\"app\".", "", required=True),
        Option("baseline-selector", "Label matchers of the baseline's series (default: selector).", ""),
        Option("baseline", "What p99 is compared with: before-deploy (the window before the deploy commit), "
               "last-week (the same time a week earlier, for diurnal traffic) or both (the larger).", "before-deploy",
               kind="choice", choices=("before-deploy", "last-week", "both")),
        Option("deployed-at", "When the deploy commit landed, ISO 8601 (default: now).", ""),
        Option("baseline-window", "How much time before the deploy the baseline p99 covers.", "30m", kind="duration"),
        Option("duration", "The watch window (15-30 minutes; up to 2 hours for major releases).", "30m",
               kind="duration"),
        Option("interval", "Time between looks.", "30s", kind="duration"),
        Option("rate-window", "The window of each look's rates, e.g. 1m.", "1m", kind="duration"),
        Option("request-metric", "Request counter with a status label.", "http_requests_total"),
        Option("status-label", "Label of request-metric holding the HTTP status.", "code"),
        Option("error-status", "Statuses that count as errors (regular expression).", "5.."),
        Option("latency-metric", "Latency histogram (base name).", "http_request_duration_seconds"),
        Option("max-error-rate", "Error rate in percent, sustained 'for' a time; off disables.", "5% for 2m"),
        Option("max-p99-ratio", "p99 as a multiple of the baseline's, sustained 'for' a time; off disables.",
               "5x for 5m"),
        Option("max-unhealthy", "Percentage of instances down (Prometheus' up) that decides rollback; off "
               "disables.", "50"),
        Option("fail-on-rollback", "Exit 1 when the decision is rollback.", "false", kind="bool"),
        Option("report", "Write a JSON report (decision, verdicts, baseline, every look) to this file.", ""),
    ),
    outputs=(
        Output("decision", "pass, rollback or hold."),
        Output("reason", "The guard that decided and its numbers."),
        Output("verdicts", "Per-guard verdicts (JSON list)."),
        Output("report", "Path of the JSON report, when report is set."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.verify.watch import WatchOptions, watch

    return watch(WatchOptions(**options)).outcome()
