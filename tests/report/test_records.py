"""Reading the records back: every line is either an event or a warning naming its file and line,
never dropped silently and never fatal; the builder writes what the real commands write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.report import records
from deploy_actions.report.build import ReportOptions, make_report
from tests.plugins.act import parse_github_output
from tests.report.builder import Records, at

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: shop
          image: ghcr.io/org/shop:v1
"""
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = json.dumps({"timestamp": "2026-11-18T10:00:00Z", "event": "bump", "app": "shop", "environment": "production",
                   "version": "v1"}).encode()


@pytest.mark.parametrize(("line", "message"), [
    (b"{not json", "is not JSON"),
    (b"[1, 2]", "is a JSON list, not an object; left out"),
    (b"\xff\xfe", "is not UTF-8 text; left out"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"bump","environment":"production","version":"v1"}',
     "missing field 'app'; left out"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"bump","app":"","environment":"production","version":"v1"}',
     "empty field 'app'; left out"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"bump","app":"shop","environment":"production","version":3}',
     "non-text field 'version'; left out"),
    (b'{"timestamp":"yesterday","event":"bump","app":"shop","environment":"production","version":"v1"}',
     "timestamp 'yesterday' is not an ISO 8601 time; left out"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"deploy","app":"shop","environment":"production","version":"v1"}',
     "event 'deploy' is not one of bump, rollback, traffic, deployment_opened_v1"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"bump","app":"shop","environment":"production","version":"v1",'
     b'"override":"yes"}', "field 'override' is not true or false; left out"),
    (b'{"timestamp":"2026-11-18T10:00:00Z","event":"bump","app":"shop","environment":"production","version":"v1",'
     b'"reason":["a"]}', "field 'reason' is not text; left out"),
    *((b'{"timestamp":"2026-11-18T10:00:00Z","event":"deployment_concluded_v1","app":"shop","environment":"production",'
       b'"version":"v1","downtime":' + window + b'}', "field 'downtime' is not {from, until, seconds}")
      for window in (b'{"from":"2026-11-18T10:00:00Z","until":"2026-11-18T09:59:00Z","seconds":-60}',  # out of order
                     b'{"from":"2026-11-18T10:00:00Z","until":"2026-11-18T10:01:00Z","seconds":59}',  # disagrees
                     b'{"from":"2026-11-18T10:00:00Z","until":"2026-11-18T10:01:00Z","seconds":60.0}',
                     b'{"from":"2026-11-18T10:00:00Z","until":"2026-11-18T10:01:00Z","seconds":true}',
                     b'{"from":"2026-11-18T10:00:00Z","seconds":0}', b'{"from":"soon","until":"later","seconds":0}',
                     b'"42 s"', b'[]')),
])
def test_a_bad_line_is_left_out_with_a_warning_naming_file_and_line(line, message):
    warnings: list[records.LeftOut] = []
    events = records.parse_lines(GOOD + b"\n\n" + line + b"\n" + GOOD + b"\n", "deployments/production.jsonl",
                                 warnings)
    assert [e.line for e in events] == [1, 4]  # the good lines around it still count
    assert len(warnings) == 1 and warnings[0].file == "deployments/production.jsonl" and warnings[0].line == 3
    assert message in warnings[0].message and "\n" not in warnings[0].message


def test_traffic_moves_are_read_without_a_warning_and_leave_the_deployments_as_they_were():
    lines = [GOOD, json.dumps({"timestamp": "2026-11-18T10:05:00Z", "event": "traffic", "app": "shop",
                               "environment": "production", "version": "v1", "strategy": "canary", "weight": 10,
                               "stage": 1, "stages": 5}).encode()]
    warnings: list[records.LeftOut] = []
    events = records.parse_lines(b"\n".join(lines) + b"\n", "deployments/production.jsonl", warnings)
    assert warnings == [] and [e.record.event for e in events] == ["bump", "traffic"]
    import datetime as dt

    from deploy_actions.report import model

    until = dt.datetime(2026, 11, 19, tzinfo=dt.timezone.utc)
    assert model.fold(lambda: [events], until) == model.fold(lambda: [events[:1]], until)


def test_a_recreate_deploys_downtime_is_read_the_fast_way_and_the_slow_way_alike():
    window = {"from": "2026-11-18T10:00:00Z", "until": "2026-11-18T10:00:42Z", "seconds": 42}
    line = {"timestamp": "2026-11-18T10:01:00Z", "event": "deployment_concluded_v1", "app": "shop",
            "environment": "production", "version": "v1", "strategy": "recreate", "downtime": window}
    fast = json.dumps(line).encode()
    slow = json.dumps({**line, "reason": None}).encode()  # a null field: only `json` reads the line
    warnings: list[records.LeftOut] = []
    events = records.parse_lines(fast + b"\n" + slow + b"\n", "deployments/production.jsonl", warnings)
    assert warnings == [] and [e.record.downtime for e in events] == [records.Window(*window.values())] * 2
    assert events[0].record.downtime is not None and events[0].record.downtime.downtime().seconds == 42


