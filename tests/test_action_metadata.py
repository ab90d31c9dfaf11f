"""The action.yml files and workflows: generated from the command specs, valid for GitHub's
schemas, clean for actionlint and zizmor, and shaped the way DESIGN.md asks (one step per
action, inputs through env:, third-party actions pinned by SHA, least privilege)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from deploy_actions.commands import COMMANDS
from deploy_actions.commands.spec import CommandSpec
from tests.e2e import test_bootstrap, test_release_flow

ROOT = Path(__file__).resolve().parent.parent
ACTION_SPECS = [spec for spec in COMMANDS.values() if spec.action]
ACTION_FILES = [ROOT / spec.name / "action.yml" for spec in ACTION_SPECS]
WORKFLOW_FILES = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("workflows/*.yml")])
SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
BOOTSTRAP_RUN = 'python3 "$GITHUB_ACTION_PATH/../bootstrap.py" {name}'


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; it is in the test extra (pip install -e '.[test]')",
                    pytrace=False)
    return found


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=300)


def steps_of(document: Any) -> list[dict[str, Any]]:
    if "runs" in document:
        return list(document["runs"].get("steps", []))
    return [step for job in document.get("jobs", {}).values() for step in job.get("steps", [])]


# -- generated, and in sync ---------------------------------------------------------------------

def test_action_files_and_readme_tables_are_in_sync_with_the_specs() -> None:
    proc = run_tool(sys.executable, "scripts/sync_actions.py", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("spec", ACTION_SPECS, ids=lambda s: s.name)
def test_action_is_one_bootstrap_step_fed_only_through_env(spec: CommandSpec) -> None:
    action = load(ROOT / spec.name / "action.yml")

    assert action["name"] and action["description"] == spec.description
    assert set(action["branding"]) == {"icon", "color"}
    assert action["runs"]["using"] == "composite"
    (step,) = action["runs"]["steps"]
    assert (step["id"], step["shell"]) == ("run", "bash")
    assert step["run"] == BOOTSTRAP_RUN.format(name=spec.name)
    assert "${{" not in step["run"]
    expected_env = {"INPUT_" + o.name.upper().replace("-", "_"): f"${{{{ inputs.{o.name} }}}}"
                    for o in spec.options}
    assert step.get("env", {}) == expected_env


@pytest.mark.parametrize("spec", ACTION_SPECS, ids=lambda s: s.name)
def test_inputs_and_outputs_match_the_spec(spec: CommandSpec) -> None:
    action = load(ROOT / spec.name / "action.yml")

    inputs = action.get("inputs", {})
    assert list(inputs) == [o.name for o in spec.options]
    for option in spec.options:
        default = option.action_default if option.action_default is not None else option.default
        if spec.configurable and option.action_default is None:
            # unset inputs must reach the command empty, so that .deploy-actions.yml can speak
            default = ""
            if option.default:
                assert f"Default: `{option.default}`" in inputs[option.name]["description"], option.name
        assert inputs[option.name]["default"] == (default or ""), option.name
        assert inputs[option.name]["required"] is option.required
    outputs = action.get("outputs", {})
    assert list(outputs) == [o.name for o in spec.outputs]
    for output in spec.outputs:
        assert outputs[output.name]["value"] == f"${{{{ steps.run.outputs.{output.name} }}}}"


def test_the_cli_reads_the_env_names_the_actions_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy_actions import actions_runtime

    monkeypatch.setenv("INPUT_TAG_PREFIX", "rel-")
    assert actions_runtime.get_input("tag-prefix") == "rel-"


# -- GitHub's schemas and the linters ----------------------------------------------------------

def test_action_files_match_githubs_schema() -> None:
    proc = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions",
                    *map(str, ACTION_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_githubs_schema() -> None:
    proc = run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                    *map(str, WORKFLOW_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_finds_nothing_in_our_workflows() -> None:
    proc = run_tool(tool("actionlint"), "-no-color", "-verbose", *map(str, WORKFLOW_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # actionlint turns its shellcheck rule off, silently, when shellcheck is not installed
    assert 'Rule "shellcheck" was disabled' not in proc.stdout + proc.stderr, "shellcheck is missing: make system"


def test_actionlint_finds_nothing_in_the_end_to_end_callers(tmp_path: Path) -> None:
    """The workflows the e2e tests hand to act are valid for GitHub too, not only for act."""
    callers = {
        "step-by-step.yml": test_release_flow.STEP_BY_STEP,
        "reusable.yml": test_release_flow.REUSABLE,
        "two-steps.yml": test_bootstrap.TWO_STEPS,
    }
    paths = []
    for name, text in callers.items():
        path = tmp_path / ".github" / "workflows" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    proc = subprocess.run([tool("actionlint"), "-no-color", "-verbose", *paths], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'Rule "shellcheck" was disabled' not in proc.stdout + proc.stderr, "shellcheck is missing: make system"


def test_zizmor_finds_nothing_even_as_a_pedant() -> None:
    targets = [*map(str, WORKFLOW_FILES), *(str(path.parent) for path in ACTION_FILES)]
    proc = run_tool(tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", "--format", "plain", *targets)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the rules DESIGN.md sets for workflows ------------------------------------------------------

@pytest.mark.parametrize("path", [*WORKFLOW_FILES, *ACTION_FILES], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_inside_a_script(path: Path) -> None:
    for step in steps_of(load(path)):
        assert "${{" not in step.get("run", ""), f"{path}: step {step.get('name', step)}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_third_party_actions_are_pinned_by_sha_with_a_version_comment(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match:
            continue
        ref, rest = match.groups()
        if ref.startswith(("$/", "./", "org/deploy-actions/")):
            continue  # this repository, at the same commit or tag
        assert SHA_PIN.match(ref), f"{path}: {ref} is not pinned by a full commit SHA"
        assert re.match(r"\s*#\s*v\d", rest), f"{path}: {ref} has no `# vX.Y.Z` comment"


def test_reusable_release_workflow_is_least_privilege_and_serialised() -> None:
    workflow = load(ROOT / ".github/workflows/release.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true

    assert set(triggers) == {"workflow_call"}
    assert set(triggers["workflow_call"]["outputs"]) >= {"version", "tag", "released"}
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "write"}
        assert "github.repository" in job["concurrency"]["group"]
        assert job["concurrency"]["cancel-in-progress"] is False


def test_ci_runs_the_ci_script() -> None:
    workflow = load(ROOT / ".github/workflows/ci.yml")
    runs = [step.get("run", "") for step in steps_of(workflow)]
    assert "bash .ci/run" in runs
    assert workflow["permissions"] == {"contents": "read"}
