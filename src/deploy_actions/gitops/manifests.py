"""Where a GitOps repository pins an image, and the byte-exact edits that pin a new one.

Shapes understood: Kubernetes workloads' containers, kustomize `images:`, Helm values
(`repository` + `tag`, or an `image:` string), Flux HelmRelease values, Argo CD Applications
(helm parameters, valuesObject, kustomize images), Flux `$imagepolicy` setter markers, and
`set: FILE:dotted.path=VALUE` for anything else. Images are matched by normalised repository.

Only files that contain the image's repository path (or, with a policy, the policy's name) are
parsed at all, and of those only the documents that contain it: that byte search is what keeps a
bump over thousands of files near `grep` speed. So a malformed file is an error only when it names
the image (a "target"); one that merely contains the path (`org/app-worker`) is skipped with a
warning, and one that never mentions it is not read as YAML at all (lint reports it).

Choices where the tools leave room:
- A digest in Helm values goes into an existing `digest` key; without one, into the tag as
  `tag@sha256:…` (charts render `repository:tag`, so any chart then pulls by digest). Bumping
  without a digest empties that key. In kustomize the old `digest:` line is removed.
- With a `policy`, only Flux's marked fields change, as Flux does it: unmarked references are
  left alone.
- `set` values may use {tag}, {digest}, {image} (`ghcr.io/org/app:v1@sha256:…`, Docker Hub's
  defaults left out) and {name} (`ghcr.io/org/app`); set only changes values that exist.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import FileEdit, inside_repo
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError
from deploy_actions.gitops.yaml_splice import (
    AddItem,
    AddPairs,
    AddSequence,
    Change,
    DropPair,
    NodePath,
    Pairs,
    SetValue,
    YamlSyntaxError,
    YamlText,
)

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_YAML_SUFFIXES = (".yaml", ".yml")

# Where each workload kind keeps its pod spec.
_POD_SPEC: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),  # Argo Rollouts
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_MARKER = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"\n]*)"\s*\}')
_POLICY = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_SET = re.compile(r"(?P<file>[^:=\s][^:=]*):(?P<path>[^=]+)=(?P<value>.*)", re.DOTALL)
_SET_KEY = re.compile(r"((?:[^.\[\]\\]|\\.)+)((?:\[\d+\])*)")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SET_PLACEHOLDERS = ("tag", "digest", "image", "name")


@dataclass(frozen=True, order=True)
class ImageSite:
    """One place in one file that pins the image."""

    relpath: str  # posix, relative to the repository root
    line: int  # 1-based: the line of the value that changes (of an alias, its anchor's line)
    kind: str  # see SITE_KINDS
    current: ImageRef  # what it references now (tag/digest as written; tag None when untagged)
    value: str = ""  # the text of the value that changes, as it reads now


SITE_KINDS = ("container", "kustomize", "helm-values", "helmrelease", "argocd-helm-parameter",
              "argocd-values", "argocd-kustomize", "flux-setter", "set")


@dataclass(frozen=True)
class Finding:
    """A warning or error tied to a file and line (lint findings, skipped malformed files)."""

    relpath: str
    line: int | None
    level: Literal["error", "warning", "notice"]
    message: str
    rule: str = ""


@dataclass(frozen=True)
class ImageUpdate:
    edits: tuple[FileEdit, ...]  # one per changed file; `after` differs from `before` only in the values
    sites: tuple[ImageSite, ...]  # every site found for the image, before the change
    changed: tuple[ImageSite, ...]  # the sites whose value changes (a subset of `sites`)
    findings: tuple[Finding, ...]  # e.g. an unrelated malformed YAML file that was skipped


# --------------------------------------------------------------------------- public API


def find_image_sites(
    root: Path, scope: Sequence[str], image: ImageRef, *, policy: str | None = None, sets: Sequence[str] = ()
) -> tuple[tuple[ImageSite, ...], tuple[Finding, ...]]:
    """Every place in `scope` (repo-relative folders or files; empty: the whole repository)
    that pins `image`, matched by normalised repository. With `policy` (Flux's `ns:name`),
    only the fields marked `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}` count, as in
    Flux; `sets` (`FILE:dotted.path=VALUE`) add fields of any other shape."""
    found = _search(root, scope, image, None, _check_policy(policy), _parse_sets(sets), kustomize_add=False)
    return found.sites, found.findings


def plan_image_update(
    root: Path, scope: Sequence[str], target: ImageRef, *, policy: str | None = None,
    sets: Sequence[str] = (), kustomize_add: bool = False,
) -> ImageUpdate:
    """The edits that make every site pin `target` (its tag, and its digest when given).
    Writes nothing. A site already at `target` needs no edit, so a second run plans none.
    With `kustomize_add`, a scope folder whose tree has no kustomize entry for the image gets
    one in its kustomization file. Raises InputError/FileError (file and line) on bad input."""
    if not target.tag:
        raise InputError("image", str(target), "an image reference with a tag (ghcr.io/org/app:v1.2.3)")
    entries = _parse_sets(sets)
    for entry in entries:
        entry.render(target)  # a placeholder this target cannot fill fails before anything else
    return _search(root, scope, target, target, _check_policy(policy), entries, kustomize_add)


def lint_repository(root: Path, scope: Sequence[str]) -> tuple[Finding, ...]:
    """The runbook's anti-patterns in `scope` (see deploy_actions.gitops.lint)."""
    from deploy_actions.gitops.lint import lint_repository as lint  # lint builds on this module

    return lint(root, scope)


# --------------------------------------------------------------------------- files


def yaml_files(root: Path, scope: Sequence[str]) -> list[tuple[str, str]]:
    """(absolute path, posix relpath) of the YAML files in `scope`, sorted by relpath.

    `.git` and the `templates/` folder of a Helm chart (next to a Chart.yaml) are skipped, and
    so are symbolic links (the file they point to is found where it lives, if it is in scope).
    A file named in `scope` is taken whatever its name."""
    found: dict[str, str] = {}
    for entry in scope or ["."]:
        target, prefix = scope_folder(root, entry)
        if _in_chart_templates(root.resolve(), target):
            continue
        if target.is_file():
            found.setdefault(prefix.rstrip("/"), str(target))
        elif target.is_dir():
            _walk(target, prefix, found)
        else:
            raise InputError("path", entry, "a folder or file that exists in the repository")
    return [(found[rel], rel) for rel in sorted(found)]


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


def _walk(top: Path, top_prefix: str, found: dict[str, str]) -> None:
    stack = [(str(top), top_prefix)]
    while stack:
        folder, prefix = stack.pop()
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
                if e.name != ".git" and not (chart and e.name == "templates"):
                    stack.append((e.path, prefix + e.name + "/"))
            elif e.name.endswith(_YAML_SUFFIXES) or e.name == "Kustomization":
                found.setdefault(prefix + e.name, e.path)


# --------------------------------------------------------------------------- the search

# Above this many files, and when the process may fork, files are read and edited by worker
# processes (parsing is most of the work and each file stands alone). None: decide by size.
WORKERS: int | None = None
_PARALLEL_FROM = 2000


def _check_policy(policy: str | None) -> str | None:
    if policy is not None and not _POLICY.fullmatch(policy):
        raise InputError("policy", policy, "a Flux image policy as namespace:name (flux-system:app)")
    return policy


@dataclass(frozen=True)
class _Result:
    """What the search found in some files (or the error that stopped it in one)."""

    sites: tuple[ImageSite, ...] = ()
    changed: tuple[ImageSite, ...] = ()
    edits: tuple[FileEdit, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: tuple[str, str | None, int | None] | None = None  # a FileError's message, file and line


def _search(root: Path, scope: Sequence[str], image: ImageRef, target: ImageRef | None, policy: str | None,
            sets: Sequence[_SetEntry], kustomize_add: bool) -> ImageUpdate:
    files = yaml_files(root, scope)
    base = root.resolve()
    add_to = _kustomization_files(root, scope) if kustomize_add else []
    # files a set or kustomize-add may also change are read here, whole, after the others
    special = {*(rel for rel, _ in add_to),
               *(inside_repo(root, e.relpath, "set", e.text).relative_to(base).as_posix() for e in sets)}
    results = _each_file(root, [f for f in files if f[1] not in special], image, target, policy)
    failed = [r.error for r in results if r.error is not None]
    if failed:
        message, file, line = failed[0]
        raise FileError(message, file=file, line=line)
    scan = _Scan(root, image, policy)
    for path, relpath in files:
        if relpath in special:
            scan.scan_file(path, relpath, read_file(path, relpath))
    for entry in sets:
        scan.scan_set(entry)
    added: tuple[ImageSite, ...] = ()
    if target is not None and add_to:
        found = [site for r in results for site in r.sites] + scan.sites()
        added = tuple(_add_kustomize_entries(scan, target, add_to, found))
    last = scan.result(target, added)
    everything = [*results, last]
    return ImageUpdate(
        edits=tuple(sorted((e for r in everything for e in r.edits), key=lambda e: e.relpath)),
        sites=tuple(sorted(s for r in everything for s in r.sites)),
        changed=tuple(sorted(s for r in everything for s in r.changed)),
        findings=tuple(f for r in everything for f in r.findings),
    )


def _each_file(root: Path, files: list[tuple[str, str]], image: ImageRef, target: ImageRef | None,
               policy: str | None) -> list[_Result]:
    """One result per file that needed one, in file order; forked workers share big searches."""
    workers = WORKERS if WORKERS is not None else _spare_cpus() if len(files) >= _PARALLEL_FROM else 1
    # fork only a single-threaded process (a lock held by another thread would stay locked in the copy)
    if workers > 1 and sys.platform == "linux" and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        batches = [files[i :: workers * 4] for i in range(workers * 4)]
        context = multiprocessing.get_context("fork")  # a copy of this process: nothing to import again
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = pool.map(_files_batch, *zip(*((root, b, image, target, policy) for b in batches), strict=True))
            results = [(relpath, result) for part in parts for relpath, result in part]
        return [result for _, result in sorted(results, key=lambda pair: pair[0])]
    return [result for _, result in _files_batch(root, files, image, target, policy)]


def _spare_cpus() -> int:
    """CPUs this process may use that are not busy already (workers competing for one CPU are slower
    than none), at most 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cpus - round(os.getloadavg()[0])))


def _files_batch(root: Path, files: list[tuple[str, str]], image: ImageRef, target: ImageRef | None,
                 policy: str | None) -> list[tuple[str, _Result]]:
    needle = _needle(image, policy)
    results = []
    for path, relpath in files:
        try:
            data = read_file(path, relpath)
            if needle not in data:
                continue
            scan = _Scan(root, image, policy)
            scan.scan_file(path, relpath, data)
            result = scan.result(target)
        except FileError as err:  # passed back as data: an exception's file and line would not survive pickling
            result = _Result(error=(err.message, err.file, err.line))
        if result != _Result():
            results.append((relpath, result))
    return results


def _needle(image: ImageRef, policy: str | None) -> bytes:
    """What a file must contain to be parsed: the repository path (`org/app`, `nginx`), or the policy."""
    return (policy or image.repository.removeprefix("library/")).encode()


@dataclass
class _Opened:
    """A parsed file and the changes planned for it."""

    path: Path
    relpath: str
    data: bytes
    yaml: YamlText
    changes: list[Change] = field(default_factory=list)


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


class _Scan:
    """Files parsed for one image, with what was found in them and the changes planned."""

    def __init__(self, root: Path, image: ImageRef, policy: str | None):
        self.root = root
        self.image = image
        self.policy = policy
        self.opened: dict[str, _Opened] = {}
        self.found: list[tuple[_Opened, Occurrence]] = []
        self.findings: list[Finding] = []

    def sites(self) -> list[ImageSite]:
        seen: dict[tuple[str, int], ImageSite] = {}
        for opened, found in self.found:
            seen.setdefault((opened.relpath, id(found.at.node)), found.site(opened.relpath))
        return list(seen.values())

    def scan_file(self, path: str | Path, relpath: str, data: bytes) -> None:
        """Look for the image in one file (with a policy: for its setter markers)."""
        if self.policy is not None:
            self._scan_setters(path, relpath, data, self.policy)
            return
        needle = _needle(self.image, None)
        if needle not in data:
            return
        opened = self.open(path, relpath, data, target=False, needle=needle.decode())
        if opened is None:
            return
        name = PurePosixPath(relpath).name
        for doc_index, doc in enumerate(opened.yaml.docs):
            for found in document_occurrences(Loc(doc, (doc_index,)), name):
                if found.current.name == self.image.name:
                    self.found.append((opened, found))

    def _scan_setters(self, path: str | Path, relpath: str, data: bytes, policy: str) -> None:
        if policy.encode() not in data or b'"$imagepolicy"' not in data:
            return
        text = data.decode("utf-8", "replace")
        if not any(_setter_field(m.group(1), policy) is not None for m in _MARKER.finditer(text)):
            return
        opened = self.open(path, relpath, data, target=True, needle=policy)
        assert opened is not None
        self.found += [(opened, f) for f in _setter_occurrences(opened.yaml, policy, self.image, self.findings)]

    def scan_set(self, entry: _SetEntry) -> None:
        path = inside_repo(self.root, entry.relpath, "set", entry.text)
        if not path.is_file():
            raise FileError("not found (it is named in set)", file=entry.relpath)
        opened = self.open(path, path.relative_to(self.root.resolve()).as_posix(), None, target=True)
        assert opened is not None
        hits = 0
        for doc_index, doc in opened.yaml.in_file_order():
            loc = Loc(doc, (doc_index,)).follow(entry.keys)
            if loc is None:
                continue
            if loc.node.id != "scalar":
                raise FileError(f"{entry.path} is a {loc.node.id}, not a single value (set)",
                                file=entry.relpath, line=opened.yaml.line(loc.node))
            hits += 1
            self.found.append((opened, _set_occurrence(entry, loc, self.image)))
        if not hits:
            raise FileError(f"has no {entry.path} (set: {entry.text}); set only changes values that exist",
                            file=entry.relpath)

    def open(self, path: str | Path, relpath: str, data: bytes | None, target: bool,
             needle: str | None = None) -> _Opened | None:
        """Parse a file once: with a `needle`, only its documents that contain it. A malformed
        target (`target`, or a file that names the image) is an error; a malformed file that only
        contains the repository path inside some other name is skipped with a warning."""
        if relpath in self.opened:
            opened = self.opened[relpath]
            if needle is None:
                self._read_all(opened)
            return opened
        if data is None:
            data = read_file(path, relpath)
        try:
            opened = _Opened(Path(path), relpath, data, YamlText(relpath, data, needle))
        except YamlSyntaxError as exc:
            if b"{{" in data and needle is not None:  # a template (Helm, Jinja...): not ours to edit
                why = "it looks like a template"
            elif target or mentions(data, self.image):
                raise FileError(f"{exc.message}; nothing was written, fix the file first",
                                file=relpath, line=exc.line) from None
            else:
                why = f"it does not name {self.image.short()}"
            self.findings.append(Finding(relpath, exc.line, "warning", f"{exc.message}; skipped ({why})",
                                         "yaml-syntax"))
            return None
        self.opened[relpath] = opened
        return opened

    def _read_all(self, opened: _Opened) -> None:
        try:
            opened.yaml.include_all()
        except YamlSyntaxError as exc:
            raise FileError(f"{exc.message}; nothing was written, fix the file first",
                            file=opened.relpath, line=exc.line) from None

    def result(self, target: ImageRef | None, added: Sequence[ImageSite] = ()) -> _Result:
        """The sites found; with a `target`, also the verified edits that pin it."""
        if target is None:
            return _Result(sites=tuple(self.sites()), findings=tuple(self.findings))
        changed: dict[tuple[str, int], ImageSite] = {}
        for opened, found in self.found:
            changes = found.plan(target, opened.yaml)
            if changes:
                changed.setdefault((opened.relpath, id(found.at.node)), found.site(opened.relpath))
                opened.changes.extend(changes)
        edits = []
        for opened in self.opened.values():
            if opened.changes:
                after = opened.yaml.apply(opened.changes, f"the image to {target.short()}")
                if after != opened.data:
                    edits.append(FileEdit(opened.path, opened.relpath, opened.data, after))
        return _Result(tuple(self.sites()) + tuple(added), tuple(changed.values()) + tuple(added), tuple(edits),
                       tuple(self.findings))


def mentions(data: bytes, image: ImageRef) -> bool:
    """Whether the text names `image` in any spelling (`nginx`, `docker.io/library/nginx:1`),
    or holds its repository path as a word (`repository: org/app`)."""
    needle = image.repository.removeprefix("library/")
    text = data.decode("utf-8", "replace")
    for match in re.finditer(r"[\w.\-/:@]*" + re.escape(needle) + r"[\w.\-/:@]*", text):
        token = match.group().rstrip(":")
        if split_ref(token)[0] in (image.repository, needle):
            return True
        ref = parse_ref(token)
        if ref is not None and ref.name == image.name:
            return True
    return False


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Loc:
    """A node, where it sits in its file, and (for a mapping value) its key node."""

    node: Any
    path: NodePath
    key: Any = None

    def get(self, key: str) -> Loc | None:
        if self.node.id != "mapping":
            return None
        for index, (k, v) in enumerate(self.node.value):
            if k.id == "scalar" and k.value == key:
                return Loc(v, (*self.path, index), k)
        return None

    def dig(self, *keys: str) -> Loc | None:
        loc: Loc | None = self
        for key in keys:
            loc = loc.get(key) if loc is not None else None
        return loc

    def follow(self, keys: Sequence[str | int]) -> Loc | None:
        loc: Loc | None = self
        for key in keys:
            if loc is None:
                return None
            if isinstance(key, int):
                items = loc.items()
                loc = items[key] if key < len(items) else None
            else:
                loc = loc.get(key)
        return loc

    def items(self) -> list[Loc]:
        if self.node.id != "sequence":
            return []
        return [Loc(item, (*self.path, index)) for index, item in enumerate(self.node.value)]

    def pairs(self) -> list[tuple[str | None, Loc]]:
        if self.node.id != "mapping":
            return []
        return [(k.value if k.id == "scalar" else None, Loc(v, (*self.path, index), k))
                for index, (k, v) in enumerate(self.node.value)]

    @property
    def text(self) -> str | None:
        """A scalar's text ('' for null); None for collections."""
        if self.node.id != "scalar":
            return None
        return "" if self.node.tag.endswith(":null") else str(self.node.value)

    @property
    def line(self) -> int:
        """1-based; an empty value (`tag:`) is on its key's line (parsers disagree on where it starts)."""
        empty = self.node.id == "scalar" and self.node.start_mark.index == self.node.end_mark.index
        node = self.key if empty and self.key is not None else self.node
        return int(node.start_mark.line) + 1

    def pair_index(self) -> int:
        return self.path[-1]


Plan = Callable[[ImageRef, YamlText], list[Change]]


@dataclass(frozen=True)
class Occurrence:
    """An image pinned somewhere: what it is now, and how to pin another tag there."""

    kind: str
    current: ImageRef
    at: Loc  # the value that changes (its line is the site's)
    plan: Plan
    defaulted: bool = False  # the tag is left to something else (a chart's appVersion, a rename)

    def site(self, relpath: str) -> ImageSite:
        return ImageSite(relpath, self.at.line, self.kind, self.current, self.at.text or "")


def parse_ref(text: str | None) -> ImageRef | None:
    if not text or "{{" in text or "$" in text:
        return None
    try:
        return ImageRef.parse(text)
    except ImageRefError:
        return None


def split_ref(text: str) -> tuple[str, str | None, str | None]:
    """(name as written, tag, digest) of an image reference's text."""
    rest, at, digest_text = text.partition("@")
    digest = digest_text if at else None
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, None, digest


def short_name(ref: ImageRef) -> str:
    """How people write the repository: `nginx`, `ghcr.io/org/app`."""
    return ImageRef(ref.registry, ref.repository).short()


def _suffix(target: ImageRef) -> str:
    return f":{target.tag}" + (f"@{target.digest}" if target.digest else "")


def _set(loc: Loc, value: str) -> list[Change]:
    return [] if loc.text == value else [SetValue(loc.node, loc.path, value, loc.key)]


def _ref_occurrence(kind: str, loc: Loc, prefix: str = "") -> Occurrence | None:
    """An image reference written as one string (`ghcr.io/org/app:v1`; `prefix` is kept, as
    the `name=` of an Argo CD kustomize image)."""
    text = loc.text
    ref = parse_ref(text[len(prefix):] if text else None)
    if ref is None or text is None:
        return None
    written = split_ref(text[len(prefix):])[0]

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        return _set(loc, prefix + written + _suffix(target))

    return Occurrence(kind, ref, loc, plan)


def document_occurrences(doc: Loc, filename: str) -> Iterator[Occurrence]:
    """Every image pinned in one document, whatever its repository."""
    seen: set[int] = set()
    yield from _document(doc, filename, seen)


def _document(doc: Loc, filename: str, seen: set[int]) -> Iterator[Occurrence]:
    if doc.node.id != "mapping" or id(doc.node) in seen:
        return
    seen.add(id(doc.node))
    kind_loc, api_loc = doc.get("kind"), doc.get("apiVersion")
    kind = kind_loc.text if kind_loc is not None else None
    api = (api_loc.text if api_loc is not None else None) or ""
    if filename in KUSTOMIZATION_NAMES or (kind in ("Kustomization", "Component")
                                           and api.startswith("kustomize.config.k8s.io")):
        yield from _kustomize_images(doc.get("images"), "kustomize")
    elif kind == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io"):
        yield from _kustomize_images(doc.dig("spec", "images"), "kustomize")
    elif kind == "List":
        items = doc.get("items")
        for item in items.items() if items is not None else []:
            yield from _document(item, filename, seen)
    elif kind in _POD_SPEC:
        for container in containers(doc, kind):
            image = container.get("image")
            found = _ref_occurrence("container", image) if image is not None else None
            if found is not None:
                yield found
    elif kind == "HelmRelease":
        yield from _values(doc.dig("spec", "values"), "helmrelease")
    elif kind in ("Application", "ApplicationSet") and api.startswith("argoproj.io"):
        spec = doc.dig("spec", "template", "spec") if kind == "ApplicationSet" else doc.get("spec")
        yield from _argo_sources(spec)
    elif kind is None and filename != "Chart.yaml":
        yield from _values(doc, "helm-values")


def containers(doc: Loc, kind: str) -> Iterator[Loc]:
    """The container mappings of a workload document of `kind`."""
    pod = doc.dig(*_POD_SPEC[kind])
    if pod is None:
        return
    for field_name in CONTAINER_LISTS:
        listed = pod.get(field_name)
        for item in listed.items() if listed is not None else []:
            if item.node.id == "mapping":
                yield item


def _kustomize_images(images: Loc | None, kind: str) -> Iterator[Occurrence]:
    for entry in images.items() if images is not None else []:
        found = _kustomize_entry(entry, kind)
        if found is not None:
            yield found


def _kustomize_entry(entry: Loc, kind: str) -> Occurrence | None:
    name, new_name = entry.get("name"), entry.get("newName")
    effective = (new_name.text if new_name is not None else None) or (name.text if name is not None else None)
    ref = parse_ref(effective)
    new_tag, digest = entry.get("newTag"), entry.get("digest")
    if ref is None or any(loc is not None and loc.text is None for loc in (new_tag, digest)):
        return None
    tag_text = new_tag.text if new_tag is not None else None
    digest_text = digest.text if digest is not None else None
    current = ImageRef(ref.registry, ref.repository, tag_text or ref.tag, digest_text or ref.digest)

    def plan(target: ImageRef, yaml: YamlText) -> list[Change]:
        assert target.tag is not None
        changes: list[Change] = []
        added: list[tuple[str, str]] = []
        if new_tag is not None:
            changes += _set(new_tag, target.tag)
        else:
            added.append(("newTag", target.tag))
        if target.digest:
            if digest is not None:
                changes += _set(digest, target.digest)
            else:
                added.append(("digest", target.digest))
        elif digest is not None and digest_text:  # no longer pinned: the old digest would win
            index = digest.pair_index()
            if yaml.can_drop(entry.node, index):
                changes.append(DropPair(entry.node, entry.path, index))
            else:
                changes += _set(digest, "")
        if added:
            changes.append(AddPairs(entry.node, entry.path, tuple(added)))
        return changes

    at = new_tag or digest or new_name or name
    assert at is not None
    return Occurrence(kind, current, at, plan, defaulted=new_tag is None and digest is None)


def _values(values: Loc | None, kind: str) -> Iterator[Occurrence]:
    """Helm values: `repository` (+ `registry`) + `tag` blocks at any depth, and `image:` strings."""
    if values is None:
        return
    seen: set[int] = set()
    stack = [values]
    while stack:
        loc = stack.pop()
        if id(loc.node) in seen:  # an alias of a block already seen
            continue
        seen.add(id(loc.node))
        if loc.node.id == "sequence":
            stack.extend(reversed(loc.items()))
            continue
        if loc.node.id != "mapping":
            continue
        block = _helm_block(loc, kind)
        if block is not None:
            yield block
        children = []
        for key, child in loc.pairs():
            if key == "image" and child.node.id == "scalar":
                found = _ref_occurrence(kind, child)
                if found is not None:
                    yield found
            elif child.node.id != "scalar":
                children.append(child)
        stack.extend(reversed(children))


def _helm_block(block: Loc, kind: str) -> Occurrence | None:
    repository, registry = block.get("repository"), block.get("registry")
    tag, digest = block.get("tag"), block.get("digest")
    if repository is None or any(loc is not None and loc.text is None for loc in (tag, digest)):
        return None
    ref = _joined_ref(registry, repository)
    if ref is None:
        return None
    if ref.tag or ref.digest:  # the repository holds a whole reference: edit that, if it is alone
        return _ref_occurrence(kind, repository) if tag is None and digest is None and registry is None else None
    return _split_occurrence(kind, ref, repository, tag, digest,
                             lambda new_tag: AddPairs(block.node, block.path, (("tag", new_tag),)))


def _joined_ref(registry: Loc | None, repository: Loc) -> ImageRef | None:
    """`registry` + `repository` (Helm's split form) as one reference."""
    reg_text = registry.text if registry is not None else None
    return parse_ref(f"{reg_text}/{repository.text}" if reg_text else repository.text)


def _split_occurrence(kind: str, ref: ImageRef, repository: Loc, tag: Loc | None, digest: Loc | None,
                      add_tag: Callable[[str], Change]) -> Occurrence | None:
    """An image whose tag (and digest) sit apart from its repository, as in Helm values."""
    tag_text = tag.text if tag is not None else None
    if tag_text and ("{{" in tag_text or "$" in tag_text):
        return None  # a template: the chart fills it in
    written_tag, _, tag_digest = (tag_text or "").partition("@")
    digest_text = (digest.text if digest is not None else None) or tag_digest or None
    current = ImageRef(ref.registry, ref.repository, written_tag or None, digest_text)

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        assert target.tag is not None
        changes: list[Change] = []
        if digest is not None:
            new_tag = target.tag
            changes += _set(digest, target.digest or "")
        else:  # charts render `repository:tag`, so `tag@digest` pins the digest in any chart
            new_tag = target.tag + (f"@{target.digest}" if target.digest else "")
        return changes + (_set(tag, new_tag) if tag is not None else [add_tag(new_tag)])

    return Occurrence(kind, current, tag or repository, plan, defaulted=not tag_text)


def _argo_sources(spec: Loc | None) -> Iterator[Occurrence]:
    if spec is None:
        return
    sources = spec.get("sources")
    for source in [spec.get("source"), *(sources.items() if sources is not None else [])]:
        if source is None or source.node.id != "mapping":
            continue
        helm = source.get("helm")
        if helm is not None:
            yield from _helm_parameters(helm.get("parameters"))
            yield from _values(helm.get("valuesObject"), "argocd-values")
        images = source.dig("kustomize", "images")
        for item in images.items() if images is not None else []:
            text = item.text or ""
            found = _ref_occurrence("argocd-kustomize", item, text.partition("=")[0] + "=" if "=" in text else "")
            if found is not None and not (split_ref(text)[1] or "@" in text):  # `name=newName` renames only
                found = Occurrence(found.kind, found.current, found.at, found.plan, defaulted=True)
            if found is not None:
                yield found


def _helm_parameters(parameters: Loc | None) -> Iterator[Occurrence]:
    """Argo CD `helm.parameters`: `{name: image.repository, value: ...}` and its `.tag` sibling,
    or one `{name: image, value: repo:tag}`."""
    if parameters is None:
        return
    by_name: dict[str, Loc] = {}
    for item in parameters.items():
        name_loc, value_loc = item.get("name"), item.get("value")
        if name_loc is not None and name_loc.text and value_loc is not None and value_loc.node.id == "scalar":
            by_name.setdefault(name_loc.text, value_loc)
    kind = "argocd-helm-parameter"
    for name, value in by_name.items():
        if name == "image" or name.endswith(".image"):
            found = _ref_occurrence(kind, value)
            if found is not None:
                yield found
        if not (name == "repository" or name.endswith(".repository")):
            continue
        prefix = name[: -len("repository")]
        ref = _joined_ref(by_name.get(prefix + "registry"), value)
        if ref is None or ref.tag or ref.digest:
            continue

        def add_tag(new_tag: str, prefix: str = prefix) -> Change:
            return AddItem(parameters.node, parameters.path, (("name", prefix + "tag"), ("value", new_tag)))

        found = _split_occurrence(kind, ref, value, by_name.get(prefix + "tag"), by_name.get(prefix + "digest"),
                                  add_tag)
        if found is not None:
            yield found


# --------------------------------------------------------------------------- Flux setters


def _setter_field(marker: str, policy: str) -> str | None:
    """'' for the whole image, 'tag', 'name' or 'digest' when `marker` is for `policy`."""
    if marker == policy:
        return ""
    head, _, tail = marker.rpartition(":")
    return tail if head == policy and tail in ("tag", "name", "digest") else None


def _setter_occurrences(yaml: YamlText, policy: str, image: ImageRef, findings: list[Finding]) -> list[Occurrence]:
    text = yaml.text
    values_by_line: dict[int, list[Loc]] = {}
    for doc_index, doc in enumerate(yaml.docs):
        for loc in _value_scalars(Loc(doc, (doc_index,))):
            values_by_line.setdefault(int(loc.node.end_mark.line), []).append(loc)
    result = []
    for match in _MARKER.finditer(text):
        setter = _setter_field(match.group(1), policy)
        if setter is None:
            continue
        line = text.count("\n", 0, match.start())
        on_line = [loc for loc in values_by_line.get(line, []) if loc.node.end_mark.index <= match.start()]
        if not on_line:
            findings.append(Finding(yaml.relpath, line + 1, "warning",
                                    f"the $imagepolicy marker for {policy} has no value before it on its line; "
                                    "skipped", "setter"))
            continue
        result.append(_setter_occurrence(max(on_line, key=lambda loc: loc.node.end_mark.index), setter, image,
                                         yaml.relpath))
    return result


def _value_scalars(doc: Loc) -> Iterator[Loc]:
    """The scalars of a document that are values (mapping values and sequence items)."""
    seen: set[int] = set()
    stack = [doc]
    while stack:
        loc = stack.pop()
        if loc.node.id == "scalar":
            yield loc
        elif id(loc.node) not in seen:
            seen.add(id(loc.node))
            stack.extend(loc.items() if loc.node.id == "sequence" else [child for _, child in loc.pairs()])


def _setter_occurrence(loc: Loc, setter: str, image: ImageRef, relpath: str) -> Occurrence:
    text = loc.text or ""
    written = parse_ref(text)
    same = written is not None and written.name == image.name
    if setter == "":
        current = written or ImageRef(image.registry, image.repository)
    elif setter == "name":
        current = ImageRef(written.registry, written.repository) if written else ImageRef(image.registry,
                                                                                          image.repository)
    elif setter == "tag":
        current = ImageRef(image.registry, image.repository, text or None)
    else:
        current = ImageRef(image.registry, image.repository, None, text or None)

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        name = split_ref(text)[0] if same else short_name(target)
        if setter == "":
            return _set(loc, name + _suffix(target))
        if setter == "name":
            return _set(loc, name)
        if setter == "tag":
            assert target.tag is not None
            return _set(loc, target.tag)
        if not target.digest:
            raise FileError(f"has a digest setter for the policy, but the new image {target.short()} has no "
                            "digest; pin it by digest (digest: pin)", file=relpath, line=loc.line)
        return _set(loc, target.digest)

    return Occurrence("flux-setter", current, loc, plan)


# --------------------------------------------------------------------------- set: FILE:path=VALUE


@dataclass(frozen=True)
class _SetEntry:
    text: str
    relpath: str
    path: str
    keys: tuple[str | int, ...]
    template: str

    def render(self, target: ImageRef) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "tag" and target.tag:
                return target.tag
            if name == "digest":
                if not target.digest:
                    raise InputError("set", self.text, "{digest} only together with a digest (digest: pin)")
                return target.digest
            if name == "image":
                return target.short()
            if name == "name":
                return short_name(target)
            raise InputError("set", self.text, "placeholders among " + ", ".join(f"{{{p}}}" for p in SET_PLACEHOLDERS))

        return _PLACEHOLDER.sub(fill, self.template)


def _parse_sets(entries: Sequence[str]) -> list[_SetEntry]:
    expected = ("FILE:dotted.path=VALUE, e.g. apps/app/values.yaml:image.tag={tag} "
                "(keys with dots as a\\.b, list items as [0])")
    parsed = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        match = _SET.fullmatch(text)
        if match is None:
            raise InputError("set", raw, expected)
        keys: list[str | int] = []
        path = match.group("path").strip()
        for part in re.split(r"(?<!\\)\.", path):
            key = _SET_KEY.fullmatch(part)
            if key is None:
                raise InputError("set", raw, expected)
            keys.append(re.sub(r"\\(.)", r"\1", key.group(1)))
            keys += [int(n) for n in re.findall(r"\[(\d+)\]", key.group(2))]
        entry = _SetEntry(text, match.group("file").strip(), path, tuple(keys), match.group("value").strip())
        for placeholder in _PLACEHOLDER.findall(entry.template):
            if placeholder not in SET_PLACEHOLDERS:
                raise InputError("set", raw, "placeholders among " + ", ".join(f"{{{p}}}" for p in SET_PLACEHOLDERS))
        parsed.append(entry)
    return parsed


def _set_occurrence(entry: _SetEntry, loc: Loc, image: ImageRef) -> Occurrence:
    text = loc.text or ""
    written = parse_ref(text)
    if written is not None and written.name == image.name:
        current = written
    else:
        tag, _, digest = text.partition("@")
        current = ImageRef(image.registry, image.repository, tag if _is_tag(tag) else None, digest or None)

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        return _set(loc, entry.render(target))

    return Occurrence("set", current, loc, plan)


def _is_tag(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text))


# --------------------------------------------------------------------------- kustomize-add


def _kustomization_files(root: Path, scope: Sequence[str]) -> list[tuple[str, Path | None]]:
    """(relpath, path) of the kustomization file of each scope folder; (folder, None) if it has none."""
    result: list[tuple[str, Path | None]] = []
    for folder in dict.fromkeys(scope or ["."]):
        base, prefix = scope_folder(root, folder)
        if base.is_dir():
            name = next((n for n in KUSTOMIZATION_NAMES if (base / n).is_file()), None)
            result.append((prefix + name, base / name) if name else (prefix.rstrip("/") or ".", None))
    return result


def _add_kustomize_entries(scan: _Scan, target: ImageRef, files: Sequence[tuple[str, Path | None]],
                           found: Sequence[ImageSite]) -> list[ImageSite]:
    """In each scope folder whose tree has no kustomize entry for the image, add one to its
    kustomization file, in the file's style (`images:` is created when missing)."""
    have = [site.relpath for site in found if site.kind == "kustomize"]
    # kustomize matches `name` as written in the resources, so spell it as they do
    spelled = next((split_ref(site.value)[0] for site in found if site.kind == "container"), short_name(target))
    added = []
    for relpath, path in files:
        folder = relpath.rpartition("/")[0] + "/" if "/" in relpath else ""
        if path is not None and any(have_path.startswith(folder) for have_path in have):
            continue
        if path is None:
            raise FileError("has no kustomization.yaml to add the image to (kustomize-add)", file=relpath)
        opened = scan.open(path, relpath, None, target=True)
        assert opened is not None
        change = _kustomize_add_change(opened, target, spelled)
        opened.changes.append(change)
        line = opened.yaml.line_of_change(change)
        added.append(ImageSite(opened.relpath, line, "kustomize", ImageRef(target.registry, target.repository)))
    return added


def _kustomize_add_change(opened: _Opened, target: ImageRef, name: str) -> Change:
    assert target.tag is not None
    docs = opened.yaml.in_file_order()
    if not docs or docs[0][1].id != "mapping" or not docs[0][1].value:
        raise FileError("is not a kustomization (a YAML mapping); cannot add the image (kustomize-add)",
                        file=opened.relpath)
    doc = Loc(docs[0][1], (docs[0][0],))
    pairs: Pairs = (("name", name), ("newTag", target.tag))
    if target.digest:
        pairs += (("digest", target.digest),)
    images = doc.get("images")
    if images is None:
        return AddSequence(doc.node, doc.path, "images", (pairs,))
    if images.node.id != "sequence" or (not images.node.value and not images.node.flow_style):
        raise FileError("has an images: that is not a list; cannot add the image (kustomize-add)",
                        file=opened.relpath, line=opened.yaml.line(images.node))
    return AddItem(images.node, images.path, pairs)
