"""gitops-bump end to end in-process and as processes: real repos over authenticated HTTP."""

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

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  template:
    spec:
      containers:
        - name: {app}
          image: ghcr.io/org/{app}:{tag}  # pinned by gitops-bump
          ports:
            - containerPort: 8080
"""

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: ghcr.io/org/app
    newTag: "{tag}"
  - name: ghcr.io/org/app-worker
    newTag: "{tag}"
"""


def _seed(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def gitops(git_http, tmp_path):
    """A GitOps repository served over HTTP (token auth) with staging and production overlays."""
    seed = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    _seed(seed, {
        "apps/app/base/deployment.yaml": DEPLOYMENT.format(app="app", tag="v0.7.0"),
        "apps/app/overlays/staging/kustomization.yaml": KUSTOMIZATION.format(tag="v0.7.2"),
        "apps/app/overlays/production/kustomization.yaml": KUSTOMIZATION.format(tag="v0.7.1"),
        "README.md": "# gitops\n",
    })
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = git_http.root / "gitops.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return {"url": git_http.url("gitops.git"), "bare": bare, "token": git_http.token, "server": git_http}


def bump(capsys, *args: str, token: str | None = None, monkeypatch=None) -> tuple[int, dict, str]:
    if token and monkeypatch:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    code = main(["gitops-bump", "--json", "--verify-image", "false", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def show(bare: Path, rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=bare, capture_output=True, text=True,
                          check=True).stdout


def test_push_changes_only_the_tag_in_the_scoped_environment(gitops, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_SHA", "abc1234")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/app")
    code, out, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.3",
                          "--path", "apps/{app}/overlays/{environment}", "--environment", "staging",
                          token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["changed"] is True and out["tag"] == "v0.7.3" and out["previous-tag"] == "v0.7.2"
    assert out["files"] == ["apps/app/overlays/staging/kustomization.yaml", "deployments/staging.jsonl"]
    staging = show(gitops["bare"], "main", "apps/app/overlays/staging/kustomization.yaml")
    assert staging == KUSTOMIZATION.format(tag="v0.7.2").replace(
        '  - name: ghcr.io/org/app\n    newTag: "v0.7.2"', '  - name: ghcr.io/org/app\n    newTag: "v0.7.3"')
    assert show(gitops["bare"], "main", "apps/app/overlays/production/kustomization.yaml") == \
        KUSTOMIZATION.format(tag="v0.7.1")
    message = run_git(gitops["bare"], "log", "-1", "--format=%B", "main")
    assert message.startswith("chore: Bump app to v0.7.3\n")
    for trailer in ("Source-Repository: org/app", "Source-Commit: abc1234", "Previous-Tag: v0.7.2"):
        assert trailer in message
    record = json.loads(show(gitops["bare"], "main", "deployments/staging.jsonl"))
    assert record["version"] == "v0.7.3" and record["previous_version"] == "v0.7.2"
    assert record["environment"] == "staging" and record["app"] == "app" and record["source_commit"] == "abc1234"
    assert out["commit-sha"] == run_git(gitops["bare"], "rev-parse", "main")
    assert gitops["token"] not in err + json.dumps(out)


def test_second_identical_bump_changes_nothing(gitops, capsys, monkeypatch):
    args = ("--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.3",
            "--path", "apps/app/overlays/staging", "--environment", "staging")
    assert bump(capsys, *args, token=gitops["token"], monkeypatch=monkeypatch)[0] == 0
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, out, _ = bump(capsys, *args, token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0 and out["changed"] is False and out["files"] == []
    assert run_git(gitops["bare"], "rev-parse", "main") == head


@pytest.mark.parametrize("tag", ["latest", "main", "stable", "dev"])
def test_mutable_tags_are_refused_and_nothing_is_written(gitops, capsys, monkeypatch, tag):
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", tag,
                        token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "input 'tag'" in err and len(err.strip().splitlines()) == 1
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_deny_tags_patterns_are_refused(gitops, capsys, monkeypatch):
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "pr-42",
                        "--deny-tags", "pr-*", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "pr-*" in err


def test_downgrade_needs_rollback_and_reason_and_is_a_forward_commit(gitops, capsys, monkeypatch):
    args = ("--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.0",
            "--path", "apps/app/overlays/staging", "--environment", "staging")
    code, _, err = bump(capsys, *args, token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "rollback" in err
    code, _, err = bump(capsys, *args, "--rollback", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "input 'reason'" in err
    before = run_git(gitops["bare"], "rev-parse", "main")
    code, out, err = bump(capsys, *args, "--rollback", "--reason", "p99 latency 5x baseline",
                          token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert run_git(gitops["bare"], "rev-parse", "main~1") == before  # forward, never rewritten
    message = run_git(gitops["bare"], "log", "-1", "--format=%B", "main")
    assert message.startswith("fix: Rollback app to v0.7.0 due to p99 latency 5x baseline")
    assert "Rollback-Reason: p99 latency 5x baseline" in message
    record = json.loads(show(gitops["bare"], "main", "deployments/staging.jsonl"))
    assert record["event"] == "rollback" and record["reason"] == "p99 latency 5x baseline"


def test_promote_from_staging_copies_the_deployed_tag(gitops, capsys, monkeypatch):
    code, out, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app",
                          "--path", "apps/app/overlays/{environment}", "--environment", "production",
                          "--promote-from", "staging", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["tag"] == "v0.7.2" and out["previous-tag"] == "v0.7.1"
    assert 'newTag: "v0.7.2"' in show(gitops["bare"], "main", "apps/app/overlays/production/kustomization.yaml")


def test_promote_names_the_code_commit_the_source_environment_recorded(gitops, capsys, monkeypatch):
    built, rolled_back_by = "a" * 40, "b" * 40
    common = ("--repository", gitops["url"], "--image", "ghcr.io/org/app", "--path", "apps/app/overlays/{environment}",
              "--source-repository", "org/app")
    # v0.7.3 reaches staging from the commit it was built from; a later release is rolled back to it.
    assert bump(capsys, *common, "--environment", "staging", "--tag", "v0.7.3", "--source-commit", built,
                token=gitops["token"], monkeypatch=monkeypatch)[0] == 0
    assert bump(capsys, *common, "--environment", "staging", "--tag", "v0.7.4", "--source-commit", "c" * 40,
                token=gitops["token"], monkeypatch=monkeypatch)[0] == 0
    assert bump(capsys, *common, "--environment", "staging", "--tag", "v0.7.3", "--rollback", "--reason", "errors",
                "--source-commit", rolled_back_by, token=gitops["token"], monkeypatch=monkeypatch)[0] == 0

    code, out, err = bump(capsys, *common[:-2], "--environment", "production", "--promote-from", "staging",
                          "--source-commit", "d" * 40, "--source-repository", "org/gitops",
                          token=gitops["token"], monkeypatch=monkeypatch)

    assert code == 0, err
    assert (out["tag"], out["source-commit"], out["source-repository"]) == ("v0.7.3", built, "org/app")
    assert f"Source-Commit: {built}" in run_git(gitops["bare"], "log", "-1", "--format=%B", "main")
    record = json.loads(show(gitops["bare"], "main", "deployments/production.jsonl").splitlines()[-1])
    assert record["source_commit"] == built


def test_wrong_token_is_a_clean_error_and_never_printed(gitops, capsys, monkeypatch):
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.8.0",
                        token="ghs_not_the_right_one_123", monkeypatch=monkeypatch)
    assert code == 1 and "Traceback" not in err and "ghs_not_the_right_one_123" not in err


def test_local_checkout_mode_none_edits_files_only(tmp_path, capsys):
    _seed(tmp_path / "co", {"deploy/app.yaml": DEPLOYMENT.format(app="app", tag="v1.0.0")})
    code, out, err = bump(capsys, "--path", str(tmp_path / "co"), "--image", "ghcr.io/org/app", "--tag", "v1.1.0",
                          "--mode", "none", "--record", "")
    assert code == 0, err
    assert (tmp_path / "co/deploy/app.yaml").read_text() == DEPLOYMENT.format(app="app", tag="v1.1.0")
    assert out["files"] == ["deploy/app.yaml"] and out["commit-sha"] == ""


def test_no_reference_to_the_image_is_bad_input(tmp_path, capsys):
    _seed(tmp_path / "co", {"deploy/app.yaml": DEPLOYMENT.format(app="other", tag="v1.0.0")})
    code, _, err = bump(capsys, "--path", str(tmp_path / "co"), "--image", "ghcr.io/org/app", "--tag", "v1.1.0",
                        "--mode", "none")
    assert code == 2 and "input 'image'" in err


def test_protected_branch_fails_clearly_or_opens_a_pull_request(gitops, capsys, monkeypatch):
    hook = gitops["bare"] / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n")
    hook.chmod(0o755)
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.9",
                        "--path", "apps/app/overlays/staging", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 1 and "protected" in err and "on-protected" in err


def _cli(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "deploy_actions", "gitops-bump", "--json", "--verify-image", "false",
                           *args], env=env, capture_output=True, text=True, check=False)


def test_twenty_concurrent_bumps_of_different_apps_all_land_linearly(git_http, tmp_path):
    seed = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    apps = [f"svc{i:02d}" for i in range(20)]
    _seed(seed, {f"apps/{a}/deployment.yaml": DEPLOYMENT.format(app=a, tag="v1.0.0") for a in apps})
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = git_http.root / "many.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    url = git_http.url("many.git")
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda a: _cli("--repository", url, "--image", f"ghcr.io/org/{a}", "--tag", "v1.0.1",
                                               "--path", f"apps/{a}", "--environment", a, "--push-timeout", "5m",
                                               token=git_http.token), apps))
    for proc in results:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["changed"] is True
    assert run_git(bare, "rev-list", "--count", "main") == "21"
    assert run_git(bare, "rev-list", "--merges", "main") == ""
    for a in apps:
        assert f"ghcr.io/org/{a}:v1.0.1" in show(bare, "main", f"apps/{a}/deployment.yaml")


def test_ten_concurrent_bumps_of_one_app_land_or_stand_down(git_http, tmp_path):
    seed = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    _seed(seed, {"apps/app/deployment.yaml": DEPLOYMENT.format(app="app", tag="v2.0.0")})
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = git_http.root / "one.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    url = git_http.url("one.git")
    tags = [f"v2.0.{i}" for i in range(1, 11)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda t: _cli("--repository", url, "--image", "ghcr.io/org/app", "--tag", t,
                                               "--path", "apps/app", "--record", "", "--push-timeout", "5m",
                                               token=git_http.token), tags))
    landed = []
    for tag, proc in zip(tags, results, strict=True):
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["changed"] or out["superseded"], out
        if out["changed"]:
            landed.append(tag)
    assert landed
    final = show(bare, "main", "apps/app/deployment.yaml")
    # Each landing raised the tag (a lower one stood down), so the newest landed tag is the one pinned.
    assert final == DEPLOYMENT.format(app="app", tag=max(landed, key=lambda t: int(t.split(".")[-1])))
    assert run_git(bare, "rev-list", "--merges", "main") == ""
    assert int(run_git(bare, "rev-list", "--count", "main")) == 1 + len(landed)


@pytest.fixture
def gh(github_api, monkeypatch):
    import deploy_actions.github as client

    monkeypatch.setattr(client, "SECONDS_BETWEEN_REQUESTS", 0.0, raising=False)
    monkeypatch.setattr(client, "SECONDS_BETWEEN_WRITES", 0.0, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    return github_api


def test_pull_request_mode_opens_one_pr_per_app_and_environment(gitops, gh, capsys, monkeypatch):
    # The git server and the API fake each want their own token; the action uses one, so align them.
    monkeypatch.setattr(gh, "token", gitops["token"], raising=False)
    args = ("--repository", gitops["url"], "--github-repository", gh.repository, "--image", "ghcr.io/org/app",
            "--path", "apps/app/overlays/staging", "--environment", "staging", "--mode", "pull-request",
            "--labels", "deploy\nstaging", "--auto-merge")
    main_before = run_git(gitops["bare"], "rev-parse", "main")
    code, out, err = bump(capsys, *args, "--tag", "v0.7.3", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["pull-request-number"] and out["pull-request-url"].endswith(f"/{out['pull-request-number']}")
    assert run_git(gitops["bare"], "rev-parse", "main") == main_before  # main untouched
    assert 'newTag: "v0.7.3"' in show(gitops["bare"], "deploy/app-staging",
                                      "apps/app/overlays/staging/kustomization.yaml")
    (pr,) = gh.pulls.values()
    assert pr.head == "deploy/app-staging" and pr.base == "main" and pr.title == "chore: Bump app to v0.7.3"
    assert sorted(pr.labels) == ["deploy", "staging"] and pr.auto_merge is not None
    code, out, err = bump(capsys, *args, "--tag", "v0.7.4", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert len(gh.pulls) == 1 and next(iter(gh.pulls.values())).title == "chore: Bump app to v0.7.4"
    assert 'newTag: "v0.7.4"' in show(gitops["bare"], "deploy/app-staging",
                                      "apps/app/overlays/staging/kustomization.yaml")


def test_protected_branch_can_fall_back_to_a_pull_request(gitops, gh, capsys, monkeypatch):
    monkeypatch.setattr(gh, "token", gitops["token"], raising=False)
    hook = gitops["bare"] / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do [ \"$ref\" = refs/heads/main ] && "
                    "{ echo 'GH006: Protected branch update failed' >&2; exit 1; }; done; exit 0\n")
    hook.chmod(0o755)
    code, out, err = bump(capsys, "--repository", gitops["url"], "--github-repository", gh.repository,
                          "--image", "ghcr.io/org/app", "--tag", "v0.7.5", "--path", "apps/app/overlays/staging",
                          "--environment", "staging", "--on-protected", "pull-request",
                          token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert out["pull-request-url"] and len(gh.pulls) == 1
    assert "protected" in err


def test_local_path_templates_use_the_app_named_by_the_image(tmp_path, capsys):
    _seed(tmp_path / "co", {"apps/billing/overlays/dev/deploy.yaml": DEPLOYMENT.format(app="billing", tag="v1.0.0")})
    template = str(tmp_path / "co" / "apps/{app}/overlays/{environment}")
    code, out, err = bump(capsys, "--path", template, "--environment", "dev", "--image", "ghcr.io/org/billing",
                          "--tag", "v1.0.1", "--mode", "none", "--record", "")
    assert code == 0, err
    assert out["files"] == ["deploy.yaml"]  # not a git checkout: the folder itself is the root
    assert "ghcr.io/org/billing:v1.0.1" in (tmp_path / "co/apps/billing/overlays/dev/deploy.yaml").read_text()


CANARY_REPORT = {
    "decision": "rollback", "reason": "error-rate", "sentence": "Roll back: the canary's error rate was 5%.",
    "verdicts": [{"metric": "error-rate", "rule": "error rate ≤ baseline + 1%", "verdict": "fail", "canary": 0.05,
                  "baseline": 0.001, "unit": "ratio", "p_value": 0.0004, "e_value": 2500.0}],
}


def test_rollback_writes_the_incident_record_in_the_same_commit(gitops, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/app")
    base = ("--repository", gitops["url"], "--image", "ghcr.io/org/app", "--path", "apps/app/overlays/staging",
            "--environment", "staging", "--run-url", "https://github.com/org/app/actions/runs/7")
    code, _, err = bump(capsys, *base, "--tag", "v0.7.3", token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    deployed = json.loads(show(gitops["bare"], "main", "deployments/staging.jsonl"))["timestamp"]
    report = tmp_path / "canary.json"
    report.write_text(json.dumps(CANARY_REPORT))
    code, out, err = bump(capsys, *base, "--tag", "v0.7.2", "--rollback", "--reason", "error rate 5%",
                          "--evidence", str(report), "--detected-at", "2026-11-22T10:09:30Z",
                          token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    (incident_path,) = [f for f in out["files"] if f.startswith("incidents/")]
    assert incident_path.endswith("-app.md") and len(incident_path) == len("incidents/20261122T101500Z-app.md")
    changed = run_git(gitops["bare"], "show", "--name-only", "--format=", "main").split()
    assert sorted(changed) == sorted(out["files"])  # one commit: manifest, record and incident
    text = show(gitops["bare"], "main", incident_path)
    assert text.startswith("# Incident: app v0.7.3 rolled back in staging")
    assert "- **Versions**: v0.7.3 → v0.7.2" in text and "- **Reason**: error rate 5%" in text
    stamp = deployed.replace("T", " ").replace("Z", " UTC")
    assert f"| deployed v0.7.3 | {stamp} |" in text and "| detected | 2026-11-22 10:09:30 UTC |" in text
    assert "| error-rate | error rate ≤ baseline + 1% | 0.05 | 0.001 | 0.0004 | fail |" in text
    assert f"https://github.com/org/app/commit/{'f' * 40}" in text and "actions/runs/7" in text
    records = show(gitops["bare"], "main", "deployments/staging.jsonl").splitlines()
    assert json.loads(records[-1])["incident"] == incident_path


@pytest.mark.parametrize("content", [b"{", b"[]", b"\xff"])
def test_a_bad_evidence_report_is_one_line_and_nothing_is_written(gitops, capsys, monkeypatch, tmp_path, content):
    report = tmp_path / "report.json"
    report.write_bytes(content)
    head = run_git(gitops["bare"], "rev-parse", "main")
    code, _, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.0",
                        "--path", "apps/app/overlays/staging", "--rollback", "--reason", "bad",
                        "--evidence", str(report), token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 2 and "evidence" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert run_git(gitops["bare"], "rev-parse", "main") == head


def test_incident_can_be_turned_off(gitops, capsys, monkeypatch):
    code, out, err = bump(capsys, "--repository", gitops["url"], "--image", "ghcr.io/org/app", "--tag", "v0.7.0",
                          "--path", "apps/app/overlays/staging", "--rollback", "--reason", "bad", "--incident", "",
                          token=gitops["token"], monkeypatch=monkeypatch)
    assert code == 0, err
    assert not [f for f in out["files"] if f.startswith("incidents/")]
