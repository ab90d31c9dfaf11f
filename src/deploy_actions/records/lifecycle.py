"""The deployment lifecycle: states, events and which transitions are legal.

A deployment is (app, environment, version). Its state is the fold of its lifecycle events in
the record file, in order:

    pending --opened--> active --shelved--> paused --resumed--> active --concluded--> concluded

Opening another version of the same app and environment supersedes the one deployed before
(whatever its state): the new `deployment_opened_v1` record names that version in
`supersedes`, and the superseded deployment's run ends there. Its records stay as they are;
a later opening of that version (a rollback to it) starts a new run from pending. So does
opening a version again after a rollback took it out (its run, paused or concluded, is over:
deploying it again is `allow-rolled-back`'s business, decided before the deployment opens).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from deploy_actions.errors import InputError


class State(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    CONCLUDED = "concluded"


@dataclass(frozen=True)
class Transition:
    """One event: its name as written in the records, the state it needs and the one it leaves."""

    event: str  # the input's word: opened, shelved, resumed, concluded
    name: str  # as written in the records
    source: State
    target: State


TRANSITIONS: dict[str, Transition] = {
    t.event: t for t in (
        Transition("opened", "deployment_opened_v1", State.PENDING, State.ACTIVE),
        Transition("shelved", "deployment_shelved_v1", State.ACTIVE, State.PAUSED),
        Transition("resumed", "deployment_resumed_v1", State.PAUSED, State.ACTIVE),
        Transition("concluded", "deployment_concluded_v1", State.ACTIVE, State.CONCLUDED),
    )
}
BY_NAME: dict[str, Transition] = {t.name: t for t in TRANSITIONS.values()}
EVENTS = tuple(TRANSITIONS)
CAUSES = ("freeze", "window", "environment-unavailable", "smoke-failed", "canary-failed", "manual")
FAILED_CAUSES = ("smoke-failed", "canary-failed")
_HINTS = {  # what to do instead, for the refusals people meet most
    ("opened", State.PAUSED): "; resume it instead (event: resumed)",
    ("opened", State.ACTIVE): "; it is already active",
    ("opened", State.CONCLUDED): "; it has concluded: deploy another version",
    ("concluded", State.PAUSED): "; resume it first (event: resumed)",
}


@dataclass(frozen=True)
class Deployment:
    """What the records say about one deployment: its state and the record that put it there."""

    app: str
    environment: str
    version: str
    state: State = State.PENDING
    last: Mapping[str, object] | None = None  # the last lifecycle record of the current run
    opened: Mapping[str, object] | None = None  # the record that opened the current run
    rolled_back: bool = False  # a rollback took this version out after the run's last event


def is_event(record: Mapping[str, object]) -> bool:
    return record.get("event") in BY_NAME


def fold(records: Iterable[Mapping[str, object]], app: str, environment: str, version: str) -> Deployment:
    """The deployment's state after `records` (other apps', bump records and the like are skipped)."""
    current = Deployment(app, environment, version)
    for record in records:
        if record.get("app") != app or record.get("environment") != environment:
            continue
        if record.get("event") == "rollback" and record.get("previous_version") == version \
                and record.get("version") != version and current.state is not State.PENDING:
            current = Deployment(app, environment, version, current.state, current.last, current.opened, True)
            continue
        transition = BY_NAME.get(str(record.get("event")))
        if transition is None:
            continue
        if record.get("version") == version:
            opened = record if transition.event == "opened" else current.opened
            current = Deployment(app, environment, version, transition.target, record, opened)
        elif transition.event == "opened" and current.state is not State.PENDING:
            current = Deployment(app, environment, version)  # superseded: this run is over
    return current


def latest_version(records: Iterable[Mapping[str, object]], app: str, environment: str) -> str:
    """The version of app in environment that the last lifecycle event was about ("" when none)."""
    latest = ""
    for record in records:
        if is_event(record) and record.get("app") == app and record.get("environment") == environment:
            latest = str(record.get("version", ""))
    return latest


@dataclass(frozen=True)
class Step:
    """The decision for one event: write it (`write`), or nothing to do (a rerun)."""

    transition: Transition
    before: State
    write: bool


def decide(current: Deployment, event: str, run_url: str) -> Step:
    """Whether `event` may happen to `current` now; InputError (exit 2) when it may not.

    The same event sent again by the same run (same run URL) to a deployment already in the
    state it leads to is a rerun: nothing to write.
    """
    transition = TRANSITIONS[event]
    if event == "opened" and current.rolled_back and current.state in (State.PAUSED, State.CONCLUDED):
        return Step(transition, State.PENDING, write=True)  # rolled back: a new run of this version
    if current.state is transition.target and current.last is not None \
            and current.last.get("event") == transition.name and current.last.get("run_url", "") == run_url:
        return Step(transition, current.state, write=False)
    if current.state is not transition.source:
        hint = _HINTS.get((event, current.state), "")
        raise InputError("event", event, f"an event that {current.app} {current.version} in {current.environment} "
                         f"can take: {transition.name} needs state {transition.source.value}, it is "
                         f"{current.state.value}{hint}")
    return Step(transition, current.state, write=True)
