"""The weekly report, end to end: the starter `workflows/gitops-report.yml`, copied into a GitOps
repository, runs under act on its schedule event, reads the records, and posts the week's issue
through the reusable `report.yml` (to the GitHub API fake); run again, it updates that issue."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes.github_api import GitHubAPIFake
from tests.plugins.act import REPO_ROOT, Act
from tests.plugins.git_repos import run_git
from tests.report.builder import Records

pytestmark = pytest.mark.e2e


def gitops_repository(tmp_path: Path, records: Records) -> tuple[Path, Path]:
    repo, bare = tmp_path / "gitops", tmp_path / "gitops.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.name", "Ops"), ("user.email", "ops@example.com"), ("commit.gpgsign", "false")):
        run_git(repo, "config", key, value)
    run_git(repo, "remote", "add", "origin", str(bare))
    run_git(repo, "remote", "add", "github", "https://github.com/org/app.git")  # act names the repository by it
    records.write(repo)
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "workflows" / "gitops-report.yml", repo / ".github" / "workflows" / "report.yml")
    commit(repo, "chore: records and the report workflow")
    return repo, bare


def commit(repo: Path, message: str) -> None:
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    run_git(repo, "push", "-q", "origin", "main")


def week(now: dt.datetime, records: Records, start: int) -> None:
    for n in range(start, start + 2):
        when = now - dt.timedelta(days=5 - n)
        records.opened(when, "app", "production", f"v1.{n}.0", source_commit=f"{n:040d}")
        records.bump(when + dt.timedelta(minutes=1), "app", "production", f"v1.{n}.0", source_commit=f"{n:040d}")
        records.concluded(when + dt.timedelta(minutes=30), "app", "production", f"v1.{n}.0")


def run(act: Act, repo: Path, bare: Path, api: GitHubAPIFake):
    result = act.run(repo / ".github" / "workflows" / "report.yml", cwd=repo, event="schedule", checkout_remote=bare,
                     env={"GITHUB_API_URL": api.url}, secrets={"GITHUB_TOKEN": api.token},
                     extra=["--remote-name", "github"])
    assert result.ok, result.report
    return result


def test_the_weekly_report_is_one_issue_updated_not_duplicated(act: Act, github_api: GitHubAPIFake, tmp_path: Path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    records = Records()
    week(now, records, 1)
    repo, bare = gitops_repository(tmp_path, records)
    first = run(act, repo, bare, github_api)
    assert len(github_api.issues) == 1, first.report
    issue = next(iter(github_api.issues.values()))
    year, number, _ = (now - dt.timedelta(days=7)).isocalendar()
    assert issue.title == f"Operations report {year}-W{number:02d}" and issue.labels == ["operations-report"]
    assert issue.body is not None and "2 deployments concluded" in issue.body and "## DORA keys" in issue.body
    week(now, records, 3)  # two more deployments, the same week
    records.write(repo)
    commit(repo, "chore: two more deployments")
    run(act, repo, bare, github_api)
    assert list(github_api.issues) == [issue.number]
    assert "4 deployments concluded" in (github_api.issues[issue.number].body or "")
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout == ""
