"""The only place that runs `git`: argument lists, never a shell.

Credentials travel as an HTTP header through git's environment (GIT_CONFIG_*), scoped to
the remote's origin: never in argv, never in a URL, never in a message.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from deploy_actions import actions_runtime, untrusted
from deploy_actions.errors import InputError, OperationError
from deploy_actions.files import FileEdit, Undo, write_edits

_RECORD_SEP = b"\x1e"
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


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


class ProtectedBranchError(GitError):
    """The remote refused the push because of branch protection; the local commit is kept."""


# -- committing to a shared branch: what every command that records to the GitOps repo does --

def clone_url(repository: str, input_name: str = "repository") -> str:
    """The URL to clone for `repository`: owner/name on $GITHUB_SERVER_URL, or a git URL without credentials."""
    if "://" in repository or repository.startswith(("/", "./", "file:")):
        if "@" in repository.split("://", 1)[-1].split("/", 1)[0]:
            raise InputError(input_name, "<a URL with credentials>",
                             "a URL without credentials; the token goes in the token input")
        return repository
    if _OWNER_NAME.match(repository):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return f"{server}/{repository}.git"
    raise InputError(input_name, repository, "owner/name on GitHub, or a git URL")


@contextlib.contextmanager
def temporary_clone(repository: str, branch: str, token: str | None) -> Iterator[Git]:
    """A shallow clone of `branch` of `repository` in a temporary folder, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="deploy-actions-gitops-"))
    try:
        url = clone_url(repository)
        with actions_runtime.group(f"Cloning {repository}@{branch}"):
            git = Git.clone(url, workdir / "repo", branch=branch, token=token or None)
        git.root = git.root.resolve()
        yield git
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def commit_paths(git: Git, paths: Sequence[str], message: str, *, user_name: str, user_email: str) -> str:
    """Commit exactly `paths` (hooks skipped: the message is ours) and return the new HEAD.

    The message goes on stdin, so its length is not bounded by the argument list."""
    git.run("add", "--", *paths)
    git.run("-c", f"user.name={user_name}", "-c", f"user.email={user_email}",
            "commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-", "--", *paths, input_text=message)
    return git.head()


def commit_edits(git: Git, edits: Sequence[FileEdit], message: str, *, user_name: str, user_email: str) -> str:
    """Write `edits` and commit them as one commit; return the new HEAD (all or nothing, see commit_written)."""
    return commit_written(git, [e.relpath for e in edits], write_edits(edits), message, user_name=user_name,
                          user_email=user_email)


def commit_written(git: Git, paths: Sequence[str], undo: Undo, message: str, *, user_name: str,
                   user_email: str) -> str:
    """Commit `paths`, which were just written (`undo` says how); return the new HEAD.

    All or nothing: if the commit fails, the index is put back byte for byte and the files as `undo`
    says, then the error is raised."""
    index = Path(git.out("rev-parse", "--path-format=absolute", "--git-path", "index"))
    saved_index = index.read_bytes() if index.exists() else None
    try:
        return commit_paths(git, paths, message, user_name=user_name, user_email=user_email)
    except BaseException:
        if saved_index is None:
            index.unlink(missing_ok=True)
        else:
            index.write_bytes(saved_index)
        undo.restore()
        raise


def trailers(source_repository: str, source_commit: str, run_url: str) -> list[str]:
    """The provenance trailers every GitOps commit carries (empty values are left out).

    Checked here as well as at the inputs: a value read back from a record reaches a trailer too,
    and a newline in one would forge the trailers after it."""
    pairs = (("Source-Repository", source_repository and untrusted.repository("source-repository",
                                                                              source_repository)),
             ("Source-Commit", source_commit and untrusted.commit_sha("source-commit", source_commit)),
             ("Workflow-Run", run_url and untrusted.url("run-url", run_url, https_only=True)))
    return [f"{key}: {value}" for key, value in pairs if value]


# How long a push keeps being re-applied on a moving branch: a fleet of pipelines landing on one
# branch at once needs minutes, not a count of tries (a count runs out in seconds when the
# writers are many). The maximum is a GitHub-hosted job's own limit.
PUSH_TIMEOUT = 15 * 60.0
PUSH_TIMEOUT_MAX = 6 * 3600.0
# Backoff between tries: full jitter (a uniform wait in [0, window]), the window doubling from how
# long one try took (fetch, re-apply, commit, push: the time in which another writer can get in
# first, so a slower server or a bigger repository spreads the writers more) up to BACKOFF_CAP.
# In a simulation of 25-500 writers, a 30 s cap lands them in 1-3x the time of serialised writes with
# 5-26 pushes each; measured here (benchmarks/gitops_fleet.py), 25 and 50 writers took 1.7x and 1.2x
# with 6-7 pushes each, and 100 writers (tests/gitops/test_fleet.py) 9-12. A larger cap pushes less
# but waits longer.
BACKOFF_CAP = 30.0
_MIN_SLOT = 0.05

T = TypeVar("T")


