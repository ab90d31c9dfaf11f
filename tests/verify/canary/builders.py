"""Builders for looks in virtual time, shared by the canary tests."""

from __future__ import annotations

import math
from collections.abc import Sequence

from deploy_actions.verify.canary.providers import ArmCounts, LookData

BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, math.inf)
FAST = (0.0, 0.2, 0.5, 0.2, 0.07, 0.02, 0.01, 0.0)  # share of requests per bucket, p95 in (0.1, 0.25]
SLOW = (0.0, 0.0, 0.1, 0.3, 0.3, 0.2, 0.1, 0.0)


def arm(requests: float, errors: float = 0.0, shares: Sequence[float] = FAST) -> ArmCounts:
    """Cumulative counts for `requests` requests spread over the buckets by `shares`."""
    running, buckets = 0.0, []
    for bound, share in zip(BOUNDS, shares, strict=True):
        running += requests * share
        buckets.append((bound, round(running)))
    buckets[-1] = (math.inf, float(requests))
    return ArmCounts(float(requests), float(errors), tuple(buckets))


class Stream:
    """Cumulative canary and baseline counts, grown look by look."""

    def __init__(self) -> None:
        self.canary = [0.0, 0.0]
        self.baseline = [0.0, 0.0]

    def look(self, canary: tuple[float, float], baseline: tuple[float, float],
             canary_shares: Sequence[float] = FAST) -> LookData:
        self.canary = [self.canary[0] + canary[0], self.canary[1] + canary[1]]
        self.baseline = [self.baseline[0] + baseline[0], self.baseline[1] + baseline[1]]
        return LookData(arm(*self.canary, shares=canary_shares), arm(*self.baseline))
