"""The gate's rules over the records and the run: a GitOps repository served over authenticated
HTTP holds the records; the validated GitHub API fake holds the run's approvals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import run_git

NOW = "2026-11-23T12:00:00Z"


def record(at: str, event: str, version: str, environment: str = "staging", **more: object) -> dict[str, object]:
    return {"timestamp": at, "event": event, "app": "app", "environment": environment, "version": version,
            "run_url": "https://github.com/org/app/actions/runs/7", **more}


@pytest.fixture
def records(git_http, tmp_path):
    """Seed the served GitOps repository with record lines per environment; returns its URL."""
    def seed(lines: dict[str, list[dict[str, object]]]) -> str:
        work = tmp_path / "seed"
        run_git(tmp_path, "init", "-q", "-b", "main", str(work))
        (work / "deployments").mkdir()
        for environment, items in lines.items():
            (work / f"deployments/{environment}.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
        run_git(work, "add", "-A")
        run_git(work, "-c", "user.name=s", "-c", "user.email=s@x", "commit", "-qm", "records")
        run_git(tmp_path, "clone", "-q", "--bare", str(work), str(git_http.root / "gitops.git"))
        return git_http.url("gitops.git")
    return seed


def gate(capsys, monkeypatch, token: str, *args: str) -> tuple[int, dict, str]:
    monkeypatch.setenv("GITHUB_TOKEN", token)
    code = main(["gate", "--json", "--now", NOW, "--app", "app", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def checks(out: dict) -> dict[str, tuple[bool, str]]:
    return {c["check"]: (c["ok"], c["detail"]) for c in out["checklist"]}


ROLLED_BACK = {"production": [
    record("2026-11-22T09:00:00Z", "bump", "v1.3.0", "production"),
    record("2026-11-22T09:40:00Z", "rollback", "v1.2.0", "production", previous_version="v1.3.0",
           reason="p99 latency 5x baseline", incident="incidents/20261122T094000Z-app.md"),
]}


def test_the_gate_refuses_a_version_rolled_back_in_the_environment(records, git_http, capsys, monkeypatch):
    url = records(ROLLED_BACK)
    code, out, err = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                          "production", "--version", "v1.3.0")
    assert code == 1 and out["allowed"] is False and out["failed"] == "rolled-back"
    ok, detail = checks(out)["rolled-back"]
    assert not ok and detail == (
        "v1.3.0 was rolled back in production on 2026-11-22 09:40 UTC because p99 latency 5x baseline (incident "
        "incidents/20261122T094000Z-app.md); refusing to deploy it to production again. To override, set "
        "allow-rolled-back: true and a reason (both are recorded)")
    code, out, _ = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                        "production", "--version", "v1.3.1")
    assert code == 0 and checks(out)["rolled-back"][0]


def test_an_emergency_does_not_open_it_only_allow_rolled_back_with_a_reason(records, git_http, capsys, monkeypatch):
    url = records(ROLLED_BACK)
    base = ("--gitops-repository", url, "--environment", "production", "--version", "1.3.0")
    code, out, _ = gate(capsys, monkeypatch, git_http.token, *base, "--emergency", "--reason", "outage")
    assert code == 1 and out["failed"] == "rolled-back"
    code, _, err = gate(capsys, monkeypatch, git_http.token, *base, "--allow-rolled-back")
    assert code == 2 and "input 'reason'" in err
    code, out, _ = gate(capsys, monkeypatch, git_http.token, *base, "--allow-rolled-back", "--reason",
                        "the flag that broke it is off")
    assert code == 0 and "deploying it again (allow-rolled-back): the flag that broke it is off" in \
        checks(out)["rolled-back"][1]


@pytest.mark.parametrize(("concluded", "ok", "left", "words"), [
    ("2026-11-22T11:00:00Z", True, 0, "25h ago (24h needed), not rolled back since"),
    ("2026-11-23T02:00:00Z", False, 14 * 3600, "14h of its 24h soak left, ready at 2026-11-24 02:00 UTC"),
])
def test_soak_counts_from_the_conclusion_in_staging_and_says_what_is_left(records, git_http, capsys, monkeypatch,
                                                                         concluded, ok, left, words):
    url = records({"staging": [record(concluded, "deployment_concluded_v1", "v1.3.0")]})
    code, out, _ = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                        "production", "--version", "1.3.0", "--require", "soak: staging 24h")
    assert (code == 0) is ok and out["soak-left"] == left
    assert checks(out)["soak"][0] is ok and words in checks(out)["soak"][1]


def test_the_summary_says_how_much_soak_is_left(records, git_http, capsys, monkeypatch, tmp_path):
    url = records({"staging": [record("2026-11-23T11:45:00Z", "deployment_concluded_v1", "v1.3.0")]})
    summary = tmp_path / "summary.md"
    (tmp_path / "out").write_text("")
    for key, value in {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
                       "GITHUB_OUTPUT": str(tmp_path / "out")}.items():
        monkeypatch.setenv(key, value)
    code, _, err = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                        "production", "--version", "1.3.0", "--require", "soak: staging 1h")
    assert code == 1, err
    assert "**Soak time left: 45m.**" in summary.read_text()


def test_a_rollback_of_the_version_in_staging_breaks_its_soak(records, git_http, capsys, monkeypatch):
    url = records({"staging": [
        record("2026-11-20T10:00:00Z", "deployment_concluded_v1", "v1.3.0"),
        record("2026-11-21T10:00:00Z", "rollback", "v1.2.0", previous_version="v1.3.0", reason="5xx after a day"),
    ]})
    code, out, _ = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                        "production", "--version", "1.3.0", "--require", "soak: staging 24h")
    assert code == 1 and out["soak-left"] == 24 * 3600
    detail = checks(out)["soak"][1]
    assert "was rolled back there on 2026-11-21 10:00 UTC (5xx after a day), which broke its soak" in detail


def test_the_hotfix_lane_shortens_the_soak_rather_than_skipping_it(records, git_http, capsys, monkeypatch):
    url = records({"staging": [record("2026-11-23T11:50:00Z", "deployment_concluded_v1", "hotfix-v1.3.1")]})
    base = ("--gitops-repository", url, "--environment", "production", "--version", "hotfix-v1.3.1",
            "--tag-prefix", "hotfix-v", "--emergency", "--reason", "CVE fix")
    code, out, _ = gate(capsys, monkeypatch, git_http.token, *base, "--require", "soak: staging 15m")
    assert code == 1 and out["soak-left"] == 5 * 60  # the emergency override never waives the soak
    code, out, _ = gate(capsys, monkeypatch, git_http.token, *base, "--require", "soak: staging 10m")
    assert code == 0 and checks(out)["soak"][0]


def test_approvals_count_distinct_people_of_this_environment(github_api, capsys, monkeypatch):
    for key, value in github_api.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    github_api.seed_approval(77, "sentinel", "production", comment="looks good")
    github_api.seed_approval(77, "sentinel", "production", comment="again")  # one person, twice
    github_api.seed_approval(77, "bystander", "staging")
    code, out, _ = gate(capsys, monkeypatch, github_api.token, "--environment", "production", "--require",
                        "approvals 2")
    assert code == 1 and out["failed"] == "approvals" and out["approved-by"] == "sentinel"
    assert "1 of 2 distinct approvals to production (sentinel)" in checks(out)["approvals"][1]
    github_api.seed_approval(77, "service-owner", "production", "staging")
    code, out, _ = gate(capsys, monkeypatch, github_api.token, "--environment", "production", "--require",
                        "approvals: 2")
    assert code == 0 and out["approved-by"] == "sentinel,service-owner"
    assert json.loads(out["approvals"])[0] == {"user": "sentinel", "environment": "production",
                                               "comment": "looks good"}


def test_an_approval_github_would_not_send_is_refused_not_believed(github_api, capsys, monkeypatch):
    for key, value in github_api.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITHUB_RUN_ID", "78")
    github_api.seed_approval(78, "sentinel", "production")
    github_api.tamper_next(lambda body: [{**body[0], "user": {**body[0]["user"], "login": "evil\n::error::x"}}])
    code, _, err = gate(capsys, monkeypatch, github_api.token, "--environment", "production", "--require",
                        "approvals 1")
    assert code == 1 and "not {user.login" in err and "evil" not in err
    github_api.take_problems()  # the tampered body breaks the schema on purpose


@pytest.mark.parametrize("text", ["soak: staging", "soak: staging soon", "soak: ../x 1h", "approvals", "approvals 0",
                                  "approvals two"])
def test_bad_requirements_are_one_line_naming_require(text, capsys):
    assert main(["gate", "--require", text]) == 2
    err = capsys.readouterr().err
    assert "input 'require'" in err and len(err.strip().splitlines()) == 1


def test_a_local_checkout_is_read_too(tmp_path, capsys, monkeypatch):
    work = Path(tmp_path / "gitops")
    (work / "deployments").mkdir(parents=True)
    (work / "deployments/production.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROLLED_BACK["production"]))
    code, out, _ = gate(capsys, monkeypatch, "unused", "--gitops-repository", str(work), "--environment",
                        "production", "--version", "1.3.0")
    assert code == 1 and out["failed"] == "rolled-back"


def test_soak_wait_waits_for_a_soak_under_way_then_passes(records, git_http, capsys, monkeypatch):
    url = records({"staging": [record("2026-11-23T11:59:58Z", "deployment_concluded_v1", "v1.3.0")]})
    base = ("--gitops-repository", url, "--environment", "production", "--version", "1.3.0", "--require",
            "soak: staging 3s")
    code, out, _ = gate(capsys, monkeypatch, git_http.token, *base)
    assert code == 1 and out["soak-left"] == 1
    code, out, err = gate(capsys, monkeypatch, git_http.token, *base, "--soak-wait", "10s")
    assert code == 0, err
    assert "soak: waiting 1s" in err and out["soak-left"] == 0


def test_soak_wait_never_waits_for_a_soak_that_has_not_started(records, git_http, capsys, monkeypatch):
    url = records({"staging": [record("2026-11-23T11:00:00Z", "bump", "v1.3.0")]})
    code, out, err = gate(capsys, monkeypatch, git_http.token, "--gitops-repository", url, "--environment",
                          "production", "--version", "1.3.0", "--require", "soak: staging 3s", "--soak-wait", "1h")
    assert code == 1 and "waiting" not in err and "has not concluded in staging" in checks(out)["soak"][1]
