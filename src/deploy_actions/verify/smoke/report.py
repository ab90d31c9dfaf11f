"""How a smoke run is told: the step summary table, JUnit XML for test reporters, the JSON report
behind the `report` output, and the plain text of the log.

Every text that leaves here goes through `redact` (registered secrets become ***), and none of
it ever contains a header value, a request body or a captured value: checks are shown by name,
method and URL as written (templates unfilled, credentials hidden).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable

from deploy_actions.verify.smoke.checks import CheckResult, Ending, Result
from deploy_actions.verify.smoke.runner import RunResult

Redact = Callable[[str], str]
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ICON = {Result.PASSED: "✅", Result.FAILED: "❌", Result.SKIPPED: "⏭️"}


def _same(text: str) -> str:
    return text


def result_label(result: CheckResult) -> str:
    if result.result is Result.PASSED:
        return "passed"
    if result.ending is Ending.DEADLINE:
        return "failed (deadline)"
    if result.ending is Ending.DEFINITE:
        return "failed"
    return "skipped"


def explain(result: CheckResult, deadline_seconds: float) -> str:
    """Why a check did not pass, in one line."""
    if result.passed:
        return ""
    if result.ending is Ending.DEADLINE:
        return f"not passing by the deadline ({duration_text(deadline_seconds)}): {result.detail}"
    return result.detail


def duration_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _latency(ms: float | None) -> str:
    return "" if ms is None else f"{ms:.0f} ms"


def headline(run: RunResult, version: str | None) -> str:
    where = f", version {version}" if version else ""
    checks = f"check{'s' if run.total != 1 else ''}"
    if run.ok:
        return f"smoke-test: passed, {run.passed} of {run.total} {checks}{where}"
    return f"smoke-test: failed, {run.failed} of {run.total} {checks} did not pass{where}"


def summary_markdown(run: RunResult, version: str | None, redact: Redact = _same) -> str:
    """The step summary: one row per check."""
    lines = [f"## {'✅' if run.ok else '❌'} {headline(run, version)}", "",
             "| check | result | attempts | last status | latency | detail |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in run.results:
        cells = [
            f"{r.name} <br>`{r.method} {r.url}`",
            f"{_ICON[r.result]} {result_label(r)}",
            str(r.attempts),
            "" if r.last_status is None else str(r.last_status),
            _latency(r.latency_ms),
            explain(r, run.deadline_seconds),
        ]
        lines.append("| " + " | ".join(_cell(redact(c)) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def log_text(run: RunResult, version: str | None) -> str:
    """The closing lines of the log: one per check, then the verdict."""
    lines = []
    for r in run.results:
        mark = {Result.PASSED: "✓", Result.FAILED: "✗", Result.SKIPPED: "-"}[r.result]
        facts = ", ".join(f for f in (
            "" if r.last_status is None else f"HTTP {r.last_status}", _latency(r.latency_ms),
            f"version {r.version}" if r.version else "") if f)
        attempts = f"{r.attempts} attempt{'s' if r.attempts != 1 else ''}"
        if r.passed:
            lines.append(f"{mark} {r.name}: passed after {attempts}" + (f" ({facts})" if facts else ""))
        else:
            lines.append(f"{mark} {r.name}: {result_label(r)} after {attempts}: {explain(r, run.deadline_seconds)}")
    lines.append(headline(run, version))
    return "\n".join(lines)


def report_data(run: RunResult, *, version: str | None, expect_version: str | None,
                redact: Redact = _same) -> dict[str, object]:
    checks: list[dict[str, object]] = [
        {
            "name": r.name, "method": r.method, "url": r.url, "journey": r.journey,
            "result": r.result.value, "ending": r.ending.value, "attempts": r.attempts,
            "streak": r.streak, "needed": r.needed, "last_status": r.last_status,
            "latency_ms": None if r.latency_ms is None else round(r.latency_ms, 1),
            "version": r.version, "detail": explain(r, run.deadline_seconds),
            "seconds": round(r.seconds, 3),
        }
        for r in run.results
    ]
    data: dict[str, object] = {
        "ok": run.ok, "passed": run.passed, "failed": run.failed, "total": run.total,
        "expect_version": expect_version, "version": version,
        "seconds": round(run.seconds, 3), "deadline_seconds": run.deadline_seconds,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "checks": checks,
    }
    return _redact_strings(data, redact)  # type: ignore[return-value]


def _redact_strings(value: object, redact: Redact) -> object:
    # Redact string values one by one: redacting the serialised JSON could cut into numbers or quotes.
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_strings(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(v, redact) for v in value]
    return value


def junit_xml(run: RunResult, redact: Redact = _same) -> bytes:
    """One <testcase> per check: failures as <failure>, journey steps after a failure as <skipped>."""

    def clean(text: str) -> str:
        return _XML_INVALID.sub("?", redact(text))

    suites = ET.Element("testsuites", name="smoke-test", tests=str(run.total), failures=str(run.failed),
                        time=f"{run.seconds:.3f}")
    skipped = sum(1 for r in run.results if r.result is Result.SKIPPED)
    suite = ET.SubElement(suites, "testsuite", name="smoke-test", tests=str(run.total),
                          failures=str(run.failed - skipped), errors="0", skipped=str(skipped),
                          time=f"{run.seconds:.3f}",
                          timestamp=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    for r in run.results:
        case = ET.SubElement(suite, "testcase", classname=clean(f"smoke-test.{r.journey or 'checks'}"),
                             name=clean(r.name), time=f"{r.seconds:.3f}")
        if r.result is Result.FAILED:
            failure = ET.SubElement(case, "failure", message=clean(explain(r, run.deadline_seconds)),
                                    type=r.ending.value)
            failure.text = clean(f"{r.method} {r.url}\n{explain(r, run.deadline_seconds)}")
        elif r.result is Result.SKIPPED:
            ET.SubElement(case, "skipped", message=clean(r.detail))
        out = ET.SubElement(case, "system-out")
        status = "-" if r.last_status is None else str(r.last_status)
        out.text = clean(f"{r.method} {r.url}: {r.attempts} attempt(s), last status {status}, "
                         f"latency {_latency(r.latency_ms) or '-'}" + (f", version {r.version}" if r.version else ""))
    ET.indent(suites)
    body: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def default_report_path() -> str:
    """Where the JSON report goes when the `report` input is empty: the runner's temp folder."""
    folder = os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()
    fd, path = tempfile.mkstemp(prefix="smoke-report-", suffix=".json", dir=folder)
    os.close(fd)
    return path


def json_bytes(data: dict[str, object]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
