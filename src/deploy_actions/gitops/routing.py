"""Where an app's traffic is split between its stable and canary backends, or switched between
blue/green slots, and the byte-exact edits that move it.

The routing shapes (gitops.shapes: Gateway API routes, Istio VirtualServices, SMI TrafficSplits,
NGINX canary Ingresses; workloads' replicas where there is no router; Services' slot selectors)
say where the weights and slots are; this module picks the files, keeps the splits that hold both
the stable and the canary backend, plans the new weights and checks each edited file by parsing
it again: the YAML must read as before except for the weights (gitops.yaml_splice), and the
shapes must now find the weights that were asked for.

Weights stay consistent: in each split only the canary's and the stable's weights change, and
their sum stays what it was, so every other backend keeps its share. A router's weights must
give the asked percentage exactly (30 % of weights that add up to 100 is 30; of weights that add
up to 1 it is refused, not rounded). Replicas cannot be exact, so they are rounded, keep at least
one pod on each side while both share traffic, and the share reached is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import FileEdit
from deploy_actions.gitops import classify
from deploy_actions.gitops.repo_files import read_file, yaml_files
from deploy_actions.gitops.shapes import gateway_api, istio, nginx_ingress, pod_specs, replicas, service_selector, smi
from deploy_actions.gitops.shapes.occurrence import Document, Finding, Loc, parse_ref
from deploy_actions.gitops.shapes.traffic import Backend, Selector, Split, object_name
from deploy_actions.gitops.yaml_splice import Change, SetValue, YamlSyntaxError, YamlText

# Routers first: only where none holds the app's split do replica counts carry it.
ROUTERS: tuple[Callable[[Document], Iterator[Split]], ...] = (
    gateway_api.splits, istio.splits, smi.splits, nginx_ingress.splits)
WORKLOADS = replicas.splits
IDLE = "idle"  # the slot the live Service does not select, as a `slot` to switch to


@dataclass(frozen=True)
class SplitChange:
    """One split before and after: where it is and the canary's and stable's weights."""

    relpath: str
    line: int
    kind: str
    name: str
    canary: tuple[int, int]  # weight before, after
    stable: tuple[int, int]
    total: int  # what the canary's share is out of (the two weights' sum, or NGINX's total)

    @property
    def share_before(self) -> float:
        return 100.0 * self.canary[0] / self.total

    @property
    def share_after(self) -> float:
        return 100.0 * self.canary[1] / self.total


@dataclass(frozen=True)
class WeightPlan:
    edits: tuple[FileEdit, ...]  # one per changed file, only the weights differ
    splits: tuple[SplitChange, ...]  # every split of the app, in file order
    findings: tuple[Finding, ...] = ()
    canary_tag: str = ""  # what the workloads named like the canary and stable backends run, when found
    stable_tag: str = ""

    @property
    def previous(self) -> float:
        return self.splits[0].share_before

    @property
    def reached(self) -> float:
        return self.splits[0].share_after


@dataclass(frozen=True)
class SlotPlan:
    edits: tuple[FileEdit, ...]
    service: str
    relpath: str
    line: int
    previous: str  # the live slot before
    slot: str  # the live slot after
    tag: str  # the tag the slot's workload runs ('' when no workload of the slot pins one)
    previous_tag: str
    preview: str = ""  # the preview Service switched to the idle slot, when there is one
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class ScalePlan:
    """A slot's workloads given a replica count (blue/green's old slot scaled down, or back up)."""

    edits: tuple[FileEdit, ...]
    service: str
    slot: str  # the slot scaled
    live: str  # the slot the live Service selects
    replicas: int  # the slot's replicas after (its first workload's)
    previous: int  # and before
    tag: str
    findings: tuple[Finding, ...] = ()


# --------------------------------------------------------------------------- reading


@dataclass
class _File:
    path: Path
    relpath: str
    yaml: YamlText
    role: classify.FileRole
    changes: list[Change] = field(default_factory=list)

    def documents(self) -> Iterator[Document]:
        for index, node in enumerate(self.yaml.docs):
            yield Document(Loc(node, (index,)), self.yaml, self.role)


def _files(root: Path, scope: Sequence[str], needles: Sequence[str], findings: list[Finding]) -> list[_File]:
    """The YAML files in scope that mention one of `needles`, parsed (deployment config only)."""
    listed = yaml_files(root, scope)
    wanted = [n.encode() for n in needles if n]
    opened = []
    for path, relpath in listed.files:
        data = read_file(path, relpath)
        if not any(n in data for n in wanted):
            continue
        try:
            text = YamlText(relpath, data)
        except YamlSyntaxError as exc:
            if relpath in listed.named:
                raise FileError(f"{exc.message}; nothing was written, fix the file first", file=relpath,
                                line=exc.line) from None
            findings.append(Finding(relpath, exc.line, "warning", f"{exc.message}; skipped", "yaml-syntax"))
            continue
        if relpath not in listed.named and classify.not_deployment_config(relpath, text.docs) is not None:
            continue
        opened.append(_File(Path(path), relpath, text, classify.file_role(relpath)))
    return opened


def _where(scope: Sequence[str]) -> str:
    return "/".join(scope) or "the repository"


def routed(root: Path, scope: Sequence[str], needle: str, slots: Sequence[str] = ()) -> tuple[list[Split],
                                                                                                list[Selector]]:
    """Every router split and slot selector in scope (in files that mention `needle`), as they read
    now: what a router configured from the repository would do."""
    files = _files(root, scope, [needle], [])
    docs = [doc for f in files for doc in f.documents()]
    splits = [split for doc in docs for shape in ROUTERS for split in shape(doc)]
    selectors = [sel for doc in docs for sel in service_selector.selectors(doc, slots)] if slots else []
    return splits, selectors


# --------------------------------------------------------------------------- weights


def plan_weight(root: Path, scope: Sequence[str], *, canary: str, stable: str, weight: int,
                image: str = "") -> WeightPlan:
    """The edits that give `canary` `weight` percent of the traffic it shares with `stable`, in
    every split of the scope that holds both (routers), or in their replicas (no router). Writes
    nothing; a second run plans no edit. InputError/FileError (file and line) when it cannot be
    done exactly as asked."""
    if not 0 <= weight <= 100:
        raise InputError("weight", str(weight), "a percentage from 0 to 100")
    findings: list[Finding] = []
    files = _files(root, scope, [canary, stable], findings)
    routed = [(f, split, c, s) for f in files for doc in f.documents() for shape in ROUTERS
              for split in shape(doc) for c, s in [_pair(split, canary, stable, f.relpath)]
              if c is not None and s is not None]
    if routed:
        changes = [_router_change(f, split, c, s, weight) for f, split, c, s in routed]
    else:
        changes = [_replica_change(files, canary, stable, weight, scope)]
    edits = _apply(files, f"the canary's weight to {weight}%")
    _check_weights(edits, changes, canary, stable)
    return WeightPlan(tuple(edits), tuple(changes), tuple(findings), _workload_tag(files, _called(canary), image),
                      _workload_tag(files, _called(stable), image))


def _pair(split: Split, canary: str, stable: str, relpath: str) -> tuple[Backend | None, Backend | None]:
    """The split's canary and stable backends, when it holds both (NGINX: the canary's is enough)."""
    c = _named(split, canary, relpath)
    if c is None:
        return None, None
    s = split.backends[-1] if split.total is not None else _named(split, stable, relpath)
    if s is None or s is c:
        return None, None
    return c, s


def _named(split: Split, name: str, relpath: str) -> Backend | None:
    """The one backend called `name` (by its most specific name first: an Istio subset before its host)."""
    for matches in ([b for b in split.backends if b.names[0] == name], [b for b in split.backends if b.is_named(name)]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise FileError(f"{split.name} has {len(matches)} backends named {name!r}; name the stable and canary "
                            "backends by their subsets or Services", file=relpath, line=split.line)
    return None


def _router_change(f: _File, split: Split, c: Backend, s: Backend, weight: int) -> SplitChange:
    total = split.total if split.total is not None else c.weight + s.weight
    if total <= 0:
        raise FileError(f"{split.name}: the stable and canary weights add up to 0, so there is no traffic to share",
                        file=f.relpath, line=split.line)
    new_c, left = divmod(total * weight, 100)
    if left:
        raise FileError(f"{split.name}: {weight}% of weights adding up to {total} is not a whole number; write "
                        "weights that add up to 100", file=f.relpath, line=split.line)
    new_s = total - new_c
    _set(f, split, c, new_c)
    if split.total is None:
        _set(f, split, s, new_s)
    return SplitChange(f.relpath, split.line, split.kind, split.name, (c.weight, new_c), (s.weight, new_s), total)


def _set(f: _File, split: Split, backend: Backend, value: int) -> None:
    if value == backend.weight:
        return
    if backend.at is None:
        raise FileError(f"{split.name}: backend {backend.names[0]!r} {backend.default_note}; write its weight "
                        "explicitly first", file=f.relpath, line=split.line)
    f.changes.append(SetValue(backend.at.node, backend.at.path, str(value), backend.at.key, tag=backend.written))


def _replica_change(files: list[_File], canary: str, stable: str, weight: int, scope: Sequence[str]) -> SplitChange:
    found: dict[str, list[tuple[_File, Split]]] = {canary: [], stable: []}
    for f in files:
        for doc in f.documents():
            for split in WORKLOADS(doc):
                for name in found:
                    if split.backends[0].is_named(name):
                        found[name].append((f, split))
    if not found[canary]:
        raise InputError("canary", canary, f"the canary's backend in a routing resource under {_where(scope)} "
                         "(HTTPRoute, VirtualService, TrafficSplit, NGINX canary Ingress) beside the stable "
                         f"{stable!r}, or a workload named so (found neither)")
    for name, hits in found.items():
        if not hits:
            raise InputError("stable", stable, f"a workload named so under {_where(scope)}, beside the canary "
                             f"{canary!r} (there is no router holding both)")
        if len(hits) > 1:
            where = ", ".join(f"{f.relpath}:{s.line}" for f, s in hits)
            raise FileError(f"{len(hits)} workloads are named {name!r} ({where}); narrow the path")
    (cf, cs), (sf, ss) = found[canary][0], found[stable][0]
    c, s = cs.backends[0], ss.backends[0]
    total = c.weight + s.weight
    new_c = round(total * weight / 100)
    if 0 < weight < 100:
        if total < 2:
            raise FileError(f"{cs.name} and {ss.name} have {total} replica(s) in all; splitting traffic by replicas "
                            "needs at least 2", file=cf.relpath, line=cs.line)
        new_c = min(max(new_c, 1), total - 1)
    _set(cf, cs, c, new_c)
    _set(sf, ss, s, total - new_c)
    return SplitChange(cf.relpath, cs.line, "replicas", f"{cs.name} + {ss.name}", (c.weight, new_c),
                       (s.weight, total - new_c), total)


def _apply(files: list[_File], what: str) -> list[FileEdit]:
    edits = []
    for f in files:
        if f.changes:
            after = f.yaml.apply(f.changes, what)
            if after != f.yaml.data:
                edits.append(FileEdit(f.path, f.relpath, f.yaml.data, after))
    return edits


def _check_weights(edits: list[FileEdit], changes: list[SplitChange], canary: str, stable: str) -> None:
    """Read every edited file again and find, with the same shapes, the weights that were asked for."""
    docs = [(edit.relpath, Document(Loc(node, (index,)), text, classify.file_role(edit.relpath)))
            for edit in edits for text in [YamlText(edit.relpath, edit.after)] for index, node in enumerate(text.docs)]
    for change in changes:
        if change.kind == "replicas":
            now = {name: split.backends[0].weight for _, doc in docs for split in WORKLOADS(doc)
                   for name in (canary, stable) if split.backends[0].is_named(name)}
            got = (now.get(canary, change.canary[1]), now.get(stable, change.stable[1]))
        else:
            got = next(((c.weight, s.weight) for relpath, doc in docs if relpath == change.relpath
                        for shape in ROUTERS for split in shape(doc)
                        if (split.line, split.kind) == (change.line, change.kind)
                        for c, s in [_pair(split, canary, stable, relpath)] if c is not None and s is not None),
                       (change.canary[1], change.stable[1]))  # a file left as it was reads as it did
        if got != (change.canary[1], change.stable[1]):
            raise FileError(f"{change.name}: after the edit it reads weights {got[0]} and {got[1]}, not "
                            f"{change.canary[1]} and {change.stable[1]}; nothing was written",
                            file=change.relpath, line=change.line)


# --------------------------------------------------------------------------- blue/green slots


def plan_slot(root: Path, scope: Sequence[str], *, service: str, preview: str, slot: str, slots: Sequence[str],
              label: str = "", image: str = "") -> SlotPlan:
    """The edits that make the live Service `service` select `slot` (and the preview Service, when
    there is one, the slot it leaves). `slot` IDLE is the first slot the live Service does not
    select. Writes nothing; a second run plans no edit."""
    if slot not in (*slots, IDLE):
        raise InputError("slot", slot, "one of " + ", ".join(slots) + f" (or {IDLE})")
    findings: list[Finding] = []
    files, found = _services(root, scope, [service, preview], slots, label, findings)
    live = found[service]
    previous = live[0][1].value
    if slot == IDLE:
        slot = next(s for s in slots if s != previous)
    if slot != previous:  # traffic to a slot scaled down to nothing would be an outage
        empty = [(f, split) for f, split in _slot_workloads(files, live[0][1], slot) if split.backends[0].weight == 0]
        if empty:
            f, split = empty[0]
            raise FileError(f"{split.name} runs 0 replicas (slot {slot} was scaled down); scale it up first "
                            f"(traffic with scale-slot: {slot}, replicas: live), then switch; nothing was written",
                            file=f.relpath, line=split.line)
    for f, sel in live:
        if sel.value != slot:
            f.changes.append(SetValue(sel.at.node, sel.at.path, slot, sel.at.key))
    idle = previous if previous != slot else next((s for s in slots if s != slot), slot)
    for f, sel in found[preview] if preview and preview != service else []:
        if sel.value != idle:
            f.changes.append(SetValue(sel.at.node, sel.at.path, idle, sel.at.key))
    first_file, first = live[0]
    tag = _slot_tag(files, first, slot, image)
    previous_tag = _slot_tag(files, first, previous, image)
    edits = _apply(files, f"{service}'s slot to {slot}")
    for edit in edits:  # read again: the Services now select what was asked
        text = YamlText(edit.relpath, edit.after)
        for index, node in enumerate(text.docs):
            doc = Document(Loc(node, (index,)), text, classify.file_role(edit.relpath))
            for sel in service_selector.selectors(doc, slots, label):
                expected = slot if sel.service == service else idle if sel.service == preview else sel.value
                if sel.value != expected:
                    raise FileError(f"Service {sel.service} reads {sel.value} after the edit, not {expected}; nothing "
                                    "was written", file=edit.relpath, line=sel.at.line)
    return SlotPlan(tuple(edits), service, first_file.relpath, first.at.line, previous, slot, tag, previous_tag,
                    preview if found.get(preview) else "", tuple(findings))


def _services(root: Path, scope: Sequence[str], names: Sequence[str], slots: Sequence[str], label: str,
              findings: list[Finding]) -> tuple[list[_File], dict[str, list[tuple[_File, Selector]]]]:
    """The files in scope, and the slot selectors of the Services called `names` (the first, the
    live Service, must be there and select one slot)."""
    service = names[0]
    files = _files(root, scope, [service, *slots], findings)
    found: dict[str, list[tuple[_File, Selector]]] = {name: [] for name in names}
    for f in files:
        for doc in f.documents():
            for selector in service_selector.selectors(doc, slots, label):
                if selector.service in found:
                    found[selector.service].append((f, selector))
    live = found[service]
    if not live:
        raise InputError("service", service, f"a Service under {_where(scope)} whose selector names a slot "
                         f"({', '.join(slots)}) with {label or 'some label'}")
    if len({(sel.label, sel.value) for _, sel in live}) > 1:
        raise FileError(f"the Services named {service!r} under {_where(scope)} select different slots; narrow the "
                        "path to one environment", file=live[0][0].relpath, line=live[0][1].at.line)
    return files, found


def _in_slot(live: Selector, slot: str) -> Callable[[Loc], bool]:
    """Whether a workload's pod labels match the live Service's selector with `slot` for its slot."""
    wanted = {**dict(live.selector), live.label: slot}

    def matches(doc: Loc) -> bool:
        labels = doc.dig("spec", "template", "metadata", "labels")
        have = {k: v.text for k, v in labels.pairs() if k is not None} if labels is not None else {}
        return labels is not None and all(have.get(k) == v for k, v in wanted.items())

    return matches


def _slot_tag(files: list[_File], live: Selector, slot: str, image: str) -> str:
    """The tag run by the workload whose pod labels match the Service's selector with `slot`."""
    return _workload_tag(files, _in_slot(live, slot), image)


