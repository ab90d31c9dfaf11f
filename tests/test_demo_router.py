"""The demo's stand-in router: real nginx, configured from the GitOps repository's HTTPRoute and
Services with the project's routing shapes, sends real requests in the proportions the commits
asked for. (`make demo`'s router chapters, read back from its commits, nginx and Prometheus, are
checked in test_demo.py, which runs the demo once.)"""

from __future__ import annotations

import collections
import json
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


def test_a_router_can_follow_the_preview_service_instead_of_the_live_one(services, tmp_path: Path):
    (tmp_path / "services.yaml").write_text(SERVICES)
    backends = {"blue": services["blue"].url.removeprefix("http://"),
                "green": services["green"].url.removeprefix("http://")}
    with Router(backends, needle="shop", service="shop") as live, \
            Router(backends, needle="shop", service="shop-preview") as preview:
        assert (live.apply(tmp_path), preview.apply(tmp_path)) == ({"blue": 1}, {"green": 1})
        assert _tracks(preview.url, 10) == {"green": 10}
        _apply(plan_slot(tmp_path, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green")))
        assert (live.apply(tmp_path), preview.apply(tmp_path)) == ({"green": 1}, {"blue": 1})
        assert _tracks(live.url, 10) == {"green": 10} and _tracks(preview.url, 10) == {"blue": 10}
