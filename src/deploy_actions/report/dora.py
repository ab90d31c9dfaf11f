"""The four DORA keys, per app and for the fleet, over a period, with their performance bands.

Definitions (written next to the numbers in the report too):

- deployment frequency: production deployments concluded in the period, per day;
- lead time for changes: source commit time → concluded in production, for the deployments concluded
  in the period (median and p90, nearest rank); the commit time comes from the GitHub API when a
  token is given, else from the first record of that build (its first deployment in any environment);
- change failure rate: production deployments that finished in the period (concluded or rolled back)
  and were rolled back or named by an incident record, over all of them;
- time to restore: incident detected → rolled back (or resolved), for the incidents restored in the
  period; a rollback with no incident record counts from when the bad version went live.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from deploy_actions.report.model import Deployment, History
from deploy_actions.report.records import IncidentFile

# The State of DevOps report's clusters: Accelerate State of DevOps Report 2019 (DORA, Google Cloud),
# "Software delivery performance" table. Each row lists the bound that admits a value into the band,
# best band first: at least the bound for frequency, under it for times, at most it for the failure
# rate ("0–15 %"). Where the report leaves a gap between two bands, a value in it takes the worse one.
# - deployment frequency (deploys per day, more is better): elite on demand (several a day; from once
#   a day), high between once a day and once a week, medium between once a week and once a month,
#   low less often;
# - lead time (hours, less is better): elite under a day, high a day to a week, medium a week to a
#   month, low a month to six months;
# - time to restore (hours): elite under an hour, high under a day, medium (the report: under a day,
#   the same as high; low: a week to a month) here up to a week, low beyond;
# - change failure rate (share): elite, high and medium alike 0–15 %; low 46–60 %, and nothing is named
#   between, so above 15 % is low.
BAND_REPORT = "Accelerate State of DevOps Report 2019"
BANDS: dict[str, tuple[tuple[str, float], ...]] = {
    "deployment_frequency": (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30), ("low", 0.0)),
    "lead_time": (("elite", 24.0), ("high", 24.0 * 7), ("medium", 24.0 * 30), ("low", math.inf)),
    "time_to_restore": (("elite", 1.0), ("high", 24.0), ("medium", 24.0 * 7), ("low", math.inf)),
    "change_failure_rate": (("elite", 0.15), ("low", 1.0)),
}
HIGHER_IS_BETTER = {"deployment_frequency"}


def band(key: str, value: float | None) -> str:
    """The band of `value` (per day, hours or a share, as BANDS says), '' when there is no value."""
    if value is None:
        return ""
    admits: Callable[[float], bool]
    for name, bound in BANDS[key]:
        if key in HIGHER_IS_BETTER:
            admits = bound.__le__
        elif key == "change_failure_rate":
            admits = bound.__ge__
        else:
            admits = bound.__gt__
        if admits(value):
            return name
    return BANDS[key][-1][0]


def nearest_rank(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Keys:
    """The four keys of one app (or the fleet) over one period."""

    deployments: int  # production deployments concluded
    days: float
    lead_times: tuple[float, ...]  # hours
    finished: int  # production deployments concluded or rolled back
    failed: int
    restore_times: tuple[float, ...]  # hours

    @property
    def deployment_frequency(self) -> float:
        return self.deployments / self.days if self.days else 0.0

    @property
    def lead_time_median(self) -> float | None:
        return statistics.median(self.lead_times) if self.lead_times else None

    @property
    def lead_time_p90(self) -> float | None:
        return nearest_rank(self.lead_times, 0.9) if self.lead_times else None

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None

    @property
    def time_to_restore(self) -> float | None:
        return statistics.median(self.restore_times) if self.restore_times else None

    def values(self) -> dict[str, float | None]:
        """The headline value of each key, in BANDS' units."""
        return {"deployment_frequency": self.deployment_frequency, "lead_time": self.lead_time_median,
                "change_failure_rate": self.change_failure_rate, "time_to_restore": self.time_to_restore}

    def bands(self) -> dict[str, str]:
        return {key: band(key, value) for key, value in self.values().items()}


