"""Where a GitOps repository pins an image, and the byte-exact edits that pin a new one.

This module picks the files and documents and asks the shapes (gitops.shapes: pod specs, custom
resources, Helm values, kustomize, Argo CD, Chart.yaml annotations; Flux setters with a policy;
`set: FILE:dotted.path=VALUE` for anything else) where the image is; images are matched by
normalised repository. What a file is comes from gitops.classify: a GitHub workflow, a Compose
file, a CI configuration or a Helm test suite is not deployment config and is skipped (with a
notice) unless the scope names it.

Only files that contain the image's repository path (or, with a policy, the policy's name) are
parsed at all, and of those only the documents that contain it: that byte search is what keeps a
bump over thousands of files near `grep` speed. A malformed file stops the bump only when it has
an edit target (the image as the value of an image field, or a file named in set or
kustomize-add); one that only mentions the image is skipped with a warning, and one that never
mentions it is not read as YAML at all (lint reports it).

A reference pinned by digest stays pinned: bumping it needs the new digest (`digest: pin`, or the
one the registry gave), or `digest: drop` to remove the pin on purpose; otherwise it is refused.

Choices where the tools leave room:
- A digest in Helm values goes into an existing `digest` key; without one, into the tag as
  `tag@sha256:…` (charts render `repository:tag`, so any chart then pulls by digest). Bumping
  without a digest empties that key. In kustomize the old `digest:` line is removed.
- With a `policy`, only Flux's marked fields change, as Flux does it.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import FileEdit, inside_repo
from deploy_actions.gitops import classify
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.repo_files import read_file, scope_folder, yaml_files
from deploy_actions.gitops.set_paths import SetEntry, parse_sets
from deploy_actions.gitops.shapes import document_occurrences, flux_setters, kustomize
from deploy_actions.gitops.shapes.occurrence import (
    Document,
    Finding,
    ImageSite,
    Loc,
    Occurrence,
    parse_ref,
    short_name,
    split_ref,
)
from deploy_actions.gitops.yaml_splice import Change, YamlSyntaxError, YamlText

__all__ = ["Finding", "ImageSite", "ImageUpdate", "Pins", "find_image_sites", "plan_image_update"]


@dataclass(frozen=True)
class ImageUpdate:
    edits: tuple[FileEdit, ...]  # one per changed file; `after` differs from `before` only in the values
    sites: tuple[ImageSite, ...]  # every site found for the image, before the change
    changed: tuple[ImageSite, ...]  # the sites whose value changes (a subset of `sites`)
    findings: tuple[Finding, ...]  # e.g. an unrelated malformed YAML file, a skipped workflow


@dataclass(frozen=True)
class Pins:
    """What to do with a site pinned by digest when the target names none."""

    digest: str | None = None  # the target tag's digest, as the registry gave it: pin that
    drop: bool = False  # remove the pin (digest: drop)


# --------------------------------------------------------------------------- public API


def find_image_sites(
    root: Path, scope: Sequence[str], image: ImageRef, *, policy: str | None = None, sets: Sequence[str] = ()
) -> tuple[tuple[ImageSite, ...], tuple[Finding, ...]]:
    """Every place in `scope` (repo-relative folders or files; empty: the whole repository)
    that pins `image`, matched by normalised repository. With `policy` (Flux's `ns:name`),
    only the fields marked `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}` count, as in
    Flux; `sets` (`FILE:dotted.path=VALUE`) add fields of any other shape."""
    found = _search(root, scope, image, None, flux_setters.check_policy(policy), parse_sets(sets),
                    kustomize_add=False, pins=Pins())
    return found.sites, found.findings


def plan_image_update(
    root: Path, scope: Sequence[str], target: ImageRef, *, policy: str | None = None,
    sets: Sequence[str] = (), kustomize_add: bool = False, pins: Pins = Pins(),
) -> ImageUpdate:
    """The edits that make every site pin `target` (its tag, and its digest when given).
    Writes nothing. A site already at `target` needs no edit, so a second run plans none.
    With `kustomize_add`, a scope folder whose tree has no kustomize entry for the image gets
    one in its kustomization file. Raises InputError/FileError (file and line) on bad input,
    and FileError for a digest-pinned site the `pins` cannot keep pinned."""
    if not target.tag:
        raise InputError("image", str(target), "an image reference with a tag (ghcr.io/org/app:v1.2.3)")
    entries = parse_sets(sets)
    for entry in entries:
        entry.render(target)  # a placeholder this target cannot fill fails before anything else
    return _search(root, scope, target, target, flux_setters.check_policy(policy), entries, kustomize_add, pins)


# --------------------------------------------------------------------------- the search

# Above this many files, and when the process may fork, files are read and edited by worker
# processes (parsing is most of the work and each file stands alone). None: decide by size.
WORKERS: int | None = None
_PARALLEL_FROM = 2000


@dataclass(frozen=True)
class _Result:
    """What the search found in some files (or the error that stopped it in one)."""

    sites: tuple[ImageSite, ...] = ()
    changed: tuple[ImageSite, ...] = ()
    edits: tuple[FileEdit, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: tuple[str, str | None, int | None] | None = None  # a FileError's message, file and line


@dataclass(frozen=True)
class _Job:
    """What every file of one search is searched for (sent to worker processes as it is)."""

    root: Path
    image: ImageRef
    target: ImageRef | None
    policy: str | None
    pins: Pins
    named: frozenset[str]


def _search(root: Path, scope: Sequence[str], image: ImageRef, target: ImageRef | None, policy: str | None,
            sets: Sequence[SetEntry], kustomize_add: bool, pins: Pins) -> ImageUpdate:
    listed = yaml_files(root, scope)
    base = root.resolve()
    add_to = _kustomization_files(root, scope) if kustomize_add else []
    # files a set or kustomize-add may also change are read here, whole, after the others
    special = {*(rel for rel, _ in add_to),
               *(inside_repo(root, e.relpath, "set", e.text).relative_to(base).as_posix() for e in sets)}
    job = _Job(root, image, target, policy, pins, frozenset(listed.named | special))
    results = _each_file(job, [f for f in listed.files if f[1] not in special])
    failed = [r.error for r in results if r.error is not None]
    if failed:
        message, file, line = failed[0]
        raise FileError(message, file=file, line=line)
    scan = _Scan(job)
    for path, relpath in listed.files:
        if relpath in special:
            scan.scan_file(path, relpath, read_file(path, relpath))
    for entry in sets:
        scan.scan_set(entry)
    added: tuple[ImageSite, ...] = ()
    if target is not None and add_to:
        found = [site for r in results for site in r.sites] + scan.sites()
        added = tuple(_add_kustomize_entries(scan, target, add_to, found))
    last = scan.result(added)
    needle = _needle(image, policy)
    skipped = tuple(Finding(relpath, None, "notice", f"skipped: {why}", "skipped")
                    for path, relpath, why in listed.skipped if needle in read_file(path, relpath))
    everything = [*results, last]
    return ImageUpdate(
        edits=tuple(sorted((e for r in everything for e in r.edits), key=lambda e: e.relpath)),
        sites=tuple(sorted(s for r in everything for s in r.sites)),
        changed=tuple(sorted(s for r in everything for s in r.changed)),
        findings=tuple(f for r in everything for f in r.findings) + skipped,
    )


def _each_file(job: _Job, files: list[tuple[str, str]]) -> list[_Result]:
    """One result per file that needed one, in file order; forked workers share big searches."""
    workers = WORKERS if WORKERS is not None else _spare_cpus() if len(files) >= _PARALLEL_FROM else 1
    # fork only a single-threaded process (a lock held by another thread would stay locked in the copy)
    if workers > 1 and sys.platform == "linux" and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        batches = [files[i :: workers * 4] for i in range(workers * 4)]
        context = multiprocessing.get_context("fork")  # a copy of this process: nothing to import again
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = pool.map(_files_batch, [job] * len(batches), batches)
            results = [(relpath, result) for part in parts for relpath, result in part]
        return [result for _, result in sorted(results, key=lambda pair: pair[0])]
    return [result for _, result in _files_batch(job, files)]


def _spare_cpus() -> int:
    """CPUs this process may use that are not busy already (workers competing for one CPU are slower
    than none), at most 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cpus - round(os.getloadavg()[0])))


