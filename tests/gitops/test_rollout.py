"""The staged canary: each stage one traffic commit judged by canary-monitor (probing real local
services), the first failing stage shifting back to 0 in one forward commit, the evidence carried
from stage to stage and tested against the rollout's whole alpha."""

from __future__ import annotations

import json

from deploy_actions.cli import main
from tests.gitops import test_traffic
from tests.gitops.test_traffic import ROUTE, git, records
from tests.plugins.http_services import Phase, Reply

gitops = test_traffic.gitops  # the same repository: a canary behind an HTTPRoute in production

FAST = ("--provider", "probe", "--rate", "60", "--interval", "0.5s", "--step-duration", "4s", "--min-requests", "25",
        "--min-duration", "1s", "--max-error-rate", "50", "--max-error-increase", "20", "--max-p95-increase", "off",
        "--max-p99-ratio", "off")


def run_rollout(capsys, monkeypatch, gitops, canary_url: str, baseline_url: str, *args: str):
    monkeypatch.setenv("GITHUB_TOKEN", gitops["token"])
    code = main(["rollout", "--json", "--repository", gitops["url"], "--app", "shop", "--environment", "production",
                 "--path", "apps/{app}/{environment}", "--canary-url", canary_url, "--baseline-url", baseline_url,
                 *FAST, *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_a_good_canary_walks_every_stage_one_commit_each(gitops, capsys, monkeypatch, http_service, tmp_path):
    good = http_service({"/": [Phase(Reply(200, body="ok"))]})
    code, out, err = run_rollout(capsys, monkeypatch, gitops, good.url(), good.url(), "--canary-steps", "10,50,100",
                                 "--alpha", "0.02", "--report", str(tmp_path / "rollout.json"))
    assert code == 0, err
    assert (out["decision"], out["stage"], out["stages"], out["weight"], out["alpha"]) == (
        "promote", 3, 3, 100, "0.02")
    assert git(gitops["bare"], "log", "--format=%s", "-4").splitlines() == [
        "chore: Shift shop canary to 100% in production", "chore: Shift shop canary to 50% in production",
        "chore: Shift shop canary to 10% in production", "seed"]
    assert [(r["stage"], r["weight"]) for r in records(gitops["bare"], "production")] == [(1, 10), (2, 50), (3, 100)]
    report = json.loads((tmp_path / "rollout.json").read_text())
    assert [s["decision"] for s in report["stages"]] == ["promote", "promote", "shifted"]
    first = json.loads((tmp_path / "rollout-stage-1.json").read_text())
    second = json.loads((tmp_path / "rollout-stage-2.json").read_text())
    # Every stage is tested against the whole alpha, the second continuing the first's evidence.
    assert first["config"]["alpha"] == second["config"]["alpha"] == 0.02
    assert first["resumed_from"] is None
    assert second["resumed_from"] == {"report": str(tmp_path / "rollout-stage-1.json"),
                                      "looks": first["evidence"]["guards"][0]["state"]["looks"]}
    for before, after in zip(first["evidence"]["guards"], second["evidence"]["guards"], strict=True):
        assert after["state"]["looks"] > before["state"]["looks"] > 0
        assert after["state"]["canary_n"] > before["state"]["canary_n"]
    assert report["alpha"] == 0.02 and out["evidence"] == str(tmp_path / "rollout-stage-2.json")


def test_a_bad_canary_stops_at_its_first_stage_and_goes_back_to_zero(gitops, capsys, monkeypatch, http_service,
                                                                     tmp_path):
    good = http_service({"/": [Phase(Reply(200, body="ok"))]})
    bad = http_service({"/": [Phase(Reply(500, body="boom"))]})
    code, out, err = run_rollout(capsys, monkeypatch, gitops, bad.url(), good.url(), "--report",
                                 str(tmp_path / "rollout.json"), "--fail-on-rollback", "true", "--image",
                                 "ghcr.io/acme/shop", "--canary-path", "apps/{app}/{environment}/canary.yaml")
    assert code == 1, err
    assert (out["decision"], out["stage"], out["weight"]) == ("rollback", 1, 0)
    subjects = git(gitops["bare"], "log", "--format=%s", "-3").splitlines()
    assert subjects[1:] == ["chore: Shift shop canary to 10% in production", "seed"]
    assert subjects[0].startswith("fix: Shift shop canary back to 0% due to stage 1/5 at 10%: ")
    assert git(gitops["bare"], "show", "main:apps/shop/production/route.yaml") == ROUTE
    # the weight and the canary's image go back in that one commit
    assert "image: ghcr.io/acme/shop:v1.4.0" in git(gitops["bare"], "show", "main:apps/shop/production/canary.yaml")
    assert sorted(git(gitops["bare"], "show", "--format=", "--name-only", "main").split())[:2] == [
        "apps/shop/production/canary.yaml", "apps/shop/production/route.yaml"]
    last = records(gitops["bare"], "production")[-1]
    assert (last["event"], last["stage"], last["weight"]) == ("rollback", 0, 0) and last["incident"]


def test_bad_canary_monitor_input_fails_before_any_commit(gitops, capsys, monkeypatch):
    head = git(gitops["bare"], "rev-parse", "main")
    code, _, err = run_rollout(capsys, monkeypatch, gitops, "", "http://127.0.0.1:9/")
    assert code == 2 and "input 'canary-url'" in err
    code, _, err = run_rollout(capsys, monkeypatch, gitops, "http://127.0.0.1:9/", "http://127.0.0.1:9/",
                               "--canary-steps", "30,10")
    assert code == 2 and "input 'canary-steps'" in err
    assert git(gitops["bare"], "rev-parse", "main") == head
