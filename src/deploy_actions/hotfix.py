"""The hotfix lane's paperwork: a fix shipped from a `hotfix/*` branch must come back to main, and
every hotfix gets a post-mortem.

`merge_back` finds the hotfix branches on origin whose commits are not in the base branch (by
patch, so a cherry-pick or a rebase counts as merged), warns about each, and opens one reminder
issue per branch left unmerged longer than `after`. `post_mortem_issue` opens the hotfix's
post-mortem from the runbook template. Both are idempotent: a rerun opens no second issue.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from deploy_actions.errors import InputError
from deploy_actions.git import Git
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.records import journal
from deploy_actions.records.history import duration_text, neutral, when
from deploy_actions.records.post_mortem import DUE_HOURS

REMINDER_LABELS = ["hotfix", "merge-back"]
POST_MORTEM_LABELS = ["post-mortem", "hotfix"]


@dataclass(frozen=True)
class Unmerged:
    """A hotfix branch whose commits main lacks."""

    branch: str
    head: str
    since: dt.datetime  # the branch head's commit time
    commits: tuple[str, ...]  # "sha subject" of each commit not in the base, oldest first


@dataclass(frozen=True)
class HotfixResult:
    unmerged: tuple[Unmerged, ...]
    base: str
    reminders: tuple[str, ...] = ()
    post_mortem_url: str = ""
    notes: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = field(default=())

    def outcome(self) -> Outcome:
        outputs = {"unmerged": json.dumps([u.branch for u in self.unmerged]),
                   "merge-back-issues": json.dumps(list(self.reminders)), "post-mortem-url": self.post_mortem_url}
        summary = "## hotfix\n\n" + "".join(f"- {n}\n" for n in self.notes)
        return Outcome(outputs=outputs, text="\n".join(self.notes), summary=summary, annotations=self.annotations)


def run(options: dict[str, Any]) -> Outcome:
    now = dt.datetime.now(dt.timezone.utc)
    git = Git.open(options["repo"] or ".", token=options["token"] or None)
    pattern: str = options["branches"]
    base: str = options["base"]
    for name, value in (("branches", pattern), ("base", base)):
        if not value or not git.ok("check-ref-format", "--allow-onelevel", f"refs/heads/{value.replace('*', 'x')}"):
            raise InputError(name, value, "a branch name (branches: a glob such as hotfix/*)")
    if options["post_mortem"] and not options["version"]:
        raise InputError("version", "", "the hotfix's version, e.g. hotfix-v1.2.4 (post-mortem: true needs it)")
    if options["post_mortem"] and not options["reason"].strip():
        raise InputError("reason", "", "what the hotfix fixes (post-mortem: true needs it)")
    found = merge_back(git, pattern, base)
    notes: list[str] = []
    annotations: list[Annotation] = []
    reminders: list[str] = []
    client = None
    if (options["post_mortem"] or any(now - u.since >= dt.timedelta(seconds=options["merge_back_after"])
                                      for u in found)):
        from deploy_actions.github import GitHubClient

        client = GitHubClient(options["github_repository"], options["github_token"] or options["token"])
    try:
        for item in found:
            age = now - item.since
            annotations.append(Annotation("warning", f"{item.branch} has {len(item.commits)} commit(s) not in {base} "
                                          f"(since {when(item.since)}); merge it back so the next release keeps "
                                          "the fix", title="Merge the hotfix back"))
            if client is not None and age >= dt.timedelta(seconds=options["merge_back_after"]):
                url, _, created = client.open_issue(*reminder(item, base, age), REMINDER_LABELS)
                reminders.append(url)
                notes.append(f"{'opened' if created else 'still open'}: merge-back reminder {url}")
        if not found:
            notes.append(f"every branch matching {pattern} is merged into {base}")
        post_mortem_url = ""
        if options["post_mortem"] and client is not None:
            post_mortem_url, _, created = client.open_issue(
                *post_mortem_issue(options["version"], options["reason"], journal.workflow_run_url(), now),
                POST_MORTEM_LABELS)
            notes.append(f"{'opened' if created else 'found'} post-mortem {post_mortem_url}, due "
                         f"{when(now + dt.timedelta(hours=DUE_HOURS))}")
    finally:
        if client is not None:
            client.close()
    return HotfixResult(tuple(found), base, tuple(reminders), post_mortem_url, tuple(notes),
                        tuple(annotations)).outcome()


def merge_back(git: Git, pattern: str, base: str) -> list[Unmerged]:
    """The branches on origin matching `pattern` with commits (by patch) that `base` lacks."""
    listing = git.run("ls-remote", "--heads", "origin", authenticated=True).stdout
    heads = {ref.removeprefix("refs/heads/"): sha for sha, _, ref in (line.partition("\t") for line in
                                                                     listing.splitlines())}
    if base not in heads:
        raise InputError("base", base, "a branch on origin")
    branches = sorted(name for name in heads if fnmatch.fnmatchcase(name, pattern) and name != base)
    if not branches:
        return []
    specs = [f"+refs/heads/{name}:refs/remotes/origin/{name}" for name in [base, *branches]]
    git.run("fetch", "--quiet", *(["--unshallow"] if git.is_shallow() else []), "origin", *specs,
            authenticated=True)
    found = []
    for name in branches:
        # `git cherry`: "+ sha" for each commit whose patch is not in base (cherry-picks count as merged).
        lines = git.out("cherry", f"refs/remotes/origin/{base}", f"refs/remotes/origin/{name}").splitlines()
        missing = [line[2:] for line in lines if line.startswith("+ ")]
        if not missing:
            continue
        subjects = tuple(git.out("log", "-1", "--format=%h %s", sha) for sha in missing)
        since = dt.datetime.fromtimestamp(int(git.out("log", "-1", "--format=%ct", heads[name])), dt.timezone.utc)
        found.append(Unmerged(name, heads[name], since, subjects))
    return found


def reminder(item: Unmerged, base: str, age: dt.timedelta) -> tuple[str, str]:
    """The merge-back reminder issue: title and body."""
    commits = "\n".join(f"- {neutral(c)}" for c in item.commits)
    body = (f"`{item.branch}` shipped a hotfix {duration_text(age.total_seconds())} ago "
            f"({when(item.since)}) and {base} still lacks {len(item.commits)} of its commit(s):\n\n{commits}\n\n"
            f"Merge (or cherry-pick) them into `{base}`, so the next release does not undo the fix. This issue "
            "closes nothing by itself: close it when the fix is in.\n")
    return f"Merge {item.branch} back into {base}", body


def post_mortem_issue(version: str, reason: str, run_url: str, now: dt.datetime) -> tuple[str, str]:
    """The hotfix's post-mortem from the runbook template: title and body."""
    text = neutral(reason).replace("@", "@\u200b").replace("<", "&lt;").replace(">", "&gt;")
    lines = [
        f"**Due:** {when(now + dt.timedelta(hours=DUE_HOURS))} ({DUE_HOURS} h after the hotfix)",
        "",
        "## Summary",
        "",
        f"Hotfix {version} went out through the hotfix lane: {text}.",
        "",
        "## Timeline",
        "",
        "| event | time |",
        "| --- | --- |",
        f"| hotfix {version} shipped | {when(now)} |",
        "",
        *([f"Workflow run: {run_url}", ""] if run_url else []),
        "## Root cause",
        "",
        "_To fill in: what failed in production, and why the normal lane could not wait._",
        "",
        "## Action items",
        "",
        "- [ ] Merge the hotfix back into main",
        "- [ ] Add the test or check that would have caught it",
        "- [ ] Review the alerting: did detection come in time?",
        "",
    ]
    return f"Post-mortem: hotfix {version}", "\n".join(lines)
