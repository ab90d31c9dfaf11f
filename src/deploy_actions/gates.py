"""Deploy-time policy: freeze periods, deploy windows and the emergency override.

Pure decisions over a moment in time; the `gate` command feeds them the clock and the inputs.
The runbook's examples: no deploys Dec 24–26 and Dec 31–Jan 2; no deploys on Fridays after 15:00.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deploy_actions.errors import InputError

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_ANNUAL = re.compile(r"^(\d{2})-(\d{2})$")
_WINDOW = re.compile(r"^(?P<days>[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*)\s+"
                     r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class Freeze:
    """A closed range of days: `2026-12-24..2026-12-26`, or every year: `12-31..01-02`."""

    text: str
    start: tuple[int, int, int | None]  # (month, day, year or None for every year)
    end: tuple[int, int, int | None]

    def covers(self, day: dt.date) -> bool:
        (sm, sd, sy), (em, ed, ey) = self.start, self.end
        if sy is not None and ey is not None:
            return dt.date(sy, sm, sd) <= day <= dt.date(ey, em, ed)
        here, first, last = (day.month, day.day), (sm, sd), (em, ed)
        return first <= here <= last if first <= last else (here >= first or here <= last)  # wraps New Year


@dataclass(frozen=True)
class Window:
    """Times when deploys are refused: `Fri 15:00-24:00`, `Sat-Sun 00:00-24:00`."""

    text: str
    days: frozenset[int]
    start: int  # minutes after midnight
    end: int

    def covers(self, moment: dt.datetime) -> bool:
        minutes = moment.hour * 60 + moment.minute
        return moment.weekday() in self.days and self.start <= minutes < self.end


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    override: bool = False


def parse_freeze(text: str) -> Freeze:
    start, sep, end = (part.strip() for part in text.partition(".."))
    if not sep:
        start = end = text.strip()
    try:
        return Freeze(text, _day(start), _day(end))
    except ValueError:
        raise InputError("freeze", text, "a day range such as 2026-12-24..2026-12-26 or 12-31..01-02") from None


def _day(text: str) -> tuple[int, int, int | None]:
    annual = _ANNUAL.match(text)
    if annual:
        month, day = int(annual[1]), int(annual[2])
        dt.date(2024, month, day)  # validates (2024 is a leap year, so 02-29 is allowed)
        return month, day, None
    date = dt.date.fromisoformat(text)
    return date.month, date.day, date.year


def parse_window(text: str) -> Window:
    match = _WINDOW.match(text.strip())
    expected = "a window such as 'Fri 15:00-24:00' or 'Sat-Sun 00:00-24:00'"
    if not match:
        raise InputError("deny-windows", text, expected)
    days: set[int] = set()
    for part in match["days"].lower().split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise InputError("deny-windows", text, expected)
        a, b = _DAYS[first], _DAYS[last or first]
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    start, end = _minutes(match["start"]), _minutes(match["end"])
    if start is None or end is None or start >= end:
        raise InputError("deny-windows", text, expected + " (start before end, 00:00 to 24:00)")
    return Window(text, frozenset(days), start, end)


def _minutes(text: str) -> int | None:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    return value if int(minutes) < 60 and 0 <= value <= 24 * 60 else None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder name such as "America"
        raise InputError("timezone", name, "an IANA time zone such as Europe/Berlin or UTC") from None


def decide(moment: dt.datetime, freezes: Sequence[Freeze], windows: Sequence[Window], *,
           emergency: bool = False, reason: str = "") -> GateDecision:
    """Whether a deploy may start at `moment` (aware, in the team's time zone)."""
    blocked = [f"freeze {f.text}" for f in freezes if f.covers(moment.date())]
    blocked += [f"deploy window {w.text} ({moment:%a %H:%M %Z})" for w in windows if w.covers(moment)]
    if not blocked:
        return GateDecision(True, "no freeze or deploy window applies")
    if emergency:
        if not reason.strip():
            raise InputError("reason", "", "a reason for the emergency override")
        return GateDecision(True, f"emergency override of {', '.join(blocked)}: {reason.strip()}", override=True)
    return GateDecision(False, f"deploys are closed: {', '.join(blocked)}")
