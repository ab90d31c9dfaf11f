"""`deploy-actions hotfix`: the hotfix lane's paperwork (merge-back reminders, the post-mortem)."""

from __future__ import annotations

from typing import Any

from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.outcome import Outcome

SPEC = CommandSpec(
    name="hotfix",
    description="The hotfix lane's paperwork: warn about hotfix branches whose commits are not in the base "
                "branch yet, open a merge-back reminder issue for each left unmerged too long, and open the "
                "hotfix's post-mortem issue. Reruns open no second issue.",
    run="deploy_actions.commands.hotfix:run",
    options=(
        Option("branches", "Hotfix branches on origin to check, a glob.", "hotfix/*"),
        Option("base", "The branch every hotfix must come back to.", "main"),
        Option("merge-back-after", "Open a reminder issue for a hotfix branch unmerged this long after its last "
               "commit (at most 10 years).", "24h", kind="duration", maximum=10 * 365 * 24 * 3600),
        Option("post-mortem", "Open the hotfix's post-mortem issue (runbook template, due in 48 h).", "false",
               kind="bool"),
        Option("version", "The hotfix's version, e.g. hotfix-v1.2.4 (for the post-mortem).", ""),
        Option("reason", "What the hotfix fixes (for the post-mortem).", ""),
        Option("repo", "Path of the code checkout (its origin is asked for the branches).", "."),
        Option("github-repository", "owner/name where the issues open (default: $GITHUB_REPOSITORY).", "",
               action_default="${{ github.repository }}", env_fallback="GITHUB_REPOSITORY"),
        Option("github-token", "Token for the issues (default: token).", "", secret=True),
        Option("token", "Token to ask origin for its branches (CLI: $GITHUB_TOKEN).", "", secret=True,
               action_default="${{ github.token }}", env_fallback="GITHUB_TOKEN"),
    ),
    outputs=(
        Output("unmerged", "The hotfix branches not merged into base, as a JSON list."),
        Output("merge-back-issues", "The reminder issues opened or still open, as a JSON list of URLs."),
        Output("post-mortem-url", "The post-mortem issue, when asked for."),
    ),
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions.hotfix import run as hotfix

    return hotfix(options)
