"""Incident records: the Markdown file a rollback writes in the same GitOps commit.

`read_evidence` turns a canary-monitor or smoke-test JSON report into `Evidence` (or a
one-line error); `render` is a pure function of the facts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_actions import files
from deploy_actions.errors import FileError, InputError
from deploy_actions.records import journal

FILE_STAMP = "%Y%m%dT%H%M%SZ"
EVIDENCE_LIMIT = 16 * 1024 * 1024  # a canary or smoke report; a larger "report" is not one


@dataclass(frozen=True)
class Evidence:
    """What decided the rollback: canary verdicts or failed smoke checks, as table rows."""

    kind: str  # "canary" or "smoke"
    headline: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Incident:
    app: str
    environment: str
    bad_version: str
    good_version: str
    reason: str
    rolled_back_at: dt.datetime
    detected_at: dt.datetime | None = None
    deployed_at: dt.datetime | None = None
    image: str = ""
    source_repository: str = ""
    source_commit: str = ""
    run_url: str = ""
    evidence: Evidence | None = None
    server_url: str = "https://github.com"


def file_stamp(moment: dt.datetime) -> str:
    """20261122T101500Z: sorts by time, and is safe in a file name."""
    return moment.astimezone(dt.timezone.utc).strftime(FILE_STAMP)


def deployed_at(records: Iterable[Mapping[str, Any]], app: str, environment: str, version: str) -> dt.datetime | None:
    """When the last bump record of app `version` in `environment` was written (None if never)."""
    found = None
    for record in records:
        if (record.get("event") == "bump" and record.get("app") == app and record.get("environment") == environment
                and record.get("version") == version):
            found = journal.parse_time(str(record.get("timestamp", ""))) or found
    return found


def parse_detected_at(text: str, default: dt.datetime) -> dt.datetime:
    """The detected-at input (ISO 8601; UTC when it names no offset), else `default`."""
    if not text.strip():
        return default
    moment = journal.parse_time(text.strip())
    if moment is None:
        raise InputError("detected-at", text, "an ISO 8601 time such as 2026-11-22T10:15:00Z")
    return moment


def read_evidence(path: str) -> Evidence:
    """The report at `path` (canary-monitor --report, or smoke-test's JSON report) as Evidence."""
    try:
        data = json.loads(files.read_regular_file(Path(path), EVIDENCE_LIMIT).decode("utf-8"))
    except OSError as exc:
        raise FileError(f"evidence: cannot be read ({exc.strerror or exc})", file=path) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FileError("evidence: is not a JSON report (from canary-monitor report or smoke-test)",
                        file=path) from None
    if isinstance(data, dict) and isinstance(data.get("verdicts"), list):
        return _canary(data, path)
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        return _smoke(data, path)
    raise FileError("evidence: is neither a canary-monitor report (verdicts) nor a smoke-test report (checks)",
                    file=path)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.4g}"
    return " ".join(str(value).split())


def _canary(data: dict[str, Any], path: str) -> Evidence:
    rows = []
    for item in data["verdicts"]:
        if not isinstance(item, dict):
            raise FileError("evidence: a verdict is not an object", file=path)
        rows.append(tuple(_text(item.get(k)) for k in ("metric", "rule", "canary", "baseline", "p_value", "verdict")))
    headline = _text(data.get("sentence") or data.get("reason") or f"canary decision: {data.get('decision')}")
    return Evidence("canary", headline, ("metric", "rule", "canary", "baseline", "p", "verdict"), tuple(rows))


