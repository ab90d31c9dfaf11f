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
from deploy_actions.untrusted import NAME_MAX, PATH_MAX


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
    if any(_is_git_dir(part) for part in rel.parts):
        raise InputError(input_name, shown, "a path outside .git (git's own files are never ours to write)")
    if any(len(part.encode()) > NAME_MAX for part in rel.parts) or len(relpath.encode()) > PATH_MAX:
        raise InputError(input_name, shown, f"a path whose names are at most {NAME_MAX} bytes")
    root = root.resolve()
    try:
        target = (root / rel).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise FileError(f"cannot be resolved: {exc}", file=relpath) from exc
    if not target.is_relative_to(root):
        raise InputError(input_name, shown, f"a path inside the repository (it leads to {target}, outside {root})")
    if any(_is_git_dir(part) for part in target.relative_to(root).parts):  # through a symlink
        raise InputError(input_name, shown, "a path outside .git (git's own files are never ours to write)")
    return target


def _is_git_dir(part: str) -> bool:
    # Case-insensitive file systems and Windows' trailing dots and spaces make these '.git' too.
    return part.rstrip(". ").lower() == ".git"


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
        shown = f"{limit >> 20} MiB" if limit and limit % (1 << 20) == 0 else f"{limit:,} bytes"
        raise OSError(0, f"is larger than {shown}", str(path))
    return b"".join(chunks)


def report_target(path: str, input_name: str) -> Path:
    """Where a report the user asked for (JSON, JUnit, notes) may go: a regular file or a new one,
    never a symbolic link, a device, a FIFO or a folder, so a report cannot be aimed at something
    else. Commands call it before any work, so a bad path fails fast."""
    text = path.strip()
    if not text or "\x00" in text or len(text.encode()) > PATH_MAX or any(
            len(part.encode()) > NAME_MAX for part in PurePosixPath(text).parts):
        raise InputError(input_name, path, f"a file path (names of at most {NAME_MAX} bytes)")
    target = Path(text).expanduser()
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise InputError(input_name, path, f"a file path we can write ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else (
            "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file")
        raise InputError(input_name, path, f"a regular file or a new one (it is {kind})")
    return target


def write_report(path: str, data: bytes, input_name: str) -> str:
    """Write a report to `path` (checked by report_target) atomically; return its absolute path."""
    target = report_target(path, input_name)
    text = path.strip()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise FileError(f"cannot write the {input_name} file: {exc.strerror or exc}", file=text) from None
    return str(target.absolute())


@dataclass(frozen=True)
class Undo:
    """What write_edits changed, so that a later failure (a commit, a push) can put it back exactly."""

    files: tuple[tuple[FileEdit, bool], ...] = ()  # each edit written, and whether its file existed
    folders: tuple[Path, ...] = ()  # folders made for new files, outermost first

    def __add__(self, later: Undo) -> Undo:
        """What this and then `later` changed (restored in the opposite order)."""
        return Undo(self.files + later.files, self.folders + later.folders)

    def restore(self) -> None:
        """Every file back to its `before` bytes, new files and the folders made for them removed."""
        failed = _restore(self.files)
        for folder in reversed(self.folders):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: nothing of anyone else's goes
        if failed:
            raise FileError("could NOT be restored after a failure: " + ", ".join(failed))


def write_edits(edits: Sequence[FileEdit]) -> Undo:
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
    written: list[tuple[FileEdit, bool]] = []
    folders: list[Path] = []
    for edit in pending:
        existed = edit.path.exists()
        try:
            folders += _missing_folders(edit.path.parent)
            _replace_file(edit.path, edit.after)
        except OSError as exc:
            try:
                Undo(tuple(written), tuple(folders)).restore()
                outcome = f"restored {len(written)} file(s) already written"
            except FileError as failure:
                outcome = failure.message
            raise FileError(f"cannot be written ({exc.strerror or exc}); {outcome}", file=edit.relpath) from exc
        written.append((edit, existed))
    return Undo(tuple(written), tuple(folders))


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def _restore(written: Sequence[tuple[FileEdit, bool]]) -> list[str]:
    failed = []
    for edit, existed in reversed(written):
        try:
            if not existed:
                edit.path.unlink(missing_ok=True)
            else:
                _replace_file(edit.path, edit.before)
        except OSError:
            failed.append(edit.relpath)
    return failed


def _replace_file(path: Path, data: bytes) -> None:
    """A temporary file next to `path`, then os.replace: readers see old or new, never half.
    No fsync: the rename already gives that, and a checkout that is about to be committed and
    pushed gains nothing from surviving a power cut, while 500 fsyncs cost seconds."""
    mode = stat.S_IMODE(os.stat(path).st_mode) if path.exists() else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
