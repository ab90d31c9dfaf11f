"""NGINX Ingress canaries: an Ingress annotated `nginx.ingress.kubernetes.io/canary: "true"` takes
`canary-weight` out of `canary-weight-total` (default 100) of the traffic of the main Ingress for
the same host; the rest stays with the main Ingress's backend. The canary is named by the
Ingress's own name and the Services it sends to."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.loc import Loc
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Backend, Split, number_string, object_name
from deploy_actions.gitops.yaml_splice import STR

PREFIX = "nginx.ingress.kubernetes.io/"
STABLE = "(the main Ingress)"  # the name of the backend that gets what the canary does not


def splits(doc: Document) -> Iterator[Split]:
    if doc.role != "config" or not is_object(doc.root):
        return
    api, kind = kind_of(doc.root)
    if not api.startswith(("networking.k8s.io/", "extensions/")) or kind != "Ingress":
        return
    annotations = doc.root.dig("metadata", "annotations")
    canary = annotations.get(PREFIX + "canary") if annotations is not None else None
    if annotations is None or canary is None or (canary.text or "").strip().lower() != "true":
        return
    total_loc = annotations.get(PREFIX + "canary-weight-total")
    total = number_string(total_loc) if total_loc is not None else 100
    if not total:
        return
    weight_loc = annotations.get(PREFIX + "canary-weight")
    weight = number_string(weight_loc) if weight_loc is not None else 0
    if weight is None:
        return
    names = tuple(dict.fromkeys([object_name(doc.root), *_services(doc.root)]))
    note = f"has no {PREFIX}canary-weight annotation"
    backends = (Backend(names, weight, weight_loc, written=STR, default_note=note),
                Backend((STABLE,), total - weight, None))
    yield Split("nginx-ingress", f"Ingress/{object_name(doc.root)}", annotations.line, backends, total=total)


def _services(root: Loc) -> list[str]:
    """The Services an Ingress sends to (networking.k8s.io/v1 and the older extensions/v1beta1)."""
    spec = root.get("spec")
    if spec is None:
        return []
    backends = [spec.get("defaultBackend"), spec.get("backend")]
    rules = spec.get("rules")
    for rule in rules.items() if rules is not None else []:
        paths = rule.dig("http", "paths")
        backends += [path.get("backend") for path in (paths.items() if paths is not None else [])]
    names = []
    for backend in backends:
        if backend is None:
            continue
        name = backend.dig("service", "name") or backend.get("serviceName")
        if name is not None and name.text:
            names.append(name.text)
    return names
