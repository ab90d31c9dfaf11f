"""What a smoke run tells people and tools: the step summary table, JUnit XML and the JSON report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from deploy_actions.verify.smoke import report
from deploy_actions.verify.smoke.checks import CheckResult, Ending, Result
from deploy_actions.verify.smoke.runner import RunResult

RUN = RunResult(
    results=(
        CheckResult("health", "GET", "https://app/health", Result.PASSED, Ending.PASSED, 7, last_status=200,
                    latency_ms=12.4, version="1.2.3", streak=1, seconds=3.5),
        CheckResult("login", "POST", "https://app/auth/token", Result.FAILED, Ending.DEADLINE, 20,
                    detail="HTTP 503 | Service\nUnavailable \x00", last_status=503, latency_ms=3.0, journey="order"),
        CheckResult("orders", "GET", "https://app/orders", Result.SKIPPED, Ending.SKIPPED, 0,
                    detail="skipped: earlier step 'login' did not pass", journey="order"),
        CheckResult("search", "GET", "https://app/search", Result.FAILED, Ending.DEFINITE, 2,
                    detail='$.hits: expected 1, got 0 (it passed before)', last_status=200, latency_ms=8.0),
    ),
    seconds=60.2, deadline_seconds=60,
)


def test_summary_has_one_row_per_check_with_the_columns_people_read():
    summary = report.summary_markdown(RUN, "1.2.3")
    lines = summary.splitlines()

    assert lines[0] == "## ❌ smoke-test: failed, 3 of 4 checks did not pass, version 1.2.3"
    assert lines[2] == "| check | result | attempts | last status | latency | detail |"
    rows = [line for line in lines[4:] if line.startswith("| ")]
    assert len(rows) == 4
    assert rows[0] == "| health <br>`GET https://app/health` | ✅ passed | 7 | 200 | 12 ms |  |"
    assert "failed (deadline)" in rows[1] and "not passing by the deadline (1 min): HTTP 503 \\| Service" in rows[1]
    assert "Service Unavailable" in rows[1]
    assert "⏭️ skipped | 0 |" in rows[2]


def test_summary_redacts():
    summary = report.summary_markdown(RUN, None, redact=lambda text: text.replace("auth/token", "***"))
    assert "auth/token" not in summary


def test_junit_is_valid_xml_with_failures_and_skips():
    root = ET.fromstring(report.junit_xml(RUN))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["health"].find("failure") is None
    login_failure = cases["login"].find("failure")
    assert login_failure is not None and login_failure.get("type") == "deadline"
    assert "\x00" not in (login_failure.get("message") or "")
    assert cases["orders"].find("skipped") is not None
    assert cases["login"].get("classname") == "smoke-test.order"


def test_json_report_holds_the_counts_and_every_check():
    data = report.report_data(RUN, version="1.2.3", expect_version="1.2.3")
    text = report.json_bytes(data).decode()
    parsed = json.loads(text)

    assert (parsed["ok"], parsed["passed"], parsed["failed"], parsed["total"]) == (False, 1, 3, 4)
    assert [c["result"] for c in parsed["checks"]] == ["passed", "failed", "skipped", "failed"]
    assert parsed["checks"][0]["attempts"] == 7 and parsed["checks"][0]["version"] == "1.2.3"


def test_json_report_redacts_strings_and_keeps_numbers():
    data = report.report_data(RUN, version="1.2.3", expect_version=None, redact=lambda t: t.replace("1", "***"))
    assert data["passed"] == 1 and json.loads(report.json_bytes(data).decode())["version"] == "***.2.3"


def test_log_text_ends_with_the_verdict():
    text = report.log_text(RUN, "1.2.3").splitlines()
    assert text[0] == "✓ health: passed after 7 attempts (HTTP 200, 12 ms, version 1.2.3)"
    assert text[-1] == "smoke-test: failed, 3 of 4 checks did not pass, version 1.2.3"
