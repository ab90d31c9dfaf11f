"""Reading records back: pure questions over checked entries, and hostile lines fuzzed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy_actions.errors import FileError
from deploy_actions.records import history, journal

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)


def line(at: str, event: str, version: str, **more: object) -> dict[str, object]:
    return {"timestamp": at, "event": event, "app": "app", "environment": "staging", "version": version, **more}


def checked(*records: dict[str, object]) -> list[history.Entry]:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return history.entries(journal.numbered(data.split(b"\n"), "deployments/staging.jsonl"), "deployments/staging.jsonl",
                           "app", "staging")


def test_a_rollback_marks_the_version_it_left_not_the_one_it_went_to():
    found = checked(line("2026-11-22T10:00:00Z", "bump", "v2"),
                    line("2026-11-22T10:30:00Z", "rollback", "v1", previous_version="v2", reason="5xx\nspike"))
    mark = history.rolled_back(found, "v2")
    assert mark is not None and mark.reason == "5xx spike"
    assert mark.sentence() == "v2 was rolled back in staging on 2026-11-22 10:30 UTC because 5xx spike"
    assert history.rolled_back(found, "v1") is None


def test_soak_counts_from_the_last_conclusion_and_says_how_much_is_left():
    found = checked(line("2026-11-23T02:00:00Z", "deployment_concluded_v1", "v2"))
    soak = history.soak(found, "v2", "staging", 24 * 3600, NOW)
    assert not soak.ok and soak.left == 14 * 3600 and history.duration_text(soak.left) == "14h"
    assert history.soak(found, "v2", "staging", 10 * 3600, NOW).ok


def test_a_rollback_of_it_after_the_conclusion_breaks_the_soak_until_the_next_conclusion():
    records = [line("2026-11-21T00:00:00Z", "deployment_concluded_v1", "v2"),
               line("2026-11-22T00:00:00Z", "rollback", "v1", previous_version="v2", reason="v2 broke")]
    soak = history.soak(checked(*records), "v2", "staging", 3600, NOW)
    assert not soak.ok and soak.broken_by is not None and soak.broken_by.reason == "v2 broke"
    again = history.soak(checked(*records, line("2026-11-23T10:00:00Z", "deployment_concluded_v1", "v2")),
                         "v2", "staging", 3600, NOW)
    assert again.ok


def test_a_rollback_to_it_from_a_newer_version_leaves_its_soak_alone():
    records = [line("2026-11-21T00:00:00Z", "deployment_concluded_v1", "v2"),
               line("2026-11-22T00:00:00Z", "rollback", "v2", previous_version="v3", reason="v3 broke")]
    assert history.soak(checked(*records), "v2", "staging", 3600, NOW).ok


def test_a_version_never_concluded_has_the_whole_soak_left():
    soak = history.soak(checked(line("2026-11-21T00:00:00Z", "bump", "v2")), "v2", "staging", 900, NOW)
    assert not soak.ok and soak.concluded_at is None and soak.left == 900


@pytest.mark.parametrize(("field", "value"), [
    ("timestamp", "yesterday"), ("version", "v1 2"), ("source_commit", "not-hex"), ("run_url", "file:///etc/passwd"),
    ("run_url", "https://x/y z"), ("incident", "../../etc/passwd"), ("approvals", [{"user": "a b"}]),
    ("allow_rolled_back", "yes"), ("previous_version", 3),
    ("downtime", "12s"), ("downtime", {"from": "2026-11-22T10:00:20Z", "until": "2026-11-22T10:00:00Z", "seconds": 0}),
    ("downtime", {"from": "2026-11-22T10:00:00Z", "until": "2026-11-22T10:00:12Z", "seconds": 3}),
    ("downtime", {"from": "2026-11-22T10:00:00Z", "until": "soon", "seconds": 12}),
    ("downtime", {"from": "2026-11-22T10:00:00Z", "until": "2026-11-22T10:00:12Z", "seconds": True}),
])
def test_a_bad_field_is_named_with_its_file_and_line(field, value):
    with pytest.raises(FileError) as err:
        checked(line("2026-11-22T10:00:00Z", "bump", "v1"), {**line("2026-11-22T10:00:00Z", "bump", "v2"),
                                                              field: value})
    assert err.value.file == "deployments/staging.jsonl" and err.value.line == 2 and repr(field) in err.value.message


def test_a_recreate_deploys_downtime_window_is_read_back_checked():
    window = {"from": "2026-11-22T10:00:00Z", "until": "2026-11-22T10:00:12Z", "seconds": 12}
    (entry,) = checked(line("2026-11-22T10:00:13Z", "deployment_concluded_v1", "v2", strategy="recreate",
                            downtime=window))
    assert entry.downtime is not None and entry.downtime.seconds == 12 and entry.downtime.as_json() == window
    assert checked(line("2026-11-22T10:00:13Z", "bump", "v2"))[0].downtime is None


def test_other_apps_lines_are_not_ours_to_judge():
    other = {"timestamp": "nonsense", "app": "other", "environment": "staging", "version": "!!"}
    assert checked(other) == []


@settings(deadline=None)  # a shared machine: time is not what this test is about
@given(st.dictionaries(st.sampled_from(["timestamp", "event", "version", "previous_version", "reason", "run_url",
                                        "source_commit", "incident", "approvals", "allow_rolled_back",
                                        "downtime"]),
                       st.one_of(st.text(), st.integers(), st.booleans(), st.none(),
                                 st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
                                          max_size=2))))
def test_any_record_is_an_entry_with_one_line_text_or_a_file_error(fields):
    try:
        found = checked({**fields, "app": "app", "environment": "staging"})
    except FileError as err:
        assert err.line == 1 and "\n" not in err.message
    else:
        entry = found[0]
        assert "\n" not in entry.reason and "\r" not in entry.reason and len(entry.reason) <= history.TEXT_LIMIT
        assert not entry.run_url or history.is_url(entry.run_url)
