"""promote / rollback / hold, look by look in virtual time."""

from __future__ import annotations

import pytest

from deploy_actions.verify.canary import rules, stats
from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis, Decision
from deploy_actions.verify.canary.providers import ArmCounts, LookData
from tests.verify.canary.builders import Stream, arm

CONFIG = AnalysisConfig(alpha=0.01, min_requests=300, min_duration=60, duration=120)


def _run(config, looks, interval=10.0):
    analysis = CanaryAnalysis(config)
    analysis.look(0.0, LookData(ArmCounts(), ArmCounts()))
    for i, data in enumerate(looks, 1):
        done = analysis.look(i * interval, data)
        if done is not None:
            return done, analysis
    return analysis.finish(len(looks) * interval), analysis


def test_a_healthy_canary_is_promoted_once_min_duration_and_min_requests_are_met():
    stream = Stream()
    conclusion, _ = _run(CONFIG, [stream.look((100, 0), (900, 4)) for _ in range(12)])
    assert conclusion.decision is Decision.PROMOTE
    assert conclusion.at == 60  # not before min-duration
    assert conclusion.reason.startswith("no evidence of a regression; 600 canary")


def test_a_failing_canary_is_rolled_back_as_soon_as_the_evidence_crosses():
    stream = Stream()
    conclusion, analysis = _run(CONFIG, [stream.look((100, 10), (900, 4)) for _ in range(12)])
    assert conclusion.decision is Decision.ROLLBACK
    # At the first look the evidence may count (MIN_LOOKS looks with traffic), or the one after.
    assert conclusion.at <= 10 * (stats.MIN_LOOKS + 1) and conclusion.rule == "error-increase"
    assert "canary error rate 10% (" in conclusion.reason
    assert "e = " in conclusion.reason and "p = " in conclusion.reason
    verdicts = {v.rule: v.verdict for v in conclusion.verdicts}
    assert verdicts["error rate > baseline + 0.5 points"] == "fail"


def test_too_little_traffic_holds():
    stream = Stream()
    conclusion, _ = _run(CONFIG, [stream.look((10, 0), (90, 0)) for _ in range(12)])
    assert conclusion.decision is Decision.HOLD and not conclusion.no_data
    assert "too little traffic" in conclusion.reason and "120 canary requests" in conclusion.reason


@pytest.mark.parametrize(("on_no_data", "decision", "failed"), [
    ("hold", Decision.HOLD, False), ("fail", Decision.HOLD, True), ("rollback", Decision.ROLLBACK, False)])
def test_no_data_is_never_promote(on_no_data, decision, failed):
    config = AnalysisConfig(min_requests=0, min_duration=0, duration=60, on_no_data=on_no_data)
    conclusion, analysis = _run(config, [LookData(None, arm(900 * i), problems=("canary: empty result",))
                                         for i in range(1, 7)])
    assert conclusion.decision is decision and conclusion.no_data and conclusion.failed is failed
    assert "no data for the canary" in conclusion.reason and "canary: empty result" in conclusion.reason
    assert analysis.missing_looks == 6


def test_a_canary_without_traffic_is_no_data():
    conclusion, _ = _run(AnalysisConfig(min_requests=0, min_duration=0, duration=30),
                         [LookData(arm(0), arm(900 * i)) for i in range(1, 4)])
    assert conclusion.decision is Decision.HOLD and conclusion.no_data


def test_missing_data_at_the_latest_look_blocks_promotion_until_it_returns():
    stream = Stream()
    looks = [stream.look((100, 0), (900, 0)) for _ in range(6)]
    analysis = CanaryAnalysis(CONFIG)
    analysis.look(0, LookData(ArmCounts(), ArmCounts()))
    for i, data in enumerate(looks[:5], 1):
        assert analysis.look(i * 10, data) is None
    assert analysis.look(60, LookData(None, None, problems=("cannot reach prometheus",))) is None
    assert analysis.look(70, looks[5]).decision is Decision.PROMOTE


