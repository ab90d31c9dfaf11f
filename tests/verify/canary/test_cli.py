"""The canary-monitor command line: bad input is one line and exit 2 (fuzzed), --help stays light,
the summary and report read well."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions import actions_runtime
from deploy_actions.cli import main
from deploy_actions.verify.canary import report
from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis
from deploy_actions.verify.canary.providers import ArmCounts, LookData
from tests.verify.canary.builders import Stream


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


PROM = ["canary-monitor", "--canary-selector", 'app="x",track="canary"', "--baseline-selector", 'app="x",track="stable"']


@pytest.mark.parametrize(("args", "named"), [
    ([*PROM, "--prometheus-url", "http://p:9090", "--alpha", "2"], "alpha"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--alpha", "0"], "alpha"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--max-error-rate", "lots"], "max-error-rate"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--max-p99-ratio", "5% for 5m"], "max-p99-ratio"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--metrics", "- name: [x"], "metrics"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--interval", "soon"], "interval"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--duration", "0s"], "duration"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--min-requests", "-3"], "min-requests"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--error-status", "5(("], "error-status"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--request-metric", "http requests"], "request-metric"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--lookback", "1h"], "lookback"),
    ([*PROM, "--prometheus-url", "ftp://p"], "prometheus-url"),
    ([*PROM], "prometheus-url"),
    (["canary-monitor", "--prometheus-url", "http://p:9090", "--canary-selector", "canary",
      "--baseline-selector", 'a="b"'], "canary-selector"),
    (["canary-monitor", "--prometheus-url", "http://p:9090", "--canary-selector", 'a="b"'], "baseline-selector"),
    (["canary-monitor", "--provider", "probe", "--baseline-url", "http://b/"], "canary-url"),
    (["canary-monitor", "--provider", "probe", "--canary-url", "http://a/", "--baseline-url", "http://b/",
      "--rate", "0"], "rate"),
    (["canary-monitor", "--provider", "probe", "--canary-url", "http://a/", "--baseline-url", "http://b/",
      "--lookback", "5m"], "lookback"),
    (["canary-monitor", "--provider", "probe", "--canary-url", "http://a/", "--baseline-url", "http://b/",
      "--metrics", "- name: x\n  query: up\n  max: 1"], "metrics"),
    ([*PROM, "--prometheus-url", "http://p:9090", "--max-error-rate", "off", "--max-error-increase", "off",
      "--max-p95-increase", "off", "--max-p99-ratio", "off"], "max-error-rate"),
])
def test_bad_input_is_one_line_naming_the_input_and_exit_2(args, named, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"input '{named}'" in err and "Traceback" not in err


def test_promote_is_not_something_no_data_can_mean(capsys):
    assert main([*PROM, "--prometheus-url", "http://p:9090", "--on-no-data", "promote"]) == 2
    err = capsys.readouterr().err
    assert err == "error: input 'on-no-data': got 'promote'; expected one of hold, fail, rollback\n"


def test_inputs_come_from_the_environment_too(monkeypatch, capsys):
    monkeypatch.setenv("INPUT_PROVIDER", "probe")
    monkeypatch.setenv("INPUT_CANARY-URL", "gopher://x")
    assert main(["canary-monitor", "--baseline-url", "http://b/"]) == 2
    assert "input 'canary-url': got 'gopher://x'" in capsys.readouterr().err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["max-error-rate", "max-error-increase", "max-p95-increase", "max-p99-ratio", "alpha",
                             "canary-selector", "metrics", "interval", "min-requests", "status-label"]),
       value=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=25))
def test_fuzzed_inputs_never_give_a_traceback(name, value, capsys):
    args = {"--prometheus-url": _closed_url(), "--canary-selector": 'a="b"', "--baseline-selector": 'a="c"',
            "--duration": "20ms", "--retries": "0", "--timeout": "200ms"}
    args[f"--{name}"] = value
    flat = [item for pair in args.items() for item in pair]
    try:
        code = main(["canary-monitor", *flat])
    except SystemExit as exit_info:  # argparse: a value that looks like a flag
        code = exit_info.code
    err = capsys.readouterr().err
    actions_runtime._secrets.clear()
    assert "Traceback" not in err and "internal error" not in err
    assert code in (0, 2)
    if code == 2:
        assert len(err.strip().splitlines()[-1:]) == 1


def test_help_stays_light():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "deploy_actions", "canary-monitor", "--help"],
                          capture_output=True, text=True, check=True)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "--on-no-data" in proc.stdout and "--max-p99-ratio" in proc.stdout
    for heavy in ("deploy_actions.verify.canary.stats", "ruamel.yaml", "numpy", "requests", "urllib.request"):
        assert heavy not in modules


def _analysis(errors_per_look: int) -> tuple[CanaryAnalysis, object]:
    analysis = CanaryAnalysis(AnalysisConfig(min_requests=100, min_duration=50, duration=60))
    analysis.look(0, LookData(ArmCounts(), ArmCounts()))
    stream = Stream()
    conclusion = None
    for i in range(1, 7):
        conclusion = analysis.look(i * 10, stream.look((100, errors_per_look), (900, 2)))
        if conclusion:
            break
    return analysis, conclusion or analysis.finish(60)


def test_the_summary_has_a_table_charts_and_a_sentence():
    analysis, conclusion = _analysis(errors_per_look=20)
    text = report.summary(conclusion, analysis.config, analysis.timeline, "probe")
    assert text.startswith("## canary-monitor: ⏪ rollback")
    assert "Roll back: after 40 s the canary's error rate was 20% against the baseline's 0.222%" in text
    assert "a canary inside that tolerance shows evidence this strong on this guard less than" in text
    analysis, conclusion = _analysis(errors_per_look=0)
    text = report.summary(conclusion, analysis.config, analysis.timeline, "probe")
    assert "Promote: after 50 s" in text
    assert "What could still be hiding (at the guards' alpha): an error rate of " in text
    assert "an error rate +1.1 points above the baseline's" in text
    assert ("at most 0.01 in all (split as error-rate 0.0014, error-increase 0.0043, p95-increase 0.0029, "
            "p99-ratio 0.0014, however often it looked)") in text
    assert text.count("xychart-beta") == 2
    assert 'x-axis ["10 s", "20 s", "30 s", "40 s", "50 s"]' in text and "line [0, 0, 0, 0, 0]" in text
    assert "line [0.7222, 0.7222, 0.7222, 0.7222, 0.7222]" in text  # the threshold: the baseline's + 0.5 points
    assert "red: canary · blue: baseline · grey: the rule's threshold (baseline + 0.5 points)" in text
    assert "| error-rate | error rate > baseline + 0.5 points | 0% | 0.222% |" in text


def test_charts_show_each_look_and_leave_gaps_as_gaps():
    analysis = CanaryAnalysis(AnalysisConfig(min_requests=100, min_duration=600, duration=600))
    analysis.look(0, LookData(ArmCounts(), ArmCounts()))
    stream = Stream()
    for i in range(1, 9):
        if i in (4, 5):  # Prometheus down for two looks
            analysis.look(i * 10, LookData(None, None))
            continue
        analysis.look(i * 10, stream.look((100, 30 if i == 8 else 0), (900, 2)))
    text = report.charts(analysis.timeline, analysis.config)
    error_chart = text.split("```")[1]
    assert 'x-axis ["10 s", "20 s", "30 s", "1 min", "1 min 10 s", "1 min 20 s"]' in error_chart  # no 40 s, 50 s
    assert "line [0, 0, 0, 0, 0, 30]" in error_chart  # per look: the late 30 % shows, not a cumulative 5 %
    assert "no data (not drawn): 40 s–50 s" in text


def test_the_json_report_is_written_atomically(tmp_path):
    analysis, conclusion = _analysis(errors_per_look=0)
    path = report.write(str(tmp_path / "out" / "canary.json"),
                        report.document(conclusion, analysis.config, analysis.timeline, "probe"))
    doc = json.loads(open(path).read())
    assert doc["decision"] == "promote" and len(doc["timeline"]) == 6
    assert [g["alpha"] for g in doc["config"]["guards"]] == pytest.approx([0.01 / 7, 0.03 / 7, 0.02 / 7, 0.01 / 7])
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["canary.json"]
    from deploy_actions.errors import InputError

    with pytest.raises(InputError, match="it is a folder"):
        report.write(str(tmp_path), {})