def trend(key: str, now: float | None, before: float | None) -> str:
    """better, worse or same against the previous period ('' when either has no value)."""
    if now is None or before is None:
        return ""
    if math.isclose(now, before, rel_tol=1e-9, abs_tol=1e-12):
        return "same"
    return "better" if (now > before) == (key in HIGHER_IS_BETTER) else "worse"


CommitTime = Callable[[str, str], "dt.datetime | None"]  # (source repository, commit) → commit time


@dataclass(frozen=True)
class Period:
    since: dt.datetime
    until: dt.datetime

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400

    def previous(self) -> Period:
        return Period(self.since - (self.until - self.since), self.since)

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, dt.datetime) and self.since <= moment < self.until


def compute(history: History, incidents: Sequence[IncidentFile], period: Period, production: Iterable[str],
            commit_time: CommitTime | None = None) -> dict[str, Keys]:
    """Keys per app, and for the fleet under the key '' (the fleet's lists are the apps' together).
    (`history` may be one `since` the period's start: the answer is the same.)"""
    prod = set(production)
    first_seen = history.first_seen
    incident_times: dict[tuple[str, str, str], list[dt.datetime]] = {}
    for i in incidents:
        moment = i.record.detected_at or i.record.restored_at or i.record.deployed_at
        if moment is not None and moment < period.until:
            incident_times.setdefault((i.record.app, i.record.environment, i.record.bad_version), []).append(moment)
    apps = sorted({app for app, environment in history.deployed if environment in prod}
                  | {i.record.app for i in incidents if i.record.environment in prod})
    parts: dict[str, dict[str, list[float]]] = {app: {"lead": [], "restore": []} for app in apps}
    counts: dict[str, list[int]] = {app: [0, 0, 0] for app in apps}  # concluded, finished, failed
    for d in history.deployments:
        if d.environment not in prod:
            continue
        if d.concluded_at in period:
            assert d.concluded_at is not None
            counts[d.app][0] += 1
            start = _origin(d, first_seen, commit_time)
            if start is not None:
                parts[d.app]["lead"].append(_hours(d.concluded_at - start))
        if d.finished_at in period:
            counts[d.app][1] += 1
            if d.rollback is not None or any(t >= d.started_at for t in
                                             incident_times.get((d.app, d.environment, d.version), ())):
                counts[d.app][2] += 1
    recorded = {i.path for i in incidents}
    for i in incidents:
        r = i.record
        start = r.detected_at or r.deployed_at
        if r.environment in prod and r.restored_at in period and start is not None:
            assert r.restored_at is not None
            parts[r.app]["restore"].append(_hours(r.restored_at - start))
    for rb in history.rollbacks:
        if rb.environment in prod and rb.at in period and rb.failed is not None and rb.incident not in recorded:
            went_live = rb.failed.live_at or rb.failed.started_at
            parts[rb.app]["restore"].append(_hours(rb.at - went_live))
    keys = {app: Keys(c[0], period.days, tuple(parts[app]["lead"]), c[1], c[2], tuple(parts[app]["restore"]))
            for app, c in counts.items()}
    keys[""] = Keys(sum(k.deployments for k in keys.values()), period.days,
                    tuple(x for k in keys.values() for x in k.lead_times), sum(k.finished for k in keys.values()),
                    sum(k.failed for k in keys.values()), tuple(x for k in keys.values() for x in k.restore_times))
    return keys


def _hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


def _origin(d: Deployment, first_seen: Mapping[str, Mapping[str, dt.datetime]],
            commit_time: CommitTime | None) -> dt.datetime | None:
    if commit_time is not None and d.source_commit:
        found = commit_time(d.source_repository, d.source_commit)
        if found is not None:
            return found
    return first_seen.get(d.app, {}).get(d.source_commit or "@" + d.version)
