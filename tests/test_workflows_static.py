"""Every workflow, read as data: the rules DESIGN.md sets (pinned third-party actions, inputs
only through env:, least privilege, no `latest`, declared outputs that resolve), checked on
each file in .github/workflows and workflows/, so a workflow added later is held to them too.
Then the image publishing and self-release workflows, which cannot run here (no container
engine, no GitHub): their properties, and their shell steps run for real with bash."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.act import parse_github_output

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_FILES = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob(".github/workflows/*.yaml"),
                         *ROOT.glob("workflows/*.yml"), *ROOT.glob("workflows/*.yaml")])
IDS = [str(p.relative_to(ROOT)) for p in WORKFLOW_FILES]
SELF_REFS = ("./", "$/", "org/deploy-actions/", "org/deploy-actions@")
SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
DOCKER_DIGEST = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
UNTRUSTED_IN_SCRIPT = re.compile(r"\$\{\{[^}]*\b(inputs|github\.event|github\.head_ref)\b")
MUTABLE_TAG = re.compile(r"[:@]latest\b|^latest$", re.IGNORECASE)
WRITE = "write"

PUBLISH = ROOT / ".github/workflows/publish-image.yml"
SELF_RELEASE = ROOT / ".github/workflows/self-release.yml"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a mapping"
    return document


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(workflow.get("jobs") or {})


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in jobs(workflow).values() for step in job.get("steps") or []]


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(where, text) for every string in the document, keys included."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                found.append((where + " (key)", key))
            found += strings(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        found.append((path, node))
    return found


def step_named(workflow: dict[str, Any], step_id: str) -> dict[str, Any]:
    for step in steps(workflow):
        if step.get("id") == step_id:
            return step
    raise AssertionError(f"no step with id {step_id}")


# -- the generic rules, for every workflow ------------------------------------------------------

def test_there_are_workflows_to_check() -> None:
    assert PUBLISH in WORKFLOW_FILES and SELF_RELEASE in WORKFLOW_FILES


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=IDS)
def test_every_third_party_action_is_pinned_by_a_full_commit_sha(path: Path) -> None:
    workflow = load(path)
    refs = [step["uses"] for step in steps(workflow) if "uses" in step]
    refs += [job["uses"] for job in jobs(workflow).values() if "uses" in job]
    for ref in refs:
        if ref.startswith(SELF_REFS):
            continue  # this repository, at the same commit or at the release tag callers chose
        if ref.startswith("docker://"):
            assert DOCKER_DIGEST.match(ref), f"{path.name}: {ref} is not pinned by digest"
            continue
        assert SHA.match(ref), f"{path.name}: {ref} is not pinned by a 40-hex commit SHA"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=IDS)
def test_no_input_or_event_value_is_spliced_into_a_script(path: Path) -> None:
    for step in steps(load(path)):
        script = step.get("run", "")
        assert not UNTRUSTED_IN_SCRIPT.search(script), f"{path.name}: {step.get('name') or step.get('id')}"
        assert "${{" not in script, f"{path.name}: pass values to run: through env:"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=IDS)
def test_permissions_are_declared_and_writes_are_granted_per_job(path: Path) -> None:
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions (the default may be write-all)"
    top = workflow["permissions"]
    assert isinstance(top, dict), f"{path.name}: permissions must list scopes, not {top!r}"
    assert WRITE not in top.values(), f"{path.name}: write scopes belong to the jobs that need them"
    for name, job in jobs(workflow).items():
        granted = job.get("permissions", top)
        assert isinstance(granted, dict), f"{path.name}: job {name} has permissions {granted!r}"
        if any(value == WRITE for value in granted.values()):
            assert "permissions" in job, f"{path.name}: job {name} writes without saying so"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=IDS)
def test_no_latest_tag_anywhere(path: Path) -> None:
    for where, text in strings(load(path)):
        if where.endswith("runs-on") or ".runs-on" in where:
            continue  # ubuntu-latest is a runner label, not an image tag
        for line in text.splitlines():
            assert not MUTABLE_TAG.search(line.strip()), f"{path.name}: {where}: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=IDS)
def test_declared_outputs_resolve_to_a_job_and_a_step(path: Path) -> None:
    workflow = load(path)
    call = triggers(workflow).get("workflow_call") or {}
    for name, output in (call.get("outputs") or {}).items():
        used = re.findall(r"\bjobs\.([\w-]+)\.outputs\.([\w-]+)", output["value"])
        assert used, f"{path.name}: output {name} reads no job output: {output['value']}"
        for job, job_output in used:
            assert job_output in (jobs(workflow)[job].get("outputs") or {}), f"{path.name}: {name}"
    for job_name, job in jobs(workflow).items():
        ids = {step.get("id") for step in job.get("steps") or []}
        for name, value in (job.get("outputs") or {}).items():
            for step_id in re.findall(r"steps\.([\w-]+)\.outputs", str(value)):
                assert step_id in ids, f"{path.name}: {job_name}.outputs.{name} reads missing step {step_id}"


# -- publish-image.yml ----------------------------------------------------------------------------

def test_publish_image_is_a_reusable_workflow_with_image_tag_and_digest_outputs() -> None:
    workflow = load(PUBLISH)
    call = triggers(workflow)
    assert set(call) == {"workflow_call"}
    inputs = call["workflow_call"]["inputs"]
    assert inputs["tag"]["required"] is True
    assert {"context", "file", "image", "platforms", "build-args", "push", "ref"} <= set(inputs)
    assert inputs["push"]["type"] == "boolean"
    assert set(call["workflow_call"]["outputs"]) == {"image", "tag", "digest"}
    (job,) = jobs(workflow).values()
    assert job["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"


def test_publish_image_is_least_privilege_and_serialised_per_image_and_tag() -> None:
    workflow = load(PUBLISH)
    assert workflow["permissions"] == {}
    (job,) = jobs(workflow).values()
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    group = job["concurrency"]["group"]
    assert "inputs.image" in group and "inputs.tag" in group
    assert job["concurrency"]["cancel-in-progress"] is False


def test_publish_image_logs_in_to_ghcr_with_the_job_token_and_pushes_only_the_planned_tags() -> None:
    workflow = load(PUBLISH)
    by_action = {step["uses"].split("@")[0]: step for step in steps(workflow) if "uses" in step}
    login = by_action["docker/login-action"]
    assert login["with"] == {"registry": "ghcr.io", "username": "${{ github.actor }}",
                             "password": "${{ github.token }}"}
    build = by_action["docker/build-push-action"]
    assert build["id"] == "build"
    assert build["with"]["tags"] == "${{ steps.plan.outputs.tags }}"
    assert build["with"]["push"] == "${{ inputs.push }}"
    assert "docker/setup-buildx-action" in by_action
    for step in steps(workflow):
        assert "cache-from" not in (step.get("with") or {}), "a shared build cache can poison a release"


def run_plan(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the plan step's script with bash, as the runner would, with its env: values."""
    step = step_named(load(PUBLISH), "plan")
    output = tmp_path / "github_output"
    output.write_text("")
    values = {name: "" for name in step["env"]}
    values.update({name.upper().replace("-", "_"): value for name, value in env.items()})
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, check=False,
                          env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output),
                               "GITHUB_REPOSITORY": "Org/App", **values}, timeout=60)
    return proc, parse_github_output(output.read_text())


