"""The record file: strict reading (one clear line per bad line, never a traceback), appending."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import FileError
from deploy_actions.records import journal

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_append_adds_one_line_and_keeps_every_earlier_byte():
    before = b'{"event":"bump"}'  # no final newline
    after = journal.append(before, {"event": "deployment_opened_v1", "reason": "naïve"})
    assert after.startswith(before + b"\n") and after.endswith(b"\n")
    assert [r["event"] for r in journal.parse(after, "d.jsonl")] == ["bump", "deployment_opened_v1"]
    assert journal.parse(after, "d.jsonl")[1]["reason"] == "naïve"


@pytest.mark.parametrize(("line", "expected"), [
    (b"{not json", "is not a JSON object"),
    (b"[1, 2]", "is a JSON list, not an object"),
    (b'{"version": 3}', "field 'version' is not a string"),
    (b"\xff\xfe", "is not UTF-8"),
])
def test_a_bad_line_names_the_file_and_the_line(line, expected):
    data = b'{"event":"bump"}\n\n' + line + b"\n"
    with pytest.raises(FileError) as err:
        journal.parse(data, "deployments/prod.jsonl")
    assert str(err.value).startswith("deployments/prod.jsonl:3: ") and expected in str(err.value)
    assert err.value.line == 3 and "\n" not in str(err.value)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_records_or_one_clear_line(data):
    try:
        records = journal.parse(data, "deployments/x.jsonl")
    except FileError as err:
        text = str(err)
        assert text.startswith("deployments/x.jsonl:") and "\n" not in text and err.line
        return
    assert all(isinstance(r, dict) for r in records)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@FUZZ
@given(st.lists(json_values | st.text(max_size=30), max_size=6))
def test_any_json_lines_are_records_or_one_clear_line(values):
    data = b"\n".join(json.dumps(v).encode() if not isinstance(v, str) else v.encode() for v in values)
    try:
        journal.parse(data, "r.jsonl")
    except FileError as err:
        assert "\n" not in str(err) and str(err).startswith("r.jsonl:")


def test_timestamps_are_utc_seconds_and_read_back():
    import datetime as dt

    moment = dt.datetime(2026, 11, 22, 11, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert journal.timestamp(moment) == "2026-11-22T10:15:00Z"
    assert journal.parse_time("2026-11-22T10:15:00Z") == moment
    assert journal.parse_time("yesterday") is None
