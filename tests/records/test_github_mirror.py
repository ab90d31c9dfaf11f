"""The GitHub Deployments mirror against the GitHub API fake (every answer held to GitHub's
OpenAPI description): one deployment per commit, environment and version, a status per event."""

from __future__ import annotations

import json

import pytest

from deploy_actions.cli import main
from deploy_actions.github import GitHubClient
from deploy_actions.records.github_mirror import status_for
from tests.plugins.git_repos import run_git
from tests.records.test_deployment_command import gitops  # noqa: F401 -- the fixture

SHA = "0123456789abcdef" * 2 + "01234567"
RUN = "https://github.com/org/app/actions/runs/77"


@pytest.fixture
def gh(github_api, monkeypatch, gitops):  # noqa: F811
    import deploy_actions.github as client

    monkeypatch.setattr(client, "SECONDS_BETWEEN_REQUESTS", 0.0, raising=False)
    monkeypatch.setattr(client, "SECONDS_BETWEEN_WRITES", 0.0, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    # The git server and the API fake each want their own token; the action uses one, so align them.
    monkeypatch.setattr(github_api, "token", gitops["token"], raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", gitops["token"])
    return github_api


def send(capsys, gitops, event: str, *args: str, version: str = "v1.2.0") -> tuple[int, dict, str]:  # noqa: F811
    code = main(["deployment", "--json", "--repository", gitops["url"], "--app", "app", "--environment",
                 "production", "--version", version, "--image", "ghcr.io/org/app", "--source-commit", SHA,
                 "--github-repository", "org/app", "--github-deployments", "--run-url", RUN,
                 "--environment-url", "https://app.example.com", "--event", event, *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def records(gitops) -> list[dict]:  # noqa: F811
    return [json.loads(line) for line in run_git(gitops["bare"], "show", "main:deployments/production.jsonl")
            .splitlines()]


def test_the_lifecycle_shows_as_one_deployment_and_its_statuses(gh, gitops, capsys):  # noqa: F811
    code, out, err = send(capsys, gitops, "opened")
    assert code == 0, err
    (deployment,) = gh.deployments.values()
    assert out["deployment-id"] == deployment.id and records(gitops)[-1]["github_deployment_id"] == deployment.id
    assert (deployment.sha, deployment.environment, deployment.task) == (SHA, "production", "deploy")
    assert deployment.payload == {"app": "app", "version": "v1.2.0", "image": "ghcr.io/org/app"}
    assert deployment.production_environment is True and deployment.transient_environment is False
    created = gh.calls("POST", "/repos/org/app/deployments")[0].body
    assert created["auto_merge"] is False and created["required_contexts"] == []
    long_reason = "canary error rate 5% against 0.1% " * 10
    assert send(capsys, gitops, "shelved", "--cause", "canary-failed", "--reason", long_reason)[0] == 0
    assert send(capsys, gitops, "resumed")[0] == 0
    assert send(capsys, gitops, "shelved", "--cause", "freeze", "--reason", "year-end freeze")[0] == 0
    assert send(capsys, gitops, "resumed")[0] == 0
    code, out, err = send(capsys, gitops, "concluded")
    assert code == 0 and out["deployment-id"] == deployment.id, err
    assert len(gh.deployments) == 1
    assert deployment.states == ["in_progress", "failure", "in_progress", "queued", "in_progress", "success"]
    failure = deployment.statuses[1]
    assert len(failure.description) == 140 and failure.description.startswith("canary error rate 5%")
    success = deployment.statuses[-1]
    assert success.log_url == RUN and success.environment_url == "https://app.example.com"
    assert all(r.get("github_deployment_id") == deployment.id for r in records(gitops)[1:])


def test_a_rerun_adds_no_deployment_and_no_status(gh, gitops, capsys):  # noqa: F811
    assert send(capsys, gitops, "opened")[0] == 0
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, out, err = send(capsys, gitops, "opened")
    assert code == 0 and out["changed"] is False, err
    (deployment,) = gh.deployments.values()
    assert out["deployment-id"] == deployment.id and deployment.states == ["in_progress"]
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_a_rerun_repairs_a_mirror_that_failed_after_the_push(gh, gitops, capsys):  # noqa: F811
    assert send(capsys, gitops, "opened")[0] == 0
    (deployment,) = gh.deployments.values()
    deployment.statuses.clear()  # as if the status call had been lost
    code, out, _ = send(capsys, gitops, "opened")
    assert code == 0 and out["changed"] is False and deployment.states == ["in_progress"]


def test_a_deployment_missing_from_the_records_is_found_by_commit_and_environment(gh, gitops, capsys):  # noqa: F811
    code = main(["deployment", "--repository", gitops["url"], "--app", "app", "--environment", "production",
                 "--version", "v1.2.0", "--event", "opened", "--run-url", RUN])  # not mirrored
    assert code == 0
    client = GitHubClient("org/app", gh.token)
    existing, created = client.ensure_deployment(SHA, "production", {"version": "v1.2.0"}, "made elsewhere")
    assert created
    code, out, err = send(capsys, gitops, "concluded")
    assert code == 0 and out["deployment-id"] == existing, err
    assert gh.deployments[existing].states == ["success"]


def test_the_mirror_failing_writes_no_record(gh, gitops, capsys):  # noqa: F811
    head = run_git(gitops["bare"], "rev-parse", "main")
    gh.fail_next(10, status=502, method="POST", path="/repos/org/app/deployments")
    code, _, err = send(capsys, gitops, "opened")
    assert code == 1 and "GitHub API" in err and gh.token not in err and "Traceback" not in err
    assert run_git(gitops["bare"], "rev-parse", "main") == head


@pytest.mark.parametrize(("event", "cause", "state"), [
    ("opened", "", "in_progress"), ("resumed", "", "in_progress"), ("concluded", "", "success"),
    ("shelved", "smoke-failed", "failure"), ("shelved", "canary-failed", "failure"),
    ("shelved", "freeze", "queued"), ("shelved", "window", "queued"), ("shelved", "manual", "queued"),
    ("shelved", "environment-unavailable", "queued"),
])
def test_status_for_each_event(event, cause, state):
    assert status_for(event, cause) == state


def test_a_separate_github_token_and_a_commit_of_another_repository(gh, gitops, capsys, monkeypatch):  # noqa: F811
    """In a GitOps repository that promotes, the deployment is on its own commit, written with its
    own GITHUB_TOKEN, while the GitOps push uses the token input."""
    api_token, gitops_commit = "ghs_" + "ApiOnly9" * 5, "fedcba9876543210" * 2 + "fedcba98"
    monkeypatch.setattr(gh, "token", api_token, raising=False)
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", api_token)
    code, out, err = send(capsys, gitops, "opened", "--deployment-sha", gitops_commit)
    assert code == 0, err
    (deployment,) = gh.deployments.values()
    assert deployment.sha == gitops_commit and records(gitops)[-1]["source_commit"] == SHA
    assert api_token not in err + json.dumps(out)


def test_deployment_sha_must_be_a_full_commit(gh, gitops, capsys):  # noqa: F811
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = send(capsys, gitops, "opened", "--deployment-sha", "main")
    assert code == 2 and "input 'deployment-sha': got 'main'" in err
    assert run_git(gitops["bare"], "rev-parse", "main") == before
