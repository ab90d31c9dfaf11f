"""Record sets for the report's tests, written line for line as the commands write them: the
lifecycle lines with `deployment`'s fields (records/deployment.py `_entry`), bump and rollback lines
with gitops-bump's (gitops/bump.py `_record_edit`), incident files with `incident.render`.
`test_builder_writes_the_fields_the_commands_write` holds these to what the real commands write.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from deploy_actions.records import incident, journal

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    moment = journal.parse_time(text)
    assert moment is not None
    return moment


class Records:
    """One GitOps repository's records, kept in memory until `write(root)`."""

    def __init__(self) -> None:
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.incidents: dict[str, str] = {}
        self.raw: dict[str, list[bytes]] = {}

    def _add(self, environment: str, entry: dict[str, Any]) -> None:
        self.lines.setdefault(environment, []).append(entry)

    def _lifecycle(self, when: dt.datetime, event: str, state: str, from_state: str, app: str, environment: str,
                   version: str, *, source_commit: str = "", previous: str = "", strategy: str = "canary",
                   **extra: Any) -> None:
        self._add(environment, {
            "timestamp": journal.timestamp(when), "event": event, "environment": environment, "app": app,
            "image": f"ghcr.io/org/{app}", "version": version, "digest": "", "previous_version": previous,
            "gitops_base_commit": "0" * 40, "source_repository": f"org/{app}", "source_commit": source_commit,
            "actor": "octocat", "strategy": strategy, "run_url": "https://github.com/org/gitops/actions/runs/1",
            "state": state, "from_state": from_state, **extra})

    def opened(self, when: dt.datetime, app: str, environment: str, version: str, *, source_commit: str = "",
               previous: str = "", override_reason: str = "", strategy: str = "canary") -> None:
        extra: dict[str, Any] = {"supersedes": previous} if previous else {}
        if override_reason:
            extra.update({"override": True, "override_reason": override_reason})
        self._lifecycle(when, "deployment_opened_v1", "active", "pending", app, environment, version,
                        source_commit=source_commit, previous=previous, strategy=strategy, **extra)

    def shelved(self, when: dt.datetime, app: str, environment: str, version: str, cause: str, reason: str) -> None:
        self._lifecycle(when, "deployment_shelved_v1", "paused", "active", app, environment, version, cause=cause,
                        reason=reason)

    def resumed(self, when: dt.datetime, app: str, environment: str, version: str, override_reason: str = "") -> None:
        extra: dict[str, Any] = {"override": True, "override_reason": override_reason} if override_reason else {}
        self._lifecycle(when, "deployment_resumed_v1", "active", "paused", app, environment, version, **extra)

    def concluded(self, when: dt.datetime, app: str, environment: str, version: str, *,
                  downtime: tuple[dt.datetime, dt.datetime] | None = None) -> None:
        """`downtime`: a recreate deploy's (from, until), written as `deployment` writes it."""
        if downtime is None:
            self._lifecycle(when, "deployment_concluded_v1", "concluded", "active", app, environment, version)
            return
        start, end = downtime
        window = {"from": journal.timestamp(start), "until": journal.timestamp(end),
                  "seconds": round((end - start).total_seconds())}
        self._lifecycle(when, "deployment_concluded_v1", "concluded", "active", app, environment, version,
                        strategy="recreate", downtime=window)

    def _gitops(self, when: dt.datetime, event: str, app: str, environment: str, version: str, previous: str,
                source_commit: str, **extra: Any) -> None:
        self._add(environment, {
            "timestamp": journal.timestamp(when), "event": event, "environment": environment, "app": app,
            "image": f"ghcr.io/org/{app}", "version": version, "digest": "", "previous_version": previous,
            "gitops_base_commit": "1" * 40, "source_repository": f"org/{app}", "source_commit": source_commit,
            "actor": "octocat", "strategy": "canary", "status": "pending",
            "run_url": "https://github.com/org/gitops/actions/runs/2", **extra})

    def bump(self, when: dt.datetime, app: str, environment: str, version: str, previous: str = "",
             source_commit: str = "") -> None:
        self._gitops(when, "bump", app, environment, version, previous, source_commit)

    def rollback(self, when: dt.datetime, app: str, environment: str, to_version: str, from_version: str,
                 reason: str = "canary failed", *, detected: dt.datetime | None = None,
                 deployed: dt.datetime | None = None, incident_file: bool = True) -> str:
        """A rollback record, and (unless incident_file is False) its incident record; the incident's path."""
        path = f"incidents/{incident.file_stamp(when)}-{app}.md" if incident_file else ""
        extra: dict[str, Any] = {"reason": reason}
        if path:
            extra["incident"] = path
            self.incidents[path] = incident.render(incident.Incident(
                app=app, environment=environment, bad_version=from_version, good_version=to_version, reason=reason,
                rolled_back_at=when, detected_at=detected or when, deployed_at=deployed))
        self._gitops(when, "rollback", app, environment, to_version, from_version, "", **extra)
        return path

    def line(self, environment: str, raw: bytes) -> None:
        """A raw line, written after the records of `environment` (for bad-record tests)."""
        self.raw.setdefault(environment, []).append(raw)

    def write(self, root: Path) -> Path:
        for environment, entries in self.lines.items():
            data = b""
            for entry in entries:
                data = journal.append(data, entry)
            for raw in self.raw.get(environment, []):
                data += raw + b"\n"
            target = root / "deployments" / f"{environment}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for path, text in self.incidents.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        return root
