"""`deploy-actions deployment` against real repositories: a bare GitOps repository over
authenticated HTTP, several pipelines appending at once, and the command as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import run_git

SHA = "c0ffee" + "0" * 34
RUN = "https://github.com/org/app/actions/runs/41"


@pytest.fixture
def gitops(git_http, tmp_path):
    """A GitOps repository served over HTTP with token auth, holding one gitops-bump record."""
    seed = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    (seed / "deployments").mkdir()
    bump = {"timestamp": "2026-11-22T09:00:00Z", "event": "bump", "environment": "production", "app": "app",
            "version": "v1.2.0", "status": "pending"}
    (seed / "deployments/production.jsonl").write_text(json.dumps(bump) + "\n")
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = git_http.root / "gitops.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return {"url": git_http.url("gitops.git"), "bare": bare, "token": git_http.token, "server": git_http}


def records(bare: Path, environment: str = "production") -> list[dict]:
    text = run_git(bare, "show", f"main:deployments/{environment}.jsonl")
    return [json.loads(line) for line in text.splitlines()]


def deployment(capsys, monkeypatch, token: str, *args: str) -> tuple[int, dict, str]:
    monkeypatch.setenv("GITHUB_TOKEN", token)
    code = main(["deployment", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def base(gitops: dict, version: str = "v1.2.0", run_url: str = RUN) -> tuple[str, ...]:
    return ("--repository", gitops["url"], "--app", "app", "--environment", "production", "--version", version,
            "--source-repository", "org/app", "--source-commit", SHA, "--run-url", run_url)


def test_each_event_is_one_commit_with_the_record_and_the_trailers(gitops, capsys, monkeypatch):
    args = base(gitops)
    code, out, err = deployment(capsys, monkeypatch, gitops["token"], *args, "--event", "opened",
                                "--image", "ghcr.io/org/app", "--digest", "sha256:" + "1" * 64, "--override",
                                "--override-reason", "hotfix for the outage", "--actor", "octocat")
    assert code == 0, err
    assert out["state"] == "active" and out["previous-state"] == "pending" and out["changed"] is True
    assert out["commit-sha"] == run_git(gitops["bare"], "rev-parse", "main")
    message = run_git(gitops["bare"], "log", "-1", "--format=%B", "main")
    assert message.startswith("chore(deploy): app v1.2.0 in production: opened\n")
    for trailer in ("Source-Repository: org/app", f"Source-Commit: {SHA}", f"Workflow-Run: {RUN}"):
        assert trailer in message
    bump, opened = records(gitops["bare"])
    assert bump["event"] == "bump"  # gitops-bump's line is kept, byte for byte
    assert opened["event"] == "deployment_opened_v1" and opened["state"] == "active"
    assert opened["from_state"] == "pending" and opened["override"] is True
    assert opened["override_reason"] == "hotfix for the outage" and opened["actor"] == "octocat"
    assert opened["image"] == "ghcr.io/org/app" and opened["source_commit"] == SHA and opened["run_url"] == RUN
    code, out, err = deployment(capsys, monkeypatch, gitops["token"], *args, "--event", "shelved",
                                "--cause", "canary-failed", "--reason", "error rate 5% vs 0.1%")
    assert code == 0, err
    shelved = records(gitops["bare"])[-1]
    assert shelved["state"] == "paused" and shelved["cause"] == "canary-failed"
    assert shelved["image"] == "ghcr.io/org/app" and shelved["digest"].startswith("sha256:1")  # from the opening
    for event, state in (("resumed", "active"), ("concluded", "concluded")):
        code, out, err = deployment(capsys, monkeypatch, gitops["token"], *args, "--event", event)
        assert code == 0 and out["state"] == state, err
    assert [r["event"] for r in records(gitops["bare"])][1:] == [
        "deployment_opened_v1", "deployment_shelved_v1", "deployment_resumed_v1", "deployment_concluded_v1"]
    assert int(run_git(gitops["bare"], "rev-list", "--count", "main")) == 5


def test_a_rerun_of_the_same_event_writes_nothing(gitops, capsys, monkeypatch):
    assert deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "opened")[0] == 0
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, out, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "opened")
    assert code == 0, err
    assert out == {"state": "active", "previous-state": "active", "deployment-id": "", "commit-sha": "",
                   "changed": False}
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_opening_a_new_version_supersedes_the_running_one(gitops, capsys, monkeypatch):
    assert deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "opened")[0] == 0
    code, out, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops, "v1.3.0"), "--event", "opened")
    assert code == 0 and out["state"] == "active", err
    newest = records(gitops["bare"])[-1]
    assert newest["supersedes"] == "v1.2.0" and newest["previous_version"] == "v1.2.0"


def error_lines(stderr: str) -> list[str]:
    """stderr without the progress headings ("== Cloning …")."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("== ")]


