"""canary-monitor's watch mode (baseline: before-deploy, last-week, both) after a rolling deploy,
against a real Prometheus scraping instrumented services (tests.plugins.prometheus): a quiet service
passes (promote), a failing one is rolled back by the absolute error-rate guard, a slow one by p99
against the baseline before the deploy (or a week earlier, or both), more than half the instances
down rolls back at once, an idle one is no data, and the report says which baseline was used."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import urllib.parse

import pytest

from deploy_actions.cli import main
from deploy_actions.records import incident, journal
from tests.plugins.http_services import Phase, Reply

FAST = ["--baseline", "before-deploy", "--interval", "1s", "--rate-window", "5s", "--baseline-window", "5s", "--json"]


@pytest.fixture(scope="module")
def lab(canary_lab):
    canary_lab.wait_for_history(7)
    return canary_lab


def _watch(lab, capsys, selector, *extra):
    code = main(["canary-monitor", "--prometheus-url", lab.url, "--canary-selector", selector, *FAST, *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


def test_a_quiet_service_passes_the_window(lab, capsys):
    # p99 off: on a loaded machine a real p99 is mostly noise (the p99 guard is scripted below). Six looks,
    # not three: on a loaded CI machine Prometheus once answered none of three with a rate (a hold, no data).
    code, out, err = _watch(lab, capsys, lab.selector("healthy", "canary"), "--duration", "6s", "--max-p99-ratio",
                            "off")
    assert code == 0, err
    assert out["decision"] == "promote" and {v["verdict"] for v in out["verdicts"]} == {"pass"}, out.get("reason")
    assert [v["metric"] for v in out["verdicts"]] == ["error-rate", "unhealthy"]


def test_errors_above_5_percent_for_the_sustain_time_roll_back(lab, capsys, tmp_path):
    report = tmp_path / "watch.json"
    code, out, err = _watch(lab, capsys, lab.selector("bad", "canary"), "--duration", "20s", "--max-error-rate",
                            "5% for 2s", "--max-p99-ratio", "off", "--report", str(report), "--fail-on-rollback",
                            "true")
    assert code == 1, err
    assert out["decision"] == "rollback" and out["reason"].startswith("error-rate (error rate > 5% for 2s): ")
    doc = json.loads(report.read_text())
    assert doc["verdicts"][0]["verdict"] == "fail" and doc["verdicts"][0]["breached_seconds"] >= 2
    assert len(doc["looks"]) >= 3  # breached at the first look, decided only once it lasted 2 s
    assert doc["looks"][0]["error_rate"] > 0.05
    assert doc["baseline"]["mode"] == "before-deploy" and doc["baseline"]["described"].startswith("before-deploy: ")
    evidence = incident.read_evidence(str(report))  # what a rollback's incident record shows
    assert evidence.headline == out["reason"] and evidence.rows[0][0] == "error-rate"


WEEK = 7 * 24 * 3600.0


def _scripted_prometheus(http_service, deployed: float, p99_before: float, p99_after: float,
                         p99_week: float = 0.0, up: float = 1.0):
    """Prometheus' HTTP API answering the watch's queries from a script: p99 is `p99_before` at the
    deploy time, `p99_week` a week before a look and `p99_after` at every look (a real Prometheus
    on a loaded machine gives p99s that are mostly noise, so the ratio is scripted; the real one is
    used by the tests above)."""
    asked: list[str] = []
    started = time.time()

    def answer(request, _n):
        form = urllib.parse.parse_qs(request.body.decode())
        query, at = form["query"][0], float(form.get("time", ["0"])[0])
        asked.append(query)
        labels = {}
        if query.startswith("histogram_quantile"):
            value = p99_before if abs(at - deployed) < 1 else (p99_week if at < started - WEEK / 2 else p99_after)
        elif query.startswith("avg(up"):
            value = up
        else:
            value, labels = 20.0, {"code": "200"}  # 20 requests/s, no errors
        return Reply(json={"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": labels, "value": [at, repr(value)]}]}})

    service = http_service({"/api/v1/query": [Phase(answer)]})
    service.asked = asked
    return service


def _scripted(api, deployed, *extra):
    when = journal.timestamp(dt.datetime.fromtimestamp(deployed, dt.timezone.utc))
    return main(["canary-monitor", "--baseline", "before-deploy", "--prometheus-url", api.url(), "--canary-selector",
                 'job="shop"', "--deployed-at", when, "--duration", "3s", "--interval", "1s", "--max-p99-ratio",
                 "5x for 1s", "--json", *extra])


@pytest.mark.parametrize(("after", "decision"), [(0.26, "rollback"), (0.24, "promote")])
def test_p99_against_five_times_the_baseline_before_the_deploy(http_service, capsys, after, decision):
    deployed = 1_800_000_000.0
    code = _scripted(_scripted_prometheus(http_service, deployed, 0.05, after), deployed)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["decision"] == decision, out["reason"]
    p99 = next(v for v in out["verdicts"] if v["metric"] == "p99-ratio")
    assert (p99["canary"], p99["baseline"]) == (after, 0.05)


@pytest.mark.parametrize(("baseline", "week", "decision", "compared"), [
    ("last-week", 0.04, "rollback", 0.04),  # 0.26 > 5 x 0.04: the week-old p99 alone
    ("last-week", 0.06, "promote", 0.06),
    ("both", 0.04, "rollback", 0.05),  # the larger of 0.05 (before) and 0.04 (a week earlier)
    ("both", 0.06, "promote", 0.06),  # before-deploy alone (0.05) would roll back: a breach must beat each
])
def test_p99_against_last_week_or_both(http_service, capsys, tmp_path, baseline, week, decision, compared):
    deployed = 1_800_000_000.0
    api = _scripted_prometheus(http_service, deployed, 0.05, 0.26, p99_week=week)
    report = tmp_path / "watch.json"
    code = _scripted(api, deployed, "--baseline", baseline, "--report", str(report))
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["decision"] == decision, out["reason"]
    p99 = next(v for v in out["verdicts"] if v["metric"] == "p99-ratio")
    assert p99["baseline"] == compared
    doc = json.loads(report.read_text())
    assert doc["baseline"]["mode"] == baseline and doc["baseline"]["described"].startswith(f"{baseline}: ")
    assert all(look["baseline_p99_seconds"] == compared for look in doc["looks"])


def test_more_than_half_the_instances_down_rolls_back_at_once(http_service, capsys):
    deployed = 1_800_000_000.0
    code = _scripted(_scripted_prometheus(http_service, deployed, 0.05, 0.05, up=0.4), deployed)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["decision"] == "rollback" and out["elapsed"] == "0"
    assert out["reason"].startswith("unhealthy (more than 50% of instances down): 60%")


def test_error_statuses_are_matched_by_us_never_pasted_into_promql(http_service, capsys):
    deployed = 1_800_000_000.0
    api = _scripted_prometheus(http_service, deployed, 0.05, 0.05)
    code = _scripted(api, deployed, "--error-status", '5..|"} or vector(1) #')
    assert code == 0 and json.loads(capsys.readouterr().out)["decision"] == "promote"
    assert not any("vector(1)" in q for q in api.asked)


@pytest.mark.parametrize(("on_no_data", "decision", "exit_code"), [
    ("hold", "hold", 0), ("fail", "hold", 1), ("rollback", "rollback", 0)])
def test_no_traffic_is_never_a_pass(lab, capsys, on_no_data, decision, exit_code):
    code, out, _ = _watch(lab, capsys, lab.selector("idle", "canary"), "--duration", "2s", "--on-no-data", on_no_data)
    assert (code, out["decision"]) == (exit_code, decision)
    assert "no data: no requests from" in out["reason"]


def test_prometheus_down_is_no_data_not_a_crash(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    code = main(["canary-monitor", "--baseline", "last-week", "--prometheus-url", f"http://127.0.0.1:{port}",
                 "--canary-selector", 'job="shop"', "--duration", "1s", "--interval", "1s", "--retries", "0",
                 "--timeout", "1s", "--json"])
    out = capsys.readouterr()
    assert code == 0 and json.loads(out.out)["decision"] == "hold", out.err


@pytest.mark.parametrize(("args", "message"), [
    (("--baseline", "yesterday"), "input 'baseline'"),
    (("--deployed-at", "soon"), "input 'deployed-at': got 'soon'"),
    (("--max-error-rate", "lots"), "input 'max-error-rate'"),
    (("--max-unhealthy", "150"), "input 'max-unhealthy'"),
    (("--max-error-increase", "1"), "input 'max-error-increase': got '1'; expected off with baseline: before-deploy"),
    (("--max-p95-increase", "20"), "input 'max-p95-increase'"),
    (("--provider", "probe"), "input 'provider'"),
    (("--lookback", "1m"), "input 'lookback'"),
    (("--resume-from", "stage-1.json"), "input 'resume-from'"),
    (("--metrics", "- name: q\n  query: up\n  max: 1"), "input 'metrics'"),
    (("--status-label", 'code"}'), "input 'status-label'"),
    (("--error-status", "5(("), "input 'error-status'"),
    (("--baseline", "concurrent", "--deployed-at", "2026-11-22T10:15:00Z"), "input 'deployed-at'"),
])
def test_bad_input_is_one_line_and_exit_2(lab, capsys, args, message):
    code, _, err = _watch(lab, capsys, lab.selector("healthy", "canary"), *args)
    assert code == 2 and message in err and "Traceback" not in err

