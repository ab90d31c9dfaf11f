"""The runbook's anti-patterns in a GitOps repository, as findings with file and line.

Errors: an image on a mutable tag (`latest`, `main`, `master`, `stable`, `edge`, `dev`) without
a digest, or with neither tag nor digest (which means `latest`). Warning: `imagePullPolicy:
Always` (or a Helm image block's `pullPolicy: Always`). The shapes are the ones gitops-bump
edits; a value the chart or kustomize fills in (no Helm `tag`, a kustomize rename) is not a pin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from deploy_actions.gitops import classify
from deploy_actions.gitops.repo_files import read_file, yaml_files
from deploy_actions.gitops.shapes import Document, Loc, Occurrence, document_occurrences
from deploy_actions.gitops.shapes.occurrence import Finding, split_ref
from deploy_actions.gitops.yaml_splice import YamlSyntaxError, YamlText

MUTABLE_TAGS = frozenset({"latest", "main", "master", "stable", "edge", "dev"})

# Cheap tests on a file's bytes: only a file that could hold a finding is parsed.
_MUTABLE_WORD = re.compile(rb"(?<![\w.-])(?:latest|main|master|stable|edge|dev)(?![\w.-])", re.IGNORECASE)
_IMAGE_VALUE = re.compile(rb"""image["']?[ \t]*:[ \t]*["']?([^\s"'#,{}\[\]]+)""")


def lint_repository(root: Path, scope: Sequence[str]) -> tuple[Finding, ...]:
    """Findings for every YAML file in `scope` (empty: the whole repository), sorted by file
    and line. A file that cannot be parsed is reported as a warning and not checked."""
    findings: list[Finding] = []
    listed = yaml_files(root, scope)
    for path, relpath in listed.files:
        data = read_file(path, relpath)
        if not _could_have_findings(data):
            continue
        try:
            yaml = YamlText(relpath, data)
        except YamlSyntaxError as exc:
            findings.append(Finding(relpath, exc.line, "warning", f"{exc.message}; not checked", "yaml-syntax"))
            continue
        if relpath not in listed.named and classify.not_deployment_config(relpath, yaml.docs) is not None:
            continue
        role = classify.file_role(relpath)
        for index, doc in enumerate(yaml.docs):
            loc = Loc(doc, (index,))
            for found in document_occurrences(Document(loc, yaml, role)):
                finding = _tag_finding(relpath, found)
                if finding is not None:
                    findings.append(finding)
            findings += (Finding(relpath, policy.line, "warning",
                                 f"{key}: Always pulls the image on every start; with immutable tags use "
                                 "IfNotPresent", "pull-always")
                         for key, policy in _pull_always(loc))
    return tuple(sorted(set(findings), key=lambda f: (f.relpath, f.line or 0, f.rule, f.message)))


def _could_have_findings(data: bytes) -> bool:
    if b"Always" in data or _MUTABLE_WORD.search(data):
        return True
    for match in _IMAGE_VALUE.finditer(data):
        _name, tag, digest = split_ref(match.group(1).decode("utf-8", "replace"))
        if tag is None and digest is None:
            return True
    return False


def _tag_finding(relpath: str, found: Occurrence) -> Finding | None:
    ref = found.current
    if found.defaulted or ref.digest:
        return None
    line = found.at.line
    shown = ref.short()
    if ref.tag is None:
        return Finding(relpath, line, "error", f"the image {shown} has no tag or digest, so it runs whatever "
                       "'latest' is; pin a version tag (or a digest)", "untagged-image")
    if ref.tag.lower() in MUTABLE_TAGS:
        return Finding(relpath, line, "error", f"the image {shown} uses the mutable tag '{ref.tag}'; pin an "
                       "immutable version tag (or add a digest)", "mutable-tag")
    return None


def _pull_always(doc: Loc) -> Iterator[tuple[str, Loc]]:
    """`imagePullPolicy: Always` anywhere, and `pullPolicy: Always` next to a `repository`."""
    seen: set[int] = set()
    stack = [doc]
    while stack:
        loc = stack.pop()
        if id(loc.node) in seen or loc.node.id == "scalar":
            continue
        seen.add(id(loc.node))
        if loc.node.id == "sequence":
            stack.extend(loc.items())
            continue
        pairs = loc.pairs()
        keys = {key for key, _ in pairs}
        for key, child in pairs:
            if child.text == "Always" and (key == "imagePullPolicy" or (key == "pullPolicy" and "repository" in keys)):
                yield key, child
            elif child.node.id != "scalar":
                stack.append(child)
