"""Conventional Commits 1.0.0, as version-bump reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions.errors import InputError
from deploy_actions.release.commits import DEFAULT_RULES, Level, level_of, parse_message, parse_rules


def levels(message: str, rules: dict[str, Level] = DEFAULT_RULES) -> list[Level]:
    return [level_of(c, rules) for c in parse_message(message)]


def test_feat_is_minor_fix_and_perf_are_patch():
    assert levels("feat: add login") == [Level.MINOR]
    assert levels("fix: crash on empty input") == [Level.PATCH]
    assert levels("perf: faster lookups") == [Level.PATCH]


def test_revert_is_patch_in_both_spellings():
    assert levels("revert: feat: add login") == [Level.PATCH]
    assert levels('Revert "feat: add login"\n\nThis reverts commit abc.') == [Level.PATCH]


def test_other_types_make_no_release():
    assert levels("docs: typo") == [Level.NONE]
    assert levels("chore(deps): bump x") == [Level.NONE]


def test_scope_and_bang_mark_a_breaking_change():
    (change,) = parse_message("feat(api)!: drop v1 endpoints")
    assert change.scope == "api" and change.breaking and change.subject == "drop v1 endpoints"
    assert level_of(change, DEFAULT_RULES) is Level.MAJOR


@pytest.mark.parametrize("footer", ["BREAKING CHANGE", "BREAKING-CHANGE"])
def test_breaking_footer_bumps_major(footer):
    message = f"fix: use new config\n\nLonger text.\n\n{footer}: the `port` key is now `listen`\nRefs: #12"
    (change,) = parse_message(message)
    assert change.breaking
    assert change.breaking_note == "the `port` key is now `listen`"


def test_breaking_footer_note_continues_over_lines():
    (change,) = parse_message("feat: x\n\nBREAKING CHANGE: first line\n  second line")
    assert change.breaking_note == "first line second line"


def test_type_is_case_insensitive():
    assert levels("FEAT: shout") == [Level.MINOR]


def test_squash_merge_body_lines_count_as_their_own_changes():
    message = "Release train (#42)\n\n* feat: add search\n* fix(ui): button colour\n- perf: cache\n* not conventional"
    changes = parse_message(message)
    assert [(c.type, c.scope) for c in changes] == [("feat", None), ("fix", "ui"), ("perf", None)]


def test_squash_title_and_bullets_both_count():
    changes = parse_message("feat: search (#42)\n\n* fix: escape query\n* feat!: new index format")
    assert [level_of(c, DEFAULT_RULES) for c in changes] == [Level.MINOR, Level.PATCH, Level.MAJOR]


def test_text_without_a_convention_announces_nothing():
    assert parse_message("Update README.md") == []
    assert parse_message("feat:no space after colon") == []
    assert parse_message("") == []


def test_breaking_footer_under_a_plain_header_still_breaks():
    (change,) = parse_message("Rework storage\n\nBREAKING CHANGE: data dir moved")
    assert change.breaking


def test_rules_table_is_configurable():
    rules = parse_rules(["docs: patch", "feat=major", "perf: none"])
    assert levels("docs: x", rules) == [Level.PATCH]
    assert levels("feat: x", rules) == [Level.MAJOR]
    assert levels("perf: x", rules) == [Level.NONE]


def test_bad_rule_names_the_input():
    with pytest.raises(InputError) as err:
        parse_rules(["docs -> patch"])
    assert "commit-types" in str(err.value) and "docs -> patch" in str(err.value)


@given(st.text())
def test_any_message_parses_without_error(message):
    for change in parse_message(message):
        assert change.type
        assert level_of(change, DEFAULT_RULES) in Level


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_rules_never_raise_anything_but_input_errors(line):
    try:
        parse_rules([line])
    except InputError:
        pass
