"""Reading an environment's records back: which versions were rolled back, how long a version
has soaked, who approved a deployment.

The record file is written by our commands, but it lives in a repository many people and bots
can push to, so every line read back is hostile until checked: `read` turns the lines of one
app into `Entry` values (commits hex, URLs http(s) URLs, names and versions by their patterns,
free text neutralised for a log line) or stops at the first bad field, naming file and line.
The questions (`rolled_back`, `soak`) are pure functions over those entries.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deploy_actions.errors import FileError
from deploy_actions.files import inside_repo
from deploy_actions.records import journal

ROLLBACK = "rollback"
CONCLUDED = "deployment_concluded_v1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,254}$")
TEXT_LIMIT = 300


@dataclass(frozen=True)
class Approval:
    """One approval of a deployment, as GitHub's environment protection rules reported it."""

    user: str
    environment: str
    comment: str = ""

    def as_json(self) -> dict[str, str]:
        return {"user": self.user, "environment": self.environment, "comment": self.comment}


@dataclass(frozen=True)
class Downtime:
    """A recreate deploy's downtime: from the deploy commit until the new version answered."""

    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> int:
        return round((self.end - self.start).total_seconds())

    def as_json(self) -> dict[str, object]:
        return {"from": journal.timestamp(self.start), "until": journal.timestamp(self.end), "seconds": self.seconds}


@dataclass(frozen=True)
class Entry:
    """One record line of an app, checked field by field."""

    line: int
    at: dt.datetime
    event: str
    app: str
    environment: str
    version: str
    previous_version: str = ""
    reason: str = ""
    run_url: str = ""
    source_commit: str = ""
    incident: str = ""
    allow_rolled_back: bool = False
    approvals: tuple[Approval, ...] = ()
    downtime: Downtime | None = None


@dataclass(frozen=True)
class RolledBack:
    """The rollback that took `version` out of `environment`, in words a person can act on."""

    version: str
    environment: str
    at: dt.datetime
    reason: str
    incident: str = ""
    run_url: str = ""

    def sentence(self) -> str:
        """`v1.3.0 was rolled back in production on 2026-11-22 10:15 UTC because …`."""
        text = f"{self.version} was rolled back in {self.environment} on {when(self.at)}"
        text += f" because {self.reason}" if self.reason else " (no reason recorded)"
        if self.incident:
            text += f" (incident {self.incident})"
        return text

    def refusal(self, doing: str) -> str:
        """The one line that refuses to `doing` (e.g. "deploy it to production again")."""
        return (f"{self.sentence()}; refusing to {doing}. To override, set allow-rolled-back: true and a reason "
                "(both are recorded)")


@dataclass(frozen=True)
class Soak:
    """How long `version` has run concluded in `environment`, and what, if anything, broke it."""

    version: str
    environment: str
    needed: float  # seconds
    concluded_at: dt.datetime | None
    soaked: float  # seconds since concluded_at, 0 when not concluded
    broken_by: RolledBack | None = None

    @property
    def ok(self) -> bool:
        return self.concluded_at is not None and self.broken_by is None and self.soaked >= self.needed

    @property
    def left(self) -> float:
        """Seconds still to wait (0 when done; the full time when the clock has not started)."""
        if self.concluded_at is None or self.broken_by is not None:
            return self.needed
        return max(0.0, self.needed - self.soaked)


def when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration_text(seconds: float) -> str:
    """`23h 10m`, `14m`, `40s`: how long, for people."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def neutral(text: str, limit: int = TEXT_LIMIT) -> str:
    """Free text from a record, safe on one log line: control and format characters dropped
    (no newline can start a `::workflow-command::`), whitespace collapsed, length bounded."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    flat = " ".join(kept.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def read(root: Path, rel: str, app: str, environment: str) -> list[Entry]:
    """The checked entries of `app` in `environment`'s record file `rel` (none when it does not exist)."""
    path = inside_repo(root, rel, "record")
    if not path.is_file():
        return []
    with open(path, "rb") as lines:  # streamed: a year of a fleet's records is never held at once
        return entries(journal.numbered(lines, rel), rel, app, environment)


def entries(lines: Iterable[tuple[int, Mapping[str, Any]]], rel: str, app: str, environment: str) -> list[Entry]:
    """`app`'s records among numbered raw records, each checked; FileError at the first bad field."""
    return [_entry(number, record, rel) for number, record in lines
            if record.get("app") == app and record.get("environment") == environment]


