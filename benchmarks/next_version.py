#!/usr/bin/env python3
"""Next-version computation, side by side with the tools users would pick instead.

One run generates (or reuses) repositories with N commits since the last release tag and
2,000 older tags, then times, on the same repository and the same commits:

  ours                  deploy-actions version-bump --repo DIR --dry-run --json
  ours-startup          deploy-actions --version  (ours' fixed cost, for reading small sizes)
  commitizen            cz bump --get-next
  semantic-release      semantic-release --noop version --print
  git-cliff             git cliff --bumped-version  (as documented; walks the whole history)
  git-cliff-unreleased  git cliff --unreleased --bumped-version  (the same answer, cheaper)
  floor                 git log --format=%H%n%B vX.Y.Z..HEAD > /dev/null
  (opt-in: commitizen-dry-run  cz bump --dry-run --yes)

Each command runs in a fresh subprocess: one warm-up run under GNU time (its output is
checked: every tool must name the same next version, and a disagreement is printed, not
hidden; its %M is the peak RSS: the largest resident set of the command or of any process it
waited for, git subprocesses included), then the best wall time of --repeat plain runs. A
command whose warm-up takes longer than --slow seconds is measured by that run alone.
Targets are reported but never change the exit status.

    python benchmarks/next_version.py                       # 1k, 20k, 100k commits
    python benchmarks/next_version.py --sizes 1000,20000 --repeat 5 --json out.json

The anchors are installed from PyPI into benchmarks/.tools/<tool>/ with the pins of
benchmarks/requirements-anchors.txt the first time they are needed. Generated repositories
are cached under .work/bench/, keyed by their parameters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = ROOT / "benchmarks" / ".tools"
PINS_FILE = ROOT / "benchmarks" / "requirements-anchors.txt"
WORK_DIR = ROOT / ".work" / "bench"
OURS_DEFAULT = str(Path(sys.executable).parent / "deploy-actions")  # of the venv running this

GENERATOR_VERSION = 3  # bump when the generated history changes shape
DEFAULT_SIZES = (1_000, 20_000, 100_000)
LAST_TAG = "v1.4.0"
EXPECTED = "1.5.0"  # the benchmark range has feat/fix/perf but no breaking change
FLOOR_TARGET = 2.5  # ours within this many times the git-log floor
FLAT_TARGET = 1.25  # ours' peak RSS at the largest size within this factor of the smallest

# --------------------------------------------------------------------------------------------
# Tool configuration, committed into the generated repository's first commit like a real
# project would have it. Each is the minimum the tool documents for "conventional commits,
# tags vX.Y.Z, version taken from the tags".
# --------------------------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "benchapp"
version = "0.0.0"
description = "Generated repository for benchmarks/next_version.py"

[tool.commitizen]
name = "cz_conventional_commits"
version_provider = "scm"
version_scheme = "semver"
tag_format = "v$version"
update_changelog_on_bump = false

[tool.semantic_release]
commit_parser = "conventional"
tag_format = "v{version}"
allow_zero_version = true
major_on_zero = true

[tool.semantic_release.branches.main]
match = "main"
prerelease = false

[tool.semantic_release.changelog]
mode = "update"
"""

CLIFF_TOML = """\
# Minimal git-cliff configuration: conventional commits, tags vX.Y.Z.
[changelog]
body = \"\"\"
{% for group, commits in commits | group_by(attribute="group") %}
### {{ group | upper_first }}
{% for commit in commits %}- {{ commit.message | upper_first }}
{% endfor %}{% endfor %}
\"\"\"
trim = true

[git]
conventional_commits = true
filter_unconventional = true
split_commits = false
commit_parsers = [
  { message = "^feat", group = "Features" },
  { message = "^fix", group = "Bug Fixes" },
  { message = "^perf", group = "Performance" },
  { message = "^doc", group = "Documentation" },
  { message = "^refactor", group = "Refactor" },
  { message = "^test", group = "Testing" },
  { message = "^(chore|ci|build)", group = "Miscellaneous" },
]
filter_commits = false
tag_pattern = "v[0-9]+\\\\.[0-9]+\\\\.[0-9]+"
sort_commits = "oldest"

[bump]
features_always_bump_minor = true
breaking_always_bump_major = true
"""

# --------------------------------------------------------------------------------------------
# Repository generation with git fast-import
# --------------------------------------------------------------------------------------------

