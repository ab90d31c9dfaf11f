"""Service levels from a real Prometheus (Debian's `prometheus`, scraping the demo's instrumented
service, started by the `canary_lab` fixture): availability against its target, latency quantiles
against theirs, the top errors and the error-rate series with the deploys marked."""

from __future__ import annotations

import datetime as dt

import pytest

from deploy_actions.records import journal
from deploy_actions.report.build import ReportOptions, make_report
from deploy_actions.report.service_levels import level_changes
from tests.report.builder import Records


def test_availability_and_latency_against_their_targets(canary_lab, tmp_path):
    canary_lab.wait_for_history(30)
    now = dt.datetime.now(dt.timezone.utc)
    r = Records()
    for group in ("bad", "healthy"):  # the lab's groups stand for apps, its tracks for environments
        r.opened(now - dt.timedelta(minutes=20), group, "canary", "v1", source_commit="a" * 40)
        r.bump(now - dt.timedelta(minutes=20), group, "canary", "v1", source_commit="a" * 40)
    root = r.write(tmp_path / "g")
    written = make_report(ReportOptions(
        path=str(root), since=journal.timestamp(now - dt.timedelta(seconds=40)), until=journal.timestamp(now),
        production=("canary",), prometheus_url=canary_lab.url,
        prometheus_selector='job="demo",group="{app}",track="{environment}"', availability_target="99.9",
        latency_targets=("p50 30ms", "p95 100ms"), output_dir=str(tmp_path / "out")))
    levels = {s["app"]: s for s in written.report["service_levels"]}
    bad, healthy = levels["bad"], levels["healthy"]
    # The lab's bad canary fails 40 % of requests in 50-70 ms; the healthy one none, in 5-15 ms.
    assert bad["availability"] == pytest.approx(60, abs=12) and bad["availability_met"] is False
    assert healthy["availability"] == 100.0 and healthy["availability_met"] is True
    # Quantiles come from the histogram's buckets, and a loaded machine slows the handlers: bounds, not points.
    assert 0.04 <= bad["latency_seconds"]["p50"] <= 0.1 and bad["latency_met"]["p50"] is False
    assert healthy["latency_seconds"]["p50"] < 0.03 and healthy["latency_met"]["p50"] is True
    assert healthy["latency_seconds"]["p95"] < bad["latency_seconds"]["p95"]
    assert set(bad["latency_met"]) == set(healthy["latency_met"]) == {"p50", "p95"}
    assert [e["code"] for e in bad["top_errors"]] == ["500"] and healthy["top_errors"] == []
    assert bad["error_rate"] and all(0.1 <= v <= 0.7 for _, v in bad["error_rate"])
    assert "## Service levels (Prometheus)" in written.markdown and "misses 99.9 %" in written.markdown
    assert (tmp_path / "out" / "error-rate-bad-canary.svg").is_file()


def test_a_prometheus_that_is_down_leaves_the_levels_empty_and_says_why(tmp_path):
    r = Records()
    now = dt.datetime.now(dt.timezone.utc)
    r.bump(now - dt.timedelta(hours=1), "shop", "production", "v1")
    written = make_report(ReportOptions(path=str(r.write(tmp_path / "g")), prometheus_url="http://127.0.0.1:9",
                                        output_dir=str(tmp_path / "out")))
    (level,) = written.report["service_levels"]
    assert level["availability"] is None and "cannot reach http://127.0.0.1:9" in level["problem"]


def test_the_deploy_before_a_change_of_level_is_named():
    at = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    t0 = at.timestamp()
    series = [(t0 + 60 * i, 0.001 if i < 0 else 0.08) for i in range(-10, 10)]
    found = level_changes(series, [(at, "deploy v2"), (at - dt.timedelta(minutes=8), "deploy v1")], 240)
    assert [(c.what, round(c.before, 3), round(c.after, 3)) for c in found] == [("deploy v2", 0.001, 0.08)]
