"""Reading the records back for the report: every line of every record file validated, every
incident file parsed. A line that cannot be used is left out with a warning naming its file and
line, never silently dropped and never fatal (one bad line must not hide a week of deployments).

A year of a fleet's records is half a million lines, so a line is read the fast way first: msgspec
decodes it straight into a `Record`, checking the types of the fields the report reads (and only
those: the others are skipped, though still checked to be JSON), and a few cheap checks follow.
A line that fails any of it is read again the slow way (`json` and a dictionary), which finds the
words for what is wrong; both ways hold a line to the same rules. The files are read, and their
events handed on, a block of lines at a time: only a block of the records is in memory at once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import msgspec

from deploy_actions.errors import FileError
from deploy_actions.records import history, incident, journal, lifecycle

# bump and rollback (gitops-bump's records), traffic (a canary's weight or a slot's switch, written by
# gitops/traffic.py) and the lifecycle records (records/lifecycle.py: a test holds them to its names).
EventName = Literal["bump", "rollback", "traffic", "deployment_opened_v1", "deployment_shelved_v1",
                    "deployment_resumed_v1", "deployment_concluded_v1"]
KNOWN_EVENTS: tuple[str, ...] = get_args(EventName)
REQUIRED = ("timestamp", "event", "app", "environment", "version")


@dataclass(frozen=True)
class LeftOut:
    """A record left out, and why: shown as a warning annotation on that file and line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class Window(msgspec.Struct, gc=False):
    """A recreate deploy's downtime, as `deployment` writes it on the concluded line."""

    start: str = msgspec.field(name="from")
    until: str
    seconds: int

    def downtime(self) -> history.Downtime:
        """As history reads it; ValueError when the times are not in order or the seconds disagree."""
        window = history.downtime_from({"from": self.start, "until": self.until, "seconds": self.seconds})
        assert window is not None
        return window


class Record(msgspec.Struct, gc=False):
    """The fields of one record line that the report reads; text is always str ('' when absent).
    (Not tracked by the cyclic collector: it holds only strings, and a downtime window of strings.)"""

    # In the order the commands write them (records/deployment.py, gitops/bump.py): msgspec finds each
    # key's field at once then.
    timestamp: str
    event: EventName  # (decoded as the one string of that name: compared and hashed at once)
    environment: str
    app: str
    version: str
    previous_version: str = ""
    gitops_base_commit: str = ""
    source_repository: str = ""
    source_commit: str = ""
    strategy: str = ""
    reason: str = ""
    cause: str = ""
    override: bool = False
    override_reason: str = ""
    incident: str = ""
    downtime: Window | None = None


TEXT = tuple(f for f in Record.__struct_fields__ if f not in REQUIRED and f not in ("override", "downtime"))


class Event(msgspec.Struct, gc=False):
    """One record line that passed validation: its time (UTC), its fields, and where it is.
    (A Struct: made in C, half a million times per report.)"""

    at: dt.datetime
    record: Record
    file: str
    line: int


@dataclass(frozen=True)
class IncidentFile:
    path: str
    record: incident.IncidentRecord


class RecordFiles:
    """The record files of one repository (paths relative to `root`), read as a stream of events in
    file order, a block at a time. Each reading reads every line again; the warnings are those of
    the first reading."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = root
        self.files = tuple(files)
        self.warnings: list[LeftOut] = []
        self._read = False

    def blocks(self) -> Iterator[list[Event]]:
        warnings = self.warnings if not self._read else []
        self._read = True
        for rel in self.files:
            yield from read_file(self.root / rel, rel, warnings)


BLOCK = 1 << 22  # bytes of lines read at once: enough to read fast, little enough to keep memory flat


def read_file(path: Path, rel: str, warnings: list[LeftOut]) -> Iterator[list[Event]]:
    """The valid events of one record file, in file order, a block of lines at a time; each
    unusable line adds a warning."""
    first = 1
    with path.open("rb") as handle:
        while lines := handle.readlines(BLOCK):
            yield _events(lines, rel, warnings, first)
            first += len(lines)


def parse_lines(data: bytes, rel: str, warnings: list[LeftOut]) -> list[Event]:
    """The valid events of one record file's text; each unusable line adds a warning."""
    return _events(io.BytesIO(data).readlines(), rel, warnings, 1)


_DECODE = msgspec.json.Decoder(Record).decode
_KNOWN = frozenset(KNOWN_EVENTS)
_CAUSES = frozenset(lifecycle.CAUSES)
_UTC = dt.timezone.utc


