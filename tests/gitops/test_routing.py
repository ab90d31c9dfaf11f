"""Traffic weights and blue/green slots, edited byte for byte in every routing resource we support.

Each edit must change exactly the weights (or the selector value) and nothing else, read back by
the parser as asked, keep the backends' sum, and plan nothing the second time. The vendored files
come from the projects' own examples (see tests/data/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from deploy_actions.errors import FileError, InputError
from deploy_actions.gitops import yaml_splice
from deploy_actions.gitops.routing import plan_scale, plan_slot, plan_weight

DATA = Path(__file__).parent.parent / "data"


def seed(root: Path, files: dict[str, str]) -> Path:
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode())
    return root


def corpus(tmp_path: Path, folder: str) -> Path:
    shutil.copytree(DATA / folder, tmp_path / folder)
    return tmp_path / folder


def shift(root: Path, canary: str, stable: str, weight: int, scope: list[str] | None = None) -> dict[str, str]:
    """relpath -> new text of each file the shift changes; the plan is applied, so the second
    identical shift must plan nothing."""
    plan = plan_weight(root, scope or [], canary=canary, stable=stable, weight=weight)
    for edit in plan.edits:
        yaml_splice.compose(edit.after.decode())  # still YAML
        edit.path.write_bytes(edit.after)
    assert plan_weight(root, scope or [], canary=canary, stable=stable, weight=weight).edits == ()
    return {edit.relpath: edit.after.decode() for edit in plan.edits}


# --------------------------------------------------------------------------- Gateway API


def test_httproute_from_the_gateway_api_examples_moves_only_the_two_weights(tmp_path: Path) -> None:
    root = corpus(tmp_path, "gateway-api")
    before = (root / "traffic-split-2.yaml").read_text()
    plan = plan_weight(root, [], canary="foo-v2", stable="foo-v1", weight=30)
    assert [(s.kind, s.canary, s.stable, s.share_before, s.share_after) for s in plan.splits] == [
        ("gateway-api", (10, 30), (90, 70), 10.0, 30.0)]
    assert shift(root, "foo-v2", "foo-v1", 30) == {
        "traffic-split-2.yaml": before.replace("weight: 90", "weight: 70").replace("weight: 10", "weight: 30")}


def test_a_third_backend_keeps_its_weight_and_the_sum_stays(tmp_path: Path) -> None:
    route = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  rules:
  - matches: [{headers: [{name: x-canary, value: always}]}]
    backendRefs:
    - {name: app-canary, port: 80}   # header-pinned testers: not a split of the two
  - backendRefs:
    - name: app
      weight: 60 # stable
    - name: legacy
      weight: 20
    - name: app-canary
      weight: 20
"""
    root = seed(tmp_path, {"route.yaml": route})
    assert shift(root, "app-canary", "app", 50) == {
        "route.yaml": route.replace("weight: 60 #", "weight: 40 #").replace(
            "    - name: app-canary\n      weight: 20", "    - name: app-canary\n      weight: 40")}


def test_crlf_comments_and_flow_style_survive(tmp_path: Path) -> None:
    route = ("# managed by deploy-actions traffic\r\napiVersion: gateway.networking.k8s.io/v1beta1\r\n"
             "kind: HTTPRoute\r\nmetadata:\r\n  name: web\r\nspec:\r\n  rules:\r\n"
             "  - backendRefs: [{name: web, weight: 100}, {name: web-canary, weight: 0}]  # start\r\n")
    root = seed(tmp_path, {"r.yaml": route})
    assert shift(root, "web-canary", "web", 10) == {
        "r.yaml": route.replace("weight: 100}", "weight: 90}").replace("weight: 0}", "weight: 10}")}


def test_weights_that_cannot_give_the_share_exactly_are_refused(tmp_path: Path) -> None:
    route = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  rules:
  - backendRefs:
    - {name: app, weight: 1}
    - {name: app-canary, weight: 0}
"""
    root = seed(tmp_path, {"route.yaml": route})
    with pytest.raises(FileError, match=r"30% of weights adding up to 1 is not a whole number"):
        plan_weight(root, [], canary="app-canary", stable="app", weight=30)
    assert plan_weight(root, [], canary="app-canary", stable="app", weight=100).splits[0].canary == (0, 1)
    assert (root / "route.yaml").read_text() == route


def test_a_weight_left_to_its_default_must_be_written_first(tmp_path: Path) -> None:
    route = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  rules:
  - backendRefs:
    - {name: app, weight: 99}
    - {name: app-canary}
"""
    root = seed(tmp_path, {"route.yaml": route})
    with pytest.raises(FileError, match=r"'app-canary' has no weight \(Gateway API counts it as 1\)") as err:
        plan_weight(root, [], canary="app-canary", stable="app", weight=10)
    assert err.value.file == "route.yaml" and err.value.line == 6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stable=st.integers(0, 400), canary=st.integers(0, 400), other=st.integers(0, 50), weight=st.integers(0, 100))
