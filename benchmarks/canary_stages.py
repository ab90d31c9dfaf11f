#!/usr/bin/env python3
"""A four-stage rollout's false rollbacks and detections: evidence carried from stage to stage
(canary-monitor's resume-from, what `rollout` does) against alpha split over the stages
(Bonferroni, what it did before) and against each stage starting afresh at the whole alpha (no
budget over the rollout at all), on canary_judges.py's simulated streams.

Each stage is its own 10-minute stream at the given traffic; every stage is run (a hold does not
end the rollout), a rollback at any stage ends it. A/A rows should stay within alpha for carried
and Bonferroni (reset has no such bound); regression rows show how much more often the carried
evidence finds a regression too small for one stage.

    python benchmarks/canary_stages.py                 # 200 seeds per row, alpha 0.01, 10 rps
    python benchmarks/canary_stages.py --seeds 500 --rps 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.canary_judges import SCENARIOS, judge_rollout  # noqa: E402
from deploy_actions.verify.canary.decision import AnalysisConfig  # noqa: E402

ROWS = ("healthy", "all of them", "errors +0.5 pts (at the tolerance)", "errors +1 pts", "errors +2 pts, bursty",
        "p95 +100 %, blips")
METHODS = ("carried", "bonferroni", "reset")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rps", type=float, default=10.0)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--stages", type=int, default=4)
    args = parser.parse_args(argv)
    config = AnalysisConfig(alpha=args.alpha)
    print(f"{args.stages}-stage rollouts, {args.seeds} seeds per row, alpha {args.alpha:g}, {args.rps:g} canary rps: "
          "share of rollouts rolled back at some stage")
    print(f"| scenario | {' | '.join(METHODS)} | carried / bonferroni |")
    print("| --- |" + " --- |" * (len(METHODS) + 1))
    started = time.monotonic()
    for name in ROWS:
        scenario = next(s for s in SCENARIOS if s.name == name)
        rates = {m: judge_rollout(scenario, args.rps, args.seeds, args.seed, config, m, args.stages) for m in METHODS}
        ratio = "—" if rates["bonferroni"] == 0 else f"{rates['carried'] / rates['bonferroni']:.2f}x"
        print(f"| {name} ({scenario.kind}) | " + " | ".join(f"{rates[m]:.3f}" for m in METHODS) + f" | {ratio} |")
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
