"""After a rollback in production: the post-mortem issue (validated GitHub fake), linked both ways
with the incident record in the GitOps repository (served over authenticated HTTP), and a line
in the rolled-back version's release notes."""

from __future__ import annotations

import json

import pytest

from tests.gitops.test_bump import bump, gitops, show  # noqa: F401  (gitops: the fixture `repo` uses)
from tests.plugins.git_repos import run_git


@pytest.fixture
def repo(gitops):  # noqa: F811
    """test_bump's GitOps repository over HTTP: staging runs v0.7.2, production v0.7.1."""
    return gitops


def roll_back(repo, github_api, capsys, monkeypatch, *more: str, environment: str = "production"):
    for key, value in github_api.env.items():
        if key != "GITHUB_TOKEN":
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    args = ("--repository", repo["url"], "--image", "ghcr.io/org/app", "--path", "apps/app/overlays/{environment}",
            "--environment", environment, "--source-repository", "org/app", "--source-commit", "a" * 40,
            "--github-repository", "org/gitops")
    assert bump(capsys, *args, "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)[0] == 0
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", github_api.token)
    return bump(capsys, *args, "--tag", "v0.7.1" if environment == "production" else "v0.7.2", "--rollback",
                "--reason", "error rate 5% @oncall <b>", "--detected-at", "2026-11-22T10:00:00Z", *more,
                token=repo["token"], monkeypatch=monkeypatch)


def test_a_production_rollback_files_the_post_mortem_and_links_it_both_ways(repo, github_api, capsys, monkeypatch):
    github_api.seed_release("v0.8.0", body="## What's new\n\n- search\n")
    code, out, err = roll_back(repo, github_api, capsys, monkeypatch)
    assert code == 0, err

    [issue] = github_api.issues.values()
    assert issue.title.startswith("Post-mortem: app v0.8.0 rolled back in production (")
    assert issue.labels == ["post-mortem", "incident"]
    body = issue.body or ""
    for part in ("**Due:** ", "(48 h after the rollback)", "## Summary", "## Timeline", "| detected | 2026-11-22 10:00 UTC |",
                 "## Root cause", "## Action items", "- [ ] "):
        assert part in body, part
    assert "@\u200boncall" in body and "<b>" not in body  # no page, no HTML from the reason
    record = json.loads(show(repo["bare"], "main", "deployments/production.jsonl").splitlines()[-1])
    incident_path = record["incident"]
    assert f"https://github.com/org/gitops/blob/{out['commit-sha']}/{incident_path}" in body  # issue → incident

    incident_text = show(repo["bare"], "main", incident_path)  # incident → issue, in a forward commit
    assert f"- Post-mortem: https://github.com/org/app/issues/{issue.number} (due " in incident_text
    assert run_git(repo["bare"], "log", "-1", "--format=%s", "main").startswith("docs(incident): post-mortem")

    notes = github_api.release_for_tag("v0.8.0").body or ""
    assert notes.startswith("## What's new\n\n- search\n\nRolled back in production on ")
    assert "because error rate 5% @\u200boncall &lt;b&gt;, see incident https://github.com/org/gitops/blob/" in notes


def test_opening_the_same_post_mortem_again_finds_the_open_one(github_api):
    from deploy_actions.github import GitHubClient

    client = GitHubClient("org/app", github_api.token, api_url=github_api.url)
    first = client.open_issue("Post-mortem: app v1 rolled back", "body", ["post-mortem"])
    again = client.open_issue("Post-mortem: app v1 rolled back", "body", ["post-mortem"])
    client.close()
    assert first[2] is True and again == (first[0], first[1], False) and len(github_api.issues) == 1


@pytest.mark.parametrize(("environment", "more", "issues"), [
    ("staging", (), 0), ("staging", ("--post-mortem", "true"), 1), ("production", ("--post-mortem", "false"), 0),
])
def test_production_files_one_by_default_and_post_mortem_says_otherwise(repo, github_api, capsys, monkeypatch,
                                                                       environment, more, issues):
    code, _, err = roll_back(repo, github_api, capsys, monkeypatch, *more, environment=environment)
    assert code == 0, err
    assert len(github_api.issues) == issues


def test_when_github_refuses_the_rollback_stands_and_a_warning_says_what_to_do(repo, github_api, capsys,
                                                                               monkeypatch):
    github_api.fail_next(status=403, method="POST", path="/repos/org/app/issues")
    code, out, err = roll_back(repo, github_api, capsys, monkeypatch)
    assert code == 0 and out["changed"] is True
    assert "post-mortem not filed:" in err and "open it by hand from the incident record incidents/" in err
    assert github_api.token not in err
