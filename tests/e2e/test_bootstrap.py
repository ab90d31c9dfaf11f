"""bootstrap.py, the entry point of every composite action: one locked virtualenv per version of
the code, built once, atomically, and reused by every later step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.plugins.act import Act, snapshot_working_tree
from tests.plugins.git_repos import GitRepo

pytestmark = pytest.mark.e2e

TWO_STEPS = """\
name: two steps
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: git clone --quiet "$DA_TEST_CHECKOUT_REMOTE" .
      - uses: org/deploy-actions/changelog-check@v1
      - uses: org/deploy-actions/changelog-check@v1
        with:
          version: "1.0.0"
"""

CHANGELOG = """\
# Changelog

## [1.0.0] - 2026-01-01

### Added

- Everything.
"""


def bootstrap(checkout: Path, cache: Path, *args: str,
              env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("GITHUB_ACTIONS", "RUNNER_TOOL_CACHE", "RUNNER_TEMP")}
    full_env.update({"RUNNER_TOOL_CACHE": str(cache), **(env or {})})
    # The python3 the actions run (the key includes the interpreter), as warm_tool_cache does.
    python = shutil.which("python3") or sys.executable
    return subprocess.run([python, str(checkout / "bootstrap.py"), *args], env=full_env,
                          capture_output=True, text=True, check=False, timeout=900,
                          stdin=subprocess.DEVNULL)


def environments(cache: Path) -> list[str]:
    base = cache / "deploy-actions"
    return sorted(p.name for p in base.iterdir() if not p.name.startswith(".")) if base.exists() else []


@pytest.fixture
def checkout(deploy_actions_checkout: Path, tmp_path: Path) -> Path:
    """A private copy of the snapshot, free to be changed by the test."""
    copy = tmp_path / "deploy-actions"
    shutil.copytree(deploy_actions_checkout, copy, symlinks=True)
    return copy


def load_bootstrap(checkout: Path) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bootstrap_under_test", checkout / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_key_changes_with_the_code_and_not_with_caches(checkout: Path) -> None:
    module = load_bootstrap(checkout)
    key = module.environment_key(checkout)  # type: ignore[attr-defined]

    cache_dir = checkout / "src" / "deploy_actions" / "__pycache__"
    cache_dir.mkdir(exist_ok=True)
    (cache_dir / "cli.cpython-311.pyc").write_bytes(b"\0")
    (checkout / "src" / "deploy_actions.egg-info").mkdir()
    assert module.environment_key(checkout) == key  # type: ignore[attr-defined]

    cli = checkout / "src" / "deploy_actions" / "cli.py"
    cli.write_text(cli.read_text() + "\n# a change under the same ref name\n")
    changed = module.environment_key(checkout)  # type: ignore[attr-defined]
    assert changed != key

    lock = checkout / "requirements.lock"
    lock.write_text(lock.read_text() + "\n")
    assert module.environment_key(checkout) not in (key, changed)  # type: ignore[attr-defined]


def test_warm_environment_is_reused_without_pip(act_session: Act) -> None:
    cache = act_session.tool_cache
    before = environments(cache)

    proc = bootstrap(act_session.actions_checkout, cache, "--version")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("deploy-actions ")
    assert proc.stderr == "", "the fast path prints nothing of its own"
    assert environments(cache) == before


def test_an_unfinished_environment_is_never_trusted(act_session: Act, tmp_path: Path) -> None:
    """A directory in the key's place without the ready marker (a crash, a partial cache
    restore) is rebuilt, not used."""
    checkout = act_session.actions_checkout
    module = load_bootstrap(checkout)
    key = module.environment_key(checkout)  # type: ignore[attr-defined]
    cache = tmp_path / "cache"
    shutil.copytree(act_session.tool_cache / "deploy-actions" / key,
                    cache / "deploy-actions" / key, symlinks=True)
    (cache / "deploy-actions" / key / module.MARKER).unlink()  # type: ignore[attr-defined]
    shutil.rmtree(cache / "deploy-actions" / key / "lib")  # half-made: no packages

    proc = bootstrap(checkout, cache, "--version")

    assert proc.returncode == 0, proc.stderr
    assert "creating a virtualenv" in proc.stderr
    assert (cache / "deploy-actions" / key / module.MARKER).is_file()  # type: ignore[attr-defined]
    assert environments(cache) == [key]


def test_pip_failure_is_one_line_and_exit_2_and_leaves_nothing_behind(checkout: Path,
                                                                      tmp_path: Path) -> None:
    (checkout / "requirements.lock").write_text(
        "no-such-package-deploy-actions-test==1.0 \\\n"
        "    --hash=sha256:" + "0" * 64 + "\n")
    cache = tmp_path / "cache"

    proc = bootstrap(checkout, cache, "--version",
                     env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "GITHUB_ACTIONS": "true"})

    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, proc.stderr
    assert "pip install of the locked dependencies failed" in errors[0]
    assert "::group::" in proc.stderr and "::endgroup::" in proc.stderr
    assert environments(cache) == []
    assert list((cache / "deploy-actions").iterdir()) == [], "no scratch directory left"


def test_first_use_in_a_job_builds_once_and_the_second_action_reuses_it(
        act_session: Act, tmp_path: Path, git_repo: GitRepo) -> None:
    workflow = git_repo.write(".github/workflows/check.yml", TWO_STEPS)
    git_repo.commit("docs: changelog", {"CHANGELOG.md": CHANGELOG})
    git_repo.push()
    cold = Act(binary=act_session.binary, actions_checkout=act_session.actions_checkout,
               cache_dir=tmp_path / "cold-cache", checkout_standin=act_session.checkout_standin,
               checkout_refs=act_session.checkout_refs, work_dir=tmp_path / "act")

    run = cold.run(workflow, cwd=git_repo.path, checkout_remote=git_repo.remote)

    assert run.ok, run.report
    assert run.log.count("deploy-actions: setting up") == 1, run.report
    assert run.log.count("ready in ") == 1, run.report
    assert len(environments(cold.tool_cache)) == 1


def test_snapshot_holds_uncommitted_work_and_nothing_ignored(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    (source / ".gitignore").write_text("ignored/\n")
    (source / "tracked.txt").write_text("committed\n")
    subprocess.run(["git", "-C", str(source), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "init"], check=True)
    (source / "tracked.txt").write_text("edited, not committed\n")
    (source / "new.txt").write_text("untracked\n")
    (source / "ignored").mkdir()
    (source / "ignored" / "junk").write_text("junk\n")

    snap = snapshot_working_tree(source, tmp_path / "snap")

    assert (snap / "tracked.txt").read_text() == "edited, not committed\n"
    assert (snap / "new.txt").read_text() == "untracked\n"
    assert not (snap / "ignored").exists()
    status = subprocess.run(["git", "-C", str(snap), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == "", "everything is committed"
    tags = subprocess.run(["git", "-C", str(snap), "tag"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert tags == ["v1"]


def test_installed_package_matches_pyproject(act_session: Act) -> None:
    """bootstrap.py installs the package without a build; its name, version and console
    scripts must be the ones pyproject.toml declares."""
    import tomlkit

    checkout = act_session.actions_checkout
    module = load_bootstrap(checkout)
    project = tomlkit.parse((checkout / "pyproject.toml").read_text()).unwrap()["project"]
    assert module.DIST_NAME == project["name"]  # type: ignore[attr-defined]
    assert module.CONSOLE_SCRIPTS == project["scripts"]  # type: ignore[attr-defined]

    key = module.environment_key(checkout)  # type: ignore[attr-defined]
    python = act_session.tool_cache / "deploy-actions" / key / "bin" / "python"
    metadata = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; d = m.distribution('deploy-actions');"
         " print(d.version, *sorted(e.name for e in d.entry_points))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert metadata == [project["version"], *sorted(project["scripts"])]


def test_concurrent_first_uses_agree_on_one_environment(act_session: Act, tmp_path: Path) -> None:
    """Two steps that start on an empty cache at once (parallel jobs on one runner) both
    succeed; one environment is kept and no scratch directory is left behind."""
    checkout = act_session.actions_checkout
    cache = tmp_path / "cache"
    python = shutil.which("python3") or sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "RUNNER_TEMP")}
    env["RUNNER_TOOL_CACHE"] = str(cache)
    procs = [subprocess.Popen([python, str(checkout / "bootstrap.py"), "--version"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    results = [proc.communicate(timeout=900) for proc in procs]

    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.startswith("deploy-actions ")
    assert len(environments(cache)) == 1
    assert [p.name for p in (cache / "deploy-actions").iterdir()] == environments(cache)
