"""The next version: the pure decision, from the releases so far, the change level and the options.

Precedence follows semver.org (the `semver` package). The rules, also in the README:

* The base is the newest *release* (non-prerelease) tag; the level is the highest level of
  the changes since it. No release tag yet: the base is 0.0.0.
* `major-on-zero: false` turns a major bump of a 0.x version into a minor one.
* With a prerelease id, the target release is base + level; if the newest tag is already a
  prerelease of that target (or of a later one) with the same id, its number goes up
  (1.3.0-rc.1 → 1.3.0-rc.2); otherwise the target's first prerelease is made
  (1.2.0 + minor → 1.3.0-rc.1; a breaking change during 1.3.0-rc.N → 2.0.0-rc.1).
* Without a prerelease id, a pending prerelease is finalised (1.3.0-rc.2 → 1.3.0), raised
  to base + level if the changes call for more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from semver import Version

from deploy_actions.release.commits import Level

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
) -> Decision:
    """The next version.

    `last_release` is the newest non-prerelease tag, `newest` the newest tag of any kind
    (both None without tags). `level` is the highest change level since `last_release`;
    `new_changes_since_newest` says whether any releasable change came after `newest`.

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

    if prerelease_id or bump == "prerelease":
        pid = prerelease_id or _pending_id(pending) or "rc"
        if pending is not None and not new_changes_since_newest and bump == "auto":
            return Decision(None, level, "none")
        if level is Level.NONE and pending is None:
            if bump != "prerelease":
                return Decision(None, Level.NONE, "none")
            level = Level.PATCH
        target = _bump(base, level) if level is not Level.NONE else None
        if pending is not None:
            line = pending.finalize_version()
            if target is None or target <= line:
                number = _pre_number(pending, pid)
                if number is not None:
                    return Decision(line.replace(prerelease=f"{pid}.{number + 1}"), level, "prerelease")
                candidate = line.replace(prerelease=f"{pid}.1")
                if candidate <= pending:  # e.g. rc.3 → beta would go backwards
                    candidate = line.bump_patch().replace(prerelease=f"{pid}.1")
                return Decision(candidate, level, "prerelease")
        assert target is not None
        label = "prerelease" if bump == "prerelease" else level.name.lower()
        return Decision(target.replace(prerelease=f"{pid}.1"), level, label)

    if level is Level.NONE:
        return Decision(None, Level.NONE, "none")
    target = _bump(base, level)
    if pending is not None and pending.finalize_version() > target:
        target = pending.finalize_version()
    return Decision(target, level, level.name.lower())


def _pending_id(pending: Version | None) -> str:
    if pending is None or not pending.prerelease:
        return ""
    head, _, number = pending.prerelease.rpartition(".")
    return head if number.isdigit() and head else pending.prerelease
