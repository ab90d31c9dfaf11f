"""traffic: move an app's traffic in the GitOps repository, as one auditable commit: shift the
canary's share (`weight`), switch a blue/green Service to a slot (`slot`), or give a slot's
workloads a replica count (`scale-slot`: the old slot scaled down after a switch, Argo Rollouts'
`scaleDownDelaySeconds` as a later commit, or back up before the next release goes to it).

Order of work, as gitops-bump's: validate → clone (or the local checkout) → plan every edit
(gitops.routing) → write → commit → push, re-planned on a moved tip. Nothing is written before
the plan is complete. A rollback (`rollback: true` with a reason) is the same forward commit:
the canary's weight back to 0, or the Service back to the slot it left, with an incident record.
A scale-down waits out its `delay` first and plans only then, so a switch back that landed in the
meantime is seen: the slot is live again, and it keeps running.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from deploy_actions.errors import FileError, InputError, OperationError
from deploy_actions.files import FileEdit, inside_repo, write_edits
from deploy_actions.git import (
    Git,
    ProtectedBranchError,
    commit_edits,
    push_reapplied,
    push_timeout,
    temporary_clone,
    trailers,
)
from deploy_actions.git.identity import BOT_EMAIL, BOT_NAME
from deploy_actions.gitops.bump import _local_root, _render, _scope
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError
from deploy_actions.gitops.routing import IDLE, ScalePlan, SlotPlan, WeightPlan, plan_scale, plan_slot, plan_weight
from deploy_actions.outcome import Annotation, Outcome
from deploy_actions.records import incident, journal

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SLOT = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$", re.IGNORECASE)  # a label value


@dataclass(frozen=True)
class TrafficOptions:
    app: str = ""
    weight: int | None = None
    slot: str = ""
    scale_slot: str = ""
    replicas: str = "0"
    delay: float | None = None
    since: str = ""
    environment: str = ""
    repository: str = ""
    ref: str = "main"
    path: str = "."
    canary: str = "{app}-canary"
    stable: str = "{app}"
    canary_steps: str = ""
    canary_path: str = ""
    service: str = "{app}"
    preview_service: str = "{app}-preview"
    slots: str = "blue,green"
    slot_label: str = ""
    image: str = ""
    rollback: bool = False
    reason: str = ""
    mode: str = "push"
    push_timeout: float | None = None
    commit_message: str = "chore: Shift {app} canary to {weight}% in {environment}"
    switch_message: str = "chore: Switch {app} to {slot} ({tag}) in {environment}"
    abort_message: str = "fix: Shift {app} canary back to {weight}% due to {reason}"
    rollback_message: str = "fix: Switch {app} back to {slot} ({tag}) due to {reason}"
    scale_message: str = "chore: Scale {direction} {app} {slot} ({tag}) in {environment}"
    record: str = "deployments/{environment}.jsonl"
    incident: str = "incidents/{timestamp}-{app}.md"
    evidence: str = ""
    detected_at: str = ""
    source_repository: str = ""
    source_commit: str = ""
    run_url: str = ""
    actor: str = ""
    token: str = ""
    git_user_name: str = BOT_NAME
    git_user_email: str = BOT_EMAIL


@dataclass(frozen=True)
class TrafficResult:
    changed: bool
    strategy: str  # canary or blue-green
    files: tuple[str, ...] = ()
    weight: float | None = None  # the canary's share now (replicas: the share reached)
    previous_weight: float | None = None
    stage: int | None = None
    stages: int | None = None
    slot: str = ""
    previous_slot: str = ""
    idle_slot: str = ""
    tag: str = ""
    previous_tag: str = ""
    scaled_slot: str = ""
    replicas: int | None = None
    previous_replicas: int | None = None
    commit_sha: str = ""
    notes: tuple[str, ...] = ()
    findings: tuple[Annotation, ...] = ()

    def outputs(self) -> dict[str, object]:
        return {
            "changed": self.changed,
            "strategy": self.strategy,
            "files": list(self.files),
            "weight": _percent(self.weight),
            "previous-weight": _percent(self.previous_weight),
            "stage": "" if self.stage is None else self.stage,
            "stages": "" if self.stages is None else self.stages,
            "slot": self.slot,
            "previous-slot": self.previous_slot,
            "idle-slot": self.idle_slot,
            "tag": self.tag,
            "previous-tag": self.previous_tag,
            "scaled-slot": self.scaled_slot,
            "replicas": "" if self.replicas is None else self.replicas,
            "previous-replicas": "" if self.previous_replicas is None else self.previous_replicas,
            "commit-sha": self.commit_sha,
        }

    def outcome(self) -> Outcome:
        summary = "## traffic\n\n" + "".join(f"- {n}\n" for n in self.notes)
        return Outcome(outputs=self.outputs(), text="\n".join(self.notes), summary=summary,
                       annotations=self.findings)


def _percent(value: float | None) -> object:
    if value is None:
        return ""
    return int(value) if value == int(value) else round(value, 2)


@dataclass(frozen=True)
class _Rollback:
    at: dt.datetime
    detected_at: dt.datetime
    evidence: incident.Evidence | None


def _slots(opts: TrafficOptions) -> tuple[str, ...]:
    slots = tuple(s.strip() for s in opts.slots.split(",") if s.strip())
    if (len(slots) < 2 or len(set(slots)) != len(slots) or not all(_SLOT.match(s) for s in slots)
            or IDLE in slots):
        raise InputError("slots", opts.slots, f"two or more distinct label values but {IDLE}, comma-separated "
                         "(blue,green)")
    return slots


def steps(text: str) -> tuple[int, ...]:
    """The canary's stages (`10,30,50,90,100`): rising percentages, each 1 to 100."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InputError("canary-steps", text, "rising percentages separated by commas, e.g. 10,30,50,90,100") from None
    if not values or any(not 0 < v <= 100 for v in values) or list(values) != sorted(set(values)):
        raise InputError("canary-steps", text, "rising percentages from 1 to 100, e.g. 10,30,50,90,100")
    return values


