"""The traffic command end to end: real repositories over authenticated HTTP, one commit per move,
the record and (for rollbacks) the incident record in the same commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_actions.cli import main
from tests.plugins.git_repos import run_git

ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
spec:
  parentRefs: [{name: public}]
  rules:
  - backendRefs:
    - name: shop
      port: 80
      weight: 100
    - name: shop-canary
      port: 80
      weight: 0   # set by deploy-actions traffic
"""


def _workload(name: str, labels: str, tag: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {labels}
  template:
    metadata:
      labels: {labels}
    spec:
      containers:
      - name: shop
        image: ghcr.io/acme/shop:{tag}
"""


SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
    slot: blue
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: shop-preview
spec:
  selector:
    app: shop
    slot: green
  ports:
  - port: 80
"""


def _seed(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def gitops(git_http, tmp_path):
    """A GitOps repository served over HTTP (token auth): a canary behind an HTTPRoute in
    production, a blue/green pair in staging."""
    seed = tmp_path / "seed"
    run_git(tmp_path, "init", "-q", "-b", "main", str(seed))
    _seed(seed, {
        "apps/shop/production/route.yaml": ROUTE,
        "apps/shop/production/stable.yaml": _workload("shop", "{app: shop}", "v1.4.0"),
        "apps/shop/production/canary.yaml": _workload("shop-canary", "{app: shop, track: canary}", "v1.5.0"),
        "apps/shop/staging/services.yaml": SERVICES,
        "apps/shop/staging/blue.yaml": _workload("shop-blue", "{app: shop, slot: blue}", "v1.4.0"),
        "apps/shop/staging/green.yaml": _workload("shop-green", "{app: shop, slot: green}", "v1.5.0"),
    })
    run_git(seed, "add", "-A")
    run_git(seed, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = git_http.root / "gitops.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return {"url": git_http.url("gitops.git"), "bare": bare, "token": git_http.token}


def traffic(capsys, monkeypatch, gitops, *args: str) -> tuple[int, dict, str]:
    monkeypatch.setenv("GITHUB_TOKEN", gitops["token"])
    code = main(["traffic", "--json", "--repository", gitops["url"], "--app", "shop",
                 "--path", "apps/{app}/{environment}", "--run-url", "https://ci.example/run/7", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def git(bare: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=bare, capture_output=True, text=True, check=True).stdout
    return out if args[0] == "show" else out.strip()


def records(bare: Path, environment: str) -> list[dict]:
    return [json.loads(line) for line in git(bare, "show", f"main:deployments/{environment}.jsonl").splitlines()]


def test_each_canary_stage_is_one_commit_with_its_record(gitops, capsys, monkeypatch):
    for stage, weight in enumerate((10, 30), start=1):
        code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "production", "--weight", str(weight),
                                 "--canary-steps", "10,30,50,90,100")
        assert code == 0, err
        assert (out["weight"], out["stage"], out["stages"], out["strategy"]) == (weight, stage, 5, "canary")
    assert git(gitops["bare"], "log", "--format=%s", "-3").splitlines() == [
        "chore: Shift shop canary to 30% in production", "chore: Shift shop canary to 10% in production", "seed"]
    assert git(gitops["bare"], "show", "main:apps/shop/production/route.yaml") == ROUTE.replace(
        "weight: 100", "weight: 70").replace("weight: 0 ", "weight: 30 ")
    last = records(gitops["bare"], "production")[-1]
    assert {k: last[k] for k in ("event", "strategy", "weight", "previous_weight", "stage", "stages", "version",
                                 "previous_version", "run_url")} == {
        "event": "traffic", "strategy": "canary", "weight": 30, "previous_weight": 10, "stage": 2, "stages": 5,
        "version": "v1.5.0", "previous_version": "v1.4.0", "run_url": "https://ci.example/run/7"}
    body = git(gitops["bare"], "log", "-1", "--format=%b")
    assert "Workflow-Run: https://ci.example/run/7" in body


def test_the_same_shift_again_changes_nothing(gitops, capsys, monkeypatch):
    assert traffic(capsys, monkeypatch, gitops, "--environment", "production", "--weight", "50")[0] == 0
    head = git(gitops["bare"], "rev-parse", "main")
    code, out, _ = traffic(capsys, monkeypatch, gitops, "--environment", "production", "--weight", "50")
    assert code == 0 and out["changed"] is False and out["commit-sha"] == ""
    assert git(gitops["bare"], "rev-parse", "main") == head


def test_a_failed_stage_shifts_back_to_zero_with_the_reason_and_an_incident(gitops, capsys, monkeypatch):
    traffic(capsys, monkeypatch, gitops, "--environment", "production", "--weight", "10")
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "production", "--weight", "0",
                             "--rollback", "true", "--reason", "error rate 7% > 5% for 2m")
    assert code == 0, err
    assert git(gitops["bare"], "log", "-1", "--format=%s") == (
        "fix: Shift shop canary back to 0% due to error rate 7% > 5% for 2m")
    assert git(gitops["bare"], "show", "main:apps/shop/production/route.yaml") == ROUTE
    last = records(gitops["bare"], "production")[-1]
    assert (last["event"], last["weight"], last["version"], last["previous_version"]) == (
        "rollback", 0, "v1.4.0", "v1.5.0")
    assert git(gitops["bare"], "show", f"main:{last['incident']}").count("v1.5.0") >= 1
    assert sorted(out["files"]) == sorted(["apps/shop/production/route.yaml", "deployments/production.jsonl",
                                           last["incident"]])


def test_blue_green_switch_and_switch_back(gitops, capsys, monkeypatch):
    head = git(gitops["bare"], "rev-parse", "main")
    code, out, _ = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "idle", "--mode", "none")
    assert code == 0 and (out["slot"], out["previous-slot"], out["commit-sha"]) == ("green", "blue", "")
    assert git(gitops["bare"], "rev-parse", "main") == head  # a dry run: the clone's edits went with it
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "idle")
    assert code == 0, err
    assert (out["slot"], out["previous-slot"], out["idle-slot"], out["tag"], out["previous-tag"]) == (
        "green", "blue", "blue", "v1.5.0", "v1.4.0")
    assert git(gitops["bare"], "log", "-1", "--format=%s") == "chore: Switch shop to green (v1.5.0) in staging"
    assert git(gitops["bare"], "show", "main:apps/shop/staging/services.yaml") == SERVICES.replace(
        "slot: blue", "slot: @").replace("slot: green", "slot: blue").replace("slot: @", "slot: green")
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "blue",
                             "--rollback", "true", "--reason", "p99 6x baseline")
    assert code == 0, err
    assert git(gitops["bare"], "log", "-1", "--format=%s") == (
        "fix: Switch shop back to blue (v1.4.0) due to p99 6x baseline")
    assert git(gitops["bare"], "show", "main:apps/shop/staging/services.yaml") == SERVICES
    kinds = [(r["event"], r["strategy"], r["slot"], r["version"]) for r in records(gitops["bare"], "staging")]
    assert kinds == [("traffic", "blue-green", "green", "v1.5.0"), ("rollback", "blue-green", "blue", "v1.4.0")]


