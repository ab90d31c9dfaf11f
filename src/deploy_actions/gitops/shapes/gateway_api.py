"""Gateway API routes: `spec.rules[].backendRefs[].weight` of an HTTPRoute (and of GRPCRoute,
TCPRoute, TLSRoute and UDPRoute, which share the field). Each rule is a split of its own; a
backend's share is its weight over the sum of the rule's weights, and a missing weight is 1."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Backend, Split, object_name, whole_number

ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute")
GROUP = "gateway.networking.k8s.io/"


def splits(doc: Document) -> Iterator[Split]:
    if doc.role != "config" or not is_object(doc.root):
        return
    api, kind = kind_of(doc.root)
    if not api.startswith(GROUP) or kind not in ROUTE_KINDS:
        return
    rules = doc.root.dig("spec", "rules")
    for rule in rules.items() if rules is not None else []:
        refs = rule.get("backendRefs")
        backends = []
        for ref in refs.items() if refs is not None else []:
            name = ref.get("name")
            if name is None or not name.text:
                continue
            weight = ref.get("weight")
            if weight is None:
                backends.append(Backend((name.text,), 1, None, default_note="has no weight (Gateway API counts it "
                                        "as 1)"))
                continue
            value = whole_number(weight)
            if value is not None:
                backends.append(Backend((name.text,), value, weight))
        if backends:
            yield Split("gateway-api", f"{kind}/{object_name(doc.root)}", rule.line, tuple(backends))
