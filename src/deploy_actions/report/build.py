"""`deploy-actions report`: read a GitOps repository's records (a local checkout, or a clone), fold
them, compute the keys, ask Prometheus and the GitHub API when given, and write the report files.

Order of work: validate the inputs → clone (or open the checkout) → read and validate the records →
fold → DORA → Prometheus → GitHub commit times → write Markdown, JSON, status JSON and SVG files into
`output-dir` (each file written whole, atomically) → post or update the week's issue when asked.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy_actions.errors import InputError, OperationError
from deploy_actions.files import FileEdit, inside_repo, write_edits
from deploy_actions.records import incident, journal
from deploy_actions.report import charts, dora, model, records, render, service_levels

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|w)\s*$")
_UNITS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
MAX_COMMIT_LOOKUPS = 500  # GitHub API calls for commit times, per report (rate limits); the rest: from records


@dataclass(frozen=True)
class ReportOptions:
    path: str = "."
    repository: str = ""
    ref: str = "main"
    token: str = ""
    records: str = "deployments/*.jsonl"
    incidents: str = "incidents/*.md"
    since: str = ""
    until: str = ""
    production: tuple[str, ...] = ("production",)
    output_dir: str = "deploy-actions-report"
    github_token: str = ""
    prometheus_url: str = ""
    prometheus_token: str = ""
    prometheus_selector: str = service_levels.Queries.selector
    availability_target: str = ""
    latency_targets: tuple[str, ...] = ()
    issue: bool = False
    issue_repository: str = ""
    issue_title: str = "Operations report {week}"
    issue_labels: tuple[str, ...] = ("operations-report",)
    now: dt.datetime | None = field(default=None, repr=False)  # tests: the clock


@dataclass(frozen=True)
class Written:
    markdown: str
    files: dict[str, str]  # kind → path: markdown, json, status, svg:<name>
    report: dict[str, Any]
    warnings: tuple[records.LeftOut, ...]
    charts: tuple[charts.Chart, ...] = ()
    issue_url: str = ""
    issue_created: bool = False


def parse_period(since: str, until: str, now: dt.datetime) -> dora.Period:
    """`until` (default now) and `since` (default 7 days before it): ISO 8601 dates or times, or a span
    before `until` such as 7d, 24h or 2w. A bare date is midnight UTC."""
    end = _moment("until", until, now) if until.strip() else now
    start = end - dt.timedelta(days=7) if not since.strip() else _since(since, end)
    if start >= end:
        raise InputError("since", since, f"a time before until ({journal.timestamp(end)})")
    return dora.Period(start, end)


def _since(text: str, until: dt.datetime) -> dt.datetime:
    relative = _RELATIVE.match(text)
    if relative:
        return until - dt.timedelta(seconds=float(relative[1]) * _UNITS[relative[2]])
    return _moment("since", text, until)


def _moment(name: str, text: str, _default: dt.datetime) -> dt.datetime:
    moment = journal.parse_time(text.strip())
    if moment is None:
        raise InputError(name, text, "an ISO 8601 date or time (2026-11-23, 2026-11-23T08:00:00Z)"
                         + (" or a span such as 7d, 24h or 2w" if name == "since" else ""))
    return moment.astimezone(dt.timezone.utc)


def validate(opts: ReportOptions) -> dora.Period:
    now = (opts.now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    period = parse_period(opts.since, opts.until, now)
    if not opts.production:
        raise InputError("production", "", "the production environments, one per line")
    service_levels.parse_targets(opts.availability_target, opts.latency_targets)
    if opts.prometheus_url:
        from deploy_actions.verify.canary.providers.prometheus import validate_url

        validate_url(opts.prometheus_url)
    if opts.issue and not (opts.github_token or opts.token):
        raise InputError("github-token", "", "a token that can write issues, for issue: true")
    for name, pattern in (("records", opts.records), ("incidents", opts.incidents)):
        if not pattern.strip() or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise InputError(name, pattern, "a glob pattern inside the GitOps repository, e.g. deployments/*.jsonl")
    return period


def make_report(opts: ReportOptions) -> Written:
    period = validate(opts)
    # A year of a fleet's records is a million small objects, all alive until the end: the cyclic
    # collector would walk them again and again (more than half the time, measured), for nothing.
    gc.disable()
    try:
        with _checkout(opts) as root:
            written = _report(opts, root, period)
    finally:
        gc.enable()
    if opts.issue:
        written = _post_issue(opts, written, period)
    return written


@contextmanager
def _checkout(opts: ReportOptions) -> Iterator[Path]:
    if opts.repository:
        from deploy_actions.git import temporary_clone

        with temporary_clone(opts.repository, opts.ref, opts.token) as git:
            yield git.root
        return
    root = Path(opts.path).expanduser()
    if not root.is_dir():
        raise InputError("path", opts.path, "the folder of a GitOps repository checkout")
    yield root.resolve()


def _glob(root: Path, pattern: str) -> list[str]:
    """The files matching `pattern`, relative to `root`. A symlink out of the repository is refused:
    each file is checked (`inside_repo`), once per folder for the plain files of one folder (thousands of
    incident records): their real path is the folder's, checked with the first, and their name."""
    found = []
    checked: set[Path] = set()  # folders whose real path is inside the repository
    for path in sorted(root.glob(pattern)):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            plain = not path.is_symlink() and not path.name.startswith(".")  # (.git and the like: checked)
            if not plain or path.parent not in checked:
                inside_repo(root, rel, "records")
                if plain:
                    checked.add(path.parent)
            found.append(rel)
    return found


