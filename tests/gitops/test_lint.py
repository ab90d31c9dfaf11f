"""Lint: the runbook's anti-patterns as findings with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy_actions.errors import InputError
from deploy_actions.gitops.lint import lint_repository
from deploy_actions.gitops.manifests import Finding

DATA = Path(__file__).parent.parent / "data"
DIGEST = "sha256:" + "ab" * 32


def seed(root: Path, files: dict[str, str]) -> Path:
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def rules(findings: tuple[Finding, ...]) -> list[tuple[str, int | None, str, str]]:
    return [(f.relpath, f.line, f.level, f.rule) for f in findings]


def pod(*images: str, policy: str = "") -> str:
    lines = ["apiVersion: v1", "kind: Pod", "spec:", "  containers:"]
    for image in images:
        lines += [f"  - image: {image}"] + ([f"    imagePullPolicy: {policy}"] if policy else [])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("tag", ["latest", "main", "master", "stable", "edge", "dev", "Latest"])
def test_mutable_tags_are_errors(tmp_path: Path, tag: str) -> None:
    seed(tmp_path, {"pod.yaml": pod(f"ghcr.io/org/app:{tag}")})
    findings = lint_repository(tmp_path, [])
    assert rules(findings) == [("pod.yaml", 5, "error", "mutable-tag")]
    assert f"'{tag}'" in findings[0].message and "ghcr.io/org/app" in findings[0].message


def test_untagged_images_are_errors(tmp_path: Path) -> None:
    seed(tmp_path, {"pod.yaml": pod("nginx", "localhost:5000/app", "ghcr.io/org/app:v1.2.3")})
    assert rules(lint_repository(tmp_path, [])) == [("pod.yaml", 5, "error", "untagged-image"),
                                                     ("pod.yaml", 6, "error", "untagged-image")]


def test_a_digest_pins_even_a_mutable_tag(tmp_path: Path) -> None:
    seed(tmp_path, {"pod.yaml": pod(f"nginx:latest@{DIGEST}", f"nginx@{DIGEST}", "nginx:1.27")})
    assert lint_repository(tmp_path, []) == ()


def test_image_pull_policy_always_is_a_warning(tmp_path: Path) -> None:
    seed(tmp_path, {"pod.yaml": pod("nginx:1.27", policy="Always"),
                    "values.yaml": "image:\n  repository: nginx\n  tag: 1.27\n  pullPolicy: Always\n"
                                   "other:\n  pullPolicy: Always\n"})
    findings = lint_repository(tmp_path, [])
    assert rules(findings) == [("pod.yaml", 6, "warning", "pull-always"), ("values.yaml", 4, "warning", "pull-always")]
    assert findings[0].message.startswith("imagePullPolicy: Always")


def test_helm_kustomize_and_argocd_shapes(tmp_path: Path) -> None:
    seed(tmp_path, {
        "values.yaml": "image:\n  repository: ghcr.io/org/app\n  tag: main\n"
                       "chartDefault:\n  repository: ghcr.io/org/web\n  tag: ''\n"
                       "sidecar:\n  image: busybox\n",
        "kustomization.yaml": "images:\n- name: app\n  newTag: latest\n- name: web\n  newName: ghcr.io/org/web\n"
                              f"- name: db\n  newTag: latest\n  digest: {DIGEST}\n",
        "app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize:\n"
                    "      images: [ghcr.io/org/app:dev, ghcr.io/org/web]\n",
    })
    assert rules(lint_repository(tmp_path, [])) == [
        ("app.yaml", 6, "error", "mutable-tag"),
        ("kustomization.yaml", 3, "error", "mutable-tag"),
        ("values.yaml", 3, "error", "mutable-tag"),
        ("values.yaml", 8, "error", "untagged-image"),
    ]


def test_malformed_files_are_warnings_and_templates_are_skipped(tmp_path: Path) -> None:
    seed(tmp_path, {"broken.yaml": "image: nginx\n  bad: [x\n",
                    "chart/Chart.yaml": "apiVersion: v2\nname: c\n",
                    "chart/templates/pod.yaml": pod("{{ .Values.image }}", "nginx:latest")})
    assert rules(lint_repository(tmp_path, [])) == [("broken.yaml", 2, "warning", "yaml-syntax")]


def test_scope_limits_lint(tmp_path: Path) -> None:
    seed(tmp_path, {"a/pod.yaml": pod("nginx"), "b/pod.yaml": pod("nginx")})
    assert rules(lint_repository(tmp_path, ["b"])) == [("b/pod.yaml", 5, "error", "untagged-image")]
    with pytest.raises(InputError):
        lint_repository(tmp_path, ["../x"])


def test_kubernetes_examples(tmp_path: Path) -> None:
    shutil.copytree(DATA / "kubernetes-examples", tmp_path / "examples")
    assert rules(lint_repository(tmp_path / "examples", [])) == [
        ("cassandra-statefulset.yaml", 22, "warning", "pull-always"),
        ("es-rc.yaml", 17, "error", "untagged-image"),
        ("minio-distributed-statefulset.yaml", 25, "error", "mutable-tag"),
        ("newrelic-daemonset.yaml", 33, "error", "untagged-image"),
    ]
