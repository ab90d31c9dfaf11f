"""Blue/green slots: a core/v1 Service whose `spec.selector` names a slot (`version: blue`); the
live Service names the live slot and the preview Service the idle one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Selector, object_name


def selectors(doc: Document, slots: Sequence[str], label: str = "") -> Iterator[Selector]:
    """The Service's selector label whose value is one of `slots` (only `label`, when given)."""
    if doc.role != "config" or not is_object(doc.root) or kind_of(doc.root) != ("v1", "Service"):
        return
    selector = doc.root.dig("spec", "selector")
    if selector is None:
        return
    pairs = [(key, value) for key, value in selector.pairs() if key is not None and value.text is not None]
    written = tuple((key, value.text or "") for key, value in pairs)
    for key, value in pairs:
        if (not label or key == label) and value.text in slots:
            yield Selector(object_name(doc.root), key, value.text or "", value, written)
