"""gitops-bump on a large GitOps repository, side by side with the `grep | sed` floor.

Generates (once, cached under .work/bench/) a repository of 10,000 YAML files holding 30,000
documents, with the image referenced in 500 of them, then on fresh copies of the same tree:

- ours:  deploy-actions gitops-bump --path COPY --image IMG --tag T --mode none --json
         (registry check off: this measures finding, splicing and verifying)
- floor: grep -rl IMAGE COPY | xargs sed -i 's|IMAGE:OLD|IMAGE:NEW|g'

It prints wall time (best of N), CPU time (user + system, best of N: steadier than wall time on
a busy machine), peak RSS and the ratios to the floor, and checks that both changed the same 500
files. Targets (printed, never enforced): within 3x of the floor, under 1 s, peak memory under
200 MB.

    python benchmarks/gitops_bump.py [--repeat 3] [--files 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".work" / "bench"
IMAGE = "ghcr.io/org/app"
OLD, NEW = "v1.4.2", "v1.5.0"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}, team: {team}}}
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
        - name: {name}
          image: {image}  # managed
          resources:
            limits: {{cpu: 500m, memory: 256Mi}}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
    - port: 80
      targetPort: 8080
"""
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
"""


def generate(files: int, with_image: int, seed: int = 7) -> Path:
    tree = WORK / f"gitops-{files}-{with_image}-{seed}"
    marker = tree / ".complete"
    if marker.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    rng = random.Random(seed)
    chosen = set(rng.sample(range(files), with_image))
    for i in range(files):
        name = f"svc-{i:05d}"
        image = f"{IMAGE}:{OLD}" if i in chosen else f"ghcr.io/org/{name}:v{rng.randint(0, 9)}.{rng.randint(0, 30)}.0"
        folder = tree / "apps" / f"team-{i % 100:02d}" / name
        folder.mkdir(parents=True, exist_ok=True)
        docs = [DEPLOYMENT.format(name=name, team=i % 100, replicas=rng.randint(1, 5), image=image),
                SERVICE.format(name=name), CONFIG.format(name=name)]
        (folder / "manifests.yaml").write_text("---\n".join(docs))
    marker.touch()
    return tree


def measure(argv: list[str], cwd: Path | None = None, shell: bool = False) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, children included) and peak RSS (MiB) of one
    run, via /usr/bin/time."""
    timed = ["/usr/bin/time", "-f", "%U %S %M", *(["sh", "-c", argv[0]] if shell else argv)]
    started = time.perf_counter()
    proc = subprocess.run(timed, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {argv}\n{proc.stderr[-2000:]}")
    user, system, rss_kib = proc.stderr.strip().splitlines()[-1].split()
    return elapsed, float(user) + float(system), int(rss_kib) / 1024


def changed_files(tree: Path) -> set[str]:
    return {str(p.relative_to(tree)) for p in tree.rglob("*.yaml") if f"{IMAGE}:{NEW}" in p.read_text()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--with-image", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    tree = generate(args.files, args.with_image)
    docs = args.files * 3
    print(f"GitOps tree: {args.files:,} files, {docs:,} documents, {IMAGE} in {args.with_image}; best of {args.repeat}")
    cli = [sys.executable, "-m", "deploy_actions", "gitops-bump", "--json", "--mode", "none", "--record", "",
           "--verify-image", "false", "--image", IMAGE, "--tag", NEW, "--path"]
    rows: dict[str, tuple[float, float, float]] = {}
    results: dict[str, set[str]] = {}
    for label in ("floor", "ours"):
        best = (float("inf"), float("inf"), 0.0)
        for _ in range(args.repeat):
            copy = WORK / f"copy-{label}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".complete"))
            if label == "ours":
                run = measure([*cli, str(copy)])
            else:
                sed = f"grep -rl '{IMAGE}:{OLD}' . | xargs sed -i 's|{IMAGE}:{OLD}|{IMAGE}:{NEW}|g'"
                run = measure([sed], cwd=copy, shell=True)
            best = (min(best[0], run[0]), min(best[1], run[1]), max(best[2], run[2]))
            results[label] = changed_files(copy)
        rows[label] = best
    floor, floor_cpu = rows["floor"][0], rows["floor"][1]
    print(f"{'tool':<34}{'seconds':>9}{'vs floor':>10}{'cpu s':>8}{'vs floor':>10}{'peak MiB':>10}")
    names = {"floor": "grep -rl | xargs sed -i (floor)", "ours": "deploy-actions gitops-bump"}
    for label, (secs, cpu, mib) in rows.items():
        print(f"{names[label]:<34}{secs:>9.3f}{secs / floor:>9.1f}x{cpu:>8.2f}{cpu / max(floor_cpu, 0.01):>9.1f}x"
              f"{mib:>10.1f}")
    same = results["ours"] == results["floor"] and len(results["ours"]) == args.with_image
    print(f"same {len(results['ours'])} files changed by both: {'yes' if same else 'NO'}")
    secs, _cpu, mib = rows["ours"]
    print("targets: "
          f"within 3x of the floor: {'yes' if secs <= 3 * floor else 'no'} ({secs / floor:.1f}x); "
          f"under 1 s: {'yes' if secs < 1 else 'no'}; under 200 MB: {'yes' if mib < 200 else 'no'} "
          f"(cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")
    if args.json:
        args.json.write_text(json.dumps({k: {"seconds": v[0], "cpu_seconds": v[1], "peak_mib": v[2]}
                                         for k, v in rows.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
