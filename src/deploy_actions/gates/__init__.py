"""Deploy-time policy: freeze periods, deploy windows, the pre-deploy checklist and the
emergency override.

This module holds the pure decisions; `checklist` checks the release (changelog, tag, image),
`discipline` what the records and the run say (rolled-back versions, soak time, approvals), and
`gate` runs them all for the `gate` command.

Pure decisions over a moment in time and over check results; the `gate` command feeds them the
clock, the inputs, and what it found in the changelog, the repository and the registry.
The runbook's examples: no deploys Dec 24–26 and Dec 31–Jan 2; no deploys on Fridays after 15:00.

An emergency override opens what is about *time* (freezes, windows) and what is paperwork (the
changelog entry, the rollback plan). It never opens a gate for a release that does not exist:
a missing tag or image stays a failure, because there is nothing to deploy.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deploy_actions.errors import InputError

if TYPE_CHECKING:
    from deploy_actions.release.changelog import Changelog, Section

RELEASE_CHECKS = ("changelog", "tag", "image", "rollback-plan")  # about the release itself
CHECKS = (*RELEASE_CHECKS, "soak", "approvals")  # and about the records and the run
WAIVABLE = frozenset({"changelog", "rollback-plan"})  # paperwork; a missing artifact is never waived
_ROLLBACK_TITLE = re.compile(r"\broll[\s-]?backs?\b", re.IGNORECASE)

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
class Requirement:
    """One line of `require`: a check name, and the arguments of `soak` and `approvals`."""

    name: str
    environment: str = ""  # soak: where the version must have soaked
    seconds: float = 0.0  # soak: how long
    count: int = 0  # approvals: how many distinct people

    @property
    def text(self) -> str:
        if self.name == "soak":
            from deploy_actions.records.history import duration_text

            return f"soak: {self.environment} {duration_text(self.seconds)}"
        return f"approvals {self.count}" if self.name == "approvals" else self.name


@dataclass(frozen=True)
class CheckResult:
    """One item of the pre-deploy checklist: whether it holds, in words, and where to look."""

    check: str  # one of CHECKS
    ok: bool
    detail: str
    file: str | None = None
    line: int | None = None
    waiting: bool = False  # fails only because time must pass (a soak under way)

    def as_json(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    override: bool = False
    failed: tuple[str, ...] = ()  # checks that do not hold, waived or not
    waived: tuple[str, ...] = ()  # failed checks the emergency override let through
    closed_by: str = ""  # what closed the gate first: freeze, window or checklist; "" when open


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


def parse_require(lines: Iterable[str]) -> tuple[Requirement, ...]:
    """The checks named in `require` (one per line, or separated by commas), in order, once each.

    `soak: staging 24h` takes an environment and a duration, `approvals 2` a count (the colon
    is optional); a later `soak` for the same environment, or `approvals`, replaces the earlier.
    """
    from deploy_actions.untrusted import duration as parse_duration

    words = [w for line in lines for w in re.split(r"[,\s]+", line) if w.strip()]
    found: list[Requirement] = []
    i = 0
    while i < len(words):
        word = words[i]
        name = word.strip().lower().rstrip(":")
        i += 1
        if name not in CHECKS:
            raise InputError("require", word, "check names, one per line: " + ", ".join(CHECKS)
                             + " (soak: ENVIRONMENT DURATION, approvals COUNT)")
        item = Requirement(name)
        if name == "soak":
            args = words[i:i + 2]
            i += 2
            expected = "soak: ENVIRONMENT DURATION, e.g. soak: staging 24h"
            if len(args) < 2 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args[0]):
                raise InputError("require", " ".join(["soak:", *args]), expected)
            try:
                seconds = parse_duration("require", args[1])
            except InputError:
                raise InputError("require", f"soak: {' '.join(args)}", expected) from None
            item = Requirement(name, environment=args[0], seconds=seconds)
        elif name == "approvals":
            arg = words[i] if i < len(words) else ""
            i += 1
            if not arg.isdigit() or not 1 <= int(arg) <= 20:
                raise InputError("require", f"approvals {arg}".strip(), "approvals COUNT, 1 to 20, e.g. approvals 2")
            item = Requirement(name, count=int(arg))
        if name in ("soak", "approvals"):  # a later one replaces the earlier
            found = [r for r in found if (r.name, r.environment) != (item.name, item.environment)]
            found.append(item)
        elif item not in found:
            found.append(item)
    return tuple(found)


def changelog_entry_check(changelog: Changelog, version: str) -> CheckResult:
    """The changelog has an entry for `version` that is not yanked."""
    from deploy_actions.release.changelog import missing_entry_line

    entry = changelog.entry(version)
    if entry is None:
        return CheckResult("changelog", False, f"no entry for {version} in {changelog.path}; add "
                           f"'## [{version}] - YYYY-MM-DD' with its release notes",
                           changelog.path, missing_entry_line(changelog, version))
    if entry.status == "yanked":
        return CheckResult("changelog", False, f"{entry.version} is marked YANKED in {changelog.path}; "
                           "a yanked release is not deployed", changelog.path, entry.heading_line)
    when = f" {entry.date}" if entry.date else ""
    return CheckResult("changelog", True, f"{changelog.path} has an entry for {entry.version} "
                       f"({entry.status}{when}, line {entry.heading_line})", changelog.path, entry.heading_line)


def is_rollback_title(title: str) -> bool:
    """`Rollback Plan`, `Rollback`, `How to roll back`, `Roll-back procedure`, any case."""
    return _ROLLBACK_TITLE.search(title) is not None


def rollback_plan_check(changelog: Changelog, version: str) -> CheckResult:
    """The version's entry has a `### …Rollback…` section with something written in it."""
    from deploy_actions.release.changelog import missing_entry_line

    entry = changelog.entry(version)
    if entry is None:
        return CheckResult("rollback-plan", False, f"no entry for {version} in {changelog.path}, so no "
                           "rollback plan", changelog.path, missing_entry_line(changelog, version))
    sections: list[Section] = [s for s in entry.sections if is_rollback_title(s.title)]
    filled = next((s for s in sections if s.has_content), None)
    if filled is not None:
        return CheckResult("rollback-plan", True, f"'### {filled.title}' in {entry.version} "
                           f"(line {filled.line})", changelog.path, filled.line)
    if sections:
        return CheckResult("rollback-plan", False, f"'### {sections[0].title}' in {entry.version} is empty; "
                           "write how to roll back", changelog.path, sections[0].line)
    return CheckResult("rollback-plan", False, f"{entry.version} in {changelog.path} has no '### Rollback Plan' "
                       "section; add one that says how to roll back", changelog.path, entry.heading_line)


