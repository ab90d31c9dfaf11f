"""The records folded into what happened: deployments (opened, live, shelved, resumed, concluded,
rolled back, superseded), rollbacks, emergency overrides, promotions and what runs where.

Per app and environment, events are taken in time order:

- `deployment_opened_v1` starts a deployment; `bump` joins the latest deployment when it names the
  same version and that one is not over (a canary bump, then the stable one), else starts one (a
  repository that deploys with gitops-bump alone). An opening right after such a bump, of the same
  version, opens that deployment rather than a second one. Starting one supersedes the one before, unless that
  one has concluded or been rolled back.
- `shelved`, `resumed` and `concluded` apply to the latest deployment of their version.
- `rollback` (back to `version`, from `previous_version`) fails the deployment that put
  `previous_version` there. When what it rolls back was itself put there by a rollback, it is a
  rollback of a rollback: it reverts that rollback and fails no deployment.
- A deployment is a promotion when its version went live in another environment of the app before.

Only events before `until` count: a report of a past period reads the records as they were then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from deploy_actions.report.records import Event


@dataclass(slots=True)
class Shelve:
    at: dt.datetime
    cause: str
    reason: str
    resumed_at: dt.datetime | None = None


@dataclass(slots=True)
class Override:
    """An emergency gate override: a deployment opened or resumed through a closed gate."""

    at: dt.datetime
    app: str
    environment: str
    version: str
    event: str  # opened or resumed
    reason: str


@dataclass(slots=True)
class Rollback:
    at: dt.datetime
    app: str
    environment: str
    from_version: str
    to_version: str
    reason: str
    incident: str  # the incident record's path ('' when none was written)
    reverts: Rollback | None = None  # a rollback of this rollback
    failed: Deployment | None = None  # the deployment it rolled back (None: it reverted a rollback)


@dataclass(slots=True)
class Deployment:
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
    shelves: list[Shelve] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    promoted_from: str = ""

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


@dataclass(slots=True)
class Running:
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


def fold(events: Iterable[Event], until: dt.datetime) -> History:
    by_target: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        if event.at < until:
            by_target[(event.app, event.environment)].append(event)
    history = History([], [], [], [])
    for key in sorted(by_target):
        _fold_one(by_target[key], history)
    _mark_promotions(history.deployments)
    return history


def _fold_one(events: list[Event], history: History) -> None:
    current: dict[str, Deployment] = {}  # the latest deployment of each version
    latest: Deployment | None = None
    running: Running | None = None
    for e in events:
        if e.event == "traffic":  # a move of traffic within a deployment; its outcome is in the others
            continue
        if e.event == "deployment_opened_v1" and latest is not None and not latest.opened and _joins(latest, e) \
                and latest.concluded_at is None:
            latest.opened = True  # gitops-bump went first, then the deployment was opened: one deployment
            latest.strategy = e.strategy or latest.strategy
        elif e.event == "deployment_opened_v1" or (e.event == "bump" and not _joins(latest, e)):
            if latest is not None and latest.finished_at is None and latest.superseded_at is None:
                latest.superseded_at = e.at
            latest = Deployment(e.app, e.environment, e.version, e.at, e.event != "bump", e.strategy,
                                e.source_repository, e.source_commit, e.previous_version)
            current[e.version] = latest
            history.deployments.append(latest)
        if e.event == "bump":
            assert latest is not None
            latest.live_at = latest.live_at or e.at
            since = running.since if running is not None and running.version == e.version else e.at
            same = running is not None and running.version == e.version
            running = running if same and running is not None and running.deployment is latest else Running(
                e.app, e.environment, e.version, since, e.strategy or latest.strategy,
                e.source_repository or latest.source_repository, e.source_commit or latest.source_commit,
                e.gitops_base_commit, "deployment", latest, record=(e.file, e.line))
        elif e.event == "rollback":
            running = _rollback(e, running, current, history)
        elif e.event != "deployment_opened_v1" or e.override:
            target = current.get(e.version)
            if target is None:
                history.orphans.append(e)
                continue
            _lifecycle(e, target)
    if running is not None:
        history.running.append(running)


def _joins(latest: Deployment | None, e: Event) -> bool:
    return (latest is not None and latest.version == e.version and latest.rollback is None
            and latest.superseded_at is None)


def _lifecycle(e: Event, target: Deployment) -> None:
    if e.event == "deployment_shelved_v1":
        target.shelves.append(Shelve(e.at, e.cause, e.reason))
    elif e.event == "deployment_resumed_v1" and target.shelves and target.shelves[-1].resumed_at is None:
        target.shelves[-1].resumed_at = e.at
    elif e.event == "deployment_concluded_v1" and target.concluded_at is None:
        target.concluded_at = e.at
    if e.override and e.event in ("deployment_opened_v1", "deployment_resumed_v1"):
        word = "opened" if e.event == "deployment_opened_v1" else "resumed"
        target.overrides.append(Override(e.at, e.app, e.environment, e.version, word, e.override_reason))


def _rollback(e: Event, running: Running | None, current: dict[str, Deployment], history: History) -> Running:
    bad = e.previous_version or (running.version if running is not None else "")
    rollback = Rollback(e.at, e.app, e.environment, bad, e.version, e.reason, e.incident)
    if running is not None and running.version == bad and running.via == "rollback":
        rollback.reverts = running.rollback
    else:
        failed = current.get(bad)
        if failed is not None and failed.rollback is None and failed.started_at <= e.at:
            failed.rollback = rollback
            rollback.failed = failed
    history.rollbacks.append(rollback)
    return Running(e.app, e.environment, e.version, e.at, e.strategy, e.source_repository, e.source_commit,
                   e.gitops_base_commit, "rollback", None, rollback, record=(e.file, e.line))


def _mark_promotions(deployments: list[Deployment]) -> None:
    """A deployment whose version went live in another environment of the app before is a promotion
    from the environment where it went live last before it."""
    live: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = defaultdict(list)
    for d in deployments:
        if d.live_at is not None:
            live[(d.app, d.version)].append((d.live_at, d.environment))
    for d in deployments:
        went = live.get((d.app, d.version))
        if went is None or len(went) < 2:
            continue
        earlier = [(at, env) for at, env in went if env != d.environment and at <= d.started_at]
        if earlier:
            d.promoted_from = max(earlier)[1]
