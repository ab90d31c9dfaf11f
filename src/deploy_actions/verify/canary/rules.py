"""The runbook's guards (absolute and relative), how they are written, and how each is judged at
a look: evidence from an anytime-valid test, the tolerance, and failure counting.

Defaults (each an input; `off` disables a guard):

| guard | input | default |
| --- | --- | --- |
| canary error rate, absolute | `max-error-rate` | `5 for 2m` (percent; `5% for 2m` is the same) |
| error rate above the baseline's | `max-error-increase` | `0.5` (percentage points) |
| p95 latency above the baseline's | `max-p95-increase` | `50` (percent) |
| p99 latency as a multiple of the baseline's | `max-p99-ratio` | `5x for 5m` |

A guard is *breached* at a look when (1) its sequential test has rejected "the canary is no
worse" at its share of alpha (sticky: once the evidence has crossed, it stays crossed), (2) the
data cannot rule out a regression at least as large as the threshold (the upper confidence bound
of the regression reaches it), and (3) for guards with `for`, the numbers of the last minute are
beyond the threshold (as `rate(...[1m])` shows them). A guard rolls back once it has been
breached for its `for` duration (at once when there is none).

Failure counting (`failure-counting`) applies to that duration. **consecutive** (the default,
like Prometheus' `for:`): a look that is not breached resets the count. **cumulative** (like
Flagger's failed-checks counter): breached looks add up and are never reset. Looks without data
neither count nor reset.

Only (1) can make a healthy canary fail, and its alpha is split evenly between the enabled
guards, so the false-rollback probability of all guards together stays at or below alpha.
Custom metrics (PromQL with a threshold) are plain threshold checks: counted the same way, but
not covered by that bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from deploy_actions.errors import InputError
from deploy_actions.verify.canary import stats
from deploy_actions.verify.canary.providers import ArmCounts

GuardKind = Literal["rate", "increase", "latency"]
Counting = Literal["consecutive", "cumulative"]
VerdictLabel = Literal["pass", "watch", "fail", "tolerated", "nodata"]

DEFAULT_MAX_ERROR_RATE = "5 for 2m"  # percent ("5% for 2m" reads the same)
DEFAULT_MAX_ERROR_INCREASE = "0.5"
DEFAULT_MAX_P95_INCREASE = "50"  # percent
DEFAULT_MAX_P99_RATIO = "5x for 5m"

_GUARD_TEXT = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>%|pp|points?|x|×)?\s*(?:for\s+(?P<for>\S.*?))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Guard:
    """One rule. `threshold` is a fraction for rates and increases (0.05, 0.005) and a factor
    for latency (1.5 for +50 %, 5 for 5x)."""

    name: str
    kind: GuardKind
    threshold: float
    for_seconds: float = 0.0
    quantile: float = 0.0  # latency guards

    @property
    def label(self) -> str:
        if self.kind == "rate":
            text = f"error rate > {_pct(self.threshold)}"
        elif self.kind == "increase":
            text = f"error rate > baseline + {self.threshold * 100:g} points"
        elif self.name == "p95-increase":
            text = f"p95 > baseline + {(self.threshold - 1) * 100:g}%"
        else:
            text = f"p{round(self.quantile * 100)} > {self.threshold:g}x baseline"
        if self.for_seconds:
            text += f" for {_duration(self.for_seconds)}"
        return text


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def parse_guard(input_name: str, text: str, guard: str) -> Guard | None:
    """Read a guard input: a number in the guard's unit, optionally `for <duration>`; `off` disables.

    >>> parse_guard("max-error-rate", "5% for 2m", "error-rate")
    Guard(name='error-rate', kind='rate', threshold=0.05, for_seconds=120.0, quantile=0.0)
    >>> parse_guard("max-p95-increase", "off", "p95-increase") is None
    True
    """
    from deploy_actions.commands.spec import parse_duration

    raw = text.strip()
    if raw.lower() in ("off", "none", "false", "disabled"):
        return None
    expected = {
        "error-rate": "a percentage such as 5% (optionally 'for 2m'), or off",
        "error-increase": "percentage points such as 0.5 (optionally 'for 1m'), or off",
        "p95-increase": "a percentage such as 50% (optionally 'for 1m'), or off",
        "p99-ratio": "a factor such as 5x (optionally 'for 5m'), or off",
    }[guard]
    match = _GUARD_TEXT.match(raw)
    if not match:
        raise InputError(input_name, text, expected)
    number = float(match["number"])
    unit = (match["unit"] or "").lower()
    for_seconds = parse_duration(input_name, match["for"]) if match["for"] else 0.0
    if guard == "error-rate":
        if unit not in ("", "%") or not 0 < number < 100:
            raise InputError(input_name, text, expected + " (between 0 and 100 %)")
        return Guard("error-rate", "rate", number / 100, for_seconds)
    if guard == "error-increase":
        if unit not in ("", "pp", "point", "points") or not 0 < number < 100:
            raise InputError(input_name, text, expected + " (between 0 and 100)")
        return Guard("error-increase", "increase", number / 100, for_seconds)
    if guard == "p95-increase":
        if unit not in ("", "%") or number <= 0:
            raise InputError(input_name, text, expected + " (above 0 %)")
        return Guard("p95-increase", "latency", 1 + number / 100, for_seconds, quantile=0.95)
    if unit not in ("", "x", "×") or number <= 1:
        raise InputError(input_name, text, expected + " (above 1)")
    return Guard("p99-ratio", "latency", number, for_seconds, quantile=0.99)


def default_guards() -> tuple[Guard, ...]:
    parsed = (
        parse_guard("max-error-rate", DEFAULT_MAX_ERROR_RATE, "error-rate"),
        parse_guard("max-error-increase", DEFAULT_MAX_ERROR_INCREASE, "error-increase"),
        parse_guard("max-p95-increase", DEFAULT_MAX_P95_INCREASE, "p95-increase"),
        parse_guard("max-p99-ratio", DEFAULT_MAX_P99_RATIO, "p99-ratio"),
    )
    return tuple(g for g in parsed if g is not None)


@dataclass(frozen=True)
class GuardState:
    """Where one guard stands after the latest look."""

    guard: Guard
    test: stats.MixtureState
    verdict: VerdictLabel = "nodata"
    canary: float | None = None  # the compared statistic, cumulative: error rate or quantile (s)
    baseline: float | None = None
    breached_seconds: float = 0.0
    tolerated: bool = False  # the evidence says "worse", but surely by less than the threshold
    boundary: float | None = None  # latency: the bucket bound counted as "slow"
    rolled_back: bool = False

    @property
    def exceeds(self) -> bool:
        """The cumulative point estimate is beyond the threshold (blocks a promotion)."""
        g = self.guard
        if self.canary is None:
            return False
        if g.kind == "rate":
            return self.canary > g.threshold
        if self.baseline is None:
            return False
        if g.kind == "increase":
            return self.canary - self.baseline > g.threshold
        return self.baseline > 0 and self.canary > g.threshold * self.baseline


def start(guard: Guard) -> GuardState:
    if guard.kind == "rate":
        return GuardState(guard, stats.RateTest.start(guard.threshold))
    return GuardState(guard, stats.RatioTest.start())


def _window_beyond(guard: Guard, canary: ArmCounts, baseline: ArmCounts) -> bool | None:
    """Is this look's own window beyond the threshold? None when the window has no data."""
    if guard.kind == "rate":
        rate = canary.error_rate
        return None if rate is None else rate > guard.threshold
    if guard.kind == "increase":
        c, b = canary.error_rate, baseline.error_rate
        return None if c is None or b is None else c - b > guard.threshold
    qc = stats.histogram_quantile(canary.buckets, guard.quantile)
    qb = stats.histogram_quantile(baseline.buckets, guard.quantile)
    if qc is None or qb is None or qb <= 0:
        return None
    return qc > guard.threshold * qb


