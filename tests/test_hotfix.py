"""The hotfix lane's paperwork against real parts: a code repository served over authenticated HTTP
(hotfix branches, one merged back by cherry-pick, one not) and the validated GitHub API fake."""

from __future__ import annotations

import json
import os

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import run_git

OLD = "2026-01-01T10:00:00Z"


def commit(repo, message: str, files: dict[str, str], date: str | None = None) -> None:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    run_git(repo, "add", "-A")
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run_git(repo, "-c", "user.name=dev", "-c", "user.email=dev@x", "commit", "-qm", message)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def code(git_http, tmp_path):
    """main; hotfix/login (unmerged, last commit long ago); hotfix/cache (cherry-picked into main)."""
    work = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(work))
    commit(work, "feat: first", {"app.py": "v1\n"})
    run_git(work, "checkout", "-qb", "hotfix/cache")
    commit(work, "fix: cache key", {"cache.py": "key\n"})
    run_git(work, "checkout", "-q", "main")
    run_git(work, "-c", "user.name=dev", "-c", "user.email=dev@x", "cherry-pick", "hotfix/cache")
    run_git(work, "checkout", "-qb", "hotfix/login", "main~1")
    commit(work, "fix: login loop", {"login.py": "fixed\n"}, date=OLD)
    run_git(work, "checkout", "-q", "main")
    bare = git_http.root / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    checkout = tmp_path / "checkout"
    run_git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(checkout))
    run_git(checkout, "remote", "set-url", "origin", git_http.url("app.git"))
    return checkout


def hotfix(capsys, monkeypatch, github_api, git_http, *args: str) -> tuple[int, dict, str]:
    for key, value in github_api.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITHUB_TOKEN", git_http.token)
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", github_api.token)
    code = main(["hotfix", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_an_unmerged_hotfix_is_annotated_and_after_24h_gets_one_reminder(code, github_api, git_http, capsys,
                                                                        monkeypatch):
    result, out, err = hotfix(capsys, monkeypatch, github_api, git_http, "--repo", str(code))
    assert result == 0, err
    assert json.loads(out["unmerged"]) == ["hotfix/login"]  # the cherry-picked one counts as merged
    assert "hotfix/login has 1 commit(s) not in main" in err and "merge it back" in err
    [issue] = github_api.issues.values()
    assert issue.title == "Merge hotfix/login back into main" and issue.labels == ["hotfix", "merge-back"]
    assert "fix: login loop" in (issue.body or "")
    result, out, _ = hotfix(capsys, monkeypatch, github_api, git_http, "--repo", str(code))
    assert result == 0 and len(github_api.issues) == 1 and json.loads(out["merge-back-issues"]) == [issue_url(issue)]


def issue_url(issue) -> str:
    return f"https://github.com/org/app/issues/{issue.number}"


def test_a_fresh_hotfix_is_only_annotated(code, github_api, git_http, capsys, monkeypatch):
    result, out, err = hotfix(capsys, monkeypatch, github_api, git_http, "--repo", str(code), "--merge-back-after",
                              "87600h")
    assert result == 0, err
    assert json.loads(out["unmerged"]) == ["hotfix/login"] and github_api.issues == {}
    assert not github_api.requests  # nothing to open: GitHub is not even asked


def test_the_post_mortem_opens_from_the_template(code, github_api, git_http, capsys, monkeypatch):
    result, out, err = hotfix(capsys, monkeypatch, github_api, git_http, "--repo", str(code), "--merge-back-after",
                              "87600h", "--post-mortem", "--version", "hotfix-v1.2.4", "--reason",
                              "login loop for SSO users")
    assert result == 0, err
    [issue] = github_api.issues.values()
    assert issue.title == "Post-mortem: hotfix hotfix-v1.2.4" and issue.labels == ["post-mortem", "hotfix"]
    for part in ("**Due:**", "## Summary", "login loop for SSO users", "## Timeline", "## Root cause",
                 "## Action items", "- [ ] Merge the hotfix back into main"):
        assert part in (issue.body or "")
    assert out["post-mortem-url"] == issue_url(issue)


@pytest.mark.parametrize(("args", "name"), [
    (("--post-mortem",), "version"), (("--post-mortem", "--version", "hotfix-v1.2.4"), "reason"),
    (("--base", "no such"), "base"), (("--base", "gone"), "base"),
])
def test_bad_input_is_one_line_naming_it(code, github_api, git_http, capsys, monkeypatch, args, name):
    result, _, err = hotfix(capsys, monkeypatch, github_api, git_http, "--repo", str(code), *args)
    assert result == 2 and f"input '{name}'" in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