def test_any_shift_keeps_the_sum_and_gives_the_exact_share_or_refuses(
        tmp_path_factory: pytest.TempPathFactory, stable: int, canary: int, other: int, weight: int) -> None:
    route = f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app}}
spec:
  rules:
  - backendRefs:
    - {{name: app, weight: {stable}}}
    - {{name: other, weight: {other}}}
    - {{name: app-canary, weight: {canary}}}
"""
    root = seed(tmp_path_factory.mktemp("fuzz"), {"route.yaml": route})
    pair = stable + canary
    try:
        plan = plan_weight(root, [], canary="app-canary", stable="app", weight=weight)
    except FileError:
        assert pair == 0 or pair * weight % 100
        return
    change = plan.splits[0]
    assert sum(change.canary[1:]) + sum(change.stable[1:]) == pair
    assert change.canary[1] * 100 == pair * weight
    after = YAML(typ="safe", pure=True).load(plan.edits[0].after if plan.edits else route.encode())
    weights = [ref["weight"] for ref in after["spec"]["rules"][0]["backendRefs"]]
    assert weights == [change.stable[1], other, change.canary[1]]


# --------------------------------------------------------------------------- Istio, SMI, NGINX


def test_istio_virtual_service_from_bookinfo_by_subset(tmp_path: Path) -> None:
    root = corpus(tmp_path, "istio")
    before = (root / "virtual-service-reviews-80-20.yaml").read_text()
    assert shift(root, "v2", "v1", 50) == {
        "virtual-service-reviews-80-20.yaml": before.replace("weight: 80", "weight: 50").replace("weight: 20",
                                                                                                 "weight: 50")}


def test_istio_backends_told_apart_only_by_their_host_are_ambiguous(tmp_path: Path) -> None:
    root = corpus(tmp_path, "istio")
    with pytest.raises(FileError, match="2 backends named 'reviews'"):
        plan_weight(root, [], canary="v2", stable="reviews", weight=10)  # the host names both subsets


def test_istio_hosts_name_the_backends_when_there_are_no_subsets(tmp_path: Path) -> None:
    vs = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: [app.example.com]
  http:
  - route:
    - destination:
        host: app.prod.svc.cluster.local
      weight: 100
    - destination:
        host: app-canary.prod.svc.cluster.local
      weight: 0
  tcp:
  - route:
    - destination: {host: app, port: {number: 5432}}
      weight: 100
    - destination: {host: app-canary, port: {number: 5432}}
      weight: 0
"""
    root = seed(tmp_path, {"vs.yaml": vs})
    assert shift(root, "app-canary", "app", 25) == {
        "vs.yaml": vs.replace("weight: 100", "weight: 75").replace("weight: 0", "weight: 25")}


SMI = """# from the SMI traffic-split spec (v1alpha4), with the canary at 0
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: ab-test
spec:
  service: website
  backends:
  - service: website-v1
    weight: 100
  - service: website-v2
    weight: 0
"""


def test_smi_traffic_split(tmp_path: Path) -> None:
    root = seed(tmp_path, {"split.yaml": SMI})
    assert shift(root, "website-v2", "website-v1", 90) == {
        "split.yaml": SMI.replace("weight: 100", "weight: 10").replace("weight: 0", "weight: 90")}


def test_nginx_canary_ingress_from_the_ingress_nginx_example(tmp_path: Path) -> None:
    root = corpus(tmp_path, "ingress-nginx")
    before = (root / "canary-ingress.yaml").read_text()
    plan = plan_weight(root, [], canary="canary", stable="production", weight=30)
    assert [(s.kind, s.canary, s.total) for s in plan.splits] == [("nginx-ingress", (50, 30), 100)]
    # the annotation stays a quoted string; the main Ingress and the Deployments' replicas are left alone
    assert shift(root, "canary", "production", 30) == {
        "canary-ingress.yaml": before.replace('canary-weight: "50"', 'canary-weight: "30"')}


def test_nginx_canary_weight_total(tmp_path: Path) -> None:
    ingress = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-canary
  annotations:
    nginx.ingress.kubernetes.io/canary: 'true'
    nginx.ingress.kubernetes.io/canary-weight: '0'
    nginx.ingress.kubernetes.io/canary-weight-total: '1000'
spec:
  defaultBackend: {service: {name: app-canary, port: {number: 80}}}