@pytest.mark.parametrize("tag", ["latest", "LATEST", "main", "stable", "edge", "v1", "1.2", "v1.2.3; rm -rf /",
                                 "$(id)", "", "v1.2.3\nlatest"])
def test_publish_image_refuses_mutable_and_malformed_tags_in_one_line(tmp_path: Path, tag: str) -> None:
    proc, outputs = run_plan(tmp_path, tag=tag)

    assert proc.returncode == 2
    (line,) = (proc.stdout + proc.stderr).strip().splitlines()
    assert line.startswith("::error title=publish-image::input 'tag'")
    assert outputs == {}


def test_publish_image_tags_the_version_on_the_lower_cased_default_image(tmp_path: Path) -> None:
    proc, outputs = run_plan(tmp_path, tag="v1.4.2")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs == {"image": "ghcr.io/org/app", "tag": "v1.4.2", "tags": "ghcr.io/org/app:v1.4.2"}


def test_publish_image_adds_the_major_tag_only_when_asked_and_never_for_a_prerelease(tmp_path: Path) -> None:
    _, final = run_plan(tmp_path, tag="v2.0.1", image="ghcr.io/org/deploy-actions", major_tag="true")
    _, pre = run_plan(tmp_path, tag="v3.0.0-rc.1", image="ghcr.io/org/deploy-actions", major_tag="true")

    assert final["tags"].splitlines() == ["ghcr.io/org/deploy-actions:v2.0.1", "ghcr.io/org/deploy-actions:v2"]
    assert pre["tags"].splitlines() == ["ghcr.io/org/deploy-actions:v3.0.0-rc.1"]


