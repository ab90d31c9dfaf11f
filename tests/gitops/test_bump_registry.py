"""gitops-bump checks the real registry before writing anything."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from deploy_actions.cli import main

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}
"""

KUSTOMIZATION = """\
resources:
  - deployment.yaml
images:
  - name: {name}
    newTag: v1.0.0
"""


def checkout(tmp_path: Path, text: str, name: str = "deploy/app.yaml") -> Path:
    root = tmp_path / "co"
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root


def bump(capsys, root: Path, *args: str) -> tuple[int, dict, str]:
    code = main(["gitops-bump", "--json", "--path", str(root), "--mode", "none", "--record", "", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_existing_image_is_accepted(registry, tmp_path, capsys):
    registry.push("org/app", "v1.1.0")
    name = f"{registry.host}/org/app"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    code, out, err = bump(capsys, root, "--image", name, "--tag", "v1.1.0")
    assert code == 0, err
    assert (root / "deploy/app.yaml").read_text() == MANIFEST.format(image=f"{name}:v1.1.0")
    assert out["digest"] == ""


def test_missing_image_changes_nothing_and_says_so(registry, tmp_path, capsys):
    name = f"{registry.host}/org/app"
    text = MANIFEST.format(image=f"{name}:v1.0.0")
    root = checkout(tmp_path, text)
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v9.9.9")
    assert code == 1 and "not in the registry" in err and "Traceback" not in err
    assert (root / "deploy/app.yaml").read_text() == text


def test_digest_pin_writes_tag_and_digest(registry, tmp_path, capsys):
    pushed = registry.push("org/pinned", "v2.0.0")
    name = f"{registry.host}/org/pinned"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    code, out, err = bump(capsys, root, "--image", name, "--tag", "v2.0.0", "--digest", "pin")
    assert code == 0, err
    assert out["digest"] == pushed.digest
    assert (root / "deploy/app.yaml").read_text() == MANIFEST.format(image=f"{name}:v2.0.0@{pushed.digest}")


def test_digest_pin_in_kustomize_sets_the_digest_field(registry, tmp_path, capsys):
    pushed = registry.push("org/kpin", "v2.0.0")
    name = f"{registry.host}/org/kpin"
    root = checkout(tmp_path, KUSTOMIZATION.format(name=name), "deploy/kustomization.yaml")
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v2.0.0", "--digest", "pin")
    assert code == 0, err
    text = (root / "deploy/kustomization.yaml").read_text()
    assert f"digest: {pushed.digest}" in text and "newTag: v2.0.0" in text


def test_mutable_tag_is_allowed_only_when_pinned_by_digest(registry, tmp_path, capsys):
    pushed = registry.push("org/mutable", "latest")
    name = f"{registry.host}/org/mutable"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    assert bump(capsys, root, "--image", name, "--tag", "latest")[0] == 2
    code, _, err = bump(capsys, root, "--image", name, "--tag", "latest", "--digest", "pin")
    assert code == 0, err
    assert f"{name}:latest@{pushed.digest}" in (root / "deploy/app.yaml").read_text()


def test_wait_for_image_bumps_once_ci_has_pushed(registry, tmp_path, capsys):
    name = f"{registry.host}/org/late"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    pusher = threading.Timer(2.0, lambda: registry.push("org/late", "v1.1.0"))
    started = time.monotonic()
    pusher.start()
    try:
        code, out, err = bump(capsys, root, "--image", name, "--tag", "v1.1.0", "--wait-for-image", "30s")
    finally:
        pusher.join()
    assert code == 0, err
    assert time.monotonic() - started >= 2.0  # it did not write before the push
    assert out["changed"] is True


def test_bearer_registry_with_credentials(registry_bearer, tmp_path, capsys, monkeypatch):
    registry_bearer.push("org/private", "v3.0.0")
    name = f"{registry_bearer.host}/org/private"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    monkeypatch.setenv("INPUT_REGISTRY-PASSWORD", registry_bearer.password)
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v3.0.0",
                        "--registry-username", registry_bearer.username)
    assert code == 0, err
    assert registry_bearer.password not in err
    monkeypatch.setenv("INPUT_REGISTRY-PASSWORD", "wrong-password")
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v3.0.0",
                        "--registry-username", registry_bearer.username)
    assert code == 1 and "wrong-password" not in err


