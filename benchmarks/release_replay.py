#!/usr/bin/env python3
"""Release replay: version-bump and changelog-check over generated release histories with
the shapes real repositories have, printing how often they agree with the release bots.

No public history can be fetched on these machines, so the histories are generated, seeded,
from the shapes issue 13 found in real repositories (release-please, python-semantic-release,
semantic-release and commitizen users):

  conventional        1-4 plain Conventional Commits (feat/fix/perf/docs/chore/refactor, scopes)
  squash-title        `fix: retry EPIPE (#2040)` whose body lists `* feat: …` (the bots: a patch)
  dependabot          `build(deps): bump …` quoting upstream notes with `feat!:` lines, then a fix
  renovate            `fix(deps): update dependency … to v8`, release notes in <details>/`>`
  breaking-footer     `feat: …` + `BREAKING CHANGE: …`            (major)
  bang                `feat(api)!: …`                               (major)
  release-as          `chore: …` + `Release-As: x.y.z`              (release-please: exactly x.y.z)
  nested              `BEGIN_NESTED_COMMIT` blocks in a squash body (release-please)
  channels            alpha.1, then beta with no new commit, then the final (semantic-release)
  hotfix              a patch tagged on a maintenance branch, then a fix on main (steps over it)

and monorepo histories (release-please's manifest releaser): three packages, one nested in
another, and commits touching one package, two, or none (CI files, the root README); at each
point one run releases every package, compared package by package with a release-please model
(a file belongs to the deepest package holding it; each package bumps from its own commits).

Each history is replayed release by release: at each release point the command runs in a fresh
process (`deploy-actions version-bump --dry-run --json`, with the channel the bot used), its
answer is compared with the version the bot released (the oracle, from the bots' documented
rules: an independent model here, never our code), and the oracle's tag is created so the next
point starts from the real history. The CHANGELOG.md the bot wrote (release-please's format,
`###` headings for patches) is then read back entry by entry and compared with what was written.

    python benchmarks/release_replay.py                      # 8 histories x 30 releases
    python benchmarks/release_replay.py --histories 2 --releases 10 --json out.json
    python benchmarks/release_replay.py --histories 0 --monorepos 2 --releases 20   # monorepos only

Agreement and times are printed; the exit status is 0 whatever they are.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ("conventional", "squash-title", "dependabot", "renovate", "breaking-footer", "bang",
          "release-as", "nested", "channels", "hotfix")
WEIGHTS = (30, 12, 8, 8, 3, 3, 2, 4, 4, 4)
FEATURES = ("add search", "stream uploads", "export to CSV", "dark mode", "retry on reset", "S3 backend")
FIXES = ("close files on error", "escape the query", "handle EOF", "race in the pool", "typo in help")


@dataclass
class Point:
    history: int
    shape: str
    expected: str
    got: str = ""
    seconds: float = 0.0

    @property
    def agrees(self) -> bool:
        return self.got == self.expected


@dataclass
class Oracle:
    """The bots' rules, written independently of deploy-actions: semver bumps from the level,
    prereleases counted per channel, Release-As taken as is."""

    major: int = 1
    minor: int = 0
    patch: int = 0
    released: set[str] = field(default_factory=set)

    def bump(self, level: str) -> str:
        if level == "major":
            self.major, self.minor, self.patch = self.major + 1, 0, 0
        elif level == "minor":
            self.minor, self.patch = self.minor + 1, 0
        else:
            self.patch += 1
        while str(self) in self.released:  # a hotfix branch took it: the next above the line
            self.patch += 1
        return str(self)

    def set(self, version: str) -> str:
        self.major, self.minor, self.patch = (int(p) for p in version.split("."))
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


class Repo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.clock = 1_600_000_000
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        self.clock += 60
        env = {**os.environ, "GIT_AUTHOR_DATE": f"{self.clock} +0000", "GIT_COMMITTER_DATE": f"{self.clock} +0000",
               "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
               "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
        done = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                              cwd=self.path, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def commit(self, message: str) -> None:
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def tag(self, version: str) -> None:
        self.git("tag", "-a", f"v{version}", "-m", f"v{version}")


def dependabot_body(rng: random.Random, n: int) -> str:
    return (f"build(deps): bump github.com/spf13/cobra from 1.7.0 to 1.8.0 (#{n})\n\n"
            "Bumps [github.com/spf13/cobra](https://github.com/spf13/cobra) from 1.7.0 to 1.8.0.\n"
            "- [Release notes](https://github.com/spf13/cobra/releases)\n\n<details>\n"
            "<summary>Release notes</summary>\n<blockquote>\n<h2>v1.8.0</h2>\n"
            f"- feat!: {rng.choice(FEATURES)}\n* feat: {rng.choice(FEATURES)}\n"
            "BREAKING CHANGE: completions moved\n</blockquote>\n</details>\n\n---\n"
            "updated-dependencies:\n- dependency-name: github.com/spf13/cobra\n"
            "  dependency-type: direct:production\n  update-type: version-update:semver-minor\n...\n\n"
            "Signed-off-by: dependabot[bot] <support@github.com>")


def renovate_body(rng: random.Random, n: int) -> str:
    return (f"fix(deps): update dependency pytest to v8 (#{n})\n\n"
            "This PR contains the following updates:\n\n| Package | Change |\n|---|---|\n"
            "| pytest | `7.4.4` -> `8.0.0` |\n\n---\n\n### Release Notes\n\n<details>\n"
            f"<summary>pytest-dev/pytest (pytest)</summary>\n\n- feat!: {rng.choice(FEATURES)}\n</details>\n\n"
            f"> - feat!: drop Python 3.7\n")


def play(rng: random.Random, shape: str, repo: Repo, oracle: Oracle, pr: int
         ) -> list[tuple[str, list[str]]]:
    """Make the shape's commits; return its release points as (expected version, extra args).
    Tags are created by the caller after each point, except those the shape makes itself."""
    feature, fix = rng.choice(FEATURES), rng.choice(FIXES)
    if shape == "conventional":
        kinds = [rng.choice(("feat", "fix", "fix", "perf", "docs", "chore", "refactor"))
                 for _ in range(rng.randint(1, 4))]
        if not set(kinds) & {"feat", "fix", "perf"}:
            kinds.append("fix")
        for kind in kinds:
            scope = rng.choice(("", "(api)", "(cli)"))
            repo.commit(f"{kind}{scope}: {feature if kind == 'feat' else fix}")
        return [(oracle.bump("minor" if "feat" in kinds else "patch"), [])]
    if shape == "squash-title":
        repo.commit(f"fix: {fix} (#{pr})\n\n* feat: {feature}\n\n* test: cover it\n\n---------\n\n"
                    "Co-authored-by: A <a@example.com>")
        return [(oracle.bump("patch"), [])]
    if shape == "dependabot":
        repo.commit(dependabot_body(rng, pr))
        repo.commit(f"fix: {fix}")
        return [(oracle.bump("patch"), [])]
    if shape == "renovate":
        repo.commit(renovate_body(rng, pr))
        return [(oracle.bump("patch"), [])]
    if shape == "breaking-footer":
        repo.commit(f"feat: {feature}\n\nBREAKING CHANGE: the `dir` key is now `path`")
        return [(oracle.bump("major"), [])]
    if shape == "bang":
        repo.commit(f"feat(api)!: {feature}")
        return [(oracle.bump("major"), [])]
    if shape == "release-as":
        target = f"{oracle.major + 1}.0.0"
        repo.commit(f"chore: prepare {target}\n\nRelease-As: {target}")
        repo.commit(f"fix: {fix}")
        return [(oracle.set(target), [])]
    if shape == "nested":
        repo.commit(f"chore: sync from the monorepo (#{pr})\n\nBEGIN_NESTED_COMMIT\nfeat(storage): {feature}\n"
                    f"END_NESTED_COMMIT\nBEGIN_NESTED_COMMIT\nfix: {fix}\nEND_NESTED_COMMIT\n")
        return [(oracle.bump("minor"), [])]
    if shape == "channels":
        repo.commit(f"fix: {fix}")
        line = Oracle(oracle.major, oracle.minor, oracle.patch, oracle.released).bump("patch")
        points = [(f"{line}-alpha.1", ["--prerelease-id", "alpha"]), (f"{line}-beta.1", ["--prerelease-id", "beta"])]
        # the final comes as a point of its own after the two prereleases are tagged
        return [*points, (oracle.bump("patch"), [])]
    if shape == "hotfix":
        base = str(oracle)
        repo.git("checkout", "-q", "-b", f"hotfix/{base}", f"v{base}")
        repo.commit(f"fix: {fix} (backport)")
        taken = f"{oracle.major}.{oracle.minor}.{oracle.patch + 1}"
        repo.tag(taken)
        oracle.released.add(taken)
        repo.git("checkout", "-q", "main")
        repo.commit(f"fix: {fix}")
        return [(oracle.bump("patch"), [])]
    raise ValueError(shape)


MONO_PACKAGES = {"services/api": "api", "services/web": "web", "services/api/plugins": "plugins"}
MONO_FILES = ("services/api/app.py", "services/api/db.py", "services/web/app.js", "services/web/style.css",
              "services/api/plugins/hooks.py", "services/api/plugins/sub/x.py", "README.md", ".github/ci.yml")
MONO_KINDS = ("feat", "fix", "fix", "perf", "docs", "chore", "feat!")


def _owner(path: str) -> str | None:
    """release-please's rule, written out: the deepest package folder holding the file."""
    holding = [folder for folder in MONO_PACKAGES if path.startswith(folder + "/")]
    return MONO_PACKAGES[max(holding, key=len)] if holding else None


