"""The evidence one analysis hands to the next (`resume-from`): each guard's e-process state,
written into the JSON report and read back, validated, when the next stage of a rollout starts.

Each guard's test (`stats.ExcessState`) is a set of sums over looks; its mixture e-value is a
function of those sums. Resuming from them continues the same e-process: for every lambda of the
mixture the stages' factors multiply, the dispersion is estimated over all the looks so far, and
the result is exactly the evidence of one uninterrupted analysis of the same looks. So a rollout
tests the evidence of all its stages together against its whole alpha (Ville's inequality bounds
the chance that a canary within its tolerances ever crosses 1/alpha at any stage), where a fresh
start at each stage would need a share of alpha per stage (Bonferroni). A latency guard also
carries its "slow" bound, fixed before the data it judges.

The report comes back from disk, so it is read as hostile: a regular file of bounded size, JSON
with finite numbers, sums that counts can have (errors never above requests), and guards, their
thresholds and alpha exactly as configured now. Anything else is one line naming `resume-from`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploy_actions import files
from deploy_actions.errors import InputError
from deploy_actions.verify.canary import rules, stats

FORMAT = 1
LIMIT = 16 * 1024 * 1024  # a canary-monitor report (its timeline included); larger is not one
_INPUT = "resume-from"
_COUNTS = ("looks", "ref_looks")
_SLACK = 1e-6  # sums of floats written with 9 decimals
MAX_COUNT = 1e15  # requests in one rollout: more is not a count (and would overflow the evidence)


def document(guards: Sequence[rules.GuardState], alpha: float) -> dict[str, object]:
    """The report's `evidence`: what the next stage needs to continue each guard's e-process."""
    return {
        "format": FORMAT,
        "alpha": alpha,
        "guards": [{
            "name": g.guard.name, "rule": g.guard.label, "threshold": g.guard.threshold,
            "for_seconds": g.guard.for_seconds, "boundary": g.boundary, "log_e": g.test.log_e(),
            "state": dataclasses.asdict(g.test),
        } for g in guards],
    }


def read(path: str, guards: Sequence[rules.Guard], alpha: float) -> tuple[rules.GuardState, ...]:
    """The guards' states resumed from the report at `path`, in the order of `guards`."""
    files.report_target(path, _INPUT)  # a regular file, never a symbolic link, a FIFO or a device
    try:
        data = json.loads(files.read_regular_file(Path(path), LIMIT).decode("utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise InputError(_INPUT, path, f"a canary-monitor report we can read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(_INPUT, path, "a canary-monitor JSON report (with finite numbers)") from None
    evidence = data.get("evidence") if isinstance(data, dict) else None
    if not isinstance(evidence, dict) or evidence.get("format") != FORMAT:
        raise InputError(_INPUT, path, f"a canary-monitor report with its evidence (format {FORMAT})")
    if not _same(evidence.get("alpha"), alpha):
        raise InputError(_INPUT, path, f"a report of the same alpha ({alpha:g}, it has {evidence.get('alpha')!r}): "
                         "evidence is tested against one alpha for the whole rollout")
    entries = evidence.get("guards")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(_INPUT, path, "a report whose evidence lists its guards")
    by_name = {str(e.get("name")): e for e in entries}
    names = [g.name for g in guards]
    if sorted(by_name) != sorted(names) or len(entries) != len(names):
        raise InputError(_INPUT, path, f"a report of the same guards ({', '.join(names) or 'none'}; it has "
                         f"{', '.join(sorted(by_name)) or 'none'})")
    return tuple(_resume(path, guard, by_name[guard.name]) for guard in guards)


def _resume(path: str, guard: rules.Guard, entry: dict[str, Any]) -> rules.GuardState:
    if not (_same(entry.get("threshold"), guard.threshold) and _same(entry.get("for_seconds"), guard.for_seconds)):
        raise InputError(_INPUT, path, f"a report of the same guards ({guard.name}: {guard.label})")
    where = f"its {guard.name} evidence"
    raw = entry.get("state")
    expected = {f.name for f in dataclasses.fields(stats.ExcessState)}
    if not isinstance(raw, dict) or set(raw) != expected:
        raise InputError(_INPUT, path, f"a canary-monitor report ({where} lacks its sums)")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(_INPUT, path, f"a canary-monitor report ({where}: {key} is not a finite number)")
        if key in _COUNTS:
            if value != int(value):
                raise InputError(_INPUT, path, f"a canary-monitor report ({where}: {key} is not a whole number)")
            value = int(value)
        values[key] = value
    state = stats.ExcessState(**values)
    start = rules.start(guard).test
    if not _same(state.margin, start.margin) or not _possible(state):
        raise InputError(_INPUT, path, f"a canary-monitor report ({where} is not one a test can reach)")
    boundary = entry.get("boundary")
    if boundary is not None and (guard.kind != "latency" or isinstance(boundary, bool) or
                                 not isinstance(boundary, (int, float)) or not 0 < boundary < math.inf):
        raise InputError(_INPUT, path, f"a canary-monitor report ({where}: boundary is not a latency bound)")
    # The running maximum is the test's own: never below what the sums give now.
    state = dataclasses.replace(state, max_log_e=max(state.max_log_e, state.log_e()))
    return rules.resume(guard, state, None if boundary is None else float(boundary))


def _possible(s: stats.ExcessState) -> bool:
    """Sums that counts can give: nothing negative, errors at most requests (and their squares over
    requests at most the errors), a reference rate between 0 and 1, evidence never below 1, and
    no more than MAX_COUNT requests."""
    nonnegative = all(v >= 0 for v in (s.looks, s.canary_n, s.canary_k, s.canary_k2n, s.reference, s.reference_var,
                                       s.ref_looks, s.ref_n, s.ref_k, s.ref_k2n, s.max_log_e))
    bounded = (s.canary_k <= s.canary_n * (1 + _SLACK) + _SLACK and s.canary_k2n <= s.canary_k * (1 + _SLACK) + _SLACK
               and s.reference <= s.canary_n * (1 + _SLACK) + _SLACK and s.ref_k <= s.ref_n * (1 + _SLACK) + _SLACK
               and s.ref_k2n <= s.ref_k * (1 + _SLACK) + _SLACK)
    empty = s.looks > 0 or (s.canary_n == 0 and s.ref_looks == 0)
    sizes = (max(s.looks, s.canary_n, s.ref_n) <= MAX_COUNT and s.reference_var <= s.canary_n ** 2 + _SLACK
             and s.max_log_e <= MAX_COUNT)
    return nonnegative and bounded and empty and sizes and s.ref_looks <= s.looks


def _same(value: object, expected: float) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isclose(float(value), expected, rel_tol=1e-9, abs_tol=1e-12))


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a finite number")