@dataclass(frozen=True)
class Landed(Generic[T]):
    """What the last try of `push_reapplied` returned, and how many pushes it took (0: nothing to push)."""

    value: T
    pushes: int


def push_timeout(seconds: float | None, input_name: str = "push-timeout") -> float:
    """The push timeout an input asked for (None: the default), refused beyond the maximum."""
    if seconds is None:
        return PUSH_TIMEOUT
    if not 0 <= seconds <= PUSH_TIMEOUT_MAX:
        raise InputError(input_name, f"{seconds:g}s", f"a duration up to {PUSH_TIMEOUT_MAX / 3600:g}h")
    return seconds


def push_reapplied(git: Git, branch: str, attempt: Callable[[], tuple[T, bool]], *,
                   timeout: float = PUSH_TIMEOUT) -> Landed[T]:
    """Call `attempt` on the branch's tip and push the commit it made, until it lands or `timeout`
    seconds have passed; never a force-push.

    `attempt` reads the files, applies its change and commits; it returns its value and whether
    there is a commit to push (False: nothing to push, e.g. already applied; its value is returned).
    When the branch moved on (or the server failed in passing), our commit is dropped, we wait
    (exponential backoff, full jitter, see BACKOFF_CAP), fetch the new tip and call `attempt`
    again: it decides afresh on what is there now. The last try starts before the deadline.
    Branch protection raises ProtectedBranchError with the commit kept; any other failure, or
    the deadline, drops the commit and raises.
    """
    started = time.monotonic()
    deadline = started + timeout
    shallow = git.is_shallow()
    pushes = 0
    while True:
        began = time.monotonic()
        value, commit = attempt()
        if not commit:
            return Landed(value, pushes)
        pushes += 1
        refused = _push(git, branch)
        if refused is None:
            return Landed(value, pushes)
        window = backoff_window(time.monotonic() - began, pushes)
        while True:  # wait, then move onto the new tip (a fetch that fails in passing is retried too)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _drop_commit(git)
                spent = time.monotonic() - started
                raise OperationError(f"{branch} kept moving: {pushes} push(es) in {spent:.0f}s, none landed "
                                     f"(push-timeout: {timeout:g}s; last refusal: {refused}); nothing was pushed")
            delay = min(remaining, random.uniform(0, window))  # noqa: S311 -- jitter, not a secret
            actions_runtime.log(f"{branch}: {refused}; re-applying on the new tip in {delay:.1f}s "
                                f"(push {pushes + 1}, {remaining:.0f}s left)")
            time.sleep(delay)
            try:
                _move_to_tip(git, branch, shallow=shallow)  # our commit goes: the tip replaces it
                break
            except GitError as err:
                if not is_transient(err.stderr or str(err)):
                    _drop_commit(git)
                    raise
                refused = "the fetch failed in passing"
                window = min(BACKOFF_CAP, window * 2)


def backoff_window(slot: float, pushes: int) -> float:
    """The longest wait after `pushes` refused pushes: `slot` (how long the last try took) doubled
    for each push after the first, at most BACKOFF_CAP. The wait itself is uniform in [0, window]."""
    return min(BACKOFF_CAP, max(_MIN_SLOT, slot) * 2.0 ** min(max(pushes, 1) - 1, 30))


def _push(git: Git, branch: str) -> str | None:
    """Push HEAD to `branch`: None when it landed, else why it may land on a later try."""
    try:
        git.run("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", authenticated=True)
        return None
    except GitError as err:
        text = err.stderr or str(err)
        if is_protected(text):
            raise ProtectedBranchError(f"{branch} is protected and refused the push", err.stderr) from None
        if is_stale(text):
            return "the branch moved on"
        if is_transient(text):
            return "the server failed in passing"
        _drop_commit(git)
        raise


def _drop_commit(git: Git) -> None:
    git.run("reset", "--quiet", "--keep", "HEAD~1")


def _move_to_tip(git: Git, branch: str, *, shallow: bool) -> None:
    # A shallow clone stays shallow (one commit is all a re-apply needs); a full checkout stays full.
    depth = ("--depth", "1") if shallow else ()
    git.run("fetch", "--quiet", *depth, "origin", f"refs/heads/{branch}", authenticated=True)
    git.run("reset", "--quiet", "--keep", "FETCH_HEAD")


def is_stale(text: str) -> bool:
    """Whether git refused a push because the branch moved on since we fetched it."""
    return any(s in text for s in ("non-fast-forward", "fetch first", "[rejected]", "stale info", "cannot lock ref"))


def is_transient(text: str) -> bool:
    """Whether a push or fetch failed for a reason that passes: a server that answered but was busy or
    dropped the connection. (A host that cannot be resolved or reached is a mistake more often than not.)"""
    lowered = text.lower()
    return any(s in lowered for s in ("the requested url returned error: 5", "rpc failed", "connection reset",
                                      "timed out", "early eof", "remote end hung up unexpectedly"))


def is_protected(text: str) -> bool:
    """Whether the remote refused a push because of branch protection (GitHub's GH006, or a hook)."""
    return any(s in text.lower() for s in ("protected branch", "gh006", "pre-receive hook declined"))


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