def test_registry_down_is_a_clear_error_and_nothing_is_written(closed_registry, tmp_path, capsys):
    name = f"{closed_registry}/org/app"
    text = MANIFEST.format(image=f"{name}:v1.0.0")
    root = checkout(tmp_path, text)
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v1.1.0")
    assert code == 1 and "Traceback" not in err and closed_registry in err
    assert (root / "deploy/app.yaml").read_text() == text


def test_registry_5xx_is_retried_then_the_bump_goes_ahead(registry, registry_proxy, tmp_path, capsys):
    registry.push("org/flaky", "v1.1.0")
    proxy = registry_proxy(registry, fail_first=2, fail_status=503)
    name = f"{proxy.host}/org/flaky"
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0"))
    code, out, err = bump(capsys, root, "--image", name, "--tag", "v1.1.0")
    assert code == 0, err
    assert out["changed"] is True


def test_malformed_target_yaml_names_file_and_line_and_writes_nothing(tmp_path, capsys):
    broken = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: ghcr.io/org/app:v1.0.0\n   bad: [\n"
    root = checkout(tmp_path, broken)
    (root / "deploy/ok.yaml").write_text(MANIFEST.format(image="ghcr.io/org/app:v1.0.0"))
    code, _, err = bump(capsys, root, "--image", "ghcr.io/org/app", "--tag", "v1.1.0", "--verify-image", "false")
    assert code == 2 and "deploy/app.yaml" in err and "Traceback" not in err
    assert (root / "deploy/app.yaml").read_text() == broken
    assert (root / "deploy/ok.yaml").read_text() == MANIFEST.format(image="ghcr.io/org/app:v1.0.0")


def test_a_site_pinned_by_digest_stays_pinned_with_the_registrys_digest(registry, tmp_path, capsys):
    pushed = registry.push("org/kept", "v2.0.0")
    name = f"{registry.host}/org/kept"
    old = "sha256:" + "01" * 32
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v1.0.0@{old}"))
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v2.0.0")
    assert code == 0, err
    assert (root / "deploy/app.yaml").read_text() == MANIFEST.format(image=f"{name}:v2.0.0@{pushed.digest}")


def test_without_the_registry_a_pinned_site_is_refused_unless_dropped_on_purpose(tmp_path, capsys):
    name = "ghcr.io/org/app"
    text = MANIFEST.format(image=f"{name}:v1.0.0@sha256:{'01' * 32}")
    root = checkout(tmp_path, text)
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v2.0.0", "--verify-image", "false")
    assert code == 2 and "Traceback" not in err
    assert "digest: pin" in err and "digest: drop" in err and "deploy/app.yaml:10" in err
    assert len(err.strip().splitlines()) == 1
    assert (root / "deploy/app.yaml").read_text() == text
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v2.0.0", "--verify-image", "false",
                        "--digest", "drop")
    assert code == 0, err
    assert (root / "deploy/app.yaml").read_text() == MANIFEST.format(image=f"{name}:v2.0.0")


def test_a_rollback_without_the_registry_keeps_the_pin_the_record_gives_for_the_tag(tmp_path, capsys):
    name = "ghcr.io/org/app"
    old, new = "sha256:" + "01" * 32, "sha256:" + "02" * 32
    root = checkout(tmp_path, MANIFEST.format(image=f"{name}:v2.0.0@{new}"))
    record = root / "deployments/prod.jsonl"
    record.parent.mkdir()
    record.write_text(json.dumps({"event": "bump", "app": "app", "version": "v1.0.0", "digest": old}) + "\n"
                      + json.dumps({"event": "bump", "app": "app", "version": "v2.0.0", "digest": new}) + "\n")
    code, _, err = bump(capsys, root, "--image", name, "--tag", "v1.0.0", "--verify-image", "false",
                        "--environment", "prod", "--app", "app", "--record", "deployments/{environment}.jsonl",
                        "--rollback", "--reason", "smoke failed", "--incident", "")
    assert code == 0, err
    assert (root / "deploy/app.yaml").read_text() == MANIFEST.format(image=f"{name}:v1.0.0@{old}")
