"""Against a real Prometheus scraping canary and baseline instances of an instrumented service
(tests.plugins.prometheus): a healthy canary is promoted, a bad one rolled back, one without
traffic held (or failed, or rolled back, as configured), and a second stage continuing the first's
evidence (resume-from)."""

from __future__ import annotations

import json

import pytest

from deploy_actions.cli import main

# alpha 0.001: a healthy canary is falsely rolled back at most one run in a thousand.
STEADY = ["--lookback", "6s", "--duration", "6s", "--interval", "1s", "--min-duration", "4s",
          "--min-requests", "40", "--alpha", "0.001", "--json"]


@pytest.fixture(scope="module")
def lab(canary_lab):
    canary_lab.wait_for_history(7)
    return canary_lab


def _run(lab, group, capsys, *extra):
    code = main(["canary-monitor", "--prometheus-url", lab.url, "--canary-selector", lab.selector(group, "canary"),
                 "--baseline-selector", lab.selector(group, "baseline"), *STEADY, *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_a_healthy_canary_is_promoted(lab, capsys, tmp_path):
    report = tmp_path / "canary.json"
    code, result, _ = _run(lab, "healthy", capsys, "--report", str(report))
    assert code == 0 and result["decision"] == "promote", result["reason"]
    assert set(result) == {"decision", "reason", "verdicts", "report", "elapsed"}
    assert {v["verdict"] for v in result["verdicts"]} == {"pass"}
    doc = json.loads(report.read_text())
    assert doc["decision"] == "promote" and doc["timeline"] and result["report"] == str(report)


def test_a_bad_canary_is_rolled_back(lab, capsys):
    code, result, _ = _run(lab, "bad", capsys)
    assert code == 0 and result["decision"] == "rollback"
    assert result["reason"].startswith(("error-increase", "p9"))
    code, result, _ = _run(lab, "bad", capsys, "--fail-on-rollback", "true")
    assert code == 1 and result["decision"] == "rollback"


@pytest.mark.parametrize(("on_no_data", "decision", "exit_code"), [
    ("hold", "hold", 0), ("fail", "hold", 1), ("rollback", "rollback", 0)])
def test_a_canary_without_traffic_is_no_data(lab, capsys, on_no_data, decision, exit_code):
    code, result, _ = _run(lab, "idle", capsys, "--on-no-data", on_no_data)
    assert (code, result["decision"]) == (exit_code, decision)
    assert "no data for the canary" in result["reason"]


def test_live_looks_with_instant_queries(lab, capsys):
    code = main(["canary-monitor", "--prometheus-url", lab.url, "--canary-selector", lab.selector("healthy", "canary"),
                 "--baseline-selector", lab.selector("healthy", "baseline"), "--duration", "6s", "--interval", "1s",
                 "--min-duration", "2s", "--min-requests", "10", "--alpha", "0.001", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["decision"] == "promote", result["reason"]


def test_a_custom_metric_breaking_its_threshold_rolls_back(lab, capsys):
    metrics = "- name: served\n  query: sum(http_requests_total{ {{ selector }} })\n  max: 1\n"
    code, result, _ = _run(lab, "healthy", capsys, "--metrics", metrics)
    assert result["decision"] == "rollback" and result["reason"].startswith("metric served")
    served = next(v for v in result["verdicts"] if v["metric"] == "served")
    assert served["verdict"] == "fail" and served["canary"] > 1


def test_inside_github_actions_outputs_and_summary_are_written(lab, capsys, tmp_path, monkeypatch):
    outputs, summary = tmp_path / "out", tmp_path / "summary.md"
    outputs.touch()
    summary.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, result, _ = _run(lab, "healthy", capsys)
    assert code == 0 and result["decision"] == "promote", result["reason"]
    text = outputs.read_text()
    assert "decision<<" in text and "promote" in text and "verdicts<<" in text
    markdown = summary.read_text()
    assert "## canary-monitor: ✅ promote" in markdown and markdown.count("xychart-beta") == 2
    assert "| metric | rule | canary | baseline |" in markdown and "Promote: after" in markdown


def test_a_second_stage_continues_the_first_stages_evidence(lab, capsys, tmp_path):
    first, second = tmp_path / "stage-1.json", tmp_path / "stage-2.json"
    code, result, err = _run(lab, "healthy", capsys, "--report", str(first))
    assert code == 0 and result["decision"] == "promote", err
    code, result, err = _run(lab, "healthy", capsys, "--report", str(second), "--resume-from", str(first))
    assert code == 0 and result["decision"] == "promote", err
    one, two = json.loads(first.read_text()), json.loads(second.read_text())
    assert two["resumed_from"]["report"] == str(first) and "together with the stages before it" in two["risk"]
    for before, after in zip(one["evidence"]["guards"], two["evidence"]["guards"], strict=True):
        assert before["name"] == after["name"]
        # The second stage's sums are the first's plus its own looks: never restarted at zero (a
        # latency guard counts once the baseline has had 200 observations to pick its bound from).
        assert after["state"]["looks"] >= before["state"]["looks"]
        assert after["state"]["canary_n"] >= before["state"]["canary_n"]
        assert after["state"]["max_log_e"] >= before["state"]["max_log_e"]
        assert after["boundary"] == before["boundary"] or before["boundary"] is None
        if before["name"].startswith("error-"):
            assert after["state"]["looks"] > before["state"]["looks"] > 0
    assert two["resumed_from"]["looks"] == max(g["state"]["looks"] for g in one["evidence"]["guards"])


def test_resuming_with_another_alpha_or_other_guards_is_refused(lab, capsys, tmp_path):
    first = tmp_path / "stage-1.json"
    assert _run(lab, "healthy", capsys, "--report", str(first))[0] == 0
    for extra, expected in ((("--alpha", "0.01"), "the same alpha (0.01, it has 0.001)"),
                            (("--max-p95-increase", "off"), "the same guards")):
        code = main(["canary-monitor", "--prometheus-url", lab.url, "--canary-selector",
                     lab.selector("healthy", "canary"), "--baseline-selector", lab.selector("healthy", "baseline"),
                     *STEADY, "--resume-from", str(first), *extra])
        err = capsys.readouterr().err
        assert code == 2 and "input 'resume-from'" in err and expected in err and "Traceback" not in err
