"""`deploy-actions deployment`: record a deployment lifecycle event (opened, shelved, resumed,
concluded) in the GitOps repository, and optionally mirror it to GitHub Deployments."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import GITOPS_PROVENANCE, PUSH_TIMEOUT, CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="deployment",
    description="Record a deployment lifecycle event (opened, shelved, resumed, concluded) as one commit to the "
                "deployment record in the GitOps repository; illegal transitions are refused and reruns change "
                "nothing. Optionally mirrored to GitHub Deployments.",
    run="deploy_actions.commands.deployment:run",
    options=(
        Option("event", "opened (pending → active), shelved (active → paused), resumed (paused → active) or "
               "concluded (active → concluded: running and smoke-tested).", "", kind="choice",
               choices=("opened", "shelved", "resumed", "concluded"), required=True),
        Option("app", "Application name.", "", required=True),
        Option("environment", "Environment (dev, staging, production…).", "", required=True),
        Option("version", "Version deployed, e.g. v1.2.3; with app and environment it names the deployment.", "",
               required=True),
        Option("image", "Image deployed, e.g. ghcr.io/org/app (later events: the opened record's).", ""),
        Option("digest", "Digest deployed, sha256:… (later events: the opened record's).", ""),
        Option("previous-version", "Version running before (default: the one this opening supersedes).", ""),
        Option("reason", "Why; required when shelved. Also the GitHub status description.", ""),
        Option("cause", "Why it is shelved: freeze, window, environment-unavailable, smoke-failed, canary-failed "
               "or manual.", "", kind="choice",
               choices=("freeze", "window", "environment-unavailable", "smoke-failed", "canary-failed", "manual")),
        Option("override", "An emergency gate override opened (or resumed) this deployment (needs "
               "override-reason).", "false", kind="bool"),
        Option("override-reason", "Why the gate was overridden.", ""),
        Option("approvals", "Who approved the deployment (gate's approvals output: a JSON list of {user, "
               "environment, comment}); written to the record and as Approved-by: trailers.", ""),
        Option("evidence", "What verified a concluded deployment, one name=URL per line, e.g. smoke-test=<run "
               "link>, canary=<run link>; written to the record.", "", kind="lines"),
        Option("repository", "GitOps repository to clone: owner/name on GitHub or a git URL. Empty: the local "
               "checkout holding the record file.", "", kind="path"),
        Option("ref", "Branch of the GitOps repository to commit to.", "main", kind="ref"),
        PUSH_TIMEOUT,
        Option("record", "Record file (JSON lines), relative to the GitOps repository; {environment} and {app} "
               "are replaced.", "deployments/{environment}.jsonl", kind="path"),
        Option("token", "Token that can push to the GitOps repository. CLI: $GITHUB_TOKEN.", "", secret=True,
               env_fallback="GITHUB_TOKEN"),
        Option("github-deployments", "Mirror the event to GitHub Deployments in github-repository.", "false",
               kind="bool"),
        Option("github-repository", "Code repository (owner/name) whose GitHub Deployments mirror the events.", "",
               action_default="${{ github.repository }}", env_fallback="GITHUB_REPOSITORY"),
        Option("github-token", "Token that can write deployments in github-repository (default: token). The GitOps "
               "token often belongs to another repository; pass github.token here.", "", secret=True),
        Option("deployment-sha", "Commit GitHub deploys, in github-repository (default: source-commit). Set it when "
               "github-repository is not the code repository, e.g. the GitOps repository's own commit when it "
               "promotes.", "", kind="commit"),
        Option("environment-url", "URL of the deployed environment, shown on GitHub.", "", kind="url"),
        Option("strategy", "Deployment strategy written to the record (rolling, canary, blue-green…).", "rolling"),
        Option("downtime-from", "strategy: recreate, event: concluded: when the downtime began (the deploy commit), "
               "ISO 8601; written to the record with downtime-until.", ""),
        Option("downtime-until", "strategy: recreate, event: concluded: when the new version answered (its smoke "
               "test passed), ISO 8601.", ""),
        *GITOPS_PROVENANCE,  # later events repeat the opened record's source repository and commit
    ),
    outputs=(
        Output("state", "The deployment's state now: pending, active, paused or concluded."),
        Output("previous-state", "Its state before this event."),
        Output("deployment-id", "The GitHub deployment id, when mirrored."),
        Output("commit-sha", "The GitOps commit that carries the record (empty on a rerun)."),
        Output("changed", "true when a record was written."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.records.deployment import DeploymentOptions, record_event

    return record_event(DeploymentOptions(**options)).outcome()
