"""deploy.yml's strategy steps, run with bash as the runner would: the strategy is decided (and a
canary refused where it cannot run) before anything is written, and blue/green's slot folder."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.plugins.act import parse_github_output
from tests.test_workflows_static import load, step_named

DEPLOY = Path(__file__).resolve().parent.parent / ".github/workflows/deploy.yml"


def run_step(tmp_path: Path, step_id: str, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    step = step_named({"jobs": {"deploy": load(DEPLOY)["jobs"]["deploy"]}}, step_id)
    output = tmp_path / "github_output"
    output.write_text("")
    values = {name: "" for name in step.get("env", {})}
    values.update(env)
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, check=False,
                          env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **values}, timeout=60)
    return proc, parse_github_output(output.read_text())


@pytest.mark.parametrize(("env", "strategy"), [
    ({}, "rolling"),
    ({"CANARY_PATH": "apps/{app}/{environment}-canary"}, "canary"),
    ({"STRATEGY": "canary", "CANARY_PATH": "c", "CANARY_STEPS": "10,50,100"}, "canary"),
    ({"STRATEGY": "blue-green"}, "blue-green"),
    ({"STRATEGY": "recreate"}, "recreate"),
])
def test_the_strategy_is_decided_first(tmp_path: Path, env: dict[str, str], strategy: str) -> None:
    proc, outputs = run_step(tmp_path, "plan", **env)
    assert proc.returncode == 0, proc.stderr
    assert outputs["strategy"] == strategy and outputs["time"].endswith("Z")


@pytest.mark.parametrize(("env", "message"), [
    ({"STRATEGY": "recreate", "CANARY_PATH": "c"}, "input 'strategy': got 'recreate'"),
    ({"STRATEGY": "recreate", "CANARY_STEPS": "10,100"}, "input 'strategy': got 'recreate'"),
    ({"STRATEGY": "blue-green", "CANARY_PATH": "c"}, "input 'strategy': got 'blue-green'"),
    ({"STRATEGY": "canary"}, "input 'canary-path': got ''"),
    ({"STRATEGY": "big-bang"}, "input 'strategy': got 'big-bang'; expected one of canary"),
])
def test_a_strategy_that_cannot_run_is_one_line_and_exit_2(tmp_path: Path, env: dict[str, str],
                                                           message: str) -> None:
    proc, outputs = run_step(tmp_path, "plan", **env)
    assert proc.returncode == 2 and outputs == {}
    (line,) = (proc.stdout + proc.stderr).strip().splitlines()
    assert line.startswith("::error::") and message in line


def test_the_idle_slot_names_its_folder(tmp_path: Path) -> None:
    proc, outputs = run_step(tmp_path, "slot-path", TEMPLATE="apps/{app}/{environment}/{slot}", SLOT="green")
    assert proc.returncode == 0 and outputs == {"path": "apps/{app}/{environment}/green"}


def test_the_watch_selector_names_the_app_environment_and_live_slot(tmp_path: Path) -> None:
    proc, outputs = run_step(tmp_path, "watched", TEMPLATE='job="{app}",env="{environment}",slot="{slot}"',
                             APP="shop", ENVIRONMENT="staging", SLOT="green")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"selector": 'job="shop",env="staging",slot="green"'}


def test_a_watch_selector_with_a_newline_stays_one_output(tmp_path: Path) -> None:
    proc, outputs = run_step(tmp_path, "watched", TEMPLATE='job="{app}"\nallowed=true', APP="shop")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"selector": 'job="shop"\nallowed=true'}  # never an output of its own


@pytest.mark.parametrize("step_id", ["down", "answered", "switched"])
def test_the_moments_the_records_use_are_utc_seconds(tmp_path: Path, step_id: str) -> None:
    proc, outputs = run_step(tmp_path, step_id)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outputs["time"]), outputs


def test_a_recreate_concludes_with_its_downtime_and_blue_green_scales_the_old_slot_after_its_delay() -> None:
    steps = {s.get("id"): s for s in load(DEPLOY)["jobs"]["deploy"]["steps"]}
    order = list(steps)
    conclude = steps["conclude"]["with"]
    assert conclude["strategy"] == "${{ steps.plan.outputs.strategy }}"
    assert conclude["downtime-until"] == "${{ steps.answered.outputs.time }}"
    assert "steps.down.outputs.time" in conclude["downtime-from"]
    assert "steps.plan.outputs.strategy == 'recreate'" in steps["down"]["if"]
    assert order.index("bump") < order.index("down") < order.index("smoke") < order.index("answered")
    down = steps["scale-down"]
    assert down["with"]["scale-slot"] == "${{ steps.switch.outputs.previous-slot }}" and down["with"]["replicas"] == "0"
    assert down["with"]["since"] == "${{ steps.switched.outputs.time }}"
    assert "steps.conclude.outcome == 'success'" in down["if"]  # never after a switch back
    assert order.index("switch-back") < order.index("conclude") < order.index("scale-down")
    up = steps["scale-up"]
    assert up["with"]["scale-slot"] == "idle" and up["with"]["replicas"] == "live"
    assert order.index("scale-up") < order.index("slots") < order.index("bump")  # the dry run refuses a slot at 0