@pytest.mark.parametrize(("args", "message"), [
    (("--weight", "30", "--slot", "green"), "input 'slot'"),
    ((), "input 'weight'"),
    (("--weight", "130"), "input 'weight': got '130'; expected a percentage from 0 to 100"),
    (("--weight", "20", "--canary-steps", "10,30,50"), "expected one of the canary-steps 10,30,50"),
    (("--weight", "10", "--canary-steps", "50,30"), "input 'canary-steps'"),
    (("--weight", "10", "--rollback", "true", "--reason", "x"), "expected 0 for a canary rollback"),
    (("--weight", "0", "--rollback", "true"), "input 'reason'"),
    (("--slot", "purple"), "input 'slot': got 'purple'"),
    (("--weight", "10", "--canary", "{nope}"), "input 'canary'"),
    (("--weight", "10", "--canary-path", "apps/shop/production"), "input 'canary-path'"),
    (("--weight", "10", "--canary", "shop-canary-x"), "input 'canary': got 'shop-canary-x'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_is_pushed(gitops, capsys, monkeypatch, args, message):
    head = git(gitops["bare"], "rev-parse", "main")
    code, _, err = traffic(capsys, monkeypatch, gitops, "--environment", "production", *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if not line.startswith("== ")]) == 1  # log groups aside
    assert git(gitops["bare"], "rev-parse", "main") == head


def test_local_checkout_mode_none_edits_only_the_files(tmp_path, capsys):
    _seed(tmp_path / "co", {"route.yaml": ROUTE})
    code = main(["traffic", "--json", "--app", "shop", "--path", str(tmp_path / "co"), "--weight", "90",
                 "--mode", "none", "--record", ""])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["files"] == ["route.yaml"] and out["commit-sha"] == ""
    assert (tmp_path / "co/route.yaml").read_text() == ROUTE.replace("weight: 100", "weight: 10").replace(
        "weight: 0 ", "weight: 90 ")


def test_concurrent_moves_land_one_after_the_other(gitops):
    """A shift and a switch pushed at once: the one that finds the branch moved plans again on the new tip."""
    env = {**os.environ, "GITHUB_TOKEN": gitops["token"], "PYTHONPATH": os.pathsep.join(sys.path)}
    common = ["--repository", gitops["url"], "--app", "shop", "--path", "apps/{app}/{environment}"]
    moves = [["--environment", "production", "--weight", "30"], ["--environment", "staging", "--slot", "green"]]
    procs = [subprocess.Popen([sys.executable, "-m", "deploy_actions", "traffic", *common, *move], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for move in moves]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    subjects = git(gitops["bare"], "log", "--format=%s", "-3").splitlines()
    assert sorted(subjects[:2]) == ["chore: Shift shop canary to 30% in production",
                                    "chore: Switch shop to green (v1.5.0) in staging"] and subjects[2] == "seed"


def test_the_old_slot_is_scaled_down_after_a_delay_as_a_later_commit(gitops, capsys, monkeypatch):
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "green")
    assert code == 0, err
    switched = git(gitops["bare"], "log", "-1", "--format=%cI")
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--scale-slot", "blue",
                             "--replicas", "0", "--delay", "1s", "--since", switched)
    assert code == 0, err
    assert (out["scaled-slot"], out["replicas"], out["previous-replicas"], out["slot"], out["changed"]) == (
        "blue", 0, 2, "green", True)
    assert git(gitops["bare"], "log", "-2", "--format=%s").splitlines() == [
        "chore: Scale down shop blue (v1.4.0) in staging", "chore: Switch shop to green (v1.5.0) in staging"]
    assert git(gitops["bare"], "show", "main:apps/shop/staging/blue.yaml") == _workload(
        "shop-blue", "{app: shop, slot: blue}", "v1.4.0").replace("replicas: 2", "replicas: 0")
    assert sorted(out["files"]) == ["apps/shop/staging/blue.yaml", "deployments/staging.jsonl"]
    last = records(gitops["bare"], "staging")[-1]
    assert {k: last[k] for k in ("event", "strategy", "slot", "scaled_slot", "replicas", "previous_replicas",
                                 "version")} == {
        "event": "traffic", "strategy": "blue-green", "slot": "green", "scaled_slot": "blue", "replicas": 0,
        "previous_replicas": 2, "version": "v1.4.0"}
    head = git(gitops["bare"], "rev-parse", "main")
    assert traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--scale-slot", "blue")[1]["changed"] is False
    assert git(gitops["bare"], "rev-parse", "main") == head
    # Switching back to a slot with no pods is refused until it is scaled up (as many as the live slot).
    code, _, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "blue", "--rollback",
                           "true", "--reason", "p99 6x")
    assert code == 2 and "runs 0 replicas" in err and git(gitops["bare"], "rev-parse", "main") == head
    code, out, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--scale-slot", "blue",
                             "--replicas", "live")
    assert code == 0 and out["replicas"] == 2, err
    assert git(gitops["bare"], "log", "-1", "--format=%s") == "chore: Scale up shop blue (v1.4.0) in staging"