def replay_monorepo(index: int, releases: int, work: Path, seed: int, src: Path) -> list[Point]:
    rng = random.Random(seed * 7000 + index)
    repo = Repo(work / f"monorepo-{index}")
    config = repo.path / ".deploy-actions.yml"
    config.write_text("version-bump:\n  packages:\n" + "".join(f"    {folder}: {{}}\n" for folder in MONO_PACKAGES))
    repo.git("add", "-A")
    repo.commit("chore: the packages")
    oracles = {component: Oracle() for component in MONO_PACKAGES.values()}
    for component in oracles:
        repo.git("tag", "-a", f"{component}-v1.0.0", "-m", "first")
    points = []
    order = {"patch": 1, "minor": 2, "major": 3}
    for _ in range(releases):
        levels: dict[str, str] = {}
        for n in range(rng.randint(1, 4)):
            kind = rng.choice(MONO_KINDS)
            files = rng.sample(MONO_FILES, rng.randint(1, 2))
            for name in files:
                target = repo.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"{rng.random()}\n")
            repo.git("add", "-A")
            subject = rng.choice(FEATURES if kind.startswith("feat") else FIXES)
            repo.commit(f"{kind}: {subject} {n}")
            level = {"feat": "minor", "feat!": "major", "fix": "patch", "perf": "patch"}.get(kind)
            for component in {c for name in files if (c := _owner(name)) is not None}:
                if level and order[level] > order.get(levels.get(component, ""), 0):
                    levels[component] = level
        expected = {component: oracles[component].bump(level) for component, level in sorted(levels.items())}
        got, seconds = run_ours_packages(repo.path, src)
        points.append(Point(index, "monorepo", json.dumps(expected, sort_keys=True),
                            json.dumps(got, sort_keys=True) if isinstance(got, dict) else got, seconds))
        for component, version in expected.items():
            repo.git("tag", "-a", f"{component}-v{version}", "-m", "release")
    return points


