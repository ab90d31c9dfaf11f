"""The record file: one JSON object per line (`deployments/<environment>.jsonl`), append-only.

gitops-bump's bump and rollback records and the lifecycle events share it. Reading is strict
(a line we cannot read is an error naming the file and line, never skipped silently: the state
of a deployment is the fold of these lines); appending never rewrites an earlier byte.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from deploy_actions.errors import FileError

_ISO_Z = sys.version_info >= (3, 11)  # fromisoformat reads a final Z as UTC
_TEXT_FIELDS = ("event", "app", "environment", "version", "run_url")


def parse(data: bytes, relpath: str) -> list[dict[str, Any]]:
    """Every record in `data`, in order; FileError naming `relpath` and the line when one is unreadable."""
    return [record for _, record in numbered(data.split(b"\n"), relpath)]


def numbered(lines: Iterable[bytes], relpath: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """`parse` over lines (a file opened in binary streams them), each record with its line
    number (for errors about a field of it), one at a time."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise FileError("is not UTF-8 text; fix or remove that line", file=relpath, line=number) from None
        except (ValueError, RecursionError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FileError(f"is not a JSON object ({reason[:80]}); fix or remove that line", file=relpath,
                            line=number) from None
        if not isinstance(record, dict):
            raise FileError(f"is a JSON {type(record).__name__}, not an object; fix or remove that line",
                            file=relpath, line=number)
        wrong = [key for key in _TEXT_FIELDS if key in record and not isinstance(record[key], str)]
        if wrong:
            raise FileError(f"field {wrong[0]!r} is not a string; fix or remove that line", file=relpath,
                            line=number)
        yield number, record


def append(before: bytes, record: Mapping[str, object]) -> bytes:
    """`before` with `record` as one more line (a missing final newline is added first)."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    prefix = before if not before or before.endswith(b"\n") else before + b"\n"
    return prefix + line


def timestamp(moment: dt.datetime | None = None) -> str:
    """UTC, to the second, as the records spell it: 2026-11-22T10:15:00Z."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime | None:
    """A record's timestamp as an aware datetime, or None when it is not one."""
    if len(text) == 20 and text[19] == "Z" and text[10] == "T":  # as `timestamp` writes it: the fast way
        try:
            return dt.datetime.fromisoformat(text if _ISO_Z else text[:19] + "+00:00")
        except ValueError:
            return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def workflow_run_url(given: str = "") -> str:
    """`given`, else this workflow run's URL from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID."""
    if given:
        return given
    server, repo, run_id = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
