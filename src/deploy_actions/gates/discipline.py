"""The gate's checks over what the records and the run say: a version rolled back in the target
environment stays out, a version soaks in an earlier environment before it moves on, and a
production deploy has as many distinct approvers as the runbook asks.

Pure functions over checked record entries (`records.history`) and the run's approvals as the
GitHub API reported them; `read_records` is the one piece of I/O (a shallow clone of the GitOps
repository, or its local checkout).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deploy_actions.errors import InputError
from deploy_actions.gates import CheckResult, Requirement
from deploy_actions.records import history

if TYPE_CHECKING:
    from deploy_actions.github import RunApproval


def read_records(repository: str, ref: str, token: str, record: str, app: str,
                 environments: Sequence[str]) -> dict[str, list[history.Entry]]:
    """The checked entries of `app` in each environment's record file of the GitOps repository
    (`repository`: owner/name or a git URL, cloned; or the path of a local checkout)."""
    from deploy_actions.git import clone_url, temporary_clone

    rendered = {env: _render(record, app, env) for env in environments}
    if Path(repository).is_dir():
        root = Path(repository).resolve()
        return {env: history.read(root, rel, app, env) for env, rel in rendered.items()}
    clone_url(repository, "gitops-repository")  # a bad value is named as this input
    with temporary_clone(repository, ref, token or None) as git:
        return {env: history.read(git.root, rel, app, env) for env, rel in rendered.items()}


def _render(template: str, app: str, environment: str) -> str:
    try:
        return template.format(environment=environment, app=app)
    except (KeyError, IndexError, ValueError):
        raise InputError("record", template, "a path whose only placeholders are {environment} and {app}") from None


def rolled_back_check(entries: Sequence[history.Entry], version: str, environment: str, *,
                      allow: bool, reason: str) -> CheckResult:
    """The version was not rolled back in `environment` (or allow-rolled-back says why it may go again)."""
    mark = history.rolled_back(entries, version)
    if mark is None:
        return CheckResult("rolled-back", True, f"{version} has not been rolled back in {environment}")
    if allow:
        return CheckResult("rolled-back", True, f"{mark.sentence()}; deploying it again (allow-rolled-back): "
                           f"{history.neutral(reason)}")
    return CheckResult("rolled-back", False, mark.refusal(f"deploy it to {environment} again"))


def soak_check(entries: Sequence[history.Entry], version: str, need: Requirement,
               now: dt.datetime) -> tuple[CheckResult, float]:
    """The version concluded in `need.environment` at least `need.seconds` ago and was not rolled
    back there since; with the seconds still to wait (0 when it has soaked)."""
    soak = history.soak(entries, version, need.environment, need.seconds, now)
    needed = history.duration_text(need.seconds)
    where = need.environment
    if soak.concluded_at is None:
        return CheckResult("soak", False, f"{version} has not concluded in {where}; it needs {needed} of soak there "
                           "first"), soak.left
    since = f"concluded in {where} {history.when(soak.concluded_at)}"
    if soak.broken_by is not None:
        broke = soak.broken_by
        return CheckResult("soak", False, f"{version} {since}, but was rolled back there on "
                           f"{history.when(broke.at)} ({broke.reason or 'no reason recorded'}), which broke its "
                           f"soak; conclude it in {where} again and let it soak {needed}"), soak.left
    ago = history.duration_text(soak.soaked)
    if not soak.ok:
        ready = history.when(soak.concluded_at + dt.timedelta(seconds=need.seconds))
        return CheckResult("soak", False, f"{version} {since} ({ago} ago); {history.duration_text(soak.left)} of "
                           f"its {needed} soak left, ready at {ready}", waiting=True), soak.left
    return CheckResult("soak", True, f"{version} {since}, {ago} ago ({needed} needed), not rolled back since"), 0.0


def approvals_for(approvals: Sequence[RunApproval], environment: str) -> list[RunApproval]:
    """The approvals (not rejections) of the run's deployment to `environment` (any, when empty)."""
    return [a for a in approvals if a.state == "approved" and (not environment or environment in a.environments)]


def distinct_approvers(approved: Sequence[RunApproval]) -> list[str]:
    """The people behind `approved`, once each, in order."""
    return list(dict.fromkeys(a.user for a in approved))


def approvals_check(approved: Sequence[RunApproval], environment: str, need: Requirement) -> CheckResult:
    """At least `need.count` distinct people approved this run's deployment to `environment`
    (GitHub lets one approval satisfy a protection rule; the runbook may ask for more)."""
    people = distinct_approvers(approved)
    named = ", ".join(people) or "nobody"
    target = f" to {environment}" if environment else ""
    if len(people) >= need.count:
        return CheckResult("approvals", True, f"{len(people)} of {need.count} approvals{target}: {named}")
    return CheckResult("approvals", False, f"{len(people)} of {need.count} distinct approvals{target} "
                       f"({named}); ask {need.count - len(people)} more reviewer(s) of the environment to approve "
                       "this run, then re-run it")
