"""Release notes and the changelog-sections table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions.errors import InputError
from deploy_actions.release.commits import parse_message
from deploy_actions.release.notes import DEFAULT_SECTIONS, parse_sections, render_notes


def changes(*messages: str):
    return [c for i, m in enumerate(messages) for c in parse_message(m, sha=f"{i:07x}")]


def headings(notes: str) -> list[str]:
    return [line[4:] for line in notes.splitlines() if line.startswith("### ")]


ALL = changes("feat: a", "fix: b", "perf: c", "docs: d", "refactor: e", "feat(api)!: f")


def test_default_sections_breaking_first_then_features_fixes_performance_others():
    assert headings(render_notes(ALL)) == ["Breaking Changes", "Features", "Fixes", "Performance", "Other Changes"]


def test_release_please_style_sections_rename_order_and_hide():
    # googleapis' usual changelog-sections, as `type: Heading` lines
    sections = parse_sections(["feat: Features", "fix: Bug Fixes", "docs: Documentation", "perf: Performance Improvements",
                               "refactor: hidden", "*: hidden"])
    notes = render_notes(ALL, sections)
    assert headings(notes) == ["Breaking Changes", "Features", "Bug Fixes", "Documentation",
                               "Performance Improvements"]
    assert "- e" not in notes and "- d (0000003)" in notes
    assert notes.count("- **api:** f") == 2  # under Breaking Changes and Features, as release-please lists it


def test_several_types_under_one_heading_keep_the_order_of_first_mention():
    sections = parse_sections(["fix: Fixes", "perf: Fixes", "feat: New"])
    assert sections.headings[:2] == (("Fixes", ("fix", "perf")), ("New", ("feat",)))


def test_types_left_out_keep_their_default_sections():
    sections = parse_sections(["docs: Documentation"])
    assert [t for t, _ in sections.headings] == ["Documentation", "Features", "Fixes", "Performance", "Reverts"]


@pytest.mark.parametrize("line", ["feat Features", ": x", "feat:", "feat: A\nfeat: B"])
def test_bad_section_lines_name_the_input(line):
    with pytest.raises(InputError) as err:
        parse_sections(line.split("\n"))
    assert "changelog-sections" in str(err.value)


def test_no_lines_are_the_defaults():
    assert parse_sections([]) is DEFAULT_SECTIONS


@given(st.lists(st.text(max_size=30), max_size=6))
def test_any_lines_parse_or_raise_input_error(lines):
    try:
        sections = parse_sections(lines)
    except InputError:
        return
    render_notes(ALL, sections)