def _cli(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_TOKEN": token, "GITHUB_ACTIONS": ""}
    return subprocess.run([sys.executable, "-m", "deploy_actions", "deployment", "--json", *args], env=env,
                          capture_output=True, text=True, check=False)


def test_an_illegal_transition_is_one_line_exit_2_and_nothing_is_pushed(gitops):
    head = run_git(gitops["bare"], "rev-parse", "main")
    proc = _cli(*base(gitops), "--event", "concluded", token=gitops["token"])
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = error_lines(proc.stderr)
    assert "deployment_concluded_v1" in line and "it is pending" in line and "needs state active" in line
    assert run_git(gitops["bare"], "rev-parse", "main") == head
    assert gitops["token"] not in proc.stderr


@pytest.mark.parametrize(("args", "name"), [
    (("--event", "shelved", "--reason", "x"), "cause"),
    (("--event", "shelved", "--cause", "freeze"), "reason"),
    (("--event", "shelved", "--cause", "weather", "--reason", "x"), "cause"),
    (("--event", "opened", "--cause", "freeze"), "cause"),
    (("--event", "concluded", "--override", "--override-reason", "x"), "override"),
    (("--event", "opened", "--override"), "override-reason"),
    (("--event", "opened", "--version", "v 1"), "version"),
    (("--event", "opened", "--github-deployments", "--github-repository", "org/app", "--source-commit", "main"),
     "source-commit"),
])
def test_bad_input_names_the_input_and_changes_nothing(gitops, args, name):
    head = run_git(gitops["bare"], "rev-parse", "main")
    proc = _cli(*base(gitops), *args, token=gitops["token"])
    assert proc.returncode == 2, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert f"input '{name}'" in line
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_json_output_and_no_token_anywhere(gitops):
    proc = _cli(*base(gitops), "--event", "opened", token=gitops["token"])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"state", "previous-state", "deployment-id", "commit-sha", "changed"}
    log = run_git(gitops["bare"], "log", "-p", "main")
    wire = "\n".join(gitops["server"].requests + gitops["server"].header_dump)  # all but Authorization
    for text in (proc.stdout, proc.stderr, log, wire):
        assert gitops["token"] not in text


def test_ten_pipelines_appending_at_once_all_land(gitops):
    versions = [f"v2.0.{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda v: _cli("--repository", gitops["url"], "--app", f"svc-{v}", "--environment",
                                               "production", "--version", v, "--event", "opened",
                                               token=gitops["token"]), versions))
    for proc in results:
        assert proc.returncode == 0, proc.stderr
    landed = [r for r in records(gitops["bare"]) if r["event"] == "deployment_opened_v1"]
    assert sorted(r["version"] for r in landed) == versions
    assert run_git(gitops["bare"], "rev-list", "--merges", "main") == ""
    assert int(run_git(gitops["bare"], "rev-list", "--count", "main")) == 11


