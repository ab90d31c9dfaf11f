"""`deploy-actions changelog-check`: a CHANGELOG entry for the version; its release notes."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="changelog-check",
    description="Check that CHANGELOG.md has an entry for a version, validate the file, and "
                "extract the release notes.",
    run="deploy_actions.commands.changelog_check:run",
    configurable=True,
    options=(
        Option("file", "The changelog file: Markdown, or reStructuredText when it ends in .rst.",
               "CHANGELOG.md", kind="path"),
        Option("version", "The version whose entry must exist (with or without a leading v, semver or "
               "PEP 440, or Unreleased). Empty: validate the file and report its newest entry.", ""),
        Option("notes-file", "Write the entry's release notes to this file (inside the working "
               "directory), e.g. for `gh release create --notes-file`.", "", kind="path"),
        Option("strict", "Fail (instead of warn) when the file breaks Keep a Changelog's rules: "
               "order, dates, duplicate sections, link references.", "false", kind="bool"),
        Option("require-sections", "`###` sections the entry must have and fill in, one per line, "
               "e.g. `Rollback Plan`. Missing or empty ones fail the check.", "", kind="lines"),
        Option("skip-label", "On pull requests: a label that waives the rule that the pull request "
               "must change the changelog.", "skip-changelog"),
        Option("github-repository", "owner/name on GitHub, for the pull request's files "
               "(default: $GITHUB_REPOSITORY).", "", action_default="${{ github.repository }}"),
        Option("token", "GitHub token to list the pull request's files (CLI: $GITHUB_TOKEN).", "",
               secret=True, action_default="${{ github.token }}", env_fallback="GITHUB_TOKEN"),
    ),
    outputs=(
        Output("version", "The version of the extracted entry."),
        Output("date", "Its release date (ISO 8601), empty if unreleased."),
        Output("status", "released, unreleased, prerelease or yanked."),
        Output("notes", "The entry's body without its heading."),
        Output("notes-file", "Absolute path of the file the notes were written to, if any."),
        Output("found", "true when the entry (or, with no version, any entry) exists."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.release.changelog_check import ChangelogCheckOptions, changelog_check

    return changelog_check(ChangelogCheckOptions(**options))
