"""Rolled-back versions stay rolled back: gitops-bump reads the environment's records in the GitOps
repository (served over authenticated HTTP) and refuses a tag a rollback took out, across runs."""

from __future__ import annotations

import json

import pytest

from tests.gitops.test_bump import bump, gitops, show  # noqa: F401  (gitops: the fixture `repo` uses)
from tests.plugins.git_repos import run_git


@pytest.fixture
def repo(gitops):  # noqa: F811
    """test_bump's GitOps repository over HTTP: staging runs v0.7.2, production v0.7.1."""
    return gitops


COMMON = ("--image", "ghcr.io/org/app", "--path", "apps/app/overlays/{environment}")


def _roll_out_and_back(repo, capsys, monkeypatch, environment: str = "production") -> None:
    """v0.8.0 reaches the environment, and a rollback takes it back to the tag it ran before."""
    args = ("--repository", repo["url"], *COMMON, "--environment", environment)
    before = "v0.7.1" if environment == "production" else "v0.7.2"
    assert bump(capsys, *args, "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)[0] == 0
    code, _, err = bump(capsys, *args, "--tag", before, "--rollback", "--reason", "error rate 5% vs 0.1%",
                        token=repo["token"], monkeypatch=monkeypatch)
    assert code == 0, err


def test_a_rolled_back_tag_is_refused_in_one_line_saying_when_why_and_how_to_override(repo, capsys, monkeypatch):
    _roll_out_and_back(repo, capsys, monkeypatch)
    head = run_git(repo["bare"], "rev-parse", "main")
    code, out, err = bump(capsys, "--repository", repo["url"], *COMMON, "--environment", "production",
                          "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 1 and out == {}
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1, err
    line = errors[0]
    assert "v0.8.0 was rolled back in production on 20" in line and "UTC because error rate 5% vs 0.1%" in line
    assert "(incident incidents/" in line and "allow-rolled-back: true and a reason" in line
    assert run_git(repo["bare"], "rev-parse", "main") == head  # nothing written


def test_the_override_needs_a_reason_and_is_recorded_in_the_record_and_the_trailers(repo, capsys, monkeypatch):
    _roll_out_and_back(repo, capsys, monkeypatch)
    args = ("--repository", repo["url"], *COMMON, "--environment", "production", "--tag", "v0.8.0")
    code, _, err = bump(capsys, *args, "--allow-rolled-back", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 2 and "input 'reason'" in err

    code, out, err = bump(capsys, *args, "--allow-rolled-back", "--reason", "the cause was a config flag, fixed",
                          token=repo["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["changed"] is True and out["tag"] == "v0.8.0"
    assert "deploying it again (allow-rolled-back)" in err
    message = run_git(repo["bare"], "log", "-1", "--format=%B", "main")
    assert "Allow-Rolled-Back: the cause was a config flag, fixed" in message and "Rolled-Back-At: 20" in message
    record = json.loads(show(repo["bare"], "main", "deployments/production.jsonl").splitlines()[-1])
    assert record["event"] == "bump" and record["allow_rolled_back"] is True
    assert record["reason"] == "the cause was a config flag, fixed" and record["rolled_back_at"].endswith("Z")


def test_after_the_override_the_version_deploys_until_it_is_rolled_back_again(repo, capsys, monkeypatch):
    _roll_out_and_back(repo, capsys, monkeypatch)
    args = ("--repository", repo["url"], *COMMON, "--environment", "production")
    assert bump(capsys, *args, "--tag", "v0.8.0", "--allow-rolled-back", "--reason", "fixed the flag",
                token=repo["token"], monkeypatch=monkeypatch)[0] == 0
    assert bump(capsys, *args, "--tag", "v0.8.1", token=repo["token"], monkeypatch=monkeypatch)[0] == 0
    assert bump(capsys, *args, "--tag", "v0.8.0", "--rollback", "--reason", "v0.8.1 broke login",
                token=repo["token"], monkeypatch=monkeypatch)[0] == 0  # a rollback *to* it is never refused
    code, _, err = bump(capsys, *args, "--tag", "v0.8.1", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 1 and "v0.8.1 was rolled back in production" in err and "because v0.8.1 broke login" in err


def test_the_rule_holds_only_where_the_rollback_happened(repo, capsys, monkeypatch):
    _roll_out_and_back(repo, capsys, monkeypatch, environment="staging")
    code, out, err = bump(capsys, "--repository", repo["url"], *COMMON, "--environment", "production",
                          "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 0, err  # a direct deploy to production is production's business
    code, _, err = bump(capsys, "--repository", repo["url"], *COMMON, "--environment", "staging",
                        "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 1 and "rolled back in staging" in err


def test_promote_refuses_a_tag_rolled_back_in_the_source_environment(repo, capsys, monkeypatch):
    # v0.8.0 is rolled back in staging, then pinned there again by hand, without repo-bump: it
    # runs in staging, but the records still say it was rolled back there.
    _roll_out_and_back(repo, capsys, monkeypatch, environment="staging")
    args = ("--repository", repo["url"], *COMMON)
    seed = repo["bare"].parent / "hand"
    run_git(repo["bare"].parent, "clone", "-q", str(repo["bare"]), str(seed))
    path = seed / "apps/app/overlays/staging/kustomization.yaml"
    path.write_text(path.read_text().replace('newTag: "v0.7.2"', 'newTag: "v0.8.0"', 1))
    run_git(seed, "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qam", "hand edit")
    run_git(seed, "push", "-q", "origin", "HEAD:main")
    code, _, err = bump(capsys, *args, "--environment", "production", "--promote-from", "staging",
                        token=repo["token"], monkeypatch=monkeypatch)
    assert code == 1 and "v0.8.0 was rolled back in staging" in err
    assert "refusing to promote it from staging to production" in err
    code, out, err = bump(capsys, *args, "--environment", "production", "--promote-from", "staging",
                          "--allow-rolled-back", "--reason", "verified by hand in staging",
                          token=repo["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["tag"] == "v0.8.0"


def test_a_hostile_record_line_stops_the_check_naming_file_line_and_field(repo, capsys, monkeypatch):
    seed = repo["bare"].parent / "hostile"
    run_git(repo["bare"].parent, "clone", "-q", str(repo["bare"]), str(seed))
    (seed / "deployments").mkdir()
    good = {"timestamp": "2026-11-22T10:00:00Z", "event": "bump", "app": "app", "environment": "production",
            "version": "v0.7.1", "run_url": "https://github.com/org/app/actions/runs/1"}
    hostile = {**good, "event": "rollback", "version": "v0.7.0", "previous_version": "v0.8.0",
               "run_url": "javascript:alert(1)"}
    (seed / "deployments/production.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(hostile) + "\n")
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qm", "records")
    run_git(seed, "push", "-q", "origin", "HEAD:main")
    code, _, err = bump(capsys, "--repository", repo["url"], *COMMON, "--environment", "production",
                        "--tag", "v0.8.0", token=repo["token"], monkeypatch=monkeypatch)
    assert code == 2
    assert "deployments/production.jsonl:2: field 'run_url'" in err and "an http(s) URL" in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
