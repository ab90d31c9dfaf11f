"""Where canary data comes from, and the shape it takes: cumulative counts per side, per look.

A provider answers one question at each look: how many requests, errors and latency-bucket
observations has each side (canary, baseline) had since the analysis started? `None` for a side
means its data is missing at that look (a failed, empty or NaN query), which is never the same
as zero traffic. `prometheus` reads counters and histograms over the HTTP API; `probe` sends its
own requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

Buckets = tuple[tuple[float, float], ...]  # (upper bound "le", cumulative count), ascending, last +Inf


@dataclass(frozen=True)
class ArmCounts:
    """Counts for one side since the analysis started: never decreasing from look to look."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: Buckets = ()  # empty: no latency histogram

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    @property
    def observed(self) -> float:
        """Latency observations (the histogram's +Inf bucket)."""
        return self.buckets[-1][1] if self.buckets else 0.0

    def plus(self, other: ArmCounts) -> ArmCounts:
        """Counts of two windows together."""
        if not other.buckets:
            buckets = self.buckets
        elif not self.buckets:
            buckets = other.buckets
        else:
            merged = dict(self.buckets)
            for le, count in other.buckets:
                merged[le] = merged.get(le, 0.0) + count
            buckets = tuple(sorted(merged.items()))
        return ArmCounts(self.requests + other.requests, self.errors + other.errors, buckets)

    def minus(self, earlier: ArmCounts) -> ArmCounts:
        """The increments since `earlier` (never negative)."""
        if len(earlier.buckets) == len(self.buckets) and all(
                a[0] == b[0] for a, b in zip(earlier.buckets, self.buckets, strict=True)):
            buckets = tuple((le, count - old) for (le, count), (_, old) in zip(self.buckets, earlier.buckets,
                                                                               strict=True))
        else:  # the layout changed (a new bucket appeared): match by bound
            before = dict(earlier.buckets)
            buckets = tuple((le, count - before.get(le, 0.0)) for le, count in self.buckets)
        return ArmCounts(max(0.0, self.requests - earlier.requests), max(0.0, self.errors - earlier.errors),
                         _monotone(buckets))


def _monotone(buckets: Buckets) -> Buckets:
    # Cumulative buckets scraped a moment apart can disagree by a count or two; keep them ordered.
    running = 0.0
    for _, count in buckets:
        if count < running:
            break
        running = count
    else:
        return buckets
    out: list[tuple[float, float]] = []
    running = 0.0
    for le, count in buckets:
        running = max(running, count)
        out.append((le, running))
    return tuple(out)


def merge_buckets(pairs: Mapping[float, float]) -> Buckets:
    """Cumulative (le, count) pairs sorted by le, made monotone, with a +Inf bucket at the end."""
    if not pairs:
        return ()
    ordered = sorted(pairs.items())
    if not math.isinf(ordered[-1][0]):
        ordered.append((math.inf, ordered[-1][1]))
    return _monotone(tuple(ordered))


@dataclass(frozen=True)
class LookData:
    """What a provider saw at one look."""

    canary: ArmCounts | None
    baseline: ArmCounts | None
    custom: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)  # name → (canary, baseline)
    problems: tuple[str, ...] = ()  # why data is missing, for the log and the report


class Provider(Protocol):
    """A source of looks. `history` may return past looks at once (Prometheus range queries)."""

    def history(self, start: float, end: float, step: float) -> list[tuple[float, LookData]]: ...

    def look(self, now: float) -> LookData: ...

    def close(self) -> None: ...
