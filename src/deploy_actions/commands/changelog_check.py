"""`deploy-actions changelog-check`: a CHANGELOG entry for the version; its release notes."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands import Outcome
from deploy_actions.commands.spec import CommandSpec, Option, Output

SPEC = CommandSpec(
    name="changelog-check",
    description="Check that CHANGELOG.md has an entry for a version, validate the file, and "
                "extract the release notes.",
    run="deploy_actions.commands.changelog_check:run",
    options=(
        Option("file", "The changelog file.", "CHANGELOG.md"),
        Option("version", "The version whose entry must exist (with or without a leading v).", ""),
    ),
    outputs=(
        Output("version", "The version of the extracted entry."),
        Output("date", "Its release date (ISO 8601), empty if unreleased."),
        Output("status", "released, unreleased, prerelease or yanked."),
        Output("notes", "The entry's body without its heading."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    raise NotImplementedError("changelog-check is being built")