def _report(opts: ReportOptions, root: Path, period: dora.Period) -> Written:
    record_files = records.RecordFiles(root, _glob(root, opts.records))
    history = model.fold(record_files.blocks, period.until, opts.production)
    incident_files, incident_warnings = records.read_incidents(root, _glob(root, opts.incidents))
    _name_gitops_commits(root, history.running)
    warnings = record_files.warnings + incident_warnings
    warnings += [records.LeftOut(e.file, e.line, f"{e.record.event} of {e.record.app} {e.record.version} in "
                                 f"{e.record.environment}: no deployment of that version was opened before it; "
                                 "left out") for e in history.orphans]
    incident_files = [i for i in incident_files if _known_by(i.record, period.until)]
    commit_time = _commit_times(opts, history, period) if opts.github_token else None
    # What the rest asks is about this period and the one before: the history since then answers it
    # the same (see History.since), without walking a year of deployments again for each question.
    history = history.since(period.previous().since)
    keys = dora.compute(history, incident_files, period, opts.production, commit_time)
    before = dora.compute(history, incident_files, period.previous(), opts.production, commit_time)
    levels, targets = _service_levels(opts, history, period)
    report = render.as_json(history, incident_files, period, opts.production, keys, before, levels, targets,
                            warnings, lead_time_origin="commit" if commit_time else "first record")
    chart_list = render.charts_of(history, keys, period, opts.production, levels)
    out = Path(opts.output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    files = {"markdown": str(out / "report.md"), "json": str(out / "report.json"), "status": str(out / "status.json")}
    svgs = {f"svg:{c.name}": out / f"{c.name}.svg" for c in chart_list}
    markdown = render.markdown(report, chart_list, {k.removeprefix("svg:"): p.name for k, p in svgs.items()})
    _write(out / "report.json", render.dumps(report))
    _write(out / "status.json", render.dumps({"until": report["period"]["until"], "running": report["running"]}))
    _write(out / "report.md", markdown.encode("utf-8"))
    for chart in chart_list:
        _write(svgs[f"svg:{chart.name}"], charts.svg(chart))
    files.update({k: str(p) for k, p in svgs.items()})
    return Written(markdown, files, report, tuple(warnings), tuple(chart_list))


def _name_gitops_commits(root: Path, running: list[model.Running]) -> None:
    """The GitOps commit that carries each record line behind what runs where: one `git blame` per
    record file, for just those lines. Only with the history at hand (not in a shallow clone, where
    every line would blame the clone's one commit); otherwise the commits stay unnamed."""
    from deploy_actions.git import Git, GitError

    if not running or not (root / ".git").exists():
        return
    try:
        git = Git.open(root, input_name="path")
        if git.is_shallow():
            return
        by_file: dict[str, list[model.Running]] = {}
        for r in running:
            by_file.setdefault(r.record[0], []).append(r)
        for rel, entries in by_file.items():
            ranges = [arg for n in sorted({r.record[1] for r in entries}) for arg in ("-L", f"{n},{n}")]
            blamed = _blame(git.run("blame", "--porcelain", *ranges, "--", rel).stdout)
            for r in entries:
                r.gitops_commit = blamed.get(r.record[1], "")
    except (GitError, InputError):
        return  # not tracked, or git refuses: the report names no GitOps commit rather than fail


_BLAME_HEADER = re.compile(r"^([0-9a-f]{40}) \d+ (\d+)(?: \d+)?$")


def _blame(porcelain: str) -> dict[int, str]:
    """line number → commit, from `git blame --porcelain` (uncommitted lines left out)."""
    found = {}
    for text in porcelain.splitlines():
        match = _BLAME_HEADER.match(text)
        if match and match[1] != "0" * 40:
            found[int(match[2])] = match[1]
    return found


def _known_by(r: incident.IncidentRecord, until: dt.datetime) -> bool:
    """Whether the incident is part of the history before `until`: restored before it, or still open
    and detected before it. One restored later is not known yet: a rollback writes its incident record
    when it restores."""
    if r.restored_at is not None:
        return r.restored_at < until
    start = r.detected_at or r.deployed_at
    return start is None or start < until


def _write(path: Path, data: bytes) -> None:
    before = path.read_bytes() if path.is_file() else b""
    write_edits([FileEdit(path, str(path), before, data)])


def _commit_times(opts: ReportOptions, history: model.History, period: dora.Period) -> dora.CommitTime:
    """Commit times from the GitHub API, asked once per commit, for the builds the keys need."""
    from deploy_actions.github import GitHubClient

    cache: dict[tuple[str, str], dt.datetime | None] = {}
    clients: dict[str, GitHubClient] = {}

    def lookup(repository: str, sha: str) -> dt.datetime | None:
        key = (repository, sha)
        if key in cache:
            return cache[key]
        if not repository or not re.fullmatch(r"[0-9a-f]{7,40}", sha) or len(cache) >= MAX_COMMIT_LOOKUPS:
            return None
        try:
            client = clients.setdefault(repository, GitHubClient(repository, opts.github_token))
            cache[key] = client.commit_time(sha)
        except (InputError, OperationError):
            cache[key] = None  # not on GitHub, or not visible with this token: from the records instead
        return cache[key]

    return lookup


def _service_levels(opts: ReportOptions, history: model.History, period: dora.Period) \
        -> tuple[list[service_levels.ServiceLevel], service_levels.Targets]:
    targets = service_levels.parse_targets(opts.availability_target, opts.latency_targets)
    if not opts.prometheus_url:
        return [], targets
    from deploy_actions.verify.canary.providers.prometheus import PrometheusClient

    client = PrometheusClient(opts.prometheus_url, token=opts.prometheus_token)
    production = set(opts.production)
    wanted = sorted({(r.app, r.environment) for r in history.running if r.environment in production})
    queries = service_levels.Queries(selector=opts.prometheus_selector)
    return service_levels.measure(client, queries, wanted, period.since, period.until), targets


def issue_title(template: str, period: dora.Period) -> str:
    """The week's issue title: {week} is the ISO week of the period's start (2026-W48), {since} and
    {until} its dates."""
    year, week, _ = period.since.isocalendar()
    try:
        return template.format(week=f"{year}-W{week:02d}", since=period.since.date().isoformat(),
                               until=period.until.date().isoformat())
    except (KeyError, IndexError, ValueError):
        raise InputError("issue-title", template, "a title whose only placeholders are {week}, {since} and "
                         "{until}") from None


def _post_issue(opts: ReportOptions, written: Written, period: dora.Period) -> Written:
    from dataclasses import replace

    from deploy_actions.github import GitHubClient

    repository = opts.issue_repository or opts.repository
    if not repository or "/" not in repository or "://" in repository:
        raise InputError("issue-repository", repository, "owner/name of the repository the weekly issue goes to")
    client = GitHubClient(repository, opts.github_token or opts.token)
    try:
        body = render.issue_body(written.report, written.charts)
        url, _, created = client.open_issue(issue_title(opts.issue_title, period), body, list(opts.issue_labels),
                                            closed_too=True, update=True)  # one issue per week, updated
    finally:
        client.close()
    return replace(written, issue_url=url, issue_created=created)
