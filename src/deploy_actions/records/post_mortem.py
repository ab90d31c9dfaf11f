"""After a rollback: the post-mortem issue from the runbook's template, and the line the
rolled-back version's release notes gain.

Pure renderers over the `Incident` the rollback wrote; `gitops.bump` opens the issue, links it
from the incident record (and the record from the issue), and edits the release.
"""

from __future__ import annotations

import datetime as dt

from deploy_actions.records.history import neutral, when
from deploy_actions.records.incident import Incident

DUE_HOURS = 48  # the runbook: a post-mortem is filed within 48 hours of a rollback
MARKER = "<!-- deploy-actions post-mortem: {incident} -->"


def due(incident: Incident) -> dt.datetime:
    return incident.rolled_back_at + dt.timedelta(hours=DUE_HOURS)


def _text(value: str) -> str:
    """Record text inside Markdown: one line, no mentions that would page people, no HTML."""
    return neutral(value).replace("@", "@\u200b").replace("<", "&lt;").replace(">", "&gt;")


def title(incident: Incident) -> str:
    i = incident
    return f"Post-mortem: {i.app} {i.bad_version} rolled back in {i.environment} ({when(i.rolled_back_at)})"


def issue_body(incident: Incident, record_path: str, record_url: str) -> str:
    """The runbook's template: summary, timeline from the incident record, root cause to fill in,
    action items; due 48 h after the rollback, and linked to the incident record."""
    i = incident
    record = f"[{record_path}]({record_url})" if record_url else f"`{record_path}`"

    def at(moment: dt.datetime | None) -> str:
        return when(moment) if moment else "unknown"

    lines = [
        MARKER.format(incident=record_path),
        f"**Due:** {when(due(i))} ({DUE_HOURS} h after the rollback)  ",
        f"**Incident record:** {record}",
        "",
        "## Summary",
        "",
        f"{i.app} {i.bad_version} was rolled back to {i.good_version} in {i.environment} on {at(i.rolled_back_at)} "
        f"because {_text(i.reason)}.",
        "",
        "## Timeline",
        "",
        "| event | time |",
        "| --- | --- |",
        f"| deployed {i.bad_version} | {at(i.deployed_at)} |",
        f"| detected | {at(i.detected_at)} |",
        f"| rolled back to {i.good_version} | {at(i.rolled_back_at)} |",
        "",
    ]
    if i.evidence is not None:
        lines += [f"What decided it: {_text(i.evidence.headline)} (the incident record lists the details).", ""]
    if i.run_url:
        lines += [f"Workflow run: {i.run_url}", ""]
    lines += [
        "## Root cause",
        "",
        "_To fill in: what failed, and why it was not caught before " + i.environment + "._",
        "",
        "## Action items",
        "",
        "- [ ] Fix the cause (link the pull request)",
        "- [ ] Add the test or check that would have caught it",
        "- [ ] Review the alerting: did detection come in time?",
        "- [ ] Update the runbook if a step was missing or wrong",
        "",
    ]
    return "\n".join(lines)


def release_line(incident: Incident, record_path: str, record_url: str) -> str:
    """The runbook's changelog entry for a rollback, referencing the original deployment."""
    i = incident
    where = record_url or record_path
    return (f"Rolled back in {i.environment} on {when(i.rolled_back_at)} because {_text(i.reason)}, see incident "
            f"{where}.")


def link_in_record(text: str, issue_url: str, incident: Incident) -> str:
    """The incident record with the post-mortem issue named under Links (once)."""
    line = f"- Post-mortem: {issue_url} (due {when(due(incident))})"
    if line in text:
        return text
    body = text.rstrip("\n")
    if "\n## Links\n" not in f"\n{body}\n":
        body += "\n\n## Links\n"
    return body + "\n" + line + "\n"