TYPES = (  # (type, weight); no breaking changes anywhere, so every tool must say "minor"
    ("feat", 20), ("fix", 30), ("perf", 5), ("chore", 15), ("docs", 10), ("refactor", 6),
    ("test", 6), ("ci", 3), ("build", 3), (None, 2),  # None: a non-conventional message
)
SCOPES = ("api", "cli", "parser", "deps", "auth", "db", "ui", "config", "cache", "http",
          "release", "docs", "build", "core", "", "", "", "")
VERBS = ("add", "handle", "support", "remove", "rename", "simplify", "speed up", "document",
         "validate", "cache", "retry", "log", "expose", "deprecate", "guard against")
NOUNS = ("empty input", "unicode paths", "the retry budget", "trailing slashes", "large files",
         "the config loader", "timeouts", "pagination", "the token refresh", "nested tables",
         "missing fields", "symlinks", "the progress bar", "CRLF line endings", "proxies",
         "duplicate keys", "the lock file", "zero-length bodies", "time zones", "IPv6 hosts")
UNCONVENTIONAL = ("Update README", "WIP", "Fix typo", "Bump dependencies", "Tidy up",
                  "Address review comments")
WORDS = ("the", "a", "when", "is", "not", "so", "that", "we", "now", "this", "value", "request",
         "user", "file", "path", "error", "before", "after", "case", "because", "list", "order",
         "check", "again", "only", "still", "which", "returns", "instead", "of", "empty")
AUTHORS = tuple((f"Dev {i:02d}", f"dev{i:02d}@example.com") for i in range(24))
FOOTERS = ("Refs: #{n}", "Closes #{n}", "Reviewed-by: Dev 07 <dev07@example.com>",
           "Co-authored-by: Dev 11 <dev11@example.com>")


@dataclass(frozen=True)
class RepoSpec:
    commits: int  # since the last release tag
    old_tags: int = 2000
    commits_per_old_tag: int = 2
    files: int = 1000
    seed: int = 20261122

    def key(self) -> str:
        text = json.dumps([GENERATOR_VERSION, asdict(self), PYPROJECT, CLIFF_TOML])
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def path(self) -> Path:
        return WORK_DIR / f"repo-{self.commits}c-{self.old_tags}t-{self.key()}"


def old_versions(count: int) -> list[str]:
    """count increasing versions below 1.0.0: v0.0.1, v0.0.2, …, a minor bump every 40."""
    out, minor, patch = [], 0, 0
    for i in range(count):
        if i and i % 40 == 0:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        out.append(f"v0.{minor}.{patch}")
    return out


class FastImport:
    """Writes a git fast-import stream: one linear branch, annotated tags."""

    def __init__(self, out: _Buffered, rng: random.Random, spec: RepoSpec) -> None:
        self.out, self.rng, self.spec = out, rng, spec
        self.mark = 0
        self.when = 1_420_070_400  # 2015-01-01, five to ninety minutes between commits

    def _data(self, text: str) -> None:
        raw = text.encode()
        self.out.write(b"data %d\n" % len(raw))
        self.out.write(raw)
        self.out.write(b"\n")

    def commit(self, message: str, files: dict[str, str]) -> int:
        self.mark += 1
        self.when += self.rng.randint(300, 5400)
        name, email = self.rng.choice(AUTHORS)
        self.out.write(b"commit refs/heads/main\nmark :%d\n" % self.mark)
        ident = f"{name} <{email}> {self.when} +0000\n".encode()
        self.out.write(b"author " + ident + b"committer " + ident)
        self._data(message)
        for path, content in files.items():
            self.out.write(f"M 100644 inline {path}\n".encode())
            self._data(content)
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self.out.write(f"tag {name}\nfrom :{mark}\n".encode())
        self.out.write(f"tagger Dev 00 <dev00@example.com> {self.when} +0000\n".encode())
        self._data(f"Release {name}\n")

    def message(self) -> str:
        rng = self.rng
        kind = rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0]
        return self.message_of(kind)

    def message_of(self, kind: str | None) -> str:
        rng = self.rng
        if kind is None:
            return rng.choice(UNCONVENTIONAL) + "\n"
        scope = rng.choice(SCOPES)
        head = f"{kind}({scope})" if scope else kind
        subject = f"{head}: {rng.choice(VERBS)} {rng.choice(NOUNS)}"
        parts = [subject]
        if rng.random() < 0.35:  # a body of one or two wrapped paragraphs
            for _ in range(rng.randint(1, 2)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(8, 40))]
                lines, line = [], ""
                for w in words:
                    if len(line) + len(w) > 70:
                        lines.append(line)
                        line = ""
                    line = f"{line} {w}".strip()
                lines.append(line + ".")
                parts.append("\n".join(lines).capitalize())
        if rng.random() < 0.12:
            parts.append(rng.choice(FOOTERS).format(n=rng.randint(1, 9999)))
        return "\n\n".join(parts) + "\n"

    def touch(self) -> dict[str, str]:
        k = self.rng.randrange(self.spec.files)
        path = f"src/pkg{k % 20:02d}/mod{k:04d}.py"
        return {path: f'"""Module {k}."""\n\nVALUE = {self.mark + 1}\nNAME = "{path}"\n'}


