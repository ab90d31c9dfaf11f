"""The next version: the pure decision, from the releases so far, the change level and the options.

Precedence follows semver.org (the `semver` package). The rules, also in the README:

* The base is the newest *release* (non-prerelease) tag; the level is the highest level of
  the changes since it. No release tag yet: the base is 0.0.0.
* `major-on-zero: false` turns a major bump of a 0.x version into a minor one.
* With a prerelease id (a channel), the target release is base + level, or the line of a
  pending prerelease when that is as high (1.2.0 + minor → 1.3.0-rc.1; a breaking change
  during 1.3.0-rc.N → 2.0.0-rc.1). Each channel counts on its own, as semantic-release does:
  the number is one above the highest tag of that channel and line, so rc.1 → rc.2, and
  1.0.1-alpha.1 → beta gives 1.0.1-beta.1 even with no new commit, and alpha after beta.1 gives
  alpha.2. No new releasable change since the newest tag of the same channel: nothing to do.
* A version already tagged on a branch HEAD does not contain (a hotfix branch) is stepped
  over: the result is above every release of its line (same major.minor for a patch, same
  major for a minor).
* Without a prerelease id, a pending prerelease is finalised (1.3.0-rc.2 → 1.3.0), raised
  to base + level if the changes call for more.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from semver import Version

from deploy_actions.release.commits import Level
from deploy_actions.release.pep440 import parse_any

_PRERELEASE_ID = re.compile(r"^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$")


@dataclass(frozen=True)
class Decision:
    version: Version | None  # None: nothing to release
    level: Level
    bump: str  # major | minor | patch | prerelease | none


def valid_prerelease_id(text: str) -> bool:
    return bool(_PRERELEASE_ID.match(text)) and not text.isdigit()


def _bump(base: Version, level: Level) -> Version:
    if level is Level.MAJOR:
        return base.bump_major()
    if level is Level.MINOR:
        return base.bump_minor()
    return base.bump_patch()


def _pre_number(version: Version, prerelease_id: str) -> int | None:
    """N when `version` is `X.Y.Z-<id>.N`, else None."""
    if not version.prerelease:
        return None
    head, _, number = version.prerelease.rpartition(".")
    if head == prerelease_id and number.isdigit():
        return int(number)
    return None


def decide(
    *,
    last_release: Version | None,
    newest: Version | None,
    level: Level,
    bump: str = "auto",
    prerelease_id: str = "",
    major_on_zero: bool = True,
    new_changes_since_newest: bool = True,
    taken: Collection[Version] = (),
) -> Decision:
    """The next version.

    `last_release` is the newest non-prerelease tag, `newest` the newest tag of any kind
    (both None without tags). `level` is the highest change level since `last_release`;
    `new_changes_since_newest` says whether any releasable change came after `newest`.
    `taken` is every version already tagged, on any branch: the result is never one of them.

    >>> decide(last_release=Version.parse("1.2.0"), newest=Version.parse("1.2.0"), level=Level.MINOR).version
    Version(major=1, minor=3, patch=0, prerelease=None, build=None)
    """
    base = last_release or Version(0, 0, 0)
    forced = {"major": Level.MAJOR, "minor": Level.MINOR, "patch": Level.PATCH}.get(bump)
    if forced is not None:
        level = forced
    if level is Level.MAJOR and base.major == 0 and not major_on_zero:
        level = Level.MINOR
    pending = newest if newest is not None and newest.prerelease and newest > base else None
    releases = {_core(v) for v in taken if not v.prerelease}

    if prerelease_id or bump == "prerelease":
        pid = prerelease_id or channel_of(pending) or "rc"
        same_channel = pending is not None and channel_of(pending) == pid
        if same_channel and not new_changes_since_newest and bump == "auto":
            return Decision(None, level, "none")
        if level is Level.NONE and pending is None:
            if bump != "prerelease":
                return Decision(None, Level.NONE, "none")
            level = Level.PATCH
        line = pending.finalize_version() if pending is not None else None
        if level is not Level.NONE:
            target = _step_over(_bump(base, level), level, releases)
            if line is None or target > line:
                line = target
        assert line is not None
        if (line.major, line.minor, line.patch) in releases:  # the line was released elsewhere
            line = _step_over(line, Level.PATCH, releases)
        known = [*taken, pending] if pending is not None else list(taken)
        numbers = [n for v in known if v.finalize_version() == line
                   for n in [_pre_number(v, pid)] if n is not None]
        version = line.replace(prerelease=f"{pid}.{max(numbers, default=0) + 1}")
        continues = pending is not None and line == pending.finalize_version()
        label = "prerelease" if bump == "prerelease" or continues else level.name.lower()
        return Decision(version, level, label)

    if level is Level.NONE:
        return Decision(None, Level.NONE, "none")
    target = _step_over(_bump(base, level), level, releases)
    if pending is not None and pending.finalize_version() > target \
            and _core(pending) not in releases:
        target = pending.finalize_version()
    return Decision(target, level, level.name.lower())


def rerun_tag(at_head: Collection[Version], prerelease_id: str, bump: str) -> Version | None:
    """The release a rerun on an already released commit reports instead of cutting a new one:
    one of the same channel (or, without a channel, a final release; an rc alone at HEAD is
    finalised). A new channel at the same commit is a new release (alpha.1 → beta.1)."""
    if bump == "prerelease" and not prerelease_id:
        same = list(at_head)
    elif prerelease_id:
        same = [v for v in at_head if channel_of(v) == prerelease_id]
    else:
        same = [v for v in at_head if not v.prerelease]
    return max(same, default=None)


def parse_release_as(text: str) -> Version | None:
    """The version `Release-As:` names (`v` in front allowed, PEP 440 too), or None."""
    value = text.strip()
    return parse_any(value[1:] if value[:1] in ("v", "V") else value)


def release_as(asked: str, source: str, last_release: Version | None, taken: Collection[Version],
               level: Level) -> tuple[Decision | None, str]:
    """The version a `Release-As` footer (or input) asks for, as release-please honours it,
    and a note saying what was done. None when it cannot be honoured (the note says why)."""
    version = parse_release_as(asked)
    if version is None:
        return None, f"ignored {source} '{asked}': not a semantic (or PEP 440) version"
    if any(version.compare(v) == 0 for v in taken):
        return None, f"ignored {source} {version}: that version is already tagged"
    if last_release is not None and version <= last_release:
        return None, f"ignored {source} {version}: not above the last release {last_release}"
    base = last_release or Version(0, 0, 0)
    if version.prerelease:
        bump = "prerelease"
    elif version.major != base.major:
        bump = "major"
    elif version.minor != base.minor:
        bump = "minor"
    else:
        bump = "patch"
    return Decision(version, level, bump), f"version {version} set by {source}"


def floating_tags(version: Version, prefix: str, taken: Collection[Version]) -> tuple[str, ...]:
    """The GitHub Actions convention: `vX` and `vX.Y` point at the newest release of their
    line. A prerelease moves none, and a backport to an older line moves only what it leads
    (1.2.5 after 1.3.0 moves v1.2, not v1).

    >>> floating_tags(Version.parse("1.2.5"), "v", [Version.parse("1.3.0")])
    ('v1.2',)
    """
    if version.prerelease:
        return ()
    releases = [v for v in taken if not v.prerelease]
    tags = []
    if all(v.compare(version) <= 0 for v in releases if v.major == version.major):
        tags.append(f"{prefix}{version.major}")
    if all(v.compare(version) <= 0 for v in releases if (v.major, v.minor) == (version.major, version.minor)):
        tags.append(f"{prefix}{version.major}.{version.minor}")
    return tuple(tags)


def _core(version: Version) -> tuple[int, int, int]:
    return version.major, version.minor, version.patch


def _step_over(target: Version, level: Level, releases: set[tuple[int, int, int]]) -> Version:
    """`target`, or when a branch HEAD does not contain has released it already (a hotfix or
    maintenance branch), the next version above every release of its line: the same major and
    minor for a patch, the same major for a minor, any for a major."""
    if _core(target) not in releases:
        return target
    if level is Level.MAJOR:
        return Version(max(major for major, _, _ in releases) + 1, 0, 0)
    if level is Level.MINOR:
        top = max(minor for major, minor, _ in releases if major == target.major)
        return Version(target.major, top + 1, 0)
    top = max(patch for major, minor, patch in releases
              if (major, minor) == (target.major, target.minor))
    return Version(target.major, target.minor, top + 1)


def channel_of(pending: Version | None) -> str:
    """The prerelease channel of a version: `rc` for 1.3.0-rc.2, "" for a release."""
    if pending is None or not pending.prerelease:
        return ""
    head, _, number = pending.prerelease.rpartition(".")
    return head if number.isdigit() and head else pending.prerelease