def _validate(opts: TrafficOptions) -> tuple[str, ...]:
    if not opts.app or not _NAME.match(opts.app):
        raise InputError("app", opts.app, "the application's name (letters, digits, '.', '_' and '-')")
    if opts.environment and not _NAME.match(opts.environment):
        raise InputError("environment", opts.environment, "a name of letters, digits, '.', '_' and '-'")
    asked = [name for name, given in (("weight", opts.weight is not None), ("slot", bool(opts.slot)),
                                      ("scale-slot", bool(opts.scale_slot))) if given]
    if len(asked) != 1:
        raise InputError(asked[1] if len(asked) > 1 else "weight", "",
                         "one of weight (a canary's share), slot (a blue/green switch) or scale-slot (a slot's "
                         "replicas)")
    if not opts.scale_slot and (opts.delay or opts.since or opts.replicas not in ("", "0")):
        name = "delay" if opts.delay else "since" if opts.since else "replicas"
        raise InputError(name, str(getattr(opts, name)), "nothing unless scale-slot is given (it scales a slot)")
    if opts.scale_slot:
        _replicas(opts)
        if opts.rollback:
            raise InputError("rollback", "true", "no rollback with scale-slot (switch back with slot and rollback)")
        if opts.since and journal.parse_time(opts.since.strip()) is None:
            raise InputError("since", opts.since, "an ISO 8601 time such as 2026-11-22T10:15:00Z (the switch's)")
    if opts.weight is not None and not 0 <= opts.weight <= 100:
        raise InputError("weight", str(opts.weight), "a percentage from 0 to 100")
    if opts.rollback and not opts.reason.strip():
        raise InputError("reason", "", "a reason for the rollback (rollback: true needs one)")
    if opts.rollback and opts.weight not in (None, 0):
        raise InputError("weight", str(opts.weight), "0 for a canary rollback (its share goes back to none)")
    if opts.canary_path and (opts.weight is None or not opts.image):
        raise InputError("canary-path", opts.canary_path, "no canary-path without weight and image: the canary "
                         "workload's folder, where the version it runs is read, and where a canary rollback "
                         "(weight 0) pins the stable's tag in the same commit")
    if opts.evidence and not opts.rollback:
        raise InputError("evidence", opts.evidence, "no evidence unless rollback: true (it goes in the incident "
                         "record)")
    if opts.mode not in ("push", "commit", "none"):
        raise InputError("mode", opts.mode, "one of push, commit, none")
    slots = _slots(opts)
    if opts.slot and opts.slot not in (*slots, IDLE):
        raise InputError("slot", opts.slot, f"one of the slots: {', '.join(slots)}, or {IDLE} (the one not live)")
    if opts.scale_slot and opts.scale_slot not in (*slots, IDLE):
        raise InputError("scale-slot", opts.scale_slot, f"one of the slots: {', '.join(slots)}, or {IDLE} (the one "
                         "not live)")
    if opts.slot == IDLE and opts.rollback:
        raise InputError("slot", opts.slot, "the slot to switch back to, by name, for a rollback")
    if opts.canary_steps and opts.weight:
        planned = steps(opts.canary_steps)
        if opts.weight not in planned:
            raise InputError("weight", str(opts.weight), "one of the canary-steps " + opts.canary_steps)
    for name in ("canary", "stable", "service", "preview-service"):
        value = _named(opts, name)
        required = name != "preview-service"
        if (required and not value) or (value and not _NAME.match(value)):
            raise InputError(name, getattr(opts, name.replace("-", "_")), "a Kubernetes name; {app} and "
                             "{environment} are replaced")
    return slots


