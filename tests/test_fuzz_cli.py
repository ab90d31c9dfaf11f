"""Every flag of every command, given hostile values: never a traceback, never a hang; bad input is
exit 2 with one line naming the input, and leaves every file exactly as it was.

The commands are read from the specs, so a new command or flag is fuzzed without touching this file.
Each command starts from arguments that make it quick and local (a throw-away repository, services
on a port where nothing listens); one flag at a time is replaced by a hostile value.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deploy_actions import actions_runtime
from deploy_actions.cli import main
from deploy_actions.commands import COMMANDS
from deploy_actions.commands.spec import Option
from deploy_actions.errors import InputError
from deploy_actions.untrusted import duration as parse_duration

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens
SECONDS_PER_RUN = 20  # a run that takes longer is a hang: the alarm turns it into a failure

# Values that broke commands before (issue 10) or break parsers generally. Every flag meets all of them.
HOSTILE = [
    "x\n::add-mask::x\n::warning::pwned", "--upload-pack=touch pwned", "", "\x00", "A" * 70_000, "x" * 300,
    "../../../../etc/passwd", "/dev/zero", ".git/hooks/pre-commit", "http://[::1", "inf", "1e309", "-1", "9" * 400,
    "2001-12-14t21:59:43.10-05:00", "{app.__class__}", "- a\n- [", "main..dev",
]
# More, for the generated values to start from.
SEEDS = [*HOSTILE, "-", " ", "\r", "http://:80", "https://user:pw@example.com/", "file:///etc/passwd", "-inf",
         "nan", "1e20", "{0}", "%s%n", "${{ github.token }}", "[", "{", ": : :", "* * *", "\ud7ff\ufffe", "@{-1}",
         "v1.0.0\nSigned-off-by: x"]


def _template(root: Path) -> Path:
    repo = root / "template"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: app\n          image: ghcr.io/org/app:v1.0.0\n")
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-11-01\n\n### Added\n"
                                       "\n- The first release.\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.0.0"\n')
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "feat: first"], cwd=repo, check=True)
    subprocess.run([*git, "tag", "-a", "v1.0.0", "-m", "v1.0.0"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "fix: a fix"], cwd=repo, check=True)
    return repo


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _template(tmp_path_factory.mktemp("fuzz"))


def _base_args(command: str, repo: Path) -> dict[str, str]:
    base = {
        "version-bump": {"repo": str(repo), "dry-run": "true"},
        "changelog-check": {"file": "CHANGELOG.md", "version": "1.0.0"},
        "gitops-bump": {"path": str(repo / "apps"), "image": "ghcr.io/org/app", "tag": "v1.1.0",
                        "verify-image": "false", "mode": "none", "record": ""},
        "smoke-test": {"url": f"{DEAD}/health", "timeout": "300ms", "request-timeout": "100ms"},
        "canary-monitor": {"provider": "probe", "canary-url": f"{DEAD}/c", "baseline-url": f"{DEAD}/b",
                           "duration": "300ms", "interval": "100ms", "min-duration": "300ms", "timeout": "100ms",
                           "retries": "0"},
        "gate": {"version": "1.0.0", "repo": str(repo)},
        "deployment": {"event": "opened", "app": "app", "environment": "staging", "version": "v1.0.0"},
    }
    return dict(base.get(command, {}))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


class Hang(Exception):
    pass


@pytest.fixture(scope="module", autouse=True)
def _bounded_memory() -> Iterator[None]:
    """A value that makes a command read or build something endless fails here, not the whole machine."""
    limit = 6 * 1024**3
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _run(command: str, option: Option, value: str, template: Path, tmp: Path,
         capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp / f"run-{os.urandom(4).hex()}"
    work.mkdir()
    repo = work / "repo"
    shutil.copytree(template, repo, symlinks=True)
    args = _base_args(command, repo)
    args[option.name] = value
    argv = [command]
    for name, text in args.items():
        argv += [f"--{name}={text}"]
    before = _snapshot(work)
    cwd = os.getcwd()
    os.chdir(repo)
    actions_runtime._secrets.clear()
    try:
        with _deadline(SECONDS_PER_RUN):
            code = main(argv)
    except Hang as hang:
        pytest.fail(f"deploy-actions {command} --{option.name}={value[:60]!r}: {hang}")
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    shown = f"deploy-actions {command} --{option.name}={value[:60]!r}"
    assert "Traceback" not in err and "internal error" not in err, f"{shown}:\n{err[-2000:]}"
    assert code in (0, 1, 2), f"{shown}: exit {code}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, f"{shown}: more than one line:\n{err[-2000:]}"
        assert _snapshot(work) == before, f"{shown}: exit 2 but files changed"


def _flags() -> list[tuple[str, Option]]:
    return [(name, option) for name, spec in COMMANDS.items() for option in spec.all_options() if option.is_flag]


@pytest.fixture(autouse=True)
def _quiet_environment(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("INPUT_", "GITHUB_", "RUNNER_")) or key in ("ACT", "PROMETHEUS_TOKEN", "REGISTRY_PASSWORD"):
            monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize(("command", "option"), _flags(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_flag_survives_the_known_hostile_values(command, option, template, tmp_path, capsys):
    for value in HOSTILE:
        if option.kind == "duration" and _long(option, value):
            continue  # empty means the default (smoke-test waits 5m): a valid long wait is not hostile, only long
        _run(command, option, value, template, tmp_path, capsys)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_flag_survives_generated_values(command, template, tmp_path, capsys, data):
    options = [option for name, option in _flags() if name == command]
    option = data.draw(st.sampled_from(options))
    value = data.draw(st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
        st.sampled_from(SEEDS).flatmap(lambda h: st.text(max_size=5).map(lambda t, h=h: h + t)),
        st.integers().map(str), st.floats().map(repr),
    ))
    assume(not (option.kind == "duration" and _long(option, value)))  # a valid long wait is not hostile
    _run(command, option, value, template, tmp_path, capsys)


def _long(option: Option, value: str) -> bool:
    try:
        return not value.strip() or parse_duration(option.name, value, option.limit or 0) > 5
    except InputError:
        return False