def generate(spec: RepoSpec, log: IO[str]) -> Path:
    """Create spec's repository under WORK_DIR, or reuse the cached one."""
    target = spec.path()
    if (target / ".git" / "bench-complete").exists():
        return target
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=WORK_DIR))
    started = time.perf_counter()
    try:
        git = ["git", "-C", str(tmp)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        proc = subprocess.Popen([*git, "fast-import", "--quiet", "--done"],
                                stdin=subprocess.PIPE)
        assert proc.stdin is not None
        with proc.stdin as raw:
            out = _Buffered(raw)
            fi = FastImport(out, random.Random(spec.seed), spec)
            fi.commit("chore: initial commit\n", {
                "pyproject.toml": PYPROJECT, "cliff.toml": CLIFF_TOML,
                "README.md": "# benchapp\n\nGenerated by benchmarks/next_version.py.\n",
            })
            for version in old_versions(spec.old_tags):
                mark = 0
                for _ in range(spec.commits_per_old_tag):
                    mark = fi.commit(fi.message(), fi.touch())
                fi.tag(version, mark)
            mark = fi.commit(f"chore(release): {LAST_TAG}\n", {"CHANGELOG.md": "# Changelog\n"})
            fi.tag(LAST_TAG, mark)
            for i in range(spec.commits):
                message = fi.message_of("feat") if i == 0 else fi.message()
                fi.commit(message, fi.touch())
            out.write(b"done\n")
            out.flush()
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed with status {proc.returncode}")
        # A fresh clone is one pack with packed refs and no commit-graph: make it look so.
        subprocess.run([*git, "repack", "-a", "-d", "-q"], check=True)
        subprocess.run([*git, "pack-refs", "--all"], check=True)
        subprocess.run([*git, "reset", "-q", "--hard", "main"], check=True)
        # As in a CI checkout; semantic-release reads the remote's URL even with --print.
        subprocess.run([*git, "remote", "add", "origin", "https://github.com/example/benchapp.git"],
                       check=True)
        (tmp / ".git" / "bench-complete").write_text(json.dumps(asdict(spec)) + "\n")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"  generated {target.name} in {time.perf_counter() - started:.1f} s", file=log)
    return target


class _Buffered:
    """A write buffer in front of a pipe (fast-import streams are many small writes)."""

    def __init__(self, raw: IO[bytes], size: int = 1 << 20) -> None:
        self.raw, self.size, self.len = raw, size, 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.len += len(data)
        if self.len >= self.size:
            self.flush()

    def flush(self) -> None:
        self.raw.write(b"".join(self.parts))
        self.parts, self.len = [], 0


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    anchor: bool  # installed from PyPI into TOOLS_DIR/<name>
    exe: str  # the executable (name under the venv's bin/ for anchors)

    def argv(self, repo: Path, ours: str) -> list[str]:
        if self.name == "ours":
            return [ours, "version-bump", "--repo", str(repo), "--dry-run", "--json"]
        if self.name == "ours-startup":
            return [ours, "--version"]
        if self.name == "floor":
            return ["git", "-C", str(repo), "log", "--format=%H%n%B", f"{LAST_TAG}..HEAD"]
        bin_dir = TOOLS_DIR / self.venv() / "bin"
        exe = str(bin_dir / self.exe)
        if self.name == "commitizen":
            return [exe, "bump", "--get-next"]
        if self.name == "commitizen-dry-run":
            return [exe, "bump", "--dry-run", "--yes"]
        if self.name == "semantic-release":
            return [exe, "--noop", "version", "--print"]
        if self.name == "git-cliff":
            return [exe, "--bumped-version"]
        if self.name == "git-cliff-unreleased":
            return [exe, "--unreleased", "--bumped-version"]
        raise ValueError(self.name)

    def venv(self) -> str:
        for base in ("commitizen", "git-cliff"):
            if self.name.startswith(base):
                return base
        return self.name


