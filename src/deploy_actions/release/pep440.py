"""Python's way of writing versions (PEP 440) and the way to and from semver.

Python projects write `1.3.0rc1`, `1.2.0b3` or `0.13.0.dev1` where semver writes `1.3.0-rc.1`,
`1.2.0-beta.3` or `0.13.0-dev.1`. Tags and decisions stay semver. Python version files get the
PEP 440 spelling, and changelogs and inputs accept either. Parsing is `packaging`'s (the
reference implementation of PEP 440), not a regex of ours.

Only versions with three release numbers, no epoch and no post-release map: semver has no
place for `1!2.0`, `1.2` or `1.0.post1`. One ordering differs: PEP 440 puts `1.0.0rc1.dev2`
before `1.0.0rc1`, semver puts `1.0.0-rc.1.dev.2` after it.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from semver import Version

_TO_PEP = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc", "c": "rc", "pre": "rc", "preview": "rc"}
_FROM_PEP = {"a": "alpha", "b": "beta", "rc": "rc"}
_LOCAL = re.compile(r"^[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*$")
# Three release numbers without leading zeros, as semver wants them (PEP 440 would take 01.2.3).
_RELEASE = re.compile(r"^[vV]?(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?![0-9]|\.[0-9])")


def to_pep440(version: Version) -> str | None:
    """The PEP 440 spelling of a semver version, or None when it has none.

    >>> to_pep440(Version.parse("1.3.0-rc.1")), to_pep440(Version.parse("0.13.0-dev.1"))
    ('1.3.0rc1', '0.13.0.dev1')
    """
    core = f"{version.major}.{version.minor}.{version.patch}"
    if version.build:
        if not _LOCAL.match(version.build):
            return None
        local = f"+{version.build}"
    else:
        local = ""
    if not version.prerelease:
        return core + local
    parts = version.prerelease.split(".")
    pre = ""
    if parts[0].lower() in _TO_PEP:
        number = parts[1] if len(parts) > 1 and parts[1].isdigit() else "0"
        pre = _TO_PEP[parts[0].lower()] + str(int(number))
        parts = parts[2:] if len(parts) > 1 and parts[1].isdigit() else parts[1:]
    dev = ""
    if parts and parts[0].lower() == "dev":
        number = parts[1] if len(parts) > 1 and parts[1].isdigit() else "0"
        dev = f".dev{int(number)}"
        parts = parts[2:] if len(parts) > 1 and parts[1].isdigit() else parts[1:]
    if parts or not (pre or dev):
        return None
    return core + pre + dev + local


def from_pep440(text: str) -> Version | None:
    """The semver version a PEP 440 version stands for, or None when it is not one (or has no
    semver equivalent: an epoch, a post-release, other than three release numbers).

    >>> str(from_pep440("1.2.0b3")), str(from_pep440("2.48.0rc0")), str(from_pep440("0.13.0.dev1"))
    ('1.2.0-beta.3', '2.48.0-rc.0', '0.13.0-dev.1')
    """
    if not text.isascii() or len(text) > 200 or not _RELEASE.match(text):
        return None
    try:
        parsed = Pep440Version(text)
    except InvalidVersion:
        return None
    if parsed.epoch or parsed.post is not None or len(parsed.release) != 3:
        return None
    ids: list[str] = []
    if parsed.pre is not None:
        ids += [_FROM_PEP[parsed.pre[0]], str(parsed.pre[1])]
    if parsed.dev is not None:
        ids += ["dev", str(parsed.dev)]
    major, minor, patch = parsed.release
    return Version(major, minor, patch, ".".join(ids) or None, parsed.local)


def parse_any(text: str) -> Version | None:
    """semver first (`1.3.0-rc.1` is valid in both), then PEP 440; None when neither."""
    if not text.isascii():
        return None
    try:
        return Version.parse(text)
    except (ValueError, TypeError):  # ValueError also covers ints longer than Python allows
        return from_pep440(text)


def same_version(a: str, b: str) -> bool:
    """Whether two spellings name the same version (`1.3.0rc1` and `1.3.0-rc.1` do)."""
    if a == b:
        return True
    left, right = parse_any(a), parse_any(b)
    return (left is not None and right is not None and left.compare(right) == 0
            and left.build == right.build)
