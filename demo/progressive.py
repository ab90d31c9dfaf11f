"""The demo's progressive-delivery chapters: real traffic through a real router (Debian's nginx,
demo.router) configured from what the GitOps repository says after every commit.

The shop runs a staged canary behind an HTTPRoute in production and a blue/green pair behind two
Services in staging; the cart deploys rolling in production, with the watch reading a real
Prometheus (demo.prometheus) that scrapes it. A good release walks 10 → 30 → 50 → 90 → 100 %, a
bad one is stopped at its first stage, a blue/green release is switched to and back, and a bad
rolling deploy is caught by the watch. Each is told with the GitOps commits it made and what nginx
routed after each one.

Durations are shortened for the demo, and the story says so: each canary stage is judged for at
most 3 s (10 minutes in the runbooks); the watch looks every second for at most 20 s (30 minutes),
its guards must hold for 3 s and 5 s (2 and 5 minutes), over 5 s rate windows (1 minute), against
a 10 s baseline before the deploy (30 minutes).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from demo.prometheus import Prometheus, PrometheusError, start_prometheus
from demo.reconciler import Reconciler
from demo.registry import DemoRegistry
from demo.router import Router, RouterError
from demo.service import AppService, Traffic
from demo.story import DemoFailed, Story, cli_env, git, outputs

SHOP, CART = "org/shop", "org/cart"
FAULTS = {"1.5.0": 0.4, "1.4.1": 0.3}  # the bad releases answer 40 % (shop) and 30 % (cart) of requests with 500
PROD, STAGING, CART_PROD = "apps/shop/production", "apps/shop/staging", "apps/cart/production"
STAGES = ("--provider", "probe", "--rate", "40", "--interval", "0.5s", "--step-duration", "3s", "--min-duration",
          "1s", "--min-requests", "25", "--max-error-rate", "5", "--max-error-increase", "5",
          "--max-p95-increase", "off", "--max-p99-ratio", "off", "--alpha", "0.01")
BASELINE_SECONDS = 10  # the watch's baseline window before the deploy (30 minutes in the runbooks)
SCRAPE = 0.25  # seconds between Prometheus' scrapes: a canary stage here lasts one or two seconds
WATCH = ("--baseline", "before-deploy", "--baseline-window", f"{BASELINE_SECONDS}s", "--duration", "20s",
         "--interval", "1s", "--rate-window", "5s", "--max-error-rate", "5% for 3s", "--max-p99-ratio", "5x for 5s",
         "--max-unhealthy", "50")
SHORTENED = ("Durations are shortened for the demo: each canary stage is judged for at most 3 s (10 minutes in "
             "the runbooks); the watch after the rolling deploy looks every second for at most 20 s (30 minutes), "
             "its guards must hold for 3 s and 5 s (2 and 5 minutes) over 5 s rate windows (1 minute), against "
             f"a {BASELINE_SECONDS} s baseline before the deploy (30 minutes).")
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


def _deployment(name: str, labels: str, image: str, extra: str = "") -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n{extra}"
            f"  selector:\n    matchLabels: {labels}\n  template:\n    metadata:\n      labels: {labels}\n"
            f"    spec:\n      containers:\n        - name: {name.split('-')[0]}\n          image: {image}\n")


def sample(url: str, n: int) -> dict[str, int]:
    """Who answers `n` requests sent through a router: {'stable': 35, 'canary': 15}."""
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as answer:  # noqa: S310 -- our own loopback router
                seen[json.loads(answer.read())["track"]] += 1
        except OSError:
            seen["error"] += 1
    return dict(seen.most_common())


def shown(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "nothing"


def watch_after_rolling(story: Story, work: Path, *, prometheus_url: str, selector: str, deployed_at: str,
                        report: str) -> dict[str, Any]:
    """The watch after a rolling deploy, as deploy.yml runs it: canary-monitor with the service against
    itself before the deploy (`baseline: before-deploy`). The one place the demo calls it."""
    return outputs(story.command(["canary-monitor", "--prometheus-url", prometheus_url, "--canary-selector", selector,
                                  "--deployed-at", deployed_at, *WATCH, "--report", report, "--json"], work))


class Progressive:
    """The chapters, in one GitOps repository (`remote`) with the images in `registry`."""

    def __init__(self, story: Story, work: Path, registry: DemoRegistry, remote: Path) -> None:
        self.story, self.work, self.registry, self.remote = story, work, registry, remote
        self.image = {"shop": f"{registry.host}/{SHOP}", "cart": f"{registry.host}/{CART}"}
        self.services = {name: AppService(name, FAULTS) for name in ("stable", "canary", "blue", "green", "cart")}
        address = {name: s.url.removeprefix("http://") for name, s in self.services.items()}
        self.routers = {
            "production": Router({"shop": address["stable"], "shop-canary": address["canary"]}, needle="shop",
                                 scope=[PROD]),
            "staging": Router({"blue": address["blue"], "green": address["green"]}, needle="shop", scope=[STAGING],
                              service="shop"),
            "preview": Router({"blue": address["blue"], "green": address["green"]}, needle="shop", scope=[STAGING],
                              service="shop-preview"),
            "cart": Router({"cart": address["cart"]}, needle="cart", scope=[CART_PROD]),
        }
        self.applied: list[dict[str, Any]] = []  # each GitOps commit the routers were configured from
        self.reconcilers: list[Reconciler] = []
        self.prometheus: Prometheus | None = None
        self.traffic: list[Traffic] = []
        self.scenarios: list[dict[str, Any]] = []  # for summary.json and report.md

    # -- the stage: files, images, routers, reconcilers, Prometheus, users ---------------------

    def _routed(self, root: Path) -> None:
        weights = {name: router.apply(root) for name, router in self.routers.items()}
        commit = git(root, "rev-parse", "HEAD")
        self.applied.append({"commit": commit, "subject": git(root, "log", "-1", "--format=%s"), "nginx": weights,
                             "at": time.time()})

    def boot(self) -> None:
        """Start Prometheus scraping the services (they run no version yet): it boots while the story
        before these chapters runs."""
        try:
            self.prometheus = start_prometheus(self.work / "prometheus", {
                "shop": [self.services["stable"].port, self.services["canary"].port],
                "cart": [self.services["cart"].port]}, interval=SCRAPE)
        except PrometheusError as err:
            raise DemoFailed(str(err)) from err

    def setup(self) -> None:
        s = self.story
        s.chapter("Progressive delivery through a real router",
                  "The shop: a staged canary behind an HTTPRoute in production, blue/green slots behind two "
                  "Services in staging. The cart: a rolling Deployment in production. Debian's nginx routes users' "
                  "traffic, configured from the GitOps repository's routing resources after every commit the "
                  "stand-in for Flux applies; Debian's prometheus scrapes the cart.")
        s.say(SHORTENED)
        if self.prometheus is None:  # not booted earlier
            self.boot()
        s.say(f"Chapters {s.chapters + 3} and {s.chapters + 4} (blue/green, then the rolling deploy) run alongside "
              f"{s.chapters + 1} and {s.chapters + 2} (the staged canary), as separate pipelines would: they push to "
              "the same GitOps repository, and are told after them.")
        for app, versions in (("shop", ("1.3.0", "1.4.0", "1.5.0")), ("cart", ("1.3.0", "1.4.1"))):
            for version in versions:
                self.registry.publish(f"org/{app}", f"v{version}", version)
        s.say(f"Published {self.image['shop']}:v1.3.0, v1.4.0, v1.5.0 and {self.image['cart']}:v1.3.0, v1.4.1.")
        shop, cart = self.image["shop"] + ":v1.3.0", self.image["cart"] + ":v1.3.0"
        files = {
            f"{PROD}/route.yaml": ROUTE,
            f"{PROD}/stable/deployment.yaml": _deployment("shop", "{app: shop, track: stable}", shop),
            f"{PROD}/canary/deployment.yaml": _deployment("shop-canary", "{app: shop, track: canary}", shop),
            f"{STAGING}/services.yaml": SERVICES,
            f"{STAGING}/blue/deployment.yaml": _deployment("shop-blue", "{app: shop, slot: blue}", shop),
            f"{STAGING}/green/deployment.yaml": _deployment("shop-green", "{app: shop, slot: green}", shop),
            f"{CART_PROD}/deployment.yaml": _deployment("cart", "{app: cart}", cart,
                                                        "  strategy: {type: RollingUpdate}\n"),
        }
        seed = self.work / "gitops-seed-progressive"
        git(self.work, "clone", "-q", str(self.remote), str(seed))
        for rel, text in files.items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
        git(seed, "add", "-A")
        git(seed, "-c", "user.name=Platform Team", "-c", "user.email=platform@example.com", "commit", "-q", "-m",
            "feat: shop with a canary route and blue/green slots, cart rolling")
        git(seed, "push", "-q", "origin", "main")
        shutil.rmtree(seed)
        s.show("\n".join(sorted(files)))
        try:
            for router in self.routers.values():
                router.start()
        except (RouterError, OSError) as err:  # OSError: no nginx (Debian package nginx-light; make system)
            raise DemoFailed(f"nginx: {err}") from err
        shop_paths = {"stable": f"{PROD}/stable/deployment.yaml", "canary": f"{PROD}/canary/deployment.yaml",
                      "blue": f"{STAGING}/blue/deployment.yaml", "green": f"{STAGING}/green/deployment.yaml"}
        # One stand-in for Flux per app (as one Flux Kustomization per app); the first also drives nginx.
        self.reconcilers = [
            Reconciler(str(self.remote), "main", self.image["shop"],
                       {name: (path, self.services[name]) for name, path in shop_paths.items()}, interval=0.3,
                       on_revision=self._routed),
            Reconciler(str(self.remote), "main", self.image["cart"],
                       {"cart": (f"{CART_PROD}/deployment.yaml", self.services["cart"])}, interval=0.3),
        ]
        for reconciler in self.reconcilers:
            reconciler.start()
        for name in [*shop_paths, "cart"]:
            self.wait(name, "1.3.0")
        # Users: 40 requests a second to production (a stage lasts a second or two), 20 to the others.
        self.traffic = [Traffic([self.routers["production"].url + "/"], rate=40),
                        Traffic([self.routers[name].url + "/" for name in ("staging", "cart")], rate=20)]
        s.say("nginx: " + "; ".join(f"{name} at {r.url} → {r.weights}" for name, r in self.routers.items()) + ".")
        prometheus = self.prometheus
        assert prometheus is not None
        try:
            prometheus.wait_ready()
        except PrometheusError as err:
            raise DemoFailed(str(err)) from err
        s.say(f"Users send 40 requests a second through the production router, 20 through staging's and the "
              f"cart's. Prometheus at {prometheus.url} scrapes the shop's stable and canary and the cart every "
              f"{SCRAPE:g} s.")

    def prometheus_with_baseline(self) -> Prometheus:
        """The Prometheus booted earlier, once it holds the watch's baseline window of the cart."""
        assert self.prometheus is not None
        # scrapes that saw the cart's answers: its traffic since setup, at SCRAPE a sample
        history = f'max(count_over_time(http_requests_total{{job="cart",code="200"}}[{BASELINE_SECONDS + 5}s]))'
        deadline = time.monotonic() + 60
        try:
            while (self.prometheus.value(history) or 0) < (BASELINE_SECONDS + 1) / SCRAPE:
                if time.monotonic() > deadline:
                    raise DemoFailed(f"Prometheus did not gather {BASELINE_SECONDS} s of the cart within 60 s")
                time.sleep(0.25)
        except PrometheusError as err:
            raise DemoFailed(str(err)) from err
        return self.prometheus

    def wait(self, workload: str, version: str) -> str:
        reconciler = next(r for r in self.reconcilers if workload in r.workloads)
        try:
            return reconciler.wait_for(workload, version, timeout=30)
        except TimeoutError as err:
            raise DemoFailed(str(err)) from err

    def settle(self) -> None:
        """Until the routers are configured from the latest GitOps commit."""
        tip = git(self.remote, "rev-parse", "main")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            applied = self.reconcilers[0].revision
            if applied is not None and self._contains(applied, tip):
                return
            time.sleep(0.05)
        raise DemoFailed(f"the reconciler did not apply GitOps commit {tip[:7]}")

    def _contains(self, commit: str, ancestor: str) -> bool:
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, commit], cwd=self.remote,
                              capture_output=True, check=False, env=cli_env())
        return proc.returncode == 0

    def run(self, s: Story, *argv: str) -> dict[str, Any]:
        return outputs(s.command([*argv, "--json"], self.work))

    def bump(self, s: Story, app: str, path: str, tag: str, environment: str, strategy: str,
             *extra: str) -> dict[str, Any]:
        return self.run(s, "gitops-bump", "--repository", "./gitops.git", "--image", self.image[app], "--tag", tag,
                        "--path", path, "--app", app, "--environment", environment, "--strategy", strategy, *extra)

    def commits(self, s: Story, since: str, path: str, router: str) -> list[dict[str, Any]]:
        """The GitOps commits after `since` that touch `path`, oldest first, each with what `router`'s
        nginx routed from it; shown as the chapter's history."""
        shas = git(self.remote, "rev-list", "--reverse", f"{since}..main", "--", path).split()
        applied = {entry["commit"]: entry["nginx"][router] for entry in self.applied}
        made: list[dict[str, Any]] = []
        lines = []
        for sha in shas:
            subject = git(self.remote, "log", "-1", "--format=%s", sha)
            weights = applied.get(sha)
            made.append({"commit": sha, "subject": subject, "nginx": weights})
            route = (", ".join(f"{k} {v}" for k, v in weights.items()) if weights is not None
                     else "(superseded before the reconciler's next pass)")
            short = subject if len(subject) <= 72 else subject[:71] + "…"
            lines.append(f"{sha[:7]} {short:72}  nginx {router}: {route}")
        s.say("The GitOps commits, and what nginx routed after each:")
        s.show("\n".join(lines))
        return made

    def split_seen(self, commits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What Prometheus counted, in each canary stage, of users' requests (those nginx forwarded): the
        services' routed counters from a scrape after the stage's commit was applied (nginx had
        reloaded) to when the chapter's next commit was."""
        prometheus = self.prometheus
        assert prometheus is not None
        applied = {entry["commit"]: entry for entry in self.applied}
        # A commit followed within the reconciler's interval by another (from a chapter alongside) took
        # effect with the later one: each commit is in force from the first applied at or after it.
        effect: dict[str, dict[str, Any]] = {}
        waiting: list[str] = []
        for sha in git(self.remote, "rev-list", "--reverse", "main").split():  # oldest first
            waiting.append(sha)
            if sha in applied:
                effect.update((pending, applied[sha]) for pending in waiting)
                waiting.clear()
        query = 'sum by (track) (http_routed_requests_total{job="shop"})'

        def counts(when: float) -> dict[str, float]:
            return {str(r["metric"]["track"]): float(r["value"][1])  # type: ignore[index]
                    for r in prometheus.query(query, when)}

        stages = []
        for this, after in itertools.pairwise(commits):
            if "canary to" not in this["subject"] or this["commit"] not in effect or after["commit"] not in effect:
                continue
            routed = effect[this["commit"]]
            start, end = routed["at"] + 2 * SCRAPE, effect[after["commit"]]["at"]  # a scrape after nginx reloaded
            if end <= start:
                continue
            first, last = counts(start), counts(end)
            seen = {track: int(last.get(track, 0) - first.get(track, 0)) for track in ("stable", "canary")}
            stages.append({"commit": this["commit"], "nginx": routed["nginx"]["production"], "prometheus": seen})
        return stages

    # -- the scenarios ---------------------------------------------------------------------------

    def tell(self) -> None:
        """The four chapters: the staged canary's two told as they run; blue/green and then the rolling
        deploy run alongside them (they touch other files and other routers; the pushes of both
        sides meet in the GitOps repository, as two pipelines' would) and are told after them."""
        first = self.story.chapters
        aside = self.story.aside(chapters=first + 2)
        failed: list[BaseException] = []

        def alongside() -> None:
            try:
                self.blue_green(aside)
                self.rolling(aside)
            except BaseException as err:  # noqa: BLE001 -- re-raised by the main thread after telling it
                failed.append(err)

        thread = threading.Thread(target=alongside, name="demo-alongside", daemon=True)
        thread.start()
        try:
            self.canary_good(self.story)
            self.canary_bad(self.story)
        finally:
            thread.join()
            self.story.tell(aside)
        if failed:
            raise failed[0]

    def rollout(self, s: Story, tag: str) -> dict[str, Any]:
        s.step(f"gitops-bump: the canary gets {tag}; then rollout walks its stages, each one commit")
        self.bump(s, "shop", f"{PROD}/canary", tag, "production", "canary")
        self.wait("canary", tag)
        out = self.run(s, "rollout", "--repository", "./gitops.git", "--app", "shop", "--environment", "production",
                       "--path", PROD, "--canary-steps", "10,30,50,90,100", "--canary-path", f"{PROD}/canary",
                       "--image", self.image["shop"], *STAGES, "--canary-url", self.services["canary"].url + "/",
                       "--baseline-url", self.services["stable"].url + "/", "--report", f"records/rollout-{tag}.json")
        s.say(f"rollout: {out['decision']} at stage {out['stage']}/{out['stages']} — {out['reason']}")
        return out

    def canary_good(self, s: Story) -> None:
        s.chapter("A good release walks 10 → 30 → 50 → 90 → 100 %",
                  "shop v1.4.0 in production: each stage is one commit of the canary's weight in the HTTPRoute, "
                  "judged by canary-monitor for at most 3 s; nginx follows each commit.")
        since = git(self.remote, "rev-parse", "main")
        out = self.rollout(s, "v1.4.0")
        if out["decision"] != "promote":
            raise DemoFailed(f"the good release was not promoted: {out['reason']}")
        self.settle()
        at_100 = sample(self.routers["production"].url, 50)
        s.say(f"At 100 %, 50 requests through nginx: {shown(at_100)}.")
        s.step("Promote: the stable gets v1.4.0, and the canary's weight goes back to 0")
        self.bump(s, "shop", f"{PROD}/stable", "v1.4.0", "production", "canary")
        self.wait("stable", "1.4.0")
        self.run(s, "traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "production",
                 "--path", PROD, "--weight", "0", "--image", self.image["shop"])
        self.settle()
        after = sample(self.routers["production"].url, 50)
        commits = self.commits(s, since, PROD, "production")
        s.say(f"After the promotion, 50 requests through nginx: {shown(after)} (the stable now runs v1.4.0).")
        split = self.split_seen(commits)
        s.say("Prometheus, users' requests nginx forwarded in each stage (the services' http_routed_requests_total): "
              + "; ".join(f"{st['nginx']['shop-canary']} %: " + (
                  f"canary {st['prometheus']['canary']} of {sum(st['prometheus'].values())}"
                  if any(st["prometheus"].values()) else "no scrape inside the stage") for st in split) + ".")
        self.scenarios.append({"scenario": "staged canary, good release", "app": "shop", "environment": "production",
                               "strategy": "canary", "version": "v1.4.0", "outcome": "promoted",
                               "stage": out["stage"], "stages": out["stages"], "reason": out["reason"],
                               "commits": commits, "through_router": {"at 100%": at_100, "after": after},
                               "prometheus": split})

    def canary_bad(self, s: Story) -> None:
        s.chapter("A bad release is stopped at its first stage",
                  "shop v1.5.0 answers 40 % of its requests with 500; it never gets more than 10 % of the traffic. "
                  "The failed stage sets the weight back to 0 and the canary's image back, in one forward commit "
                  "with the reason and an incident record.")
        since = git(self.remote, "rev-parse", "main")
        out = self.rollout(s, "v1.5.0")
        if out["decision"] != "rollback" or out["stage"] != 1:
            raise DemoFailed(f"the bad release was not stopped at stage 1: {out['reason']}")
        self.wait("canary", "1.4.0")
        self.settle()
        after = sample(self.routers["production"].url, 50)
        commits = self.commits(s, since, PROD, "production")
        s.say(f"After the rollback, 50 requests through nginx: {shown(after)}.")
        self.scenarios.append({"scenario": "staged canary, bad release", "app": "shop", "environment": "production",
                               "strategy": "canary", "version": "v1.5.0", "outcome": "rolled back",
                               "stage": out["stage"], "stages": out["stages"], "reason": out["reason"],
                               "commits": commits, "through_router": {"after": after}})

    def blue_green(self, s: Story) -> None:
        s.chapter("Blue/green: switch to the idle slot, and back",
                  "shop in staging: the live Service selects blue, the preview Service the idle slot. The release "
                  "goes to the idle slot, is smoke-tested through the preview, then the live selector moves in one "
                  "commit; switching back is instant, the old slot still runs.")
        since = git(self.remote, "rev-parse", "main")
        idle = self.run(s, "traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                        "--path", STAGING, "--slot", "idle", "--mode", "none", "--record", "")
        slot, live = str(idle["slot"]), str(idle["previous-slot"])
        s.say(f"live: {live}, idle: {slot} (a dry run: nothing was written)")
        self.bump(s, "shop", f"{STAGING}/{slot}", "v1.4.0", "staging", "blue-green")
        self.wait(slot, "1.4.0")
        self.settle()
        s.command(["smoke-test", "--url", self.routers["preview"].url + "/health", "--expect-version",
                            "1.4.0", "--timeout", "10s"], self.work)
        before = sample(self.routers["staging"].url, 20)
        self.run(s, "traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                 "--path", STAGING, "--slot", slot, "--image", self.image["shop"])
        self.settle()
        switched = sample(self.routers["staging"].url, 20)
        self.run(s, "traffic", "--repository", "./gitops.git", "--app", "shop", "--environment", "staging",
                 "--path", STAGING, "--slot", live, "--rollback", "true", "--reason", "the demo switches back",
                 "--image", self.image["shop"])
        self.settle()
        back = sample(self.routers["staging"].url, 20)
        commits = self.commits(s, since, STAGING, "staging")
        s.say(f"20 requests through nginx each time: before the switch {shown(before)}; after it {shown(switched)}; "
              f"after the switch back {shown(back)}.")
        self.scenarios.append({"scenario": "blue/green, switched and back", "app": "shop", "environment": "staging",
                               "strategy": "blue-green", "version": "v1.4.0", "outcome": f"switched to {slot}, and "
                               f"back to {live}", "reason": "the demo switches back", "commits": commits,
                               "through_router": {"before": before, "switched": switched, "back": back}})

    def rolling(self, s: Story) -> None:
        prometheus = self.prometheus_with_baseline()
        s.chapter("A rolling deploy caught by the watch",
                  "cart v1.4.1 in production, rolling: no canary to compare with, so the watch compares the cart "
                  "with itself before the deploy, with the runbooks' triggers (error rate > 5 %, p99 > 5× the "
                  "baseline, more than half the instances down), in Prometheus.")
        s.say(f"Prometheus has scraped the cart every {SCRAPE:g} s since the chapters began; it holds the "
              f"{BASELINE_SECONDS} s before the deploy.")
        since = git(self.remote, "rev-parse", "main")
        deployed_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.bump(s, "cart", CART_PROD, "v1.4.1", "production", "rolling")
        self.wait("cart", "1.4.1")
        report = "records/watch-cart-v1.4.1.json"
        out = watch_after_rolling(s, self.work, prometheus_url=prometheus.url, selector='job="cart"',
                                  deployed_at=deployed_at, report=report)
        s.say(f"watch: {out['decision']}: {out['reason']}")
        if out["decision"] != "rollback":
            raise DemoFailed(f"the watch did not catch the bad rolling deploy: {out['reason']}")
        s.step("Roll back: a forward commit to v1.3.0, with the watch's reason and report")
        self.bump(s, "cart", CART_PROD, "v1.3.0", "production", "rolling", "--rollback", "true", "--reason",
                  f"the watch: {out['reason']}", "--evidence", report)
        self.wait("cart", "1.3.0")
        time.sleep(1.5)  # one more scrape: Prometheus holds the counters as they ended
        served = {f"{r['metric']['version']} {r['metric']['code']}": int(float(r["value"][1]))  # type: ignore[index]
                  for r in prometheus.query('sum by (version, code) (http_requests_total{job="cart"})')}
        commits = self.commits(s, since, CART_PROD, "cart")
        s.say("What Prometheus holds for the cart, by version and status: "
              + ", ".join(f"{key}: {n}" for key, n in sorted(served.items())) + ".")
        self.scenarios.append({"scenario": "rolling, caught by the watch", "app": "cart", "environment": "production",
                               "strategy": "rolling", "version": "v1.4.1", "outcome": "rolled back",
                               "reason": out["reason"], "commits": commits, "prometheus": served,
                               "report": report})

    # -- what is left behind ---------------------------------------------------------------------

    def write_records(self, records: Path) -> None:
        """records/router.jsonl: each GitOps commit nginx was configured from, and the weights it loaded."""
        with (records / "router.jsonl").open("w") as out:
            for entry in self.applied:
                out.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        for traffic in self.traffic:
            traffic.close()
        for reconciler in self.reconcilers:
            reconciler.stop()
        if self.prometheus is not None:
            self.prometheus.close()
        for router in self.routers.values():
            router.stop()
        for service in self.services.values():
            service.close()
