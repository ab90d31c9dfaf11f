"""`make demo`: the whole flow on one machine, told as a story.

release (version-bump, changelog-check) → image in a registry → gate → deployment opened →
gitops-bump of the canary → a local reconciler (standing in for Flux / Argo CD) runs it →
smoke-test → canary-monitor → promote; then a bad release, detected by the canary and rolled
back as a forward commit with an incident record. Then progressive delivery through a real nginx
router configured from the same GitOps repository (demo.progressive): a staged canary walking
10 → 30 → 50 → 90 → 100 %, a bad one stopped at its first stage, a blue/green switch and back,
and a rolling deploy caught by the watch, with stage durations shortened (and said so).

Every step runs the real `deploy-actions` command line, under `.work/demo` (wiped at start; set
DEMO_WORK_DIR or --work-dir to put it elsewhere). It ends by writing `report.md` and copying the
JSON records into `records/`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.progressive import Progressive
from demo.reconciler import Reconciler
from demo.registry import DemoRegistry, start_registry
from demo.service import AppService, Traffic
from demo.story import CLI, ROOT, DemoFailed, Story, cli_env, git, outputs

APP, IMAGE_PATH, ENVIRONMENT, SOURCE_REPOSITORY = "app", "org/app", "production", "org/app"
FAULTS = {"1.4.0": 0.25}  # the bad release answers a quarter of its requests with 500
CANARY = ("--provider", "probe", "--rate", "20", "--interval", "1s", "--duration", "40s", "--min-duration", "5s",
          "--min-requests", "100")
FREEZE, DENY_WINDOWS = "12-24..12-26\n12-31..01-02", "Fri 15:00-24:00"  # the team's rules, Europe/Berlin
WORKLOADS = {"stable": f"apps/{APP}/{ENVIRONMENT}/stable", "canary": f"apps/{APP}/{ENVIRONMENT}/canary"}


# --------------------------------------------------------------------------- what is available


@dataclass(frozen=True)
class Features:
    """The options being added by other changes; a missing one is skipped and said so, never faked."""

    gate_checklist: bool
    deployment: bool
    incident: bool

    @classmethod
    def probe(cls) -> Features:
        def help_text(*argv: str) -> str:
            proc = subprocess.run([*CLI, *argv, "--help"], capture_output=True, text=True, check=False, env=cli_env())
            return proc.stdout if proc.returncode == 0 else ""

        bump = help_text("gitops-bump")
        return cls(gate_checklist="--require" in help_text("gate"),
                   deployment="--event" in help_text("deployment"),
                   incident="--incident" in bump and "--evidence" in bump)


# --------------------------------------------------------------------------- the demo


@dataclass
class Demo:
    story: Story
    work: Path
    registry_choice: str
    features: Features = field(default_factory=Features.probe)
    facts: dict[str, Any] = field(default_factory=dict)
    registry: DemoRegistry | None = None
    services: dict[str, AppService] = field(default_factory=dict)
    reconciler: Reconciler | None = None
    traffic: Traffic | None = None

    @property
    def app(self) -> Path:
        return self.work / "app"

    @property
    def gitops_remote(self) -> Path:
        return self.work / "gitops.git"

    @property
    def image(self) -> str:
        assert self.registry is not None
        return f"{self.registry.host}/{IMAGE_PATH}"

    def run(self, *argv: str, expect: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.story.command(argv, self.work, expect=expect)

    # -- 1. the code repository and its releases ----------------------------------------------

    def code_repository(self) -> None:
        s = self.story
        s.chapter("A code repository with Conventional Commits",
                  "app.git is a bare repository standing in for GitHub; app is a developer's clone. "
                  "v1.2.0 is released; four commits follow.")
        remote = self.work / "app.git"
        git(self.work, "init", "-q", "--bare", "-b", "main", str(remote))
        git(self.work, "clone", "-q", str(remote), str(self.app))
        git(self.app, "config", "user.name", "Demo Dev")
        git(self.app, "config", "user.email", "dev@example.com")
        (self.app / "pyproject.toml").write_text('[project]\nname = "app"\n# the release tooling rewrites only '
                                                 "the next line\nversion = '1.2.0'\n")
        (self.app / "CHANGELOG.md").write_text(
            "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-10-01\n\n### Changes\n\n- First public release\n\n"
            "### Rollback Plan\n\nRedeploy 1.1.0 with gitops-bump rollback: true.\n")
        git(self.app, "add", "-A")
        git(self.app, "commit", "-q", "-m", "feat: first public release")
        git(self.app, "tag", "-a", "v1.2.0", "-m", "v1.2.0")
        for message in ("feat(api): add search endpoint", "fix: escape the search query", "docs: explain search",
                        "perf(db): index the search column"):
            (self.app / "notes.txt").write_text(message + "\n")
            git(self.app, "add", "-A")
            git(self.app, "commit", "-q", "-m", message)
        git(self.app, "push", "-q", "--follow-tags", "origin", "main")
        s.show(git(self.app, "log", "--format=%h %d %s"))

    def release(self, version: str, first: bool) -> str:
        """version-bump (with a dry run first, the first time) → changelog-check → rollback plan; the tag's commit."""
        s = self.story
        if first:
            s.step("version-bump: what would the next release be? (a dry run changes nothing)")
            out = outputs(self.run("version-bump", "--repo", "app", "--dry-run", "--json"))
            s.say(f"Next version {out['version']}: a {out['bump']} bump from {out['previous-version']} "
                  "(feat → minor; fix and perf → patch; docs → nothing).")
        s.step(f"version-bump: release {version} — rewrite pyproject.toml, prepend the changelog, commit, tag, push")
        out = outputs(self.run("version-bump", "--repo", "app", "--version-files", "pyproject.toml",
                               "--changelog", "update", "--push", "--json"))
        if out["version"] != version:
            raise DemoFailed(f"version-bump released {out['version'] or 'nothing'}, the story expects {version}")
        if first:
            s.say("The release commit changes the version and nothing else in pyproject.toml:")
            s.show(git(self.app, "show", "--format=", "--unified=0", "HEAD", "--", "pyproject.toml"), "diff")
        tagged = git(self.work / "app.git", "rev-parse", "--short", f"v{version}^{{commit}}")
        s.say(f"The remote has tag v{version} on {tagged}.")

        s.step("changelog-check: the entry must carry a rollback plan")
        check = ["changelog-check", "--file", "app/CHANGELOG.md", "--version", version,
                 "--require-sections", "Rollback Plan", "--json"]
        self.run(*check, expect=(1,))
        s.say("version-bump wrote the entry from the commits; a rollback plan is a person's job. The maintainer "
              "adds it as a docs commit, which releases nothing.")
        text = (self.app / "CHANGELOG.md").read_text()
        heading = next(line for line in text.splitlines() if line.startswith(f"## [{version}]"))
        previous = self.facts.setdefault("previous_of", {}).get(version, "")
        plan = (f"### Rollback Plan\n\nRoll the canary (or production) back to {previous} with "
                f"`gitops-bump --rollback --reason …`; no data migration to undo.\n")
        next_entry = text.find("\n## ", text.index(heading) + len(heading))
        if next_entry == -1:
            text = text.rstrip("\n") + "\n\n" + plan
        else:
            text = text[:next_entry] + "\n" + plan + text[next_entry:]
        (self.app / "CHANGELOG.md").write_text(text)
        git(self.app, "commit", "-q", "-am", f"docs(changelog): rollback plan for {version}")
        git(self.app, "push", "-q", "origin", "main")
        entry = outputs(self.run(*check))
        if first:
            s.say(f"{version} is {entry['status']}, dated {entry['date']}; its notes:")
            s.show(entry["notes"], "markdown")
        return git(self.app, "rev-parse", f"v{version}^{{commit}}")

    def repeat_and_refuse(self) -> None:
        s = self.story
        s.step("Safe to repeat, strict on input")
        out = outputs(self.run("version-bump", "--repo", "app", "--json"))
        s.say(f"Run again with nothing new to release: released {str(out['released']).lower()}; nothing changes.")
        self.run("version-bump", "--repo", "app", "--bump", "huge", expect=(2,))
        s.say("Bad input is one line naming the input and what was expected, exit status 2, nothing touched.")

    # -- 2. the image -------------------------------------------------------------------------

    def publish(self, version: str) -> None:
        assert self.registry is not None
        published = self.registry.publish(IMAGE_PATH, f"v{version}", version)
        self.story.say(f"Published {published.reference} ({published.digest[:19]}…, a one-layer OCI image).")
        self.facts.setdefault("images", {})[version] = {"reference": published.reference, "digest": published.digest}

    def start_registry(self) -> None:
        s = self.story
        s.chapter("The image: CI builds app:vX.Y.Z and pushes it to a registry",
                  "Tags are immutable: each release gets its own, and the GitOps repository pins it.")
        self.registry, why = start_registry(self.work / "registry", self.registry_choice)
        self.facts["registry"] = {"kind": self.registry.kind, "host": self.registry.host, "why": why}
        s.say(f"Registry: {self.registry.description}, at {self.registry.host} ({why}).")
        if self.registry.kind == "embedded":
            s.say("(Install Debian's docker-registry and the demo pushes to the real thing instead.)")
        self.publish("1.2.0")
        self.publish("1.3.0")

    # -- 3. the GitOps repository, the reconciler, the services ---------------------------------

    def gitops_repository(self) -> None:
        s = self.story
        s.chapter("A GitOps repository, and a local stand-in for Flux",
                  "gitops.git pins the image for two workloads of production: stable and canary.")
        seed = self.work / "gitops-seed"
        git(self.work, "init", "-q", "--bare", "-b", "main", str(self.gitops_remote))
        git(self.work, "clone", "-q", str(self.gitops_remote), str(seed))
        base = seed / "apps" / APP / "base" / "deployment.yaml"
        base.parent.mkdir(parents=True)
        base.write_text(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {APP}\nspec:\n  template:\n"
                        f"    spec:\n      containers:\n        - name: {APP}\n          image: {self.image}:v1.2.0\n")
        for track, folder in WORKLOADS.items():
            path = seed / folder / "kustomization.yaml"
            path.parent.mkdir(parents=True)
            path.write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                            f"nameSuffix: -{track}\nresources:\n  - ../../base\nlabels:\n  - pairs:\n"
                            f"      track: {track}\nimages:\n  - name: {self.image}\n"
                            "    newTag: v1.2.0 # the tag gitops-bump rewrites\n")
        git(seed, "add", "-A")
        git(seed, "-c", "user.name=Platform Team", "-c", "user.email=platform@example.com", "commit", "-q", "-m",
            f"feat: {APP} in {ENVIRONMENT}, stable and canary")
        git(seed, "push", "-q", "origin", "main")
        shutil.rmtree(seed)
        s.show("\n".join(sorted(git(self.gitops_remote, "ls-tree", "-r", "--name-only", "main").splitlines())))

        for track in WORKLOADS:
            self.services[track] = AppService(track, FAULTS)
        workloads = {track: (f"{folder}/kustomization.yaml", self.services[track])
                     for track, folder in WORKLOADS.items()}
        self.reconciler = Reconciler(str(self.gitops_remote), "main", self.image, workloads, interval=0.5)
        self.reconciler.start()
        s.say("The reconciler stands in for Flux / Argo CD: it polls gitops.git every 0.5 s, reads the tag each "
              "workload pins (with deploy-actions' own manifest reader), and starts a local service at that version. "
              "No Kubernetes here: each workload is a small HTTP service on 127.0.0.1.")
        for track in WORKLOADS:
            self.wait(track, "1.2.0")
        self.traffic = Traffic([self.services[t].url + "/" for t in WORKLOADS], rate=10)
        s.say("Users' traffic reaches both workloads, 10 requests a second each.")

        s.step("Mutable tags are refused before anything is touched")
        self.run("gitops-bump", "--repository", "./gitops.git", "--image", self.image, "--tag", "latest",
                 "--path", WORKLOADS["canary"], "--environment", ENVIRONMENT, expect=(2,))

    def wait(self, track: str, version: str) -> None:
        assert self.reconciler is not None
        try:
            commit = self.reconciler.wait_for(track, version, timeout=30)
        except TimeoutError as err:
            raise DemoFailed(str(err)) from err
        service = self.services[track]
        self.story.say(f"reconciler: {track} runs {version} (GitOps commit {commit[:7]}), at {service.url}")

    # -- 4. the deploy leg --------------------------------------------------------------------

    def gate(self, version: str) -> None:
        s = self.story
        s.step("gate: may the deploy start now?")
        freeze, windows = FREEZE, DENY_WINDOWS
        if not self.facts.get("gate_rehearsed"):
            self.facts["gate_rehearsed"] = True
            rehearsal = outputs(self.run("gate", "--freeze", freeze, "--timezone", "Europe/Berlin",
                                         "--now", "2026-12-25T10:00:00+01:00", "--json", expect=(1,)))
            s.say(f"Rehearsal on Christmas morning: closed — {rehearsal['reason']}.")
        argv = ["gate", "--freeze", freeze, "--deny-windows", windows, "--timezone", "Europe/Berlin"]
        if self.features.gate_checklist:
            argv += ["--require", "changelog\ntag\nimage\nrollback-plan", "--version", version, "--repo", "app",
                     "--image", self.image]
        proc = self.run(*argv, "--json", expect=(0, 1))
        out = outputs(proc)
        if proc.returncode and out.get("failed"):
            raise DemoFailed(f"the pre-deploy checklist failed: {out['failed']}")
        if proc.returncode:
            s.say(f"Right now the gate is closed ({out['reason']}). The demo takes the emergency override, "
                  "which needs a reason and is recorded as override: true.")
            override = "make demo runs whenever you run it"
            out = outputs(self.run(*argv, "--emergency", "--reason", override, "--json"))
            self.facts.setdefault("overrides", {})[version] = override
        if self.features.gate_checklist:
            checks = ", ".join(f"{c['check']} {'✓' if c['ok'] else '✗'}" for c in out.get("checklist", []))
            s.say(f"Open: {out['reason']}. Checklist: {checks}.")
        else:
            s.say(f"Open: {out['reason']}. (The pre-deploy checklist, require: …, is not available yet.)")

    def deployment(self, event: str, version: str, **extra: str) -> None:
        s = self.story
        if not self.features.deployment:
            s.say(f"(deployment --event {event}: not available yet; skipped)")
            return
        argv = ["deployment", "--event", event, "--app", APP, "--environment", ENVIRONMENT, "--version", f"v{version}",
                "--repository", "./gitops.git"]
        override = self.facts.get("overrides", {}).get(version)
        if event == "opened" and override:
            extra = {**extra, "override": "true", "override_reason": override}
        for key, value in extra.items():
            argv += [f"--{key.replace('_', '-')}", value]
        out = outputs(self.run(*argv, "--json"))
        s.say(f"Deployment of {version} in {ENVIRONMENT}: {out.get('previous-state', '?')} → {out.get('state', '?')} "
              f"(GitOps commit {str(out.get('commit-sha', ''))[:7]}).")

    def bump(self, track: str, version: str, *extra: str) -> dict[str, Any]:
        where = f"on the {track}" if track == "canary" else f"on {track}"
        return outputs(self.run("gitops-bump", "--repository", "./gitops.git", "--image", self.image,
                                "--tag", f"v{version}", "--path", WORKLOADS[track], "--environment", ENVIRONMENT,
                                "--app", APP, "--strategy", "canary", "--source-repository", SOURCE_REPOSITORY,
                                "--source-commit", self.facts["source_commits"][version],
                                "--commit-message", f"chore: Bump {{app}} to {{tag}} {where}",
                                "--rollback-message", f"fix: Rollback {{app}} to {{tag}} {where} due to {{reason}}",
                                *extra, "--json"))

    def smoke(self, version: str) -> None:
        s = self.story
        s.step(f"smoke-test: is the canary up, and does it run {version}?")
        report = f"records/smoke-v{version}.json"
        out = outputs(self.run("smoke-test", "--url", self.services["canary"].url + "/health",
                               "--expect-version", version, "--timeout", "30s", "--report", report, "--json"))
        s.say(f"{out['passed']}/{out['total']} checks passed; the canary reports {out['version']}.")
        self.facts.setdefault("smoke", {})[version] = {"passed": out["passed"], "report": report}

    def canary(self, version: str, baseline: str) -> dict[str, Any]:
        s = self.story
        s.step(f"canary-monitor: {version} (canary) against {baseline} (stable), from live probes")
        report = f"records/canary-v{version}.json"
        out = outputs(self.run("canary-monitor", *CANARY, "--canary-url", self.services["canary"].url + "/",
                               "--baseline-url", self.services["stable"].url + "/", "--report", report, "--json"))
        reason = str(out["reason"])
        s.say(f"Decision: {out['decision']} — {reason}.")
        self.facts.setdefault("canary", {})[version] = {"decision": out["decision"], "reason": reason,
                                                         "report": report}
        return out

    def deploy(self, version: str, previous: str) -> str:
        """The deploy leg as the reusable deploy workflow runs it; the canary's decision."""
        s = self.story
        s.chapter(f"Deploy {version}: gate, open, canary, smoke, analyse",
                  f"Production runs {previous}. {version} goes to the canary first; stable follows only if the "
                  "canary's numbers say so.")
        self.gate(version)
        s.step("deployment opened: the deploy is on record before anything changes")
        self.deployment("opened", version, previous_version=f"v{previous}", image=self.image, strategy="canary",
                        source_repository=SOURCE_REPOSITORY, source_commit=self.facts["source_commits"][version])
        s.step(f"gitops-bump: pin {version} for the canary (registry check on)")
        out = self.bump("canary", version)
        s.say(f"{out['previous-tag']} → {out['tag']} in {', '.join(out['files'])}; commit {out['commit-sha'][:7]} "
              "pushed to gitops.git.")
        self.wait("canary", version)
        self.smoke(version)
        decision = str(self.canary(version, previous)["decision"])
        if decision == "promote":
            s.step("Promote: pin the same tag for stable, then conclude the deployment")
            out = self.bump("stable", version)
            s.say(f"stable: {out['previous-tag']} → {out['tag']} (commit {out['commit-sha'][:7]}).")
            self.wait("stable", version)
            self.deployment("concluded", version)
        return decision

    def roll_back(self, version: str, good: str) -> None:
        s = self.story
        facts = self.facts["canary"][version]
        s.chapter(f"Roll back {version}: a forward commit with the canary's reason",
                  f"No kubectl, no force-push: a new GitOps commit pins {good} for the canary again, with the reason, "
                  "the evidence and an incident record, and the reconciler follows it.")
        # The headline of the canary's reason; the numbers behind it are in the evidence and the incident record.
        reason = facts["reason"].split("; evidence", 1)[0]
        extra = ["--rollback", "--reason", reason]
        if self.features.incident:
            extra += ["--evidence", facts["report"]]
        else:
            s.say("(gitops-bump --incident/--evidence: not available yet; the rollback carries the reason only)")
        out = self.bump("canary", good, *extra)
        self.facts["rollback_commit"] = out["commit-sha"]
        self.wait("canary", good)
        s.step("deployment shelved: the bad version is paused, with its cause")
        self.deployment("shelved", version, cause="canary-failed", reason=reason)
        s.step("What the canary's own /metrics says")
        served = metrics_by_code(self.services["canary"].url + "/metrics", version)
        total = sum(served.values())
        errors = sum(n for code, n in served.items() if code.startswith("5"))
        s.say(f"While it ran {version}, the canary answered {total:.0f} requests, {errors:.0f} of them with 5xx "
              f"({100 * errors / max(total, 1):.0f} %). The stable workload never ran it.")

    # -- 5. what is left behind ----------------------------------------------------------------

    def gitops_history(self) -> None:
        s = self.story
        s.chapter("The GitOps repository tells the whole story",
                  "Every change is a commit: who, what, from which source commit, and why.")
        log = git(self.gitops_remote, "log", "--format=%h %s", "main")
        s.show(log)
        (self.work / "records" / "gitops-log.txt").write_text(log + "\n")
        rollback = self.facts.get("rollback_commit")
        if rollback:
            s.say("The rollback commit, in full:")
            s.show(git(self.gitops_remote, "show", "--stat", "--format=%H%n%an <%ae>%n%n%B", rollback))
        self.copy_records()
        incidents = sorted((self.work / "records" / "gitops" / "incidents").glob("*.md"))
        if incidents:
            s.say(f"The incident record ({incidents[-1].relative_to(self.work)}):")
            s.show(incidents[-1].read_text(), "markdown")
            self.facts["incident"] = str(incidents[-1].relative_to(self.work))

    def operations_report(self) -> None:
        """The report of the day, read back from the GitOps repository's records alone."""
        s = self.story
        s.chapter("The operations report, from the records",
                  "deploy-actions report reads every record the story wrote in a checkout of the GitOps repository "
                  "(with its history, which names the GitOps commit behind what runs where): the deployments and "
                  "the rollback, the incident, and the four DORA keys. No other source: no GitHub API here, so "
                  "lead time counts from each build's first record.")
        git(self.work, "clone", "-q", str(self.gitops_remote), str(self.work / "gitops-checkout"))
        out = outputs(self.run("report", "--path", "gitops-checkout", "--since", "1d", "--production", ENVIRONMENT,
                               "--output-dir", "records/report", "--json"))
        s.say(f"Change failure rate {out['change-failure-rate']}, {out['warnings']} record(s) left out; the "
              "Markdown follows, with its Mermaid charts (the SVG files are in records/report/).")
        self.facts["report"] = {key: out[key] for key in ("deployment-frequency", "lead-time-hours",
                                                          "change-failure-rate", "time-to-restore-hours", "warnings")}
        markdown = (self.work / "records" / "report" / "report.md").read_text()
        # Its links name the SVG files beside it; this report sits two folders up.
        s.embed(re.sub(r"\]\(([\w.-]+\.svg)\)", r"](records/report/\1)", markdown))

    def copy_records(self) -> None:
        """deployments/*.jsonl and incidents/* from the GitOps repository, and what the reconciler did."""
        records = self.work / "records"
        for relpath in git(self.gitops_remote, "ls-tree", "-r", "--name-only", "main").splitlines():
            if relpath.startswith(("deployments/", "incidents/")):
                target = records / "gitops" / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(git(self.gitops_remote, "show", f"main:{relpath}") + "\n")
        if self.reconciler is not None:
            with (records / "reconciler-events.jsonl").open("w") as events:
                for at, workload, version, commit in self.reconciler.events:
                    events.write(json.dumps({"time": at.isoformat(timespec="milliseconds"), "workload": workload,
                                             "version": version, "gitops_commit": commit}) + "\n")

    def close(self) -> None:
        if self.traffic is not None:
            self.traffic.close()
        if self.reconciler is not None:
            self.reconciler.stop()
        for service in self.services.values():
            service.close()
        if self.registry is not None:
            self.registry.close()


