"""Exact, aligned counting: one reproducer per counting bug of issue 11, through the Prometheus
provider (raw samples from the scripted stand-in) and the analysis that accumulates its looks."""

from __future__ import annotations

import math

import pytest

from deploy_actions.verify.canary import rules
from deploy_actions.verify.canary.decision import AnalysisConfig, CanaryAnalysis, Decision
from deploy_actions.verify.canary.providers import ArmCounts, LookData
from deploy_actions.verify.canary.providers import prometheus as prom
from tests.plugins.prometheus import PrometheusDown

T0 = 1_800_000_000.0
BOUNDS = ("0.1", "+Inf")


def _counter(rate, start: float, end: float, scrape: float, offset: float = 0.0, first: float = -math.inf):
    """Samples of a counter growing by rate(t) per second, scraped every `scrape` s at `offset`,
    existing from `first` on (with the value it has by then)."""
    samples, value, t = [], 0.0, start + offset
    last = start + offset
    while t <= end:
        value += sum(rate(last + i) for i in range(int(t - last)))
        last = t
        if t >= first:
            samples.append((t, value))
        t += scrape
    return samples


def _provider(fake, **kwargs):
    client = prom.PrometheusClient(fake.url, retries=0)
    return prom.PrometheusProvider(client, canary_selector='track="canary"', baseline_selector='track="baseline"',
                                   **kwargs)


def _run(provider, times):
    span = times[-1] - times[0]
    analysis = CanaryAnalysis(AnalysisConfig(min_duration=span, min_requests=0, duration=span))
    for t in times:
        analysis.look(t - times[0], provider.look(t))
    return analysis


def test_a_failed_bucket_query_never_counts_the_history_twice(fake_prometheus):
    failing = {T0 + 40}
    per_second = {"0.05": 5.0, "0.1": 9.0, "+Inf": 10.0}  # cumulative buckets of 10 requests a second

    def script(query, at):
        if "_bucket" in query and at in failing:
            raise PrometheusDown
        if "_bucket" in query:
            return [({"le": le}, _counter(lambda t, r=rate: r, T0 - 600, at, 5.0)) for le, rate in per_second.items()]
        return [({"code": "200"}, _counter(lambda t: 10.0, T0 - 600, at, 5.0))]

    fake_prometheus.script = script
    analysis = _run(_provider(fake_prometheus), [T0 + 10 * i for i in range(9)])
    assert analysis.canary.requests == pytest.approx(800)
    assert analysis.canary.observed == pytest.approx(analysis.canary.requests)
    # What the latency guards' tests were fed, look by look: each observation once at most (feeding
    # the whole histogram again after the failed look gave 61,000 observations for 6,000 served).
    p95 = next(g for g in analysis.guards if g.guard.name == "p95-increase")
    assert p95.boundary == 0.1 and 0 < p95.test.canary_n <= analysis.canary.requests


def test_both_sides_are_counted_over_the_same_window(fake_prometheus):
    # 15 s scrapes: the canary at :00, the baseline at :09; an outage on both starts at T0 + 40.
    outage = T0 + 40

    def errors(t):
        return 5.0 if t >= outage else 0.0

    def script(query, at):
        offset = 0.0 if 'track="canary"' in query else 9.0
        ok = _counter(lambda t: 10.0, T0 - 600, at, 15.0, offset)
        bad = _counter(errors, T0 - 600, at, 15.0, offset)
        if "_bucket" in query:
            return [({"le": le}, ok) for le in BOUNDS]
        return [({"code": "200"}, ok), ({"code": "500"}, bad)]

    fake_prometheus.script = script
    provider = _provider(fake_prometheus)
    compared = 0
    for i in range(16):
        data = provider.look(T0 + 10 * i)
        assert data.canary is not None and data.baseline is not None
        cut = T0 + 10 * i - provider.gap  # both sides are read there
        assert provider.gap == 15.0
        if cut >= outage + 15:
            # Past the scrape in which the outage began, the counters grow linearly between samples,
            # so both sides' counts at the cut are exact: the same error rate however the scrapes fall
            # (ending each side at its own last scrape gave the canary 9 s more of the outage).
            assert data.canary.error_rate == pytest.approx(data.baseline.error_rate, rel=1e-9)
            compared += 1
    assert compared >= 5


def test_a_series_first_seen_later_is_counted_from_its_first_sample(fake_prometheus):
    # The 500 series holds 60 warm-up errors and shows up only after the first look.
    def script(query, at):
        ok = _counter(lambda t: 10.0, T0 - 600, at, 5.0)
        if "_bucket" in query:
            return [({"le": le}, ok) for le in BOUNDS]
        warmup = [(t, 60.0) for t, _ in ok if t >= T0 + 5]
        series = [({"code": "200"}, ok)]
        if 'track="canary"' in query and warmup:
            series.append(({"code": "500"}, warmup))
        return series

    fake_prometheus.script = script
    analysis = _run(_provider(fake_prometheus), [T0 + 10 * i for i in range(4)])
    assert analysis.canary.errors == 0 and analysis.conclusion is not None
    assert analysis.conclusion.decision is not Decision.ROLLBACK


def _stream(canary_per_look, looks: int, interval: float = 10.0):
    """Looks of cumulative counts: the baseline steady, the canary as given."""
    canary = baseline = 0.0
    for i in range(looks + 1):
        yield i * interval, LookData(ArmCounts(canary, 0.0), ArmCounts(baseline, 0.0))
        canary += canary_per_look(i)
        baseline += 900.0


def test_stopped_canary_traffic_is_no_data_never_promote():
    # 600 requests in the first minute, then nothing: no promotion at 5 minutes, and no data at the end.
    guard = rules.parse_guard("max-error-rate", "5", "error-rate")
    config = AnalysisConfig(min_duration=300, duration=600, guards=(guard,))
    analysis = CanaryAnalysis(config)
    for t, data in _stream(lambda i: 100.0 if i < 6 else 0.0, 60):
        assert analysis.look(t, data) is None
    conclusion = analysis.finish(600)
    assert conclusion.decision is Decision.HOLD and conclusion.no_data
    assert "traffic stopped" in conclusion.reason


def test_traffic_that_keeps_coming_is_promoted():
    # The same analysis, the canary serving throughout: it is promoted (the check above can fail).
    guard = rules.parse_guard("max-error-rate", "5", "error-rate")
    analysis = CanaryAnalysis(AnalysisConfig(min_duration=300, duration=600, guards=(guard,)))
    decided = None
    for t, data in _stream(lambda i: 100.0, 60):
        decided = decided or analysis.look(t, data)
    assert decided is not None and decided.decision is Decision.PROMOTE
