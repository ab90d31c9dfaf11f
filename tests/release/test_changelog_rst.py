"""reStructuredText changelogs, as python-semantic-release writes CHANGELOG.rst."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions.release.changelog import parse_changelog, prepend_release, validate

PSR = """\
.. _changelog:

=========
CHANGELOG
=========


.. _changelog-v1.1.0:

v1.1.0 (2024-01-10)
===================

Features
--------

* Add the S3 backend (`#12`_, `abc1234`_)

Bug Fixes
---------

* Close files on error (`def5678`_)

.. _#12: https://github.com/acme/app/pull/12
.. _abc1234: https://github.com/acme/app/commit/abc1234


.. _changelog-v1.0.1:

v1.0.1 (2024-01-02)
===================

Bug Fixes
---------

* Handle EOF (`0a1b2c3`_)

.. _0a1b2c3: https://github.com/acme/app/commit/0a1b2c3


.. _changelog-v1.0.0b3:

v1.0.0b3 (2023-12-20)
=====================

* Initial beta
"""


def test_psr_entries_are_read_with_dates_sections_and_notes():
    changelog = parse_changelog(PSR, "CHANGELOG.rst")
    assert [(e.version, e.date, e.status) for e in changelog.entries] == [
        ("1.1.0", "2024-01-10", "released"), ("1.0.1", "2024-01-02", "released"),
        ("1.0.0b3", "2023-12-20", "prerelease")]
    minor = changelog.entry("v1.1.0")
    assert [s.title for s in minor.sections] == ["Features", "Bug Fixes"]
    assert minor.notes.startswith("Features\n--------\n\n* Add the S3 backend")
    assert minor.notes.endswith(".. _abc1234: https://github.com/acme/app/commit/abc1234")
    assert ".. _changelog-v1.0.1:" not in minor.notes and "Handle EOF" not in minor.notes
    assert changelog.entry("1.0.0-beta.3") is not None
    assert validate(changelog) == ()


def test_a_release_is_prepended_in_psr_layout_and_reads_back():
    notes = "### Features\n\n- **api:** add search (abc1234)\n\n### Fixes\n\n- escape the query (def5678)"
    after = prepend_release(PSR, "1.2.0", "2024-02-01", notes, path="CHANGELOG.rst")
    assert after.endswith(PSR.split("\n\n\n.. _changelog-v1.1.0:")[1])  # everything below is untouched
    assert after.startswith(PSR.split(".. _changelog-v1.1.0:")[0])
    assert ".. _changelog-v1.2.0:\n\nv1.2.0 (2024-02-01)\n===================\n\nFeatures\n--------\n\n" \
           "* **api:** add search (abc1234)\n\nFixes\n-----\n\n* escape the query (def5678)\n" in after
    changelog = parse_changelog(after, "CHANGELOG.rst")
    assert [e.version for e in changelog.entries][:2] == ["1.2.0", "1.1.0"]
    assert prepend_release(after, "1.2.0", "2024-02-01", notes, path="CHANGELOG.rst") == after


def test_a_backport_goes_above_the_first_older_version_and_crlf_survives():
    crlf = PSR.replace("\n", "\r\n")
    after = prepend_release(crlf, "1.0.2", "2024-01-05", "### Fixes\n\n- x", path="CHANGELOG.rst")
    assert "\r\r" not in after and after.count("\n") == after.count("\r\n")
    versions = [e.version for e in parse_changelog(after, "CHANGELOG.rst").entries]
    assert versions == ["1.1.0", "1.0.2", "1.0.1", "1.0.0b3"]


def test_an_empty_file_starts_a_psr_changelog():
    after = prepend_release("", "0.1.0", "2024-01-01", "### Features\n\n- first", path="CHANGELOG.rst")
    assert after.startswith(".. _changelog:\n\n=========\nCHANGELOG\n=========\n")
    assert parse_changelog(after, "CHANGELOG.rst").entry("0.1.0").notes == "Features\n--------\n\n* first"


@given(st.text(alphabet=st.sampled_from("v1.0= -\n#*()2ab`_:"), max_size=200))
def test_any_text_parses(text):
    changelog = parse_changelog(text, "CHANGELOG.rst")
    validate(changelog)


@pytest.mark.parametrize("title", ["Features", "1.0 migration notes"])
def test_titles_that_name_no_version_are_not_entries(title):
    text = f"{title}\n{'=' * len(title)}\n\nText.\n"
    assert parse_changelog(text, "CHANGELOG.rst").entries == ()
