"""The records folded into what happened: deployments (opened, live, shelved, resumed, concluded,
rolled back, superseded), rollbacks, emergency overrides, promotions and what runs where.

Per app and environment, events are taken in time order:

- `deployment_opened_v1` starts a deployment; `bump` joins the latest deployment when it names the
  same version and that one is not over (a canary bump, then the stable one), else starts one (a
  repository that deploys with gitops-bump alone). An opening right after such a bump, of the same
  version, opens that deployment rather than a second one. Starting one supersedes the one before, unless that
  one has concluded or been rolled back.
- `shelved`, `resumed` and `concluded` apply to the latest deployment of their version; a recreate
  deploy's concluded line carries its downtime window.
- `rollback` (back to `version`, from `previous_version`) fails the deployment that put
  `previous_version` there. When what it rolls back was itself put there by a rollback, it is a
  rollback of a rollback: it reverts that rollback and fails no deployment.
- A deployment is a promotion when its version went live in another environment of the app before,
  unless that one is a production environment and this one is not: a version taken from production
  back to staging (to try a fix there, say) was not promoted.

Only events before `until` count: a report of a past period reads the records as they were then.

The values are msgspec Structs rather than dataclasses: a year of a fleet's records makes hundreds
of thousands of them, and a Struct is made in C (a fifth of the fold's work, measured).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from deploy_actions.records.history import Downtime
from deploy_actions.report.records import Event


class Shelve(msgspec.Struct):
    at: dt.datetime
    cause: str
    reason: str
    resumed_at: dt.datetime | None = None


class Override(msgspec.Struct):
    """An emergency gate override: a deployment opened or resumed through a closed gate."""

    at: dt.datetime
    app: str
    environment: str
    version: str
    event: str  # opened or resumed
    reason: str


class Rollback(msgspec.Struct):
    at: dt.datetime
    app: str
    environment: str
    from_version: str
    to_version: str
    reason: str
    incident: str  # the incident record's path ('' when none was written)
    reverts: Rollback | None = None  # a rollback of this rollback
    failed: Deployment | None = None  # the deployment it rolled back (None: it reverted a rollback)


class Deployment(msgspec.Struct):
    app: str
    environment: str
    version: str
    started_at: dt.datetime
    opened: bool  # by a deployment_opened_v1 record (False: by a bump record alone)
    strategy: str
    source_repository: str
    source_commit: str
    previous_version: str
    live_at: dt.datetime | None = None  # the first GitOps commit pinning it (bump record)
    concluded_at: dt.datetime | None = None
    superseded_at: dt.datetime | None = None
    rollback: Rollback | None = None
    shelves: tuple[Shelve, ...] = ()  # (tuples: most deployments have none, and an empty tuple costs nothing)
    overrides: tuple[Override, ...] = ()
    promoted_from: str = ""
    last_at: dt.datetime | None = None  # its last record: no moment of it is later
    downtime: Downtime | None = None  # a recreate deploy's, from its concluded record

    @property
    def outcome(self) -> str:
        if self.rollback is not None:
            return "rolled-back"
        if self.concluded_at is not None:
            return "concluded"
        if self.superseded_at is not None:
            return "superseded"
        if self.shelves and self.shelves[-1].resumed_at is None:
            return "shelved"
        return "active"

    @property
    def finished_at(self) -> dt.datetime | None:
        """When it reached its end in the environment: concluded or rolled back, whichever came first."""
        concluded, rolled_back = self.concluded_at, self.rollback.at if self.rollback is not None else None
        if concluded is None or (rolled_back is not None and rolled_back < concluded):
            return rolled_back
        return concluded


class Running(msgspec.Struct):
    """What runs in one environment now: the version and how it got there."""

    app: str
    environment: str
    version: str
    since: dt.datetime
    strategy: str
    source_repository: str
    source_commit: str
    gitops_base_commit: str
    via: str  # "deployment" or "rollback"
    deployment: Deployment | None = None
    rollback: Rollback | None = None
    record: tuple[str, int] = ("", 0)  # the record line (file, line) that put this version there
    gitops_commit: str = ""  # the GitOps commit carrying that line, when the history is at hand


@dataclass
class History:
    deployments: list[Deployment]
    rollbacks: list[Rollback]
    running: list[Running]
    orphans: list[Event]  # lifecycle events naming no deployment the records opened
    deployed: set[tuple[str, str]] = field(default_factory=set)  # (app, environment) with a deployment
    # When each build of each app (its source commit, or "@" and its version when no commit is named)
    # first appears in the records: the start of its first deployment in any environment.
    first_seen: dict[str, dict[str, dt.datetime]] = field(default_factory=dict)

    def since(self, moment: dt.datetime) -> History:
        """This history less what was over before `moment`: the deployments with no record since, and
        the rollbacks before it. What runs where, the orphans, the deployed targets and the builds' first
        records stay whole. Every question about a period from `moment` on has the same answer in both."""
        return History([d for d in self.deployments if d.last_at is not None and d.last_at >= moment],
                       [r for r in self.rollbacks if r.at >= moment], self.running, self.orphans, self.deployed,
                       self.first_seen)


def fold(read: Callable[[], Iterable[list[Event]]], until: dt.datetime,
         production: Iterable[str] = ("production",)) -> History:
    """The history of the events `read()` gives (in file order, a block at a time), streamed: each
    event goes to the fold of its app and environment at once, so only the folds are kept, not the
    events. An app whose events in one environment are not in time order (records merged by hand, a
    skewed clock) is folded again from a second reading, its events then sorted by time (file order
    breaks ties, as in one sort of all the events)."""
    targets: dict[tuple[str, str], _Target] = {}
    for block in read():
        for e in block:
            if e.at < until:
                r = e.record
                target = targets.get((r.app, r.environment))
                if target is None:
                    target = targets[(r.app, r.environment)] = _Target(r.app, r.environment)
                target.feed(e)
    late = {key for key, target in targets.items() if target.late}
    if late:
        again: dict[tuple[str, str], list[Event]] = {key: [] for key in late}
        for block in read():
            for e in block:
                if e.at < until and (e.record.app, e.record.environment) in late:
                    again[(e.record.app, e.record.environment)].append(e)
        for key, events in again.items():
            events.sort(key=lambda e: e.at)  # stable
            target = targets[key] = _Target(*key)
            for e in events:
                target.feed(e)
    history = History([], [], [], [])
    for key in sorted(targets):
        target = targets[key]
        history.deployments += target.deployments
        history.rollbacks += target.rollbacks
        history.orphans += target.orphans
        if target.running is not None:
            history.running.append(target.running)
        if target.deployments:
            history.deployed.add(key)
        seen = history.first_seen.setdefault(key[0], target.first)  # (the app's first target: taken whole)
        if seen is not target.first:
            for build, at in target.first.items():
                before = seen.get(build)
                if before is None or at < before:
                    seen[build] = at
    _mark_promotions(targets.values(), frozenset(production))
    return history


_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


class _Target:
    """The fold of one app in one environment, fed its events in time order (see the module's text)."""

    __slots__ = ("app", "current", "deployments", "environment", "first", "last", "late", "latest", "orphans",
                 "rollbacks", "running")

    def __init__(self, app: str, environment: str) -> None:
        self.app, self.environment = app, environment
        self.deployments: list[Deployment] = []
        self.rollbacks: list[Rollback] = []
        self.orphans: list[Event] = []
        self.first: dict[str, dt.datetime] = {}  # build (source commit, or "@" version) → its first deployment
        self.current: dict[str, Deployment] = {}  # the latest deployment of each version
        self.latest: Deployment | None = None
        self.running: Running | None = None
        self.last = _NEVER  # the time of the last event fed
        self.late = False  # an event came before the one fed last: this fold is void

    def feed(self, e: Event) -> None:
        at = e.at
        if at < self.last or self.late:
            self.late = True
            return
        self.last = at
        r = e.record
        name = r.event
        if name == "traffic":  # a move of traffic within a deployment: its outcome is in the other records
            return
        latest = self.latest
        if name == "bump":
            if latest is None or latest.version != r.version or latest.rollback is not None \
                    or latest.superseded_at is not None:  # it joins the latest deployment, else starts one
                latest = self._start(e, opened=False)
            latest.last_at = at
            if latest.live_at is None:
                latest.live_at = at
            running = self.running
            if running is None or running.version != r.version or running.deployment is not latest:
                since = running.since if running is not None and running.version == r.version else at
                self.running = Running(self.app, self.environment, r.version, since, r.strategy or latest.strategy,
                                       r.source_repository or latest.source_repository,
                                       r.source_commit or latest.source_commit, r.gitops_base_commit, "deployment",
                                       latest, record=(e.file, e.line))
        elif name == "deployment_opened_v1":
            if latest is not None and not latest.opened and latest.version == r.version and latest.rollback is None \
                    and latest.superseded_at is None and latest.concluded_at is None:
                latest.opened = True  # gitops-bump went first, then the deployment was opened: one deployment
                latest.strategy = r.strategy or latest.strategy
                latest.last_at = at
            else:
                latest = self._start(e, opened=True)
            if r.override:
                latest.overrides += (Override(at, r.app, r.environment, r.version, "opened", r.override_reason),)
        elif name == "rollback":
            self._rollback(e)
        else:  # shelved, resumed, concluded
            target = self.current.get(r.version)
            if target is None:
                self.orphans.append(e)
            else:
                _lifecycle(e, target)

    def _start(self, e: Event, opened: bool) -> Deployment:
        """A new deployment, which supersedes the latest one unless that one is over."""
        r, latest = e.record, self.latest
        strategy, repository, previous = r.strategy, r.source_repository, r.previous_version
        if latest is not None:
            if latest.concluded_at is None and latest.rollback is None and latest.superseded_at is None:
                latest.superseded_at = latest.last_at = e.at
            # A year of deployments is kept: the texts they share with the one before are kept once.
            strategy = latest.strategy if strategy == latest.strategy else strategy
            repository = latest.source_repository if repository == latest.source_repository else repository
            previous = latest.version if previous == latest.version else previous
        started = self.latest = Deployment(self.app, self.environment, r.version, e.at, opened, strategy, repository,
                                           r.source_commit, previous, last_at=e.at)
        self.current[r.version] = started
        self.deployments.append(started)
        self.first.setdefault(r.source_commit or "@" + r.version, e.at)
        return started

    def _rollback(self, e: Event) -> None:
        r, running = e.record, self.running
        bad = r.previous_version or (running.version if running is not None else "")
        rollback = Rollback(e.at, self.app, self.environment, bad, r.version, r.reason, r.incident)
        if running is not None and running.version == bad and running.via == "rollback":
            rollback.reverts = running.rollback
        else:
            failed = self.current.get(bad)
            if failed is not None and failed.rollback is None and failed.started_at <= e.at:
                failed.rollback = rollback
                failed.last_at = e.at
                rollback.failed = failed
        self.rollbacks.append(rollback)
        self.running = Running(self.app, self.environment, r.version, e.at, r.strategy, r.source_repository,
                               r.source_commit, r.gitops_base_commit, "rollback", None, rollback,
                               record=(e.file, e.line))


def _lifecycle(e: Event, target: Deployment) -> None:
    r = e.record
    target.last_at = e.at
    if r.event == "deployment_concluded_v1":
        if target.concluded_at is None:
            target.concluded_at = e.at
            if r.downtime is not None:
                target.downtime = r.downtime.downtime()
    elif r.event == "deployment_shelved_v1":
        target.shelves += (Shelve(e.at, r.cause, r.reason),)
    elif r.event == "deployment_resumed_v1":
        if target.shelves and target.shelves[-1].resumed_at is None:
            target.shelves[-1].resumed_at = e.at
        if r.override:
            target.overrides += (Override(e.at, r.app, r.environment, r.version, "resumed", r.override_reason),)


def _mark_promotions(targets: Iterable[_Target], production: frozenset[str]) -> None:
    """A deployment whose version went live in another environment of the app before is a promotion
    from the environment where it went live last before it, never from production to an environment
    that is not. Only the versions deployed in two environments of an app can be (found with set
    operations, in C): their deployments are looked at."""
    by_app: dict[str, list[_Target]] = {}
    for target in targets:
        by_app.setdefault(target.app, []).append(target)
    for group in by_app.values():
        seen: set[str] = set()
        shared: set[str] = set()
        for target in group:
            versions = target.current.keys()
            shared |= versions & seen
            seen |= versions
        if not shared:
            continue
        candidates = [d for target in group for d in target.deployments if d.version in shared]
        live: dict[str, list[tuple[dt.datetime, str]]] = {}
        for d in candidates:
            if d.live_at is not None:
                live.setdefault(d.version, []).append((d.live_at, d.environment))
        for d in candidates:
            went = live.get(d.version)
            if went is None or len(went) < 2:
                continue
            to_production = d.environment in production
            earlier = [(at, env) for at, env in went if env != d.environment and at <= d.started_at
                       and (to_production or env not in production)]
            if earlier:
                d.promoted_from = max(earlier)[1]