def _replicas(opts: TrafficOptions) -> int | None:
    """scale-slot's count: a whole number, or None for `live` (as many as the live slot runs)."""
    text = opts.replicas.strip() or "0"
    if text == "live":
        return None
    if not re.fullmatch(r"\d{1,5}", text):
        raise InputError("replicas", opts.replicas, "a whole number of pods (0 scales the slot down), or live: as "
                         "many as the live slot runs")
    return int(text)


def _wait(opts: TrafficOptions) -> None:
    """A scale-slot's delay, counted from `since` (default now): the plan is made after it."""
    if not opts.delay:
        return
    since = journal.parse_time(opts.since.strip()) if opts.since.strip() else None
    start = since.timestamp() if since is not None else time.time()
    left = start + opts.delay - time.time()
    if left > 0:
        time.sleep(left)


def _named(opts: TrafficOptions, name: str) -> str:
    template = getattr(opts, name.replace("-", "_"))
    return _render(template, name, app=opts.app, environment=opts.environment)


def traffic(opts: TrafficOptions) -> TrafficResult:
    slots = _validate(opts)
    _wait(opts)
    started = time.time()
    facts = _rollback_facts(opts, started)
    if opts.repository:
        with temporary_clone(opts.repository, opts.ref, opts.token) as git:
            return _run(opts, git.root, git, slots, facts)
    root, local = _local_root(opts, opts.app)
    return _run(opts, root, local, slots, facts)


def _rollback_facts(opts: TrafficOptions, started: float) -> _Rollback | None:
    if not opts.rollback:
        return None
    at = dt.datetime.fromtimestamp(int(started), dt.timezone.utc)
    detected = incident.parse_detected_at(opts.detected_at, at)
    return _Rollback(at, detected, incident.read_evidence(opts.evidence) if opts.evidence else None)


@dataclass(frozen=True)
class _Planned:
    edits: tuple[FileEdit, ...]
    result: TrafficResult
    message: str


def _run(opts: TrafficOptions, root: Path, git: Git | None, slots: tuple[str, ...],
         facts: _Rollback | None) -> TrafficResult:
    scope = _scope(opts, root, opts.app, opts.environment)

    def attempt() -> tuple[TrafficResult, bool]:
        planned = _plan(opts, root, scope, git, slots, facts)
        if not planned.edits or opts.mode == "none" or git is None:
            if planned.edits:
                write_edits(planned.edits)
            return planned.result, False
        sha = commit_edits(git, planned.edits, planned.message,
                           user_name=opts.git_user_name, user_email=opts.git_user_email)
        return replace(planned.result, commit_sha=sha), opts.mode == "push"

    if git is None:
        return attempt()[0]
    try:
        landed = push_reapplied(git, opts.ref, attempt, timeout=push_timeout(opts.push_timeout))
    except ProtectedBranchError:
        raise OperationError(f"{opts.ref} is protected and refused the push; traffic changes need a branch "
                             "they can push to") from None
    result = landed.value
    if landed.pushes:
        return replace(result, notes=(*result.notes, f"pushed {result.commit_sha[:12]} to {opts.ref}"))
    return result


