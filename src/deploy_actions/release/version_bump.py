"""version-bump: find the next version, rewrite version files, commit, tag, push, publish.

Everything is decided first (version, notes, every file edit) and only then written, so a
bad input or a failed check leaves the repository exactly as it was. Running it again on
the released commit finds the tag at HEAD and does nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from semver import Version

from deploy_actions import actions_runtime
from deploy_actions.errors import FileError, InputError, OperationError
from deploy_actions.files import FileEdit, inside_repo, read_regular_file
from deploy_actions.git import Git, commit_edits
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME
from deploy_actions.outcome import Outcome
from deploy_actions.release import history
from deploy_actions.release.commits import (
    SQUASH_BODIES,
    CommitPolicy,
    Level,
    SquashBodies,
    commit_override,
    parse_rules,
    pull_request_number,
)
from deploy_actions.release.next_version import (
    Decision,
    decide,
    floating_tags,
    parse_release_as,
    release_as,
    rerun_tag,
    valid_prerelease_id,
)
from deploy_actions.release.notes import parse_sections, render_notes
from deploy_actions.release.packages import Package, parse_linked
from deploy_actions.release.pep440 import parse_any

if TYPE_CHECKING:
    from deploy_actions.release.monorepo import MonorepoResult

_REF_UNSAFE = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")


@dataclass(frozen=True)
class VersionBumpOptions:
    repo: str = "."
    tag_prefix: str = "v"
    bump: str = "auto"
    prerelease_id: str = ""
    major_on_zero: bool = True
    commit_types: tuple[str, ...] = ()
    squash_bodies: str = "auto"
    changelog_sections: tuple[str, ...] = ()
    commit_overrides: bool = False
    prerelease_branches: tuple[str, ...] = ()
    version_source: str = "tags"
    floating_tags: bool = False
    release_as: str = ""
    paths: tuple[str, ...] = ()
    packages: tuple[Package, ...] = ()  # a monorepo's packages (release-please's manifest), each released on its own
    linked_versions: tuple[str, ...] = ()  # groups of components that share one version
    version_files: tuple[str, ...] = ()
    changelog: str = "none"
    changelog_file: str = "CHANGELOG.md"
    commit_message: str = "chore: Bump version to {version}"
    tag: bool = True
    push: bool = False
    remote: str = "origin"
    mode: str = "commit"
    release_branch: str = "release/next"
    base_branch: str = ""
    github_release: bool = False
    github_repository: str = ""
    token: str = ""
    git_user_name: str = BOT_NAME
    git_user_email: str = BOT_EMAIL
    dry_run: bool = False


@dataclass(frozen=True)
class VersionBumpResult:
    version: str
    previous_version: str
    tag: str
    bump: str
    released: bool
    is_prerelease: bool
    release_notes: str
    commit_sha: str = ""
    pull_request_url: str = ""
    floating_tags: tuple[str, ...] = ()  # moved to the release commit along with its tag
    dry_run: bool = False
    notes: tuple[str, ...] = field(default=())  # what we did, for the log and summary

    def outputs(self) -> dict[str, object]:
        return {
            "version": self.version,
            "previous-version": self.previous_version,
            "tag": self.tag,
            "bump": self.bump,
            "released": self.released,
            "is-prerelease": self.is_prerelease,
            "release-notes": self.release_notes,
            "commit-sha": self.commit_sha,
            "pull-request-url": self.pull_request_url,
            "floating-tags": " ".join(self.floating_tags),
            "packages": [{**self.package_entry("", "."), "released": self.released}]
            if self.released or self.pull_request_url else [],
            "released-count": int(self.released),
        }

    def package_entry(self, component: str, path: str) -> dict[str, object]:
        """This release as one item of the `packages` output."""
        return {"component": component, "path": path, "previous-version": self.previous_version,
                "version": self.version, "tag": self.tag, "bump": self.bump, "is-prerelease": self.is_prerelease,
                "release-notes": self.release_notes}

    def outcome(self) -> Outcome:
        prefix = "would release" if self.dry_run else "released"
        if self.released:
            head = f"{prefix} {self.tag} ({self.bump} bump from {self.previous_version or 'nothing'})"
        else:
            head = f"nothing to release (current: {self.previous_version or 'no release yet'})"
        text = "\n".join([head, *self.notes])
        summary = f"## version-bump\n\n{head}\n"
        if self.notes:
            summary += "\n" + "\n".join(f"- {n}" for n in self.notes) + "\n"
        if self.release_notes:
            summary += f"\n{self.release_notes}\n"
        return Outcome(outputs=self.outputs(), text=text, summary=summary)


def _validate(opts: VersionBumpOptions) -> None:
    if _REF_UNSAFE.search(opts.tag_prefix) or opts.tag_prefix.startswith(("-", "/")):
        raise InputError("tag-prefix", opts.tag_prefix, "text that can start a git tag name, e.g. v or api-v")
    if opts.version_source not in ("tags", "version-files"):
        raise InputError("version-source", opts.version_source, "tags or version-files")
    if opts.squash_bodies not in SQUASH_BODIES:
        raise InputError("squash-bodies", opts.squash_bodies, "one of " + ", ".join(SQUASH_BODIES))
    if opts.release_as and parse_release_as(opts.release_as) is None:
        raise InputError("release-as", opts.release_as, "a semantic version such as 2.0.0 or 1.3.0-rc.1")
    _prerelease_branches(opts.prerelease_branches)
    parse_linked(opts.linked_versions, opts.packages)
    if opts.prerelease_id and not valid_prerelease_id(opts.prerelease_id):
        raise InputError("prerelease-id", opts.prerelease_id,
                         "a semver prerelease identifier such as rc, beta or alpha.1")
    for name, branch in (("release-branch", opts.release_branch), ("base-branch", opts.base_branch),
                         ("remote", opts.remote)):
        if branch and (_REF_UNSAFE.search(branch) or branch.startswith("-")):
            raise InputError(name, branch, "a valid git branch or remote name")
    try:
        opts.commit_message.format(version="1.0.0", tag="v1.0.0", previous_version="0.9.0")
    except (KeyError, IndexError, ValueError):
        raise InputError("commit-message", opts.commit_message,
                         "text with only {version}, {tag} and {previous_version} placeholders") from None
    if opts.mode == "pull-request" and opts.dry_run is False and not opts.push:
        raise InputError("push", "false", "true in pull-request mode (the release branch must be pushed)")


def _with_file_version(git: Git, opts: VersionBumpOptions, found: history.History,
                       notes: list[str]) -> history.History:
    """No release tag yet: the version the first version file holds is the current release
    (commitizen's `version_provider`), so a project adopting tags goes on from its version."""
    from deploy_actions.release.version_files import read_version

    held = read_version(git.root, opts.version_files)
    if held is None:
        raise InputError("version-files", "", "at least one file for version-source: version-files")
    text, entry = held
    version = parse_any(text)
    if version is None:
        raise FileError(f"holds {text!r}, which is not a semantic (or PEP 440) version", file=entry)
    current = history.ReleaseTag(f"{opts.tag_prefix}{version}", version)
    last = None if version.prerelease else current
    notes.append(f"no release tag yet: the current version {version} comes from {entry}")
    return dataclasses.replace(found, releases=history.Releases(current, last, None),
                               tagged=(*found.tagged, version))


def _prerelease_branches(lines: tuple[str, ...]) -> list[tuple[str, str]]:
    """`branch: channel` lines (the branch may be a glob such as `beta/*`)."""
    table = []
    for line in lines:
        pattern, sep, channel = line.rpartition(":")
        pattern, channel = pattern.strip(), channel.strip()
        if not sep or not pattern or not valid_prerelease_id(channel):
            raise InputError("prerelease-branches", line,
                             "lines of `branch: channel`, e.g. `next: rc` or `beta/*: beta`")
        table.append((pattern, channel))
    return table


def branch_channel(opts: VersionBumpOptions, branch: str | None) -> str:
    """The prerelease id: the input when given, else the channel of the branch released from
    (semantic-release's `branches: [{name: next, prerelease: rc}]`), else none."""
    if opts.prerelease_id or not branch:
        return opts.prerelease_id
    for pattern, channel in _prerelease_branches(opts.prerelease_branches):
        if fnmatch.fnmatchcase(branch, pattern):
            return channel
    return ""


def _branch(git: Git) -> str | None:
    """The branch HEAD is on; in a detached checkout, the one the workflow runs for."""
    branch = git.current_branch()
    if branch is None and os.environ.get("GITHUB_REF", "").startswith("refs/heads/"):
        branch = os.environ["GITHUB_REF"].removeprefix("refs/heads/")
    return branch


def _override_reader(opts: VersionBumpOptions) -> Callable[[bytes], list[str] | None] | None:
    """With `commit-overrides`, a squash commit's message is replaced by the
    BEGIN_COMMIT_OVERRIDE block of its pull request (read once per pull request)."""
    if not opts.commit_overrides:
        return None
    from deploy_actions.github import GitHubClient

    repository = opts.github_repository or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise InputError("github-repository", "", "owner/name (or $GITHUB_REPOSITORY) for commit-overrides")
    if not opts.token:
        raise InputError("token", "", "a GitHub token that can read pull requests, for commit-overrides")
    client = GitHubClient(repository, opts.token)
    seen: dict[int, list[str] | None] = {}

    def read(message: bytes) -> list[str] | None:
        number = pull_request_number(message)
        if number is None:
            return None
        if number not in seen:
            body = client.pull_request_body(number)
            seen[number] = commit_override(body) if body is not None else None
        return seen[number]

    return read


def _checked_paths(root: Path, paths: tuple[str, ...]) -> list[str]:
    for raw in paths:
        inside_repo(root, raw.rstrip("/") or ".", "paths", raw)
    return list(paths)


@dataclass(frozen=True)
class Plan:
    """One line of releases decided (one tag prefix over its paths), before anything is written."""

    opts: VersionBumpOptions  # the package's own options (the run's, without packages)
    result: VersionBumpResult  # released, or not (the rerun and "nothing to release" answers)
    current: Version | None  # what the newest tag released: what the version files hold now
    last_release: Version | None  # the newest non-prerelease tag
    tagged: tuple[Version, ...]  # every version tagged with the prefix, on any branch
    level: Level
    rerun: bool = False  # a release tag of this line is already at HEAD


def version_bump(opts: VersionBumpOptions) -> VersionBumpResult | MonorepoResult:
    _validate(opts)
    git = Git.open(opts.repo, token=opts.token or None)
    notes: list[str] = []
    opts = with_branch_channel(git, opts, notes)
    if opts.packages:
        from deploy_actions.release.monorepo import release_packages

        return release_packages(git, opts, notes)
    plan = plan_release(git, opts, _checked_paths(git.root, opts.paths), notes)
    if not plan.result.released or opts.dry_run:
        return plan.result
    if opts.mode == "pull-request":
        from deploy_actions.release.release_pr import pull_request_step

        return pull_request_step(git, opts, [plan])[0]
    return release(git, opts, [plan])[0]


def with_branch_channel(git: Git, opts: VersionBumpOptions, notes: list[str]) -> VersionBumpOptions:
    """The options with the prerelease channel of the branch released from, if it has one."""
    if opts.prerelease_branches and not opts.prerelease_id:
        branch = _branch(git)
        channel = branch_channel(opts, branch)
        if channel:
            notes.append(f"branch {branch} releases on the {channel} channel")
            return dataclasses.replace(opts, prerelease_id=channel)
    return opts


def plan_release(git: Git, opts: VersionBumpOptions, paths: Sequence[str], notes: list[str]) -> Plan:
    """The next version of one line of releases (`opts.tag_prefix`, commits touching `paths`,
    git pathspecs; none: every commit) and its notes; `notes` gains what was found on the way."""
    _validate(opts)
    rules = parse_rules(opts.commit_types)
    sections = parse_sections(opts.changelog_sections)
    squash: SquashBodies = opts.squash_bodies  # type: ignore[assignment]  # checked by _validate
    # Types a section shows although they release nothing (docs: Documentation) are kept for the notes.
    noted = frozenset(t for t in sections.shown_types if rules.get(t, Level.NONE) is Level.NONE)
    policy = CommitPolicy(rules, squash, noted, _override_reader(opts))

    note = history.ensure_history(git, opts.tag_prefix, opts.remote)
    if note:
        notes.append(note)
    found = history.read_history(git, opts.tag_prefix, paths, policy)
    if found.releases.newest is None and opts.version_source == "version-files":
        found = _with_file_version(git, opts, found, notes)
    releases, changeset = found.releases, found.changes
    previous = releases.newest
    previous_version = str(previous.version) if previous else ""
    last = releases.last_release
    current = previous.version if previous else None

    def unreleased(version: Version | None, *, rerun: bool = False) -> Plan:
        result = _unreleased(opts, version, previous_version, git, notes)
        return Plan(opts, result, current, last.version if last else None, found.tagged, changeset.level, rerun)

    if releases.at_head is not None and opts.bump in ("auto", "prerelease"):
        # A release tag is already here: a rerun on the released commit reports it and creates
        # nothing, unless it asks for another channel or finalises an rc at the same commit.
        done = rerun_tag(history.versions_at_head(git, opts.tag_prefix), opts.prerelease_id, opts.bump)
        if done is not None:
            return unreleased(done, rerun=True)

    new_since_newest = found.new_since_newest
    decision: Decision | None = None
    asked = opts.release_as or changeset.release_as
    if asked:
        decision, note = release_as(asked, "input release-as" if opts.release_as else "a Release-As footer",
                                    last.version if last else None, found.tagged, changeset.level)
        notes.append(note)
    if decision is None:
        decision = decide(
            last_release=last.version if last else None,
            newest=current,
            level=changeset.level,
            bump=opts.bump,
            prerelease_id=opts.prerelease_id,
            major_on_zero=opts.major_on_zero,
            new_changes_since_newest=new_since_newest,
            taken=found.tagged,
        )
    if decision.version is None:
        return unreleased(current)
    result = released_result(opts, decision, previous_version, render_notes(changeset.changes, sections),
                             found.tagged, git.head(), notes)
    return Plan(opts, result, current, last.version if last else None, found.tagged, changeset.level)


def released_result(opts: VersionBumpOptions, decision: Decision, previous_version: str, release_notes: str,
                    tagged: tuple[Version, ...], head: str, notes: list[str]) -> VersionBumpResult:
    assert decision.version is not None
    version = decision.version
    return VersionBumpResult(
        version=str(version), previous_version=previous_version, tag=f"{opts.tag_prefix}{version}",
        bump=decision.bump, released=True, is_prerelease=bool(version.prerelease), release_notes=release_notes,
        commit_sha=head, dry_run=opts.dry_run, notes=tuple(notes),
        floating_tags=floating_tags(version, opts.tag_prefix, tagged) if opts.floating_tags and opts.tag else (),
    )


def _unreleased(opts: VersionBumpOptions, current: Version | None, previous_version: str,
                git: Git, notes: list[str]) -> VersionBumpResult:
    version = str(current) if current else ""
    return VersionBumpResult(
        version=version, previous_version=previous_version,
        tag=f"{opts.tag_prefix}{version}" if version else "", bump="none", released=False,
        is_prerelease=bool(current and current.prerelease), release_notes="",
        commit_sha=git.head(), dry_run=opts.dry_run, notes=tuple(notes),
    )


def today() -> str:
    fixed = os.environ.get("SOURCE_DATE_EPOCH")
    when = (dt.datetime.fromtimestamp(int(fixed), dt.timezone.utc) if fixed and fixed.isdigit()
            else dt.datetime.now(dt.timezone.utc))
    return when.date().isoformat()


def plan_files(git: Git, opts: VersionBumpOptions, result: VersionBumpResult,
               current: str | None) -> dict[Path, tuple[bytes, bytes]]:
    """Every file edit of the release, decided and verified before anything is written."""
    from deploy_actions.release.version_files import plan_version_files

    edits: dict[Path, tuple[bytes, bytes]] = {}
    for edit in plan_version_files(git.root, opts.version_files, current, result.version):
        if edit.before != edit.after:
            edits[edit.path] = (edit.before, edit.after)
    if opts.changelog == "update":
        from deploy_actions.release.changelog import MAX_CHANGELOG_BYTES, prepend_release

        path = inside_repo(git.root, opts.changelog_file, "changelog-file")
        try:
            before = read_regular_file(path, MAX_CHANGELOG_BYTES) if path.exists() else b""
        except OSError as err:
            raise FileError(f"cannot read the changelog: {err.strerror or err}",
                            file=opts.changelog_file) from None
        try:
            text = before.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("changelog-file", opts.changelog_file, "a UTF-8 text file") from None
        after = prepend_release(text, result.version, today(), result.release_notes,
                                tag_prefix=opts.tag_prefix, path=opts.changelog_file).encode("utf-8")
        if after != before:
            edits[path] = (before, after)
    return edits


def plan_all_files(git: Git, plans: Sequence[Plan]) -> dict[Path, tuple[bytes, bytes]]:
    """The edits of every release of the run (each file is one package's: monorepo checks it)."""
    edits: dict[Path, tuple[bytes, bytes]] = {}
    for plan in plans:
        edits.update(plan_files(git, plan.opts, plan.result, str(plan.current) if plan.current else None))
    return edits


def file_edits(root: Path, edits: dict[Path, tuple[bytes, bytes]]) -> list[FileEdit]:
    return [FileEdit(path, str(path.relative_to(root)), before, after) for path, (before, after) in edits.items()]


def release_message(opts: VersionBumpOptions, results: Sequence[VersionBumpResult]) -> str:
    """`commit-message` for one release; for a monorepo's, one header naming every tag and the
    message of each below it, with its tag (what tells whose release a commit is)."""
    messages = [opts.commit_message.format(version=r.version, tag=r.tag, previous_version=r.previous_version)
                for r in results]
    if len(messages) == 1 and not opts.packages:
        return messages[0]
    return f"chore: release {', '.join(r.tag for r in results)}\n\n" + "\n".join(
        f"- {m.splitlines()[0]} ({r.tag})" for m, r in zip(messages, results, strict=True))


def commit_release(git: Git, opts: VersionBumpOptions, message: str,
                   edits: dict[Path, tuple[bytes, bytes]]) -> str:
    """Write the edits and commit them; returns the commit (HEAD unchanged when no edits)."""
    if not edits:
        return git.head()
    return commit_edits(git, file_edits(git.root, edits), message, user_name=opts.git_user_name,
                        user_email=opts.git_user_email)


def release(git: Git, opts: VersionBumpOptions, plans: Sequence[Plan], *,
            write_files: bool = True) -> list[VersionBumpResult]:
    """Commit the edits of every planned release as one commit, tag each, push it all in one
    atomic push, then publish; on a failed tag or push the local repository is put back."""
    results = [plan.result for plan in plans]
    original = git.head()
    edits = plan_all_files(git, plans) if write_files else {}
    if git.run("status", "--porcelain", "--", *[str(p.relative_to(git.root)) for p in edits],
               check=False).stdout.strip():
        raise OperationError("version files have uncommitted changes; commit or discard them first")
    sha = commit_release(git, opts, release_message(opts, results), edits)
    done = [f"committed {len(edits)} file(s) as {sha[:12]}"] if edits else []
    floated: dict[str, str] = {}  # floating tag → where it pointed locally before ("" = nowhere)
    tags = [r.tag for r in results] if opts.tag else []
    moved = [name for r in results for name in r.floating_tags]
    try:
        for result in results if opts.tag else ():
            git.run("-c", f"user.name={opts.git_user_name}", "-c", f"user.email={opts.git_user_email}",
                    "tag", "--annotate", "-F", "-", "--", result.tag, sha,
                    input_text=f"Release {result.tag}\n\n{result.release_notes}".strip() + "\n")
        if tags:
            done.append(f"tagged {' '.join(tags)}")
        for name in moved:
            floated[name] = git.run("rev-parse", "-q", "--verify", f"refs/tags/{name}", check=False).stdout.strip()
            git.run("tag", "--force", name, sha)
        if moved:
            done.append(f"moved {' '.join(moved)} to {sha[:12]}")
        if opts.push:
            _push(git, opts, tags, moved)
            done.append(f"pushed to {opts.remote}")
    except OperationError:
        _undo(git, tags, original, sha, floated)
        raise
    released = []
    for result in results:
        notes = [*result.notes, *done]
        if opts.github_release:
            notes.append(f"GitHub release {_github_release(opts, result, sha)}")
        released.append(dataclasses.replace(result, commit_sha=sha, notes=tuple(notes)))
    return released


def _push(git: Git, opts: VersionBumpOptions, tags: Sequence[str], moved: Sequence[str]) -> None:
    refs = []
    leases = []
    branch = git.current_branch()
    if branch:
        refs.append(f"refs/heads/{branch}:refs/heads/{branch}")
    refs += [f"refs/tags/{tag}:refs/tags/{tag}" for tag in tags]
    for name in moved:
        # A floating tag moves by design; the lease makes sure it moves from where we saw it.
        ref = f"refs/tags/{name}"
        seen = git.run("ls-remote", "--tags", opts.remote, ref, authenticated=True).stdout.split()
        leases.append(f"--force-with-lease={ref}:{seen[0] if seen else ''}")
        refs.append(f"refs/tags/{name}:{ref}")
    if not refs:
        return
    git.run("push", "--atomic", "--quiet", *leases, opts.remote, *refs, authenticated=True)


def _undo(git: Git, tags: Sequence[str], original: str, sha: str, floated: dict[str, str]) -> None:
    """Put the local repository back as it was after a failed tag or push."""
    for tag in tags:
        git.run("tag", "-d", tag, check=False)
    for name, before in floated.items():
        if before:
            git.run("tag", "--force", name, before, check=False)
        else:
            git.run("tag", "-d", name, check=False)
    if sha != original:
        git.run("reset", "--quiet", "--keep", original, check=False)
    actions_runtime.log(f"rolled back the local release commit and tag(s) {' '.join(tags)}")


def _github_release(opts: VersionBumpOptions, result: VersionBumpResult, sha: str) -> str:
    from deploy_actions.github import GitHubClient

    repository = opts.github_repository or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise InputError("github-repository", "", "owner/name (or $GITHUB_REPOSITORY) for github-release")
    if not opts.token:
        raise InputError("token", "", "a GitHub token to create the release")
    client = GitHubClient(repository, opts.token)
    return client.create_release(result.tag, result.tag, result.release_notes,
                                 prerelease=result.is_prerelease, target_commitish=sha)