@pytest.mark.parametrize("image", ["docker.io/org/app", "ghcr.io/org/app:v1", "ghcr.io/org/app@sha256:00",
                                   "ghcr.io", "ghcr.io/org/app\nghcr.io/evil/app"])
def test_publish_image_refuses_images_that_are_not_a_bare_ghcr_repository(tmp_path: Path, image: str) -> None:
    proc, outputs = run_plan(tmp_path, tag="v1.0.0", image=image)

    assert proc.returncode == 2
    assert "input 'image'" in proc.stdout
    assert outputs == {}


# -- self-release.yml -----------------------------------------------------------------------------

def test_self_release_runs_on_main_and_by_hand_and_one_at_a_time() -> None:
    workflow = load(SELF_RELEASE)
    assert triggers(workflow) == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_self_release_bumps_with_this_commits_action_then_publishes_then_moves_the_major_tag() -> None:
    workflow = load(SELF_RELEASE)
    release, image, major = jobs(workflow)["release"], jobs(workflow)["image"], jobs(workflow)["major-tag"]

    bump = step_named(workflow, "bump")
    assert bump["uses"] == "$/version-bump"
    assert bump["with"]["push"] is True
    assert release["permissions"] == {"contents": "write"}

    assert image["uses"] == "$/.github/workflows/publish-image.yml"
    assert image["permissions"] == {"contents": "read", "packages": "write"}
    assert image["with"]["major-tag"] is True
    assert image["with"]["tag"] == "${{ needs.release.outputs.tag }}"

    assert set(major["needs"]) == {"release", "image"}  # last, so a failed push leaves v1 alone
    assert major["permissions"] == {"contents": "write"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_the_major_tag_step_moves_vx_to_the_release_on_the_remote(tmp_path: Path) -> None:
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    git(clone, *ident, "commit", "-q", "--allow-empty", "-m", "feat: one")
    git(clone, *ident, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    git(clone, "tag", "v1")
    git(clone, *ident, "commit", "-q", "--allow-empty", "-m", "fix: two")
    git(clone, *ident, "tag", "-a", "v1.0.1", "-m", "v1.0.1")
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/main", "--tags")
    summary = tmp_path / "summary.md"
    (step,) = [s for s in jobs(load(SELF_RELEASE))["major-tag"]["steps"] if "run" in s]

    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=clone, capture_output=True, text=True,
                          check=False, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TAG": "v1.0.1",
                               "TOKEN": "s3cret-token", "SERVER_URL": "https://github.com",
                               "GITHUB_STEP_SUMMARY": str(summary)})

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(remote, "rev-parse", "v1^{commit}") == git(remote, "rev-parse", "v1.0.1^{commit}")
    assert "s3cret-token" not in proc.stdout + proc.stderr
    assert "v1 now points at v1.0.1" in summary.read_text()


@pytest.mark.parametrize("tag", ["v2.0.0-rc.1", "latest", ""])
def test_the_major_tag_step_refuses_anything_but_a_final_release_tag(tmp_path: Path, tag: str) -> None:
    (step,) = [s for s in jobs(load(SELF_RELEASE))["major-tag"]["steps"] if "run" in s]

    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=60, env={"PATH": os.environ["PATH"], "TAG": tag, "TOKEN": "t",
                                                        "SERVER_URL": "https://github.com"})

    assert proc.returncode == 2
    assert proc.stdout.startswith("::error title=major tag::")
