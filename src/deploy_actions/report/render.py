"""The report as JSON (for dashboards and bots) and as Markdown (step summary, issue, pull request
comment), both from one dictionary so they never disagree.

Every value that came from a record is free text as far as Markdown is concerned: table cells are
escaped (`|`, newlines, HTML) and long tables are cut with a pointer to report.json.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from deploy_actions.records import journal
from deploy_actions.report import charts, dora
from deploy_actions.report.model import Deployment, History, Rollback
from deploy_actions.report.records import IncidentFile, LeftOut
from deploy_actions.report.service_levels import LevelChange, ServiceLevel, Targets, level_changes

MAX_ROWS = 100  # per Markdown table; report.json has them all
ISSUE_LIMIT = 65_000  # GitHub refuses an issue body over 65,536 characters
ERROR_RATE_CHARTS = 6  # the apps with the highest error rate get a chart each
KEY_TITLES = {"deployment_frequency": "Deployment frequency", "lead_time": "Lead time for changes",
              "change_failure_rate": "Change failure rate", "time_to_restore": "Time to restore"}
DEFINITIONS = {
    "deployment_frequency": "production deployments concluded in the period, per day",
    "lead_time": "source commit time → concluded in production (median; p90 by nearest rank)",
    "change_failure_rate": "production deployments concluded or rolled back in the period that were rolled back "
                           "or named by an incident, over all of them",
    "time_to_restore": "incident detected → rolled back or resolved, median over the incidents restored in the "
                       "period (a rollback without an incident record: from when the bad version went live)",
}


def _t(moment: dt.datetime | None) -> str | None:
    return journal.timestamp(moment) if moment is not None else None


def _deployment(d: Deployment) -> dict[str, Any]:
    return {
        "app": d.app, "environment": d.environment, "version": d.version, "outcome": d.outcome,
        "started_at": _t(d.started_at), "live_at": _t(d.live_at), "concluded_at": _t(d.concluded_at),
        "superseded_at": _t(d.superseded_at), "strategy": d.strategy, "previous_version": d.previous_version,
        "source_repository": d.source_repository, "source_commit": d.source_commit,
        "promoted_from": d.promoted_from or None,
        "rolled_back": _rollback(d.rollback) if d.rollback else None,
        "shelved": [{"at": _t(s.at), "cause": s.cause, "reason": s.reason, "resumed_at": _t(s.resumed_at)}
                    for s in d.shelves],
        "overrides": [{"at": _t(o.at), "event": o.event, "reason": o.reason} for o in d.overrides],
        "downtime": d.downtime.as_json() if d.downtime is not None else None,
    }


def _rollback(r: Rollback) -> dict[str, Any]:
    return {"at": _t(r.at), "app": r.app, "environment": r.environment, "from_version": r.from_version,
            "to_version": r.to_version, "reason": r.reason, "incident": r.incident or None,
            "reverts_rollback_at": _t(r.reverts.at) if r.reverts else None,
            "failed_deployment": bool(r.failed)}


def _key_entry(key: str, now: dora.Keys, before: dora.Keys) -> dict[str, Any]:
    value, previous = now.values()[key], before.values()[key]
    entry: dict[str, Any] = {"value": value, "band": dora.band(key, value), "previous": previous,
                             "trend": dora.trend(key, value, previous)}
    if key == "deployment_frequency":
        entry["deployments"] = now.deployments
    elif key == "lead_time":
        entry.update({"unit": "hours", "p90": now.lead_time_p90, "count": len(now.lead_times)})
    elif key == "change_failure_rate":
        entry.update({"failed": now.failed, "of": now.finished})
    else:
        entry.update({"unit": "hours", "count": len(now.restore_times)})
    return entry


def _keys(now: dora.Keys, before: dora.Keys) -> dict[str, Any]:
    return {key: _key_entry(key, now, before) for key in KEY_TITLES}


def as_json(history: History, incidents: Sequence[IncidentFile], period: dora.Period, production: Iterable[str],
            keys: Mapping[str, dora.Keys], before: Mapping[str, dora.Keys], levels: Sequence[ServiceLevel],
            targets: Targets, warnings: Sequence[LeftOut], *, lead_time_origin: str) -> dict[str, Any]:
    prod = list(production)
    touched = [d for d in history.deployments if _touches(d, period)]
    incidents_json = []
    for i in incidents:
        r = i.record
        restored = r.restored_at
        if restored is not None and restored not in period:
            continue
        start = r.detected_at or r.deployed_at
        incidents_json.append({
            "file": i.path, "app": r.app, "environment": r.environment, "bad_version": r.bad_version,
            "good_version": r.good_version, "reason": r.reason, "severity": r.severity or None,
            "detected_at": _t(r.detected_at), "restored_at": _t(restored), "open": restored is None,
            "time_to_restore_hours": (restored - start).total_seconds() / 3600 if restored and start else None,
            "postmortem": r.postmortem})
    empty = dora.Keys(0, period.days, (), 0, 0, ())
    changes = _deploy_moments(history, period, prod)
    return {
        "period": {"since": _t(period.since), "until": _t(period.until), "days": period.days},
        "previous_period": {"since": _t(period.previous().since), "until": _t(period.previous().until)},
        "production": prod,
        "running": [{"app": r.app, "environment": r.environment, "version": r.version, "since": _t(r.since),
                     "strategy": r.strategy, "source_repository": r.source_repository,
                     "source_commit": r.source_commit, "gitops_commit": r.gitops_commit or None,
                     "gitops_base_commit": r.gitops_base_commit, "via": r.via}
                    for r in history.running],
        "deployments": [_deployment(d) for d in touched],
        "counts": {
            "opened": sum(d.started_at in period for d in touched),
            "concluded": sum(d.concluded_at in period for d in touched),
            "rolled_back": sum(1 for r in history.rollbacks if r.at in period),
            "shelved": sum(1 for d in touched for s in d.shelves if s.at in period),
            "promotions": sum(bool(d.promoted_from) and d.started_at in period for d in touched),
            "emergency_overrides": sum(1 for d in touched for o in d.overrides if o.at in period),
            "downtime_seconds": sum(d.downtime.seconds for d in touched
                                    if d.downtime is not None and d.concluded_at in period),
        },
        "rollbacks": [_rollback(r) for r in history.rollbacks if r.at in period],
        "incidents": incidents_json,
        "dora": {
            "report": dora.BAND_REPORT, "definitions": DEFINITIONS, "lead_time_from": lead_time_origin,
            "fleet": _keys(keys[""], before.get("", empty)),
            "apps": {app: _keys(k, before.get(app, empty)) for app, k in keys.items() if app},
        },
        "service_levels": [_level(s, targets, changes.get((s.app, s.environment), [])) for s in levels],
        "warnings": [{"file": w.file, "line": w.line, "message": w.message} for w in warnings],
    }


def _touches(d: Deployment, period: dora.Period) -> bool:
    if d.started_at >= period.until:
        return False  # every moment of it is at or after its start
    moments = [d.started_at, d.live_at, d.concluded_at, d.rollback.at if d.rollback else None]
    for shelve in d.shelves:
        moments += [shelve.at, shelve.resumed_at]
    return any(m is not None and period.since <= m < period.until for m in moments)


def _deploy_moments(history: History, period: dora.Period, prod: Sequence[str]) \
        -> dict[tuple[str, str], list[tuple[dt.datetime, str]]]:
    moments: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = {}
    for d in history.deployments:
        if d.environment in prod and d.live_at in period:
            assert d.live_at is not None
            moments.setdefault((d.app, d.environment), []).append((d.live_at, f"deploy {d.version}"))
    for r in history.rollbacks:
        if r.environment in prod and r.at in period:
            moments.setdefault((r.app, r.environment), []).append((r.at, f"rollback to {r.to_version}"))
    return moments


def _level(s: ServiceLevel, targets: Targets, moments: Sequence[tuple[dt.datetime, str]]) -> dict[str, Any]:
    wanted = dict(targets.latency)
    window = 4 * (s.error_rate[1][0] - s.error_rate[0][0]) if len(s.error_rate) > 1 else 0.0
    changes: list[LevelChange] = level_changes(s.error_rate, sorted(moments), window) if window else []
    return {
        "app": s.app, "environment": s.environment, "problem": s.problem or None,
        "availability": s.availability, "availability_target": targets.availability,
        "availability_met": None if s.availability is None or targets.availability is None
        else s.availability >= targets.availability,
        "latency_seconds": {name: value for name, value in s.latency},
        "latency_targets_seconds": wanted,
        "latency_met": {name: value <= wanted[name] for name, value in s.latency
                        if value is not None and name in wanted},
        "top_errors": [{"code": code, "count": count} for code, count in s.top_errors],
        "error_rate": [[t, v] for t, v in s.error_rate],
        "level_changes": [{"at": _t(c.at), "after": c.what, "error_rate_before": c.before,
                           "error_rate_after": c.after} for c in changes],
    }


def dumps(data: Any) -> bytes:
    """`data` as JSON indented by 2, as json.dumps(indent=2) writes it. (json's indenting encoder is
    pure Python, its compact one C: the compact text is indented by msgspec, which only adds
    whitespace.)"""
    compact = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return msgspec.json.format(compact.encode("utf-8"), indent=2) + b"\n"


# -- charts ------------------------------------------------------------------------------------

def charts_of(history: History, keys: Mapping[str, dora.Keys], period: dora.Period, production: Iterable[str],
              levels: Sequence[ServiceLevel]) -> list[charts.Chart]:
    prod = set(production)
    first = period.since.date()
    days = [first + dt.timedelta(days=i) for i in range((period.until - dt.timedelta(microseconds=1)).date().toordinal()
                                                        - first.toordinal() + 1)]
    counts: dict[str, list[int]] = {o: [0] * len(days) for o in charts.OUTCOMES}
    for d in history.deployments:
        if d.environment in prod and d.started_at in period:
            counts[d.outcome][d.started_at.date().toordinal() - first.toordinal()] += 1
    found = [charts.deployments_per_day(days, counts), charts.lead_time_distribution(keys[""].lead_times)]
    moments = _deploy_moments(history, period, sorted(prod))
    with_data = sorted((s for s in levels if s.error_rate), key=lambda s: -max(v for _, v in s.error_rate))
    for s in with_data[:ERROR_RATE_CHARTS]:
        marks = moments.get((s.app, s.environment), [])
        found.append(charts.error_rate(s.app, s.environment, s.error_rate,
                                       [m for m, what in marks if what.startswith("deploy")],
                                       [m for m, what in marks if what.startswith("rollback")]))
    return found


# -- Markdown ----------------------------------------------------------------------------------

def cell(value: object) -> str:
    if value is None or value == "":
        return "—"
    text = " ".join(str(value).split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _when(stamp: str | None) -> str:
    return stamp.replace("T", " ").removesuffix("Z") if stamp else "—"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1 / 60:
        return f"{value * 3600:.0f} s"
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} d"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n_… and {len(rows) - MAX_ROWS} more rows in report.json._")
    return [*lines, ""]


def _key_text(key: str, entry: Mapping[str, Any]) -> str:
    value = entry["value"]
    if key == "deployment_frequency":
        return f"{value:.2f}/day ({entry['deployments']})"
    if key == "lead_time":
        return f"{_hours(value)} (p90 {_hours(entry['p90'])})" if value is not None else "—"
    if key == "change_failure_rate":
        return f"{_share(value)} ({entry['failed']}/{entry['of']})" if value is not None else "—"
    return f"{_hours(value)} ({entry['count']})" if value is not None else "—"


def _previous_text(key: str, entry: Mapping[str, Any]) -> str:
    previous = entry["previous"]
    if previous is None:
        return "—"
    if key == "deployment_frequency":
        return f"{previous:.2f}/day"
    return _share(previous) if key == "change_failure_rate" else _hours(previous)


def markdown(report: Mapping[str, Any], chart_list: Sequence[charts.Chart],
             svg_files: Mapping[str, str] | None = None) -> str:
    """The whole report in Markdown; `svg_files` (chart name → file name) links the SVG files."""
    p = report["period"]
    out = [f"# Operations report: {_when(p['since'])} → {_when(p['until'])} UTC", ""]
    fleet = report["dora"]["fleet"]
    # The headline is production's alone (the counts below cover every environment).
    concluded = fleet["deployment_frequency"]["deployments"]
    rolled_back = sum(r["environment"] in report["production"] for r in report["rollbacks"])
    out += [f"Production ({', '.join(report['production'])}): {concluded} deployment{'s' * (concluded != 1)} "
            f"concluded, {rolled_back} rolled back; change failure rate "
            f"{_share(fleet['change_failure_rate']['value'])}.", ""]
    if report["warnings"]:
        out += [f"> **{len(report['warnings'])} record(s) left out**, see Warnings below.", ""]
    out += ["## What runs where", ""]
    out += _table(["app", "environment", "version", "since", "strategy", "via", "source commit", "GitOps commit"],
                  [[r["app"], r["environment"], r["version"], _when(r["since"]), r["strategy"], r["via"],
                    (r["source_commit"] or "")[:12], (r["gitops_commit"] or "")[:12]] for r in report["running"]])
    out += _dora_section(report)
    out += _deployments_section(report)
    out += _incidents_section(report)
    if report["service_levels"]:
        out += _service_levels_section(report)
    out += ["## Charts", ""]
    for chart in chart_list:
        out += [f"### {chart.title}", "", charts.mermaid(chart), ""]
        if svg_files and chart.name in svg_files:
            out += [f"SVG: [{svg_files[chart.name]}]({svg_files[chart.name]})", ""]
    if report["warnings"]:
        out += ["## Warnings: records left out", ""]
        out += _table(["file", "line", "problem"],
                      [[w["file"], w["line"] or "", w["message"]] for w in report["warnings"]])
    return "\n".join(out).rstrip() + "\n"


def _dora_section(report: Mapping[str, Any]) -> list[str]:
    d = report["dora"]
    origin = "commit time (GitHub API)" if d["lead_time_from"] == "commit" else \
        "first record of the build (give github-token for the commit time)"
    out = ["## DORA keys (production)", "",
           f"Bands from the {d['report']}; trend against the previous period "
           f"({_when(report['previous_period']['since'])} → {_when(report['previous_period']['until'])}). "
           f"Lead time counts from the {origin}.",
           ""]
    out += _table(["key", "fleet", "band", "previous", "trend", "definition"],
                  [[KEY_TITLES[k], _key_text(k, e), e["band"], _previous_text(k, e), e["trend"], DEFINITIONS[k]]
                   for k, e in d["fleet"].items()])
    if d["apps"]:
        out += ["### Per app", ""]
        out += _table(["app", *KEY_TITLES.values()],
                      [[app, *(f"{_key_text(k, e)} {e['band']}".strip() + (f" ({e['trend']})" if e["trend"] else "")
                               for k, e in keys.items())] for app, keys in d["apps"].items()])
    return out


def _deployments_section(report: Mapping[str, Any]) -> list[str]:
    c = report["counts"]
    out = ["## Deployments this period", "",
           f"In every environment: opened {c['opened']}, concluded {c['concluded']}, rolled back "
           f"{c['rolled_back']}, shelved {c['shelved']}, promotions {c['promotions']}, emergency overrides "
           f"{c['emergency_overrides']}" + (f", downtime of recreate deploys {_hours(c['downtime_seconds'] / 3600)}"
                                           if c["downtime_seconds"] else "") + ".", ""]
    if report["rollbacks"]:
        out += ["### Rolled back", ""]
        out += _table(["when", "app", "environment", "from", "to", "reason", "incident"],
                      [[_when(r["at"]), r["app"], r["environment"], r["from_version"], r["to_version"],
                        r["reason"] + (" (reverts the rollback of " + _when(r["reverts_rollback_at"]) + ")"
                                       if r["reverts_rollback_at"] else ""), r["incident"]]
                       for r in report["rollbacks"]])
    since, until = report["period"]["since"], report["period"]["until"]

    def within(stamp: str) -> bool:  # the records' UTC stamps sort as text
        return bool(since <= stamp < until)

    shelved = [(d, s) for d in report["deployments"] for s in d["shelved"] if within(s["at"])]
    if shelved:
        out += ["### Shelved", ""]
        out += _table(["when", "app", "environment", "version", "cause", "reason", "resumed"],
                      [[_when(s["at"]), d["app"], d["environment"], d["version"], s["cause"], s["reason"],
                        _when(s["resumed_at"])] for d, s in shelved])
    promoted = [d for d in report["deployments"] if d["promoted_from"] and within(d["started_at"])]
    if promoted:
        out += ["### Promotions", ""]
        out += _table(["when", "app", "version", "from", "to", "outcome"],
                      [[_when(d["started_at"]), d["app"], d["version"], d["promoted_from"], d["environment"],
                        d["outcome"]] for d in promoted])
    down = [d for d in report["deployments"] if d["downtime"] and d["concluded_at"] and within(d["concluded_at"])]
    if down:
        out += ["### Downtime (recreate deploys)", "",
                "Old and new never run side by side: from the deploy commit until the new version answered.", ""]
        out += _table(["from", "until", "app", "environment", "version", "downtime"],
                      [[_when(d["downtime"]["from"]), _when(d["downtime"]["until"]), d["app"], d["environment"],
                        d["version"], _hours(d["downtime"]["seconds"] / 3600)] for d in down])
    overrides = [(d, o) for d in report["deployments"] for o in d["overrides"] if within(o["at"])]
    if overrides:
        out += ["### Emergency overrides", ""]
        out += _table(["when", "app", "environment", "version", "event", "reason"],
                      [[_when(o["at"]), d["app"], d["environment"], d["version"], o["event"], o["reason"]]
                       for d, o in overrides])
    return out


def _incidents_section(report: Mapping[str, Any]) -> list[str]:
    incidents = report["incidents"]
    opened = [i for i in incidents if i["open"]]
    out = ["## Incidents", "", f"{len(opened)} open, {len(incidents) - len(opened)} closed this period.", ""]
    if incidents:
        out += _table(["file", "app", "environment", "severity", "detected", "restored", "time to restore",
                       "post-mortem"],
                      [[i["file"], i["app"], i["environment"], i["severity"], _when(i["detected_at"]),
                        _when(i["restored_at"]) if not i["open"] else "open", _hours(i["time_to_restore_hours"]),
                        "filed" if i["postmortem"] else "missing"] for i in incidents])
    return out


def _service_levels_section(report: Mapping[str, Any]) -> list[str]:
    out = ["## Service levels (Prometheus)", ""]
    rows = []
    for s in report["service_levels"]:
        target = s["availability_target"]
        avail = "—" if s["availability"] is None else f"{s['availability']:.3f} %"
        if target is not None and s["availability"] is not None:
            avail += f" ({'meets' if s['availability_met'] else 'misses'} {target:g} %)"
        lat = []
        for name, value in s["latency_seconds"].items():
            text = f"{name} {_hours(None) if value is None else f'{value * 1000:.0f} ms'}"
            if name in s["latency_met"]:
                goal = s["latency_targets_seconds"][name] * 1000
                text += " ✓" if s["latency_met"][name] else f" ✗ (target {goal:.0f} ms)"
            lat.append(text)
        errors = ", ".join(f"{e['code']}: {e['count']:.0f}" for e in s["top_errors"])
        changes = "; ".join(f"{c['after']} ({_when(c['at'])}): {100 * c['error_rate_before']:.2f} % → "
                            f"{100 * c['error_rate_after']:.2f} %" for c in s["level_changes"])
        rows.append([s["app"], s["environment"], avail, ", ".join(lat), errors, changes or s["problem"]])
    out += _table(["app", "environment", "availability", "latency", "top errors", "error-rate changes after"], rows)
    return out


def issue_body(report: Mapping[str, Any], chart_list: Sequence[charts.Chart]) -> str:
    """The Markdown for the weekly issue: Mermaid only (the SVG files are not in the repository)."""
    body = markdown(report, chart_list, None)
    if len(body) > ISSUE_LIMIT:
        body = body[:ISSUE_LIMIT - 200].rsplit("\n", 1)[0] + "\n\n_Cut to fit an issue; the full report is in the " \
            "workflow run's step summary and report.json._\n"
    return body