def run_ours_packages(repo: Path, src: Path) -> tuple[dict[str, str] | str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
    env["PYTHONPATH"] = str(src)
    argv = [sys.executable, "-m", "deploy_actions", "version-bump", "--repo", str(repo), "--dry-run", "--json"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    try:
        return {p["component"]: p["version"] for p in json.loads(done.stdout)["packages"]}, seconds
    except (ValueError, KeyError, TypeError):
        return f"error: {(done.stderr.strip().splitlines() or ['?'])[-1]}", seconds


def run_ours(repo: Path, extra: list[str], src: Path) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
    env["PYTHONPATH"] = str(src)
    argv = [sys.executable, "-m", "deploy_actions", "version-bump", "--repo", str(repo), "--dry-run", "--json", *extra]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    try:
        return str(json.loads(done.stdout).get("version") or "none"), seconds
    except ValueError:
        return f"error: {(done.stderr.strip().splitlines() or ['?'])[-1]}", seconds


def changelog_entry(version: str, previous: str, level: int, notes: list[str]) -> str:
    """A release-please entry; patches used `###` for years."""
    heading = "#" * level
    url = f"https://github.com/acme/app/compare/v{previous}...v{version}"
    body = "\n".join(notes)
    return f"{heading} [{version}]({url}) (2024-01-01)\n\n\n### Bug Fixes\n\n{body}\n\n"


def replay(index: int, releases: int, work: Path, seed: int, src: Path) -> tuple[list[Point], int, int]:
    rng = random.Random(seed * 1000 + index)
    repo = Repo(work / f"history-{index}")
    repo.commit("chore: initial commit")
    oracle = Oracle()
    repo.tag(str(oracle))
    oracle.released.add(str(oracle))
    points: list[Point] = []
    changelog: list[tuple[str, str]] = []  # (version, notes) newest last
    pr = 100
    while len(points) < releases:
        shape = rng.choices(SHAPES, WEIGHTS)[0]
        pr += 1
        for expected, extra in play(rng, shape, repo, oracle, pr):
            got, seconds = run_ours(repo.path, extra, src)
            points.append(Point(index, shape, expected, got, seconds))
            repo.tag(expected)  # what the bot released: the history goes on from it
            oracle.released.add(expected)
            if "-" not in expected:
                changelog.append((expected, f"* {shape} {expected} ([abc{len(changelog):04d}]"
                                            f"(https://github.com/acme/app/commit/abc{len(changelog):04d}))"))
    # changelog-check: read every entry of the file the bot wrote back
    from deploy_actions.release.changelog import parse_changelog

    text = "# Changelog\n\n"
    prior = "1.0.0"
    blocks = []
    for version, note in changelog:
        level = 2 if version.endswith(".0") else 3
        blocks.append(changelog_entry(version, prior, level, [note]))
        prior = version
    text += "".join(reversed(blocks))
    parsed = parse_changelog(text)
    identical = sum(1 for version, note in changelog
                    if (entry := parsed.entry(version)) is not None and entry.notes == f"### Bug Fixes\n\n{note}")
    return points, identical, len(changelog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histories", type=int, default=8)
    parser.add_argument("--releases", type=int, default=30, help="release points per history")
    parser.add_argument("--monorepos", type=int, default=2, help="monorepo histories (three packages each)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--src", type=Path, default=ROOT / "src",
                        help="the deploy_actions sources to replay (e.g. an older checkout's src/)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.src.resolve()))
    work = Path(tempfile.mkdtemp(prefix="release-replay-"))
    points: list[Point] = []
    identical = entries = 0
    try:
        for index in range(args.histories):
            found, same, total = replay(index, args.releases, work, args.seed, args.src.resolve())
            points += found
            identical += same
            entries += total
            agreed = sum(p.agrees for p in found)
            print(f"history {index}: {agreed}/{len(found)} versions agree, changelog {same}/{total} entries identical",
                  flush=True)
        for index in range(args.monorepos):
            found = replay_monorepo(index, args.releases, work, args.seed, args.src.resolve())
            points += found
            print(f"monorepo {index}: {sum(p.agrees for p in found)}/{len(found)} release points agree on every "
                  "package's version", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    agreed = sum(p.agrees for p in points)
    print(f"\nversion-bump: {agreed}/{len(points)} release points agree with the version released "
          f"({100 * agreed / max(len(points), 1):.1f} %)")
    by_shape: Counter[str] = Counter(p.shape for p in points)
    ok_shape: Counter[str] = Counter(p.shape for p in points if p.agrees)
    print("\n| shape | points | agree |\n| --- | --- | --- |")
    for shape in (*SHAPES, "monorepo"):
        if by_shape[shape]:
            print(f"| {shape} | {by_shape[shape]} | {ok_shape[shape]} |")
    misses = [p for p in points if not p.agrees]
    for miss in misses[:20]:
        print(f"  miss: history {miss.history} {miss.shape}: expected {miss.expected}, got {miss.got}")
    times = sorted(p.seconds for p in points)
    if times:
        print(f"\ntime per release point (a fresh process): median {times[len(times) // 2]:.2f} s, "
              f"max {times[-1]:.2f} s")
    print(f"changelog-check: {identical}/{entries} entries of release-please changelogs read back identical")
    if args.json:
        args.json.write_text(json.dumps({"points": [asdict(p) for p in points], "agreed": agreed,
                                         "changelog_identical": identical, "changelog_entries": entries}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
