"""The changelog module: parsing Keep a Changelog files, validating them, deciding about pull
requests and prepending a release — specified as plain functions over real text and files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import DeployActionsError, FileError, InputError
from deploy_actions.release.changelog import (
    Changelog,
    changelog_touched,
    missing_entry_line,
    normalize_version,
    parse_changelog,
    prepend_release,
    read_changelog,
    required_sections,
    validate,
)

COMPARE = "https://github.com/org/app/compare/{previous_tag}...{tag}"

KEEP_A_CHANGELOG = """\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]

### Added
- Search by tag, thanks [@alice]

## [1.2.3] - 2024-03-05

### Changes
- Faster startup ([#12](https://github.com/org/app/pull/12))

### Breaking Changes
- `--legacy` is gone

### Migration Steps
1. Drop `--legacy` from your scripts.

### Rollback Plan
Deploy v1.2.2 with gitops-bump; no data migration to undo.

## [1.2.2] - 2024-02-01 [YANKED]

### Fixed
- Crash on empty config

## [1.2.0] - 2024-01-02

### Added
- First public release

[@alice]: https://github.com/alice
[Unreleased]: https://github.com/org/app/compare/v1.2.3...HEAD
[1.2.3]: https://github.com/org/app/compare/v1.2.2...v1.2.3
[1.2.2]: https://github.com/org/app/compare/v1.2.0...v1.2.2
[1.2.0]: https://github.com/org/app/releases/tag/v1.2.0
"""


def parse(text: str) -> Changelog:
    return parse_changelog(text, "CHANGELOG.md")


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def rules(text: str) -> list[tuple[int, str]]:
    return [(p.line, p.rule) for p in validate(parse(text))]


# --------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("heading", "version", "date", "status"), [
    ("## [1.2.3] - 2024-01-02", "1.2.3", "2024-01-02", "released"),
    ("## 1.2.3 - 2024-01-02", "1.2.3", "2024-01-02", "released"),
    ("## v1.2.3 (2024-01-02)", "1.2.3", "2024-01-02", "released"),
    ("## [1.2.3](https://example.com/v1.2.3) – 2024-01-02", "1.2.3", "2024-01-02", "released"),
    ("## [1.2.3] - 2024-01-02 [YANKED]", "1.2.3", "2024-01-02", "yanked"),
    ("## [1.3.0-rc.1] - 2024-01-02", "1.3.0-rc.1", "2024-01-02", "prerelease"),
    ("## [Unreleased]", "Unreleased", None, "unreleased"),
    ("## Unreleased", "Unreleased", None, "unreleased"),
    ("## [1.4.0] - Unreleased", "1.4.0", None, "unreleased"),
    ("## [1.2.3]", "1.2.3", None, "released"),
    ("## 1.2.3 - 2024-01-02 - Codename Otter", "1.2.3", "2024-01-02", "released"),
])
def test_keep_a_changelog_headings_are_entries(heading, version, date, status):
    entry = parse(f"# Changelog\n\n{heading}\n\n- change\n").entries[0]
    assert (entry.version, entry.date, entry.status, entry.notes) == (version, date, status, "- change")
    assert entry.heading_line == 3


def test_link_reference_lines_are_not_versions():
    changelog = parse(KEEP_A_CHANGELOG)
    assert [e.version for e in changelog.entries] == ["Unreleased", "1.2.3", "1.2.2", "1.2.0"]
    assert {link.label for link in changelog.links} == {"@alice", "Unreleased", "1.2.3", "1.2.2", "1.2.0"}
    assert changelog.entry("1.2.0") is not None and changelog.entry("1.1.0") is None


def test_other_second_level_headings_are_not_entries_but_end_the_one_above():
    changelog = parse("## [1.0.0] - 2024-01-01\n- a\n\n## Contributors\n- bob\n")
    assert [e.version for e in changelog.entries] == ["1.0.0"]
    assert changelog.entries[0].notes == "- a"


def test_headings_inside_code_fences_and_comments_are_not_entries():
    text = ("## [1.1.0] - 2024-02-01\n```markdown\n## [9.9.9] - 2020-01-01\n```\n"
            "<!--\n## [8.8.8] - 2020-01-01\n-->\n~~~\n## [7.7.7]\n~~~\n## [1.0.0] - 2024-01-01\n- a\n")
    changelog = parse(text)
    assert [e.version for e in changelog.entries] == ["1.1.0", "1.0.0"]
    assert "## [9.9.9]" in changelog.entries[0].notes


def test_notes_are_the_body_without_heading_trimmed_and_without_the_link_footer():
    changelog = parse(KEEP_A_CHANGELOG)
    oldest = changelog.entry("1.2.0")
    assert oldest is not None and oldest.notes == "### Added\n- First public release"
    middle = changelog.entry("v1.2.3")
    assert middle is not None
    assert middle.notes.startswith("### Changes\n- Faster startup")
    assert middle.notes.endswith("### Rollback Plan\nDeploy v1.2.2 with gitops-bump; no data migration to undo.")


def test_release_template_sections_are_parsed_with_line_numbers():
    entry = parse(KEEP_A_CHANGELOG).entry("1.2.3")
    assert entry is not None
    assert [(s.title, s.line) for s in entry.sections] == [
        ("Changes", line_of(KEEP_A_CHANGELOG, "### Changes")),
        ("Breaking Changes", line_of(KEEP_A_CHANGELOG, "### Breaking Changes")),
        ("Migration Steps", line_of(KEEP_A_CHANGELOG, "### Migration Steps")),
        ("Rollback Plan", line_of(KEEP_A_CHANGELOG, "### Rollback Plan")),
    ]
    assert entry.heading_line == line_of(KEEP_A_CHANGELOG, "## [1.2.3]")


def test_crlf_files_have_the_same_entries_notes_and_line_numbers():
    lf, crlf = parse(KEEP_A_CHANGELOG), parse(KEEP_A_CHANGELOG.replace("\n", "\r\n"))
    assert lf.entries == crlf.entries and lf.links == crlf.links


def test_a_file_without_entries_is_a_valid_empty_changelog():
    changelog = parse("# Changelog\n\nNothing released yet.\n")
    assert changelog.entries == () and changelog.newest is None and validate(changelog) == ()


@pytest.mark.parametrize(("given", "expected"), [
    ("1.2.3", "1.2.3"), ("v1.2.3", "1.2.3"), ("V2.0.0-rc.1+build.5", "2.0.0-rc.1+build.5"),
    ("refs/tags/v1.0.0", "1.0.0"), (" unreleased ", "Unreleased"),
])
def test_versions_given_by_users_may_carry_a_leading_v(given, expected):
    assert normalize_version(given) == expected


@pytest.mark.parametrize("given", ["", "1.2", "latest", "vv1.2.3", "1.2.3.4", "01.2.3", "１.２.３"])
def test_anything_but_a_semantic_version_is_refused(given):
    with pytest.raises(ValueError, match="not a semantic version"):
        normalize_version(given)


def test_lookup_matches_by_semver_precedence_when_the_text_differs():
    changelog = parse("## [1.0.0+build.7] - 2024-01-01\n- a\n")
    assert changelog.entry("v1.0.0") is changelog.entries[0]


# --------------------------------------------------------------------------------- reading files


def test_reading_a_missing_file_is_one_line_file_error(tmp_path):
    with pytest.raises(FileError, match=r"no changelog at CHANGELOG\.md") as err:
        read_changelog(tmp_path / "CHANGELOG.md", "CHANGELOG.md")
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "CHANGELOG.md"
    path.write_bytes(b"# Changelog\n\n## [1.0.0] - 2024-01-01\n- caf\xe9\n")
    with pytest.raises(FileError, match=r"not UTF-8 text \(byte 0xe9 at line 4\)") as err:
        read_changelog(path, "CHANGELOG.md")
    assert err.value.line == 4


def test_a_byte_order_mark_is_not_part_of_the_first_heading(tmp_path):
    path = tmp_path / "CHANGELOG.md"
    path.write_bytes("\ufeff## [1.0.0] - 2024-01-01\n- a\n".encode())
    assert read_changelog(path).entries[0].version == "1.0.0"


def test_a_directory_is_not_a_changelog(tmp_path):
    with pytest.raises(FileError, match="is a directory"):
        read_changelog(tmp_path)


# --------------------------------------------------------------------------------- validating


def test_a_well_formed_changelog_has_no_problems():
    assert validate(parse(KEEP_A_CHANGELOG)) == ()


def test_versions_descend_by_semver_precedence_not_by_text():
    text = ("## [1.10.0] - 2024-03-01\n## [1.9.0] - 2024-02-01\n## [1.9.0-rc.2] - 2024-01-20\n"
            "## [1.9.0-rc.1] - 2024-01-10\n## [1.8.0] - 2024-01-01\n")
    assert validate(parse(text)) == ()


def test_a_version_listed_below_an_older_one_is_out_of_order():
    text = "## [1.2.0] - 2024-03-01\n## [1.1.0] - 2024-02-01\n## [1.1.5] - 2024-01-01\n"
    problems = validate(parse(text))
    assert [(p.line, p.rule) for p in problems] == [(3, "order")]
    assert "1.1.5 is listed below 1.1.0 (line 2)" in problems[0].message


def test_a_version_listed_twice_is_a_duplicate():
    text = "## [1.1.0] - 2024-02-01\n- a\n## [1.1.0] - 2024-02-01\n- b\n"
    assert rules(text) == [(3, "duplicate-version")]


def test_unreleased_must_come_first():
    assert rules("## [1.0.0] - 2024-01-01\n## [Unreleased]\n") == [(2, "order")]


def test_dates_must_be_iso_calendar_dates():
    text = "## [1.2.0] - 2024-02-30\n## [1.1.0] - 02/01/2024\n## [1.0.0] - 2024-1-1\n"
    assert rules(text) == [(1, "date"), (2, "date"), (3, "date")]


def test_a_released_version_without_a_date_is_flagged():
    assert rules("## [1.0.0]\n- a\n") == [(1, "date")]


def test_dates_never_increase_down_the_file():
    text = "## [1.2.0] - 2024-02-01\n## [1.1.0] - 2024-03-01\n## [1.0.0] - 2024-01-01\n"
    problems = validate(parse(text))
    assert [(p.line, p.rule) for p in problems] == [(2, "date")]
    assert "dated 2024-03-01, after 1.2.0 above it (2024-02-01)" in problems[0].message


def test_releases_on_the_same_day_are_fine():
    assert rules("## [1.0.1] - 2024-01-01\n## [1.0.0] - 2024-01-01\n") == []


def test_a_section_heading_twice_in_one_version_is_flagged_at_the_second():
    text = "## [1.0.0] - 2024-01-01\n### Added\n- a\n### Fixed\n- b\n### added\n- c\n"
    problems = validate(parse(text))
    assert [(p.line, p.rule) for p in problems] == [(6, "duplicate-section")]
    assert "first at line 2" in problems[0].message


def test_the_same_section_in_different_versions_is_fine():
    text = "## [1.0.1] - 2024-01-02\n### Added\n- a\n## [1.0.0] - 2024-01-01\n### Added\n- b\n"
    assert rules(text) == []


def test_a_linked_heading_without_its_link_definition_is_flagged():
    text = KEEP_A_CHANGELOG.replace("[1.2.2]: https://github.com/org/app/compare/v1.2.0...v1.2.2\n", "")
    problems = validate(parse(text))
    assert [(p.line, p.rule) for p in problems] == [(line_of(text, "## [1.2.2]"), "links")]
    assert "[1.2.2] has no link definition" in problems[0].message


def test_a_link_definition_for_a_version_without_entry_is_flagged():
    text = KEEP_A_CHANGELOG + "[0.9.0]: https://github.com/org/app/releases/tag/v0.9.0\n"
    problems = validate(parse(text))
    assert [(p.line, p.rule) for p in problems] == [(line_of(text, "[0.9.0]:"), "links")]


def test_user_and_issue_link_definitions_are_not_versions_to_check():
    text = "## [1.0.0] - 2024-01-01\n- by [@bob] in [#3]\n\n[@bob]: https://x/bob\n[#3]: https://x/3\n"
    assert rules(text) == []


def test_headings_without_any_version_link_definitions_are_not_flagged():
    # [1.0.0] is plain text in a file that links no version: consistent, nothing to report
    assert rules("## [Unreleased]\n## [1.0.0] - 2024-01-01\n") == []


def test_a_heading_linked_inline_needs_no_definition():
    text = ("## [1.1.0](https://x/compare/v1.0.0...v1.1.0) - 2024-02-01\n## [1.0.0] - 2024-01-01\n\n"
            "[1.0.0]: https://x/releases/tag/v1.0.0\n")
    assert rules(text) == []


def test_a_second_definition_for_one_label_is_flagged():
    text = "## [1.0.0] - 2024-01-01\n\n[1.0.0]: https://x/a\n[1.0.0]: https://x/b\n"
    assert rules(text) == [(4, "links")]


def test_a_heading_that_looks_like_a_version_but_is_not_semver_is_flagged():
    assert rules("## [1.2] - 2024-01-01\n") == [(1, "heading")]


# --------------------------------------------------------------------------------- required sections


def test_required_sections_present_and_filled_pass():
    entry = parse(KEEP_A_CHANGELOG).entry("1.2.3")
    assert entry is not None
    assert required_sections(entry, ["Rollback Plan", "### migration steps", "Breaking Changes:"]) == ()


def test_a_missing_required_section_points_at_the_version_heading():
    entry = parse(KEEP_A_CHANGELOG).entry("1.2.0")
    assert entry is not None
    (problem,) = required_sections(entry, ["Rollback Plan"])
    assert problem.line == entry.heading_line
    assert problem.message == "1.2.0 has no '### Rollback Plan' section (input 'require-sections' requires it)"


def test_a_required_section_holding_only_a_template_comment_is_empty():
    text = "## [1.0.0] - 2024-01-01\n### Rollback Plan\n\n<!-- How do we undo this? -->\n\n### Changes\n- a\n"
    entry = parse(text).entries[0]
    (problem,) = required_sections(entry, ["Rollback Plan"])
    assert (problem.line, problem.rule) == (2, "required-section") and "is empty" in problem.message


def test_where_a_missing_entry_belongs():
    changelog = parse(KEEP_A_CHANGELOG)
    assert missing_entry_line(changelog, "1.2.1") == line_of(KEEP_A_CHANGELOG, "## [1.2.0]")
    assert missing_entry_line(changelog, "2.0.0") == line_of(KEEP_A_CHANGELOG, "## [1.2.3]")
    assert missing_entry_line(parse(""), "1.0.0") == 1


# --------------------------------------------------------------------------------- pull requests


def test_a_pull_request_that_changes_the_changelog_passes():
    check = changelog_touched(["src/app.py", "CHANGELOG.md"], "./CHANGELOG.md", [], "skip-changelog")
    assert (check.passed, check.reason) == (True, "touched")


def test_a_pull_request_that_does_not_change_the_changelog_fails_and_says_how_to_fix_it():
    check = changelog_touched(["src/app.py", "docs/CHANGELOG.md"], "CHANGELOG.md", ["bug"], "skip-changelog")
    assert (check.passed, check.reason) == (False, "not-touched")
    assert check.message == ("this pull request does not change CHANGELOG.md; add an entry under "
                             "[Unreleased] or add the label 'skip-changelog'")


def test_the_skip_label_waives_the_rule_whatever_its_case():
    check = changelog_touched(["src/app.py"], "CHANGELOG.md", ["Skip-Changelog"], "skip-changelog")
    assert (check.passed, check.reason) == (True, "skipped")


def test_an_empty_skip_label_never_waives_the_rule():
    assert not changelog_touched(["a.py"], "CHANGELOG.md", [""], "").passed


def test_a_changelog_in_a_subdirectory_matches_its_repository_path():
    assert changelog_touched(["services/api/CHANGELOG.md"], "services/api/CHANGELOG.md", [], "x").passed


# --------------------------------------------------------------------------------- prepending


def test_prepend_puts_the_release_right_after_unreleased_and_changes_nothing_else():
    text = "# Changelog\n\n## [Unreleased]\n\n- wip\n\n## [1.0.0] - 2024-01-01\n\n- first\n"
    result = prepend_release(text, "1.1.0", "2024-02-01", "### Features\n\n- search\n")
    block = "## [1.1.0] - 2024-02-01\n\n### Features\n\n- search\n\n"
    assert result == text.replace("## [1.0.0]", block + "## [1.0.0]")


def test_prepend_is_idempotent():
    once = prepend_release(KEEP_A_CHANGELOG, "1.3.0", "2024-04-01", "- x", compare_url_template=COMPARE)
    assert prepend_release(once, "v1.3.0", "2024-05-01", "- y", compare_url_template=COMPARE) == once
    assert prepend_release(KEEP_A_CHANGELOG, "1.2.3", "2024-04-01", "- x") == KEEP_A_CHANGELOG


def test_prepend_keeps_crlf_line_endings():
    text = KEEP_A_CHANGELOG.replace("\n", "\r\n")
    result = prepend_release(text, "1.3.0", "2024-04-01", "- a\n- b\n", compare_url_template=COMPARE)
    assert "\n" not in result.replace("\r\n", "")
    assert result.replace("\r\n", "\n") == prepend_release(
        KEEP_A_CHANGELOG, "1.3.0", "2024-04-01", "- a\n- b\n", compare_url_template=COMPARE)


def test_prepend_links_the_new_version_and_moves_the_unreleased_link():
    result = prepend_release(KEEP_A_CHANGELOG, "1.3.0", "2024-04-01", "- x", compare_url_template=COMPARE)
    assert ("[Unreleased]: https://github.com/org/app/compare/v1.3.0...HEAD\n"
            "[1.3.0]: https://github.com/org/app/compare/v1.2.3...v1.3.0\n"
            "[1.2.3]: https://github.com/org/app/compare/v1.2.2...v1.2.3\n") in result
    assert validate(parse(result)) == ()
    entry = parse(result).entry("1.3.0")
    assert entry is not None and entry.notes == "- x" and entry.date == "2024-04-01"


def test_prepend_into_a_file_that_links_no_versions_adds_no_links():
    text = "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2024-01-01\n- a\n"
    result = prepend_release(text, "1.1.0", "2024-02-01", "- b", compare_url_template=COMPARE)
    assert "compare" not in result and validate(parse(result)) == ()


def test_prepend_creates_a_keep_a_changelog_file_when_there_is_none():
    result = prepend_release("", "0.1.0", "2024-01-01", "- first", compare_url_template=COMPARE)
    assert result.startswith("# Changelog\n\nAll notable changes to this project")
    assert "## [Unreleased]\n\n## [0.1.0] - 2024-01-01\n\n- first\n" in result
    assert result.endswith("[Unreleased]: https://github.com/org/app/compare/v0.1.0...HEAD\n"
                           "[0.1.0]: https://github.com/org/app/releases/tag/v0.1.0\n")
    assert validate(parse(result)) == ()


def test_prepend_follows_a_file_that_writes_versions_without_brackets():
    text = "# Changelog\n\n## 1.0.0 - 2024-01-01\n- a\n"
    assert prepend_release(text, "1.0.1", "2024-01-02", "- b") == \
        "# Changelog\n\n## 1.0.1 - 2024-01-02\n\n- b\n\n## 1.0.0 - 2024-01-01\n- a\n"


def test_prepend_without_unreleased_goes_after_the_preamble():
    text = "# Changelog\n\nOur releases.\n"
    assert prepend_release(text, "1.0.0", "2024-01-01", "- a") == \
        "# Changelog\n\nOur releases.\n\n## [1.0.0] - 2024-01-01\n\n- a\n"


def test_prepend_to_a_file_without_final_newline_ends_its_last_line():
    assert prepend_release("# Changelog\n\n## [Unreleased]\n- wip", "1.0.0", "2024-01-01", "- a") == \
        "# Changelog\n\n## [Unreleased]\n- wip\n\n## [1.0.0] - 2024-01-01\n\n- a\n"


def test_a_backport_lands_in_version_order():
    result = prepend_release(KEEP_A_CHANGELOG, "1.2.1", "2024-01-15", "- backport")
    changelog = parse(result)
    assert [e.version for e in changelog.entries] == ["Unreleased", "1.2.3", "1.2.2", "1.2.1", "1.2.0"]


def test_prepend_refuses_notes_that_would_swallow_the_rest_of_the_file():
    with pytest.raises(FileError, match="did not read back as written"):
        prepend_release(KEEP_A_CHANGELOG, "1.3.0", "2024-04-01", "```\nunclosed fence")


def test_prepend_refuses_a_version_that_is_not_semver():
    with pytest.raises(InputError, match="input 'version'"):
        prepend_release("", "next", "2024-01-01", "- a")


# --------------------------------------------------------------------------------- fuzzing

CHANGELOG_LINES = st.sampled_from([
    "# Changelog", "## [Unreleased]", "## [1.2.3] - 2024-01-02", "## 1.2.3 - 2024-01-02",
    "## [1.0.0] - 2024-01-02 [YANKED]", "## [1.3.0-rc.1] - 2023-12-31", "## [2.0.0] - 02/01/2024",
    "## v0.0.1", "## [99999999999999999999999.0.0]", "## [1." + "9" * 5000 + ".0]", "## [1.2]",
    "### Changes", "### Breaking Changes", "### Migration Steps", "### Rollback Plan", "### Added",
    "- an item", "", "   ", "```", "~~~~", "<!--", "-->", "<!-- a comment -->", "[@user]: https://x/u",
    "[1.2.3]: https://x/compare/v1.2.2...v1.2.3", "[Unreleased]: https://x/compare/v1.2.3...HEAD",
    "[]: x", "[ ]:", "## [", "## ]", "##", "#", "\r", "\ufeff", "## [Unreleased] - ReleaseDate",
])
CHANGELOG_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(CHANGELOG_LINES, st.text(max_size=30)), max_size=40).map("\n".join),
    st.lists(CHANGELOG_LINES, max_size=40).map("\r\n".join),
)
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(CHANGELOG_TEXT)
def test_parsing_and_validating_any_text_never_raises(text):
    changelog = parse_changelog(text)
    validate(changelog)
    for entry in changelog.entries:
        assert 1 <= entry.heading_line <= entry.end_line <= max(changelog.line_count, 1)
        required_sections(entry, ["Rollback Plan"])
        missing_entry_line(changelog, entry.version)
    changelog_touched(text.splitlines(), "CHANGELOG.md", text.split(), "skip-changelog")


@fuzz
@given(CHANGELOG_TEXT, st.sampled_from(["1.2.4", "0.0.1", "3.0.0-rc.1"]), st.text(max_size=60))
def test_prepending_to_any_text_adds_the_entry_once_or_raises_our_error(text, version, notes):
    try:
        result = prepend_release(text, version, "2024-06-01", notes, compare_url_template=COMPARE)
    except DeployActionsError:
        return
    assert parse_changelog(result).entry(version) is not None
    assert prepend_release(result, version, "2024-06-02", notes, compare_url_template=COMPARE) == result


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_reading_any_bytes_gives_a_changelog_or_a_file_error(tmp_path_factory, data):
    path: Path = tmp_path_factory.mktemp("fuzz") / "CHANGELOG.md"
    path.write_bytes(data)
    try:
        read_changelog(path)
    except FileError as err:
        assert err.exit_code == 2


RELEASE_PLEASE = """\
# Changelog

## [2.1.0](https://github.com/googleapis/nodejs-storage/compare/v2.0.1...v2.1.0) (2023-03-02)


### Features

* add retry options ([#101](https://github.com/googleapis/nodejs-storage/issues/101)) ([a1b2c3d](https://github.com/googleapis/nodejs-storage/commit/a1b2c3d))

### [2.0.1](https://github.com/googleapis/nodejs-storage/compare/v2.0.0...v2.0.1) (2023-02-10)


### Bug Fixes

* **deps:** update dependency gaxios to v5 ([#99](https://github.com/googleapis/nodejs-storage/issues/99)) ([e4f5a6b](https://github.com/googleapis/nodejs-storage/commit/e4f5a6b))

## [2.0.0](https://github.com/googleapis/nodejs-storage/compare/v1.9.0...v2.0.0) (2023-01-20)


### ⚠ BREAKING CHANGES

* drop Node 12

### Bug Fixes

* handle empty buckets ([#95](https://github.com/googleapis/nodejs-storage/issues/95)) ([0a1b2c3](https://github.com/googleapis/nodejs-storage/commit/0a1b2c3))

### 1.0 migration notes

Nothing to see.
"""


def test_release_please_level_three_patch_headings_are_entries():
    changelog = parse_changelog(RELEASE_PLEASE)
    assert [e.version for e in changelog.entries] == ["2.1.0", "2.0.1", "2.0.0"]
    patch = changelog.entry("2.0.1")
    assert patch is not None and patch.date == "2023-02-10" and patch.status == "released"
    assert patch.notes.startswith("### Bug Fixes") and "gaxios" in patch.notes
    minor = changelog.entry("2.1.0")
    assert "gaxios" not in minor.notes and [s.title for s in minor.sections] == ["Features"]
    assert [s.title for s in changelog.entry("2.0.0").sections] == [
        "⚠ BREAKING CHANGES", "Bug Fixes", "1.0 migration notes"]


def test_release_please_patch_sections_are_no_duplicates_of_the_release_above():
    assert [p for p in validate(parse_changelog(RELEASE_PLEASE)) if p.rule == "duplicate-section"] == []