def decide(moment: dt.datetime, freezes: Sequence[Freeze], windows: Sequence[Window], *,
           emergency: bool = False, reason: str = "", checklist: Sequence[CheckResult] = ()) -> GateDecision:
    """Whether a deploy may start at `moment` (aware, in the team's time zone), given the
    pre-deploy `checklist`. The emergency override opens freezes, windows and the waivable
    checks, and needs a reason when it does; it never waives a missing tag or image."""
    frozen = [f"freeze {f.text}" for f in freezes if f.covers(moment.date())]
    denied = [f"deploy window {w.text} ({moment:%a %H:%M %Z})" for w in windows if w.covers(moment)]
    blocked = frozen + denied
    failed = tuple(c.check for c in checklist if not c.ok)
    waivable = tuple(name for name in failed if emergency and name in WAIVABLE)
    missing = tuple(name for name in failed if name not in waivable)
    if emergency and (blocked or waivable) and not reason.strip():
        raise InputError("reason", "", "a reason for the emergency override")
    closed = []
    if blocked and not emergency:
        closed.append(f"deploys are closed: {', '.join(blocked)}")
    if missing:
        text = f"pre-deploy checks failed: {', '.join(missing)}"
        if emergency:
            text += " (an emergency override waives the changelog and rollback plan, never a missing tag or image)"
        closed.append(text)
    if closed:
        by = "freeze" if frozen and not emergency else "window" if denied and not emergency else "checklist"
        return GateDecision(False, "; ".join(closed), failed=failed, closed_by=by)
    if emergency and (blocked or waivable):
        overridden = [*blocked, *(f"failed check {name}" for name in waivable)]
        return GateDecision(True, f"emergency override of {', '.join(overridden)}: {reason.strip()}",
                            override=True, failed=failed, waived=waivable)
    text = "no freeze or deploy window applies"
    if checklist:
        text += f"; pre-deploy checks passed: {', '.join(c.check for c in checklist)}"
    return GateDecision(True, text)
