"""`deploy-actions gitops-bump`: pin a new image tag in the GitOps repository."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import GITOPS_PROVENANCE, PUSH_TIMEOUT, REGISTRY_ACCESS, CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="gitops-bump",
    description="Rewrite the image tag in a GitOps repository (only that value, byte for byte), after "
                "checking the registry, and commit, push or open a pull request. Rollback is the same, "
                "to an older tag, with a reason.",
    run="deploy_actions.commands.gitops_bump:run",
    options=(
        Option("image", "Image repository to bump, without tag, e.g. ghcr.io/org/app.", ""),
        Option("tag", "Tag to deploy, e.g. v1.2.3.", ""),
        Option("images", "Batch, instead of image and tag: many images pinned in one commit with one record line "
               "per app, one IMAGE:TAG [PATH] per line or a YAML list of app, image, tag, path (path default: the "
               "path input).", ""),
        Option("images-file", "Batch: a file holding the images list (e.g. gathered from a matrix's artifacts).", ""),
        Option("repository", "GitOps repository to clone: owner/name on GitHub or a git URL. Empty: edit the "
               "local checkout that holds path.", "", kind="path"),
        Option("ref", "Branch of the GitOps repository to change.", "main", kind="ref"),
        Option("path", "Folder to search, relative to the GitOps repository; may use {app} and {environment}, "
               "e.g. apps/{app}/overlays/{environment}.", ".", kind="path"),
        Option("environment", "Environment being deployed (dev, staging, production…).", "", kind="line"),
        Option("app", "Application name for paths, messages and records (default: the image's last path part).",
               ""),
        Option("policy", "Flux image policy (namespace:name) whose setter markers to update.", ""),
        Option("set", "Generic edits, one FILE:dotted.path=VALUE per line ({tag}, {digest} and {image} are "
               "replaced).", "", kind="lines"),
        Option("kustomize-add", "Add a kustomization images: entry when none matches.", "false", kind="bool"),
        Option("promote-from", "Deploy the tag and digest currently running in this environment instead of tag.",
               ""),
        Option("rollback", "Allow going back to an older tag (needs reason).", "false", kind="bool"),
        Option("reason", "Why: recorded in the commit message, trailers and the deployment record.", ""),
        Option("allow-rolled-back", "Deploy a tag even though the records say it was rolled back in this "
               "environment (or, promoting, in promote-from); needs reason. Recorded in the record and the "
               "trailers.", "false", kind="bool"),
        Option("deny-tags", "Extra tag patterns to refuse (glob), one per line; latest, main, master, stable, "
               "edge and dev are always refused unless pinned by digest.", "", kind="lines"),
        Option("require-semver", "Refuse tags that are not semantic versions.", "false", kind="bool"),
        Option("lint", "Report mutable or missing tags and imagePullPolicy: Always across the scope as "
               "annotations; exit 1 on errors.", "false", kind="bool"),
        Option("verify-image", "Check that image:tag exists in the registry before writing.", "true", kind="bool"),
        Option("wait-for-image", "Poll the registry up to this long for CI to push the image, e.g. 10m.", "",
               kind="duration", maximum=3600),
        Option("digest", "none, pin to write image:tag@sha256:… (kustomize: digest:), or drop to unpin references "
               "pinned by digest (none keeps them pinned with the registry's digest, or refuses).", "none",
               kind="choice", choices=("none", "pin", "drop")),
        *REGISTRY_ACCESS,
        Option("mode", "push: commit and push (re-applied if the branch moved); pull-request: push a "
               "deploy branch and open or update one PR; commit: commit locally; none: edit files only.",
               "push", kind="choice", choices=("push", "pull-request", "commit", "none")),
        PUSH_TIMEOUT,
        Option("on-protected", "When the push is refused by branch protection: fail, or open a pull-request.",
               "fail", kind="choice", choices=("fail", "pull-request")),
        Option("branch", "Deploy branch for pull requests; {app} and {environment} are replaced.",
               "deploy/{app}-{environment}"),
        Option("labels", "Labels for the pull request, one per line.", "", kind="lines"),
        Option("auto-merge", "Enable auto-merge on the pull request.", "false", kind="bool"),
        Option("commit-message", "Commit message; {app}, {tag}, {previous_tag}, {environment}, {image}.",
               "chore: Bump {app} to {tag}"),
        Option("rollback-message", "Commit message of a rollback; also {reason}.",
               "fix: Rollback {app} to {tag} due to {reason}"),
        Option("batch-message", "Commit subject of a batch that changes more than one app; {count} and "
               "{environment} (the body lists each app).", "chore: Bump {count} apps"),
        Option("record", "Deployment record (JSON lines) appended in the same commit; empty for none.",
               "deployments/{environment}.jsonl", kind="path"),
        Option("incident", "Incident record (Markdown) a rollback writes in the same commit; {timestamp} "
               "(e.g. 20261122T101500Z), {app} and {environment} are replaced; empty for none.",
               "incidents/{timestamp}-{app}.md", kind="path"),
        Option("evidence", "JSON report that decided the rollback (canary-monitor report, or smoke-test's JSON "
               "report); its verdicts or failed checks go in the incident record.", "", kind="path"),
        Option("detected-at", "When the problem was detected, ISO 8601, for the incident timeline (default: now).",
               ""),
        Option("post-mortem", "After a rollback is pushed: open the post-mortem issue (runbook template, due in "
               "48 h, linked both ways with the incident record) and add a line to the rolled-back version's "
               "release notes. auto: in production environments.", "auto", kind="choice",
               choices=("auto", "true", "false")),
        Option("post-mortem-repository", "owner/name where the post-mortem issue opens and the release is "
               "(default: source-repository).", "", kind="repository"),
        Option("post-mortem-labels", "Labels of the post-mortem issue, one per line.", "post-mortem\nincident",
               kind="lines"),
        Option("github-token", "Token for the post-mortem issue and the release notes (default: token).", "",
               secret=True),
        Option("strategy", "Deployment strategy written to the record (rolling, canary, blue-green…).", "rolling",
               kind="line"),
        Option("github-repository", "owner/name of the GitOps repository on GitHub, for pull requests "
               "(default: from repository).", "", kind="repository"),
        Option("token", "Token that can push to the GitOps repository (and open pull requests). "
               "CLI: $GITHUB_TOKEN.", "", secret=True, env_fallback="GITHUB_TOKEN"),
        *GITOPS_PROVENANCE,
    ),
    outputs=(
        Output("changed", "true when a file changed."),
        Output("files", "The changed files (JSON list)."),
        Output("tag", "The tag now pinned."),
        Output("previous-tag", "The tag pinned before."),
        Output("digest", "The digest pinned (digest: pin), else empty."),
        Output("commit-sha", "The GitOps commit."),
        Output("pull-request-url", "The pull request, in pull-request mode."),
        Output("pull-request-number", "Its number."),
        Output("superseded", "true when a newer tag landed first and this bump (in a batch: one of its apps) "
               "stood down."),
        Output("apps", "Each app bumped (JSON list of app, image, tag, previous-tag, changed, superseded)."),
        Output("pushes", "Pushes it took to land (more than 1: other pipelines pushed first)."),
        Output("source-repository", "The code repository recorded (promote-from: as the source environment's "
               "record names it for the tag)."),
        Output("source-commit", "The code commit recorded (promote-from: as the source environment's record names "
               "it for the tag)."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.gitops.bump import GitopsBumpOptions, gitops_bump

    return gitops_bump(GitopsBumpOptions(**options)).outcome()
