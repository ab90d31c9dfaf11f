#!/usr/bin/env python3
"""Changelog parsing, side by side with the libraries users would pick instead.

Generates a real-world-shaped Keep a Changelog file (default ~300 KB: hundreds of versions,
prereleases, yanked releases, the release template's sections, PR links, `[@user]` references
and a compare-link footer), then times on that same file:

  deploy-actions   parse_changelog + entry(version) + validate      (our changelog-check core)
  keepachangelog   keepachangelog.to_dict(path) + [version]          (PyPI keepachangelog)
  python-kacl      kacl.parse(text) + validate() + get(version)      (PyPI python-kacl)
  deploy-actions   `python -m deploy_actions changelog-check --json` (whole command, new process)

Each library runs in a fresh interpreter: one untimed warm-up, then the best of --repeat runs
(imports excluded). A library missing from this interpreter is installed once into
benchmarks/.tools/<name>/ with the pins below. Times are printed, never judged: the exit
status does not depend on them.

    python benchmarks/changelog_parse.py
    python benchmarks/changelog_parse.py --size 1000000 --repeat 10 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = ROOT / "benchmarks" / ".tools"
ANCHORS = {  # import name → pinned requirement
    "keepachangelog": "keepachangelog==2.0.0",
    "kacl": "python-kacl==0.7.7",
}

# Each snippet: argv = path, version, repeat; prints {"best": seconds, "versions": n, "notes": chars}.
_TIMER = """
import json, sys, time
path, version, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
{setup}
def once():
{body}
once()
best = float("inf")
for _ in range(repeat):
    t = time.perf_counter(); result = once(); best = min(best, time.perf_counter() - t)
