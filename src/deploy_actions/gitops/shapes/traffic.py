"""What a traffic-routing shape finds: the backends of one split of traffic, each with its weight,
and the Service selectors that name a blue/green slot.

A routing shape is a module with

    def splits(doc: Document) -> Iterator[Split]

that yields every split of traffic one parsed document holds (a Gateway API rule, an Istio route,
an SMI TrafficSplit, an NGINX canary Ingress, a workload's replicas), with each backend's weight
and the value that holds it (`at`, None when the weight is left to its default). Like the image
shapes (gitops.shapes), a routing shape never reads files, parses or writes; gitops.routing picks
the split of an app's stable and canary backends and plans the byte-exact weight changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy_actions.gitops.loc import Loc
from deploy_actions.gitops.yaml_splice import INT, STR

SPLIT_KINDS = ("gateway-api", "istio", "smi", "nginx-ingress", "replicas")


@dataclass(frozen=True)
class Backend:
    """One destination of a split: its names (a Service, an Istio subset or host, a workload), its
    weight now, and the value holding it (`at`; None when the weight is its default or implied)."""

    names: tuple[str, ...]
    weight: int
    at: Loc | None
    written: str = INT  # how the weight is written: a YAML integer, or a string (an annotation)
    default_note: str = ""  # why `at` is None, for the error that asks to write the weight

    def is_named(self, name: str) -> bool:
        return name in self.names


@dataclass(frozen=True)
class Split:
    """Traffic shared between `backends` in proportion to their weights. `total` is set when the
    shares are out of a fixed total and the last backend's share is what is left (NGINX's canary
    Ingress: `canary-weight` of `canary-weight-total`, the rest to the main Ingress)."""

    kind: str  # one of SPLIT_KINDS
    name: str  # the object's name, for messages
    line: int  # where the split starts in its file
    backends: tuple[Backend, ...]
    total: int | None = None


@dataclass(frozen=True)
class Selector:
    """A Service whose selector names a slot: `label: value` at `at`."""

    service: str
    label: str
    value: str
    at: Loc
    selector: tuple[tuple[str, str], ...]  # the whole selector, as written


def whole_number(loc: Loc | None) -> int | None:
    """The value at `loc` when it is a plain whole number (a YAML int), else None."""
    if loc is None or loc.node.id != "scalar" or loc.node.tag != INT or (loc.node.style or ""):
        return None
    text = str(loc.node.value)
    return int(text) if text.isdigit() else None


def number_string(loc: Loc | None) -> int | None:
    """The value at `loc` when it is a string of digits (Kubernetes annotations are strings)."""
    if loc is None or loc.node.id != "scalar" or loc.node.tag != STR:
        return None
    text = str(loc.node.value).strip()
    return int(text) if text.isdigit() else None


def object_name(doc: Loc) -> str:
    name = doc.dig("metadata", "name")
    return (name.text or "") if name is not None else ""