def test_data_that_stops_coming_ends_in_no_data():
    stream = Stream()
    looks = [stream.look((100, 0), (900, 0)) for _ in range(3)] + [LookData(None, None)] * 9
    conclusion, _ = _run(CONFIG, looks)
    assert conclusion.decision is Decision.HOLD and conclusion.no_data
    assert "no data at the latest look" in conclusion.reason


def test_an_estimate_beyond_the_tolerance_without_evidence_holds_instead_of_promoting():
    # About 1.25 % against 0.6 %: 0.65 points apart, beyond 0.5, but far from evidence.
    stream = Stream()
    looks = [stream.look((100, 1 + (i % 5 == 0)), (900, 5 + i % 2)) for i in range(12)]
    conclusion, analysis = _run(CONFIG, looks)
    assert conclusion.decision is Decision.HOLD
    assert "beyond error rate > baseline + 0.5 points" in conclusion.reason


def test_a_failing_custom_metric_rolls_back_and_a_silent_one_blocks_promotion():
    metric = rules.CustomMetric("queue-errors", "q", max=1.0)
    config = AnalysisConfig(min_requests=0, min_duration=10, duration=60, custom=(metric,))
    stream = Stream()
    conclusion, _ = _run(config, [LookData(*_arms(stream), custom={"queue-errors": (3.0, 0.0)})])
    assert conclusion.decision is Decision.ROLLBACK and conclusion.rule == "queue-errors"
    stream = Stream()
    conclusion, _ = _run(config, [LookData(*_arms(stream), custom={}) for _ in range(6)])
    assert conclusion.decision is Decision.HOLD and "metric queue-errors: nodata" in conclusion.reason


def _arms(stream):
    data = stream.look((100, 0), (900, 0))
    return data.canary, data.baseline


def test_without_a_latency_histogram_the_latency_guards_hold_unless_turned_off():
    looks = [LookData(ArmCounts(100.0 * i, 0.0), ArmCounts(900.0 * i, 0.0)) for i in range(1, 13)]
    conclusion, _ = _run(CONFIG, looks)
    assert conclusion.decision is Decision.HOLD and "no data for p95-increase" in conclusion.reason
    errors_only = AnalysisConfig(min_requests=300, min_duration=60, duration=120,
                                 guards=tuple(g for g in rules.default_guards() if g.kind != "latency"))
    assert _run(errors_only, looks)[0].decision is Decision.PROMOTE


def test_min_duration_longer_than_duration_means_the_whole_duration():
    stream = Stream()
    config = AnalysisConfig(min_requests=100, min_duration=300, duration=60)
    conclusion, _ = _run(config, [stream.look((100, 0), (900, 0)) for _ in range(6)])
    assert conclusion.decision is Decision.PROMOTE and conclusion.at == 60


def test_the_alpha_is_shared_between_the_guards():
    assert sum(CONFIG.alpha_of(g) for g in CONFIG.guards) == pytest.approx(CONFIG.alpha)
    two = AnalysisConfig(alpha=0.01, guards=rules.default_guards()[:2])
    assert [two.alpha_of(g) for g in two.guards] == pytest.approx([0.0025, 0.0075])


def test_the_absolute_guard_holds_when_the_baseline_is_as_bad():
    # 1 request a second, 20 % errors on both sides: the canary is above 5 %, and so is the baseline.
    # The environment is unhealthy; that is no evidence against the canary: hold, and say so.
    stream = Stream()
    config = AnalysisConfig(min_requests=100, min_duration=60, duration=600)
    conclusion, _ = _run(config, [stream.look((10, 2 if i % 5 else 1), (90, 18)) for i in range(60)])
    assert conclusion.decision is Decision.HOLD and "environment is unhealthy" in conclusion.reason
    assert next(v for v in conclusion.verdicts if v.rule.startswith("error rate > 5%")).verdict == "shared"


def test_the_absolute_guard_rolls_back_a_canary_that_alone_breaks_it():
    stream = Stream()
    config = AnalysisConfig(min_requests=100, min_duration=60, duration=600)
    conclusion, _ = _run(config, [stream.look((10, 2 if i % 5 else 1), (90, 1)) for i in range(60)])
    assert conclusion.decision is Decision.ROLLBACK and conclusion.rule in ("error-rate", "error-increase")
    assert conclusion.at <= 240