def _slot_workloads(files: list[_File], live: Selector, slot: str) -> list[tuple[_File, Split]]:
    """The workloads of `slot`, each with its replicas (a one-backend split, as replicas.splits reads it)."""
    matches = _in_slot(live, slot)
    return [(f, split) for f in files for doc in f.documents() if classify.is_object(doc.root) and matches(doc.root)
            for split in WORKLOADS(doc)]


def plan_scale(root: Path, scope: Sequence[str], *, service: str, slot: str, slots: Sequence[str],
               replicas: int | None, label: str = "", image: str = "") -> ScalePlan:
    """The edits that give the workloads of `slot` (IDLE: the slot the live Service does not select)
    `replicas` pods, or as many as the live slot's first workload runs (`replicas` None). Scaling
    the live slot down to 0 plans nothing and says why (a switch back landed first): the live
    slot keeps serving. Writes nothing; a second run plans no edit."""
    if slot not in (*slots, IDLE):
        raise InputError("scale-slot", slot, "one of " + ", ".join(slots) + f" (or {IDLE})")
    findings: list[Finding] = []
    files, found = _services(root, scope, [service], slots, label, findings)
    live_file, live = found[service][0]
    slot = next(s for s in slots if s != live.value) if slot == IDLE else slot
    workloads = _slot_workloads(files, live, slot)
    if not workloads:
        raise InputError("scale-slot", slot, f"a slot with a workload under {_where(scope)} whose pod labels match "
                         f"Service {service}'s selector with {live.label}: {slot}")
    if replicas is None:
        serving = _slot_workloads(files, live, live.value)
        if not serving:
            raise InputError("replicas", "live", f"a workload of the live slot {live.value} under {_where(scope)} to "
                             "count its replicas")
        replicas = serving[0][1].backends[0].weight
    previous = workloads[0][1].backends[0].weight
    tag = _slot_tag(files, live, slot, image)
    if slot == live.value and replicas == 0:
        findings.append(Finding(live_file.relpath, live.at.line, "warning", f"Service {service} selects {slot} (it was "
                                "switched back): its workloads keep running; nothing was scaled down", "slot-live"))
        return ScalePlan((), service, slot, live.value, previous, previous, tag, tuple(findings))
    for f, split in workloads:
        backend = split.backends[0]
        if backend.weight == replicas:
            continue
        if backend.at is None:
            raise FileError(f"{split.name} {backend.default_note}; write its replicas explicitly first",
                            file=f.relpath, line=split.line)
        f.changes.append(SetValue(backend.at.node, backend.at.path, str(replicas), backend.at.key, tag=backend.written))
    edits = _apply(files, f"{slot}'s replicas to {replicas}")
    for edit in edits:  # read again: every workload of the slot now runs what was asked
        text = YamlText(edit.relpath, edit.after)
        reread = [_File(edit.path, edit.relpath, text, classify.file_role(edit.relpath))]
        for _, split in _slot_workloads(reread, live, slot):
            if split.backends[0].weight != replicas:
                raise FileError(f"{split.name} reads {split.backends[0].weight} replicas after the edit, not "
                                f"{replicas}; nothing was written", file=edit.relpath, line=split.line)
    return ScalePlan(tuple(edits), service, slot, live.value, replicas, previous, tag, tuple(findings))


def _called(name: str) -> Callable[[Loc], bool]:
    return lambda doc: object_name(doc) == name


def _workload_tag(files: list[_File], matches: Callable[[Loc], bool], image: str) -> str:
    """The tag of `image` (of the first container, without one) in the first workload `matches` accepts."""
    target = parse_ref(image) if image else None
    for f in files:
        for doc in f.documents():
            if not classify.is_object(doc.root) or not matches(doc.root):
                continue
            for container in pod_specs.containers(doc.root):
                image_loc = container.get("image")
                ref = parse_ref(image_loc.text if image_loc is not None else None)
                if ref is not None and (target is None or ref.name == target.name):
                    return ref.tag or ""
    return ""
