"""The next version, by the rules in the README's table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from semver import Version

from deploy_actions.release.commits import Level
from deploy_actions.release.next_version import decide, valid_prerelease_id


def nxt(last: str | None, newest: str | None, level: Level, **kw) -> str | None:
    decision = decide(last_release=Version.parse(last) if last else None,
                      newest=Version.parse(newest) if newest else None, level=level, **kw)
    return str(decision.version) if decision.version else None


@pytest.mark.parametrize(("level", "expected"), [
    (Level.MAJOR, "2.0.0"), (Level.MINOR, "1.3.0"), (Level.PATCH, "1.2.1"), (Level.NONE, None),
])
def test_level_bumps_the_matching_part(level, expected):
    assert nxt("1.2.0", "1.2.0", level) == expected


def test_first_release_starts_from_zero():
    assert nxt(None, None, Level.MINOR) == "0.1.0"
    assert nxt(None, None, Level.PATCH) == "0.0.1"


def test_breaking_on_zero_is_major_by_default_and_minor_when_disabled():
    assert nxt("0.4.2", "0.4.2", Level.MAJOR) == "1.0.0"
    assert nxt("0.4.2", "0.4.2", Level.MAJOR, major_on_zero=False) == "0.5.0"


def test_forced_bump_ignores_the_commits():
    assert nxt("1.2.0", "1.2.0", Level.NONE, bump="minor") == "1.3.0"
    assert nxt("1.2.0", "1.2.0", Level.MAJOR, bump="patch") == "1.2.1"


def test_prerelease_id_starts_a_prerelease_line_then_counts_up():
    assert nxt("1.2.0", "1.2.0", Level.MINOR, prerelease_id="rc") == "1.3.0-rc.1"
    assert nxt("1.2.0", "1.3.0-rc.1", Level.MINOR, prerelease_id="rc") == "1.3.0-rc.2"


def test_breaking_change_during_an_rc_of_a_minor_moves_to_the_next_major_rc():
    assert nxt("1.2.0", "1.3.0-rc.2", Level.MAJOR, prerelease_id="rc") == "2.0.0-rc.1"


def test_without_a_prerelease_id_the_pending_rc_is_finalised():
    assert nxt("1.2.0", "1.3.0-rc.2", Level.MINOR) == "1.3.0"
    assert nxt("1.2.0", "1.3.0-rc.2", Level.PATCH) == "1.3.0"


def test_no_new_change_since_the_rc_makes_no_new_rc():
    assert nxt("1.2.0", "1.3.0-rc.2", Level.MINOR, prerelease_id="rc", new_changes_since_newest=False) is None


def taken(*versions: str) -> list[Version]:
    return [Version.parse(v) for v in versions]


def test_a_new_channel_of_the_same_line_starts_at_one_even_without_new_commits():
    # semantic-release's alpha → beta promotion: no new commit, a new channel, the same line.
    assert nxt("1.0.0", "1.0.1-alpha.1", Level.PATCH, prerelease_id="beta",
               new_changes_since_newest=False, taken=taken("1.0.0", "1.0.1-alpha.1")) == "1.0.1-beta.1"


def test_each_channel_counts_on_its_own():
    # alpha published after beta of the same version continues alpha's count, not beta's.
    tags = taken("1.0.0", "1.0.1-alpha.1", "1.0.1-alpha.2", "1.0.1-beta.1")
    assert nxt("1.0.0", "1.0.1-beta.1", Level.PATCH, prerelease_id="alpha", taken=tags) == "1.0.1-alpha.3"
    assert nxt("1.0.0", "1.0.1-beta.1", Level.PATCH, prerelease_id="beta", taken=tags) == "1.0.1-beta.2"


def test_a_patch_released_on_a_hotfix_branch_is_stepped_over():
    # v1.2.1 and v1.2.2 were cut on release/1.2; main (at v1.2.0) gets a fix.
    tags = taken("1.2.0", "1.2.1", "1.2.2")
    assert nxt("1.2.0", "1.2.0", Level.PATCH, taken=tags) == "1.2.3"
    assert nxt("1.2.0", "1.2.0", Level.MINOR, taken=tags) == "1.3.0"
    assert nxt("1.2.0", "1.2.0", Level.MINOR, taken=[*tags, Version.parse("1.3.0")]) == "1.4.0"
    assert nxt("1.2.0", "1.2.0", Level.MAJOR, taken=[*tags, Version.parse("2.0.0")]) == "3.0.0"


def test_a_hotfix_branch_releases_the_next_patch_of_its_own_line():
    # the hotfix lane: release/1.2 at v1.2.0 while main has moved on to v1.3.0 and v2.0.0.
    assert nxt("1.2.0", "1.2.0", Level.PATCH, taken=taken("1.2.0", "1.3.0", "2.0.0")) == "1.2.1"
    assert nxt("1.2.0", "1.2.0", Level.PATCH, prerelease_id="rc",
               taken=taken("1.2.0", "1.2.1", "1.2.2-rc.1")) == "1.2.2-rc.2"


def test_bump_prerelease_without_changes_still_cuts_one():
    assert nxt("1.2.0", "1.2.0", Level.NONE, bump="prerelease") == "1.2.1-rc.1"
    assert nxt("1.2.0", "1.3.0-rc.1", Level.MINOR, bump="prerelease") == "1.3.0-rc.2"


@pytest.mark.parametrize(("text", "ok"), [("rc", True), ("beta.1", True), ("alpha-2", True),
                                          ("", False), ("1", False), ("rc..1", False), ("r c", False)])
def test_prerelease_ids_follow_semver(text, ok):
    assert valid_prerelease_id(text) is ok


versions = st.builds(Version, st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))


@given(versions, st.sampled_from(list(Level)), st.sampled_from(["", "rc", "beta"]), st.booleans(),
       st.lists(versions, max_size=6))
def test_next_version_is_always_greater_than_the_last_and_never_taken(base, level, pid, major_on_zero, others):
    tags = [base, *others]
    decision = decide(last_release=base, newest=base, level=level, prerelease_id=pid, major_on_zero=major_on_zero,
                      taken=tags)
    if decision.version is not None:
        assert decision.version > base
        assert all(decision.version.compare(t) != 0 for t in tags)
    else:
        assert level is Level.NONE
