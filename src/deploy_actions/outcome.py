"""What a command hands back to the CLI: its outputs, texts, annotations and exit status.

Below every domain module (they return it) and above none of them, so imports only point down:
cli → commands → domain → outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy_actions.actions_runtime import Level
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
