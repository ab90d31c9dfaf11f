"""`deploy-actions report`: the operations report from the GitOps repository's records (what runs
where, the period's deployments, incidents, the DORA keys), as Markdown, JSON and SVG charts."""

from __future__ import annotations

import json
from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Annotation, Outcome

SPEC = CommandSpec(
    name="report",
    description="The operations report from the GitOps repository's records: what runs where, the period's "
                "deployments (rolled back, shelved, promoted, overridden), incidents, and the four DORA keys per app "
                "and fleet with their bands and trend; optionally Prometheus service levels. Writes Markdown (also "
                "the step summary), JSON and SVG charts, and can post or update one issue per week.",
    run="deploy_actions.commands.report:run",
    options=(
        Option("path", "Local checkout of the GitOps repository (when repository is empty).", "."),
        Option("repository", "GitOps repository to clone instead: owner/name on GitHub or a git URL.", ""),
        Option("ref", "Branch of the GitOps repository to read.", "main"),
        Option("token", "Token that can read the GitOps repository. CLI: $GITHUB_TOKEN.", "", secret=True,
               env_fallback="GITHUB_TOKEN"),
        Option("records", "Glob of the record files (JSON lines) in the GitOps repository.", "deployments/*.jsonl"),
        Option("incidents", "Glob of the incident records (Markdown) in the GitOps repository.", "incidents/*.md"),
        Option("since", "Start of the period: an ISO 8601 date or time, or a span before until (7d, 24h, 2w). "
               "Default: 7 days before until.", ""),
        Option("until", "End of the period (ISO 8601, exclusive). Default: now.", ""),
        Option("production", "Environments the DORA keys count, one per line.", "production", kind="lines"),
        Option("output-dir", "Folder for report.md, report.json, status.json and the SVG charts.",
               "deploy-actions-report"),
        Option("github-token", "Token for the GitHub API: source commit times (lead time) and the weekly issue. "
               "Without it, lead time counts from the build's first record.", "", secret=True,
               action_default="${{ github.token }}"),
        Option("prometheus-url", "Prometheus base URL for availability, latency and error rate (optional).", ""),
        Option("prometheus-token", "Bearer token for Prometheus.", "", secret=True),
        Option("prometheus-selector", "Label matchers of one app in one environment; {app} and {environment} are "
               "replaced.", 'app="{app}",environment="{environment}"'),
        Option("availability-target", "Availability target in percent, e.g. 99.9.", ""),
        Option("latency-targets", "Latency targets, one per line: p50, p95 or p99 and a duration (p95 300ms).", "",
               kind="lines"),
        Option("issue", "Post the report as an issue in issue-repository, one per week, updated rather than "
               "duplicated.", "false", kind="bool"),
        Option("issue-repository", "Repository (owner/name) of the weekly issue.", "",
               action_default="${{ github.repository }}", env_fallback="GITHUB_REPOSITORY"),
        Option("issue-title", "Title of the weekly issue; {week} (2026-W48), {since} and {until} are replaced.",
               "Operations report {week}"),
        Option("issue-labels", "Labels of the weekly issue, one per line; the first one finds it again.",
               "operations-report", kind="lines"),
    ),
    outputs=(
        Output("report", "Path of the Markdown report."),
        Output("json", "Path of the JSON report."),
        Output("status", "What runs where, as one JSON object (app, environment, version, since, strategy, commit)."),
        Output("deployment-frequency", "Production deployments concluded per day (fleet)."),
        Output("lead-time-hours", "Median lead time for changes in hours (fleet; empty when none)."),
        Output("change-failure-rate", "Change failure rate, 0 to 1 (fleet; empty when none)."),
        Output("time-to-restore-hours", "Median time to restore in hours (fleet; empty when none)."),
        Output("warnings", "How many records were left out (each one is a warning)."),
        Output("issue-url", "The weekly issue, when issue is true."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.report.build import ReportOptions, make_report

    written = make_report(ReportOptions(**options))
    fleet = written.report["dora"]["fleet"]

    def value(key: str) -> object:
        found = fleet[key]["value"]
        return "" if found is None else round(found, 6)

    outputs = {
        "report": written.files["markdown"], "json": written.files["json"],
        "status": json.dumps(written.report["running"], separators=(",", ":")),
        "deployment-frequency": value("deployment_frequency"), "lead-time-hours": value("lead_time"),
        "change-failure-rate": value("change_failure_rate"), "time-to-restore-hours": value("time_to_restore"),
        "warnings": len(written.warnings), "issue-url": written.issue_url,
    }
    notes = [f"report: {written.files['markdown']} ({len(written.warnings)} record(s) left out)"]
    if written.issue_url:
        notes.append(f"{'opened' if written.issue_created else 'updated'} issue {written.issue_url}")
    annotations = tuple(Annotation("warning", w.message, file=w.file, line=w.line, title="record left out")
                        for w in written.warnings)
    return Outcome(outputs=outputs, text="\n".join(notes), summary=written.markdown, annotations=annotations)
