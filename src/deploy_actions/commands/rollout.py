"""`deploy-actions rollout`: a staged canary, each stage a traffic commit judged by canary-monitor."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands import canary_monitor, traffic
from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

# traffic's inputs that a staged canary sets itself, and canary-monitor's that become per stage
_NOT_TRAFFIC = {"weight", "slot", "service", "preview-service", "slots", "slot-label", "rollback", "reason",
                "evidence", "detected-at", "switch-message", "rollback-message", "canary-steps", "scale-slot",
                "replicas", "delay", "since", "scale-message"}
_PER_STAGE = {"duration", "report", "fail-on-rollback", "alpha", "resume-from"}
# ...and canary-monitor's watch mode, which judges a deploy without a canary: never a stage
_WATCH = {"baseline", "deployed-at", "baseline-window", "rate-window", "max-unhealthy"}
TRAFFIC_OPTIONS = tuple(o for o in traffic.SPEC.options if o.name not in _NOT_TRAFFIC)
MONITOR_OPTIONS = tuple(o for o in canary_monitor.SPEC.options if o.name not in _PER_STAGE | _WATCH)

SPEC = CommandSpec(
    name="rollout",
    description="Walk a canary through its stages (canary-steps), each one GitOps commit of its weight judged by "
                "canary-monitor for step-duration, its evidence carried into the next stage so that alpha is spent "
                "over the whole rollout; the first stage that fails shifts the weight back to 0 in one forward "
                "commit with the reason.",
    run="deploy_actions.commands.rollout:run",
    options=(
        Option("canary-steps", "The stages, in percent of traffic.", "10,30,50,90,100"),
        Option("step-duration", "How long each stage is judged at most, e.g. 10m.", "10m", kind="duration"),
        Option("alpha", "Largest acceptable probability of rolling back a healthy canary over the whole rollout; "
               "each judged stage continues the evidence of the stages before it (resume-from), tested against "
               "this whole alpha.", "0.01", kind="float"),
        Option("report", "Write the rollout's JSON report here; each stage's canary-monitor report goes beside it "
               "(NAME-stage-N.json).", ""),
        Option("fail-on-rollback", "Exit 1 when a stage rolled the canary back.", "false", kind="bool"),
        *TRAFFIC_OPTIONS,
        *MONITOR_OPTIONS,
    ),
    outputs=(
        Output("decision", "promote (every stage passed), rollback or hold."),
        Output("reason", "The stage that decided, and why."),
        Output("stage", "The last stage reached (1-based)."),
        Output("stages", "How many stages there are."),
        Output("weight", "The canary's share at the end, in percent."),
        Output("alpha", "The alpha the evidence of all judged stages together was tested against."),
        Output("commit-sha", "The last GitOps commit."),
        Output("report", "Path of the rollout's JSON report, when report is set."),
        Output("evidence", "Path of the last judged stage's canary-monitor report (a rollback's evidence)."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.gitops.rollout import rollout

    dests = {o.dest for o in TRAFFIC_OPTIONS}
    monitor = {o.dest for o in MONITOR_OPTIONS}
    return rollout({k: v for k, v in options.items() if k in dests}, {k: v for k, v in options.items() if k in monitor},
                   canary_steps=options["canary_steps"], step_duration=options["step_duration"],
                   alpha=options["alpha"], report=options["report"],
                   fail_on_rollback=options["fail_on_rollback"]).outcome()
