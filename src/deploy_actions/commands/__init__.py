"""One module per command. Each declares its `SPEC` (flags ⇔ inputs, outputs) and a `run`
function that turns typed options into an `Outcome` (deploy_actions.outcome). Specs are cheap to import; `run`
imports the heavy parts when it is called.
"""

from __future__ import annotations

from deploy_actions.commands.spec import CommandSpec


def _load() -> dict[str, CommandSpec]:
    from deploy_actions.commands import (
        canary_monitor,
        changelog_check,
        deployment,
        gate,
        gitops_bump,
        hotfix,
        report,
        rollout,
        smoke_test,
        traffic,
        version_bump,
    )

    specs = [version_bump.SPEC, changelog_check.SPEC, gitops_bump.SPEC, smoke_test.SPEC, canary_monitor.SPEC,
             gate.SPEC, deployment.SPEC, report.SPEC, hotfix.SPEC, traffic.SPEC, rollout.SPEC]
    return {spec.name: spec for spec in specs}


COMMANDS: dict[str, CommandSpec] = _load()