def _files_batch(job: _Job, files: list[tuple[str, str]]) -> list[tuple[str, _Result]]:
    needle = _needle(job.image, job.policy)
    results = []
    for path, relpath in files:
        try:
            data = read_file(path, relpath)
            if needle not in data:
                continue
            scan = _Scan(job)
            scan.scan_file(path, relpath, data)
            result = scan.result()
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


class _Scan:
    """Files parsed for one image, with what was found in them and the changes planned."""

    def __init__(self, job: _Job):
        self.job = job
        self.image = job.image
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
        if self.job.policy is not None:
            self._scan_setters(path, relpath, data, self.job.policy)
            return
        needle = _needle(self.image, None)
        if needle not in data:
            return
        opened = self.open(path, relpath, data, target=False, needle=needle.decode())
        if opened is None:
            return
        if relpath not in self.job.named:
            why = classify.not_deployment_config(relpath, opened.yaml.docs)
            if why is not None:
                self.findings.append(Finding(relpath, None, "notice", f"skipped: {why}, not deployment config "
                                             "(name the file in path to edit it)", "skipped"))
                return
        role = classify.file_role(relpath)
        for doc_index, doc in enumerate(opened.yaml.docs):
            for found in document_occurrences(Document(Loc(doc, (doc_index,)), opened.yaml, role)):
                if found.current.name == self.image.name:
                    self.found.append((opened, found))

    def _scan_setters(self, path: str | Path, relpath: str, data: bytes, policy: str) -> None:
        if policy.encode() not in data or b'"$imagepolicy"' not in data:
            return
        if not flux_setters.marks(data.decode("utf-8", "replace"), policy):
            return
        opened = self.open(path, relpath, data, target=True, needle=policy)
        assert opened is not None
        self.found += [(opened, f) for f in flux_setters.occurrences(opened.yaml, policy, self.image, self.findings)]

    def scan_set(self, entry: SetEntry) -> None:
        root = self.job.root
        path = inside_repo(root, entry.relpath, "set", entry.text)
        if not path.is_file():
            raise FileError("not found (it is named in set)", file=entry.relpath)
        opened = self.open(path, path.relative_to(root.resolve()).as_posix(), None, target=True)
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
            self.found.append((opened, entry.occurrence(loc, self.image)))
        if not hits:
            raise FileError(f"has no {entry.path} (set: {entry.text}); set only changes values that exist",
                            file=entry.relpath)

    def open(self, path: str | Path, relpath: str, data: bytes | None, target: bool,
             needle: str | None = None) -> _Opened | None:
        """Parse a file once: with a `needle`, only its documents that contain it. A malformed
        file with an edit target (`target`, or the image as the value of an image field) is an
        error; one that only mentions the image is skipped with a warning."""
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
            elif target or relpath in self.job.named or edit_target_line(data, self.image) is not None:
                raise FileError(f"{exc.message}; nothing was written, fix the file first",
                                file=relpath, line=exc.line) from None
            else:
                why = f"it has no image field set to {short_name(self.image)}"
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

    def result(self, added: Sequence[ImageSite] = ()) -> _Result:
        """The sites found; with a target, also the verified edits that pin it."""
        target = self.job.target
        if target is None:
            return _Result(sites=tuple(self.sites()), findings=tuple(self.findings))
        changed: dict[tuple[str, int], ImageSite] = {}
        for opened, found in self.found:
            changes = found.plan(self._aim(opened, found, target), opened.yaml)
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

    def _aim(self, opened: _Opened, found: Occurrence, target: ImageRef) -> ImageRef:
        """What a site should pin: a site pinned by digest keeps a pin, or is refused."""
        if target.digest or not found.current.digest or found.kind == "flux-setter":
            return target
        pins = self.job.pins
        if pins.digest:
            return target.with_tag(target.tag, pins.digest)
        if pins.drop:
            return target
        raise FileError(f"pins {found.current.short()} by digest, and {target.short()} has none; "
                        "use digest: pin to pin the new digest from the registry, or digest: drop to remove the pin",
                        file=opened.relpath, line=found.at.line)


