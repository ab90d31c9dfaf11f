"""`python -m demo.progressive`: progressive delivery through a real router, told as a story.

A GitOps repository with a staged canary behind an HTTPRoute (production) and a blue/green pair
behind two Services (staging); the demo's reconciler stands in for Flux, and a stand-in router
(Debian's nginx, demo.router) is configured from the repository's routing resources after every
commit, with users' traffic going through it. A good release walks 10 → 30 → 50 → 90 → 100 %, a
bad one is stopped at its first stage, and a blue/green release is switched to and back.

Durations are shortened for the demo: each stage is judged for at most 3 s (10 minutes in the
runbooks), from live probes of the canary and the stable workload. It runs under
`.work/demo-progressive` (wiped at start), or DEMO_WORK_DIR.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

from demo.__main__ import ROOT, DemoFailed, Story, git, outputs
from demo.reconciler import Reconciler
from demo.router import Router
from demo.service import AppService, Traffic

IMAGE = "registry.example.com/acme/shop"
FAULTS = {"1.5.0": 0.4}  # the bad release answers 40 % of its requests with 500
STAGES = ("--provider", "probe", "--rate", "40", "--interval", "0.5s", "--step-duration", "3s", "--min-duration",
          "1s", "--min-requests", "25", "--max-error-rate", "5", "--max-error-increase", "5",
          "--max-p95-increase", "off", "--max-p99-ratio", "off", "--alpha", "0.01")
PROD, STAGING = "apps/shop/production", "apps/shop/staging"


def _deployment(name: str, labels: str, tag: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n"
            f"  selector:\n    matchLabels: {labels}\n  template:\n    metadata:\n      labels: {labels}\n"
            f"    spec:\n      containers:\n        - name: shop\n          image: {IMAGE}:{tag}\n")


ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
spec:
  parentRefs: [{name: public}]
  rules:
    - backendRefs:
        - name: shop
          port: 80
          weight: 100
        - name: shop-canary
          port: 80
          weight: 0 # deploy-actions traffic sets this
"""
SERVICES = """apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop, slot: blue}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: shop-preview
spec:
  selector: {app: shop, slot: green}
  ports: [{port: 80}]
"""
FILES = {
    f"{PROD}/route.yaml": ROUTE,
    f"{PROD}/stable.yaml": _deployment("shop", "{app: shop, track: stable}", "v1.3.0"),
    f"{PROD}/canary.yaml": _deployment("shop-canary", "{app: shop, track: canary}", "v1.3.0"),
    f"{STAGING}/services.yaml": SERVICES,
    f"{STAGING}/blue/deployment.yaml": _deployment("shop-blue", "{app: shop, slot: blue}", "v1.3.0"),
    f"{STAGING}/green/deployment.yaml": _deployment("shop-green", "{app: shop, slot: green}", "v1.3.0"),
}


def sample(url: str, n: int = 50) -> str:
    """Who answers `n` requests sent through a router, e.g. 'stable 35, canary 15'."""
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as answer:  # noqa: S310 -- our own loopback router
                seen[json.loads(answer.read())["track"]] += 1
        except OSError:
            seen["error"] += 1
    return ", ".join(f"{track} {count}" for track, count in seen.most_common())


