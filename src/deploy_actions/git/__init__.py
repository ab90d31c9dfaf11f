"""The only place that runs `git`: argument lists, never a shell.

Credentials travel as an HTTP header through git's environment (GIT_CONFIG_*), scoped to
the remote's origin: never in argv, never in a URL, never in a message.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from collections.abc import Generator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from deploy_actions import actions_runtime
from deploy_actions.errors import InputError, OperationError

_RECORD_SEP = b"\x1e"


class GitError(OperationError):
    """A git command failed; the message carries git's own words (secrets redacted)."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = actions_runtime.redact(stderr)


class Git:
    """A repository's working tree, and the git commands we run in it."""

    def __init__(self, root: Path, *, token: str | None = None):
        self.root = root
        self._token = token or None
        if self._token:
            actions_runtime.mask(self._token)

    @classmethod
    def open(cls, path: str | Path, *, token: str | None = None, input_name: str = "repo") -> Git:
        """The repository at `path`, or an InputError naming the input when it is not one."""
        candidate = Path(path).expanduser()
        if not candidate.is_dir():
            raise InputError(input_name, str(path), "an existing directory holding a git repository")
        probe = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=candidate, capture_output=True,
            text=True, check=False, env=_base_env(),
        )
        if probe.returncode != 0:
            raise InputError(input_name, str(path), "a git repository (git rev-parse failed)")
        return cls(Path(probe.stdout.strip()), token=token)

    def _env(self) -> dict[str, str]:
        return auth_env(self._token, self.remote_url_or_none("origin"))

    @classmethod
    def clone(cls, url: str, dest: Path, *, branch: str, token: str | None = None, depth: int | None = 1) -> Git:
        """A fresh clone of `branch` at `dest` (shallow by default), authenticated by header."""
        if token:
            actions_runtime.mask(token)
        args = ["git", "clone", "--quiet", "--single-branch", "--branch", branch, "--no-tags"]
        if depth:
            args += ["--depth", str(depth)]
        proc = subprocess.run([*args, "--", url, str(dest)], capture_output=True, text=True, check=False,
                              env=auth_env(token, url))
        if proc.returncode != 0:
            raise GitError(_describe(["clone"], proc.stderr), proc.stderr)
        return cls(dest, token=token)

    def run(self, *args: str, check: bool = True, input_text: str | None = None,
            authenticated: bool = False) -> subprocess.CompletedProcess[str]:
        env = self._env() if authenticated else _base_env()
        proc = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False,
            env=env, input=input_text,
        )
        if check and proc.returncode != 0:
            raise GitError(_describe(args, proc.stderr), proc.stderr)
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    def records(self, args: Sequence[str]) -> Generator[bytes, None, None]:
        """Stream the output of `git <args>` split on \\x1e, without holding it all in memory."""
        # stderr goes to a file, not a pipe: a pipe nobody reads could fill and stall git.
        with tempfile.TemporaryFile() as errors, subprocess.Popen(
            ["git", *args], cwd=self.root, stdout=subprocess.PIPE, stderr=errors, env=_base_env(),
        ) as proc:
            assert proc.stdout is not None
            pending = b""
            while chunk := proc.stdout.read(1 << 16):
                pending += chunk
                *complete, pending = pending.split(_RECORD_SEP)
                yield from complete
            if pending.strip():
                yield pending
            if proc.wait() != 0:
                errors.seek(0)
                stderr = errors.read().decode("utf-8", "replace")
                raise GitError(_describe(args, stderr), stderr)

    def remote_url_or_none(self, remote: str) -> str | None:
        proc = subprocess.run(["git", "remote", "get-url", remote], cwd=self.root,
                              capture_output=True, text=True, check=False, env=_base_env())
        return proc.stdout.strip() if proc.returncode == 0 else None

    def current_branch(self) -> str | None:
        proc = self.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
        return proc.stdout.strip() or None

    def is_shallow(self) -> bool:
        return self.out("rev-parse", "--is-shallow-repository") == "true"

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")


def auth_env(token: str | None, url: str | None) -> dict[str, str]:
    """git's environment, plus the token as an Authorization header scoped to `url`'s origin."""
    env = _base_env()
    if not token:
        return env
    scope = ""
    if url and urlsplit(url).scheme in ("http", "https"):
        parts = urlsplit(url)
        scope = f"{parts.scheme}://{parts.netloc}/"
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    key = f"http.{scope}.extraheader" if scope else "http.extraheader"
    env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": key,
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    return env


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ASKPASS": "true"})
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(key, None)
    return env


def _describe(args: Sequence[str], stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    detail = "; ".join(lines[-3:]) if lines else "no message"
    return actions_runtime.redact(f"git {args[0] if args else ''} failed: {detail}")
