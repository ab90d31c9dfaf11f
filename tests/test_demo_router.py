"""The demo's stand-in router: real nginx, configured from the GitOps repository's HTTPRoute and
Services with the project's routing shapes, sends real requests in the proportions the commits
asked for, and follows each commit the reconciler applies."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from demo.router import Router
from demo.service import AppService
from deploy_actions.gitops.routing import plan_slot, plan_weight
from tests.gitops.test_traffic import ROUTE, SERVICES

ROOT = Path(__file__).resolve().parent.parent


def _tracks(url: str, n: int) -> collections.Counter[str]:
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        with urllib.request.urlopen(url + "/", timeout=10) as answer:
            seen[json.loads(answer.read())["track"]] += 1
    return seen


@pytest.fixture
def services():
    made = {track: AppService(track, latency=(0.0, 0.001)) for track in ("stable", "canary", "blue", "green")}
    for service in made.values():
        service.set_version("1.4.0")
    yield made
    for service in made.values():
        service.close()


def _apply(plan) -> None:
    for edit in plan.edits:
        edit.path.write_bytes(edit.after)


def test_the_router_splits_traffic_as_each_weight_commit_says(services, tmp_path: Path):
    (tmp_path / "route.yaml").write_text(ROUTE)
    backends = {"shop": services["stable"].url.removeprefix("http://"),
                "shop-canary": services["canary"].url.removeprefix("http://")}
    with Router(backends, needle="shop") as router:
        assert router.apply(tmp_path) == {"shop": 100, "shop-canary": 0}
        assert _tracks(router.url, 40) == {"stable": 40}
        for weight in (10, 30, 50, 90):
            _apply(plan_weight(tmp_path, [], canary="shop-canary", stable="shop", weight=weight))
            assert router.apply(tmp_path) == {"shop": 100 - weight, "shop-canary": weight}
            seen = _tracks(router.url, 100)
            # nginx's smooth weighted round robin: exactly the weights over a whole cycle of 100 (the
            # router waits for the workers of the configuration before to leave)
            assert seen["canary"] == weight and seen["stable"] == 100 - weight, (weight, seen)


def test_the_router_follows_a_blue_green_switch_and_back(services, tmp_path: Path):
    (tmp_path / "services.yaml").write_text(SERVICES)
    backends = {"blue": services["blue"].url.removeprefix("http://"),
                "green": services["green"].url.removeprefix("http://")}
    with Router(backends, needle="shop") as router:
        router.apply(tmp_path)
        assert _tracks(router.url, 10) == {"blue": 10}
        _apply(plan_slot(tmp_path, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green")))
        router.apply(tmp_path)
        assert _tracks(router.url, 10) == {"green": 10}
        _apply(plan_slot(tmp_path, [], service="shop", preview="shop-preview", slot="blue", slots=("blue", "green")))
        router.apply(tmp_path)
        assert _tracks(router.url, 10) == {"blue": 10}


def test_the_progressive_demo_tells_its_story_to_the_end(tmp_path: Path):
    env = {**os.environ, "DEMO_WORK_DIR": str(tmp_path / "work"), "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "demo.progressive"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    history = subprocess.run(["git", "log", "--format=%s", "main"], cwd=tmp_path / "work" / "gitops.git",
                             capture_output=True, text=True, check=True).stdout.splitlines()[::-1]
    shifts = [line for line in history if "canary to" in line or "canary back" in line]
    assert shifts[:6] == [f"chore: Shift shop canary to {w}% in production" for w in (10, 30, 50, 90, 100, 0)]
    assert shifts[6] == "chore: Shift shop canary to 10% in production"  # the bad release: its first stage only
    assert shifts[7].startswith("fix: Shift shop canary back to 0% due to stage 1/5 at 10%")
    assert history[-2:] == ["chore: Switch shop to green (v1.4.0) in staging",
                            "fix: Switch shop back to blue (v1.3.0) due to the demo switches back"]
    assert "after it green 20; after the switch back blue 20" in proc.stdout
    assert "through the router now: canary 50" in proc.stdout  # all of it, once the 100 % commit is applied
