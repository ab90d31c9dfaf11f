"""The report with the GitHub API (the local fake, held to GitHub's OpenAPI description): lead time
from the source commits' times, and one issue per week, updated rather than duplicated."""

from __future__ import annotations

import json

import pytest

from deploy_actions.report.build import ReportOptions, make_report
from tests.report.builder import Records, at

C1, C2, UNKNOWN = "1" * 40, "2" * 40, "9" * 40


@pytest.fixture
def api_env(github_api, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    return github_api


def history() -> Records:
    r = Records()
    for version, commit, day in (("v1", C1, 17), ("v2", C2, 18), ("v3", UNKNOWN, 19)):
        r.opened(at(f"2026-11-{day}T10:00:00Z"), "app", "production", version, source_commit=commit)
        r.bump(at(f"2026-11-{day}T10:01:00Z"), "app", "production", version, source_commit=commit)
        r.concluded(at(f"2026-11-{day}T12:00:00Z"), "app", "production", version)
    return r


def options(root, tmp_path, token, **extra):
    return ReportOptions(path=str(root), since="2026-11-16", until="2026-11-23", output_dir=str(tmp_path / "out"),
                         github_token=token, **extra)


def test_lead_time_counts_from_the_commit_time_when_a_token_is_given(api_env, tmp_path):
    api_env.seed_commit(C1, "2026-11-16T10:00:00Z", authored_at="2026-11-01T00:00:00Z")  # 26 h before concluded
    api_env.seed_commit(C2, "2026-11-18T08:00:00Z")  # 4 h
    root = history().write(tmp_path / "g")
    data = make_report(options(root, tmp_path, api_env.token)).report
    lead = data["dora"]["fleet"]["lead_time"]
    # v3's commit is unknown to GitHub (422): it counts from its first record, 2 h before it concluded.
    assert data["dora"]["lead_time_from"] == "commit"
    assert (lead["value"], lead["p90"], lead["count"]) == (pytest.approx(4.0), pytest.approx(26.0), 3)
    asked = sorted(call.path.rsplit("/", 1)[1] for call in api_env.calls("GET") if "/commits/" in call.path)
    assert asked == [C1, C2, UNKNOWN]
    without = make_report(options(root, tmp_path, "")).report["dora"]["fleet"]["lead_time"]
    assert without["value"] == pytest.approx(2.0)


def test_the_weeks_issue_is_opened_once_then_updated(api_env, tmp_path):
    root = history().write(tmp_path / "g")
    api_env.seed_pull_request(title="Operations report 2026-W47", labels=["operations-report"])  # not an issue
    api_env.seed_issue("Operations report 2026-W46", labels=["operations-report"], state="closed")  # last week
    first = make_report(options(root, tmp_path, api_env.token, issue=True, issue_repository="org/app"))
    assert first.issue_created and first.issue_url.endswith("/issues/3")
    issue = api_env.issues[3]
    assert issue.title == "Operations report 2026-W47" and issue.labels == ["operations-report"]
    assert issue.body is not None and "## DORA keys (production)" in issue.body and "```mermaid" in issue.body
    assert ".svg" not in issue.body  # the SVG files are not in the repository the issue links to
    # The same week again, with one more deployment: the same issue, its body updated.
    more = history()
    more.opened(at("2026-11-20T10:00:00Z"), "app", "production", "v4", source_commit=C1)
    more.bump(at("2026-11-20T10:01:00Z"), "app", "production", "v4", source_commit=C1)
    more.concluded(at("2026-11-20T11:00:00Z"), "app", "production", "v4")
    more.write(root)
    second = make_report(options(root, tmp_path, api_env.token, issue=True, issue_repository="org/app"))
    assert not second.issue_created and second.issue_url == first.issue_url
    assert len(api_env.issues) == 2 and "4 deployments concluded" in (api_env.issues[3].body or "")
    # Nothing changed: nothing is written.
    patches = len(api_env.calls("PATCH"))
    make_report(options(root, tmp_path, api_env.token, issue=True, issue_repository="org/app"))
    assert len(api_env.calls("PATCH")) == patches
    assert [c.query.get("labels") for c in api_env.calls("GET", "/repos/org/app/issues")] == ["operations-report"] * 3


def test_the_issue_title_names_the_week(api_env, tmp_path):
    root = history().write(tmp_path / "g")
    written = make_report(options(root, tmp_path, api_env.token, issue=True, issue_repository="org/app",
                                  issue_title="Ops {since} to {until}"))
    assert api_env.issues[int(written.issue_url.rsplit("/", 1)[1])].title == "Ops 2026-11-16 to 2026-11-23"
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["period"]["since"] == "2026-11-16T00:00:00Z"
