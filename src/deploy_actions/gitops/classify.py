"""What a YAML file in a GitOps repository is, decided by evidence in its name and content.

A document with `apiVersion` and `kind` together is a Kubernetes object; any other mapping is
configuration (Helm values, a write-back file), even one with a top-level `kind:` key. Some
files are read by a known tool by name (kustomization files, `Chart.yaml`, Argo CD's
`.argocd-source-<app>.yaml`). And some YAML is not deployment configuration at all: GitHub
workflows, Compose files, CI configurations and Helm test suites use `image:` for other
things, so they are left alone unless the user names them, and `.github/` is out of scope.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from deploy_actions.gitops.loc import Loc

FileRole = Literal["config", "kustomization", "chart", "argocd-source"]

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
OUT_OF_SCOPE_FOLDERS = (".github",)  # walked only when the scope names them

_ARGOCD_SOURCE = re.compile(r"\.argocd-source(-[^/]+)?\.ya?ml")
# CI systems that find their configuration by name
_CI_NAMES = re.compile(r"\.gitlab-ci\.ya?ml|\.travis\.ya?ml|bitbucket-pipelines\.ya?ml|azure-pipelines\.ya?ml"
                       r"|\.drone\.ya?ml|\.woodpecker\.ya?ml|cloudbuild\.ya?ml|appveyor\.ya?ml|\.pre-commit-config\.ya?ml"
                       r"|(docker-)?compose(\.[\w.-]+)?\.ya?ml")
_CI_PATHS = re.compile(r"(^|/)(\.circleci/config|\.gitlab/ci/[^/]+|\.woodpecker/[^/]+|\.buildkite/pipeline[^/]*)"
                       r"\.ya?ml$")


def file_role(relpath: str) -> FileRole:
    """What a file is by its name: read by kustomize, Helm's chart metadata, an Argo CD write-back
    file, or configuration whose documents speak for themselves."""
    name = relpath.rpartition("/")[2]
    if name in KUSTOMIZATION_NAMES:
        return "kustomization"
    if name == "Chart.yaml":
        return "chart"
    if _ARGOCD_SOURCE.fullmatch(name):
        return "argocd-source"
    return "config"


def is_object(doc: Loc) -> bool:
    """A Kubernetes object: a mapping with `apiVersion` and `kind`, both plain strings."""
    api, kind = doc.get("apiVersion"), doc.get("kind")
    return bool(api is not None and kind is not None and api.text and kind.text)


def kind_of(doc: Loc) -> tuple[str, str]:
    """(apiVersion, kind) of an object ('' when absent)."""
    api, kind = doc.get("apiVersion"), doc.get("kind")
    return (api.text or "") if api is not None else "", (kind.text or "") if kind is not None else ""


def not_deployment_config(relpath: str, docs: list[Any]) -> str | None:
    """Why a file is not deployment configuration (`a GitHub workflow`), or None when it may be."""
    name = relpath.rpartition("/")[2]
    if _CI_NAMES.fullmatch(name) or _CI_PATHS.search(relpath):
        return "a Compose file" if "compose" in name else "a CI configuration"
    for node in docs:
        why = _not_config(Loc(node, (0,)))
        if why is not None:
            return why
    return None


def _not_config(doc: Loc) -> str | None:
    keys = doc.keys()
    if not keys or is_object(doc):
        return None
    if {"on", "jobs"} <= keys or ({"runs", "name"} <= keys and _has(doc, "runs", "using")):
        return "a GitHub workflow" if "jobs" in keys else "a GitHub action"
    services = doc.get("services")
    if services is not None and services.node.id == "mapping" and services.pairs() and all(
            _compose_service(child) for _, child in services.pairs()):
        if keys <= {"services", "version", "volumes", "networks", "configs", "secrets", "name", "include"} or any(
                k.startswith("x-") for k in keys):
            return "a Compose file"
    if {"suite", "tests"} <= keys or ("tests" in keys and _tests_have_asserts(doc.get("tests"))):
        return "a Helm test suite"
    if "stages" in keys and any(child.get("script") is not None for _, child in doc.pairs()):
        return "a CI configuration"
    if "version" in keys and {"jobs", "workflows"} & keys and ("orbs" in keys or "workflows" in keys):
        return "a CI configuration"
    return None


def _compose_service(service: Loc) -> bool:
    """A Compose service: `image` (a string) or `build` (Helm values would hold an image map)."""
    image = service.get("image")
    return bool(service.keys() & {"image", "build"}) and (image is None or image.node.id == "scalar")


def _has(doc: Loc, *keys: str) -> bool:
    return doc.dig(*keys) is not None


def _tests_have_asserts(tests: Loc | None) -> bool:
    return tests is not None and any(item.get("asserts") is not None for item in tests.items())
