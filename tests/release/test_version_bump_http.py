"""version-bump pushing to an authenticated HTTP remote: the token is used, and never shown."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.plugins.git_repos import run_git


def _git_argv_logger(tmp_path: Path) -> tuple[Path, Path]:
    """A `git` first on PATH that records its argv and environment keys, then runs the real git."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    bindir, log = tmp_path / "bin", tmp_path / "git-argv.log"
    bindir.mkdir()
    shim = bindir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return bindir, log


def test_push_over_http_uses_the_token_only_in_a_header(git_http, git_repo, tmp_path):
    served = git_http.root / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(git_repo.remote), str(served))
    git_repo.git("remote", "set-url", "origin", git_http.url("app.git"))
    git_repo.tag("v0.1.0")
    git_repo.commit("feat: over http", {"VERSION": "0.1.0\n"})
    bindir, argv_log = _git_argv_logger(tmp_path)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTIONS": "true",
           "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
           "INPUT_TOKEN": git_http.token}
    (tmp_path / "out").touch()
    (tmp_path / "summary").touch()
    proc = subprocess.run(
        [sys.executable, "-m", "deploy_actions", "version-bump", "--repo", str(git_repo.path),
         "--version-files", "VERSION", "--push"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert run_git(served, "rev-parse", "v0.2.0^{commit}") == git_repo.git("rev-parse", "HEAD")
    assert (git_repo.path / "VERSION").read_text() == "0.2.0\n"
    # The token was masked first, then never printed, passed as an argument, put in a URL or a file.
    assert proc.stdout.startswith(f"::add-mask::{git_http.token}")
    everything = [proc.stdout.replace(f"::add-mask::{git_http.token}", ""), proc.stderr,
                  argv_log.read_text(), "\n".join(git_http.requests), "\n".join(git_http.header_dump),
                  (tmp_path / "out").read_text(), (tmp_path / "summary").read_text(),
                  (git_repo.path / ".git" / "config").read_text()]
    assert argv_log.read_text().count("push") >= 1
    for text in everything:
        assert git_http.token not in text


def test_wrong_token_fails_cleanly_and_rolls_back(git_http, git_repo, tmp_path):
    served = git_http.root / "app.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(git_repo.remote), str(served))
    git_repo.git("remote", "set-url", "origin", git_http.url("app.git"))
    git_repo.tag("v0.1.0")
    git_repo.commit("fix: nope", {"VERSION": "0.1.0\n"})
    head = git_repo.git("rev-parse", "HEAD")
    bad = "ghs_wrongwrongwrongwrong"
    proc = subprocess.run(
        [sys.executable, "-m", "deploy_actions", "version-bump", "--repo", str(git_repo.path),
         "--version-files", "VERSION", "--push"],
        env={**os.environ, "GITHUB_TOKEN": bad}, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert bad not in proc.stderr + proc.stdout
    assert git_repo.git("rev-parse", "HEAD") == head and "v0.1.1" not in git_repo.tags()
    assert (git_repo.path / "VERSION").read_text() == "0.1.0\n"
