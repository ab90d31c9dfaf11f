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

from deploy_actions.errors import FileError
from deploy_actions.records import incident, journal, lifecycle

KNOWN_EVENTS = ("bump", "rollback", *lifecycle.BY_NAME)
REQUIRED = ("timestamp", "event", "app", "environment", "version")
_TEXT = ("image", "digest", "previous_version", "source_repository", "source_commit", "strategy", "reason",
         "cause", "override_reason", "incident", "gitops_base_commit", "supersedes", "actor", "run_url")


@dataclass(frozen=True)
class LeftOut:
    """A record left out, and why: shown as a warning annotation on that file and line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Event:
    """One record line that passed validation; text fields are always str ('' when absent)."""

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


def parse_lines(data: bytes, rel: str, warnings: list[LeftOut]) -> list[Event]:
    """The valid events of one record file; each unusable line adds a warning."""
    lines = data.split(b"\n")
    try:  # one parse for the whole file (fast); line by line only when a line is broken
        parsed: list[object] = json.loads((b"[" + b",".join(x for x in lines if x.strip()) + b"]").decode("utf-8"))
        numbered = [(n, p) for n, p in zip((i for i, x in enumerate(lines, 1) if x.strip()), parsed, strict=True)]
    except (ValueError, RecursionError):
        numbered = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                numbered.append((number, json.loads(raw.decode("utf-8"))))
            except UnicodeDecodeError:
                warnings.append(LeftOut(rel, number, "is not UTF-8 text; left out"))
            except (ValueError, RecursionError) as exc:
                reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
                warnings.append(LeftOut(rel, number, f"is not JSON ({reason}); left out"))
    events = []
    for number, record in numbered:
        event = _validate(record, rel, number, warnings)
        if event is not None:
            events.append(event)
    return events


def _validate(record: object, rel: str, number: int, warnings: list[LeftOut]) -> Event | None:
    if not isinstance(record, dict):
        warnings.append(LeftOut(rel, number, f"is a JSON {type(record).__name__}, not an object; left out"))
        return None
    for key in REQUIRED:
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            problem = "missing field" if value is None else "empty field" if value == "" else "non-text field"
            warnings.append(LeftOut(rel, number, f"{problem} {key!r}; left out"))
            return None
    name = record["event"]
    if name not in KNOWN_EVENTS:
        warnings.append(LeftOut(rel, number, f"event {name[:40]!r} is not one of {', '.join(KNOWN_EVENTS)}; "
                                              "left out"))
        return None
    at = journal.parse_time(record["timestamp"])
    if at is None:
        warnings.append(LeftOut(rel, number, f"timestamp {record['timestamp'][:40]!r} is not an ISO 8601 time; "
                                              "left out"))
        return None
    for key in _TEXT:
        if key in record and record[key] is not None and not isinstance(record[key], str):
            warnings.append(LeftOut(rel, number, f"field {key!r} is not text; left out"))
            return None
    override = record.get("override", False)
    if not isinstance(override, bool):
        warnings.append(LeftOut(rel, number, "field 'override' is not true or false; left out"))
        return None
    if name == "deployment_shelved_v1" and record.get("cause") and record["cause"] not in lifecycle.CAUSES:
        warnings.append(LeftOut(rel, number, f"cause {record['cause'][:40]!r} is not one of "
                                              f"{', '.join(lifecycle.CAUSES)}; left out"))
        return None

    def text(key: str) -> str:
        return str(record.get(key) or "")

    return Event(at.astimezone(dt.timezone.utc), name, record["app"], record["environment"], record["version"],
                 text("previous_version"), text("source_repository"), text("source_commit"), text("strategy"),
                 text("reason"), text("cause"), override, text("override_reason"), text("incident"),
                 text("gitops_base_commit"), text("image"), rel, number)


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
