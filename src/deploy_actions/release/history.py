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
from deploy_actions.release.commits import Change, Level, level_of, parse_message

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
    changes: tuple[Change, ...]  # only those with a level above NONE
    level: Level
    commits: int


def parse_tag(name: str, prefix: str) -> Version | None:
    if not name.startswith(prefix):
        return None
    text = name[len(prefix):]
    if not text[:1].isdigit():
        return None
    try:
        return Version.parse(text)
    except ValueError:
        return None


def release_tags(git: Git, prefix: str) -> Releases:
    """One `for-each-ref` lists the reachable tags and the commits they point at."""
    listing = git.out(
        "for-each-ref", "--merged", "HEAD", "--format=%(refname:strip=2) %(objectname) %(*objectname)",
        f"refs/tags/{prefix}*",
    )
    head = git.head()
    tags: list[ReleaseTag] = []
    at_head: list[ReleaseTag] = []
    for line in listing.splitlines():
        name, _, objects = line.partition(" ")
        version = parse_tag(name, prefix)
        if version is None:
            continue
        tag = ReleaseTag(name, version)
        tags.append(tag)
        if head in objects.split():  # lightweight tags name the commit, annotated ones peel to it
            at_head.append(tag)
    return Releases(
        newest=_newest(tags),
        last_release=_newest([t for t in tags if not t.version.prerelease]),
        at_head=_newest(at_head),
    )


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


def changes_since(git: Git, since: str | None, paths: Sequence[str],
                  rules: dict[str, Level]) -> ChangeSet:
    """The releasable changes in `since..HEAD` (all history when since is None).

    Merge commits are skipped: their own messages repeat what they merge.
    """
    args = ["log", "--no-merges", "--format=%H%x1f%B%x1e", since + "..HEAD" if since else "HEAD"]
    if paths:
        args += ["--", *paths]
    kept: list[Change] = []
    level = Level.NONE
    commits = 0
    for record in git.records(args):
        record = record.strip(b"\n")
        if not record:
            continue
        commits += 1
        sha, _, body = record.partition(b"\x1f")
        for change in parse_message(body.decode("utf-8", "replace"), sha.decode()[:12]):
            change_level = level_of(change, rules)
            if change_level is not Level.NONE:
                kept.append(change)
                level = max(level, change_level)
    if commits:
        actions_runtime.log(f"read {commits} commit(s) since {since or 'the beginning'}")
    return ChangeSet(tuple(kept), level, commits)