def _tolerated(guard: Guard, canary: ArmCounts, baseline: ArmCounts, alpha: float) -> bool:
    """True when the data rules out a regression as large as the threshold (confidence 1 - alpha)."""
    if guard.kind == "rate":
        return False  # the test itself is against the threshold
    if guard.kind == "increase":
        _, canary_high = stats.bernoulli_bounds(canary.errors, canary.requests, alpha)
        baseline_low, _ = stats.bernoulli_bounds(baseline.errors, baseline.requests, alpha)
        return canary_high - baseline_low < guard.threshold
    canary_high = stats.quantile_upper_bound(canary.buckets, guard.quantile, alpha)
    baseline_low = stats.quantile_lower_bound(baseline.buckets, guard.quantile, alpha)
    return baseline_low > 0 and canary_high < guard.threshold * baseline_low


def step(state: GuardState, *, canary: ArmCounts, baseline: ArmCounts, canary_delta: ArmCounts,
         baseline_delta: ArmCounts, previous_baseline: ArmCounts, seconds: float, alpha: float,
         tolerance_alpha: float, counting: Counting,
         recent: Callable[[], tuple[ArmCounts, ArmCounts]] | None = None) -> GuardState:
    """Judge one look. `canary`/`baseline` are cumulative, the deltas this look's increments,
    `recent()` the canary's and baseline's counts of the last minute (default: this look's; only
    called for a breached guard with `for`), `seconds` the time since the previous look, `alpha`
    this guard's share."""
    guard = state.guard
    test, boundary = state.test, state.boundary
    if guard.kind == "rate":
        test = stats.RateTest.update(test, canary_delta.requests, canary_delta.errors)
        now_c, now_b = canary.error_rate, baseline.error_rate
        has_data = canary.requests > 0
    elif guard.kind == "increase":
        test = stats.RatioTest.update(test, canary_delta.requests, canary_delta.errors,
                                      baseline_delta.requests, baseline_delta.errors)
        now_c, now_b = canary.error_rate, baseline.error_rate
        has_data = canary.requests > 0 and baseline.requests > 0
    else:
        # The "slow" bound is fixed from the baseline's data *before* this look, so the count of
        # canary requests above it is a fair draw (the test stays valid for any such choice).
        boundary = stats.tail_boundary(previous_baseline.buckets, guard.quantile) or boundary
        if boundary is not None and canary_delta.buckets and baseline_delta.buckets:
            test = stats.RatioTest.update(
                test, canary_delta.observed, canary_delta.observed - _at(canary_delta.buckets, boundary),
                baseline_delta.observed, baseline_delta.observed - _at(baseline_delta.buckets, boundary))
        now_c = stats.histogram_quantile(canary.buckets, guard.quantile)
        now_b = stats.histogram_quantile(baseline.buckets, guard.quantile)
        has_data = canary.observed > 0 and baseline.observed > 0

    crossed = test.rejects(alpha)
    tolerated = crossed and _tolerated(guard, canary, baseline, tolerance_alpha)
    breached_seconds = state.breached_seconds
    breach = crossed and not tolerated
    if breach and guard.for_seconds > 0:
        canary_recent, baseline_recent = (canary_delta, baseline_delta) if recent is None else recent()
        beyond = _window_beyond(guard, canary_recent, baseline_recent)
        if beyond is None:  # no data in this look: neither counts nor resets
            return replace(state, test=test, canary=now_c, baseline=now_b, boundary=boundary, tolerated=tolerated,
                           verdict="watch" if breached_seconds > 0 else state.verdict)
        breach = beyond
    if breach:
        breached_seconds += seconds
    elif counting == "consecutive" and has_data:
        breached_seconds = 0.0
    rolled_back = breach and breached_seconds >= guard.for_seconds
    verdict: VerdictLabel
    if not has_data:
        verdict = "nodata"
    elif rolled_back:
        verdict = "fail"
    elif breach or breached_seconds > 0:
        verdict = "watch"
    elif tolerated:
        verdict = "tolerated"
    else:
        verdict = "pass"
    return GuardState(guard, test, verdict, now_c, now_b, breached_seconds, tolerated, boundary, rolled_back)


