"""Entrypoint of the Docker action (`uses: org/deploy-actions@v1`, `docker://…/deploy-actions`).

The runner passes every `with:` value as `INPUT_<NAME>` and `args` as argv. With `command` set,
argv are extra flags for that command; without it, argv is the `deploy-actions` command line
itself, so `docker run <image> version-bump --dry-run` works too. Nothing goes through a shell.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from deploy_actions import actions_runtime, cli
from deploy_actions.commands import COMMANDS
from deploy_actions.errors import DeployActionsError, FileError, InputError


def _command_line(argv: Sequence[str]) -> list[str]:
    command = (os.environ.get("INPUT_COMMAND") or "").strip()
    if command:
        if command not in COMMANDS:
            raise InputError("command", command, "one of " + ", ".join(COMMANDS))
        return [command, *argv]
    if not argv:
        raise InputError("command", "", "one of " + ", ".join(COMMANDS) + " (this input is required)")
    return list(argv)


def _check_file_commands() -> None:
    # The image runs as uid 1001, the runner's own uid on GitHub-hosted runners; a runner with
    # another uid hands us files we cannot write. Say so instead of failing after the work.
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        path = os.environ.get(name)
        if path and not os.access(path, os.W_OK):
            raise FileError(f"{name} ({path}) is not writable by uid {os.getuid()}; on runners whose "
                            "user is not uid 1001 use the composite actions (org/deploy-actions/<command>@v1)")


def _adapt_runner_temp() -> None:
    # The runner passes RUNNER_TEMP as the host's path, which is not mounted in the container;
    # $HOME (/github/home) is, and lives as long as the job.
    temp = os.environ.get("RUNNER_TEMP")
    if temp and not os.path.isdir(temp):
        home = os.environ.get("HOME", "")
        if os.path.isdir(home) and os.access(home, os.W_OK):
            os.environ["RUNNER_TEMP"] = home
        else:
            del os.environ["RUNNER_TEMP"]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        command_line = _command_line(args)
        if actions_runtime.in_actions():
            _check_file_commands()
    except DeployActionsError as err:
        actions_runtime.annotate("error", err.message)
        return err.exit_code
    _adapt_runner_temp()
    return cli.main(command_line)


if __name__ == "__main__":
    sys.exit(main())