def test_a_corrupted_record_line_is_one_clear_line(gitops, tmp_path):
    work = tmp_path / "work"
    run_git(tmp_path, "clone", "-q", str(gitops["bare"]), str(work))
    with open(work / "deployments/production.jsonl", "a") as fh:
        fh.write('{"event": "deployment_opened_v1", "app": \n')
    run_git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qam", "oops")
    run_git(work, "push", "-q", "origin", "main")
    proc = _cli(*base(gitops), "--event", "opened", token=gitops["token"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "deployments/production.jsonl:2:" in line


def test_a_local_checkout_is_committed_to_and_pushed_to_its_origin(git_repo, capsys, monkeypatch):
    monkeypatch.chdir(git_repo.path)
    code, out, err = deployment(capsys, monkeypatch, "", "--app", "app", "--environment", "dev",
                                "--version", "v0.1.0", "--event", "opened", "--run-url", RUN)
    assert code == 0, err
    assert out["commit-sha"] == git_repo.remote_git("rev-parse", "main")
    line = json.loads((git_repo.path / "deployments/dev.jsonl").read_text())
    assert line["event"] == "deployment_opened_v1" and line["environment"] == "dev"


def test_a_local_checkout_without_origin_is_committed_only(tmp_path, capsys, monkeypatch):
    repo = tmp_path / "co"
    run_git(tmp_path, "init", "-q", "-b", "main", str(repo))
    run_git(repo, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--allow-empty", "-m", "init")
    code, out, err = deployment(capsys, monkeypatch, "", "--app", "app", "--environment", "dev", "--version", "v1",
                                "--event", "opened", "--record", str(repo / "records/{environment}.jsonl"))
    assert code == 0, err
    assert out["commit-sha"] == run_git(repo, "rev-parse", "HEAD")
    assert run_git(repo, "show", "--name-only", "--format=", "HEAD") == "records/dev.jsonl"


def test_the_approvals_go_in_the_record_and_the_trailers(gitops, capsys, monkeypatch):
    given = json.dumps([{"user": "sentinel", "environment": "production", "comment": "ok\n::error::x"},
                        {"user": "service-owner", "environment": "production", "comment": ""},
                        {"user": "sentinel", "environment": "production", "comment": "twice"}])
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "opened",
                              "--approvals", given)
    assert code == 0, err
    opened = records(gitops["bare"])[-1]
    assert [a["user"] for a in opened["approvals"]] == ["sentinel", "service-owner", "sentinel"]
    assert opened["approvals"][0]["comment"] == "ok ::error::x"  # one line, never a workflow command
    message = run_git(gitops["bare"], "log", "-1", "--format=%B", "main")
    assert message.count("Approved-by: sentinel") == 1 and "Approved-by: service-owner" in message


@pytest.mark.parametrize("given", ['[{"user": "a b"}]', "{}", "not json", '[{"user": "ok", "environment": "../x"}]'])
def test_approvals_that_are_not_the_gates_list_are_refused_before_anything_is_written(gitops, capsys, monkeypatch,
                                                                                      given):
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "opened",
                              "--approvals", given)
    assert code == 2 and "input 'approvals'" in err
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_a_concluded_record_names_its_verification_evidence_as_run_links(gitops, capsys, monkeypatch):
    for event in ("opened",):
        assert deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", event)[0] == 0
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "concluded",
                              "--evidence", f"smoke-test={RUN}\ncanary={RUN}#summary")
    assert code == 0, err
    assert records(gitops["bare"])[-1]["evidence"] == {"smoke-test": RUN, "canary": RUN + "#summary"}


@pytest.mark.parametrize("line", ["smoke-test=/home/runner/work/_temp/smoke-report.json", "smoke-test",
                                  "=https://x.example/runs/1", "smoke test=https://x.example/runs/1"])
def test_evidence_that_is_not_a_link_is_refused(gitops, capsys, monkeypatch, line):
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "concluded",
                              "--evidence", line)
    assert code == 2 and "input 'evidence'" in err and "a run link" in err


def test_a_recreate_deploy_records_its_downtime_window(gitops, capsys, monkeypatch):
    args = (*base(gitops), "--strategy", "recreate")
    assert deployment(capsys, monkeypatch, gitops["token"], *args, "--event", "opened")[0] == 0
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *args, "--event", "concluded",
                              "--downtime-from", "2026-11-22T10:00:00Z", "--downtime-until", "2026-11-22T10:00:42Z")
    assert code == 0, err
    last = records(gitops["bare"])[-1]
    assert (last["event"], last["strategy"]) == ("deployment_concluded_v1", "recreate")
    assert last["downtime"] == {"from": "2026-11-22T10:00:00Z", "until": "2026-11-22T10:00:42Z", "seconds": 42}
    from deploy_actions.records import history, journal

    text = run_git(gitops["bare"], "show", "main:deployments/production.jsonl").encode()
    entries = history.entries(journal.numbered(text.split(b"\n"), "d.jsonl"), "d.jsonl", "app", "production")
    assert entries[-1].downtime is not None and entries[-1].downtime.seconds == 42


@pytest.mark.parametrize(("args", "message"), [
    (("--strategy", "rolling", "--downtime-from", "2026-11-22T10:00:00Z", "--downtime-until", "2026-11-22T10:00:42Z"),
     "input 'downtime-from': got '2026-11-22T10:00:00Z'; expected no downtime unless strategy is recreate"),
    (("--strategy", "recreate", "--downtime-from", "2026-11-22T10:00:00Z"), "input 'downtime-until': got ''"),
    (("--strategy", "recreate", "--downtime-from", "at ten", "--downtime-until", "2026-11-22T10:00:42Z"),
     "input 'downtime-from': got 'at ten'"),
    (("--strategy", "recreate", "--downtime-from", "2026-11-22T10:00:42Z", "--downtime-until", "2026-11-22T10:00:00Z"),
     "input 'downtime-until': got '2026-11-22T10:00:00Z'; expected a time not before downtime-from"),
])
def test_a_downtime_that_is_not_a_window_of_a_recreate_is_refused(gitops, capsys, monkeypatch, args, message):
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = deployment(capsys, monkeypatch, gitops["token"], *base(gitops), "--event", "concluded", *args)
    assert code == 2 and message in err, err
    assert run_git(gitops["bare"], "rev-parse", "main") == head