def _smoke(data: dict[str, Any], path: str) -> Evidence:
    rows = []
    for item in data["checks"]:
        if not isinstance(item, dict):
            raise FileError("evidence: a check is not an object", file=path)
        if item.get("result") == "failed":
            rows.append(tuple(_text(item.get(k)) for k in ("name", "url", "last_status", "detail")))
    headline = f"smoke test: {_text(data.get('failed'))} of {_text(data.get('total'))} check(s) failed"
    return Evidence("smoke", headline, ("check", "url", "last status", "detail"), tuple(rows))


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(incident: Incident) -> str:
    """The incident record, in Markdown."""
    i = incident
    lines = [
        f"# Incident: {i.app} {i.bad_version} rolled back in {i.environment}",
        "",
        f"- **App**: {i.app}" + (f" (`{i.image}`)" if i.image else ""),
        f"- **Environment**: {i.environment}",
        f"- **Versions**: {i.bad_version or 'unknown'} → {i.good_version}",
        f"- **Reason**: {' '.join(i.reason.split())}",
        "",
        "## Timeline",
        "",
        "| event | time |",
        "| --- | --- |",
        f"| deployed {i.bad_version or '(unknown version)'} | {_when(i.deployed_at)} |",
        f"| detected | {_when(i.detected_at)} |",
        f"| rolled back to {i.good_version} | {_when(i.rolled_back_at)} |",
        "",
    ]
    if i.evidence is not None:
        title = "Canary verdicts" if i.evidence.kind == "canary" else "Failed smoke checks"
        lines += [f"## {title}", "", _cell(i.evidence.headline), ""]
        if i.evidence.rows:
            lines.append("| " + " | ".join(i.evidence.columns) + " |")
            lines.append("|" + " --- |" * len(i.evidence.columns))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in i.evidence.rows]
        else:
            lines.append("_The report lists none._")
        lines.append("")
    links = []
    if i.source_commit:
        commit = i.source_commit
        if i.source_repository and "/" in i.source_repository:
            url = f"{i.server_url.rstrip('/')}/{i.source_repository}/commit/{i.source_commit}"
            commit = f"[{i.source_commit[:12]}]({url})"
        links.append(f"- Source commit: {commit}" + (f" in {i.source_repository}" if i.source_repository else ""))
    if i.run_url:
        links.append(f"- Workflow run: {i.run_url}")
    if links:
        lines += ["## Links", "", *links, ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class IncidentRecord:
    """An incident record read back: what `render` wrote, plus what people add to the file later
    (a `- **Severity**: …` line, a `| resolved | … |` or `| fixed | … |` timeline row for incidents
    closed without a rollback, a `## Post-mortem` section)."""

    app: str
    environment: str
    bad_version: str
    good_version: str
    reason: str
    deployed_at: dt.datetime | None
    detected_at: dt.datetime | None
    restored_at: dt.datetime | None  # rolled back, resolved or fixed; None while it is open
    severity: str = ""
    postmortem: bool = False


_FIELD = re.compile(r"^- \*\*(?P<name>[A-Za-z -]+)\*\*: ?(?P<value>.*)$")
_ROW = re.compile(r"^\|\s*(?P<event>[^|]+?)\s*\|\s*(?P<time>[^|]+?)\s*\|\s*$")
_POSTMORTEM = re.compile(r"^#{2,3}\s*post[- ]?mortem\b", re.IGNORECASE)
_RESTORED = ("rolled back", "resolved", "fixed", "restored", "mitigated")


def parse_record(text: str, relpath: str) -> IncidentRecord:
    """An incident file as written by `render` (FileError naming `relpath` when it is not one).

    A post-mortem counts as filed when the file has a `## Post-mortem` section with some text in it.
    """
    fields: dict[str, str] = {}
    times: dict[str, dt.datetime | None] = {}
    postmortem, in_postmortem = False, False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            in_postmortem = bool(_POSTMORTEM.match(line))
            continue
        if in_postmortem and line and not line.startswith("_"):
            postmortem = True
        field_match = _FIELD.match(line)
        if field_match:
            fields.setdefault(field_match["name"].strip().lower(), field_match["value"].strip())
            continue
        row = _ROW.match(line)
        if row and row["event"] not in ("event", "---"):
            event = row["event"].lower()
            kind = next((k for k in ("deployed", "detected", *_RESTORED) if event.startswith(k)), "")
            if kind:
                times.setdefault("restored" if kind in _RESTORED else kind, _parse_when(row["time"]))
    app = fields.get("app", "").split(" (", 1)[0].strip()
    environment = fields.get("environment", "")
    if not app or not environment:
        missing = "App" if not app else "Environment"
        raise FileError(f"is not an incident record: no '- **{missing}**:' line", file=relpath)
    bad, _, good = fields.get("versions", "").partition("→")
    return IncidentRecord(app, environment, bad.strip() if bad.strip() != "unknown" else "", good.strip(),
                          fields.get("reason", ""), times.get("deployed"), times.get("detected"),
                          times.get("restored"), fields.get("severity", ""), postmortem)


def _parse_when(text: str) -> dt.datetime | None:
    """'2026-11-22 10:15:00 UTC' as `_when` writes it (or ISO 8601); None for 'unknown'."""
    return journal.parse_time(text.strip().removesuffix(" UTC").replace(" ", "T"))
