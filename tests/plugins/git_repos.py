"""Real git repositories with a real bare remote, for tests that release things."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

_counter = itertools.count()


def run_git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class GitRepo:
    """A working clone at `path` whose `origin` is the bare repository at `remote`."""

    path: Path
    remote: Path

    def git(self, *args: str) -> str:
        return run_git(self.path, *args)

    def write(self, name: str, content: str | bytes) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        return target

    def commit(self, message: str, files: dict[str, str | bytes] | None = None) -> str:
        if files is None:
            files = {f"changes/{next(_counter)}.txt": message}
        for name, content in files.items():
            self.write(name, content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, ref: str = "HEAD") -> None:
        self.git("tag", "-a", name, "-m", name, ref)

    def push(self) -> None:
        self.git("push", "-q", "--follow-tags", "origin", "HEAD")

    def remote_git(self, *args: str) -> str:
        return run_git(self.remote, *args)

    def tags(self) -> list[str]:
        return self.git("tag", "--list").split()


def _new_repo(root: Path, name: str) -> GitRepo:
    remote = root / f"{name}.git"
    path = root / name
    run_git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    run_git(root, "init", "-q", "-b", "main", str(path))
    repo = GitRepo(path, remote)
    repo.git("config", "user.name", "Test Author")
    repo.git("config", "user.email", "author@example.com")
    repo.git("config", "commit.gpgsign", "false")
    repo.git("config", "tag.gpgsign", "false")
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("chore: initial commit", {"README.md": "# app\n"})
    repo.git("push", "-q", "-u", "origin", "main")
    return repo


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """A fresh repository on branch main, one initial commit, pushed to its bare remote."""
    return _new_repo(tmp_path, "app")


@pytest.fixture
def make_git_repo(tmp_path: Path) -> Callable[[str], GitRepo]:
    return lambda name: _new_repo(tmp_path, name)