"""
    root = seed(tmp_path, {"ing.yaml": ingress})
    assert shift(root, "app-canary", "app", 5) == {"ing.yaml": ingress.replace("weight: '0'", "weight: '50'")}


# --------------------------------------------------------------------------- replicas, no router


def test_without_a_router_the_replicas_carry_the_split(tmp_path: Path) -> None:
    root = corpus(tmp_path, "ingress-nginx")
    for name in ("canary-ingress.yaml", "production-ingress.yaml"):
        (root / name).unlink()
    prod = (root / "production-deployment.yaml").read_text()
    (root / "production-deployment.yaml").write_text(prod.replace("replicas: 1", "replicas: 9"))
    plan = plan_weight(root, [], canary="canary", stable="production", weight=30)
    assert [(s.kind, s.canary, s.stable, s.share_after) for s in plan.splits] == [
        ("replicas", (1, 3), (9, 7), 30.0)]
    canary = (root / "canary-deployment.yaml").read_text()
    assert shift(root, "canary", "production", 30) == {
        "canary-deployment.yaml": canary.replace("replicas: 1", "replicas: 3"),
        "production-deployment.yaml": prod.replace("replicas: 1", "replicas: 7")}


def test_replicas_round_but_keep_a_pod_on_each_side(tmp_path: Path) -> None:
    root = corpus(tmp_path, "ingress-nginx")
    for name in ("canary-ingress.yaml", "production-ingress.yaml"):
        (root / name).unlink()
    plan = plan_weight(root, [], canary="canary", stable="production", weight=10)
    assert plan.edits == () and plan.splits[0].share_after == 50.0  # 1 of 2: the closest there is
    assert plan_weight(root, [], canary="canary", stable="production", weight=0).splits[0].canary == (1, 0)


def test_no_split_of_the_two_is_bad_input_naming_the_canary(tmp_path: Path) -> None:
    root = corpus(tmp_path, "gateway-api")
    with pytest.raises(InputError) as err:
        plan_weight(root, [], canary="foo-v3", stable="foo-v1", weight=10)
    assert err.value.message.startswith("input 'canary': got 'foo-v3'")


def test_a_weight_outside_0_to_100_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="a percentage from 0 to 100"):
        plan_weight(tmp_path, [], canary="a", stable="b", weight=101)


# --------------------------------------------------------------------------- blue/green


BLUE_GREEN = """apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
    slot: blue   # live
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: shop-preview
spec:
  selector: {app: shop, slot: green}
  ports: [{port: 80, targetPort: 8080}]
"""


def _slot_workload(slot: str, tag: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-{slot}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: shop, slot: {slot}}}
  template:
    metadata:
      labels: {{app: shop, slot: {slot}}}
    spec:
      containers:
      - name: shop
        image: ghcr.io/acme/shop:{tag}
"""