def _plan(opts: TrafficOptions, root: Path, scope: list[str], git: Git | None, slots: tuple[str, ...],
          facts: _Rollback | None) -> _Planned:
    env = f" in {opts.environment}" if opts.environment else ""
    if opts.scale_slot:
        return _plan_scale(opts, root, scope, git, slots, env)
    if opts.weight is not None:
        plan = plan_weight(root, scope, canary=_named(opts, "canary"), stable=_named(opts, "stable"),
                           weight=opts.weight, image=opts.image)
        if opts.canary_path and not plan.canary_tag:  # the canary workload lives outside the routing's folder
            plan = replace(plan, canary_tag=_canary_path_tag(opts, root))
        result = _weight_result(opts, plan)
        note = (f"{opts.app} canary{env}: {_percent(plan.previous)}% → {_percent(plan.reached)}% in "
                f"{len(plan.splits)} split(s)" + (f" (asked {opts.weight}%: the closest the replicas allow)"
                                                   if plan.reached != opts.weight else ""))
        values = {"weight": str(opts.weight), "tag": plan.canary_tag, "previous_weight": str(_percent(plan.previous))}
        template, name = ((opts.abort_message, "abort-message") if opts.rollback
                          else (opts.commit_message, "commit-message"))
        edits, findings = plan.edits + _canary_back(opts, root, plan), plan.findings
        bad, good = plan.canary_tag, plan.stable_tag
    else:
        slot_plan = plan_slot(root, scope, service=_named(opts, "service"), preview=_named(opts, "preview-service"),
                              slot=opts.slot, slots=slots, label=opts.slot_label, image=opts.image)
        result = _slot_result(slot_plan)
        note = (f"{slot_plan.service}{env}: {slot_plan.previous} ({slot_plan.previous_tag or '?'}) → "
                f"{slot_plan.slot} ({slot_plan.tag or '?'})"
                + (f"; preview {slot_plan.preview} → {result.idle_slot}" if slot_plan.preview else ""))
        values = {"slot": slot_plan.slot, "tag": slot_plan.tag or "untagged", "previous_slot": slot_plan.previous}
        template, name = ((opts.rollback_message, "rollback-message") if opts.rollback
                          else (opts.switch_message, "switch-message"))
        edits, findings = slot_plan.edits, slot_plan.findings
        bad, good = slot_plan.previous_tag, slot_plan.tag
    annotations = tuple(Annotation(f.level, f.message, file=f.relpath, line=f.line) for f in findings)
    result = replace(result, findings=annotations)
    message = _render(template, name, app=opts.app, environment=opts.environment or "default",
                      reason=" ".join(opts.reason.split()), **values)
    if not edits:
        return _Planned((), replace(result, notes=(f"{note}; nothing to change",)), "")
    files = list(edits)
    report = _incident_edit(opts, root, facts, bad, good)
    record = _record_edit(opts, root, git, result, report.relpath if report else "")
    files += [e for e in (record, report) if e is not None]
    body = "\n".join([*trailers(opts.source_repository, opts.source_commit, journal.workflow_run_url(opts.run_url)),
                      *([f"Rollback-Reason: {' '.join(opts.reason.split())}"] if opts.rollback else [])])
    changed = replace(result, changed=True, files=tuple(sorted(e.relpath for e in files)), notes=(note,))
    return _Planned(tuple(files), changed, message + ("\n\n" + body if body else ""))


