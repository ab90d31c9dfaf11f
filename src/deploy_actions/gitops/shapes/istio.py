"""Istio VirtualServices: `spec.http[].route[].weight` (and `tcp`, `tls`). Each route list is a
split; a destination is named by its `subset` and its `host` (short or fully qualified), and a
lone destination without a weight takes all the traffic."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.loc import Loc
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Backend, Split, object_name, whole_number

GROUP = "networking.istio.io/"
ROUTE_LISTS = ("http", "tcp", "tls")


def splits(doc: Document) -> Iterator[Split]:
    if doc.role != "config" or not is_object(doc.root):
        return
    api, kind = kind_of(doc.root)
    if not api.startswith(GROUP) or kind != "VirtualService":
        return
    spec = doc.root.get("spec")
    for list_name in ROUTE_LISTS:
        routes = spec.get(list_name) if spec is not None else None
        for route in routes.items() if routes is not None else []:
            destinations = route.get("route")
            items = destinations.items() if destinations is not None else []
            backends = []
            for item in items:
                names = _names(item)
                if not names:
                    continue
                weight = item.get("weight")
                if weight is None:
                    implied = 100 if len(items) == 1 else 0
                    backends.append(Backend(names, implied, None, default_note="has no weight (Istio gives a lone "
                                            "destination 100)"))
                    continue
                value = whole_number(weight)
                if value is not None:
                    backends.append(Backend(names, value, weight))
            if backends:
                yield Split("istio", f"VirtualService/{object_name(doc.root)}", route.line, tuple(backends))


def _names(item: Loc) -> tuple[str, ...]:
    """The subset first (the most specific name), then the host as written and its short name."""
    host = item.dig("destination", "host")
    subset = item.dig("destination", "subset")
    names: list[str] = []
    if subset is not None and subset.text:
        names.append(subset.text)
    if host is not None and host.text:
        names += [host.text, host.text.split(".", 1)[0]]
    return tuple(dict.fromkeys(names))
