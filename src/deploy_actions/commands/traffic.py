"""`deploy-actions traffic`: shift a canary's share of traffic, or switch a blue/green Service to a
slot, or give a slot's workloads a replica count, as one commit to the GitOps repository."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import GITOPS_PROVENANCE, PUSH_TIMEOUT, CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="traffic",
    description="Move traffic in a GitOps repository, byte for byte: give the canary a share (weight) in its "
                "HTTPRoute, VirtualService, TrafficSplit, NGINX canary Ingress or, without a router, in the "
                "replicas, or switch a blue/green Service's selector to a slot; commit and push, with a record. A "
                "rollback is the same forward commit, with a reason and an incident record.",
    run="deploy_actions.commands.traffic:run",
    options=(
        Option("app", "Application name, for names, messages and records.", "", required=True),
        Option("weight", "Canary: its share of the traffic it shares with stable, in percent (0-100). Only the "
               "canary's and stable's weights change, and their sum stays.", "", kind="int"),
        Option("slot", "Blue/green: the slot the live Service should select (one of slots), or idle: the one it "
               "does not select now (with mode: none, a dry run that only reports the slots).", ""),
        Option("scale-slot", "Blue/green: the slot whose workloads get replicas (one of slots, or idle: the one the "
               "live Service does not select), e.g. the old slot scaled down after a switch. The live slot is never "
               "scaled down: when a switch back made it live again, it keeps running.", ""),
        Option("replicas", "With scale-slot: the replica count of each of its workloads (0 scales it down), or live: "
               "as many as the live slot's workload runs (the idle slot back up before the next release).", "0"),
        Option("delay", "With scale-slot: wait this long (from since) before planning the change, as Argo Rollouts' "
               "scaleDownDelaySeconds; a switch back in the meantime is seen.", "", kind="duration"),
        Option("since", "When the delay started, ISO 8601 (the switch; default now).", ""),
        Option("environment", "Environment (dev, staging, production…), for paths, messages and records.", ""),
        Option("repository", "GitOps repository to clone: owner/name on GitHub or a git URL. Empty: edit the "
               "local checkout that holds path.", ""),
        Option("ref", "Branch of the GitOps repository to change.", "main"),
        Option("path", "Folder to search, relative to the GitOps repository; may use {app} and {environment}.",
               "."),
        Option("canary", "The canary's backend: a Service (Gateway API, SMI, NGINX), an Istio subset or host, or a "
               "workload (replicas); {app} and {environment} are replaced.", "{app}-canary"),
        Option("stable", "The stable backend, named the same ways.", "{app}"),
        Option("canary-steps", "The rollout's stages in percent, e.g. 10,30,50,90,100: weight must be one of them "
               "(or 0), and the record names the stage reached.", ""),
        Option("canary-path", "The canary workload's folder, when it is not under path: the tag of image there is the "
               "version the record names; a canary rollback (weight 0) pins the stable's tag there in the same commit. "
               "{app} and {environment} are replaced.", ""),
        Option("service", "Blue/green: the live Service; {app} and {environment} are replaced.", "{app}"),
        Option("preview-service", "Blue/green: the preview Service, switched to the idle slot (when it exists).",
               "{app}-preview"),
        Option("slots", "Blue/green: the slots' label values, comma-separated.", "blue,green"),
        Option("slot-label", "Blue/green: the selector label holding the slot (default: the one whose value is a "
               "slot).", ""),
        Option("image", "Image repository (ghcr.io/org/app) whose tag the workloads of the canary or slot run, "
               "for messages and records (default: their first container).", ""),
        Option("rollback", "A rollback: weight 0, or the slot switched back to; needs reason.", "false", kind="bool"),
        Option("reason", "Why: in the rollback's commit message, trailers, record and incident record.", ""),
        Option("mode", "push: commit and push (re-applied if the branch moved); commit: commit locally; none: edit "
               "files only.", "push", kind="choice", choices=("push", "commit", "none")),
        PUSH_TIMEOUT,
        Option("commit-message", "Message of a canary shift; {app}, {weight}, {previous_weight}, {tag}, "
               "{environment}.", "chore: Shift {app} canary to {weight}% in {environment}"),
        Option("switch-message", "Message of a blue/green switch; {app}, {slot}, {previous_slot}, {tag}, "
               "{environment}.", "chore: Switch {app} to {slot} ({tag}) in {environment}"),
        Option("abort-message", "Message of a canary rollback; also {reason}.",
               "fix: Shift {app} canary back to {weight}% due to {reason}"),
        Option("rollback-message", "Message of a switch back; also {reason}.",
               "fix: Switch {app} back to {slot} ({tag}) due to {reason}"),
        Option("scale-message", "Message of a scale-slot change; {app}, {slot}, {tag}, {direction} (down or up), "
               "{replicas}, {previous_replicas}, {environment}.",
               "chore: Scale {direction} {app} {slot} ({tag}) in {environment}"),
        Option("record", "Deployment record (JSON lines) appended in the same commit; empty for none.",
               "deployments/{environment}.jsonl"),
        Option("incident", "Incident record (Markdown) a rollback writes in the same commit; {timestamp}, {app} "
               "and {environment} are replaced; empty for none.", "incidents/{timestamp}-{app}.md"),
        Option("evidence", "JSON report that decided the rollback (canary-monitor or smoke-test); it goes in the "
               "incident record.", ""),
        Option("detected-at", "When the problem was detected, ISO 8601 (default: now).", ""),
        Option("token", "Token that can push to the GitOps repository. CLI: $GITHUB_TOKEN.", "", secret=True,
               env_fallback="GITHUB_TOKEN"),
        *GITOPS_PROVENANCE,
    ),
    outputs=(
        Output("changed", "true when a file changed."),
        Output("strategy", "canary or blue-green."),
        Output("files", "The changed files (JSON list)."),
        Output("weight", "Canary: its share now, in percent (replicas: the closest share they allow)."),
        Output("previous-weight", "Canary: its share before."),
        Output("stage", "Canary: the stage reached (1-based in canary-steps; 0 for weight 0)."),
        Output("stages", "Canary: how many stages canary-steps has."),
        Output("slot", "Blue/green: the live slot now."),
        Output("previous-slot", "Blue/green: the live slot before."),
        Output("idle-slot", "Blue/green: the slot left idle (where the next release goes)."),
        Output("tag", "The tag the canary or the live slot runs."),
        Output("previous-tag", "The tag the stable or the slot left runs."),
        Output("scaled-slot", "Scale: the slot whose workloads were given replicas."),
        Output("replicas", "Scale: its replicas now."),
        Output("previous-replicas", "Scale: its replicas before."),
        Output("commit-sha", "The GitOps commit."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.gitops.traffic import TrafficOptions, traffic

    return traffic(TrafficOptions(**options)).outcome()
