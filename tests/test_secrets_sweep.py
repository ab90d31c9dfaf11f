"""Every secret stays home, on success and on every failure path: it never shows in stdout, stderr,
GITHUB_OUTPUT, the step summary, a report, a file or commit of the GitOps repository, nor in the
argument list of any child process. Commands run as processes inside a simulated GitHub Actions step,
with a `git` on PATH that records its argv before running the real one."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitops.test_bump import gitops  # noqa: F401 -- fixture
from tests.plugins.git_repos import run_git

PROM_TOKEN = "prom-S3CR3T-9f8e7d6c5b4a"
REGISTRY_PASSWORD = "reg-S3CR3T-0a1b2c3d4e5f"


def _forms(secret: str) -> list[str]:
    """The secret and the encodings it would travel in."""
    basic = [base64.b64encode(f"{user}:{secret}".encode()).decode() for user in ("x-access-token", "ci", "")]
    return [secret, *basic, secret[: len(secret) // 2 + 4]]


@pytest.fixture
def step(tmp_path, monkeypatch):
    """A GitHub Actions step's files, and a git that logs every argv it is given."""
    real_git = shutil.which("git")
    assert real_git
    shim = tmp_path / "bin"
    shim.mkdir()
    argv_log = tmp_path / "argv.log"
    (shim / "git").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{argv_log}"\nexec "{real_git}" "$@"\n')
    (shim / "git").chmod(0o755 | stat.S_IXUSR)
    files = {name: tmp_path / name for name in ("output", "summary")}
    for path in files.values():
        path.touch()
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTIONS": "true",
           "GITHUB_OUTPUT": str(files["output"]), "GITHUB_STEP_SUMMARY": str(files["summary"]),
           "RUNNER_TEMP": str(tmp_path)}
    for key in list(env):
        if key.startswith("INPUT_"):
            env.pop(key)
    return {"env": env, "argv": argv_log, "files": files, "dir": tmp_path}


def _run(step, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy_actions", *args], env={**step["env"], **env},
                          capture_output=True, text=True, timeout=120, cwd=step["dir"])


def _everything(step, gitops_bare: Path | None, procs: list[subprocess.CompletedProcess[str]]) -> dict[str, str]:
    # `::add-mask::<secret>` is how a step tells the runner what to hide: the runner consumes the line,
    # it never reaches the log. Everything else the step prints does.
    seen = {f"stdout/stderr #{i}": "\n".join(line for line in (p.stdout + p.stderr).splitlines()
                                             if not line.startswith("::add-mask::"))
            for i, p in enumerate(procs)}
    seen["argv of every git"] = step["argv"].read_text() if step["argv"].exists() else ""
    for path in step["dir"].rglob("*"):
        if path.is_file() and "bin" not in path.parts and path.stat().st_size < 5_000_000:
            seen[str(path)] = path.read_bytes().decode("utf-8", "replace")
    if gitops_bare is not None:
        seen["gitops history"] = run_git(gitops_bare, "log", "-p", "--all")
    return seen


def _assert_nowhere(secrets: list[str], seen: dict[str, str]) -> None:
    for secret in secrets:
        for form in _forms(secret):
            leaks = [where for where, text in seen.items() if form in text]
            assert not leaks, f"a form of a secret ({form[:6]}…) appears in {leaks}"


def test_no_secret_anywhere_across_success_and_failure_paths(gitops, step, registry_basic):
    token = gitops["token"]
    procs = []
    common = ("--repository", gitops["url"], "--image", "ghcr.io/org/app", "--path", "apps/app/overlays/staging",
              "--environment", "staging", "--verify-image", "false")
    # success: a bump, a lifecycle event
    procs.append(_run(step, "gitops-bump", *common, "--tag", "v0.7.3", GITHUB_TOKEN=token))
    procs.append(_run(step, "deployment", "--repository", gitops["url"], "--event", "opened", "--app", "app",
                      "--environment", "staging", "--version", "v0.7.3", GITHUB_TOKEN=token))
    # failures: a wrong token, a push to a ref that does not exist, a registry refusing the password,
    # a Prometheus refusing its token, a GitHub API that cannot be reached
    procs.append(_run(step, "gitops-bump", *common, "--tag", "v0.7.4", GITHUB_TOKEN=token[::-1] + "x"))
    procs.append(_run(step, "gitops-bump", *common, "--tag", "v0.7.4", "--ref", "no-such-branch",
                      GITHUB_TOKEN=token))
    procs.append(_run(step, "gitops-bump", "--repository", gitops["url"], "--path", "apps/app/overlays/staging",
                      "--image", f"{registry_basic.host}/org/app", "--tag", "v9.9.9", "--registry-username", "ci",
                      GITHUB_TOKEN=token, REGISTRY_PASSWORD=REGISTRY_PASSWORD))
    procs.append(_run(step, "canary-monitor", "--prometheus-url", "http://127.0.0.1:9", "--canary-selector",
                      'track="canary"', "--baseline-selector", 'track="stable"', "--duration", "1s",
                      "--interval", "1s", "--timeout", "200ms", "--retries", "0",
                      "--on-no-data", "fail", "--report", str(step["dir"] / "canary.json"), PROMETHEUS_TOKEN=PROM_TOKEN))
    procs.append(_run(step, "gitops-bump", *common, "--tag", "v0.7.5", "--mode", "pull-request",
                      "--github-repository", "org/gitops", GITHUB_TOKEN=token,
                      GITHUB_API_URL="http://127.0.0.1:9"))
    codes = [p.returncode for p in procs]
    assert codes[:2] == [0, 0] and all(c in (1, 2) for c in codes[2:]), [(c, p.stdout[-300:]) for c, p in zip(codes, procs, strict=True)]
    assert step["argv"].read_text().count("\n") > 5  # git really ran, and was logged
    _assert_nowhere([token, PROM_TOKEN, REGISTRY_PASSWORD], _everything(step, gitops["bare"], procs))