def test_switching_slots_edits_the_live_and_preview_selectors_only(tmp_path: Path) -> None:
    root = seed(tmp_path, {"services.yaml": BLUE_GREEN, "blue.yaml": _slot_workload("blue", "v1.4.0"),
                           "green.yaml": _slot_workload("green", "v1.5.0")})
    plan = plan_slot(root, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green"))
    assert (plan.previous, plan.slot, plan.tag, plan.previous_tag, plan.preview) == (
        "blue", "green", "v1.5.0", "v1.4.0", "shop-preview")
    assert {e.relpath: e.after.decode() for e in plan.edits} == {
        "services.yaml": BLUE_GREEN.replace("slot: blue   #", "slot: green   #").replace("slot: green}", "slot: blue}")}
    for edit in plan.edits:
        edit.path.write_bytes(edit.after)
    again = plan_slot(root, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green"))
    assert again.edits == () and again.previous == "green"
    back = plan_slot(root, [], service="shop", preview="shop-preview", slot="blue", slots=("blue", "green"))
    assert back.edits[0].after.decode() == BLUE_GREEN and back.tag == "v1.4.0"


def test_a_slot_not_in_the_slots_or_a_service_without_one_is_bad_input(tmp_path: Path) -> None:
    root = seed(tmp_path, {"services.yaml": BLUE_GREEN})
    with pytest.raises(InputError, match="input 'slot': got 'purple'"):
        plan_slot(root, [], service="shop", preview="", slot="purple", slots=("blue", "green"))
    with pytest.raises(InputError, match="input 'service': got 'cart'"):
        plan_slot(root, [], service="cart", preview="", slot="green", slots=("blue", "green"))


_SCALARS = st.one_of(st.integers(-5, 300).map(str), st.sampled_from(["", "~", "'30'", '"50"', "1.5", "0x1F", "true",
                                                                     "[1]", "{a: 1}", "&a 10", "!!str 20", "1e2"]),
                     st.text("0123456789abc-. ", max_size=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stable=_SCALARS, canary=_SCALARS, annotation=_SCALARS, weight=st.integers(0, 100))
def test_odd_values_in_weights_are_read_or_refused_never_a_crash(tmp_path_factory: pytest.TempPathFactory,
                                                                 stable: str, canary: str, annotation: str,
                                                                 weight: int) -> None:
    files = {
        "route.yaml": f"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: app}}\nspec:\n"
                      f"  rules:\n  - backendRefs:\n    - name: app\n      weight: {stable}\n"
                      f"    - name: app-canary\n      weight: {canary}\n",
        "ingress.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web-canary\n"
                        "  annotations:\n    nginx.ingress.kubernetes.io/canary: 'true'\n"
                        f"    nginx.ingress.kubernetes.io/canary-weight: {annotation}\n",
    }
    root = seed(tmp_path_factory.mktemp("odd"), files)
    for canary_name, stable_name in (("app-canary", "app"), ("web-canary", "web")):
        try:
            plan = plan_weight(root, [], canary=canary_name, stable=stable_name, weight=weight)
        except (InputError, FileError):
            continue
        for edit in plan.edits:  # whatever was planned reads back as YAML with the asked share
            yaml_splice.compose(edit.after.decode())
        assert all(change.canary[1] * 100 == change.total * weight for change in plan.splits)


# --------------------------------------------------------------------------- a slot's replicas


def _blue_green(tmp_path: Path, green: str = "") -> Path:
    return seed(tmp_path, {"services.yaml": BLUE_GREEN, "blue.yaml": _slot_workload("blue", "v1.4.0"),
                           "green.yaml": green or _slot_workload("green", "v1.5.0")})


def _write(plan: object) -> None:
    for edit in plan.edits:  # type: ignore[attr-defined]
        edit.path.write_bytes(edit.after)


def test_scaling_the_old_slot_down_edits_its_replicas_only_and_reads_back(tmp_path: Path) -> None:
    root = _blue_green(tmp_path)  # blue is live
    plan = plan_scale(root, [], service="shop", slot="idle", slots=("blue", "green"), replicas=0)
    assert (plan.slot, plan.live, plan.previous, plan.replicas, plan.tag) == ("green", "blue", 2, 0, "v1.5.0")
    assert {e.relpath: e.after.decode() for e in plan.edits} == {
        "green.yaml": _slot_workload("green", "v1.5.0").replace("replicas: 2", "replicas: 0")}
    reparsed = YAML(typ="safe").load(plan.edits[0].after)
    assert reparsed["spec"]["replicas"] == 0 and isinstance(reparsed["spec"]["replicas"], int)
    _write(plan)
    again = plan_scale(root, [], service="shop", slot="green", slots=("blue", "green"), replicas=0)
    assert again.edits == () and again.previous == 0
    up = plan_scale(root, [], service="shop", slot="green", slots=("blue", "green"), replicas=None)  # as the live
    assert up.replicas == 2 and up.edits[0].after.decode() == _slot_workload("green", "v1.5.0")


def test_the_live_slot_is_never_scaled_down(tmp_path: Path) -> None:
    """A switch back that landed before the delay ran out: the slot is live again and keeps its pods."""
    root = _blue_green(tmp_path)
    plan = plan_scale(root, [], service="shop", slot="blue", slots=("blue", "green"), replicas=0)
    assert plan.edits == () and plan.replicas == plan.previous == 2
    (finding,) = plan.findings
    assert finding.level == "warning" and "selects blue" in finding.message


def test_switching_to_a_slot_scaled_down_is_refused_until_it_is_scaled_up(tmp_path: Path) -> None:
    root = _blue_green(tmp_path, _slot_workload("green", "v1.5.0").replace("replicas: 2", "replicas: 0"))
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    with pytest.raises(FileError, match=r"runs 0 replicas .*scale-slot: green, replicas: live"):
        plan_slot(root, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green"))
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before
    _write(plan_scale(root, [], service="shop", slot="green", slots=("blue", "green"), replicas=None))
    assert plan_slot(root, [], service="shop", preview="shop-preview", slot="green", slots=("blue", "green")).edits


def test_a_slot_workload_without_replicas_or_a_missing_slot_is_refused(tmp_path: Path) -> None:
    root = _blue_green(tmp_path, _slot_workload("green", "v1.5.0").replace("  replicas: 2\n", ""))
    with pytest.raises(FileError, match=r"has no replicas .*write its replicas explicitly first"):
        plan_scale(root, [], service="shop", slot="green", slots=("blue", "green"), replicas=0)
    with pytest.raises(InputError, match="input 'scale-slot': got 'purple'"):
        plan_scale(root, [], service="shop", slot="purple", slots=("blue", "green"), replicas=0)
    (root / "green.yaml").unlink()
    with pytest.raises(InputError, match="input 'scale-slot': got 'green'; expected a slot with a workload"):
        plan_scale(root, [], service="shop", slot="green", slots=("blue", "green"), replicas=0)
