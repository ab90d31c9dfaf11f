"""The DORA keys on record sets whose values are known by construction: a plan of deployments is
drawn at random, written as the commands write records, and the keys the plan implies are computed
here, from the plan, without the report's code; the report must agree exactly."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy_actions.report.build import ReportOptions, make_report
from tests.report.builder import Records, at

SINCE, UNTIL = at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z")
PREVIOUS = (SINCE - (UNTIL - SINCE), SINCE)
START, END = at("2026-11-01T00:00:00Z"), at("2026-11-27T00:00:00Z")  # records after UNTIL must not count
MINUTE = dt.timedelta(minutes=1)


@dataclass
class Truth:
    """One production deployment as the plan made it."""

    app: str
    version: str
    first_record: dt.datetime  # the build's first record (staging, when promoted)
    started: dt.datetime
    live: dt.datetime
    concluded: dt.datetime | None = None
    rolled_back: dt.datetime | None = None
    detected: dt.datetime | None = None  # None: the rollback wrote no incident record
    promoted: bool = False
    override: dt.datetime | None = None
    shelved: dt.datetime | None = None


def sha(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()


def plan(seed: int) -> tuple[Records, list[Truth], list[tuple[str, dt.datetime]]]:
    """Random histories for 1-3 apps; returns the records, the production deployments, and the
    rollbacks of a rollback (app, time)."""
    rng = random.Random(seed)
    records, truths, reverts = Records(), [], []
    for a in range(rng.randint(1, 3)):
        app = f"app{a}"
        t = START + rng.randint(0, 600) * MINUTE
        records.opened(t, app, "production", "v0", source_commit=sha(app, "v0"))
        records.bump(t + MINUTE, app, "production", "v0", source_commit=sha(app, "v0"))
        records.concluded(t + 2 * MINUTE, app, "production", "v0")
        truths.append(Truth(app, "v0", t, t, t + MINUTE, concluded=t + 2 * MINUTE))
        running, n = "v0", 1
        t += 3 * MINUTE
        while t < END:
            t += rng.randint(60, 30 * 60) * MINUTE
            version, commit = f"v{n}", sha(app, f"v{n}")
            n += 1
            first = t
            promoted = rng.random() < 0.5
            if promoted:
                records.opened(t, app, "staging", version, source_commit=commit)
                records.bump(t + MINUTE, app, "staging", version, source_commit=commit)
                records.concluded(t + 10 * MINUTE, app, "staging", version)
                t += rng.randint(20, 20 * 60) * MINUTE
            truth = Truth(app, version, first, t, t + 2 * MINUTE, promoted=promoted)
            truths.append(truth)
            override = rng.random() < 0.2
            records.opened(t, app, "production", version, source_commit=commit, previous=running,
                           override_reason="hotfix for an outage" if override else "")
            truth.override = t if override else None
            records.bump(t + 2 * MINUTE, app, "production", version, running, commit)
            t += 2 * MINUTE
            outcome = rng.choice(["concluded", "rolled-back", "rolled-back-quietly", "shelved-resumed", "superseded",
                                  "concluded-then-rolled-back"])
            if outcome == "concluded":
                t += rng.randint(5, 240) * MINUTE
                records.concluded(t, app, "production", version)
                truth.concluded, running = t, version
            elif outcome in ("rolled-back", "rolled-back-quietly"):
                detected = t + rng.randint(1, 60) * MINUTE
                t = detected + rng.randint(1, 180) * MINUTE
                quiet = outcome == "rolled-back-quietly"
                records.rollback(t, app, "production", running, version, detected=detected, deployed=truth.live,
                                 incident_file=not quiet)
                truth.rolled_back, truth.detected = t, None if quiet else detected
                records.shelved(t + MINUTE, app, "production", version, "canary-failed", "error rate 12 %")
                truth.shelved = t + MINUTE
                t += MINUTE
                if rng.random() < 0.3:  # the rollback was wrong: roll it back
                    t += rng.randint(5, 120) * MINUTE
                    records.rollback(t, app, "production", version, running, "the rollback made it worse",
                                     incident_file=False)
                    reverts.append((app, t))
                    running = version
            elif outcome == "shelved-resumed":
                records.shelved(t + 5 * MINUTE, app, "production", version, "window", "outside the deploy window")
                truth.shelved = t + 5 * MINUTE
                t += rng.randint(30, 600) * MINUTE
                resumed_override = rng.random() < 0.3
                records.resumed(t, app, "production", version, "customer escalation" if resumed_override else "")
                if resumed_override:
                    truth.override = truth.override or t
                t += rng.randint(5, 60) * MINUTE
                records.concluded(t, app, "production", version)
                truth.concluded, running = t, version
            elif outcome == "superseded":
                running = version
            else:
                t += rng.randint(5, 240) * MINUTE
                records.concluded(t, app, "production", version)
                truth.concluded = t
                detected = t + rng.randint(60, 3000) * MINUTE
                t = detected + rng.randint(1, 90) * MINUTE
                records.rollback(t, app, "production", running, version, detected=detected, deployed=truth.live)
                truth.rolled_back, truth.detected = t, detected
    return records, truths, reverts


def _in(moment: dt.datetime | None, since: dt.datetime, until: dt.datetime) -> bool:
    return moment is not None and since <= moment < until


def expected(truths: list[Truth], since: dt.datetime, until: dt.datetime) -> dict[str, object]:
    """The four keys the plan implies, by the definitions in the README. What is known is what the
    records say before the report's end (UNTIL), also for the previous period: a deployment of last
    week rolled back this week is a failed change of last week."""
    known = [t for t in truths if t.started < UNTIL]
    concluded = [t for t in known if _in(t.concluded, since, until)]
    lead = [(t.concluded - t.first_record).total_seconds() / 3600 for t in concluded if t.concluded]
    finished, failed = 0, 0
    restores = []
    for t in known:
        rolled_back = t.rolled_back if t.rolled_back is not None and t.rolled_back < UNTIL else None
        ends = [m for m in (t.concluded, rolled_back) if m is not None and m < UNTIL]
        if ends and since <= min(ends) < until:
            finished += 1
            failed += rolled_back is not None
        if _in(rolled_back, since, until):
            assert rolled_back is not None
            restores.append((rolled_back - (t.detected or t.live)).total_seconds() / 3600)
    ordered = sorted(lead)
    return {
        "deployment_frequency": len(concluded) / ((until - since).total_seconds() / 86400),
        "lead_time": statistics.median(lead) if lead else None,
        "lead_time_p90": ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None,
        "change_failure_rate": failed / finished if finished else None,
        "time_to_restore": statistics.median(restores) if restores else None,
    }


def actual(keys: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"deployment_frequency": keys["deployment_frequency"]["value"], "lead_time": keys["lead_time"]["value"],
            "lead_time_p90": keys["lead_time"]["p90"], "change_failure_rate": keys["change_failure_rate"]["value"],
            "time_to_restore": keys["time_to_restore"]["value"]}


def approx(values: dict[str, object]) -> dict[str, object]:
    return {k: (pytest.approx(v, rel=1e-12, abs=1e-9) if isinstance(v, float) else v) for k, v in values.items()}


def report(root: Path, tmp_path: Path) -> dict[str, object]:
    written = make_report(ReportOptions(path=str(root), since="2026-11-16", until="2026-11-23",
                                        output_dir=str(tmp_path / "out")))
    return json.loads((tmp_path / "out" / "report.json").read_text()) | {"_markdown": written.markdown}


@pytest.mark.parametrize("seed", range(40))
def test_keys_match_the_plan_per_app_and_for_the_fleet(seed, tmp_path):
    records, truths, _ = plan(seed)
    data = report(records.write(tmp_path / "gitops"), tmp_path)
    dora = data["dora"]
    assert actual(dora["fleet"]) == approx(expected(truths, SINCE, UNTIL))
    for app in {t.app for t in truths}:
        mine = [t for t in truths if t.app == app]
        assert actual(dora["apps"][app]) == approx(expected(mine, SINCE, UNTIL)), app
        before = expected(mine, *PREVIOUS)
        for key in ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"):
            assert dora["apps"][app][key]["previous"] == approx({"v": before[key]})["v"], (app, key)
    assert data["warnings"] == []


@pytest.mark.parametrize("seed", range(40))
def test_the_period_lists_match_the_plan(seed, tmp_path):
    records, truths, reverts = plan(seed)
    data = report(records.write(tmp_path / "gitops"), tmp_path)
    production = [d for d in data["deployments"] if d["environment"] == "production"]
    counts = data["counts"]
    assert counts["rolled_back"] == sum(_in(t.rolled_back, SINCE, UNTIL) for t in truths) + \
        sum(_in(moment, SINCE, UNTIL) for _, moment in reverts)
    assert sum(d["promoted_from"] == "staging" for d in production if _in(at(d["started_at"]), SINCE, UNTIL)) == \
        sum(t.promoted and _in(t.started, SINCE, UNTIL) for t in truths)
    assert counts["emergency_overrides"] == sum(
        1 for d in production for o in d["overrides"] if _in(at(o["at"]), SINCE, UNTIL))
    planned_overrides = {(t.app, t.version) for t in truths if t.override is not None}
    assert {(d["app"], d["version"]) for d in production if d["overrides"]} <= planned_overrides
    reverting = [r for r in data["rollbacks"] if r["reverts_rollback_at"]]
    assert [(r["app"], r["at"]) for r in reverting] == \
        sorted([(app, m.strftime("%Y-%m-%dT%H:%M:%SZ")) for app, m in reverts if _in(m, SINCE, UNTIL)])
    assert not any(r["failed_deployment"] for r in reverting)


@pytest.mark.parametrize("seed", range(12))
def test_records_out_of_time_order_and_spread_over_files_give_the_same_report(seed, tmp_path):
    """The fold streams the records in file order; an app whose records in one environment come out of
    time order is folded again from sorted records. Records moved between files and shuffled (the
    records of one instant kept together, in their order) must give the very same report."""
    records, _, _ = plan(seed)
    ordered = report(records.write(tmp_path / "ordered"), tmp_path / "a")
    root = records.write(tmp_path / "shuffled")
    lines = [line for path in sorted((root / "deployments").glob("*.jsonl")) for line in path.read_bytes().splitlines()]
    for path in (root / "deployments").glob("*.jsonl"):
        path.unlink()
    instants: dict[str, list[bytes]] = {}
    for line in lines:
        instants.setdefault(json.loads(line)["timestamp"], []).append(line)
    rng = random.Random(seed)
    groups = list(instants.values())
    rng.shuffle(groups)
    files: dict[str, list[bytes]] = {}
    for group in groups:
        files.setdefault(rng.choice(["a.jsonl", "b.jsonl", "c.jsonl"]), []).extend(group)
    for name, content in files.items():
        (root / "deployments" / name).write_bytes(b"\n".join(content) + b"\n")
    assert len(groups) > 1 and sum(map(len, files.values())) == len(lines)
    assert report(root, tmp_path / "b") == ordered