def _plan_scale(opts: TrafficOptions, root: Path, scope: list[str], git: Git | None, slots: tuple[str, ...],
                env: str) -> _Planned:
    plan = plan_scale(root, scope, service=_named(opts, "service"), slot=opts.scale_slot, slots=slots,
                      replicas=_replicas(opts), label=opts.slot_label, image=opts.image)
    result = _scale_result(plan)
    annotations = tuple(Annotation(f.level, f.message, file=f.relpath, line=f.line) for f in plan.findings)
    result = replace(result, findings=annotations)
    note = (f"{opts.app} {plan.slot}{env}: {plan.previous} → {plan.replicas} replica(s); {plan.service} stays on "
            f"{plan.live}")
    if not plan.edits:
        why = "; it is live, so it keeps running" if plan.findings else "; nothing to change"
        return _Planned((), replace(result, notes=(note + why,)), "")
    direction = "down" if plan.replicas < plan.previous else "up"
    message = _render(opts.scale_message, "scale-message", app=opts.app, environment=opts.environment or "default",
                      slot=plan.slot, tag=plan.tag or "untagged", direction=direction, replicas=str(plan.replicas),
                      previous_replicas=str(plan.previous))
    files = list(plan.edits)
    record = _record_edit(opts, root, git, result, "")
    files += [record] if record is not None else []
    body = "\n".join(trailers(opts.source_repository, opts.source_commit, journal.workflow_run_url(opts.run_url)))
    changed = replace(result, changed=True, files=tuple(sorted(e.relpath for e in files)), notes=(note,))
    return _Planned(tuple(files), changed, message + ("\n\n" + body if body else ""))


def _scale_result(plan: ScalePlan) -> TrafficResult:
    idle = next((s for s in (plan.slot,) if s != plan.live), "")
    return TrafficResult(False, "blue-green", slot=plan.live, previous_slot=plan.live, idle_slot=idle, tag=plan.tag,
                         previous_tag=plan.tag, scaled_slot=plan.slot, replicas=plan.replicas,
                         previous_replicas=plan.previous)


def _canary_path_tag(opts: TrafficOptions, root: Path) -> str:
    """The tag `image` is pinned at under canary-path ('' when none, or more than one)."""
    from deploy_actions.gitops import manifests

    scope = _render(opts.canary_path, "canary-path", app=opts.app, environment=opts.environment)
    inside_repo(root, scope, "canary-path")
    sites, _ = manifests.find_image_sites(root, [scope], _image(opts))
    tags = {site.current.tag for site in sites if site.current.tag}
    return tags.pop() if len(tags) == 1 else ""


def _image(opts: TrafficOptions) -> ImageRef:
    try:
        return ImageRef.parse(opts.image)
    except ImageRefError as err:
        raise InputError("image", opts.image, f"an image repository such as ghcr.io/org/app ({err})") from None


def _canary_back(opts: TrafficOptions, root: Path, plan: WeightPlan) -> tuple[FileEdit, ...]:
    """With canary-path, a canary rollback also pins the stable's tag in the canary's workload, in
    the same commit as its weight going back to 0 (gitops-bump's planning, the same byte-exact edits)."""
    if not (opts.canary_path and opts.rollback):
        return ()
    from deploy_actions.gitops import manifests

    if not plan.stable_tag:
        raise InputError("stable", _named(opts, "stable"), f"a workload of that name pinning {opts.image} (its tag "
                         "is what the canary goes back to)")
    image = _image(opts)
    scope = _render(opts.canary_path, "canary-path", app=opts.app, environment=opts.environment)
    inside_repo(root, scope, "canary-path")
    update = manifests.plan_image_update(root, [scope], image.with_tag(plan.stable_tag, None))
    if not update.sites:
        raise InputError("canary-path", opts.canary_path, f"a folder where {image.short()} is pinned")
    clash = {e.relpath for e in update.edits} & {e.relpath for e in plan.edits}
    if clash:
        raise FileError("holds both the canary's weight and its image; shift the weight back first, then roll "
                        "the image back with gitops-bump", file=sorted(clash)[0])
    return update.edits


def _weight_result(opts: TrafficOptions, plan: WeightPlan) -> TrafficResult:
    planned = steps(opts.canary_steps) if opts.canary_steps else ()
    stage = (planned.index(opts.weight) + 1 if opts.weight in planned else 0) if planned else None
    return TrafficResult(False, "canary", weight=plan.reached, previous_weight=plan.previous, stage=stage,
                         stages=len(planned) if planned else None, tag=plan.canary_tag, previous_tag=plan.stable_tag)