DOWNTIMES = st.one_of(st.none(), st.text(max_size=4), st.fixed_dictionaries(
    {"from": st.sampled_from(["2026-11-18T10:00:00Z", "2026-11-18T10:00:00+01:00", "x"]),
     "until": st.sampled_from(["2026-11-18T10:00:30Z", "2026-11-18T09:00:30Z"]),
     "seconds": st.one_of(st.sampled_from([30, 3630, -3570]),  # the ones that agree with a from and an until
                          st.integers(-3600, 3600), st.floats(allow_nan=False), st.booleans(), st.none())}))


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=60), st.just(GOOD),
                          st.dictionaries(st.sampled_from(["timestamp", "event", "app", "environment", "version",
                                                           "override", "reason", "cause"]),
                                          st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none()))
                          .map(lambda d: json.dumps(d).encode()),
                          st.tuples(st.sampled_from([None, "x"]), DOWNTIMES).map(
                              lambda pair: json.dumps({**json.loads(GOOD), "reason": pair[0],
                                                       "downtime": pair[1]}).encode())), max_size=12))
def test_every_line_is_an_event_or_a_warning(lines):
    """... and the fast reading (msgspec) and the slow one (`json`, taken for a line with a null field)
    agree on a line's downtime."""
    data = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines)
    warnings: list[records.LeftOut] = []
    events = records.parse_lines(data, "d.jsonl", warnings)
    nonempty = [n for n, raw in enumerate(data.split(b"\n"), start=1) if raw.strip()]
    assert sorted([e.line for e in events] + [w.line for w in warnings]) == nonempty
    for raw in data.split(b"\n"):
        if b'"downtime"' in raw and b'"reason": "x"' in raw:  # read the fast way: the slow way must agree
            slow: list[records.LeftOut] = []
            kept = records.parse_lines(raw.replace(b'"reason": "x"', b'"reason": null'), "d.jsonl", slow)
            assert (len(kept), len(slow)) == (len(records.parse_lines(raw, "d.jsonl", [])), 1 - len(kept))