print(json.dumps({{"best": best, "versions": result[0], "notes": result[1]}}))
"""
SNIPPETS = {
    "deploy-actions": (
        "from deploy_actions.release.changelog import parse_changelog, validate",
        "    text = open(path, encoding='utf-8').read()\n"
        "    log = parse_changelog(text, path)\n"
        "    entry = log.entry(version)\n"
        "    problems = validate(log)\n"
        "    assert not problems, problems[:3]\n"
        "    return len([e for e in log.entries if not e.is_unreleased]), len(entry.notes)",
    ),
    "keepachangelog": (
        "import keepachangelog",
        "    changes = keepachangelog.to_dict(path)\n"
        "    entry = changes[version]\n"
        "    notes = sum(len(x) for k, v in entry.items() if k != 'metadata' for x in v)\n"
        "    return len(changes), notes",
    ),
    "kacl": (
        "import kacl",
        "    doc = kacl.parse(open(path, encoding='utf-8').read())\n"
        "    doc.validate()\n"
        "    entry = doc.get(version)\n"
        "    return len(doc.versions()) - (1 if doc.get('Unreleased') else 0), len(entry.body())",
    ),
}
WHAT = {
    "deploy-actions": "parse + extract + validate",
    "keepachangelog": "to_dict + extract (no checks)",
    "kacl": "parse + validate + get",
}

# ------------------------------------------------------------------------------- the changelog

USERS = ["alice", "bob", "carol", "dmitri", "eve", "farah", "gus", "hana", "ivan", "jun"]
AREAS = ["api", "cli", "auth", "db", "ui", "deploy", "metrics", "cache", "search", "docs"]
VERBS = ["Add", "Fix", "Speed up", "Document", "Refactor", "Deprecate", "Remove", "Harden"]
THINGS = ["retry logic for the registry client", "pagination of the pull-request files API",
          "timezone handling in release dates", "the `--dry-run` flag of gitops-bump",
          "image digests in the deployment record", "canary analysis when Prometheus has gaps",
          "error messages for malformed `Chart.yaml` files", "memory use when listing 10k tags"]
KEEP_A_CHANGELOG_SECTIONS = ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]
TEMPLATE_SECTIONS = ["Changes", "Breaking Changes", "Migration Steps", "Rollback Plan"]


def _bullet(rng: random.Random, pr: int) -> str:
    user = rng.choice(USERS)
    return (f"- **{rng.choice(AREAS)}:** {rng.choice(VERBS)} {rng.choice(THINGS)} "
            f"([#{pr}](https://github.com/org/app/pull/{pr})) by [@{user}]")


def generate_changelog(size: int = 300_000, seed: int = 7) -> str:
    """A valid Keep a Changelog file of about `size` bytes, newest version first."""
    rng = random.Random(seed)
    major, minor, patch = 0, 1, 0
    day = 18_000  # days since 1970: mid-2019
    pr = 100
    entries: list[tuple[str, str]] = []  # (version, entry text), oldest first
    total = 0
    while total < size:
        roll = rng.random()
        if entries and roll < 0.55:
            patch += 1
            versions = [f"{major}.{minor}.{patch}"]
        elif roll < 0.95 or major >= 99:
            minor, patch = minor + 1, 0
            versions = [f"{major}.{minor}.0-rc.{n}" for n in range(1, rng.randint(1, 3))]
            versions.append(f"{major}.{minor}.0")
        else:
            major, minor, patch = major + 1, 0, 0
            versions = [f"{major}.0.0-beta.1", f"{major}.0.0-rc.1", f"{major}.0.0"]
        for version in versions:
            day += rng.randint(0, 9)
            date = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
            yanked = " [YANKED]" if rng.random() < 0.02 else ""
            lines = [f"## [{version}] - {date}{yanked}", ""]
            template = rng.random() < 0.3
            names = TEMPLATE_SECTIONS if template else rng.sample(KEEP_A_CHANGELOG_SECTIONS, rng.randint(1, 3))
            for name in names:
                lines += [f"### {name}", ""]
                if name == "Rollback Plan":
                    lines.append(f"Pin the previous tag with gitops-bump; revert PR #{pr}.")
                elif name == "Migration Steps":
                    lines += ["1. Update the `values.yaml` key:", "", "   ```yaml",
                              "   image:", f"     tag: v{version}", "   ```"]
                else:
                    for _ in range(rng.randint(1, 6)):
                        pr += rng.randint(1, 7)
                        lines.append(_bullet(rng, pr))
                lines.append("")
            text = "\n".join(lines) + "\n"
            entries.append((version, text))
            total += len(text) + 80  # and its compare link
    head = ("# Changelog\n\nAll notable changes to this project will be documented in this file.\n\n"
            "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
            "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n\n"
            "## [Unreleased]\n\n### Changed\n\n" + _bullet(rng, pr + 1) + "\n\n")
    newest_first = list(reversed(entries))
    links = [f"[@{user}]: https://github.com/{user}" for user in USERS]
    links.append(f"[Unreleased]: https://github.com/org/app/compare/v{newest_first[0][0]}...HEAD")
    for (version, _), (older, _) in itertools.pairwise(newest_first):
        links.append(f"[{version}]: https://github.com/org/app/compare/v{older}...v{version}")
    links.append(f"[{entries[0][0]}]: https://github.com/org/app/releases/tag/v{entries[0][0]}")
    return head + "".join(text for _, text in newest_first) + "\n".join(links) + "\n"


# ------------------------------------------------------------------------------- running


@dataclass
class Result:
    tool: str
    what: str
    best_seconds: float | None
    versions: int | None = None
    note: str = ""


def _python_for(module: str, install: bool) -> tuple[str | None, str]:
    """An interpreter that can import `module`: this one, or a venv under benchmarks/.tools."""
    if module == "deploy_actions" or importlib.util.find_spec(module) is not None:
        return sys.executable, "this interpreter"
    venv = TOOLS_DIR / module
    python = venv / "bin" / "python"
    if not python.exists():
        if not install:
            return None, f"not installed (pip install {ANCHORS[module]})"
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", ANCHORS[module]],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as err:
            return None, f"could not install {ANCHORS[module]}: {err}"
    return str(python), str(venv.relative_to(ROOT))


def time_library(tool: str, path: Path, version: str, repeat: int, install: bool) -> Result:
    module = "deploy_actions" if tool == "deploy-actions" else tool
    python, where = _python_for(module, install)
    label = tool if tool != "kacl" else "python-kacl"
    if python is None:
        return Result(label, WHAT[tool], None, note=where)
    setup, body = SNIPPETS[tool]
    code = _TIMER.format(setup=setup, body=body)
    done = subprocess.run([python, "-c", code, str(path), version, str(repeat)],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Result(label, WHAT[tool], None, note=f"failed: {last}")
    out = json.loads(done.stdout)
    return Result(label, WHAT[tool], out["best"], out["versions"], where)


def time_command(path: Path, version: str, repeat: int) -> Result:
    argv = [sys.executable, "-m", "deploy_actions", "changelog-check", "--file", str(path),
            "--version", version, "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    best = float("inf")
    for _ in range(max(repeat, 1) + 1):  # the first run warms the file cache
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            return Result("deploy-actions CLI", "whole command", None,
                          note=f"exit {done.returncode}: {done.stderr.strip()[-200:]}")
        best = min(best, elapsed)
    return Result("deploy-actions CLI", "changelog-check, new process", best)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=300_000, help="bytes of changelog to generate")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (best is kept)")
    parser.add_argument("--no-install", action="store_true",
                        help="skip alternatives not importable here instead of installing them")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    text = generate_changelog(args.size)
    with tempfile.TemporaryDirectory(prefix="changelog-bench-") as tmp:
        path = Path(tmp) / "CHANGELOG.md"
        path.write_text(text, encoding="utf-8")
        versions = [line[4:].split("]")[0] for line in text.splitlines() if line.startswith("## [")]
        version = versions[len(versions) // 2]  # a release in the middle of the file
        print(f"changelog: {len(text.encode()):,} bytes, {text.count(chr(10)):,} lines, "
              f"{len(versions) - 1:,} releases; extracting {version}; best of {args.repeat}")
        results = [time_library(tool, path, version, args.repeat, not args.no_install)
                   for tool in SNIPPETS]
        results.append(time_command(path, version, min(args.repeat, 3)))

    ours = results[0].best_seconds
    print(f"{'tool':<20} {'what':<32} {'time':>10} {'vs ours':>9} {'versions':>9}  note")
    for result in results:
        shown = f"{result.best_seconds * 1000:8.1f}ms" if result.best_seconds is not None else "       n/a"
        ratio = (f"{result.best_seconds / ours:8.1f}x" if result.best_seconds is not None and ours
                 and result.tool != "deploy-actions CLI" else "")
        count = f"{result.versions:,}" if result.versions is not None else ""
        print(f"{result.tool:<20} {result.what:<32} {shown:>10} {ratio:>9} {count:>9}  {result.note}")
    if results[1].versions is not None and results[0].versions is not None \
            and results[1].versions != results[0].versions:
        print(f"note: keepachangelog reports {results[1].versions} versions against "
              f"{results[0].versions} headings: it turns link definitions such as [@alice]: … "
              "into versions")
    if args.json:
        args.json.write_text(json.dumps({"size": len(text), "version": version,
                                         "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