TOOLS = (
    Tool("ours", "ours (deploy-actions)", False, "deploy-actions"),
    Tool("ours-startup", "  (ours' start-up: deploy-actions --version)", False, "deploy-actions"),
    Tool("commitizen", "commitizen (cz bump --get-next)", True, "cz"),
    Tool("commitizen-dry-run", "commitizen (cz bump --dry-run)", True, "cz"),
    Tool("semantic-release", "semantic-release --noop version --print", True, "semantic-release"),
    Tool("git-cliff", "git cliff --bumped-version", True, "git-cliff"),
    Tool("git-cliff-unreleased", "git cliff --unreleased --bumped-version", True, "git-cliff"),
    Tool("floor", "git log (floor)", False, "git"),
)
DEFAULT_TOOLS = ("ours", "ours-startup", "commitizen", "semantic-release", "git-cliff", "git-cliff-unreleased",
                 "floor")


ANCHOR_PACKAGES = {  # venv under TOOLS_DIR -> PyPI project pinned in PINS_FILE
    "commitizen": "commitizen",
    "semantic-release": "python-semantic-release",
    "git-cliff": "git-cliff",
}


def read_pins() -> dict[str, str]:
    """PyPI project name (normalized) -> its requirement line in PINS_FILE."""
    pins = {}
    for line in PINS_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = line.split("==")[0].split(">")[0].split("<")[0].split("[")[0].strip()
            pins[name.lower().replace("_", "-")] = line
    return pins


def install_anchor(venv_name: str, log: IO[str]) -> None:
    """Create TOOLS_DIR/<venv_name> with the pinned requirement, unless already there."""
    requirement = read_pins()[ANCHOR_PACKAGES[venv_name]]
    venv = TOOLS_DIR / venv_name
    stamp = venv / "bench-installed"
    if stamp.exists() and stamp.read_text().strip() == requirement:
        return
    print(f"  installing {requirement} into {venv.relative_to(ROOT)}", file=log)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", requirement], check=True)
    stamp.write_text(requirement + "\n")