def test_a_switch_back_during_the_delay_keeps_the_old_slot_running(gitops, capsys, monkeypatch):
    """The scale-down is scheduled (its delay running) when the watch switches back: it plans after
    the delay, sees the slot live again, and changes nothing."""
    assert traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "green")[0] == 0
    env = {**os.environ, "GITHUB_TOKEN": gitops["token"], "PYTHONPATH": os.pathsep.join(sys.path)}
    scheduled = subprocess.Popen([sys.executable, "-m", "deploy_actions", "traffic", "--json", "--repository",
                                  gitops["url"], "--app", "shop", "--path", "apps/{app}/{environment}",
                                  "--environment", "staging", "--scale-slot", "blue", "--delay", "4s"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, _, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", "--slot", "blue", "--rollback",
                           "true", "--reason", "error rate 9%")
    assert code == 0, err
    head = git(gitops["bare"], "rev-parse", "main")
    stdout, stderr = scheduled.communicate(timeout=120)
    assert scheduled.returncode == 0, stderr
    out = json.loads(stdout)
    assert (out["changed"], out["slot"], out["replicas"]) == (False, "blue", 2)
    assert "selects blue" in stderr
    assert git(gitops["bare"], "rev-parse", "main") == head
    assert "replicas: 2" in git(gitops["bare"], "show", "main:apps/shop/staging/blue.yaml")


@pytest.mark.parametrize(("args", "message"), [
    (("--slot", "green", "--scale-slot", "blue"), "input 'scale-slot'"),
    (("--slot", "green", "--delay", "10s"), "input 'delay'"),
    (("--scale-slot", "blue", "--replicas", "two"), "input 'replicas': got 'two'"),
    (("--scale-slot", "purple"), "input 'scale-slot': got 'purple'"),
    (("--scale-slot", "blue", "--since", "yesterday"), "input 'since': got 'yesterday'"),
    (("--scale-slot", "blue", "--rollback", "true", "--reason", "x"), "input 'rollback'"),
])
def test_bad_scale_input_is_one_line_exit_2(gitops, capsys, monkeypatch, args, message):
    head = git(gitops["bare"], "rev-parse", "main")
    code, _, err = traffic(capsys, monkeypatch, gitops, "--environment", "staging", *args)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert git(gitops["bare"], "rev-parse", "main") == head
