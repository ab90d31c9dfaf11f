"""One module per command. Each declares its `SPEC` (flags ⇔ inputs, outputs) and a `run`
function that turns typed options into an `Outcome`. Specs are cheap to import; `run`
imports the heavy parts when it is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy_actions.actions_runtime import Level
from deploy_actions.commands.spec import CommandSpec
from deploy_actions.errors import EXIT_OK


@dataclass(frozen=True)
class Annotation:
    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a command hands back to the CLI: outputs (keys = the action's outputs), a Markdown
    step summary, a human-readable text for the log, annotations and the exit status."""

    outputs: Mapping[str, object]
    text: str = ""
    summary: str = ""
    annotations: tuple[Annotation, ...] = field(default=())
    exit_code: int = EXIT_OK


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
        watch,
    )

    specs = [version_bump.SPEC, changelog_check.SPEC, gitops_bump.SPEC, smoke_test.SPEC, canary_monitor.SPEC,
             gate.SPEC, deployment.SPEC, report.SPEC, hotfix.SPEC, traffic.SPEC, rollout.SPEC, watch.SPEC]
    return {spec.name: spec for spec in specs}


COMMANDS: dict[str, CommandSpec] = _load()