def _slot_result(plan: SlotPlan) -> TrafficResult:
    idle = plan.previous if plan.previous != plan.slot else ""
    return TrafficResult(False, "blue-green", slot=plan.slot, previous_slot=plan.previous, idle_slot=idle,
                         tag=plan.tag, previous_tag=plan.previous_tag)


def _record_edit(opts: TrafficOptions, root: Path, git: Git | None, result: TrafficResult,
                 incident_path: str) -> FileEdit | None:
    if not opts.record:
        return None
    rel = _render(opts.record, "record", app=opts.app, environment=opts.environment or "default")
    path = inside_repo(root, rel, "record")
    before = path.read_bytes() if path.exists() else b""
    entry: dict[str, object] = {
        "timestamp": journal.timestamp(),
        "event": "rollback" if opts.rollback else "traffic",
        "environment": opts.environment or "default",
        "app": opts.app,
        "image": opts.image,
        # a rollback names the version it goes back to, and the one it leaves, as gitops-bump's do
        "version": result.previous_tag if opts.rollback and result.strategy == "canary" else result.tag,
        "previous_version": result.tag if opts.rollback and result.strategy == "canary" else result.previous_tag,
        "strategy": result.strategy,
        "gitops_base_commit": git.head() if git is not None else "",
        "source_repository": opts.source_repository,
        "source_commit": opts.source_commit,
        "actor": opts.actor,
        "run_url": journal.workflow_run_url(opts.run_url),
    }
    if not entry["version"]:  # a record line without a version cannot be read back (records.history)
        where = "canary-path" if result.strategy == "canary" else "path"
        raise InputError(where, getattr(opts, where.replace("-", "_")), "a folder where the workload of the "
                         f"{'canary' if result.strategy == 'canary' else 'slot'} pins a tag (the record names the "
                         "version it runs); or record: '' for no record")
    if result.strategy == "canary":
        entry.update(weight=_percent(result.weight), previous_weight=_percent(result.previous_weight))
        if result.stage is not None:
            entry.update(stage=result.stage, stages=result.stages)
    else:
        entry.update(slot=result.slot, previous_slot=result.previous_slot)
    if result.scaled_slot:
        entry.update(scaled_slot=result.scaled_slot, replicas=result.replicas,
                     previous_replicas=result.previous_replicas)
    if opts.rollback:
        entry["reason"] = opts.reason
    if incident_path:
        entry["incident"] = incident_path
    return FileEdit(path, rel, before, journal.append(before, entry))


def _incident_edit(opts: TrafficOptions, root: Path, facts: _Rollback | None, bad: str,
                   good: str) -> FileEdit | None:
    """The incident record of a rollback (incident: empty turns it off)."""
    if facts is None or not opts.incident:
        return None
    env = opts.environment or "default"
    rel = _render(opts.incident, "incident", app=opts.app, environment=env, timestamp=incident.file_stamp(facts.at))
    path = inside_repo(root, rel, "incident")
    before = path.read_bytes() if path.exists() else b""
    history: list[dict[str, object]] = []
    if opts.record:
        record_rel = _render(opts.record, "record", app=opts.app, environment=env)
        record_path = inside_repo(root, record_rel, "record")
        try:
            history = journal.parse(record_path.read_bytes(), record_rel) if record_path.is_file() else []
        except FileError:  # a rollback must not wait on a damaged record: the time is just unknown
            history = []
    text = incident.render(incident.Incident(
        app=opts.app, environment=env, bad_version=bad, good_version=good, reason=opts.reason,
        rolled_back_at=facts.at, detected_at=facts.detected_at,
        deployed_at=incident.deployed_at(history, opts.app, env, bad), image=opts.image,
        source_repository=opts.source_repository, source_commit=opts.source_commit,
        run_url=journal.workflow_run_url(opts.run_url), evidence=facts.evidence,
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com")))
    return FileEdit(path, rel, before, text.encode("utf-8"))
