"""`deploy-actions smoke-test` as users and the composite action run it: flags or INPUT_*, `--json`
with the outputs as keys, exit 0/1/2, outputs and a step summary inside Actions, secrets masked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deploy_actions.commands import COMMANDS
from tests.plugins.http_services import Phase, Reply

OUTPUTS = [o.name for o in COMMANDS["smoke-test"].outputs]
NEW = {"status": "ok", "version": "1.2.3"}
TOKEN = "s3cr3t-bearer-0123456789"


def smoke(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    return subprocess.run([sys.executable, "-m", "deploy_actions", "smoke-test", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, cwd=cwd, timeout=120, check=False)


def test_json_run_prints_the_outputs_and_exits_0(http_service, tmp_path):
    service = http_service({"/health": [Phase(Reply(503), requests=2), Phase(Reply(json=NEW))]})

    proc = smoke("--url", service.url("/health"), "--expect-version", "1.2.3", "--timeout", "60s", "--json",
                 "--max-backoff", "50ms", "--report", str(tmp_path / "report.json"))

    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out) == OUTPUTS
    assert (out["passed"], out["failed"], out["total"], out["ok"], out["version"]) == (1, 0, 1, True, "1.2.3")
    report = json.loads(Path(out["report"]).read_text())
    assert report["checks"][0]["attempts"] == 3 and report["checks"][0]["result"] == "passed"
    assert "Traceback" not in proc.stderr


def test_json_run_exits_1_when_a_check_fails_by_the_deadline(http_service, tmp_path):
    service = http_service({"/health": Reply(json={"version": "1.2.2"})})

    proc = smoke("--url", service.url("/health"), "--expect-version", "1.2.3", "--timeout", "1s", "--json",
                 "--junit", str(tmp_path / "junit.xml"), "--report", str(tmp_path / "r.json"))

    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["passed"], out["failed"], out["ok"]) == (0, 1, False)
    assert "running 1.2.2, expected 1.2.3" in proc.stderr
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "running 1.2.2, expected 1.2.3" in failure.get("message", "")


@pytest.mark.parametrize(("args", "names"), [
    (["--timeout", "5 minutes"], "input 'timeout'"),
    (["--expect-status", "ok"], "input 'expect-status'"),
    (["--expect-json", "status = ok"], "input 'expect-json'"),
    (["--consecutive-successes", "0"], "input 'consecutive-successes'"),
    (["--concurrency", "0"], "input 'concurrency'"),
    (["--max-latency-ms", "0"], "input 'max-latency-ms'"),
    (["--version-field", "version"], "input 'version-field'"),
    (["--headers", "Authorization Bearer x"], "input 'headers'"),
    (["--ca-bundle", "/nonexistent/ca.pem"], "input 'ca-bundle'"),
    (["--insecure", "maybe"], "input 'insecure'"),
    (["--spec", "missing.yml"], "missing.yml: cannot be read"),
])
def test_bad_input_is_one_line_and_exit_2(args, names, tmp_path):
    proc = smoke("--url", "http://127.0.0.1:9/health", "--timeout", "1s", *args, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert names in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_no_check_at_all_is_bad_input():
    proc = smoke("--json")
    assert proc.returncode == 2 and "input 'url'" in proc.stderr


def test_a_bad_spec_is_one_line_naming_file_and_line(tmp_path):
    (tmp_path / "smoke.yml").write_text("- name: a\n  url: http://app/\n  expect-stauts: 200\n")

    proc = smoke("--spec", "smoke.yml", cwd=tmp_path)

    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: smoke.yml:3: check #1: unknown key 'expect-stauts' "
                                   "(did you mean 'expect-status'?)")


def test_inside_actions_inputs_outputs_summary_and_masks(http_service, tmp_path):
    service = http_service({"/health": [Phase(Reply(503), requests=1), Phase(Reply(json=NEW))]})
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    output.touch()  # the runner creates both files before the step starts
    summary.touch()
    env = {
        "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp_path),
        # The composite action maps inputs like this (see smoke-test/action.yml).
        "INPUT_URL": service.url("/health") + "\n",
        "INPUT_HEADERS": f"Authorization: Bearer {TOKEN}\nAccept: application/json",
        "INPUT_EXPECT_VERSION": "v1.2.3", "INPUT_TIMEOUT": "1m", "INPUT_MAX_BACKOFF": "50ms",
        "INPUT_EXPECT_JSON": "$.status = ok", "INPUT_INSECURE": "false", "INPUT_REPORT": "",
    }

    proc = smoke(env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    (seen,) = service.requests_to("/health")[-1:]
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    everything = proc.stdout + proc.stderr + summary.read_text() + output.read_text()
    mask_lines = [line for line in everything.splitlines() if TOKEN in line]
    assert mask_lines and all(line.startswith("::add-mask::") for line in mask_lines)
    outputs = output.read_text()
    for name in OUTPUTS:
        assert f"{name}<<" in outputs
    assert "| check | result | attempts | last status | latency | detail |" in summary.read_text()
    report = next(tmp_path.glob("smoke-report-*.json"))
    assert json.loads(report.read_text())["ok"] is True


def test_a_failure_inside_actions_is_an_error_annotation_on_the_spec_line(http_service, tmp_path):
    service = http_service({"/health": Reply(json={"status": "down", "version": "1.2.3"})})
    (tmp_path / "smoke.yml").write_text(
        f"checks:\n  - name: health\n    url: {service.url('/health')}\n"
        "    expect-version: true\n    expect-json: ['$.status = ok']\n")
    env = {"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(tmp_path), "INPUT_SPEC": "smoke.yml",
           "INPUT_EXPECT_VERSION": "1.2.3", "INPUT_TIMEOUT": "2m"}

    proc = smoke(env=env, cwd=tmp_path)

    assert proc.returncode == 1
    assert ("::error title=smoke-test,file=smoke.yml,line=2::health: $.status: expected \"ok\", got \"down\" "
            "(on the new version 1.2.3)") in proc.stdout


def test_help_lists_every_input_as_a_flag():
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "smoke-test", "--help"], capture_output=True,
                          text=True, check=True)
    for option in COMMANDS["smoke-test"].options:
        assert f"--{option.name}" in proc.stdout
