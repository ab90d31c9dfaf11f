"""What a deploy-actions step costs beyond its own work, under act (host mode).

    python benchmarks/action_overhead.py [--warm-runs 3] [--json results.json]

One job runs: a `true` step (act's own per-step cost), `changelog-check` twice (first and second
use in the job), and the same command straight from the virtualenv (the command's own work).
The first run starts from an empty tool cache (cold: bootstrap.py builds the environment);
later runs reuse it (warm). Outside act it also times bootstrap.py's fast path against the
virtualenv's CLI. Prints the numbers; never fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.plugins.act import (  # noqa: E402
    Act,
    checkout_refs,
    find_act,
    make_checkout_standin,
    snapshot_working_tree,
)

WORKFLOW = """\
name: overhead
on: push
jobs:
  overhead:
    runs-on: ubuntu-latest
    steps:
      - id: clone
        name: clone
        run: git clone --quiet "$DA_TEST_CHECKOUT_REMOTE" .
      - id: baseline
        name: baseline
        run: "true"
      - id: first
        name: first use
        uses: org/deploy-actions/changelog-check@v1
      - id: second
        name: second use
        uses: org/deploy-actions/changelog-check@v1
      - id: direct
        name: direct
        run: |
          for venv in "$RUNNER_TOOL_CACHE"/deploy-actions/*/; do :; done
          "${venv}bin/python" "${venv}bin/deploy-actions" changelog-check
"""

CHANGELOG = """\
# Changelog

## [1.0.0] - 2026-01-01

### Added

- Everything.
"""


# bootstrap.py's own fast-path work, timed inside one process: import, key, one stat.
OWN_SHARE = """\
import sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import bootstrap
bootstrap.ensure_environment()
print(time.perf_counter() - started)
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid",
                    "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                   capture_output=True)


def caller_repository(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    workflow = path / ".github" / "workflows" / "overhead.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WORKFLOW)
    (path / "CHANGELOG.md").write_text(CHANGELOG)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "chore: benchmark caller")
    return workflow


def step_seconds(log: str) -> dict[str, float]:
    """Main-stage durations from act's --json log: 'first' (the action as the caller sees it),
    'first/run' (the bootstrap step inside it), and so on."""
    durations: dict[str, float] = {}
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("stage") == "Main" and "executionTime" in entry and entry.get("stepResult"):
            durations["/".join(entry["stepID"])] = entry["executionTime"] / 1e9
    return durations


def setup_phases(log: str) -> dict[str, float]:
    """bootstrap.py's own timings of its cold path ('  <phase>: 1.2 s', 'ready in 9.4 s')."""
    phases: dict[str, float] = {}
    for line in log.splitlines():
        try:
            message = str(json.loads(line).get("msg", ""))
        except ValueError:
            continue
        for text in message.splitlines():
            phase = re.search(r"^  ([a-z][^:]*): ([0-9.]+) s$", text)
            total = re.search(r"^ready in ([0-9.]+) s$", text)
            if phase:
                phases[phase.group(1)] = float(phase.group(2))
            elif total:
                phases["total (bootstrap's own clock)"] = float(total.group(1))
    return phases


def time_command(argv: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:8.0f} ms" if seconds < 10 else f"{seconds:8.1f} s "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15, help="samples for the fast-path timing")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="da-bench-") as tmp_name:
        tmp = Path(tmp_name)
        checkout = snapshot_working_tree(ROOT, tmp / "deploy-actions")
        caller = tmp / "caller"
        workflow = caller_repository(caller)
        act = Act(binary=find_act(), actions_checkout=checkout, cache_dir=tmp / "act-cache",
                  checkout_standin=make_checkout_standin(tmp / "checkout-standin"),
                  checkout_refs=checkout_refs(checkout), work_dir=tmp / "runs")

        runs = []
        cold_log = ""
        for index in range(1 + max(args.warm_runs, 1)):
            run = act.run(workflow, cwd=caller, checkout_remote=caller, extra=["--json"])
            if not run.ok:
                sys.stderr.write(run.report + "\n")
                sys.stderr.write(f"benchmark: run {index + 1} failed; no numbers\n")
                return 1
            runs.append((run.seconds, step_seconds(run.log)))
            if index == 0:
                cold_log = run.log

        cold_wall, cold = runs[0]
        phases = setup_phases(cold_log)
        warm = runs[1:]

        def warm_median(key: str) -> float:
            return statistics.median(steps[key] for _, steps in warm)

        venv = next((act.tool_cache / "deploy-actions").glob("[0-9a-f]*"))
        python3 = shutil.which("python3") or sys.executable
        env_python = str(venv / "bin" / "python")
        fast_bootstrap = time_command([python3, str(checkout / "bootstrap.py"), "--version"],
                                      args.repeat)
        fast_cli = time_command([env_python, str(venv / "bin" / "deploy-actions"), "--version"],
                                args.repeat)
        bare_python = time_command([python3, "-c", "pass"], args.repeat)
        own = statistics.median(float(subprocess.run(
            [python3, "-c", OWN_SHARE, str(checkout)], check=True, capture_output=True,
            text=True, env={**os.environ, "RUNNER_TOOL_CACHE": str(act.tool_cache)}).stdout)
            for _ in range(args.repeat))

    numbers = {
        "act_step_true": warm_median("baseline"),
        "cold_first_action": cold["first"],
        "cold_first_action_inner_step": cold["first/run"],
        "cold_second_action": cold["second"],
        "cold_command_direct": cold["direct"],
        "warm_first_action": warm_median("first"),
        "warm_first_action_inner_step": warm_median("first/run"),
        "warm_second_action": warm_median("second"),
        "warm_command_direct": warm_median("direct"),
        "act_wall_cold_run": cold_wall,
        "act_wall_warm_run": statistics.median(wall for wall, _ in warm),
        "bootstrap_fast_path_version": fast_bootstrap,
        "venv_cli_version": fast_cli,
        "python3_startup": bare_python,
        "bootstrap_own_in_process": own,
        **{f"cold_setup_{name.replace(' ', '_')}": secs for name, secs in phases.items()},
    }
    n = numbers
    composite_cost = n["warm_first_action"] - n["warm_first_action_inner_step"]
    bootstrap_cost = n["warm_first_action_inner_step"] - n["warm_command_direct"]
    print(f"deploy-actions step overhead under act (host mode), {args.warm_runs} warm run(s)\n")
    print(f"  act: a `run: true` step                          {ms(n['act_step_true'])}")
    print(f"  act: whole run, 5 steps, cold / warm             {ms(n['act_wall_cold_run'])}"
          f" / {ms(n['act_wall_warm_run']).strip()}")
    print()
    print(f"  cold: first action in the job (empty tool cache) {ms(n['cold_first_action'])}")
    print(f"  cold: second action in the same job              {ms(n['cold_second_action'])}")
    print(f"  warm: first action in a later run                {ms(n['warm_first_action'])}")
    print(f"  warm: second action in a later run               {ms(n['warm_second_action'])}")
    print(f"  the command itself (venv CLI, no bootstrap)      {ms(n['warm_command_direct'])}")
    print()
    print("  where a warm action's time goes:")
    print(f"    act's composite-action wrapping                {ms(composite_cost)}")
    print(f"    bootstrap.py (python3 start, key, stat, exec)  {ms(bootstrap_cost)}")
    print(f"    the command's own work                         {ms(n['warm_command_direct'])}")
    print(f"  cold setup (venv + pip), paid once per runner    "
          f"{ms(n['cold_first_action'] - n['warm_first_action'])}")
    for name, secs in phases.items():
        print(f"    {name:<46} {ms(secs)}")
    print()
    print("  outside act, median of", args.repeat)
    print(f"    python3 -c pass                                {ms(n['python3_startup'])}")
    print(f"    python3 bootstrap.py --version (fast path)     {ms(n['bootstrap_fast_path_version'])}")
    print(f"    <venv>/bin/deploy-actions --version            {ms(n['venv_cli_version'])}")
    print(f"    bootstrap.py's own work (import, key, stat)    {ms(n['bootstrap_own_in_process'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
