"""The report's contents on small, hand-made histories: the period's boundary, a rollback of a
rollback, promotions and overrides, incidents (open, closed, post-mortems), what runs where, and
the command line's contract (bad input: one line, exit 2, nothing written)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_actions.errors import InputError
from deploy_actions.report.build import ReportOptions, make_report, parse_period
from tests.report.builder import Records, at

C1, C2, C3 = "a" * 40, "b" * 40, "c" * 40


def run(root: Path, tmp_path: Path, **extra: object) -> dict:
    options = {"path": str(root), "since": "2026-11-16", "until": "2026-11-23", "output_dir": str(tmp_path / "out"),
               **extra}
    make_report(ReportOptions(**options))  # type: ignore[arg-type]
    return json.loads((tmp_path / "out" / "report.json").read_text())


def test_deployments_spanning_the_boundary_count_where_they_finish(tmp_path):
    r = Records()
    # Opened before the period, concluded in it: counts (lead time from its first record).
    r.opened(at("2026-11-15T22:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-15T22:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.concluded(at("2026-11-16T01:00:00Z"), "shop", "production", "v1")
    # Opened in the period, concluded after it: does not count, and is active as of until.
    r.opened(at("2026-11-22T23:00:00Z"), "shop", "production", "v2", source_commit=C2, previous="v1")
    r.bump(at("2026-11-22T23:01:00Z"), "shop", "production", "v2", "v1", C2)
    r.concluded(at("2026-11-23T00:30:00Z"), "shop", "production", "v2")
    data = run(r.write(tmp_path / "g"), tmp_path)
    keys = data["dora"]["apps"]["shop"]
    assert keys["deployment_frequency"]["deployments"] == 1
    assert keys["deployment_frequency"]["value"] == pytest.approx(1 / 7)
    assert keys["lead_time"]["value"] == pytest.approx(3.0)
    assert keys["change_failure_rate"] == {**keys["change_failure_rate"], "value": 0.0, "failed": 0, "of": 1}
    assert [d["outcome"] for d in data["deployments"]] == ["concluded", "active"]
    assert data["running"][0]["version"] == "v2" and data["running"][0]["since"] == "2026-11-22T23:01:00Z"


def test_a_rollback_of_a_rollback_reverts_it_and_fails_no_second_deployment(tmp_path):
    r = Records()
    r.opened(at("2026-11-10T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-10T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.concluded(at("2026-11-10T10:30:00Z"), "shop", "production", "v1")
    r.opened(at("2026-11-17T10:00:00Z"), "shop", "production", "v2", source_commit=C2, previous="v1")
    r.bump(at("2026-11-17T10:01:00Z"), "shop", "production", "v2", "v1", C2)
    r.rollback(at("2026-11-17T10:40:00Z"), "shop", "production", "v1", "v2", "error rate 9 %",
               detected=at("2026-11-17T10:20:00Z"), deployed=at("2026-11-17T10:01:00Z"))
    r.rollback(at("2026-11-17T11:00:00Z"), "shop", "production", "v2", "v1", "v1 cannot read the new schema",
               detected=at("2026-11-17T10:50:00Z"))
    data = run(r.write(tmp_path / "g"), tmp_path)
    first, second = data["rollbacks"]
    assert first["failed_deployment"] and first["reverts_rollback_at"] is None
    assert not second["failed_deployment"] and second["reverts_rollback_at"] == "2026-11-17T10:40:00Z"
    assert data["running"] == [{**data["running"][0], "version": "v2", "via": "rollback",
                                "since": "2026-11-17T11:00:00Z"}]
    keys = data["dora"]["apps"]["shop"]
    assert (keys["change_failure_rate"]["failed"], keys["change_failure_rate"]["of"]) == (1, 1)
    # Both incidents restored something: 20 min and 10 min.
    assert keys["time_to_restore"]["value"] == pytest.approx(0.25) and keys["time_to_restore"]["count"] == 2
    assert "reverts the rollback of 2026-11-17 10:40:00" in (tmp_path / "out" / "report.md").read_text()


def test_promotions_and_emergency_overrides_are_listed_with_their_reasons(tmp_path):
    r = Records()
    r.opened(at("2026-11-17T08:00:00Z"), "shop", "staging", "v3", source_commit=C3)
    r.bump(at("2026-11-17T08:01:00Z"), "shop", "staging", "v3", source_commit=C3)
    r.concluded(at("2026-11-17T08:10:00Z"), "shop", "staging", "v3")
    r.opened(at("2026-11-18T09:00:00Z"), "shop", "production", "v3", source_commit=C3,
             override_reason="payment outage, INC-42")
    r.bump(at("2026-11-18T09:01:00Z"), "shop", "production", "v3", source_commit=C3)
    r.shelved(at("2026-11-18T09:05:00Z"), "shop", "production", "v3", "freeze", "the freeze began")
    r.resumed(at("2026-11-18T10:00:00Z"), "shop", "production", "v3", "customer escalation")
    r.concluded(at("2026-11-18T10:30:00Z"), "shop", "production", "v3")
    data = run(r.write(tmp_path / "g"), tmp_path)
    production = next(d for d in data["deployments"] if d["environment"] == "production")
    assert production["promoted_from"] == "staging"
    assert [(o["event"], o["reason"]) for o in production["overrides"]] == [
        ("opened", "payment outage, INC-42"), ("resumed", "customer escalation")]
    assert production["shelved"] == [{"at": "2026-11-18T09:05:00Z", "cause": "freeze", "reason": "the freeze began",
                                      "resumed_at": "2026-11-18T10:00:00Z"}]
    assert data["counts"] | {} == {"opened": 2, "concluded": 2, "rolled_back": 0, "shelved": 1, "promotions": 1,
                                   "emergency_overrides": 2, "downtime_seconds": 0}
    # Lead time from the build's first record (staging, 08:00) to concluded in production (next day 10:30).
    assert data["dora"]["fleet"]["lead_time"]["value"] == pytest.approx(26.5)
    markdown = (tmp_path / "out" / "report.md").read_text()
    for text in ("### Promotions", "| shop | v3 | staging | production | concluded |", "### Emergency overrides",
                 "payment outage, INC-42", "### Shelved", "the freeze began"):
        assert text in markdown


def test_incidents_open_and_closed_with_time_to_restore_and_post_mortem(tmp_path):
    r = Records()
    path = r.rollback(at("2026-11-18T12:30:00Z"), "shop", "production", "v1", "v2", detected=at("2026-11-18T12:00:00Z"))
    root = r.write(tmp_path / "g")
    with (root / path).open("a") as handle:
        handle.write("\n## Post-mortem\n\nThe migration ran before the code; see the doc.\n")
    (root / "incidents" / "20261120T080000Z-cart.md").write_text(
        "# Incident: cart checkout errors\n\n- **App**: cart\n- **Environment**: production\n- **Severity**: SEV2\n"
        "- **Reason**: payment provider timeouts\n\n## Timeline\n\n| event | time |\n| --- | --- |\n"
        "| detected | 2026-11-20 08:00:00 UTC |\n\n## Post-mortem\n\n_To be written._\n")
    (root / "incidents" / "notes.md").write_text("# Some notes\n\nnot an incident\n")
    data = run(root, tmp_path)
    by_app = {i["app"]: i for i in data["incidents"]}
    assert by_app["shop"]["open"] is False and by_app["shop"]["time_to_restore_hours"] == pytest.approx(0.5)
    assert by_app["shop"]["postmortem"] is True
    assert by_app["cart"] == {**by_app["cart"], "open": True, "severity": "SEV2", "postmortem": False,
                              "restored_at": None}
    assert data["warnings"] == [{"file": "incidents/notes.md", "line": None,
                                 "message": "is not an incident record: no '- **App**:' line; left out"}]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "1 open, 1 closed this period." in markdown and "| filed |" in markdown and "| missing |" in markdown


def test_what_runs_where_names_version_since_strategy_and_commit_per_environment(tmp_path):
    r = Records()
    for env, hour in (("staging", 8), ("production", 9)):
        r.opened(at(f"2026-11-18T{hour:02d}:00:00Z"), "shop", env, "v3", source_commit=C3, strategy="blue-green")
        r.bump(at(f"2026-11-18T{hour:02d}:01:00Z"), "shop", env, "v3", source_commit=C3)
    r.bump(at("2026-11-01T00:00:00Z"), "cart", "production", "v9", source_commit=C1)  # gitops-bump alone
    root = r.write(tmp_path / "g")
    data = run(root, tmp_path)
    where = {(x["app"], x["environment"]): (x["version"], x["since"], x["source_commit"]) for x in data["running"]}
    assert where == {("cart", "production"): ("v9", "2026-11-01T00:00:00Z", C1),
                     ("shop", "production"): ("v3", "2026-11-18T09:01:00Z", C3),
                     ("shop", "staging"): ("v3", "2026-11-18T08:01:00Z", C3)}
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["running"] == data["running"] and status["until"] == "2026-11-23T00:00:00Z"
    for name in ("deployments-per-day", "lead-time"):
        svg = (tmp_path / "out" / f"{name}.svg").read_bytes()
        assert svg.startswith(b"<?xml") and b"<svg" in svg


def test_charts_are_mermaid_in_the_markdown_and_agree_with_the_counts(tmp_path):
    r = Records()
    for day, outcome in ((17, "concluded"), (17, "concluded"), (19, "rolled-back")):
        version = f"v{day}{outcome[0]}{len(r.lines.get('production', []))}"
        r.opened(at(f"2026-11-{day}T10:00:00Z"), "shop", "production", version, source_commit=C1)
        r.bump(at(f"2026-11-{day}T10:01:00Z"), "shop", "production", version, source_commit=C1)
        if outcome == "concluded":
            r.concluded(at(f"2026-11-{day}T10:30:00Z"), "shop", "production", version)
        else:
            r.rollback(at(f"2026-11-{day}T10:40:00Z"), "shop", "production", "v0", version)
    markdown = (run(r.write(tmp_path / "g"), tmp_path), (tmp_path / "out" / "report.md").read_text())[1]
    chart = markdown.split("### Production deployments per day, by outcome", 1)[1].split("```", 2)[1]
    assert 'x-axis ["11-16", "11-17", "11-18", "11-19", "11-20", "11-21", "11-22"]' in chart
    # Running totals, drawn tallest first: all outcomes, then concluded alone.
    assert "bar [0, 2, 0, 1, 0, 0, 0]" in chart and "bar [0, 2, 0, 0, 0, 0, 0]" in chart


def test_events_after_until_do_not_count(tmp_path):
    r = Records()
    r.opened(at("2026-11-20T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-20T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.rollback(at("2026-11-24T10:00:00Z"), "shop", "production", "v0", "v1")
    data = run(r.write(tmp_path / "g"), tmp_path)
    assert data["rollbacks"] == [] and data["incidents"] == [] and data["running"][0]["version"] == "v1"


@pytest.mark.parametrize(("since", "until", "expected"), [
    ("", "2026-11-23", ("2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00")),
    ("24h", "2026-11-23T12:00:00Z", ("2026-11-22T12:00:00+00:00", "2026-11-23T12:00:00+00:00")),
    ("2w", "2026-11-23", ("2026-11-09T00:00:00+00:00", "2026-11-23T00:00:00+00:00")),
    ("2026-11-01T00:00:00+02:00", "2026-11-02", ("2026-10-31T22:00:00+00:00", "2026-11-02T00:00:00+00:00")),
])
def test_the_period(since, until, expected):
    period = parse_period(since, until, at("2026-12-01T00:00:00Z"))
    assert (period.since.isoformat(), period.until.isoformat()) == expected


@pytest.mark.parametrize(("flags", "message"), [
    (["--since", "last tuesday"], "input 'since': got 'last tuesday'; expected an ISO 8601 date or time"),
    (["--since", "2026-11-30", "--until", "2026-11-23"], "input 'since': got '2026-11-30'; expected a time before"),
    (["--availability-target", "150"], "input 'availability-target': got '150'; expected a percentage"),
    (["--latency-targets", "p42 1s"], "input 'latency-targets': got 'p42 1s'"),
    (["--records", "../elsewhere/*.jsonl"], "input 'records': got '../elsewhere/*.jsonl'"),
    (["--path", "/nonexistent/gitops"], "input 'path': got '/nonexistent/gitops'"),
    (["--issue"], "input 'github-token': got ''; expected a token that can write issues"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(flags, message, tmp_path):
    out = tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "report", "--path", str(tmp_path),
                           "--output-dir", str(out), *flags], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_an_input_error_is_raised_before_the_repository_is_read(tmp_path):
    with pytest.raises(InputError):
        make_report(ReportOptions(path=str(tmp_path / "missing"), since="nonsense"))


def test_the_markdown_lists_only_what_happened_in_the_period(tmp_path):
    r = Records()
    r.opened(at("2026-11-14T10:00:00Z"), "shop", "production", "v1", source_commit=C1, override_reason="old outage")
    r.bump(at("2026-11-14T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.shelved(at("2026-11-14T11:00:00Z"), "shop", "production", "v1", "freeze", "last week's freeze")
    r.resumed(at("2026-11-17T09:00:00Z"), "shop", "production", "v1")
    r.concluded(at("2026-11-17T10:00:00Z"), "shop", "production", "v1")
    data = run(r.write(tmp_path / "g"), tmp_path)
    assert data["counts"]["shelved"] == 0 and data["counts"]["emergency_overrides"] == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "last week's freeze" not in markdown and "old outage" not in markdown
    assert data["deployments"][0]["shelved"][0]["reason"] == "last week's freeze"  # the JSON keeps the whole story


def test_a_bump_then_its_opening_is_one_deployment(tmp_path):
    r = Records()
    r.bump(at("2026-11-17T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.opened(at("2026-11-17T10:01:00Z"), "shop", "production", "v1", source_commit=C1, strategy="blue-green")
    r.concluded(at("2026-11-17T10:30:00Z"), "shop", "production", "v1")
    data = run(r.write(tmp_path / "g"), tmp_path)
    assert [(d["outcome"], d["strategy"], d["started_at"]) for d in data["deployments"]] == [
        ("concluded", "blue-green", "2026-11-17T10:00:00Z")]
    assert data["dora"]["fleet"]["lead_time"]["value"] == pytest.approx(0.5)


def test_what_runs_where_names_the_gitops_commit_that_put_it_there(tmp_path, make_git_repo):
    repo = make_git_repo("gitops")
    r = Records()
    r.opened(at("2026-11-17T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-17T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.write(repo.path)
    first = repo.commit("chore: shop v1", {})
    r.bump(at("2026-11-17T10:05:00Z"), "shop", "production", "v1", source_commit=C1)  # the stable track
    r.bump(at("2026-11-18T09:00:00Z"), "cart", "production", "v7", source_commit=C2)
    r.write(repo.path)
    second = repo.commit("chore: cart v7", {})
    data = run(repo.path, tmp_path)
    commits = {x["app"]: x["gitops_commit"] for x in data["running"]}
    assert commits == {"shop": first, "cart": second}
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.remote}", str(shallow)], check=True)
    repo.push()
    subprocess.run(["git", "-C", str(shallow), "pull", "-q"], check=True)
    assert {x["gitops_commit"] for x in run(shallow, tmp_path / "s")["running"]} == {None}


@pytest.mark.parametrize("reason", ["canary failed", "é → ü \u2028 \"quoted\" \\ back\tslash", ""])
def test_the_json_files_are_written_as_json_dumps_indents_them(reason, tmp_path):
    r = Records()
    r.opened(at("2026-11-18T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-18T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.rollback(at("2026-11-18T10:05:00Z"), "shop", "production", "v0", "v1", reason)
    run(r.write(tmp_path / "g"), tmp_path)
    for name in ("report.json", "status.json"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", name


def test_the_headline_counts_production_alone(tmp_path):
    r = Records()
    r.opened(at("2026-11-17T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.bump(at("2026-11-17T10:01:00Z"), "shop", "production", "v1", source_commit=C1)
    r.concluded(at("2026-11-17T11:00:00Z"), "shop", "production", "v1")
    for day, version in (("18", "v2"), ("19", "v3")):  # two rollbacks, both in staging
        r.opened(at(f"2026-11-{day}T10:00:00Z"), "shop", "staging", version, source_commit=C2)
        r.bump(at(f"2026-11-{day}T10:01:00Z"), "shop", "staging", version, "v1", C2)
        r.rollback(at(f"2026-11-{day}T10:30:00Z"), "shop", "staging", "v1", version)
    data = run(r.write(tmp_path / "g"), tmp_path)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert data["counts"]["rolled_back"] == 2
    assert "Production (production): 1 deployment concluded, 0 rolled back; change failure rate 0.0 %." in markdown
    assert "In every environment: opened 3, concluded 1, rolled back 2," in markdown


def test_a_recreate_deploys_downtime_is_listed_and_summed_where_it_concluded(tmp_path):
    r = Records()
    for day, version, down in (("15", "v1", 30), ("17", "v2", 42), ("19", "v3", 125)):  # the first before the period
        start = at(f"2026-11-{day}T10:00:00Z")
        r.opened(start, "shop", "production", version, source_commit=C1, strategy="recreate")
        r.bump(at(f"2026-11-{day}T10:00:05Z"), "shop", "production", version, source_commit=C1)
        end = at(f"2026-11-{day}T10:00:05Z") + dt.timedelta(seconds=down)
        r.concluded(end + dt.timedelta(seconds=20), "shop", "production", version,
                    downtime=(at(f"2026-11-{day}T10:00:05Z"), end))
    r.opened(at("2026-11-20T10:00:00Z"), "cart", "production", "v9", source_commit=C2)  # no downtime: a canary
    r.concluded(at("2026-11-20T11:00:00Z"), "cart", "production", "v9")
    data = run(r.write(tmp_path / "g"), tmp_path)
    assert data["warnings"] == []
    by_version = {d["version"]: d["downtime"] for d in data["deployments"]}
    assert by_version["v2"] == {"from": "2026-11-17T10:00:05Z", "until": "2026-11-17T10:00:47Z", "seconds": 42}
    assert by_version["v3"]["seconds"] == 125 and by_version["v9"] is None
    assert data["counts"]["downtime_seconds"] == 42 + 125  # v1's window ended before the period
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert ", downtime of recreate deploys 3 min." in markdown
    section = markdown.split("### Downtime (recreate deploys)", 1)[1]
    assert "| 2026-11-17 10:00:05 | 2026-11-17 10:00:47 | shop | production | v2 | 42 s |" in section
    assert "| 2026-11-19 10:00:05 | 2026-11-19 10:02:10 | shop | production | v3 | 2 min |" in section
    assert "2026-11-15" not in section.split("###", 1)[0] and "v9" not in section.split("###", 1)[0]


def test_without_a_recreate_deploy_the_report_has_no_downtime(tmp_path):
    r = Records()
    r.opened(at("2026-11-17T10:00:00Z"), "shop", "production", "v1", source_commit=C1)
    r.concluded(at("2026-11-17T11:00:00Z"), "shop", "production", "v1")
    data = run(r.write(tmp_path / "g"), tmp_path)
    assert data["counts"]["downtime_seconds"] == 0 and data["deployments"][0]["downtime"] is None
    assert "owntime" not in (tmp_path / "out" / "report.md").read_text()


def test_a_version_taken_from_production_back_to_staging_is_no_promotion(tmp_path):
    r = Records()
    for env, hour in (("dev", "08"), ("production", "09"), ("staging", "10"), ("eu-production", "11")):
        r.opened(at(f"2026-11-17T{hour}:00:00Z"), "shop", env, "v3", source_commit=C3)
        r.bump(at(f"2026-11-17T{hour}:01:00Z"), "shop", env, "v3", source_commit=C3)
        r.concluded(at(f"2026-11-17T{hour}:30:00Z"), "shop", env, "v3")
    data = run(r.write(tmp_path / "g"), tmp_path, production=("production", "eu-production"))
    promoted = {d["environment"]: d["promoted_from"] for d in data["deployments"]}
    # Each is from the environment where v3 went live last before it, never from production to staging:
    # staging's is from dev, the last non-production one before it; eu-production's from staging.
    assert promoted == {"dev": None, "production": "dev", "staging": "dev", "eu-production": "staging"}
    assert data["counts"]["promotions"] == 3