def tool_version(tool: Tool, ours: str) -> str:
    if tool.name.startswith("ours"):
        argv = [ours, "--version"]
    elif tool.name == "floor":
        argv = ["git", "--version"]
    elif tool.venv() == "commitizen":
        argv = [str(TOOLS_DIR / "commitizen" / "bin" / "cz"), "version"]
    else:
        argv = [str(TOOLS_DIR / tool.venv() / "bin" / tool.exe), "--version"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[-1] if text else f"exit {done.returncode}"


def parse_version(tool: Tool, stdout: str) -> str | None:
    """The next version a tool printed, without a leading v; None when it printed none."""
    text = stdout.strip()
    if tool.name in ("floor", "ours-startup"):
        return None
    if tool.name == "ours":
        try:
            value = json.loads(text).get("version")
        except (ValueError, AttributeError):
            return "?"
        return str(value) if value else ""
    if tool.name == "commitizen-dry-run":
        for line in text.splitlines():  # "bump: version 1.4.0 → 1.5.0"
            if line.startswith("bump:") and "→" in line:
                return line.rsplit("→", 1)[1].strip().removeprefix("v")
        return "?"
    lines = text.splitlines()
    return lines[-1].strip().removeprefix("v") if lines else ""


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_kib: int
    status: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system of the child and the descendants it waited for


GNU_TIME = "/usr/bin/time"


def _gnu_time() -> bool:
    try:
        done = subprocess.run([GNU_TIME, "-f", "%M", "-o", os.devnull, "true"],
                              capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


HAVE_GNU_TIME = _gnu_time()
MEMORY_METHOD = (
    "peak RSS: GNU time's %M (largest resident set of the command or any process it waited for)"
    if HAVE_GNU_TIME else
    "peak RSS: wait4() rusage of the child (no GNU time here: includes this harness's resident "
    "set copied at fork, so small commands look bigger than they are)"
)


def run_once(argv: list[str], cwd: Path, env: dict[str, str], keep_stdout: bool,
             timeout: float, memory: bool = False) -> Run:
    """Run argv in a fresh process: wall time from here; with memory, peak RSS from GNU time
    when present (GNU time adds a fork and an exec, so timed runs go without it).

    The resident set a forked child inherits from its parent counts in that child's maxrss
    until it execs, so wait4() on a child of this Python process reports at least this
    process's own RSS. GNU time is a small C program: its child starts small.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as mem:
        wrap = memory and HAVE_GNU_TIME
        cmd = [GNU_TIME, "-f", "%M", "-o", mem.name, *argv] if wrap else argv
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                return Run(float("inf"), 0, -9, "", f"timed out after {timeout:.0f} s")
            time.sleep(0.0005 if time.perf_counter() - started < 0.5 else 0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kib = usage.ru_maxrss
        if wrap:
            # GNU time writes "Command exited with non-zero status N" before the numbers.
            lines = [x for x in mem.read().split() if x.isdigit()]
            peak_kib = int(lines[-1]) if lines else 0
        out.seek(0)
        err.seek(0)
        return Run(seconds, peak_kib, proc.returncode,
                   out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   usage.ru_utime + usage.ru_stime)


@dataclass
class Result:
    tool: str
    label: str
    commits: int
    seconds: float | None = None  # best of the timed runs
    all_seconds: list[float] = field(default_factory=list)
    cpu_seconds: float | None = None  # best user+system CPU of the timed runs
    all_cpu_seconds: list[float] = field(default_factory=list)
    peak_mib: float | None = None  # of the warm-up run, the one run under GNU time
    version: str | None = None
    error: str | None = None
    note: str = ""
    self_peak_mib: float | None = None  # ours: its Python process alone, git children excluded


def clean_env(tool: Tool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "GIT_", "VIRTUAL_ENV", "CZ_"))}
    env.pop("CI", None)  # semantic-release and friends change behaviour on CI
    env["LC_ALL"] = env["LANG"] = "C.UTF-8"
    if tool.anchor:  # a venv's console scripts work without activation; git-cliff is a binary
        env["PATH"] = f"{TOOLS_DIR / tool.venv() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def measure(tool: Tool, repo: Path, commits: int, repeat: int, ours: str, timeout: float,
            slow: float, log: IO[str]) -> Result:
    result = Result(tool.name, tool.label, commits)
    argv = tool.argv(repo, ours)
    env = clean_env(tool)
    keep = tool.name not in ("floor", "ours-startup")  # as `git log … > /dev/null`
    try:
        warm = run_once(argv, repo, env, keep, timeout, memory=True)
    except OSError as exc:
        result.error = f"cannot run: {exc}"
        return result
    if warm.status != 0:
        tail = (warm.stderr.strip() or warm.stdout.strip()).splitlines()[-3:]
        result.error = f"exit {warm.status}: " + " | ".join(tail)
        return result
    result.version = parse_version(tool, warm.stdout)
    result.peak_mib = warm.peak_kib / 1024
    if warm.seconds > slow:  # too slow to repeat: the warm-up run is the one measurement
        repeat = 0
        result.all_seconds.append(warm.seconds)
        result.all_cpu_seconds.append(warm.cpu_seconds)
        result.note = f"1 run (> {slow:.0f} s)"
    for _ in range(repeat):
        r = run_once(argv, repo, env, False, timeout)
        if r.status != 0:
            result.error = f"exit {r.status} on a timed run"
            return result
        result.all_seconds.append(r.seconds)
        result.all_cpu_seconds.append(r.cpu_seconds)
    result.seconds = min(result.all_seconds)
    result.cpu_seconds = min(result.all_cpu_seconds)
    if tool.name == "ours":
        result.self_peak_mib = python_self_peak(argv, repo, env, timeout)
    print(f"  {tool.name:<20} {commits:>7}  {result.seconds:8.3f} s  "
          f"cpu {result.cpu_seconds:8.3f} s  {result.peak_mib:7.1f} MiB"
          f"  {result.version or ''} {result.note}", file=log)
    return result


# The Python process of ours alone, without its git subprocesses: run the console script in
# process and report RUSAGE_SELF, which children do not count in.
_SELF_PROBE = """\
import resource, runpy, sys
out, sys.argv = sys.argv[1], sys.argv[2:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
with open(out, "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def python_self_peak(argv: list[str], cwd: Path, env: dict[str, str],
                     timeout: float) -> float | None:
    """Peak RSS in MiB of a Python console script's own process (None if not a Python script)."""
    try:
        with open(argv[0], "rb") as f:
            first = f.readline().decode(errors="replace")
    except OSError:
        return None
    if not first.startswith("#!") or "python" not in first:
        return None
    python = first[2:].strip().split()[0]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        # memory=True starts it under GNU time, so it does not inherit this process's pages.
        r = run_once([python, "-c", _SELF_PROBE, out.name, *argv], cwd, env, False, timeout,
                     memory=True)
        text = out.read().strip()
    return int(text) / 1024 if r.status == 0 and text.isdigit() else None


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def table(results: list[Result]) -> Iterator[str]:
    by = {(r.tool, r.commits): r for r in results}
    head = (f"{'tool':<44} {'commits':>8} {'seconds':>9} {'cpu s':>8} {'peak MiB':>9} "
            f"{'vs floor':>9} {'vs ours':>8}  next version")
    yield head
    yield "-" * len(head)
    sizes = sorted({r.commits for r in results})
    for size in sizes:
        floor = by.get(("floor", size))
        ours = by.get(("ours", size))
        for r in (x for x in results if x.commits == size):
            if r.error:
                yield (f"{r.label:<44} {size:>8} {'—':>9} {'—':>8} {'—':>9} {'':>9} {'':>8}  "
                       f"ERROR {r.error}")
                continue
            vs_ours = ratio(r.seconds, ours.seconds if ours and not ours.error else None)
            if r.tool in ("ours", "ours-startup", "floor"):
                vs_ours = ""
            vs_floor = "" if r.tool == "floor" else ratio(r.seconds, floor.seconds if floor else None)
            version = "" if r.version is None else (r.version or "(none)")
            if r.version is not None and r.version != EXPECTED:
                version += f"   <-- DISAGREES (expected {EXPECTED})"
            if r.note:
                version += f"   [{r.note}]"
            if r.self_peak_mib is not None:
                version += f"   [Python process alone: {r.self_peak_mib:.1f} MiB]"
            yield (f"{r.label:<44} {size:>8} {r.seconds:>9.3f} {r.cpu_seconds:>8.3f} "
                   f"{r.peak_mib:>9.1f} "
                   f"{vs_floor:>9} {vs_ours:>8}  {version}")
        yield ""


def verdicts(results: list[Result]) -> Iterator[str]:
    ours = sorted((r for r in results if r.tool == "ours" and not r.error),
                  key=lambda r: r.commits)
    floors = {r.commits: r for r in results if r.tool == "floor" and not r.error}
    if not ours:
        yield "targets: not checked (ours did not run)"
        return
    for r in ours:
        f = floors.get(r.commits)
        if f is None or r.seconds is None or f.seconds is None:
            yield f"target ours <= {FLOOR_TARGET}x floor at {r.commits}: not checked (no floor)"
            continue
        x = r.seconds / f.seconds
        state = "holds" if x <= FLOOR_TARGET else "MISSED"
        cpu = ""
        if r.cpu_seconds and f.cpu_seconds:
            cpu = f"; in CPU time {r.cpu_seconds / f.cpu_seconds:.2f}x"
        yield (f"target ours <= {FLOOR_TARGET}x git-log floor at {r.commits:>6} commits: "
               f"{x:.2f}x ({r.seconds:.3f} s vs {f.seconds:.3f} s) — {state}{cpu}")
    if len(ours) >= 2:
        for what, peaks in (
            ("whole process tree, git children included", [r.peak_mib for r in ours]),
            ("its Python process alone", [r.self_peak_mib for r in ours]),
        ):
            if any(p is None for p in peaks):
                yield f"target peak memory flat ({what}): not measured"
                continue
            known = [p or 0.0 for p in peaks]
            growth = known[-1] / known[0] if known[0] else float("inf")
            state = "holds" if growth <= FLAT_TARGET else "MISSED"
            shown = ", ".join(f"{r.commits}: {p:.1f}" for r, p in zip(ours, known, strict=True))
            yield (f"target ours' peak memory flat in commits, {what} "
                   f"(largest/smallest <= {FLAT_TARGET}): {growth:.2f}x ({shown} MiB) — {state}")
        floor_peaks = [floors[r.commits].peak_mib for r in ours if r.commits in floors]
        if len(floor_peaks) == len(ours):
            shown = ", ".join(f"{r.commits}: {p:.1f}" for r, p in zip(ours, floor_peaks,
                                                                      strict=True))
            yield f"  (for reference, the git-log floor's own peak: {shown} MiB)"
    else:
        yield "target peak memory flat: not checked (needs two sizes or more)"
    disagreements = [r for r in results if r.version is not None and r.version != EXPECTED]
    if disagreements:
        for r in disagreements:
            yield (f"DISAGREEMENT: {r.label} at {r.commits} commits says "
                   f"{r.version or '(none)'}, expected {EXPECTED}")
    else:
        yield f"all tools that ran agree on the next version: {EXPECTED}"


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                   help="commits since the last tag, comma-separated (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per tool, best counts")
    p.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                   help="comma-separated, from: " + ", ".join(t.name for t in TOOLS)
                   + " (default: %(default)s)")
    p.add_argument("--old-tags", type=int, default=2000, help="older release tags")
    p.add_argument("--ours", default=OURS_DEFAULT, help="the deploy-actions executable")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run before a kill")
    p.add_argument("--slow", type=float, default=30.0,
                   help="a command whose warm-up run takes longer is measured once: that run")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write results here")
    p.add_argument("--regenerate", action="store_true", help="rebuild the cached repositories")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes: {args.sizes!r} is not a comma-separated list of integers")
    known = {t.name: t for t in TOOLS}
    names = [s.strip() for s in args.tools.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        p.error(f"--tools: unknown {', '.join(unknown)}; expected some of {', '.join(known)}")
    args.tools = [known[n] for n in names]
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 1:
        p.error("--repeat and every size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = sys.stderr
    started = time.perf_counter()
    for venv in sorted({t.venv() for t in args.tools if t.anchor}):
        install_anchor(venv, log)
    versions = {t.name: tool_version(t, args.ours) for t in args.tools}
    print("tools:", file=log)
    for t in args.tools:
        print(f"  {t.name:<18} {versions[t.name]}", file=log)

    results: list[Result] = []
    repos: dict[int, str] = {}
    size_seconds: dict[int, float] = {}
    for size in args.sizes:
        spec = RepoSpec(commits=size, old_tags=args.old_tags)
        if args.regenerate and spec.path().exists():
            shutil.rmtree(spec.path())
        print(f"{size} commits since {LAST_TAG}, {args.old_tags} older tags:", file=log)
        size_started = time.perf_counter()
        repo = generate(spec, log)
        repos[size] = str(repo)
        for tool in args.tools:
            results.append(measure(tool, repo, size, args.repeat, args.ours, args.timeout,
                                   args.slow, log))
        size_seconds[size] = time.perf_counter() - size_started
        print(f"  ({size} commits: {size_seconds[size]:.0f} s in all)", file=log)

    print()
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Next version after {LAST_TAG}, {args.old_tags} older tags; best of {args.repeat} "
          f"timed runs after a warm-up, wall seconds; {MEMORY_METHOD}. "
          f"{os.cpu_count()} CPUs, load average at the end {load}.")
    for line in table(results):
        print(line)
    for line in verdicts(results):
        print(line)
    elapsed = time.perf_counter() - started
    per_size = ", ".join(f"{k} commits {v:.0f} s" for k, v in size_seconds.items())
    print(f"(whole run: {elapsed:.0f} s; {per_size})")

    if args.json_out:
        payload = {
            "benchmark": "next_version",
            "last_tag": LAST_TAG,
            "expected_version": EXPECTED,
            "repeat": args.repeat,
            "old_tags": args.old_tags,
            "memory_method": MEMORY_METHOD,
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
            "tool_versions": versions,
            "commands": {t.name: t.argv(Path("<repo>"), args.ours) for t in args.tools},
            "repos": repos,
            "results": [asdict(r) for r in results],
            "targets": list(verdicts(results)),
            "elapsed_seconds": elapsed,
            "seconds_per_size": size_seconds,
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
