"""Fleet-scale writes: N pipelines bumping N different apps in one GitOps repository at once, side
by side with the same N writes serialised (one writer at a time, what argocd-image-updater's
`--max-concurrency=1` amounts to: its write-back never races, because it never overlaps).

For each N (default 25, 50, 100, 200) on a fresh bare repository of 200 apps served over
authenticated smart HTTP (`git http-backend`, the test suite's server):

- concurrent: N writers start at once; each is gitops-bump in repository mode (its own shallow
  clone, its own git processes: a real, separate git client), with the default push-timeout;
- serialised: the same N bumps, one after another;
- batch: one gitops-bump call pinning all N images (`images:`), one commit, one push.

It prints the time until all N landed, pushes per writer (mean and max), the CPU time the run
took (this process and every git child, server included), and the ratios concurrent/serialised.
It checks that every write landed and that main is linear with exactly N new commits.

The writers' Python side runs in threads of this process (their git work is separate processes):
N interpreters would cost N start-ups of CPU on a small machine and measure that instead.

    python benchmarks/gitops_fleet.py [--writers 25,50,100,200] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from deploy_actions.gitops.bump import GitopsBumpOptions, GitopsBumpResult, gitops_bump  # noqa: E402
from tests.plugins.git_http import GitHttpServer, serve  # noqa: E402

APPS = 200
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  template:
    spec:
      containers:
        - name: {app}
          image: ghcr.io/org/{app}:v1.0.0
"""


@dataclass(frozen=True)
class Run:
    writers: int
    seconds: float
    cpu_seconds: float
    pushes_mean: float
    pushes_max: int
    landed: int


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


def seed(work: Path) -> Path:
    """A bare repository of APPS apps, one Deployment each, to copy for every run."""
    tree = work / "seed"
    git(work, "init", "-q", "-b", "main", str(tree))
    for i in range(APPS):
        folder = tree / "apps" / f"svc{i:03d}"
        folder.mkdir(parents=True)
        (folder / "deployment.yaml").write_text(DEPLOYMENT.format(app=f"svc{i:03d}"))
    git(tree, "add", "-A")
    git(tree, "-c", "user.name=seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed")
    bare = work / "seed.git"
    git(work, "clone", "-q", "--bare", str(tree), str(bare))
    return bare


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(server: GitHttpServer, seed_bare: Path, name: str, writers: int, *, how: str) -> Run:
    bare = server.root / f"{name}.git"
    shutil.copytree(seed_bare, bare)
    url = server.url(f"{name}.git")

    common = GitopsBumpOptions(repository=url, token=server.token, path="apps/{app}", environment="production",
                               verify_image=False, source_commit="a" * 40,
                               run_url="https://github.com/org/app/actions/runs/1")

    def bump(i: int) -> GitopsBumpResult:
        return gitops_bump(replace(common, image=f"ghcr.io/org/svc{i:03d}", tag="v1.0.1"))

    cpu_before, started = cpu(), time.monotonic()
    with contextlib.redirect_stderr(io.StringIO()):  # the writers' log lines (a few per push)
        if how == "concurrent":
            with ThreadPoolExecutor(max_workers=writers) as pool:
                results = list(pool.map(bump, range(writers)))
        elif how == "serialised":
            results = [bump(i) for i in range(writers)]
        else:
            images = "\n".join(f"ghcr.io/org/svc{i:03d}:v1.0.1" for i in range(writers))
            results = [gitops_bump(replace(common, images=images))]
    seconds, cpu_seconds = time.monotonic() - started, cpu() - cpu_before
    history = git(bare, "rev-list", "--first-parent", "main").split()
    commits = 1 if how == "batch" else writers
    if git(bare, "rev-list", "--merges", "main") or len(history) != commits + 1:
        raise SystemExit(f"{name}: main is not the seed plus {commits} commit(s) in a line")
    pushes = [r.pushes for r in results]
    landed = sum(sum(1 for row in r.apps if row["changed"]) for r in results if r.commit_sha in history)
    return Run(writers, seconds, cpu_seconds, sum(pushes) / writers, max(pushes), landed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", default="25,50,100,200", help="comma-separated numbers of writers, each ≤ 200")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(n) for n in args.writers.split(",")]
    if not all(0 < n <= APPS for n in sizes):
        parser.error(f"--writers: numbers from 1 to {APPS}")

    os.environ.pop("GITHUB_ACTIONS", None)  # plain log lines, not workflow commands
    rows: list[tuple[Run, Run, Run]] = []
    with tempfile.TemporaryDirectory(prefix="gitops-fleet-") as tmp:
        work = Path(tmp)
        seed_bare = seed(work)
        served = work / "served"
        served.mkdir()
        with serve(served) as server:
            for n in sizes:
                serial = run(server, seed_bare, f"serialised-{n}", n, how="serialised")
                together = run(server, seed_bare, f"concurrent-{n}", n, how="concurrent")
                batched = run(server, seed_bare, f"batch-{n}", n, how="batch")
                rows.append((serial, together, batched))
                print(f"{n} writers: serialised {serial.seconds:.1f}s, concurrent {together.seconds:.1f}s, "
                      f"one batch {batched.seconds:.1f}s", flush=True)

    print(f"\nGitOps repository of {APPS} apps over authenticated HTTP; cpus: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'writers':>8}{'serialised':>11}{'concurrent':>11}{'ratio':>8}{'landed':>8}{'pushes/writer':>15}"
          f"{'max':>5}{'CPU ratio':>10}{'one batch':>11}{'ratio':>8}")
    for serial, together, batched in rows:
        print(f"{together.writers:>8}{serial.seconds:>10.1f}s{together.seconds:>10.1f}s"
              f"{together.seconds / serial.seconds:>7.2f}x{together.landed:>5}/{together.writers:<3}"
              f"{together.pushes_mean:>10.1f} ({together.pushes_mean / serial.pushes_mean:.0f}x)"
              f"{together.pushes_max:>4}{together.cpu_seconds / serial.cpu_seconds:>9.2f}x"
              f"{batched.seconds:>10.1f}s{batched.seconds / serial.seconds:>7.2f}x")
    print("ratios against the serialised writes (argocd-image-updater --max-concurrency=1): time until all "
          "landed, and CPU of the run; pushes per writer (serialised: 1)")
    if args.json:
        args.json.write_text(json.dumps([{"serialised": asdict(s), "concurrent": asdict(c), "batch": asdict(b)}
                                         for s, c, b in rows], indent=2))
    return 0 if all(c.landed == c.writers and b.landed == b.writers for _, c, b in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