def _events(lines: list[bytes], rel: str, warnings: list[LeftOut], first: int) -> list[Event]:
    """The events of `lines` (each with its line break), the first of which is line `first` of `rel`."""
    decode, from_iso, parse_time, causes, utc = _DECODE, dt.datetime.fromisoformat, journal.parse_time, _CAUSES, _UTC
    events = []
    for number, raw in enumerate(lines, start=first):
        try:
            r: Record | None = decode(raw)
        except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
            r = None
        # The checks a decoded Record still needs, as `_validate` makes them (the common case in one test);
        # the UTF-8 check too, as msgspec skips the fields it does not read without looking inside.
        if r is not None and r.app.strip() and r.environment.strip() and r.version.strip() \
                and (not r.cause or r.event != "deployment_shelved_v1" or r.cause in causes) \
                and (raw.isascii() or _is_utf8(raw)) and (r.downtime is None or _window_ok(r.downtime)):
            # journal.parse_time's answer whenever this one has a time zone (3.11 reads a final Z). Not
            # msgspec's datetime: it reads a lowercase t or z, and rounds past microseconds, unlike journal.
            try:
                at: dt.datetime | None = from_iso(r.timestamp)
            except ValueError:
                at = None
            if at is None or at.tzinfo is None:
                at = parse_time(r.timestamp)
            if at is not None:
                events.append(Event(at if at.tzinfo is utc else at.astimezone(utc), r, rel, number))
                continue
        if raw.strip():
            event = _slow(raw, rel, number, warnings)
            if event is not None:
                events.append(event)
    return events


def _window_ok(window: Window) -> bool:
    try:
        window.downtime()
    except ValueError:
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _slow(raw: bytes, rel: str, number: int, warnings: list[LeftOut]) -> Event | None:
    """One line the fast way could not use: its event (a line only `json` reads, e.g. with a null
    field), or None with a warning saying what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        warnings.append(LeftOut(rel, number, "is not UTF-8 text; left out"))
        return None
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        warnings.append(LeftOut(rel, number, f"is not JSON ({reason}); left out"))
        return None
    return _validate(record, rel, number, warnings)


def _validate(record: object, rel: str, number: int, warnings: list[LeftOut]) -> Event | None:
    """The event of one parsed line, or None with a warning saying what is wrong with it."""
    if type(record) is not dict:
        warnings.append(LeftOut(rel, number, f"is a JSON {type(record).__name__}, not an object; left out"))
        return None
    for key in REQUIRED:
        value = record.get(key)
        if type(value) is not str or not value.strip():
            problem = "missing field" if value is None else "empty field" if type(value) is str else "non-text field"
            warnings.append(LeftOut(rel, number, f"{problem} {key!r}; left out"))
            return None
    stamp, name = record["timestamp"], record["event"]
    if name not in _KNOWN:
        warnings.append(LeftOut(rel, number, f"event {name[:40]!r} is not one of {', '.join(KNOWN_EVENTS)}; "
                                             "left out"))
        return None
    at = journal.parse_time(stamp)
    if at is None:
        warnings.append(LeftOut(rel, number, f"timestamp {stamp[:40]!r} is not an ISO 8601 time; left out"))
        return None
    texts = {key: record.get(key) for key in TEXT}
    wrong = next((key for key, value in texts.items() if value is not None and type(value) is not str), None)
    if wrong is not None:
        warnings.append(LeftOut(rel, number, f"field {wrong!r} is not text; left out"))
        return None
    override = record.get("override", False)
    if type(override) is not bool:
        warnings.append(LeftOut(rel, number, "field 'override' is not true or false; left out"))
        return None
    cause = texts["cause"] or ""
    if name == "deployment_shelved_v1" and cause and cause not in _CAUSES:
        warnings.append(LeftOut(rel, number, f"cause {cause[:40]!r} is not one of {', '.join(lifecycle.CAUSES)}; "
                                             "left out"))
        return None
    try:
        history.downtime_from(record.get("downtime"))
    except ValueError:
        warnings.append(LeftOut(rel, number, f"field 'downtime' is not {history.DOWNTIME_SHAPE}; left out"))
        return None
    given = record.get("downtime")
    window = Window(given["from"], given["until"], given["seconds"]) if given is not None else None
    fields = Record(timestamp=stamp, event=name, environment=record["environment"], app=record["app"],
                    version=record["version"], override=override, downtime=window,
                    **{key: value or "" for key, value in texts.items()})
    return Event(at.astimezone(_UTC), fields, rel, number)


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