def metrics_by_code(url: str, version: str) -> dict[str, float]:
    """http_requests_total of one version, by status code, from a /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- the demo's own http://127.0.0.1 service
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels.get("version") == version:
                counts[sample.labels["code"]] = counts.get(sample.labels["code"], 0.0) + sample.value
    return counts


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def scenario_row(d: dict[str, Any]) -> str:
    stage = f" at stage {d['stage']}/{d['stages']}" if "stage" in d else ""
    return (f"| {d['scenario']} | {d['app']} | {d['environment']} | {d['strategy']} | {d['version']} | "
            f"{d['outcome']}{stage} | {len(d['commits'])} |")


def write_report(demo: Demo) -> Path:
    story, work = demo.story, demo.work
    records = sorted(p.relative_to(work).as_posix() for p in (work / "records").rglob("*") if p.is_file())
    facts = demo.facts
    header = [
        "# deploy-actions demo report",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC in {story.elapsed():.0f} s. "
        "Every step below ran the real `deploy-actions` command line; the commands are shown as run from this "
        "folder. The reconciler is a local stand-in for Flux / Argo CD, and the services are small HTTP "
        "servers on 127.0.0.1, not a cluster.",
        "",
        "| | |",
        "| --- | --- |",
        f"| registry | {facts.get('registry', {}).get('kind', '?')} at {facts.get('registry', {}).get('host', '?')} |",
        *(f"| image {v} | `{i['reference']}` ({i['digest'][:19]}…) |" for v, i in facts.get("images", {}).items()),
        *(f"| release {v} | source commit `{c[:12]}` |" for v, c in facts.get("source_commits", {}).items()),
        *(f"| canary {v} | {c['decision']}: {cell(c['reason'])} |" for v, c in facts.get("canary", {}).items()),
        f"| stable runs | {demo.services['stable'].version if 'stable' in demo.services else '?'} |",
        f"| canary runs | {demo.services['canary'].version if 'canary' in demo.services else '?'} |",
        "",
    ]
    if facts.get("scenarios"):
        header += ["Progressive delivery through nginx (stage durations shortened for the demo, see its chapter):",
                   "", "| deployment | app | environment | strategy | version | outcome | GitOps commits |",
                   "| --- | --- | --- | --- | --- | --- | --- |", *map(scenario_row, facts["scenarios"]), ""]
    header += ["Records: " + ", ".join(f"[{r}]({r})" for r in records)]
    missing = [name for name, ok in (("gate checklist (require:)", demo.features.gate_checklist),
                                     ("deployment lifecycle events", demo.features.deployment),
                                     ("incident record on rollback", demo.features.incident)) if not ok]
    if missing:
        header += ["", "Not available yet, so skipped: " + ", ".join(missing) + "."]
    path = work / "report.md"
    text = "\n".join(header + story.markdown)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    path.write_text(text.rstrip() + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--work-dir", default=os.environ.get("DEMO_WORK_DIR", str(ROOT / ".work" / "demo")),
                        help="where everything happens; wiped at start (default: .work/demo, or $DEMO_WORK_DIR)")
    parser.add_argument("--registry", choices=("auto", "docker-registry", "embedded"),
                        default=os.environ.get("DEMO_REGISTRY", "auto"),
                        help="auto: Debian's docker-registry when installed, else the embedded OCI-layout registry")
    args = parser.parse_args(argv)
    work = Path(args.work_dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "records").mkdir(parents=True)
    story = Story(work)
    demo = Demo(story, work, args.registry)
    progressive: Progressive | None = None
    print(f"deploy-actions demo in {work} — the release flow from a commit to a running canary and back.")
    try:
        demo.code_repository()
        story.chapter("Release 1.3.0", "version-bump reads the commits since v1.2.0 and decides the version.")
        demo.facts["previous_of"] = {"1.3.0": "1.2.0", "1.4.0": "1.3.0"}
        demo.facts["source_commits"] = {"1.3.0": demo.release("1.3.0", first=True)}
        demo.repeat_and_refuse()
        demo.start_registry()
        assert demo.registry is not None
        progressive = Progressive(story, work, demo.registry, demo.gitops_remote)
        progressive.boot()  # Prometheus for the router chapters boots while the release story runs
        demo.gitops_repository()
        if demo.deploy("1.3.0", previous="1.2.0") != "promote":
            raise DemoFailed(f"the healthy canary 1.3.0 was not promoted: {demo.facts['canary']['1.3.0']['reason']}")

        story.chapter("Release 1.4.0 — with a bug nobody has noticed yet",
                      "A new feature lands; the release goes exactly like the last one.")
        (demo.app / "notes.txt").write_text("cache search results\n")
        git(demo.app, "commit", "-q", "-am", "feat(api): cache search results")
        git(demo.app, "push", "-q", "origin", "main")
        demo.facts["source_commits"]["1.4.0"] = demo.release("1.4.0", first=False)
        demo.publish("1.4.0")
        if demo.deploy("1.4.0", previous="1.3.0") != "rollback":
            raise DemoFailed(f"the bad canary 1.4.0 was not rolled back: {demo.facts['canary']['1.4.0']['reason']}")
        demo.roll_back("1.4.0", good="1.3.0")
        progressive.setup()
        progressive.tell()
        demo.gitops_history()
        demo.operations_report()
    except DemoFailed as err:
        print(f"\ndemo failed: {err}", file=sys.stderr)
        return 1
    finally:
        if progressive is not None:
            progressive.write_records(work / "records")
            demo.facts["scenarios"] = progressive.scenarios
            progressive.close()
        demo.close()
    running = {track: service.version for track, service in demo.services.items()}
    demo.facts.update(running=running, elapsed=round(story.elapsed(), 1),
                      features={"gate_checklist": demo.features.gate_checklist,
                                "deployment": demo.features.deployment, "incident": demo.features.incident})
    (work / "records" / "summary.json").write_text(json.dumps(demo.facts, indent=2) + "\n")
    report = write_report(demo)
    story.chapter("Done")
    story.say(f"stable runs {running.get('stable')}, the canary runs {running.get('canary')}; "
              f"{demo.facts['registry']['kind']} registry; {story.elapsed():.0f} s.")
    print(f"  Report: {report.relative_to(Path.cwd()) if report.is_relative_to(Path.cwd()) else report}")
    print(f"  Records: {work / 'records'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