class Progressive:
    def __init__(self, story: Story, work: Path) -> None:
        self.story, self.work = story, work
        self.remote = work / "gitops.git"
        self.services = {name: AppService(name, FAULTS) for name in ("stable", "canary", "blue", "green")}
        address = {name: s.url.removeprefix("http://") for name, s in self.services.items()}
        self.prod = Router({"shop": address["stable"], "shop-canary": address["canary"]}, needle="shop",
                           scope=[PROD])
        self.staging = Router({"blue": address["blue"], "green": address["green"]}, needle="shop", scope=[STAGING])
        self.history: list[tuple[str, dict[str, int]]] = []
        self.reconciler: Reconciler | None = None
        self.traffic: Traffic | None = None

    def run(self, *argv: str, expect: tuple[int, ...] = (0,)) -> dict[str, object]:
        return outputs(self.story.command([*argv, "--json"], self.work, expect=expect))

    def _routed(self, root: Path) -> None:
        weights = self.prod.apply(root)
        self.staging.apply(root)
        if not self.history or self.history[-1][1] != weights:
            self.history.append((git(root, "log", "-1", "--format=%s"), weights))

    def setup(self) -> None:
        s = self.story
        s.chapter("A GitOps repository with routing, a stand-in for Flux, and a real router",
                  "production: stable and canary behind an HTTPRoute; staging: blue and green behind Services.")
        seed = self.work / "seed"
        git(self.work, "init", "-q", "--bare", "-b", "main", str(self.remote))
        git(self.work, "clone", "-q", str(self.remote), str(seed))
        for rel, text in FILES.items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
        git(seed, "add", "-A")
        git(seed, "-c", "user.name=Platform Team", "-c", "user.email=platform@example.com", "commit", "-q", "-m",
            "feat: shop with a canary route and blue/green slots")
        git(seed, "push", "-q", "origin", "main")
        shutil.rmtree(seed)
        self.prod.start()
        self.staging.start()
        paths = {"stable": f"{PROD}/stable.yaml", "canary": f"{PROD}/canary.yaml",
                 "blue": f"{STAGING}/blue/deployment.yaml", "green": f"{STAGING}/green/deployment.yaml"}
        self.reconciler = Reconciler(str(self.remote), "main", IMAGE,
                                     {name: (path, self.services[name]) for name, path in paths.items()},
                                     interval=0.3, on_revision=self._routed)
        self.reconciler.start()
        for name in paths:
            self.reconciler.wait_for(name, "1.3.0", timeout=30)
        self.traffic = Traffic([self.prod.url + "/", self.staging.url + "/"], rate=20)
        s.say(f"nginx routes production at {self.prod.url} ({self.prod.weights}) and staging at {self.staging.url} "
              f"({self.staging.weights}); users send 20 requests a second to each.")

    def bump(self, path: str, tag: str, *extra: str) -> None:
        self.run("gitops-bump", "--repository", "./gitops.git", "--image", IMAGE, "--tag", tag, "--path", path,
                 "--app", "shop", "--environment", path.split("/")[2], "--verify-image", "false", *extra)

    def rollout(self, tag: str) -> dict[str, object]:
        s = self.story
        assert self.reconciler is not None
        s.step(f"gitops-bump: the canary gets {tag}; then rollout walks its stages")
        self.bump(f"{PROD}/canary.yaml", tag)
        self.reconciler.wait_for("canary", tag, timeout=30)
        out = self.run("rollout", "--repository", "./gitops.git", "--app", "shop", "--environment", "production",
                       "--path", PROD, "--canary-steps", "10,30,50,90,100", *STAGES,
                       "--canary-url", self.services["canary"].url + "/", "--baseline-url",
                       self.services["stable"].url + "/", "--report", f"records/rollout-{tag}.json")
        s.say(f"rollout: {out['decision']} — {out['reason']} (alpha {out['alpha']} over the whole rollout)")
        return out

    def router_history(self) -> None:
        self.story.show("\n".join(f"{subject[:60]:60}  nginx: {weights}" for subject, weights in self.history))
        self.history.clear()

    def canary_releases(self) -> None:
        s = self.story
        assert self.reconciler is not None
        s.chapter("A good release walks 10 → 30 → 50 → 90 → 100 %",
                  "Each stage is one commit of the canary's weight; nginx follows each one.")
        out = self.rollout("v1.4.0")
        if out["decision"] != "promote":
            raise DemoFailed(f"the good release was not promoted: {out['reason']}")
        self._settle()
        s.say(f"through the router now: {sample(self.prod.url)}")
        s.step("Promote: the stable gets v1.4.0, and the canary's weight goes back to 0")
        self.bump(f"{PROD}/stable.yaml", "v1.4.0", "--strategy", "canary")
        self.reconciler.wait_for("stable", "1.4.0", timeout=30)
        self.run("traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "production",
                 "--path", PROD, "--weight", "0")
        self._settle()
        self.router_history()

        s.chapter("A bad release is stopped at its first stage",
                  "v1.5.0 answers 40 % of its requests with 500; it never gets more than 10 %.")
        out = self.rollout("v1.5.0")
        if out["decision"] != "rollback" or out["stage"] != 1:
            raise DemoFailed(f"the bad release was not stopped at stage 1: {out['reason']}")
        self.bump(f"{PROD}/canary.yaml", "v1.4.0", "--rollback", "true", "--reason", str(out["reason"]),
                  "--evidence", str(out["evidence"]))
        self.reconciler.wait_for("canary", "1.4.0", timeout=30)
        self._settle()
        self.router_history()
        s.say(f"through the router now: {sample(self.prod.url)}")

    def blue_green(self) -> None:
        s = self.story
        assert self.reconciler is not None
        s.chapter("Blue/green: switch to the idle slot, and back",
                  "The live Service selects blue; the release goes to the idle slot, then the selector moves.")
        idle = self.run("traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                        "--path", STAGING, "--slot", "idle", "--mode", "none", "--record", "")
        slot = str(idle["slot"])
        s.say(f"live: {idle['previous-slot']}, idle: {slot} (a dry run: nothing was written)")
        self.bump(f"{STAGING}/{slot}/deployment.yaml", "v1.4.0")
        self.reconciler.wait_for(slot, "1.4.0", timeout=30)
        self.story.command(["smoke-test", "--url", self.services[slot].url + "/health", "--expect-version", "1.4.0",
                            "--timeout", "10s"], self.work)
        before = sample(self.staging.url, 20)
        self.run("traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                 "--path", STAGING, "--slot", slot)
        self.reconciler.wait_for(slot, "1.4.0", timeout=30)
        self._settle()
        after = sample(self.staging.url, 20)
        self.run("traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                 "--path", STAGING, "--slot", str(idle["previous-slot"]), "--rollback", "true", "--reason",
                 "the demo switches back")
        self._settle()
        back = sample(self.staging.url, 20)
        s.say(f"through the router: before the switch {before}; after it {after}; after the switch back {back}")

    def _settle(self) -> None:
        """Until the reconciler (and so the routers) applied the latest commit."""
        assert self.reconciler is not None
        tip = git(self.remote, "rev-parse", "main")
        for _ in range(100):
            if self.reconciler.revision == tip:
                return
            time.sleep(0.1)
        raise DemoFailed(f"the reconciler did not apply {tip[:7]}")

    def history_of_gitops(self) -> None:
        self.story.chapter("The GitOps history: every traffic change is a commit")
        self.story.show(git(self.remote, "log", "--format=%h %s", "main"))

    def close(self) -> None:
        if self.traffic is not None:
            self.traffic.close()
        if self.reconciler is not None:
            self.reconciler.stop()
        self.prod.stop()
        self.staging.stop()
        for service in self.services.values():
            service.close()


def main() -> int:
    work = Path(os.environ.get("DEMO_WORK_DIR", str(ROOT / ".work" / "demo-progressive"))).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "records").mkdir(parents=True)
    story = Story(work)
    demo = Progressive(story, work)
    try:
        demo.setup()
        demo.canary_releases()
        demo.blue_green()
        demo.history_of_gitops()
    except DemoFailed as err:
        print(f"\ndemo failed: {err}", file=sys.stderr)
        return 1
    finally:
        demo.close()
    story.chapter("Done")
    story.say(f"{story.elapsed():.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
