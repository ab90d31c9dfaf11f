"""Reading the records back for the report: every line of every record file validated, every
incident file parsed. A line that cannot be used is left out with a warning naming its file and
line, never silently dropped and never fatal (one bad line must not hide a week of deployments).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from deploy_actions.errors import FileError
from deploy_actions.records import incident, journal, lifecycle

KNOWN_EVENTS = ("bump", "rollback", *lifecycle.BY_NAME, "traffic")  # traffic: a canary's weight, a slot's switch
REQUIRED = ("timestamp", "event", "app", "environment", "version")
_TEXT = ("image", "previous_version", "source_repository", "source_commit", "strategy", "reason", "cause",
         "override_reason", "incident", "gitops_base_commit")  # the fields the report reads, beside REQUIRED


@dataclass(frozen=True)
class LeftOut:
    """A record left out, and why: shown as a warning annotation on that file and line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class Event(NamedTuple):
    """One record line that passed validation; text fields are always str ('' when absent).
    (A named tuple: hundreds of thousands are made per report, and a tuple is the cheapest value.)"""

    at: dt.datetime
    event: str  # bump, rollback, or a lifecycle record name (deployment_opened_v1 …)
    app: str
    environment: str
    version: str
    previous_version: str
    source_repository: str
    source_commit: str
    strategy: str
    reason: str
    cause: str
    override: bool
    override_reason: str
    incident: str
    gitops_base_commit: str
    image: str
    file: str
    line: int


@dataclass(frozen=True)
class IncidentFile:
    path: str
    record: incident.IncidentRecord


def read_events(root: Path, files: Iterable[str]) -> tuple[list[Event], list[LeftOut]]:
    """Every valid event of `files` (paths relative to `root`), sorted by time (file order breaks ties)."""
    events: list[Event] = []
    warnings: list[LeftOut] = []
    for rel in files:
        data = (root / rel).read_bytes()
        events.extend(parse_lines(data, rel, warnings))
    events.sort(key=lambda e: e.at)  # stable: records of one instant keep their order in the file
    return events, warnings


CHUNK = 20_000  # lines parsed in one go: fast, and only one chunk's dictionaries are alive at a time


def parse_lines(data: bytes, rel: str, warnings: list[LeftOut]) -> list[Event]:
    """The valid events of one record file; each unusable line adds a warning."""
    numbered = [(n, raw) for n, raw in enumerate(data.split(b"\n"), start=1) if raw.strip()]
    events = []
    for start in range(0, len(numbered), CHUNK):
        for number, record in _parse(numbered[start:start + CHUNK], rel, warnings):
            event = _validate(record, rel, number, warnings)
            if event is not None:
                events.append(event)
    return events


def _parse(lines: list[tuple[int, bytes]], rel: str, warnings: list[LeftOut]) -> list[tuple[int, object]]:
    try:  # the chunk as one JSON array (fast); line by line only when a line is broken
        parsed: list[object] = json.loads((b"[" + b",".join(raw for _, raw in lines) + b"]").decode("utf-8"))
        if len(parsed) == len(lines):  # a line holding "1, 2" would make two items: then line by line
            return [(number, record) for (number, _), record in zip(lines, parsed, strict=True)]
    except (ValueError, RecursionError):
        pass
    found: list[tuple[int, object]] = []
    for number, raw in lines:
        try:
            found.append((number, json.loads(raw.decode("utf-8"))))
        except UnicodeDecodeError:
            warnings.append(LeftOut(rel, number, "is not UTF-8 text; left out"))
        except (ValueError, RecursionError) as exc:
            reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
            warnings.append(LeftOut(rel, number, f"is not JSON ({reason}); left out"))
    return found


_KNOWN = frozenset(KNOWN_EVENTS)
_TEXT_TYPES = frozenset((str, type(None)))
_UTC = dt.timezone.utc


def _validate(record: object, rel: str, number: int, warnings: list[LeftOut]) -> Event | None:
    """The event of one parsed line, or None with a warning saying what is wrong with it."""
    if type(record) is not dict:
        warnings.append(LeftOut(rel, number, f"is a JSON {type(record).__name__}, not an object; left out"))
        return None
    get = record.get
    stamp, name, app, environment, version = get("timestamp"), get("event"), get("app"), get("environment"), \
        get("version")
    # The common case first, in one test; the slow path below finds the words for what is wrong.
    if not (type(stamp) is str and stamp and type(name) is str and name in _KNOWN and type(app) is str and app.strip()
            and type(environment) is str and environment.strip() and type(version) is str and version.strip()):
        _refuse(record, rel, number, warnings)
        return None
    at = journal.parse_time(stamp)
    if at is None:
        warnings.append(LeftOut(rel, number, f"timestamp {stamp[:40]!r} is not an ISO 8601 time; left out"))
        return None
    texts = list(map(get, _TEXT))
    if not _TEXT_TYPES.issuperset(map(type, texts)):
        key = next(k for k, v in zip(_TEXT, texts, strict=True) if v is not None and type(v) is not str)
        warnings.append(LeftOut(rel, number, f"field {key!r} is not text; left out"))
        return None
    override = get("override", False)
    if type(override) is not bool:
        warnings.append(LeftOut(rel, number, "field 'override' is not true or false; left out"))
        return None
    cause = get("cause") or ""
    if name == "deployment_shelved_v1" and cause and cause not in lifecycle.CAUSES:
        warnings.append(LeftOut(rel, number, f"cause {cause[:40]!r} is not one of {', '.join(lifecycle.CAUSES)}; "
                                             "left out"))
        return None
    if at.tzinfo is not _UTC:
        at = at.astimezone(_UTC)
    image, previous, repository, commit, strategy, reason, _cause, override_reason, incident_path, base = texts
    return Event(at, name, app, environment, version, previous or "", repository or "", commit or "",
                 strategy or "", reason or "", cause, override, override_reason or "", incident_path or "", base or "",
                 image or "", rel, number)


def _refuse(record: dict[str, object], rel: str, number: int, warnings: list[LeftOut]) -> None:
    for key in REQUIRED:
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            problem = "missing field" if value is None else "empty field" if value == "" else "non-text field"
            warnings.append(LeftOut(rel, number, f"{problem} {key!r}; left out"))
            return
    name = str(record["event"])
    warnings.append(LeftOut(rel, number, f"event {name[:40]!r} is not one of {', '.join(KNOWN_EVENTS)}; left out"))


def read_incidents(root: Path, files: Iterable[str]) -> tuple[list[IncidentFile], list[LeftOut]]:
    found: list[IncidentFile] = []
    warnings: list[LeftOut] = []
    for rel in files:
        try:
            text = (root / rel).read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            warnings.append(LeftOut(rel, None, "is not UTF-8 text; left out"))
            continue
        try:
            found.append(IncidentFile(rel, incident.parse_record(text, rel)))
        except FileError as err:
            warnings.append(LeftOut(rel, None, f"{err.message}; left out"))
    return found, warnings