_IMAGE_FIELD = re.compile(r"""^[ \t-]*["']?(?:image|repository|repo|newName|name|value)["']?[ \t]*:[ \t]*["']?"""
                          r"""([^\s"'#,{}\[\]]+)""", re.MULTILINE)


def edit_target_line(data: bytes, image: ImageRef) -> int | None:
    """The first line (1-based) where the text sets an image field to `image` in any spelling
    (`image: nginx:1`, `repository: docker.io/library/nginx`), or None."""
    text = data.decode("utf-8", "replace")
    needle = image.repository.removeprefix("library/")
    for match in _IMAGE_FIELD.finditer(text):
        token = match.group(1)
        if needle not in token:
            continue
        ref = parse_ref(token.partition("=")[2] or token)
        if split_ref(token)[0] in (image.repository, needle) or (ref is not None and ref.name == image.name):
            return text.count("\n", 0, match.start()) + 1
    return None


# --------------------------------------------------------------------------- kustomize-add


def _kustomization_files(root: Path, scope: Sequence[str]) -> list[tuple[str, Path | None]]:
    """(relpath, path) of the kustomization file of each scope folder; (folder, None) if it has none."""
    result: list[tuple[str, Path | None]] = []
    for folder in dict.fromkeys(scope or ["."]):
        base, prefix = scope_folder(root, folder)
        if base.is_dir():
            name = next((n for n in classify.KUSTOMIZATION_NAMES if (base / n).is_file()), None)
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
        change = kustomize.add_entry(opened.yaml, target, spelled)
        opened.changes.append(change)
        line = opened.yaml.line_of_change(change)
        added.append(ImageSite(opened.relpath, line, "kustomize", ImageRef(target.registry, target.repository)))
    return added
