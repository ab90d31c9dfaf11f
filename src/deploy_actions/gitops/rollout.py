"""rollout: walk a canary through its stages (10 → 30 → 50 → 90 → 100), each a GitOps commit
(traffic) judged by canary-monitor before the next, and stop at the first stage that fails: its
weight goes back to 0 in one forward commit, with the reason and the stage's report as evidence.

The false-rollback budget `alpha` is spent over the whole rollout, not reset at each stage: every
judged stage continues the evidence of the stages before it (canary-monitor's `resume-from`, from
the previous stage's report), so each guard runs one e-process over the whole rollout and is tested
against the whole alpha; by Ville's inequality the chance of ever rolling back a canary within its
tolerances, at any stage, stays at or below alpha, and a regression too small for one stage adds
up over several. Custom metrics are plain thresholds, checked afresh at each stage and outside that
bound, as in a single analysis. A final stage of 100 % is the shift only: with the stable version
serving nothing, there is no concurrent baseline to judge it against (the promotion that follows
makes the canary's tag the stable one).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deploy_actions.errors import EXIT_CHECK_FAILED, InputError
from deploy_actions.gitops.traffic import TrafficOptions, TrafficResult, steps, traffic
from deploy_actions.outcome import Outcome


@dataclass(frozen=True)
class Stage:
    number: int
    weight: int
    decision: str  # promote, rollback, hold, or "shifted" (a 100 % stage, not judged)
    reason: str
    report: str
    commit_sha: str


@dataclass(frozen=True)
class RolloutResult:
    decision: str  # promote (every stage passed), rollback or hold
    reason: str
    stages: tuple[Stage, ...]
    planned: tuple[int, ...]
    alpha: float
    weight: float | None  # the canary's share at the end
    commit_sha: str
    report: str
    exit_code: int = 0

    def outputs(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "stage": self.stages[-1].number if self.stages else 0,
            "stages": len(self.planned),
            "weight": "" if self.weight is None else (int(self.weight) if self.weight == int(self.weight)
                                                      else round(self.weight, 2)),
            "alpha": f"{self.alpha:g}",
            "commit-sha": self.commit_sha,
            "report": self.report,
            "evidence": next((s.report for s in reversed(self.stages) if s.report), ""),
        }

    def outcome(self) -> Outcome:
        lines = [f"stage {s.number}/{len(self.planned)} at {s.weight}%: {s.decision}: {s.reason}" for s in self.stages]
        summary = ("## rollout\n\n| stage | weight | decision | reason |\n| --- | --- | --- | --- |\n"
                   + "".join(f"| {s.number}/{len(self.planned)} | {s.weight}% | {s.decision} | {s.reason} |\n"
                             for s in self.stages)
                   + f"\nalpha {self.alpha:g} over the whole rollout: each judged stage continues the evidence of the "
                   "stages before it (resume-from)\n")
        return Outcome(outputs=self.outputs(), text="\n".join([*lines, f"rollout: {self.decision}: {self.reason}"]),
                       summary=summary, exit_code=self.exit_code)


def rollout(traffic_options: dict[str, Any], monitor_options: dict[str, Any], *, canary_steps: str,
            step_duration: float | None, alpha: float | None, report: str, fail_on_rollback: bool) -> RolloutResult:
    """Run the stages. `monitor_options` are canary-monitor's own (its options' fields), used for every
    stage with the stage's duration and report, the whole alpha, and the previous stage's report to
    resume from. Without `report`, the stage reports live in a temporary folder for the rollout."""
    planned = steps(canary_steps)
    duration = 600.0 if step_duration is None else step_duration
    if duration <= 0:
        raise InputError("step-duration", f"{duration:g}s", "a duration above 0, e.g. 10m")
    total_alpha = 0.01 if alpha is None else alpha
    _check_monitor(_stage_monitor(monitor_options, duration, total_alpha, "", ""))  # before the first commit
    with tempfile.TemporaryDirectory(prefix="rollout-") as scratch:
        reports = report or str(Path(scratch) / "rollout.json")
        result = _stages(traffic_options, monitor_options, planned, canary_steps, duration, total_alpha, reports)
    if report:
        _write(report, result)
    else:  # the temporary stage reports are gone
        result = replace(result, stages=tuple(replace(s, report="") for s in result.stages))
    result = replace(result, report=report)
    if result.decision == "rollback" and fail_on_rollback:
        result = replace(result, exit_code=EXIT_CHECK_FAILED)
    return result


def _stages(traffic_options: dict[str, Any], monitor_options: dict[str, Any], planned: tuple[int, ...],
            canary_steps: str, duration: float, alpha: float, report: str) -> RolloutResult:
    base = TrafficOptions(**traffic_options)
    done: list[Stage] = []
    last_sha = ""
    previous = ""  # the last judged stage's report: its evidence carries into the next stage
    shifted: TrafficResult | None = None
    for number, weight in enumerate(planned, start=1):
        shifted = traffic(replace(base, weight=weight, canary_steps=canary_steps))
        last_sha = shifted.commit_sha or last_sha
        if weight == 100:
            done.append(Stage(number, weight, "shifted", "all traffic on the canary (not judged: no baseline left)",
                              "", shifted.commit_sha))
            break
        stage_report = _stage_path(report, number)
        outputs = _run_monitor(_stage_monitor(monitor_options, duration, alpha, stage_report, previous))
        decision, reason = str(outputs["decision"]), str(outputs["reason"])
        done.append(Stage(number, weight, decision, reason, stage_report, shifted.commit_sha))
        previous = stage_report
        where = f"stage {number}/{len(planned)} at {weight}%: {reason}"
        if decision == "rollback":
            back = traffic(replace(base, weight=0, rollback=True, canary_steps=canary_steps, reason=where,
                                   evidence=stage_report))
            return RolloutResult("rollback", where, tuple(done), planned, alpha, back.weight,
                                 back.commit_sha or last_sha, report)
        if decision != "promote":
            return RolloutResult(decision, where, tuple(done), planned, alpha, shifted.weight, last_sha, report)
    reason = f"all {len(planned)} stages passed ({', '.join(f'{w}%' for w in planned)})"
    return RolloutResult("promote", reason, tuple(done), planned, alpha, shifted.weight if shifted else None,
                         last_sha, report)


def _stage_path(report: str, number: int) -> str:
    path = Path(report)
    return str(path.with_name(f"{path.stem}-stage-{number}{path.suffix or '.json'}"))


def _stage_monitor(options: dict[str, Any], duration: float, alpha: float, report: str,
                   resume_from: str) -> dict[str, Any]:
    min_duration = options.get("min_duration")
    return {**options, "duration": duration, "alpha": alpha, "report": report, "resume_from": resume_from,
            "fail_on_rollback": False,
            "min_duration": min(duration, 300.0 if min_duration is None else min_duration)}


def _check_monitor(options: dict[str, Any]) -> None:
    from deploy_actions.verify.canary.monitor import CanaryMonitorOptions, analysis_config, build_provider

    opts = CanaryMonitorOptions(**options)
    config = analysis_config(opts)
    if opts.provider == "prometheus":  # builds a client, asks nothing; a probe would start sending requests
        build_provider(opts, config, opts.interval or 10.0)[0].close()
    else:
        for name, value in (("canary-url", opts.canary_url), ("baseline-url", opts.baseline_url)):
            if not value:
                raise InputError(name, "", "a URL to probe (provider: probe needs canary-url and baseline-url)")


def _run_monitor(options: dict[str, Any]) -> dict[str, object]:
    from deploy_actions.verify.canary.monitor import CanaryMonitorOptions, canary_monitor

    return canary_monitor(CanaryMonitorOptions(**options)).outputs()


def _write(path: str, result: RolloutResult) -> None:
    Path(path).write_text(json.dumps({
        "decision": result.decision, "reason": result.reason, "planned": list(result.planned),
        "alpha": result.alpha,
        "stages": [{"stage": s.number, "weight": s.weight, "decision": s.decision, "reason": s.reason,
                    "report": s.report, "commit": s.commit_sha} for s in result.stages]}, indent=2) + "\n")