def _at(buckets: tuple[tuple[float, float], ...], bound: float) -> float:
    """The cumulative count at `bound` (the largest bucket at or below it)."""
    count = 0.0
    for le, value in buckets:
        if le > bound and not math.isclose(le, bound):
            break
        count = value
    return count


# -- custom metrics ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomMetric:
    """A PromQL template (`{{ selector }}`, `{{ interval }}`) whose canary value must stay within
    `max`/`min`; breached for `for` seconds → rollback."""

    name: str
    query: str
    max: float | None = None
    min: float | None = None
    for_seconds: float = 0.0

    @property
    def label(self) -> str:
        parts = []
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        text = " and ".join(parts)
        return text + (f" for {_duration(self.for_seconds)}" if self.for_seconds else "")


@dataclass(frozen=True)
class CustomState:
    metric: CustomMetric
    verdict: VerdictLabel = "nodata"
    canary: float | None = None
    baseline: float | None = None
    breached_seconds: float = 0.0
    rolled_back: bool = False


def step_custom(state: CustomState, canary: float | None, baseline: float | None, seconds: float,
                counting: Counting) -> CustomState:
    metric = state.metric
    if canary is None or math.isnan(canary):
        return replace(state, verdict="nodata", canary=None, baseline=baseline)
    beyond = (metric.max is not None and canary > metric.max) or (metric.min is not None and canary < metric.min)
    breached = state.breached_seconds
    if beyond:
        breached += seconds
    elif counting == "consecutive":
        breached = 0.0
    rolled_back = beyond and breached >= metric.for_seconds
    verdict: VerdictLabel = "fail" if rolled_back else ("watch" if beyond or breached > 0 else "pass")
    return CustomState(metric, verdict, canary, baseline, breached, rolled_back)


