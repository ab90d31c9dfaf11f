"""The whole analysis on seeded streams of pods, seconds and scrapes in virtual time (the
benchmark's simulator): false rollbacks on A/A canaries whose errors and slowness cluster stay
within alpha plus sampling slack, a canary at its tolerance is the null, regressions are found,
no data (or stopped traffic) is never promote, and over a four-stage rollout whose evidence carries
from stage to stage the false-rollback rate stays within the whole alpha while a mild regression is
found more often than with alpha split over the stages (Bonferroni)."""

from __future__ import annotations

import math

import pytest

from benchmarks.canary_judges import SCENARIOS, judge_ours, judge_rollout, simulate
from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.decision import AnalysisConfig


def _scenario(name: str):
    return next(s for s in SCENARIOS if s.name == name)


def _rate(outcomes, decision: str = "rollback") -> float:
    return sum(o.decision == decision for o in outcomes) / len(outcomes)


def _slack(alpha: float, n: int) -> float:
    return 3 * math.sqrt(alpha * (1 - alpha) / n)


@pytest.mark.parametrize(("name", "rps"), [
    ("healthy", 10), ("error bursts", 100), ("latency blips", 100), ("pod heterogeneity", 100),
    ("shared outage", 10), ("all of them", 100),
])
def test_false_rollbacks_on_clustered_a_a_streams_stay_within_alpha(name, rps):
    alpha, seeds = 0.01, 120
    rate = _rate(judge_ours(simulate(_scenario(name), rps, seeds, seed=101), AnalysisConfig(alpha=alpha)))
    assert rate <= alpha + _slack(alpha, seeds)


def _one_guard(text: str, input_name: str, kind: str) -> tuple[rules.Guard, ...]:
    guard = rules.parse_guard(input_name, text, kind)
    assert guard is not None
    return (guard,)


@pytest.mark.parametrize(("name", "guard"), [
    ("error bursts", ("0.5", "max-error-increase", "error-increase")),
    ("latency blips", ("50", "max-p95-increase", "p95-increase")),
    ("errors +0.5 pts (at the tolerance)", ("0.5", "max-error-increase", "error-increase")),
])
def test_a_large_alpha_makes_the_check_sharp(name, guard):
    # One guard, alpha 0.2 and 60 looks at 100 rps: a test whose evidence grew with the clustering
    # inside looks (the per-request test rolled back about half of these), or whose null was not
    # the tolerance, overshoots 0.2 plus slack.
    alpha, seeds = 0.2, 120
    config = AnalysisConfig(alpha=alpha, guards=_one_guard(*guard))
    rate = _rate(judge_ours(simulate(_scenario(name), 100, seeds, seed=202), config))
    assert rate <= alpha + _slack(alpha, seeds)


def test_big_regressions_are_found():
    for name in ("errors +5 pts", "p95 +100 %"):
        outcomes = judge_ours(simulate(_scenario(name), 10, 40, seed=303))
        assert _rate(outcomes) >= 0.95, name


@pytest.mark.parametrize("name", ["no data", "stopped traffic"])
def test_no_data_and_stopped_traffic_are_never_promoted(name):
    outcomes = judge_ours(simulate(_scenario(name), 10, 20, seed=404))
    assert _rate(outcomes, "promote") == 0 and _rate(outcomes, "hold") == 1


def _rollout(name: str, rps: float, seeds: int, seed: int, config: AnalysisConfig, carried: bool) -> float:
    return judge_rollout(_scenario(name), rps, seeds, seed, config, "carried" if carried else "bonferroni")


@pytest.mark.parametrize(("name", "rps", "alpha", "guards"), [
    ("all of them", 100, 0.01, None),
    # One guard at alpha 0.2 with a canary exactly at its tolerance (the null's edge): the sharpest case.
    ("errors +0.5 pts (at the tolerance)", 100, 0.2, ("0.5", "max-error-increase", "error-increase")),
])
def test_false_rollbacks_over_a_four_stage_rollout_stay_within_the_whole_alpha(name, rps, alpha, guards):
    seeds = 150
    config = AnalysisConfig(alpha=alpha) if guards is None else AnalysisConfig(alpha=alpha, guards=_one_guard(*guards))
    assert _rollout(name, rps, seeds, 505, config, carried=True) <= alpha + _slack(alpha, seeds)


def test_carried_evidence_finds_a_mild_regression_more_often_than_bonferroni():
    # +1 point against a 0.5-point tolerance at 10 rps: one 10-minute stage finds it about half the time.
    seeds, config = 100, AnalysisConfig(alpha=0.01)
    carried = _rollout("errors +1 pts", 10, seeds, 606, config, carried=True)
    split = _rollout("errors +1 pts", 10, seeds, 606, config, carried=False)
    assert carried >= split + 0.1, (carried, split)
