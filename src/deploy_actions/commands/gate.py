"""`deploy-actions gate`: may a deploy start now? Freeze periods, deploy windows, the pre-deploy
checklist (changelog entry, tag, image, rollback plan), the records' rules (rolled-back
versions, soak time), the run's approvals, and the emergency override.

The work lives in `deploy_actions.gates`; this module declares the inputs and outputs.
"""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import REGISTRY_ACCESS, CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="gate",
    description="Decide whether a deploy may start now: freeze periods, deploy windows in the team's time "
                "zone, a pre-deploy checklist (changelog entry, tag, image, rollback plan), and an emergency "
                "override that is recorded with its reason.",
    run="deploy_actions.commands.gate:run",
    options=(
        Option("freeze", "Freeze periods, one per line: 2026-12-24..2026-12-26, or every year: 12-31..01-02.",
               "", kind="lines"),
        Option("deny-windows", "Times when deploys are refused, one per line, e.g. 'Fri 15:00-24:00'.", "",
               kind="lines"),
        Option("timezone", "IANA time zone the freezes and windows are in.", "UTC"),
        Option("emergency", "Deploy anyway (needs reason): opens freezes and windows and waives the changelog "
               "and rollback-plan checks, never a missing tag or image. Reported as override.", "false",
               kind="bool"),
        Option("reason", "Why the emergency override is needed.", ""),
        Option("fail", "Exit 1 when a freeze or deny window closes the gate; false: report allowed=false and "
               "exit 0 (to shelve the deployment, say). A failed checklist always exits 1.", "true", kind="bool"),
        Option("now", "The moment to judge, ISO 8601 (default: the current time); for rehearsing a freeze "
               "or window.", ""),
        Option("require", "Pre-deploy checks that must hold, one per line: changelog (an entry for version), "
               "tag (the release tag exists, locally or on origin), image (image:tag is in the registry), "
               "rollback-plan (the entry has a filled-in ### Rollback Plan section), 'soak: staging 24h' "
               "(concluded in staging at least 24h ago, not rolled back there since; reads gitops-repository), "
               "'approvals 2' (at least 2 distinct people approved this run's deployment to environment).", "",
               kind="lines"),
        Option("soak-wait", "Wait up to this long for a soak under way to complete (e.g. 20m), then check again; "
               "0: report the time left and fail.", "0", kind="duration"),
        Option("version", "The version to deploy, e.g. 1.3.0 or v1.3.0 (needed by every check).", ""),
        Option("tag-prefix", "Prefix of release tags: the release tag is tag-prefix + version.", "v",
               kind="tag-prefix"),
        Option("repo", "Path of the code checkout whose changelog and tags are checked.", ".", kind="path"),
        Option("changelog-file", "The changelog, relative to repo.", "CHANGELOG.md", kind="path"),
        Option("image", "Image repository for the image check, without tag, e.g. ghcr.io/org/app.", ""),
        Option("image-tag", "Tag of the image to look for (default: the release tag, e.g. v1.3.0).", ""),
        *REGISTRY_ACCESS,
        Option("app", "Application name, as in the deployment records (rolled-back and soak checks).", ""),
        Option("environment", "Environment to deploy to: its records say what was rolled back there; its "
               "approvals count.", ""),
        Option("gitops-repository", "GitOps repository whose records are read: owner/name, a git URL, or the "
               "path of a checkout. Given, a version rolled back in environment is refused.", "", kind="path"),
        Option("gitops-ref", "Branch of the GitOps repository.", "main", kind="ref"),
        Option("record", "The record file in the GitOps repository; {environment} and {app} are replaced.",
               "deployments/{environment}.jsonl", kind="path"),
        Option("allow-rolled-back", "Deploy a version the records say was rolled back in environment (needs "
               "reason; record it with the deployment).", "false", kind="bool"),
        Option("gitops-token", "Token that can read the GitOps repository (default: token).", "", secret=True),
        Option("run-id", "Workflow run whose approvals count for 'approvals N' (default: this run).", ""),
        Option("github-repository", "owner/name of the repository running the workflow (default: "
               "$GITHUB_REPOSITORY).", "", kind="repository"),
        Option("github-token", "Token to read the run's approvals (default: token).", "", secret=True),
        Option("token", "Token to list the tags of origin over HTTPS when the tag is not fetched "
               "(CLI: $GITHUB_TOKEN).", "", secret=True, action_default="${{ github.token }}",
               env_fallback="GITHUB_TOKEN"),
    ),
    outputs=(
        Output("allowed", "true when the deploy may start."),
        Output("reason", "Which rule decided, in words."),
        Output("override", "true when an emergency override opened a closed gate."),
        Output("closed-by", "What closed the gate: freeze, window or checklist (the first that applies); "
               "empty when open."),
        Output("checklist", "The pre-deploy checks as a JSON list of {check, ok, detail}."),
        Output("failed", "Names of the failed checks, comma-separated (waived ones included)."),
        Output("soak-left", "Seconds of soak time still to wait (0 when soaked or not asked)."),
        Output("approvals", "The run's approvals of the deployment to environment, as a JSON list of "
               "{user, environment, comment} (for the deployment record)."),
        Output("approved-by", "The distinct approvers, comma-separated (for Approved-by: trailers)."),
    ),
)

def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.gates.gate import evaluate

    return evaluate(options)
