"""Service levels from Prometheus over the report's period, per app and environment: availability
against its target, p50/p95/p99 latency against theirs, the top errors, and the error rate over time
(for the chart, and for which deploy preceded each change of level).

It asks through the canary's Prometheus client (`verify.canary.providers.prometheus`). Counters are
read with `increase()` over the period; "no data" stays None, never 100 % or zero.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploy_actions.errors import InputError, OperationError

if TYPE_CHECKING:  # the client (and the HTTP stack below it) is imported only when Prometheus is asked
    from deploy_actions.verify.canary.providers.prometheus import PrometheusClient, QueryResult

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
POINTS = 200  # of the error-rate series over the period: enough for a chart, cheap for Prometheus
LEVEL_CHANGE = 2.0  # the error rate after a deploy at least this many times the rate before, or less than 1/this


@dataclass(frozen=True)
class Queries:
    """What to ask: the series selector ({app} and {environment} are replaced) and the metric names."""

    selector: str = 'app="{app}",environment="{environment}"'
    requests_metric: str = "http_requests_total"  # a counter with a `code` label
    duration_metric: str = "http_request_duration_seconds"  # a histogram
    error_filter: str = 'code=~"5.."'

    def select(self, app: str, environment: str, *extra: str) -> str:
        inner = self.selector.replace("{app}", app).replace("{environment}", environment)
        return "{" + ",".join(p for p in (inner, *extra) if p) + "}"


@dataclass(frozen=True)
class Targets:
    availability: float | None = None  # percent, e.g. 99.9
    latency: tuple[tuple[str, float], ...] = ()  # ("p95", seconds)


@dataclass(frozen=True)
class ServiceLevel:
    app: str
    environment: str
    availability: float | None  # percent of requests not answered with an error
    latency: tuple[tuple[str, float | None], ...]  # seconds per quantile
    top_errors: tuple[tuple[str, float], ...]  # (code, count)
    error_rate: tuple[tuple[float, float], ...]  # (unix time, errors / requests)
    problem: str = ""  # why a value is missing (Prometheus down, say)


@dataclass(frozen=True)
class LevelChange:
    """A deploy (or rollback) after which the error rate changed level."""

    at: dt.datetime
    what: str  # "deploy v1.2.3" or "rollback to v1.2.2"
    before: float
    after: float


def parse_targets(availability: str, latency: Sequence[str]) -> Targets:
    from deploy_actions.untrusted import duration as parse_duration

    avail: float | None = None
    if availability.strip():
        try:
            avail = float(availability.strip().rstrip("%"))
        except ValueError:
            avail = -1.0
        if not 0 < avail <= 100:
            raise InputError("availability-target", availability, "a percentage such as 99.9")
    pairs = []
    for line in latency:
        name, _, value = line.replace("=", " ").partition(" ")
        if name not in dict(QUANTILES) or not value.strip():
            raise InputError("latency-targets", line, "lines such as 'p95 300ms' (p50, p95 or p99, then a duration)")
        pairs.append((name, parse_duration("latency-targets", value)))
    return Targets(avail, tuple(pairs))


def measure(client: PrometheusClient, queries: Queries, targets: Sequence[tuple[str, str]], since: dt.datetime,
            until: dt.datetime) -> list[ServiceLevel]:
    """One ServiceLevel per (app, environment) of `targets`, over [since, until)."""
    from deploy_actions.verify.canary.providers.prometheus import PrometheusRejected, PrometheusUnavailable

    window = f"{max(1, int((until - since).total_seconds()))}s"
    at = until.timestamp()
    step = max(15.0, (until - since).total_seconds() / POINTS)
    levels = []
    for app, environment in targets:
        every = queries.select(app, environment)
        errors = queries.select(app, environment, queries.error_filter)
        try:
            total = _scalar(client.instant(f"sum(increase({queries.requests_metric}{every}[{window}]))", at))
            failed = _scalar(client.instant(f"sum(increase({queries.requests_metric}{errors}[{window}]))", at))
            availability = None if total is None or total <= 0 else 100.0 * (1 - (failed or 0.0) / total)
            latency = tuple(
                (name, _scalar(client.instant(f"histogram_quantile({q}, sum by (le) (increase("
                                              f"{queries.duration_metric}_bucket{every}[{window}])))", at)))
                for name, q in QUANTILES)
            top = client.instant(f"topk(5, sum by (code) (increase({queries.requests_metric}{errors}[{window}])))", at)
            top_errors = tuple(sorted(((s.labels.get("code", "?"), s.samples[-1][1]) for s in top.series
                                       if s.samples and math.isfinite(s.samples[-1][1]) and s.samples[-1][1] > 0),
                                      key=lambda pair: -pair[1]))
            rate_window = f"{int(step)}s"
            ratio = client.range(f"sum(rate({queries.requests_metric}{errors}[{rate_window}])) / "
                                 f"sum(rate({queries.requests_metric}{every}[{rate_window}]))",
                                 since.timestamp(), at, step)
            series = tuple((t, v) for s in ratio.series for t, v in s.samples if math.isfinite(v))
            levels.append(ServiceLevel(app, environment, availability, latency, top_errors, series))
        except PrometheusRejected as err:
            raise InputError("prometheus-selector", queries.selector, f"a selector Prometheus accepts ({err})") \
                from None
        except (PrometheusUnavailable, OperationError) as err:
            levels.append(ServiceLevel(app, environment, None, tuple((n, None) for n, _ in QUANTILES), (), (),
                                       problem=str(err)))
    return levels


def _scalar(result: QueryResult) -> float | None:
    values = [s.samples[-1][1] for s in result.series if s.samples]
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) if finite else None


def level_changes(series: Sequence[tuple[float, float]], changes: Sequence[tuple[dt.datetime, str]],
                  window: float) -> list[LevelChange]:
    """The deploys and rollbacks after which the mean error rate over `window` seconds moved by at
    least LEVEL_CHANGE times (or from zero to some): the deploy that preceded each change of level."""
    found = []
    for at, what in changes:
        t = at.timestamp()
        before = [v for s, v in series if t - window <= s < t]
        after = [v for s, v in series if t <= s < t + window]
        if not before or not after:
            continue
        mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
        low, high = sorted((mean_before, mean_after))
        if high > 0 and (low == 0 or high / low >= LEVEL_CHANGE):
            found.append(LevelChange(at, what, mean_before, mean_after))
    return found
