"""The whole analysis on many seeded streams in virtual time (the benchmark's simulator): the
false-rollback rate on healthy canaries stays within alpha plus sampling slack, regressions are
found, and no data is never promote."""

from __future__ import annotations

import math
import statistics

import pytest

from benchmarks.canary_judges import SCENARIOS, judge_ours, simulate
from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.decision import AnalysisConfig

HEALTHY = next(s for s in SCENARIOS if s.name == "healthy")
SHARED_BURSTS = next(s for s in SCENARIOS if s.name == "bursty, both sides")


def _slack(alpha: float, n: int) -> float:
    return 3 * math.sqrt(alpha * (1 - alpha) / n)


@pytest.mark.parametrize(("rps", "seeds"), [(1, 150), (10, 250), (100, 150)])
def test_false_rollbacks_on_healthy_streams_stay_within_alpha(rps, seeds):
    alpha = 0.01
    outcomes = judge_ours(simulate(HEALTHY, rps, seeds, seed=101), AnalysisConfig(alpha=alpha))
    rate = sum(o.decision == "rollback" for o in outcomes) / seeds
    assert rate <= alpha + _slack(alpha, seeds)


def test_false_rollbacks_stay_within_a_large_alpha_too():
    # One guard, a large alpha and 30 looks make the check sharp (about 6 % observed here): a test
    # that lost its validity under peeking, or under errors that come in shared bursts, overshoots it.
    alpha, seeds = 0.2, 200
    guard = rules.parse_guard("max-error-increase", "0.5", "error-increase")
    assert guard is not None
    outcomes = judge_ours(simulate(SHARED_BURSTS, 10, seeds, seed=202),
                          AnalysisConfig(alpha=alpha, min_duration=300, duration=300, guards=(guard,)))
    rate = sum(o.decision == "rollback" for o in outcomes) / seeds
    assert rate <= alpha + _slack(alpha, seeds)


def test_two_points_more_errors_at_ten_rps_is_found():
    scenario = next(s for s in SCENARIOS if s.name == "errors +2 pts")
    outcomes = judge_ours(simulate(scenario, 10, 100, seed=303))
    assert sum(o.decision == "rollback" for o in outcomes) >= 95
    assert statistics.median(o.seconds for o in outcomes) <= 300


def test_no_data_holds_and_never_promotes():
    scenario = next(s for s in SCENARIOS if s.name == "no data")
    outcomes = judge_ours(simulate(scenario, 10, 20, seed=404))
    assert {o.decision for o in outcomes} == {"hold"}
