"""changelog-check: a changelog entry for the version, its release notes, the file's
validity and the pull-request rule, turned into outputs, annotations and an exit status.

The decisions about the text live in `deploy_actions.release.changelog`; this module reads
the inputs' files and the pull-request event and puts the answers together.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_actions import files
from deploy_actions.actions_runtime import Level
from deploy_actions.errors import EXIT_CHECK_FAILED, EXIT_OK, FileError, InputError
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.release import changelog as cl
from deploy_actions.release.changelog import Changelog, Entry, Problem, PullRequestCheck

PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
MAX_ANNOTATIONS = 50  # the log stays readable; the step summary lists the rest


@dataclass(frozen=True)
class ChangelogCheckOptions:
    file: str = "CHANGELOG.md"
    version: str = ""
    notes_file: str = ""
    strict: bool = False
    require_sections: tuple[str, ...] = ()
    skip_label: str = "skip-changelog"
    github_repository: str = ""
    token: str = ""


def changelog_check(opts: ChangelogCheckOptions) -> Outcome:
    """The whole check: read the file, find the entry, validate, the pull-request rule, the notes file."""
    raw_version = opts.version
    wanted = _wanted_version(raw_version) if raw_version.strip() else None
    notes_target = _notes_target(opts.notes_file) if opts.notes_file.strip() else None
    file_input = opts.file.strip() or "CHANGELOG.md"
    shown = repo_relative(file_input)
    changelog = cl.read_changelog(file_input, shown)

    annotations: list[Annotation] = []
    failed = False
    entry = changelog.entry(wanted) if wanted is not None else changelog.newest
    if wanted is not None and entry is None:
        failed = True
        annotations.append(Annotation(
            "error", f"no entry for {wanted} in {shown}; add '## [{wanted}] - YYYY-MM-DD' with "
                     "its release notes", file=shown,
            line=cl.missing_entry_line(changelog, wanted), title="Changelog entry missing"))

    problems = cl.validate(changelog)
    strict = opts.strict
    level: Level = "error" if strict else "warning"
    for problem in problems[:MAX_ANNOTATIONS]:
        annotations.append(Annotation(level, problem.message, file=shown, line=problem.line,
                                      title=f"Changelog: {problem.rule}"))
    if len(problems) > MAX_ANNOTATIONS:
        annotations.append(Annotation(level, f"{len(problems) - MAX_ANNOTATIONS} more problems "
                                      "in the step summary", file=shown))
    failed = failed or (strict and bool(problems))

    required = opts.require_sections
    missing = cl.required_sections(entry, required) if entry is not None and required else ()
    for problem in missing:
        annotations.append(Annotation("error", problem.message, file=shown, line=problem.line,
                                      title="Changelog: required section"))
    failed = failed or bool(missing)

    pull_request = _pull_request_check(opts, changelog, shown)
    if pull_request is not None and not pull_request.passed:
        failed = True
        anchor = changelog.unreleased or changelog.newest
        annotations.append(Annotation("error", pull_request.message, file=shown,
                                      line=anchor.heading_line if anchor else 1,
                                      title="Changelog not updated"))

    notes_written = ""
    if entry is not None and notes_target is not None:
        files.write_report(str(notes_target), (entry.notes + "\n").encode("utf-8"), "notes-file")
        notes_written = str(notes_target)

    outputs = {
        "version": entry.version if entry else "",
        "date": (entry.date or "") if entry else "",
        "status": entry.status if entry else "",
        "notes": entry.notes if entry else "",
        "notes-file": notes_written,
        "found": entry is not None,
    }
    return Outcome(
        outputs=outputs,
        text=_text(shown, entry, wanted, problems, missing, pull_request, strict),
        summary=_summary(shown, entry, wanted, problems, missing, pull_request, strict),
        annotations=tuple(annotations),
        exit_code=EXIT_CHECK_FAILED if failed else EXIT_OK,
    )


def _wanted_version(raw: str) -> str:
    try:
        return cl.normalize_version(raw)
    except ValueError:
        raise InputError("version", raw, "a semantic version such as 1.2.3 or v1.2.3 (PEP 440's 1.2.3rc1 too), "
                                         "or Unreleased") from None


def repo_relative(path: str) -> str:
    """`path` as GitHub names files (annotations, pull request files): relative to the
    workspace, with forward slashes; unchanged when it lies outside."""
    root = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    full = Path(os.path.abspath(Path.cwd() / path))
    try:
        return full.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _notes_target(raw: str) -> Path:
    """The notes file, refused when it would land outside the working directory, whether
    through `..`, an absolute path or a symbolic link."""
    cwd = Path.cwd().resolve()
    expected = "a path inside the working directory " + str(cwd)
    try:
        target = (cwd / raw.strip()).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        raise InputError("notes-file", raw, expected) from None
    if target == cwd or not target.is_relative_to(cwd):
        raise InputError("notes-file", raw, expected)
    if target.is_dir():
        raise InputError("notes-file", raw, "a file path, not a directory")
    return target


# --------------------------------------------------------------------------------- pull requests


def _pull_request_check(opts: ChangelogCheckOptions, changelog: Changelog,
                        shown: str) -> PullRequestCheck | None:
    """On pull_request events: did the pull request change the changelog (or is it waived)?"""
    if os.environ.get("GITHUB_EVENT_NAME") not in PULL_REQUEST_EVENTS:
        return None
    event = _read_event()
    pull = event.get("pull_request")
    pull = pull if isinstance(pull, dict) else {}
    number = pull.get("number", event.get("number"))
    if not isinstance(number, int) or isinstance(number, bool):
        raise FileError("the pull request event has no pull request number",
                        file=os.environ.get("GITHUB_EVENT_PATH"))
    raw_labels = pull.get("labels")
    labels = [str(label.get("name", "")) for label in raw_labels if isinstance(label, dict)] \
        if isinstance(raw_labels, list) else []
    skip_label = opts.skip_label
    if cl.has_skip_label(labels, skip_label):
        return cl.changelog_touched((), shown, labels, skip_label)
    files = _pull_request_files(opts, event, number)
    return cl.changelog_touched(files, shown, labels, skip_label)


def _read_event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise FileError("GITHUB_EVENT_PATH is not set, so the pull request is unknown")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise FileError(f"cannot read the event payload: {err}", file=path) from None
    if not isinstance(event, dict):
        raise FileError("the event payload is not a JSON object", file=path)
    return event


def _pull_request_files(opts: ChangelogCheckOptions, event: dict[str, Any], number: int) -> list[str]:
    from deploy_actions.github import GitHubClient

    repository = opts.github_repository or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        repo = event.get("repository")
        full_name = repo.get("full_name") if isinstance(repo, dict) else None
        repository = full_name if isinstance(full_name, str) else ""
    if not repository:
        raise InputError("github-repository", "", "owner/name (or $GITHUB_REPOSITORY)")
    token = opts.token
    if not token.strip():
        raise InputError("token", "", "a GitHub token that can read the pull request "
                                      "(${{ github.token }}, or $GITHUB_TOKEN)")
    client = GitHubClient(repository, token, api_url=os.environ.get("GITHUB_API_URL") or None)
    return list(client.pull_request_files(number))


# --------------------------------------------------------------------------------- reporting


def _describe(entry: Entry) -> str:
    when = f" {entry.date}" if entry.date else ""
    return f"{entry.version} ({entry.status}{when})"


def _text(shown: str, entry: Entry | None, wanted: str | None, problems: tuple[Problem, ...],
          missing: tuple[Problem, ...], pull_request: PullRequestCheck | None,
          strict: bool) -> str:
    if entry is not None:
        head = f"{shown}: {_describe(entry)}, {len(entry.notes.splitlines())} lines of notes"
    elif wanted is not None:
        head = f"{shown}: no entry for {wanted}"
    else:
        head = f"{shown}: no entries yet"
    kind = "error" if strict else "warning"
    plural = "s" if len(problems) != 1 else ""
    parts = [head, f"{len(problems)} {kind}{plural}" if problems else "valid"]
    if missing:
        parts.append(f"{len(missing)} required section{'s' if len(missing) != 1 else ''} "
                     "missing or empty")
    if pull_request is not None:
        parts.append(pull_request.message)
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _summary(shown: str, entry: Entry | None, wanted: str | None, problems: tuple[Problem, ...],
             missing: tuple[Problem, ...], pull_request: PullRequestCheck | None,
             strict: bool) -> str:
    out = [f"### Changelog: `{shown}`", ""]
    if entry is not None:
        out += ["| version | status | date |", "| --- | --- | --- |",
                f"| {_cell(entry.version)} | {entry.status} | {_cell(entry.date or '')} |", ""]
    elif wanted is not None:
        out += [f":x: No entry for **{_cell(wanted)}**.", ""]
    else:
        out += ["No entries yet.", ""]
    if pull_request is not None:
        mark = ":white_check_mark:" if pull_request.passed else ":x:"
        out += [f"{mark} {pull_request.message}", ""]
    if missing:
        out += ["**Required sections**", ""]
        out += [f"- :x: line {p.line}: {p.message}" for p in missing]
        out.append("")
    if problems:
        kind = "error" if strict else "warning"
        out += [f"**{len(problems)} {kind}{'s' if len(problems) != 1 else ''}**", ""]
        out += [f"- line {p.line}: {p.message}" for p in problems[:200]]
        if len(problems) > 200:
            out.append(f"- … and {len(problems) - 200} more")
        out.append("")
    else:
        out += ["The file follows Keep a Changelog.", ""]
    if entry is not None and entry.notes:
        out += ["<details><summary>Release notes</summary>", "", entry.notes, "", "</details>"]
    return "\n".join(out) + "\n"
