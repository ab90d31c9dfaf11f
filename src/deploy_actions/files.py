"""Edits to files in a user's repository: paths kept inside it, and all-or-nothing writes.

Every command that changes files (version-bump, gitops-bump) plans whole-file edits first,
then hands them here: each file is replaced atomically, and a failure part-way puts back the
files already written, so a repository is never left half-edited.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deploy_actions.errors import FileError, InputError


@dataclass(frozen=True)
class FileEdit:
    """The whole new content of one file. `before` is b"" for a file that does not exist yet."""

    path: Path  # absolute, symlinks resolved (so writing it replaces the real file)
    relpath: str  # as the user wrote it, for messages
    before: bytes
    after: bytes


def inside_repo(root: Path, relpath: str, input_name: str, entry: str | None = None) -> Path:
    """The real path of `relpath` under `root`, refusing anything that leads out of it
    (absolute paths, '..', symlinks pointing elsewhere)."""
    shown = relpath if entry is None else entry
    rel = PurePosixPath(relpath)
    if not relpath or rel.is_absolute() or relpath.startswith("\\") or re.match(r"[A-Za-z]:[\\/]", relpath):
        raise InputError(input_name, shown, "a path relative to the repository root")
    if ".." in rel.parts:
        raise InputError(input_name, shown, "a path inside the repository, without '..'")
    root = root.resolve()
    try:
        target = (root / rel).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise FileError(f"cannot be resolved: {exc}", file=relpath) from exc
    if not target.is_relative_to(root):
        raise InputError(input_name, shown, f"a path inside the repository (it leads to {target}, outside {root})")
    return target


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. A FIFO, a device or a directory is
    refused before anything is read from it (reading one can block forever or never end), and a
    larger file after `limit` + 1 bytes. Problems are OSError (with `strerror` for messages)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(0, "is not a regular file (a FIFO, socket or device)", str(path))
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise OSError(0, f"is larger than {limit // (1 << 20)} MiB", str(path))
    return b"".join(chunks)


def write_edits(edits: Sequence[FileEdit]) -> None:
    """Write every edit, each atomically; if one fails, put back the ones already written."""
    pending = [e for e in edits if e.after != e.before]
    for edit in pending:
        if edit.before == b"" and not edit.path.exists():
            continue  # a new file
        try:
            on_disk = edit.path.read_bytes()
        except OSError as exc:
            raise FileError(f"cannot be read: {exc.strerror or exc}", file=edit.relpath) from exc
        if on_disk != edit.before:
            raise FileError("changed since it was read; nothing was written, run again", file=edit.relpath)
    written: list[FileEdit] = []
    for edit in pending:
        try:
            _replace_file(edit.path, edit.after)
        except OSError as exc:
            not_restored = _restore(written)
            outcome = (f"restored {len(written)} file(s) already written" if not not_restored
                       else "could NOT restore " + ", ".join(not_restored))
            raise FileError(f"cannot be written ({exc.strerror or exc}); {outcome}", file=edit.relpath) from exc
        written.append(edit)


def _restore(written: list[FileEdit]) -> list[str]:
    failed = []
    for edit in reversed(written):
        try:
            if edit.before == b"":
                edit.path.unlink(missing_ok=True)
            else:
                _replace_file(edit.path, edit.before)
        except OSError:
            failed.append(edit.relpath)
    return failed


def _replace_file(path: Path, data: bytes) -> None:
    """A temporary file next to `path`, then os.replace: readers see old or new, never half."""
    mode = stat.S_IMODE(os.stat(path).st_mode) if path.exists() else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
