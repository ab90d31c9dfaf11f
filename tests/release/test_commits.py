"""Conventional Commits 1.0.0, as version-bump reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions.errors import InputError
from deploy_actions.release.commits import (
    DEFAULT_RULES,
    Level,
    commit_override,
    level_of,
    needs_full_parse,
    parse_message,
    parse_rules,
    pull_request_number,
    release_as,
)


def levels(message: str, rules: dict[str, Level] = DEFAULT_RULES, squash_bodies="auto") -> list[Level]:
    return [level_of(c, rules) for c in parse_message(message, squash_bodies=squash_bodies)]


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


def test_bullets_under_a_conventional_header_do_not_count_by_default():
    # nodejs/undici-style squash: the title is already conventional; its body lists the branch's commits.
    message = ("fix: retry EPIPE (#2040)\n\n* feat: add epipe as retryable error\n\n"
               "* fix: lint\n\n---------\n\nCo-authored-by: A <a@example.com>")
    assert levels(message) == [Level.PATCH]


def test_squash_bodies_always_counts_every_bullet_and_never_counts_none():
    message = "feat: search (#42)\n\n* fix: escape query\n* feat!: new index format"
    assert levels(message, squash_bodies="always") == [Level.MINOR, Level.PATCH, Level.MAJOR]
    assert levels("Release train (#42)\n\n* feat: add search", squash_bodies="never") == []


def test_a_squash_title_repeated_by_its_first_bullet_is_one_change():
    changes = parse_message("feat(api): add search (#42)\n\n* feat(api): add search\n* fix: typo",
                            squash_bodies="always")
    assert [(c.type, c.subject) for c in changes] == [("feat", "add search (#42)"), ("fix", "typo")]


DEPENDABOT = """\
build(deps): bump github.com/spf13/cobra from 1.7.0 to 1.8.0 (#311)

Bumps [github.com/spf13/cobra](https://github.com/spf13/cobra) from 1.7.0 to 1.8.0.
- [Release notes](https://github.com/spf13/cobra/releases)
- [Commits](https://github.com/spf13/cobra/compare/v1.7.0...v1.8.0)

<details>
<summary>Release notes</summary>
<p><em>Sourced from <a href="https://github.com/spf13/cobra/releases">cobra's releases</a>.</em></p>
<blockquote>
<h2>v1.8.0</h2>
<ul>
<li>feat!: drop Go 1.15 support</li>
</ul>
- feat!: remove the legacy args validator
BREAKING CHANGE: completions moved
</blockquote>
</details>

---
updated-dependencies:
- dependency-name: github.com/spf13/cobra
  dependency-type: direct:production
  update-type: version-update:semver-minor
...

Signed-off-by: dependabot[bot] <support@github.com>
"""

RENOVATE = """\
Update dependency pytest to v8 (#77)

This PR contains the following updates:

| Package | Change |
|---|---|
| pytest | `7.4.4` -> `8.0.0` |

---

### Release Notes

> - feat!: drop Python 3.7
> BREAKING CHANGE: removed the `py.path` hooks

```
* feat!: a fenced bullet
```
"""


@pytest.mark.parametrize("squash_bodies", ["auto", "always"])
def test_bot_release_notes_quoted_in_a_body_never_count(squash_bodies):
    assert levels(DEPENDABOT, squash_bodies=squash_bodies) == [Level.NONE]  # build: no release
    assert levels(RENOVATE, squash_bodies=squash_bodies) == []


def test_nested_commits_count_as_their_own_messages():
    message = ("chore: release train (#90)\n\nBEGIN_NESTED_COMMIT\nfeat(storage): add S3 backend\n"
               "\nBREAKING CHANGE: the `dir` key is now `path`\nEND_NESTED_COMMIT\n"
               "BEGIN_NESTED_COMMIT\nfix: typo\nEND_NESTED_COMMIT\n")
    changes = parse_message(message)
    assert [(c.type, c.breaking) for c in changes] == [("chore", False), ("feat", True), ("fix", False)]
    assert changes[1].breaking_note == "the `dir` key is now `path`"


@pytest.mark.parametrize("footer", ["Release-As: 2.0.0", "release-as: 2.0.0", "RELEASE-AS:   2.0.0"])
def test_release_as_footer_any_case(footer):
    assert release_as(f"chore: prepare the big one\n\n{footer}\n") == "2.0.0"
    assert needs_full_parse(f"chore: x\n\n{footer}".encode())


def test_release_as_inside_quoted_text_is_ignored():
    assert release_as("chore: x\n\n> Release-As: 9.0.0\n") is None
    assert release_as("fix: y") is None and not needs_full_parse(b"fix: y\n\nplain body")


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


def test_commit_override_block_splits_into_messages_at_each_conventional_header():
    body = ("Some text.\n\nBEGIN_COMMIT_OVERRIDE\nfeat: add ability to override merged commit message\n\n"
            "fix: another message\nchore: a third message\n\nBREAKING CHANGE: gone\nEND_COMMIT_OVERRIDE\n")
    assert commit_override(body) == ["feat: add ability to override merged commit message",
                                     "fix: another message", "chore: a third message\n\nBREAKING CHANGE: gone"]
    assert commit_override("no block here") is None


@pytest.mark.parametrize(("message", "number"), [
    (b"Storage rework (#1234)\n\n* wip", 1234), (b"feat: x (#7)", 7), (b"feat: x #7", None),
    (b"feat: (#7) in the middle", None),
])
def test_pull_request_number_of_a_squash_title(message, number):
    assert pull_request_number(message) == number
