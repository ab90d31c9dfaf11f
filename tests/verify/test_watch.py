"""The watch after a rolling deploy, against a real Prometheus scraping instrumented services
(tests.plugins.prometheus): a quiet service passes, a failing one is rolled back by the absolute
error-rate guard, a slow one by p99 against the baseline before the deploy, an idle one holds."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest

from deploy_actions.cli import main
from deploy_actions.records import incident, journal
from tests.plugins.http_services import Phase, Reply

FAST = ["--interval", "1s", "--rate-window", "5s", "--baseline-window", "5s", "--json"]


@pytest.fixture(scope="module")
def lab(canary_lab):
    canary_lab.wait_for_history(7)
    return canary_lab


def _watch(lab, capsys, selector, *extra):
    code = main(["watch", "--prometheus-url", lab.url, "--selector", selector, *FAST, *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


def test_a_quiet_service_passes_the_window(lab, capsys):
    # p99 off: on a loaded machine a real p99 is mostly noise (the p99 guard is scripted below)
    code, out, err = _watch(lab, capsys, lab.selector("healthy", "canary"), "--duration", "3s", "--max-p99-ratio",
                            "off")
    assert code == 0, err
    assert out["decision"] == "pass" and {v["verdict"] for v in out["verdicts"]} == {"pass"}


def test_errors_above_5_percent_for_the_sustain_time_roll_back(lab, capsys, tmp_path):
    report = tmp_path / "watch.json"
    code, out, err = _watch(lab, capsys, lab.selector("bad", "canary"), "--duration", "20s", "--max-error-rate",
                            "5% for 2s", "--max-p99-ratio", "off", "--report", str(report), "--fail-on-rollback",
                            "true")
    assert code == 1, err
    assert out["decision"] == "rollback" and out["reason"].startswith("error rate > 5%: ")
    doc = json.loads(report.read_text())
    assert doc["verdicts"][0]["verdict"] == "fail" and doc["verdicts"][0]["breached_seconds"] >= 2
    assert len(doc["looks"]) >= 3  # breached at the first look, decided only once it lasted 2 s
    evidence = incident.read_evidence(str(report))  # what a rollback's incident record shows
    assert evidence.headline == out["reason"] and evidence.rows[0][0] == "error-rate"


def _scripted_prometheus(http_service, deployed: float, p99_before: float, p99_after: float):
    """Prometheus' HTTP API answering the watch's queries from a script: p99 is `p99_before` at the
    deploy time and `p99_after` at every look (a real Prometheus on a loaded machine gives p99s that
    are mostly noise, so the ratio is scripted; the real one is used by the tests above)."""

    def answer(request, _n):
        form = urllib.parse.parse_qs(request.body.decode())
        query, at = form["query"][0], float(form.get("time", ["0"])[0])
        if query.startswith("histogram_quantile"):
            value = p99_before if abs(at - deployed) < 1 else p99_after
        elif query.startswith("avg(up"):
            value = 1.0
        else:
            value = 0.0 if "=~" in query else 20.0  # 20 requests/s, no errors
        return Reply(json={"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [at, repr(value)]}]}})

    return http_service({"/api/v1/query": [Phase(answer)]})


@pytest.mark.parametrize(("after", "decision"), [(0.26, "rollback"), (0.24, "pass")])
def test_p99_against_five_times_the_baseline_before_the_deploy(http_service, capsys, after, decision):
    deployed = 1_800_000_000.0
    api = _scripted_prometheus(http_service, deployed, 0.05, after)
    when = journal.timestamp(dt.datetime.fromtimestamp(deployed, dt.timezone.utc))
    code = main(["watch", "--prometheus-url", api.url(), "--selector", 'job="shop"', "--deployed-at", when,
                 "--duration", "3s", "--interval", "1s", "--max-p99-ratio", "5x for 1s", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["decision"] == decision, out["reason"]
    p99 = next(v for v in out["verdicts"] if v["metric"] == "p99-ratio")
    assert (p99["canary"], p99["baseline"]) == (after, 0.05)


def test_no_traffic_is_never_a_pass(lab, capsys):
    code, out, _ = _watch(lab, capsys, lab.selector("idle", "canary"), "--duration", "2s")
    assert code == 0 and out["decision"] == "hold"


@pytest.mark.parametrize(("args", "message"), [
    (("--baseline", "yesterday"), "input 'baseline'"),
    (("--deployed-at", "soon"), "input 'deployed-at': got 'soon'"),
    (("--max-error-rate", "lots"), "input 'max-error-rate'"),
    (("--max-unhealthy", "150"), "input 'max-unhealthy'"),
])
def test_bad_input_is_one_line_and_exit_2(lab, capsys, args, message):
    code, _, err = _watch(lab, capsys, lab.selector("healthy", "canary"), *args)
    assert code == 2 and message in err and "Traceback" not in err

