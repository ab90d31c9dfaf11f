"""Which files of a GitOps repository are read, and reading them.

The YAML files in scope, sorted by path. `.git` is never walked; `.github/` (workflows and
actions: not deployment config) and the `templates/` folder of a Helm chart (Go templates, not
YAML) are walked only when the scope names them, and their files are reported as skipped.
Symbolic links are not followed (the file they point to is found where it lives, if in scope).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import inside_repo
from deploy_actions.gitops.classify import OUT_OF_SCOPE_FOLDERS

_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class RepoFiles:
    """The files in scope: (absolute path, posix relpath) pairs, sorted by relpath."""

    files: list[tuple[str, str]] = field(default_factory=list)
    named: set[str] = field(default_factory=set)  # relpaths the scope names one by one
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (path, relpath, why)


def yaml_files(root: Path, scope: Sequence[str]) -> RepoFiles:
    """The YAML files in `scope` (repo-relative folders or files; empty: the whole repository).
    A file named in `scope`, or in an out-of-scope folder the scope names, is taken whatever it is."""
    found: dict[str, str] = {}
    skipped: dict[str, tuple[str, str]] = {}
    named: set[str] = set()
    for entry in scope or ["."]:
        target, prefix = scope_folder(root, entry)
        if target.is_file():
            found.setdefault(prefix.rstrip("/"), str(target))
            named.add(prefix.rstrip("/"))
        elif target.is_dir():
            if _in_chart_templates(root.resolve(), target):
                _walk(target, prefix, skipped, {}, "a Helm chart template")
                continue
            before = set(found)
            _walk(target, prefix, found, skipped)
            if set(prefix.split("/")) & set(OUT_OF_SCOPE_FOLDERS):  # `.github/workflows` named: all of it
                named.update(set(found) - before)
        else:
            raise InputError("path", entry, "a folder or file that exists in the repository")
    return RepoFiles([(found[rel], rel) for rel in sorted(found)], named,
                     [(skipped[rel][0], rel, skipped[rel][1]) for rel in sorted(skipped) if rel not in found])


def scope_folder(root: Path, entry: str) -> tuple[Path, str]:
    """(real path, relpath prefix such as 'apps/app/' or '') of a scope entry, kept inside `root`."""
    rel = entry.strip().rstrip("/")
    target = root.resolve() if rel in ("", ".") else inside_repo(root, rel, "path")
    prefix = target.relative_to(root.resolve()).as_posix()
    return target, "" if prefix == "." else prefix + "/"


def _in_chart_templates(root: Path, path: Path) -> bool:
    """Whether `path` is (in) the `templates/` folder of a Helm chart: Go templates, not YAML."""
    for folder in [path, *path.parents]:
        if folder == root or not folder.is_relative_to(root):
            return False
        if folder.name == "templates" and (folder.parent / "Chart.yaml").is_file():
            return True
    return False


def _walk(top: Path, top_prefix: str, found: dict[str, Any], skipped: dict[str, Any], why: str = "") -> None:
    """Files under `top` into `found` (relpath -> path, or -> (path, why) when `why` is given);
    the out-of-scope folders' into `skipped`."""
    stack = [(str(top), top_prefix, why)]
    while stack:
        folder, prefix, reason = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        chart = any(e.name == "Chart.yaml" for e in entries)
        for e in entries:
            if e.is_symlink():
                continue
            if e.is_dir():
                if e.name == ".git":
                    continue
                if reason:
                    stack.append((e.path, prefix + e.name + "/", reason))
                elif e.name in OUT_OF_SCOPE_FOLDERS:
                    _walk(Path(e.path), prefix + e.name + "/", skipped, {},
                          f"{e.name}/ is out of scope unless the path names it")
                elif chart and e.name == "templates":
                    _walk(Path(e.path), prefix + e.name + "/", skipped, {}, "a Helm chart template")
                else:
                    stack.append((e.path, prefix + e.name + "/", ""))
            elif e.name.endswith(_YAML_SUFFIXES) or e.name == "Kustomization":
                found.setdefault(prefix + e.name, (e.path, reason) if reason else e.path)


def read_file(path: str | Path, relpath: str) -> bytes:
    """The file's bytes. Plain os.read: half the cost of open().read() over thousands of files."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, _CHUNK)
            if len(data) < _CHUNK:  # a short read of a regular file is its end
                return data
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as exc:
        raise FileError(f"cannot be read: {exc.strerror or exc}", file=relpath) from exc


_CHUNK = 1 << 16
