"""`deploy-actions deployment`: one lifecycle event, appended to the record file in the GitOps
repository as one commit (pushed, and re-applied when the branch moved), optionally mirrored
to GitHub Deployments.

Order of work: validate → clone (or open the local checkout) → read the records and decide
(an illegal event stops here, nothing written) → mirror → append → commit → push.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_actions.errors import InputError, OperationError
from deploy_actions.files import FileEdit, inside_repo
from deploy_actions.git import (
    Git,
    ProtectedBranchError,
    commit_edits,
    push_reapplied,
    push_timeout,
    temporary_clone,
    trailers,
)
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME
from deploy_actions.outcome import Outcome
from deploy_actions.records import github_mirror, history, journal, lifecycle

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


@dataclass(frozen=True)
class DeploymentOptions:
    event: str = ""
    app: str = ""
    environment: str = ""
    version: str = ""
    image: str = ""
    digest: str = ""
    previous_version: str = ""
    reason: str = ""
    cause: str = ""
    override: bool = False
    override_reason: str = ""
    approvals: str = ""
    evidence: tuple[str, ...] = ()
    repository: str = ""
    ref: str = "main"
    push_timeout: float | None = None
    record: str = "deployments/{environment}.jsonl"
    token: str = ""
    github_deployments: bool = False
    github_repository: str = ""
    github_token: str = ""
    deployment_sha: str = ""
    environment_url: str = ""
    strategy: str = "rolling"
    downtime_from: str = ""
    downtime_until: str = ""
    source_repository: str = ""
    source_commit: str = ""
    run_url: str = ""
    actor: str = ""
    git_user_name: str = BOT_NAME
    git_user_email: str = BOT_EMAIL


@dataclass(frozen=True)
class DeploymentResult:
    state: str
    previous_state: str
    changed: bool
    deployment_id: int | None = None
    commit_sha: str = ""
    record: str = ""
    note: str = ""

    def outcome(self) -> Outcome:
        outputs = {"state": self.state, "previous-state": self.previous_state,
                   "deployment-id": self.deployment_id or "", "commit-sha": self.commit_sha, "changed": self.changed}
        summary = f"## deployment\n\n{self.note}\n"
        if self.deployment_id:
            summary += f"\nGitHub deployment {self.deployment_id}.\n"
        return Outcome(outputs=outputs, text=self.note, summary=summary)


def validate(opts: DeploymentOptions) -> None:
    """Every check that needs no repository: bad input fails before anything is cloned."""
    push_timeout(opts.push_timeout)
    if opts.event not in lifecycle.TRANSITIONS:
        raise InputError("event", opts.event, "one of " + ", ".join(lifecycle.EVENTS))
    for name, value in (("app", opts.app), ("environment", opts.environment)):
        if not _NAME.match(value):
            raise InputError(name, value, "a name of letters, digits, '.', '_' and '-'")
    if not _VERSION.match(opts.version):
        raise InputError("version", opts.version, "the version deployed, e.g. v1.2.3")
    if opts.event == "shelved":
        if not opts.cause:
            raise InputError("cause", "", "why it is shelved: one of " + ", ".join(lifecycle.CAUSES))
        if not opts.reason.strip():
            raise InputError("reason", "", "a reason for shelving the deployment")
    elif opts.cause:
        raise InputError("cause", opts.cause, "no cause unless event is shelved")
    if opts.override and opts.event not in ("opened", "resumed"):
        raise InputError("override", "true", "override only with event: opened or resumed (an emergency gate "
                         "override)")
    if opts.override and not opts.override_reason.strip():
        raise InputError("override-reason", "", "the reason for the emergency override")
    approvals(opts)
    evidence(opts)
    downtime(opts)
    if opts.github_deployments:
        if not (opts.github_token or opts.token):
            raise InputError("github-token", "", "a GitHub token for github-deployments: true")
        if not opts.github_repository:
            raise InputError("github-repository", "", "owner/name of the code repository (default: $GITHUB_REPOSITORY)")
        if opts.deployment_sha and not re.fullmatch(r"[0-9a-f]{40}", opts.deployment_sha):
            raise InputError("deployment-sha", opts.deployment_sha, "a full commit SHA in github-repository")
        if not opts.deployment_sha and not re.fullmatch(r"[0-9a-f]{40}", opts.source_commit):
            raise InputError("source-commit", opts.source_commit,
                             "the full commit SHA the image was built from (GitHub deploys a commit)")


def approvals(opts: DeploymentOptions) -> tuple[history.Approval, ...]:
    """The approvals input (gate's `approvals` output: a JSON list of {user, environment, comment})."""
    if not opts.approvals.strip():
        return ()
    if opts.event not in ("opened", "resumed"):
        raise InputError("approvals", opts.approvals, "no approvals unless event is opened or resumed (the "
                         "approvals that let the deployment start)")
    try:
        return history.approvals_from(json.loads(opts.approvals))
    except (ValueError, RecursionError):
        raise InputError("approvals", opts.approvals, "a JSON list of {user, environment, comment}, as gate's "
                         "approvals output") from None


def evidence(opts: DeploymentOptions) -> dict[str, str]:
    """The evidence input: one `name=URL` per line (smoke-test=https://…/runs/41), links a person can open."""
    found: dict[str, str] = {}
    for line in opts.evidence:
        name, sep, url = (part.strip() for part in line.partition("="))
        if not sep or not _NAME.match(name) or not history.is_url(url):
            raise InputError("evidence", line, "name=URL lines, e.g. smoke-test=https://github.com/org/app/actions/"
                             "runs/41 (a run link, not a path on a runner)")
        found[name] = url
    if found and opts.event != "concluded":
        raise InputError("evidence", opts.evidence[0], "no evidence unless event is concluded")
    return found


def downtime(opts: DeploymentOptions) -> history.Downtime | None:
    """The downtime window of a recreate deploy (downtime-from, downtime-until), or None."""
    if not (opts.downtime_from.strip() or opts.downtime_until.strip()):
        return None
    if opts.strategy != "recreate" or opts.event != "concluded":
        name = "downtime-from" if opts.downtime_from.strip() else "downtime-until"
        raise InputError(name, getattr(opts, name.replace("-", "_")), "no downtime unless strategy is recreate and "
                         "event is concluded (old and new never overlap there, so the deploy has a downtime)")
    moments = []
    for name, value in (("downtime-from", opts.downtime_from), ("downtime-until", opts.downtime_until)):
        moment = journal.parse_time(value.strip()) if value.strip() else None
        if moment is None:
            raise InputError(name, value, "an ISO 8601 time such as 2026-11-22T10:15:00Z (both downtime-from and "
                             "downtime-until)")
        moments.append(moment)
    start, end = moments
    if end < start:
        raise InputError("downtime-until", opts.downtime_until, f"a time not before downtime-from "
                         f"({opts.downtime_from.strip()})")
    return history.Downtime(start, end)


def record_event(opts: DeploymentOptions) -> DeploymentResult:
    validate(opts)
    rendered = _render_record(opts)
    if opts.repository:
        with temporary_clone(opts.repository, opts.ref, opts.token) as git:
            return _apply(opts, git, rendered, push=True)
    git = _local_checkout(opts, rendered)
    rel = Path(rendered).expanduser().resolve().relative_to(git.root.resolve()).as_posix()
    return _apply(opts, git, rel, push=git.remote_url_or_none("origin") is not None)


def _render_record(opts: DeploymentOptions) -> str:
    try:
        return opts.record.format(environment=opts.environment, app=opts.app)
    except (KeyError, IndexError, ValueError):
        raise InputError("record", opts.record, "a path whose only placeholders are {environment} and {app}") from None


def _local_checkout(opts: DeploymentOptions, rendered: str) -> Git:
    """The git checkout holding the record file (which may not exist yet)."""
    if not rendered:
        raise InputError("record", opts.record, "the path of the record file")
    start = Path(rendered).expanduser().absolute().parent
    while not start.is_dir() and start != start.parent:
        start = start.parent
    git = Git.open(start, token=opts.token or None, input_name="record")
    git.root = git.root.resolve()
    if not Path(rendered).expanduser().resolve().is_relative_to(git.root):
        raise InputError("record", rendered, "a path inside the checkout")
    return git


def _apply(opts: DeploymentOptions, git: Git, rel: str, *, push: bool) -> DeploymentResult:
    path = inside_repo(git.root, rel, "record")
    run_url = journal.workflow_run_url(opts.run_url)

    def attempt() -> tuple[DeploymentResult, bool]:
        """Decide on the records as they are now (re-read on every try) and commit the event."""
        before = path.read_bytes() if path.exists() else b""
        records = journal.parse(before, rel)
        current = lifecycle.fold(records, opts.app, opts.environment, opts.version)
        step = lifecycle.decide(current, opts.event, run_url)
        opened = current.opened or {}
        if not step.write:  # a rerun: the record is there; make sure the mirror is too
            mirrored = _mirror(opts, opened, current.last or {}, run_url)
            return DeploymentResult(current.state.value, current.state.value, False, mirrored, record=rel,
                                    note=f"{_who(opts)} is already {current.state.value} (rerun of this event); "
                                         "nothing to write"), False
        entry = _entry(opts, git, step, records, opened, run_url)
        deployment_id = _mirror(opts, opened, entry, run_url)
        if deployment_id:
            entry["github_deployment_id"] = deployment_id
        sha = commit_edits(git, [FileEdit(path, rel, before, journal.append(before, entry))],
                           _message(opts, step, entry), user_name=opts.git_user_name,
                           user_email=opts.git_user_email)
        note = f"{_who(opts)}: {step.before.value} → {step.transition.target.value} ({step.transition.name})"
        return DeploymentResult(step.transition.target.value, step.before.value, True, deployment_id, sha, rel,
                                note), push

    try:
        return push_reapplied(git, opts.ref, attempt, timeout=push_timeout(opts.push_timeout)).value
    except ProtectedBranchError:
        raise OperationError(f"{opts.ref} is protected and refused the push of the deployment record") from None


def _who(opts: DeploymentOptions) -> str:
    return f"{opts.app} {opts.version} in {opts.environment}"


def _entry(opts: DeploymentOptions, git: Git, step: lifecycle.Step, records: list[dict[str, Any]],
           opened: dict[str, Any] | Any, run_url: str) -> dict[str, Any]:
    """The record line: gitops-bump's fields, the state change, and what the event carries."""
    inherited = dict(opened)  # later events repeat what the opening said, unless told otherwise
    entry: dict[str, Any] = {
        "timestamp": journal.timestamp(),
        "event": step.transition.name,
        "environment": opts.environment,
        "app": opts.app,
        "image": opts.image or inherited.get("image", ""),
        "version": opts.version,
        "digest": opts.digest or inherited.get("digest", ""),
        "previous_version": opts.previous_version or inherited.get("previous_version", ""),
        "gitops_base_commit": git.head(),
        "source_repository": inherited.get("source_repository") or opts.source_repository,
        "source_commit": inherited.get("source_commit") or opts.source_commit,
        "actor": opts.actor,
        "strategy": opts.strategy,
        "run_url": run_url,
        "state": step.transition.target.value,
        "from_state": step.before.value,
    }
    if step.transition.event == "opened":
        superseded = lifecycle.latest_version(records, opts.app, opts.environment)
        if superseded and superseded != opts.version:
            entry["supersedes"] = superseded
            entry["previous_version"] = entry["previous_version"] or superseded
    if opts.reason:
        entry["reason"] = opts.reason
    if opts.cause:
        entry["cause"] = opts.cause
    if opts.override:
        entry["override"] = True
        entry["override_reason"] = opts.override_reason
    given = approvals(opts)
    if given:
        entry["approvals"] = [a.as_json() for a in given]
    links = evidence(opts)
    if links:
        entry["evidence"] = links
    window = downtime(opts)
    if window is not None:
        entry["downtime"] = window.as_json()
    return entry


def _message(opts: DeploymentOptions, step: lifecycle.Step, entry: dict[str, Any]) -> str:
    """Subject and trailers; the trailers name what the record line names."""
    subject = f"chore(deploy): {opts.app} {opts.version} in {opts.environment}: {step.transition.event}"
    lines = trailers(str(entry["source_repository"]), str(entry["source_commit"]), str(entry["run_url"]))
    lines.append(f"Deployment-Event: {step.transition.name}")
    if opts.reason:
        lines.append(f"Deployment-Reason: {' '.join(opts.reason.split())}")
    lines += [f"Approved-by: {user}" for user in dict.fromkeys(a.user for a in approvals(opts))]
    return subject + "\n\n" + "\n".join(lines)


def _mirror(opts: DeploymentOptions, opened: Any, entry: Any, run_url: str) -> int | None:
    if not opts.github_deployments:
        return None
    known = opened.get("github_deployment_id") if hasattr(opened, "get") else None
    request = github_mirror.MirrorRequest(
        github_repository=opts.github_repository, token=opts.github_token or opts.token,
        sha=opts.deployment_sha or str(entry.get("source_commit") or opts.source_commit),
        environment=opts.environment, app=opts.app,
        version=opts.version, image=str(entry.get("image") or opts.image), event=opts.event, cause=opts.cause,
        reason=opts.reason, environment_url=opts.environment_url, log_url=run_url,
        known_id=known if isinstance(known, int) and not isinstance(known, bool) else None)
    return github_mirror.mirror(request)
