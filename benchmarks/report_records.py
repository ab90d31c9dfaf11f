"""`deploy-actions report` on a year of records for a large fleet, side by side with a `jq` floor.

Generates (once, cached under .work/bench/) a GitOps repository's records for 300 apps × 3
environments (dev, staging, production) over one year, written as the commands write them: each
deployment is opened, bumped and concluded (dev daily, staging 3 a week, production promoted from
staging 2 a week), 8 % of production deployments are rolled back with an incident record and then
shelved. Then it times, each in a fresh process, best of N:

- ours:  deploy-actions report --path DIR --since 7d --until <the year's end> --json
         (reads and validates every line, folds the whole year, computes DORA for this week and the
         last, writes Markdown, JSON and the SVG charts)
- floor: jq -c 'select(.event == "deployment_concluded_v1" and .environment == "production")'
         over the same files, counted with wc -l (reading every line once and nothing else)

It prints the best wall time and the best CPU time (user + sys: on a machine shared with other work,
wall time also counts the waits for a CPU), the peak RSS, and the ratios to the floor, and checks that
both counted the same production deployments concluded in the period. Target (printed, never
enforced): under 5 s.

    python benchmarks/report_records.py [--apps 300] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".work" / "bench"
YEAR_START = dt.datetime(2025, 12, 1, tzinfo=dt.timezone.utc)
YEAR_END = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
TARGET_SECONDS = 5.0


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def line(when: dt.datetime, event: str, env: str, app: str, version: str, commit: str, previous: str,
         **extra: object) -> str:
    entry = {"timestamp": stamp(when), "event": event, "environment": env, "app": app,
             "image": f"ghcr.io/org/{app}", "version": version, "digest": "", "previous_version": previous,
             "gitops_base_commit": "0" * 40, "source_repository": f"org/{app}", "source_commit": commit,
             "actor": "octocat", "strategy": "canary", "run_url": "https://github.com/org/gitops/actions/runs/1",
             **extra}
    return json.dumps(entry, separators=(",", ":"))


def generate(apps: int, seed: int = 11) -> Path:
    root = WORK / f"report-{apps}apps-{seed}"
    if (root / ".complete").exists():
        return root
    rng = random.Random(seed)
    files: dict[str, list[tuple[dt.datetime, str]]] = {"dev": [], "staging": [], "production": []}
    incidents: dict[str, str] = {}
    for a in range(apps):
        app = f"app{a:03d}"
        running = {"dev": "", "staging": "", "production": ""}
        per_week = {"dev": 7, "staging": 3, "production": 2}
        for env, count in per_week.items():
            t = YEAR_START + dt.timedelta(minutes=rng.randint(0, 600))
            n = 0
            while t < YEAR_END:
                t += dt.timedelta(minutes=rng.randint(int(0.5 * 10080 / count), int(1.5 * 10080 / count)))
                n += 1
                version = f"v{n // 100}.{n % 100}.{ {'dev': 0, 'staging': 1, 'production': 2}[env]}"
                commit = f"{a:012d}{n:028d}"
                rows = files[env]
                rows.append((t, line(t, "deployment_opened_v1", env, app, version, commit, running[env],
                                     state="active", from_state="pending")))
                rows.append((t + dt.timedelta(minutes=1), line(t + dt.timedelta(minutes=1), "bump", env, app, version,
                                                               commit, running[env], status="pending")))
                if env == "production" and rng.random() < 0.08 and running[env]:
                    back = t + dt.timedelta(minutes=rng.randint(5, 90))
                    path = f"incidents/{back.strftime('%Y%m%dT%H%M%SZ')}-{app}.md"
                    rows.append((back, line(back, "rollback", env, app, running[env], "", version, status="pending",
                                            reason="canary failed", incident=path)))
                    rows.append((back, line(back, "deployment_shelved_v1", env, app, version, commit, running[env],
                                            state="paused", from_state="active", cause="canary-failed",
                                            reason="canary failed")))
                    incidents[path] = (f"# Incident: {app} {version} rolled back in {env}\n\n- **App**: {app}\n"
                                       f"- **Environment**: {env}\n- **Versions**: {version} → {running[env]}\n"
                                       "- **Reason**: canary failed\n\n## Timeline\n\n| event | time |\n"
                                       "| --- | --- |\n| detected | "
                                       f"{(back - dt.timedelta(minutes=3)).strftime('%Y-%m-%d %H:%M:%S')} UTC |\n"
                                       f"| rolled back to {running[env]} | "
                                       f"{back.strftime('%Y-%m-%d %H:%M:%S')} UTC |\n")
                else:
                    done = t + dt.timedelta(minutes=rng.randint(10, 120))
                    rows.append((done, line(done, "deployment_concluded_v1", env, app, version, commit, running[env],
                                            state="concluded", from_state="active")))
                    running[env] = version
    (root / "deployments").mkdir(parents=True, exist_ok=True)
    (root / "incidents").mkdir(exist_ok=True)
    for env, rows in files.items():
        rows.sort(key=lambda pair: pair[0])
        (root / "deployments" / f"{env}.jsonl").write_text("".join(text + "\n" for _, text in rows))
    for path, text in incidents.items():
        (root / path).write_text(text)
    (root / ".complete").touch()
    return root


def measure(argv: list[str] | str, shell: bool = False) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak MiB, stdout) of one run, the process tree's own: wait4 gives
    its CPU time and peak RSS (a pipeline's shell waits for its children, so theirs count)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv!r} failed with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # Generated in a child of its own: a child's peak RSS counts what it shares of its parent at the
    # fork, so a parent grown by generating a year of records would be counted in both tools' peaks.
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        root = pool.apply(generate, (args.apps,))
    lines = sum(1 for f in (root / "deployments").glob("*.jsonl") for _ in f.open())
    size = sum(f.stat().st_size for f in (root / "deployments").glob("*.jsonl"))
    print(f"records: {args.apps} apps × 3 environments × one year = {lines:,} lines ({size / 2**20:.0f} MiB), "
          f"{len(list((root / 'incidents').glob('*.md'))):,} incident records; best of {args.repeat}")
    until = stamp(YEAR_END)
    out = WORK / "report-out"
    ours = [sys.executable, "-m", "deploy_actions", "report", "--path", str(root), "--since", "7d", "--until", until,
            "--output-dir", str(out), "--json"]
    floor = (f"jq -c 'select(.event == \"deployment_concluded_v1\" and .environment == \"production\" and "
             f".timestamp >= \"{stamp(YEAR_END - dt.timedelta(days=7))}\" and .timestamp < \"{until}\")' "
             f"{root}/deployments/*.jsonl | wc -l")
    rows: dict[str, tuple[float, float, float]] = {}
    answers: dict[str, int] = {}
    for label, argv in (("ours", ours), ("floor (jq)", floor)):
        runs = [measure(argv, shell=isinstance(argv, str)) for _ in range(args.repeat)]
        wall, cpu, peak = min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)
        stdout = runs[-1][3]
        if label == "ours":
            report = json.loads((out / "report.json").read_text())
            answers[label] = report["dora"]["fleet"]["deployment_frequency"]["deployments"]
        else:
            answers[label] = int(stdout.strip())
        rows[label] = (wall, cpu, peak)
    floor_wall, floor_cpu = rows["floor (jq)"][0], rows["floor (jq)"][1]
    print(f"{'tool':<14}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'wall vs floor':>15}{'CPU vs floor':>14}")
    for label, (wall, cpu, mib) in rows.items():
        print(f"{label:<14}{wall:>9.2f}{cpu:>9.2f}{mib:>10.0f}{wall / floor_wall:>14.2f}x{cpu / floor_cpu:>13.2f}x")
    same = answers["ours"] == answers["floor (jq)"]
    print(f"production deployments concluded in the last week: ours {answers['ours']}, jq {answers['floor (jq)']}"
          f" ({'the same' if same else 'DIFFERENT'})")
    load = os.getloadavg()[0]
    wall, cpu = rows["ours"][0], rows["ours"][1]
    print(f"target: under {TARGET_SECONDS:g} s: CPU {cpu:.2f} s {'met' if cpu < TARGET_SECONDS else 'NOT met'}, "
          f"wall {wall:.2f} s {'met' if wall < TARGET_SECONDS else 'NOT met'} (load average {load:.1f} on "
          f"{os.cpu_count()} CPUs: on a busy machine, wall time waits for a CPU, so read the CPU column too)")
    if args.json:
        args.json.write_text(json.dumps({k: {"wall_seconds": v[0], "cpu_seconds": v[1], "peak_mib": v[2]}
                                         for k, v in rows.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
