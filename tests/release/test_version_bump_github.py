"""version-bump with GitHub: releases and release pull requests, against the API fake."""

from __future__ import annotations

import json

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import GitRepo


@pytest.fixture
def gh_env(github_api, monkeypatch):
    for key, value in github_api.env.items():
        monkeypatch.setenv(key, value)
    import deploy_actions.github as gh

    monkeypatch.setattr(gh, "SECONDS_BETWEEN_REQUESTS", 0.0, raising=False)
    monkeypatch.setattr(gh, "SECONDS_BETWEEN_WRITES", 0.0, raising=False)
    return github_api


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("chore: version file", {"VERSION": "2.0.0\n"})
    git_repo.tag("v2.0.0")
    git_repo.commit("feat: dark mode")
    git_repo.commit("fix!: drop the legacy theme\n\nBREAKING CHANGE: `theme: legacy` is gone")
    git_repo.push()
    return git_repo


def run(repo: GitRepo, capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["version-bump", "--repo", str(repo.path), "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_github_release_body_is_the_release_notes(repo, gh_env, capsys):
    code, out, err = run(repo, capsys, "--version-files", "VERSION", "--push", "--github-release")
    assert code == 0, err
    release = gh_env.release_for_tag("v3.0.0")
    assert release is not None and not release.prerelease
    assert release.body == out["release-notes"]
    assert "### Breaking Changes" in release.body and "`theme: legacy` is gone" in release.body
    assert gh_env.token not in err


def test_prerelease_is_marked_as_such_on_github(repo, gh_env, capsys):
    _code, out, _ = run(repo, capsys, "--prerelease-id", "rc", "--github-release")
    assert out["version"] == "3.0.0-rc.1"
    assert gh_env.release_for_tag("v3.0.0-rc.1").prerelease


def test_release_pull_request_mode_opens_one_pr_then_updates_it(repo, gh_env, capsys):
    before = repo.git("rev-parse", "HEAD"), (repo.path / "VERSION").read_text()
    code, out, err = run(repo, capsys, "--mode", "pull-request", "--push", "--version-files", "VERSION",
                         "--changelog", "update")
    assert code == 0, err
    assert out["released"] is False and out["version"] == "3.0.0" and out["pull-request-url"]
    # The caller's checkout is untouched; the release branch carries the edits.
    assert (repo.git("rev-parse", "HEAD"), (repo.path / "VERSION").read_text()) == before
    assert repo.remote_git("show", "release/next:VERSION") == "3.0.0"
    assert "## [3.0.0]" in repo.remote_git("show", "release/next:CHANGELOG.md")
    assert len(gh_env.pulls) == 1
    (pr,) = gh_env.pulls.values()
    assert pr.base == "main" and "v3.0.0" in pr.title

    repo.commit("fix: one more thing")
    repo.push()
    code, out, err = run(repo, capsys, "--mode", "pull-request", "--push", "--version-files", "VERSION",
                         "--changelog", "update")
    assert code == 0, err
    assert len(gh_env.pulls) == 1  # updated, never duplicated
    (pr,) = gh_env.pulls.values()
    assert "one more thing" in pr.body


def test_merged_release_pull_request_is_tagged_and_released(repo, gh_env, capsys):
    run(repo, capsys, "--mode", "pull-request", "--push", "--version-files", "VERSION")
    # Merge the release branch the way GitHub's merge button would.
    repo.git("fetch", "-q", "origin", "release/next")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1 from org/release/next", "FETCH_HEAD")
    repo.push()
    code, out, err = run(repo, capsys, "--mode", "pull-request", "--push", "--version-files", "VERSION",
                         "--github-release")
    assert code == 0, err
    assert out["released"] is True and out["tag"] == "v3.0.0"
    assert repo.remote_git("rev-parse", "v3.0.0^{commit}") == repo.git("rev-parse", "HEAD")
    assert gh_env.release_for_tag("v3.0.0") is not None
    # And once more: nothing left to do.
    code, out, _ = run(repo, capsys, "--mode", "pull-request", "--push", "--version-files", "VERSION")
    assert out["released"] is False and len(gh_env.pulls) == 1


def test_pull_request_mode_without_a_token_is_bad_input(repo, gh_env, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = run(repo, capsys, "--mode", "pull-request", "--push")
    assert code == 2 and "input 'token'" in err


def test_commit_override_in_the_merged_pull_request_replaces_the_squash_message(git_repo, gh_env, capsys):
    pull = gh_env.seed_pull_request(title="Storage rework", state="closed", body=(
        "Reworks storage.\r\n\r\nBEGIN_COMMIT_OVERRIDE\r\nfeat(storage): add the S3 backend\r\n\r\n"
        "fix: close files on error\r\nchore: tidy\r\nEND_COMMIT_OVERRIDE\r\n"))
    git_repo.tag("v1.4.0")
    git_repo.commit(f"Storage rework (#{pull.number})\n\n* wip\n* more wip")
    git_repo.commit("fix: typo in the docs link (#4242)")  # an issue number, not a pull request
    code, out, err = run(git_repo, capsys, "--dry-run", "--commit-overrides")
    assert code == 0, err
    assert out["version"] == "1.5.0"
    notes = out["release-notes"]
    assert "**storage:** add the S3 backend" in notes and "close files on error" in notes
    assert "typo in the docs link" in notes and "tidy" not in notes
    reads = [r for r in gh_env.requests if r.method == "GET" and "/pulls/" in r.path]
    assert len(reads) == 2  # one per pull request number, the missing one included
    assert gh_env.token not in err


def test_without_commit_overrides_the_api_is_not_asked(git_repo, gh_env, capsys):
    git_repo.tag("v1.4.0")
    git_repo.commit("Storage rework (#1)\n\n* feat: x")
    code, out, _ = run(git_repo, capsys, "--dry-run")
    assert code == 0 and out["version"] == "1.5.0"
    assert not [r for r in gh_env.requests if "/pulls/" in r.path]


def test_commit_overrides_needs_a_token(git_repo, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("INPUT_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    code, _out, err = run(git_repo, capsys, "--dry-run", "--commit-overrides")
    assert code == 2 and "token" in err and "commit-overrides" in err
