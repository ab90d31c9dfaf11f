"""Incident records: the evidence reports read (or refused in one line), and the Markdown rendered."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from deploy_actions.errors import FileError, InputError
from deploy_actions.records import incident

UTC = dt.timezone.utc
CANARY = {
    "decision": "rollback", "reason": "error rate", "sentence": "Roll back: the canary's error rate was 5% against 0.1%.",
    "verdicts": [
        {"metric": "error-rate", "rule": "canary error rate ≤ baseline + 1%", "verdict": "fail", "canary": 0.05,
         "baseline": 0.001, "unit": "ratio", "p_value": 0.0004, "e_value": 2500.0},
        {"metric": "p95", "rule": "p95 ≤ 1.2 × baseline", "verdict": "pass", "canary": 0.21, "baseline": 0.2,
         "unit": "seconds", "p_value": None, "e_value": None},
    ],
}
SMOKE = {"ok": False, "passed": 1, "failed": 1, "total": 2, "checks": [
    {"name": "health", "url": "https://app/health", "result": "passed", "last_status": 200, "detail": "ok"},
    {"name": "version", "url": "https://app/version", "result": "failed", "last_status": 200,
     "detail": "version v1.3.0 | expected v1.4.0"},
]}


def facts(**changes: object) -> incident.Incident:
    base = incident.Incident(
        app="app", environment="production", bad_version="v1.4.0", good_version="v1.3.0",
        reason="p99 latency 5x baseline", rolled_back_at=dt.datetime(2026, 11, 22, 10, 15, tzinfo=UTC),
        detected_at=dt.datetime(2026, 11, 22, 10, 9, 30, tzinfo=UTC),
        deployed_at=dt.datetime(2026, 11, 22, 9, 58, tzinfo=UTC), image="ghcr.io/org/app",
        source_repository="org/app", source_commit="a" * 40, run_url="https://github.com/org/app/actions/runs/9")
    return incident.Incident(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_the_record_has_title_versions_timeline_reason_and_links():
    text = incident.render(facts())
    assert text.startswith("# Incident: app v1.4.0 rolled back in production\n")
    assert "- **Versions**: v1.4.0 → v1.3.0" in text and "- **Reason**: p99 latency 5x baseline" in text
    assert "| deployed v1.4.0 | 2026-11-22 09:58:00 UTC |" in text
    assert "| detected | 2026-11-22 10:09:30 UTC |" in text
    assert "| rolled back to v1.3.0 | 2026-11-22 10:15:00 UTC |" in text
    assert f"[aaaaaaaaaaaa](https://github.com/org/app/commit/{'a' * 40})" in text
    assert "- Workflow run: https://github.com/org/app/actions/runs/9" in text


def test_unknown_times_say_so():
    text = incident.render(facts(deployed_at=None, detected_at=None))
    assert "| deployed v1.4.0 | unknown |" in text and "| detected | unknown |" in text


def test_canary_evidence_is_the_verdicts_table(tmp_path):
    path = tmp_path / "canary.json"
    path.write_text(json.dumps(CANARY))
    text = incident.render(facts(evidence=incident.read_evidence(str(path))))
    assert "## Canary verdicts" in text and "Roll back: the canary's error rate" in text
    assert "| metric | rule | canary | baseline | p | verdict |" in text
    assert "| error-rate | canary error rate ≤ baseline + 1% | 0.05 | 0.001 | 0.0004 | fail |" in text


def test_smoke_evidence_lists_only_the_failed_checks_with_pipes_escaped(tmp_path):
    path = tmp_path / "smoke.json"
    path.write_text(json.dumps(SMOKE))
    text = incident.render(facts(evidence=incident.read_evidence(str(path))))
    assert "## Failed smoke checks" in text and "smoke test: 1 of 2 check(s) failed" in text
    assert "| version | https://app/version | 200 | version v1.3.0 \\| expected v1.4.0 |" in text
    assert "| health |" not in text


@pytest.mark.parametrize("content", [None, b"", b"{", b"[]", b'{"verdicts": [1]}', b'{"checks": "x"}', b"\xff"])
def test_a_bad_evidence_file_is_one_clear_line(tmp_path, content):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FileError) as err:
        incident.read_evidence(str(path))
    assert "evidence" in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_file_stamp_and_detected_at():
    moment = dt.datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert incident.file_stamp(moment) == "20261122T101500Z"
    assert incident.parse_detected_at("", moment) == moment
    assert incident.parse_detected_at("2026-11-22T11:00:00+01:00", moment) == moment.replace(minute=0)
    with pytest.raises(InputError, match="input 'detected-at'"):
        incident.parse_detected_at("soon", moment)


def test_deployed_at_is_the_last_bump_of_the_bad_version():
    records = [
        {"event": "bump", "app": "app", "environment": "production", "version": "v1.4.0",
         "timestamp": "2026-11-21T08:00:00Z"},
        {"event": "bump", "app": "app", "environment": "production", "version": "v1.4.0",
         "timestamp": "2026-11-22T09:58:00Z"},
        {"event": "bump", "app": "app", "environment": "staging", "version": "v1.4.0",
         "timestamp": "2026-11-22T11:00:00Z"},
    ]
    assert incident.deployed_at(records, "app", "production", "v1.4.0") == dt.datetime(2026, 11, 22, 9, 58, tzinfo=UTC)
    assert incident.deployed_at(records, "app", "production", "v9") is None
