"""The lifecycle state machine: every legal step, every refusal, reruns and superseding."""

from __future__ import annotations

import pytest

from deploy_actions.errors import InputError
from deploy_actions.records.lifecycle import (
    EVENTS,
    TRANSITIONS,
    Deployment,
    State,
    decide,
    fold,
    latest_version,
)

RUN = "https://github.com/org/app/actions/runs/1"


def rec(event: str, version: str = "v1.0.0", run_url: str = RUN, app: str = "app", environment: str = "prod",
        **extra: object) -> dict[str, object]:
    return {"event": TRANSITIONS[event].name, "app": app, "environment": environment, "version": version,
            "run_url": run_url, **extra}


def state_after(*events: str) -> Deployment:
    return fold([rec(e) for e in events], "app", "prod", "v1.0.0")


# A path of events from pending to each state.
PATHS = {
    State.PENDING: (),
    State.ACTIVE: ("opened",),
    State.PAUSED: ("opened", "shelved"),
    State.CONCLUDED: ("opened", "concluded"),
}
LEGAL = {("opened", State.PENDING), ("shelved", State.ACTIVE), ("resumed", State.PAUSED),
         ("concluded", State.ACTIVE)}


def test_event_names_are_the_versioned_record_names():
    assert [TRANSITIONS[e].name for e in EVENTS] == [
        "deployment_opened_v1", "deployment_shelved_v1", "deployment_resumed_v1", "deployment_concluded_v1"]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", EVENTS)
def test_every_event_in_every_state_is_taken_or_refused_by_the_table(event, state):
    current = state_after(*PATHS[state])
    assert current.state is state
    if (event, state) in LEGAL:
        step = decide(current, event, "https://other/run")
        assert step.write and step.before is state and step.transition.target is TRANSITIONS[event].target
    else:
        with pytest.raises(InputError) as err:
            decide(current, event, "https://other/run")
        text = str(err.value)
        assert "\n" not in text and TRANSITIONS[event].name in text
        assert f"it is {state.value}" in text and f"needs state {TRANSITIONS[event].source.value}" in text


def test_the_full_lifecycle_folds_to_concluded():
    assert state_after("opened", "shelved", "resumed", "shelved", "resumed", "concluded").state is State.CONCLUDED


def test_same_event_from_the_same_run_is_a_rerun_with_nothing_to_write():
    for path in (("opened",), ("opened", "shelved"), ("opened", "shelved", "resumed"), ("opened", "concluded")):
        step = decide(state_after(*path), path[-1], RUN)
        assert step.write is False


def test_same_event_from_another_run_is_refused():
    with pytest.raises(InputError, match="already active"):
        decide(state_after("opened"), "opened", "https://github.com/org/app/actions/runs/2")


def test_opening_a_paused_deployment_says_to_resume_it():
    with pytest.raises(InputError, match=r"resume it instead \(event: resumed\)"):
        decide(state_after("opened", "shelved"), "opened", RUN)


def test_other_apps_environments_and_bump_records_do_not_count():
    records = [rec("opened", app="other"), rec("opened", environment="staging"),
               {"event": "bump", "app": "app", "environment": "prod", "version": "v1.0.0"}]
    assert fold(records, "app", "prod", "v1.0.0").state is State.PENDING


def test_opening_another_version_supersedes_and_a_rollback_reopens_the_old_one():
    records = [rec("opened", "v1"), rec("concluded", "v1"), rec("opened", "v2", supersedes="v1"),
               rec("shelved", "v2", cause="canary-failed")]
    assert fold(records, "app", "prod", "v1").state is State.PENDING  # its run ended: may be opened again
    assert fold(records, "app", "prod", "v2").state is State.PAUSED
    assert latest_version(records, "app", "prod") == "v2"
    step = decide(fold(records, "app", "prod", "v1"), "opened", "https://other/run")
    assert step.write and step.before is State.PENDING


def test_the_opened_record_of_the_current_run_is_kept_for_later_events():
    records = [rec("opened", github_deployment_id=7), rec("shelved"), rec("resumed")]
    current = fold(records, "app", "prod", "v1.0.0")
    assert current.opened is not None and current.opened["github_deployment_id"] == 7
    assert current.last is records[-1]


@pytest.mark.parametrize("ended", [("opened", "concluded"), ("opened", "shelved")])
def test_a_version_a_rollback_took_out_opens_again_as_a_new_run(ended):
    rollback = {"event": "rollback", "app": "app", "environment": "prod", "version": "v0.9.0",
                "previous_version": "v1.0.0"}
    records = [rec(e) for e in ended] + [rollback]
    current = fold(records, "app", "prod", "v1.0.0")
    assert current.rolled_back and current.state in (State.CONCLUDED, State.PAUSED)
    step = decide(current, "opened", "https://github.com/org/app/actions/runs/2")
    assert step.write and step.before is State.PENDING
    if ended[-1] == "shelved":  # the rollback does not end what the same deploy still records
        assert decide(current, "resumed", RUN).write
    records.append(rec("opened", run_url="https://github.com/org/app/actions/runs/2"))
    assert not fold(records, "app", "prod", "v1.0.0").rolled_back


def test_without_a_rollback_a_concluded_version_still_cannot_open_again():
    with pytest.raises(InputError, match="it has concluded"):
        decide(state_after("opened", "concluded"), "opened", "https://github.com/org/app/actions/runs/2")
