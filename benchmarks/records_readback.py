"""The gate reading an environment's records back, side by side with the `jq` floor.

Generates (once, cached under .work/bench/) a GitOps checkout whose `deployments/production.jsonl`
holds N record lines (default 10,000, 100,000 and 300,000: a year of a busy fleet) for 300 apps:
bumps, lifecycle events and rollbacks, one of which took `app-0042`'s v9.9.9 out. Then, on that
checkout:

- ours:  deploy-actions gate --gitops-repository DIR --app app-0042 --environment production
         --version 9.9.9 --json     (every line of the app checked field by field, then decided)
- floor: jq -c 'select(.app=="app-0042" and .event=="rollback" and .previous_version=="v9.9.9")'
         (finds the same rollback line, checks nothing)

It prints wall time (best of N), peak RSS and the ratio to the floor, and checks that both found
the rollback. Times are printed, never judged.

    python benchmarks/records_readback.py [--sizes 10000,100000,300000] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.gitops_bump import measure

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".work" / "bench"
APP, BAD = "app-0042", "v9.9.9"


def generate(lines: int, apps: int = 300, seed: int = 11) -> Path:
    tree = WORK / f"records-{lines}-{apps}-{seed}"
    marker = tree / ".complete"
    if marker.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "deployments").mkdir(parents=True)
    rng = random.Random(seed)
    events = ["bump", "deployment_opened_v1", "deployment_concluded_v1", "deployment_shelved_v1", "rollback"]
    with open(tree / "deployments/production.jsonl", "w", encoding="utf-8") as out:
        for i in range(lines):
            app = f"app-{rng.randrange(apps):04d}"
            event = rng.choices(events, weights=[30, 30, 28, 4, 8])[0]
            version = f"v{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
            record = {"timestamp": f"2026-{1 + i * 12 // lines:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                      "event": event, "environment": "production", "app": app, "version": version,
                      "image": f"ghcr.io/org/{app}", "source_repository": f"org/{app}",
                      "source_commit": f"{rng.getrandbits(160):040x}", "actor": "deploy-bot",
                      "run_url": f"https://github.com/org/{app}/actions/runs/{i}"}
            if event == "rollback":
                record.update(previous_version=f"v{rng.randint(0, 9)}.{rng.randint(0, 40)}.0", reason="error rate",
                              incident=f"incidents/2026{i:08d}-{app}.md")
            if i == lines // 2:
                record.update(app=APP, event="rollback", version="v9.9.8", previous_version=BAD,
                              reason="p99 latency 5x baseline", incident=f"incidents/x-{APP}.md")
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    marker.touch()
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("jq") is None:
        raise SystemExit("jq is not on PATH (the floor); apt-get install jq")
    report: dict[str, dict[str, dict[str, float]]] = {}
    print(f"{'lines':>9}  {'tool':<28}{'seconds':>9}{'peak MiB':>10}{'vs floor':>10}")
    for lines in (int(n) for n in args.sizes.split(",")):
        tree = generate(lines)
        records = tree / "deployments/production.jsonl"
        ours = [sys.executable, "-m", "deploy_actions", "gate", "--json", "--gitops-repository", str(tree),
                "--app", APP, "--environment", "production", "--version", BAD.lstrip("v")]
        query = (f"jq -c 'select(.app==\"{APP}\" and .event==\"rollback\" and .previous_version==\"{BAD}\")' "
                 f"{records} > /dev/null")
        rows = {"floor": min(measure([query], shell=True) for _ in range(args.repeat))}
        best = (float("inf"), 0.0)
        for _ in range(args.repeat):
            timed = measure_refused(ours)
            best = min(best, timed)
        rows["ours"] = best
        names = {"floor": "jq select (floor)", "ours": "deploy-actions gate"}
        for label, (secs, mib) in rows.items():
            print(f"{lines:>9,}  {names[label]:<28}{secs:>9.3f}{mib:>10.1f}{secs / rows['floor'][0]:>9.1f}x")
        found = subprocess.run(["jq", "-c", f'select(.app=="{APP}" and .previous_version=="{BAD}")', str(records)],
                               capture_output=True, text=True, check=True).stdout.strip()
        print(f"{'':>9}  both found the rollback of {APP} {BAD}: {'yes' if found else 'NO'}")
        report[str(lines)] = {k: {"seconds": v[0], "peak_mib": v[1]} for k, v in rows.items()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def measure_refused(argv: list[str]) -> tuple[float, float]:
    """`measure` for our gate, which exits 1 here: it refuses the rolled-back version."""
    wrapped = " ".join(f"'{a}'" for a in argv) + "; test $? -eq 1"
    return measure([wrapped], shell=True)


if __name__ == "__main__":
    raise SystemExit(main())