def _entry(number: int, record: Mapping[str, Any], rel: str) -> Entry:
    def bad(field: str, expected: str) -> FileError:
        shown = neutral(repr(record.get(field)), 60)
        return FileError(f"field {field!r} is {shown}, expected {expected}; fix or remove that line", file=rel,
                         line=number)

    def text(field: str, pattern: re.Pattern[str] | None, expected: str) -> str:
        value = record.get(field, "")
        if value is None:
            value = ""
        if not isinstance(value, str) or (value and pattern is not None and not pattern.match(value)):
            raise bad(field, expected)
        return value

    at = journal.parse_time(record.get("timestamp", "")) if isinstance(record.get("timestamp"), str) else None
    if at is None:
        raise bad("timestamp", "a UTC time such as 2026-11-22T10:15:00Z")
    event = text("event", _NAME, "an event name")
    version = text("version", _VERSION, "a version such as v1.2.3")
    if not version:
        raise bad("version", "a version such as v1.2.3")
    run_url = text("run_url", None, "")
    if run_url and not is_url(run_url):
        raise bad("run_url", "an http(s) URL")
    allow = record.get("allow_rolled_back", False)
    if not isinstance(allow, bool):
        raise bad("allow_rolled_back", "true or false")
    return Entry(
        line=number, at=at, event=event, app=str(record["app"]), environment=str(record["environment"]),
        version=version,
        previous_version=text("previous_version", _VERSION, "a version such as v1.2.3"),
        reason=neutral(text("reason", None, "text")),
        run_url=run_url,
        source_commit=text("source_commit", _COMMIT, "a hex commit id"),
        incident=_incident(text("incident", _PATH, "a path inside the repository"), bad),
        allow_rolled_back=allow,
        approvals=_approvals(record.get("approvals", []), bad),
        downtime=_downtime(record.get("downtime"), bad),
    )


def _approvals(value: object, bad: Any) -> tuple[Approval, ...]:
    try:
        return approvals_from(value)
    except ValueError:
        raise bad("approvals", "a list of {user, environment, comment}") from None


def _downtime(value: object, bad: Any) -> Downtime | None:
    try:
        return downtime_from(value)
    except ValueError:
        raise bad("downtime", DOWNTIME_SHAPE) from None


DOWNTIME_SHAPE = "{from, until, seconds}: two UTC times, until not before from, seconds between them"


def downtime_from(value: object) -> Downtime | None:
    """A record's `downtime` ({from, until, seconds}: two UTC times in order, and seconds that agree
    with them) as a Downtime, None when absent; ValueError when it is not one."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("from", "until")):
        raise ValueError(DOWNTIME_SHAPE)
    start, end = journal.parse_time(value["from"]), journal.parse_time(value["until"])
    seconds = value.get("seconds")
    if (start is None or end is None or end < start or isinstance(seconds, bool)
            or not isinstance(seconds, int) or seconds != round((end - start).total_seconds())):
        raise ValueError(DOWNTIME_SHAPE)
    return Downtime(start, end)


def _incident(value: str, bad: Any) -> str:
    if ".." in value.split("/"):
        raise bad("incident", "a path inside the repository")
    return value


def approvals_from(value: object) -> tuple[Approval, ...]:
    """A list of {user, environment, comment} as Approvals; ValueError when it is not one."""
    if not isinstance(value, list):
        raise ValueError("not a list")
    found = []
    for item in value:
        user = item.get("user") if isinstance(item, dict) else None
        environment = item.get("environment", "") if isinstance(item, dict) else None
        comment = item.get("comment", "") if isinstance(item, dict) else None
        if not (isinstance(user, str) and _LOGIN.match(user) and isinstance(environment, str)
                and (not environment or _NAME.match(environment)) and isinstance(comment, str)):
            raise ValueError("not {user, environment, comment}")
        found.append(Approval(user, environment, neutral(comment)))
    return tuple(found)


def is_url(text: str) -> bool:
    """An absolute http(s) URL with a host and nothing a log line or a Markdown link could misread."""
    if any(c.isspace() or unicodedata.category(c).startswith("C") or c in "<>\"'`()[]" for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def rolled_back(history: Sequence[Entry], version: str) -> RolledBack | None:
    """The rollback that still holds `version` out of the environment, or None.

    A rollback record names the version it left in `previous_version`. The mark holds until the
    version is deployed again with `allow-rolled-back` (a person's decision, with a reason); a
    later rollback of it marks it again.
    """
    mark: RolledBack | None = None
    for entry in history:
        if entry.event == ROLLBACK and entry.previous_version == version and entry.version != version:
            mark = RolledBack(version, entry.environment, entry.at, entry.reason, entry.incident, entry.run_url)
        elif entry.version == version and entry.allow_rolled_back and entry.event != ROLLBACK:
            mark = None
    return mark


def soak(history: Sequence[Entry], version: str, environment: str, needed: float, now: dt.datetime) -> Soak:
    """How long `version` has soaked: since its last conclusion in the environment, and broken by
    a rollback of it there since (the rollback opens its incident; the clock restarts at the next
    conclusion). A rollback *to* it, away from a newer version, leaves its soak alone: it is the
    known-good version then."""
    concluded: Entry | None = None
    broken: RolledBack | None = None
    for entry in history:
        if entry.event == CONCLUDED and entry.version == version:
            concluded, broken = entry, None
        elif (entry.event == ROLLBACK and entry.previous_version == version and concluded is not None
              and broken is None):
            broken = RolledBack(version, entry.environment, entry.at, entry.reason, entry.incident, entry.run_url)
    if concluded is None:
        return Soak(version, environment, needed, None, 0.0)
    soaked = max(0.0, (now - concluded.at).total_seconds())
    return Soak(version, environment, needed, concluded.at, soaked, broken)
