"""`deploy-actions gate`: may a deploy start now? Freeze periods, deploy windows, emergency override."""

from __future__ import annotations

import datetime as dt
from typing import Any

from deploy_actions.commands import Outcome
from deploy_actions.commands.spec import CommandSpec, Option, Output
from deploy_actions.errors import EXIT_CHECK_FAILED, InputError

SPEC = CommandSpec(
    name="gate",
    description="Decide whether a deploy may start now: freeze periods, deploy windows in the team's time "
                "zone, and an emergency override that is recorded with its reason.",
    run="deploy_actions.commands.gate:run",
    options=(
        Option("freeze", "Freeze periods, one per line: 2026-12-24..2026-12-26, or every year: 12-31..01-02.",
               "", kind="lines"),
        Option("deny-windows", "Times when deploys are refused, one per line, e.g. 'Fri 15:00-24:00'.", "",
               kind="lines"),
        Option("timezone", "IANA time zone the freezes and windows are in.", "UTC"),
        Option("emergency", "Deploy anyway (needs reason); the override is reported and recorded.", "false",
               kind="bool"),
        Option("reason", "Why the emergency override is needed.", ""),
        Option("now", "The moment to judge, ISO 8601 (default: the current time).", ""),
    ),
    outputs=(
        Output("allowed", "true when the deploy may start."),
        Output("reason", "Which rule decided, in words."),
        Output("override", "true when an emergency override opened a closed gate."),
    ),
    action=False,  # used by the deploy reusable workflow through the CLI
)


def run(options: dict[str, Any]) -> Outcome:
    from deploy_actions import gates

    tz = gates.zone(options["timezone"])
    if options["now"]:
        try:
            moment = dt.datetime.fromisoformat(options["now"])
        except ValueError:
            raise InputError("now", options["now"], "an ISO 8601 time such as 2026-12-24T10:00:00+01:00") from None
        moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    else:
        moment = dt.datetime.now(tz)
    freezes = [gates.parse_freeze(line) for line in options["freeze"]]
    windows = [gates.parse_window(line) for line in options["deny_windows"]]
    decision = gates.decide(moment, freezes, windows, emergency=options["emergency"], reason=options["reason"])
    outputs = {"allowed": decision.allowed, "reason": decision.reason, "override": decision.override}
    verdict = "open" if decision.allowed else "closed"
    summary = f"## gate\n\nThe gate is **{verdict}** at {moment:%Y-%m-%d %H:%M %Z}: {decision.reason}.\n"
    return Outcome(outputs=outputs, text=f"gate {verdict}: {decision.reason}", summary=summary,
                   exit_code=0 if decision.allowed else EXIT_CHECK_FAILED)
