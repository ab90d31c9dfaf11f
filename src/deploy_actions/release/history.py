"""What has been released and what has changed since: release tags and the commit range.

Reads git through `deploy_actions.git` only. Commits are streamed, and only the changes
that matter for a release are kept, so memory stays flat in the length of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from semver import Version

from deploy_actions import actions_runtime
from deploy_actions.git import Git
from deploy_actions.release.commits import (
    Change,
    CommitPolicy,
    Level,
    level_of,
    needs_full_parse,
    parse_header,
    parse_message,
    release_as,
)
from deploy_actions.release.pep440 import parse_any

_MAX_DEEPEN_ROUNDS = 12


@dataclass(frozen=True)
class ReleaseTag:
    name: str
    version: Version


@dataclass(frozen=True)
class Releases:
    """The release tags reachable from HEAD."""

    newest: ReleaseTag | None  # of any kind, prereleases included
    last_release: ReleaseTag | None  # the newest non-prerelease
    at_head: ReleaseTag | None  # the newest one pointing at HEAD, if any


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...]  # those with a level above NONE, and those of the policy's noted types
    level: Level
    commits: int
    release_as: str | None = None  # the newest `Release-As:` footer in the range, as written


def parse_tag(name: str, prefix: str) -> Version | None:
    if not name.startswith(prefix):
        return None
    text = name[len(prefix):]
    if not text[:1].isdigit():
        return None
    return parse_any(text)  # semver, or PEP 440 as some Python projects tag (v2.48.0rc0)


def list_tags(git: Git, prefix: str, *, merged: bool) -> list[tuple[ReleaseTag, str]]:
    """Valid release tags with the commit each points at (annotated tags peeled), from one
    `for-each-ref`; `merged` keeps only those reachable from HEAD (a full history walk)."""
    args = ["for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", f"refs/tags/{prefix}*"]
    if merged:
        args.insert(1, "--merged=HEAD")
    found = []
    for line in git.out(*args).splitlines():
        name, _, objects = line.partition(" ")
        version = parse_tag(name, prefix)
        if version is not None and objects.split():
            found.append((ReleaseTag(name, version), objects.split()[-1]))
    return found


def release_tags(git: Git, prefix: str) -> Releases:
    """The release tags reachable from HEAD."""
    found = list_tags(git, prefix, merged=True)
    tags = [tag for tag, _ in found]
    head = git.head()
    return Releases(
        newest=_newest(tags),
        last_release=_newest([t for t in tags if not t.version.prerelease]),
        at_head=_newest([tag for tag, commit in found if commit == head]),
    )


def versions_at_head(git: Git, prefix: str) -> list[Version]:
    """Every release version tagged on HEAD itself."""
    head = git.head()
    return [tag.version for tag, commit in list_tags(git, prefix, merged=False) if commit == head]


def _precedence(tag: ReleaseTag) -> tuple[object, ...]:
    """semver.org precedence as a plain tuple: comparing thousands of these is far cheaper than
    comparing `semver.Version` objects, which re-derive their parts on every comparison."""
    v = tag.version
    if not v.prerelease:
        return (v.major, v.minor, v.patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.prerelease.split("."))
    return (v.major, v.minor, v.patch, 0, parts)


def _newest(tags: list[ReleaseTag]) -> ReleaseTag | None:
    return max(tags, key=_precedence, default=None)


def ensure_history(git: Git, prefix: str, remote: str) -> str | None:
    """Deepen a shallow clone until a release tag is reachable. Returns a note, or None."""
    if not git.is_shallow():
        return None
    if git.remote_url_or_none(remote) is None:
        return f"shallow clone without remote '{remote}': counting only the commits present"
    git.run("fetch", "--quiet", "--no-tags", remote,
            f"+refs/tags/{prefix}*:refs/tags/{prefix}*", check=False, authenticated=True)
    depth, total = 50, 0
    for _ in range(_MAX_DEEPEN_ROUNDS):
        if release_tags(git, prefix).newest is not None:
            return f"shallow clone: deepened the history by {total} commit(s) to reach the newest release tag"
        git.run("fetch", "--quiet", "--no-tags", f"--deepen={depth}", remote, authenticated=True)
        total += depth
        if not git.is_shallow():
            return "shallow clone: fetched the full history (no release tag on the way)"
        depth *= 2
    git.run("fetch", "--quiet", "--no-tags", "--unshallow", remote, authenticated=True)
    return "shallow clone: fetched the full history to find the newest release tag"


class _Tally:
    """Commit messages in, releasable changes and their highest level out."""

    def __init__(self, policy: CommitPolicy):
        self.policy = policy
        self.changes: list[Change] = []
        self.level = Level.NONE
        self.commits = 0
        self.release_as: str | None = None

    def result(self) -> ChangeSet:
        return ChangeSet(tuple(self.changes), self.level, self.commits, self.release_as)

    def add(self, sha_bytes: bytes, body: bytes) -> None:
        self.commits += 1
        sha = sha_bytes[:12].decode()
        overridden = self.policy.override(body) if self.policy.override is not None else None
        if overridden is not None:
            changes = [c for message in overridden
                       for c in parse_message(message, sha, self.policy.squash_bodies)]
        elif needs_full_parse(body):
            text = body.decode("utf-8", "replace")
            if self.release_as is None:  # the walk runs newest first: the newest footer wins
                self.release_as = release_as(text)
            changes = parse_message(text, sha, self.policy.squash_bodies)
        else:
            header = parse_header(body.partition(b"\n")[0].decode("utf-8", "replace"), sha)
            changes = [header] if header else []
        for change in changes:
            change_level = level_of(change, self.policy.rules)
            if change_level is not Level.NONE:
                self.changes.append(change)
                self.level = max(self.level, change_level)
            elif change.type in self.policy.noted:
                self.changes.append(change)


@dataclass(frozen=True)
class History:
    """The releases so far and the changes since the last one, from as few history walks as possible."""

    releases: Releases
    changes: ChangeSet  # since releases.last_release
    new_since_newest: bool  # a releasable change came after releases.newest
    tagged: tuple[Version, ...] = ()  # every release version tagged, on any branch


def read_history(git: Git, prefix: str, paths: Sequence[str], policy: CommitPolicy) -> History:
    """Walking a long history is the cost that matters (git parses every commit), so the common
    case takes one walk: linear history from HEAD, whose nearest release tags are also the highest.
    Anything else (merges in the range, `paths`, a higher tag elsewhere) takes the exact route:
    `for-each-ref --merged HEAD`, then `git log TAG..HEAD`."""
    if not paths:
        fast = _single_walk(git, prefix, policy)
        if fast is not None:
            return fast
    releases = release_tags(git, prefix)
    tagged = tuple(tag.version for tag, _ in list_tags(git, prefix, merged=False))
    last = releases.last_release
    changes = changes_since(git, last.name if last else None, paths, policy)
    new_since_newest = True
    if releases.newest is not None and last is not None and releases.newest.name != last.name:
        since_newest = changes_since(git, releases.newest.name, paths, policy)
        new_since_newest = since_newest.level is not Level.NONE
    return History(releases, changes, new_since_newest, tagged)


def _single_walk(git: Git, prefix: str, policy: CommitPolicy) -> History | None:
    """One `git log` from HEAD that stops at the last release; None when the shortcut is not exact."""
    by_commit: dict[bytes, list[ReleaseTag]] = {}
    everything: list[ReleaseTag] = []
    for tag, commit in list_tags(git, prefix, merged=False):
        everything.append(tag)
        by_commit.setdefault(commit.encode(), []).append(tag)
    everything_versions = [tag.version for tag in everything]
    top = _newest(everything)
    top_release = _newest([t for t in everything if not t.version.prerelease])
    head = git.head().encode()
    at_head = _newest(by_commit.get(head, []))
    tally = _Tally(policy)
    newest: ReleaseTag | None = None
    level_at_newest = Level.NONE
    walk = git.records(["log", "--format=%H%x1f%P%x1f%B%x1e", "HEAD"])
    try:
        for record in walk:
            sha, _, rest = record.strip(b"\n").partition(b"\x1f")
            if not sha:
                continue
            here = by_commit.get(sha)
            if here:
                if newest is None:
                    newest, level_at_newest = _newest(here), tally.level
                    if newest != top:
                        return None  # a higher tag exists that this walk has not proven reachable
                release = _newest([t for t in here if not t.version.prerelease])
                if release is not None:
                    if release != top_release:
                        return None
                    releases = Releases(newest, release, at_head)
                    _log_read(tally.commits, release.name)
                    return History(releases, tally.result(), level_at_newest is not Level.NONE,
                                   tuple(everything_versions))
            parents, _, body = rest.partition(b"\x1f")
            if b" " in parents.strip():
                return None  # a merge: `TAG..HEAD` may hold commits this walk would cut off
            tally.add(sha, body)
    finally:
        walk.close()  # stops git early (SIGPIPE) when we return before the end
    if top_release is not None or (top is not None and newest is None):
        return None  # a tag exists but the walk never met it: not reachable, let the exact route decide
    _log_read(tally.commits, newest.name if newest else None)
    return History(Releases(newest, None, at_head), tally.result(),
                   newest is None or level_at_newest is not Level.NONE, tuple(everything_versions))


def _log_read(commits: int, since: str | None) -> None:
    if commits:
        actions_runtime.log(f"read {commits} commit(s) since {since or 'the beginning'}")


def changes_since(git: Git, since: str | None, paths: Sequence[str], policy: CommitPolicy) -> ChangeSet:
    """The releasable changes in `since..HEAD` (all history when since is None).

    Merge commits are skipped: their own messages repeat what they merge.
    """
    args = ["log", "--no-merges", "--format=%H%x1f%B%x1e", since + "..HEAD" if since else "HEAD"]
    if paths:
        args += ["--", *paths]
    tally = _Tally(policy)
    for record in git.records(args):
        sha, _, body = record.strip(b"\n").partition(b"\x1f")
        if sha:
            tally.add(sha, body)
    _log_read(tally.commits, since)
    return tally.result()