def test_the_command_warns_for_each_record_left_out_and_still_reports(tmp_path):
    r = Records()
    r.opened(at("2026-11-18T10:00:00Z"), "shop", "production", "v1", source_commit="a" * 40)
    r.bump(at("2026-11-18T10:01:00Z"), "shop", "production", "v1", source_commit="a" * 40)
    r.line("production", b"garbage")
    r.concluded(at("2026-11-18T10:30:00Z"), "shop", "production", "v1")
    r.line("production", b'{"timestamp":"2026-11-18T11:00:00Z","event":"deployment_concluded_v1","app":"shop",'
                         b'"environment":"production","version":"v7"}')
    root = r.write(tmp_path / "g")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "GITHUB_ACTIONS": "true",
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    env.pop("GITHUB_TOKEN", None)
    (tmp_path / "output").touch()
    (tmp_path / "summary").touch()
    proc = subprocess.run([sys.executable, "-m", "deploy_actions", "report", "--path", str(root), "--since",
                           "2026-11-16", "--until", "2026-11-23", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    # Records are written in order: the bad line is line 4 (after opened, bump, concluded), the orphan line 5.
    assert "::warning title=record left out,file=deployments/production.jsonl,line=4::is not JSON" in proc.stdout
    assert ("::warning title=record left out,file=deployments/production.jsonl,line=5::deployment_concluded_v1 of "
            "shop v7 in production: no deployment of that version was opened before it; left out") in proc.stdout
    summary = (tmp_path / "summary").read_text()
    assert "2 record(s) left out" in summary and "| deployments/production.jsonl | 4 |" in summary
    assert parse_github_output((tmp_path / "output").read_text())["warnings"] == "2"
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["dora"]["fleet"]["deployment_frequency"]["deployments"] == 1


def test_builder_writes_the_fields_the_commands_write(tmp_path, make_git_repo):
    """The real `deployment` and `gitops-bump` commands write the lines the builder imitates (same keys)."""
    repo = make_git_repo("gitops")
    gitops = repo.path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    env.pop("GITHUB_ACTIONS", None)
    record = gitops / "deployments" / "production.jsonl"
    for event, extra in (("opened", ["--override", "--override-reason", "outage"]), ("shelved", [
            "--cause", "window", "--reason", "late"]), ("resumed", []), ("concluded", [])):
        subprocess.run([sys.executable, "-m", "deploy_actions", "deployment", "--event", event, "--app", "shop",
                        "--environment", "production", "--version", "v1", "--record", str(record),
                        "--source-commit", "a" * 40, "--previous-version", "v0", *extra], check=True, env=env,
                       cwd=gitops, capture_output=True)
    repo.commit("feat: shop", {"apps/shop/production/deployment.yaml": MANIFEST})
    repo.push()
    for tag, extra in (("v2", []), ("v1", ["--rollback", "--reason", "canary failed"])):
        subprocess.run([sys.executable, "-m", "deploy_actions", "gitops-bump", "--path", "apps/shop/production",
                        "--image", "ghcr.io/org/shop", "--tag", tag, "--environment", "production", "--app", "shop",
                        "--verify-image", "false", "--source-commit", "b" * 40, *extra], check=True, env=env,
                       cwd=gitops, capture_output=True)
    real = [json.loads(line) for line in record.read_text().splitlines()]
    built = Records()
    when = at("2026-11-18T10:00:00Z")
    built.opened(when, "shop", "production", "v1", source_commit="a" * 40, previous="v0", override_reason="outage")
    built.shelved(when, "shop", "production", "v1", "window", "late")
    built.resumed(when, "shop", "production", "v1")
    built.concluded(when, "shop", "production", "v1")
    built.bump(when, "shop", "production", "v2", "v1", "b" * 40)
    built.rollback(when, "shop", "production", "v1", "v2", "canary failed")
    ours = built.lines["production"]
    for mine, theirs in zip(ours, real, strict=True):
        assert set(mine) - {"supersedes"} == set(theirs) - {"supersedes"}, theirs["event"]
        assert {k: mine.get(k) for k in ("event", "state", "from_state", "version")} == \
            {k: theirs.get(k) for k in ("event", "state", "from_state", "version")}
    assert [line["event"] for line in real][-2:] == ["bump", "rollback"]
    # A recreate deploy's concluded line, with its downtime window.
    staging = gitops / "deployments" / "staging.jsonl"
    for event, extra in (("opened", []), ("concluded", ["--downtime-from", "2026-11-18T10:00:00Z",
                                                         "--downtime-until", "2026-11-18T10:00:42Z"])):
        subprocess.run([sys.executable, "-m", "deploy_actions", "deployment", "--event", event, "--app", "shop",
                        "--environment", "staging", "--version", "v1", "--record", str(staging), "--strategy",
                        "recreate", "--source-commit", "a" * 40, *extra], check=True, env=env, cwd=gitops,
                       capture_output=True)
    real_staging = [json.loads(line) for line in staging.read_text().splitlines()]
    built.opened(when, "shop", "staging", "v1", source_commit="a" * 40, strategy="recreate")
    built.concluded(when, "shop", "staging", "v1", downtime=(at("2026-11-18T10:00:00Z"), at("2026-11-18T10:00:42Z")))
    for mine, theirs in zip(built.lines["staging"], real_staging, strict=True):
        assert set(mine) == set(theirs), theirs["event"]
    assert built.lines["staging"][-1]["downtime"] == real_staging[-1]["downtime"]
    report = make_report(ReportOptions(path=str(gitops), since="30d", output_dir=str(tmp_path / "out"))).report
    assert report["warnings"] == [] and report["deployments"][0]["overrides"][0]["reason"] == "outage"
    assert [r["from_version"] for r in report["rollbacks"]] == ["v2"] and len(report["incidents"]) == 1
    assert [d["downtime"] for d in report["deployments"] if d["environment"] == "staging"] == [
        {"from": "2026-11-18T10:00:00Z", "until": "2026-11-18T10:00:42Z", "seconds": 42}]


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from([
    "- **App**: shop", "- **Environment**: production", "- **Versions**: v2 → v1", "| detected | 2026-11-18 10:00:00 UTC |",
    "| rolled back to v1 | unknown |", "| resolved | 2026-13-45 99:00:00 UTC |", "## Post-mortem", "_tbd_", "# Incident",
])), max_size=12))
def test_an_incident_file_is_read_or_refused_with_one_line(lines):
    from deploy_actions.errors import FileError
    from deploy_actions.records import incident

    try:
        found = incident.parse_record("\n".join(lines), "incidents/x.md")
    except FileError as err:
        assert "\n" not in err.message and err.file == "incidents/x.md"
    else:
        assert found.app and found.environment


def test_the_report_knows_every_record_the_commands_write():
    from deploy_actions.records import lifecycle

    assert set(records.KNOWN_EVENTS) == {"bump", "rollback", "traffic", *lifecycle.BY_NAME}


STAMPS = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.text(alphabet="0123456789-:TZ+. tz", max_size=30),
)


@FUZZ
@given(STAMPS)
def test_a_record_time_is_the_one_journal_reads(stamp):
    """The fast reading of a timestamp gives journal.parse_time's time (in UTC), or the same refusal."""
    import datetime as dt

    from deploy_actions.records import journal

    line = json.dumps({"timestamp": stamp, "event": "bump", "app": "shop", "environment": "production",
                       "version": "v1"}).encode()
    warnings: list[records.LeftOut] = []
    events = records.parse_lines(line, "d.jsonl", warnings)
    expected = journal.parse_time(stamp) if stamp.strip() else None
    if expected is None:
        assert events == [] and len(warnings) == 1
    else:
        assert [e.at for e in events] == [expected.astimezone(dt.timezone.utc)]
        assert events[0].at.tzinfo is dt.timezone.utc
