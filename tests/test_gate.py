"""gate: freeze periods, deploy windows and the emergency override."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy_actions import gates
from deploy_actions.cli import main
from deploy_actions.errors import InputError

BERLIN = ZoneInfo("Europe/Berlin")
RUNBOOK_FREEZES = [gates.parse_freeze("12-24..12-26"), gates.parse_freeze("12-31..01-02")]
FRIDAY_AFTERNOON = [gates.parse_window("Fri 15:00-24:00")]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(("moment", "allowed"), [
    ("2026-12-23T12:00", True), ("2026-12-24T00:00", False), ("2026-12-26T23:59", False),
    ("2026-12-27T09:00", True), ("2026-12-31T09:00", False), ("2027-01-02T18:00", False), ("2027-01-03T09:00", True),
])
def test_the_runbook_freezes_close_christmas_and_new_year_every_year(moment, allowed):
    assert gates.decide(at(moment), RUNBOOK_FREEZES, []).allowed is allowed


@pytest.mark.parametrize(("moment", "allowed"), [
    ("2026-11-20T14:59", True), ("2026-11-20T15:00", False), ("2026-11-20T23:59", False), ("2026-11-21T09:00", True),
    ("2026-11-19T16:00", True),
])
def test_no_deploys_on_friday_after_three(moment, allowed):
    assert gates.decide(at(moment), [], FRIDAY_AFTERNOON).allowed is allowed


def test_windows_are_judged_in_the_teams_time_zone(capsys):
    # 14:30 UTC on a Friday in November is 15:30 in Berlin: closed there, open in UTC.
    args = ["gate", "--deny-windows", "Fri 15:00-24:00", "--now", "2026-11-20T14:30:00+00:00", "--json"]
    assert main([*args, "--timezone", "Europe/Berlin"]) == 1
    assert main([*args, "--timezone", "UTC"]) == 0
    capsys.readouterr()


def test_dated_freeze_applies_only_that_year():
    freeze = [gates.parse_freeze("2026-07-01..2026-07-03")]
    assert not gates.decide(at("2026-07-02T10:00"), freeze, []).allowed
    assert gates.decide(at("2027-07-02T10:00"), freeze, []).allowed


def test_emergency_override_needs_a_reason_and_is_reported(capsys):
    closed = gates.decide(at("2026-12-25T10:00"), RUNBOOK_FREEZES, [], emergency=True, reason="CVE-2026-1234 fix")
    assert closed.allowed and closed.override and "CVE-2026-1234 fix" in closed.reason
    with pytest.raises(InputError):
        gates.decide(at("2026-12-25T10:00"), RUNBOOK_FREEZES, [], emergency=True)
    code = main(["gate", "--freeze", "12-24..12-26", "--now", "2026-12-25T10:00", "--emergency",
                 "--reason", "security fix", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out == {"allowed": True, "override": True, "reason": out["reason"]}
    assert "emergency override of freeze 12-24..12-26: security fix" == out["reason"]


def test_closed_gate_exits_1_with_the_rule_in_words(capsys):
    code = main(["gate", "--freeze", "12-24..12-26", "--now", "2026-12-24T09:00", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["allowed"] is False and "freeze 12-24..12-26" in out["reason"]


@pytest.mark.parametrize(("args", "name"), [
    (["--freeze", "Dec 24"], "freeze"), (["--freeze", "02-30..03-01"], "freeze"),
    (["--deny-windows", "Friday 15:00-24:00"], "deny-windows"), (["--deny-windows", "Fri 16:00-15:00"], "deny-windows"),
    (["--timezone", "Mars/Olympus"], "timezone"), (["--now", "yesterday"], "now"),
])
def test_bad_input_is_one_line_naming_the_input(capsys, args, name):
    assert main(["gate", *args]) == 2
    err = capsys.readouterr().err
    assert f"input '{name}'" in err and len(err.strip().splitlines()) == 1


@given(st.text(max_size=40))
def test_any_freeze_or_window_text_parses_or_is_an_input_error(text):
    for parse in (gates.parse_freeze, gates.parse_window):
        try:
            parse(text)
        except InputError:
            pass


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_a_wrapping_freeze_covers_exactly_the_days_it_names(moment):
    freeze = gates.parse_freeze("12-31..01-02")
    expected = (moment.month, moment.day) in {(12, 31), (1, 1), (1, 2)}
    assert freeze.covers(moment.date()) is expected


@given(st.text(max_size=30))
def test_any_time_zone_text_is_a_zone_or_an_input_error(text):
    try:
        gates.zone(text)
    except InputError as err:
        assert "input 'timezone'" in str(err)