def parse_custom_metrics(text: str) -> tuple[CustomMetric, ...]:
    """The `metrics` input: a YAML list of {name, query, max and/or min, for}.

    >>> parse_custom_metrics('- name: q\\n  query: sum(x{ {{ selector }} })\\n  max: 5')
    (CustomMetric(name='q', query='sum(x{ {{ selector }} })', max=5.0, min=None, for_seconds=0.0),)
    """
    from deploy_actions.commands.spec import parse_duration

    if not text.strip():
        return ()
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    expected = ("a YAML list of metrics, each with name, query (PromQL using {{ selector }}) "
                "and max or min, optionally for")
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise InputError("metrics", text, f"{expected} ({first})") from None
    if not isinstance(data, list) or not data:
        raise InputError("metrics", text, expected)
    metrics: list[CustomMetric] = []
    for index, item in enumerate(data, 1):
        where = f"metric #{index}"
        if not isinstance(item, dict):
            raise InputError("metrics", text, f"{expected}; {where} is not a mapping")
        unknown = set(item) - {"name", "query", "max", "min", "for"}
        if unknown:
            keys = ", ".join(sorted(map(str, unknown)))
            raise InputError("metrics", text, f"{expected}; {where} has unknown key(s) {keys}")
        name, query = item.get("name"), item.get("query")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise InputError("metrics", text, f"{expected}; {where} needs a name of letters, digits, '.', '_', '-'")
        if not isinstance(query, str) or not query.strip():
            raise InputError("metrics", text, f"{expected}; {name} needs a query")
        if "{{" in query.replace("{{ selector }}", "").replace("{{selector}}", "").replace(
                "{{ interval }}", "").replace("{{interval}}", ""):
            raise InputError("metrics", text, f"{expected}; {name} uses a placeholder other than "
                             "{{ selector }} and {{ interval }}")
        bounds: dict[str, float | None] = {}
        for key in ("max", "min"):
            value = item.get(key)
            if value is None:
                bounds[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
                raise InputError("metrics", text, f"{expected}; {name}.{key} must be a number")
            bounds[key] = float(value)
        if bounds["max"] is None and bounds["min"] is None:
            raise InputError("metrics", text, f"{expected}; {name} needs max or min")
        for_text = item.get("for")
        for_seconds = parse_duration("metrics", str(for_text)) if for_text is not None else 0.0
        metrics.append(CustomMetric(name, query.strip(), bounds["max"], bounds["min"], for_seconds))
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise InputError("metrics", text, f"{expected}; names must be unique")
    return tuple(metrics)


def render_query(template: str, selector: str, interval_seconds: float) -> str:
    """A custom metric's PromQL for one side.

    >>> render_query('sum(rate(x{ {{ selector }} }[{{ interval }}]))', 'track="canary"', 30)
    'sum(rate(x{ track="canary" }[30s]))'
    """
    interval = f"{max(1, round(interval_seconds))}s"
    return re.sub(r"\{\{\s*interval\s*\}\}", interval, re.sub(r"\{\{\s*selector\s*\}\}", lambda _: selector, template))
