"""rollout: walk a canary through its stages (10 → 30 → 50 → 90 → 100), each a GitOps commit
(traffic) judged by canary-monitor before the next, and stop at the first stage that fails: its
weight goes back to 0 in one forward commit, with the reason and the stage's report as evidence.

The false-rollback budget `alpha` is spent over the whole rollout, not reset at each stage: each
judged stage gets alpha / (number of judged stages), so by Bonferroni's inequality the chance of
rolling back a healthy canary at any stage stays at or below alpha. A final stage of 100 % is the
shift only: with the stable version serving nothing, there is no concurrent baseline to judge it
against (the promotion that follows makes the canary's tag the stable one).
"""

from __future__ import annotations

import json
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
    stage_alpha: float
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
            "stage-alpha": f"{self.stage_alpha:g}",
            "commit-sha": self.commit_sha,
            "report": self.report,
            "evidence": next((s.report for s in reversed(self.stages) if s.report), ""),
        }

    def outcome(self) -> Outcome:
        lines = [f"stage {s.number}/{len(self.planned)} at {s.weight}%: {s.decision}: {s.reason}" for s in self.stages]
        summary = ("## rollout\n\n| stage | weight | decision | reason |\n| --- | --- | --- | --- |\n"
                   + "".join(f"| {s.number}/{len(self.planned)} | {s.weight}% | {s.decision} | {s.reason} |\n"
                             for s in self.stages)
                   + f"\nalpha {self.stage_alpha:g} per judged stage (Bonferroni over the rollout)\n")
        return Outcome(outputs=self.outputs(), text="\n".join([*lines, f"rollout: {self.decision}: {self.reason}"]),
                       summary=summary, exit_code=self.exit_code)


def rollout(traffic_options: dict[str, Any], monitor_options: dict[str, Any], *, canary_steps: str,
            step_duration: float | None, alpha: float | None, report: str, fail_on_rollback: bool) -> RolloutResult:
    """Run the stages. `monitor_options` are canary-monitor's own (its command's dict), used for every
    stage with the stage's duration, alpha and report."""
    planned = steps(canary_steps)
    duration = 600.0 if step_duration is None else step_duration
    if duration <= 0:
        raise InputError("step-duration", f"{duration:g}s", "a duration above 0, e.g. 10m")
    total_alpha = 0.01 if alpha is None else alpha
    judged = [w for w in planned if w < 100]
    stage_alpha = total_alpha / max(1, len(judged))
    base = TrafficOptions(**traffic_options)
    monitor = _stage_monitor(monitor_options, duration, stage_alpha, report, 0)
    _check_monitor(monitor)  # bad canary-monitor input fails before the first commit
    done: list[Stage] = []
    last_sha = ""
    shifted: TrafficResult | None = None
    for number, weight in enumerate(planned, start=1):
        shifted = traffic(replace(base, weight=weight, canary_steps=canary_steps))
        last_sha = shifted.commit_sha or last_sha
        if weight == 100:
            done.append(Stage(number, weight, "shifted", "all traffic on the canary (not judged: no baseline left)",
                              "", shifted.commit_sha))
            break
        stage_report = _stage_path(report, number)
        outcome = _run_monitor(_stage_monitor(monitor_options, duration, stage_alpha, report, number))
        decision, reason = str(outcome.outputs["decision"]), str(outcome.outputs["reason"])
        done.append(Stage(number, weight, decision, reason, stage_report, shifted.commit_sha))
        if decision == "rollback":
            back = traffic(replace(base, weight=0, rollback=True, canary_steps=canary_steps,
                                   reason=f"stage {number}/{len(planned)} at {weight}%: {reason}",
                                   evidence=stage_report))
            result = _result("rollback", f"stage {number}/{len(planned)} at {weight}%: {reason}", done, planned,
                             stage_alpha, back.weight, back.commit_sha or last_sha, report)
            return replace(result, exit_code=EXIT_CHECK_FAILED if fail_on_rollback else 0)
        if decision != "promote":
            return _result(decision, f"stage {number}/{len(planned)} at {weight}%: {reason}", done, planned,
                           stage_alpha, shifted.weight, last_sha, report)
    reason = f"all {len(planned)} stages passed ({', '.join(f'{w}%' for w in planned)})"
    return _result("promote", reason, done, planned, stage_alpha, shifted.weight if shifted else None, last_sha,
                   report)


def _stage_path(report: str, number: int) -> str:
    if not report:
        return ""
    path = Path(report)
    return str(path.with_name(f"{path.stem}-stage-{number}{path.suffix or '.json'}"))


def _stage_monitor(options: dict[str, Any], duration: float, alpha: float, report: str,
                   number: int) -> dict[str, Any]:
    min_duration = options.get("min_duration")
    return {**options, "duration": duration, "alpha": alpha, "report": _stage_path(report, number),
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


def _run_monitor(options: dict[str, Any]) -> Outcome:
    from deploy_actions.commands import canary_monitor

    return canary_monitor.run(options)


def _result(decision: str, reason: str, done: list[Stage], planned: tuple[int, ...], stage_alpha: float,
            weight: float | None, sha: str, report: str) -> RolloutResult:
    if report:
        Path(report).write_text(json.dumps({
            "decision": decision, "reason": reason, "planned": list(planned), "stage_alpha": stage_alpha,
            "stages": [{"stage": s.number, "weight": s.weight, "decision": s.decision, "reason": s.reason,
                        "report": s.report, "commit": s.commit_sha} for s in done]}, indent=2) + "\n")
    return RolloutResult(decision, reason, tuple(done), planned, stage_alpha, weight, sha, report)
