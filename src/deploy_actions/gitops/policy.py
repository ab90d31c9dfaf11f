"""Tag policy: which tags may be deployed, and which changes count as a downgrade.

Runbook rules: every deployed version is traceable, so mutable tags (`latest`, `main`, …)
are refused unless pinned by digest, and going backwards needs an explicit rollback with a
reason.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from semver import Version

from deploy_actions.errors import InputError

MUTABLE_TAGS = ("latest", "main", "master", "stable", "edge", "dev")


def check_tag(tag: str | None, *, pinned: bool = False, deny_tags: Sequence[str] = (),
              require_semver: bool = False) -> None:
    """Refuse a tag that does not name one immutable build (unless a digest pins it)."""
    if not tag:
        if pinned:
            return
        raise InputError("tag", "", "a tag such as v1.2.3 (an empty tag is mutable)")
    if require_semver and semver_of(tag) is None:
        raise InputError("tag", tag, "a semantic version such as v1.2.3 or 1.2.3 (require-semver is on)")
    if pinned:
        return
    if tag.lower() in MUTABLE_TAGS:
        raise InputError("tag", tag, "an immutable tag such as v1.2.3; mutable tags like "
                         f"{', '.join(MUTABLE_TAGS)} are refused unless pinned with digest: pin")
    for pattern in deny_tags:
        if fnmatch.fnmatchcase(tag, pattern):
            raise InputError("tag", tag, f"a tag not matching the deny-tags pattern {pattern!r}")


def semver_of(tag: str) -> Version | None:
    """The version a tag names (`v1.2.3` or `1.2.3`), or None if it is not semver."""
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return Version.parse(text)
    except ValueError:
        return None


def is_downgrade(current: str | None, new: str) -> bool:
    """True when both tags are semver and `new` is older than `current`."""
    if not current:
        return False
    old_v, new_v = semver_of(current), semver_of(new)
    return old_v is not None and new_v is not None and new_v < old_v
