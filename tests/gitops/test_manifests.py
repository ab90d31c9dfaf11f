"""Finding and pinning an image in a GitOps repository: the diff is the value and nothing else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import write_edits
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.manifests import (
    ImageSite,
    ImageUpdate,
    Pins,
    find_image_sites,
    plan_image_update,
)

DATA = Path(__file__).parent.parent / "data"
DIGEST = "sha256:" + "ab" * 32
OLD_DIGEST = "sha256:" + "01" * 32
DROP = Pins(drop=True)  # digest: drop, to unpin on purpose


def seed(root: Path, files: dict[str, bytes | str]) -> Path:
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def plan(root: Path, image: str = "ghcr.io/org/app:v2", *, digest: str | None = None, scope: list[str] | None = None,
         **kwargs: object) -> ImageUpdate:
    target = ImageRef.parse(image)
    if digest:
        target = target.with_tag(target.tag, digest)
    return plan_image_update(root, scope or [], target, **kwargs)  # type: ignore[arg-type]


def edited(root: Path, files: dict[str, bytes | str], image: str = "ghcr.io/org/app:v2", **kwargs: object) -> dict[str, bytes]:
    """relpath -> new bytes of every file the bump changes (after checking each edit's shape)."""
    seed(root, files)
    update = plan(root, image, **kwargs)  # type: ignore[arg-type]
    result = {}
    for edit in update.edits:
        assert edit.path == (root / edit.relpath).resolve()
        assert edit.before == (root / edit.relpath).read_bytes()
        assert edit.after != edit.before
        result[edit.relpath] = edit.after
    return result


def one(root: Path, content: bytes | str, image: str = "ghcr.io/org/app:v2", name: str = "deploy.yaml",
        **kwargs: object) -> bytes:
    result = edited(root, {name: content}, image, **kwargs)
    assert list(result) == [name], result
    return result[name]


def unchanged(root: Path, files: dict[str, bytes | str], image: str = "ghcr.io/org/app:v2", **kwargs: object) -> None:
    assert edited(root, files, image, **kwargs) == {}


# --------------------------------------------------------------------------- Kubernetes workloads

DEPLOYMENT = """\
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app:v1  # pinned by gitops-bump
          ports:
            - containerPort: 8080
        - name: worker
          image: ghcr.io/org/app-worker:v1
"""


def test_deployment_container_gets_the_new_tag_and_nothing_else(tmp_path: Path) -> None:
    after = one(tmp_path, DEPLOYMENT)
    assert after == DEPLOYMENT.replace("app:v1  #", "app:v2  #").encode()


def test_app_worker_is_another_image(tmp_path: Path) -> None:
    after = one(tmp_path, DEPLOYMENT, "ghcr.io/org/app-worker:v7")
    assert after == DEPLOYMENT.replace("app-worker:v1", "app-worker:v7").encode()


def test_a_name_that_only_contains_the_repository_is_left_alone(tmp_path: Path) -> None:
    unchanged(tmp_path, {"a.yaml": DEPLOYMENT.replace("ghcr.io/org/app:", "ghcr.io/org/apps:")
                        .replace("app-worker", "myorg/app")})


POD_SPEC = """\
      initContainers:
      - name: init
        image: ghcr.io/org/app:v1
      containers:
      - name: main
        image: "ghcr.io/org/app:v1"
      ephemeralContainers:
      - name: debug
        image: 'ghcr.io/org/app:v1'
"""

KIND_PREFIX = {
    "Deployment": "spec:\n  template:\n    spec:\n",
    "StatefulSet": "spec:\n  template:\n    spec:\n",
    "DaemonSet": "spec:\n  template:\n    spec:\n",
    "ReplicaSet": "spec:\n  template:\n    spec:\n",
    "ReplicationController": "spec:\n  template:\n    spec:\n",
    "Job": "spec:\n  template:\n    spec:\n",
    "Rollout": "spec:\n  template:\n    spec:\n",
}


@pytest.mark.parametrize("kind", sorted(KIND_PREFIX))
def test_every_container_list_of_every_workload_kind(tmp_path: Path, kind: str) -> None:
    text = f"apiVersion: x/v1\nkind: {kind}\n" + KIND_PREFIX[kind] + POD_SPEC
    after = one(tmp_path, text)
    assert after == text.replace("app:v1", "app:v2").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.kind, s.value) for s in sites] == [
        (8, "container", "ghcr.io/org/app:v1"), (11, "container", "ghcr.io/org/app:v1"),
        (14, "container", "ghcr.io/org/app:v1")]


def test_pod_and_cronjob_through_its_job_template(tmp_path: Path) -> None:
    pod = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: ghcr.io/org/app:v1\n"
    cron = ("apiVersion: batch/v1\nkind: CronJob\nspec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n"
            "      template:\n        spec:\n          containers:\n          - name: c\n"
            "            image: ghcr.io/org/app:v1\n")
    result = edited(tmp_path, {"pod.yaml": pod, "cron.yaml": cron})
    assert result == {"pod.yaml": pod.replace(":v1", ":v2").encode(), "cron.yaml": cron.replace(":v1", ":v2").encode()}


def test_images_outside_a_pod_spec_or_a_spec_are_not_touched(tmp_path: Path) -> None:
    unchanged(tmp_path, {
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: ghcr.io/org/app:v1\n",
        "dep.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  annotations:\n"
                    "    image: ghcr.io/org/app:v1\nspec: {}\n",
    })


def test_a_pod_spec_is_found_by_structure_in_any_kind(tmp_path: Path) -> None:
    text = ("apiVersion: serving.knative.dev/v1\nkind: Service\nspec:\n  template:\n    spec:\n"
            "      containers:\n      - image: ghcr.io/org/app:v1\n")
    assert one(tmp_path, text) == text.replace(":v1", ":v2").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [s.kind for s in sites] == ["container"]


def test_a_list_kind_holds_workloads(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  spec:\n"
            "    template:\n      spec:\n        containers:\n        - image: ghcr.io/org/app:v1\n")
    assert one(tmp_path, text) == text.replace(":v1", ":v2").encode()


def test_multi_document_file_changes_only_the_matching_documents(tmp_path: Path) -> None:
    text = ("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\n---\n" + DEPLOYMENT
            + "---\n# a comment document\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
            "  - image: ghcr.io/org/app:v1\n...\n---\nkind: ConfigMap\ndata: {a: ghcr.io/org/app:v1}\n")
    after = one(tmp_path, text)
    assert after == text.replace("app:v1  #", "app:v2  #").replace("  - image: ghcr.io/org/app:v1",
                                                                     "  - image: ghcr.io/org/app:v2").encode()


def test_docker_hub_spellings_are_the_same_image_and_each_keeps_its_spelling(tmp_path: Path) -> None:
    text = """\
kind: Pod
spec:
  containers:
  - image: nginx:1.25
  - image: docker.io/library/nginx:1.25
  - image: index.docker.io/library/nginx:1.25@sha256:%s
  - image: docker.io/nginx
  - image: nginx-unprivileged:1.25
  - image: bitnami/nginx:1.25
""" % ("01" * 32)
    after = one(tmp_path, text, "docker.io/library/nginx:1.27", pins=DROP)
    assert after == text.replace("image: nginx:1.25\n", "image: nginx:1.27\n").replace(
        "library/nginx:1.25\n", "library/nginx:1.27\n").replace("nginx:1.25@sha256:" + "01" * 32, "nginx:1.27").replace(
        "docker.io/nginx\n", "docker.io/nginx:1.27\n").encode()
    assert b"nginx-unprivileged:1.25" in after and b"bitnami/nginx:1.25" in after


def test_a_registry_with_a_port_is_not_a_tag(tmp_path: Path) -> None:
    text = "kind: Pod\nspec:\n  containers:\n  - image: localhost:5000/org/app:v1\n  - image: localhost:5000/org/app\n"
    after = one(tmp_path, text, "localhost:5000/org/app:v2")
    assert after == b"kind: Pod\nspec:\n  containers:\n  - image: localhost:5000/org/app:v2\n" \
                    b"  - image: localhost:5000/org/app:v2\n"


def test_quoting_styles_comments_and_flow_style_survive(tmp_path: Path) -> None:
    text = """\
kind: Pod
spec:
  containers:
  - {name: a, image: ghcr.io/org/app:v1}   # flow
  - name: b
    image: "ghcr.io/org/app:v1"
  - name: c
    image:    'ghcr.io/org/app:v1'    # spaced
  - name: d
    "image": ghcr.io/org/app:v1 #tight
"""
    assert one(tmp_path, text) == text.replace("app:v1", "app:v2").encode()


def test_crlf_bom_and_a_missing_final_newline_survive(tmp_path: Path) -> None:
    text = "\ufeffkind: Pod\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/org/app:v1 # é\r\n  - image: ghcr.io/org/app:v1"
    after = one(tmp_path, text.encode("utf-8"))
    assert after == text.replace(":v1", ":v2").encode("utf-8")


def test_an_anchor_shared_by_two_containers_is_rewritten_once(tmp_path: Path) -> None:
    text = """\
kind: Pod
spec:
  containers:
  - name: a
    image: &img ghcr.io/org/app:v1
  - name: b
    image: *img
"""
    assert one(tmp_path, text) == text.replace("&img ghcr.io/org/app:v1", "&img ghcr.io/org/app:v2").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.value) for s in sites] == [(5, "ghcr.io/org/app:v1")]


def test_an_anchor_that_is_also_used_elsewhere_is_refused(tmp_path: Path) -> None:
    text = """\
kind: Pod
spec:
  containers:
  - name: a
    image: &img ghcr.io/org/app:v1
    env:
    - name: UPSTREAM_IMAGE
      value: *img
"""
    seed(tmp_path, {"pod.yaml": text})
    with pytest.raises(FileError) as err:
        plan(tmp_path)
    assert err.value.file == "pod.yaml" and err.value.line == 5
    assert "anchor" in str(err.value)


def test_a_value_written_across_lines_or_with_escapes_is_refused(tmp_path: Path) -> None:
    for text in ('kind: Pod\nspec:\n  containers:\n  - image: "ghcr.io/org/app:\\\n      v1"\n',
                 'kind: Pod\nspec:\n  containers:\n  - image: "ghcr.io\\x2Forg/app:v1"\n',
                 "kind: Pod\nspec:\n  containers:\n  - image: >-\n      ghcr.io/org/app:v1\n"):
        seed(tmp_path, {"pod.yaml": text})
        with pytest.raises(FileError) as err:
            plan(tmp_path)
        assert err.value.file == "pod.yaml" and err.value.line == 4


def test_already_at_the_target_plans_no_edit(tmp_path: Path) -> None:
    seed(tmp_path, {"dep.yaml": DEPLOYMENT.replace("app:v1  #", "app:v2  #")})
    update = plan(tmp_path)
    assert update.edits == () and update.changed == ()
    assert [(s.relpath, s.line, s.kind, s.current) for s in update.sites] == [
        ("dep.yaml", 13, "container", ImageRef("ghcr.io", "org/app", "v2"))]


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    seed(tmp_path, {"dep.yaml": DEPLOYMENT})
    write_edits(plan(tmp_path).edits)
    assert plan(tmp_path).edits == ()


def test_digest_pinning_writes_tag_at_digest_and_unpinning_drops_it(tmp_path: Path) -> None:
    after = one(tmp_path, DEPLOYMENT, digest=DIGEST)
    assert after == DEPLOYMENT.replace("app:v1  #", f"app:v2@{DIGEST}  #").encode()
    seed(tmp_path, {"deploy.yaml": after})
    assert one(tmp_path, after, "ghcr.io/org/app:v3", pins=DROP) == DEPLOYMENT.replace("app:v1  #", "app:v3  #").encode()


def test_sites_report_file_line_kind_and_current_reference(tmp_path: Path) -> None:
    seed(tmp_path, {"apps/app/deploy.yaml": DEPLOYMENT.replace("app:v1  #", f"app:v1@{OLD_DIGEST}  #"),
                    "apps/app/untagged.yaml": "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ghcr.io/org/app\n"})
    sites, findings = find_image_sites(tmp_path, ["apps"], ImageRef.parse("ghcr.io/org/app"))
    assert findings == ()
    assert sites == (
        ImageSite("apps/app/deploy.yaml", 13, "container", ImageRef("ghcr.io", "org/app", "v1", OLD_DIGEST),
                  f"ghcr.io/org/app:v1@{OLD_DIGEST}"),
        ImageSite("apps/app/untagged.yaml", 5, "container", ImageRef("ghcr.io", "org/app"), "ghcr.io/org/app"),
    )


# --------------------------------------------------------------------------- kustomize

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base   # the base
images:
  - name: ghcr.io/org/app
    newTag: v1 # bumped by CI
  - name: ghcr.io/org/app-worker
    newTag: "v1"
"""


def test_kustomize_entry_gets_the_new_tag(tmp_path: Path) -> None:
    after = one(tmp_path, KUSTOMIZATION, name="kustomization.yaml")
    assert after == KUSTOMIZATION.replace("newTag: v1 #", "newTag: v2 #").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.kind, s.current) for s in sites] == [(7, "kustomize", ImageRef("ghcr.io", "org/app", "v1"))]


def test_kustomize_matches_the_effective_name_new_name_first(tmp_path: Path) -> None:
    text = """\
images:
- name: app
  newName: ghcr.io/org/app
  newTag: v1
- name: ghcr.io/org/app
  newName: ghcr.io/org/app-mirror
  newTag: v1
"""
    after = one(tmp_path, text, name="overlays/prod/kustomization.yml")
    assert after == text.replace("newTag: v1\n- name: ghcr", "newTag: v2\n- name: ghcr").encode()


def test_kustomize_entry_without_new_tag_gets_one_and_a_digest_when_pinned(tmp_path: Path) -> None:
    text = "kind: Kustomization\nimages:\n- name: ghcr.io/org/app\n  newName: ghcr.io/org/app  # same\n- name: other\n"
    after = one(tmp_path, text, name="Kustomization", digest=DIGEST)
    assert after == (f"kind: Kustomization\nimages:\n- name: ghcr.io/org/app\n  newName: ghcr.io/org/app  # same\n"
                     f"  newTag: v2\n  digest: {DIGEST}\n- name: other\n").encode()


def test_kustomize_digest_is_replaced_and_dropped_when_no_longer_pinned(tmp_path: Path) -> None:
    text = f"images:\n  - name: ghcr.io/org/app\n    newTag: v1\n    digest: {OLD_DIGEST}\n  - name: x\n"
    pinned = one(tmp_path, text, name="kustomization.yaml", digest=DIGEST)
    assert pinned == text.replace("v1", "v2").replace(OLD_DIGEST, DIGEST).encode()
    assert one(tmp_path, text, name="kustomization.yaml", pins=DROP) == b"images:\n  - name: ghcr.io/org/app\n    newTag: v2\n" \
                                                             b"  - name: x\n"


def test_kustomize_digest_as_first_key_is_emptied_instead(tmp_path: Path) -> None:
    text = f"images:\n  - digest: {OLD_DIGEST}\n    name: ghcr.io/org/app\n    newTag: v1\n"
    assert one(tmp_path, text, name="kustomization.yaml", pins=DROP) == \
        b'images:\n  - digest: ""\n    name: ghcr.io/org/app\n    newTag: v2\n'


def test_kustomize_flow_style_entry(tmp_path: Path) -> None:
    text = "images: [{name: ghcr.io/org/app}, {name: x, newTag: v1}]\n"
    assert one(tmp_path, text, name="kustomization.yaml", pins=DROP) == \
        b"images: [{name: ghcr.io/org/app, newTag: v2}, {name: x, newTag: v1}]\n"


def test_flux_kustomization_spec_images(tmp_path: Path) -> None:
    text = ("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  path: ./apps\n"
            "  images:\n    - name: ghcr.io/org/app\n      newTag: v1\n")
    assert one(tmp_path, text, name="flux.yaml") == text.replace("newTag: v1", "newTag: v2").encode()


@pytest.mark.parametrize(("before", "after"), [
    ("resources:\n- deploy.yaml\nimages:\n- name: other\n  newTag: v9\n",
     "resources:\n- deploy.yaml\nimages:\n- name: other\n  newTag: v9\n- name: ghcr.io/org/app\n  newTag: v2\n"),
    ("resources:\n  - deploy.yaml\nimages:\n    -   name: other\n        newTag: v9 # keep\n",
     "resources:\n  - deploy.yaml\nimages:\n    -   name: other\n        newTag: v9 # keep\n"
     "    -   name: ghcr.io/org/app\n        newTag: v2\n"),
    ("resources:\n  - deploy.yaml\n# no images yet\n",
     "resources:\n  - deploy.yaml\nimages:\n  - name: ghcr.io/org/app\n    newTag: v2\n# no images yet\n"),
    ("resources:\r\n- deploy.yaml", "resources:\r\n- deploy.yaml\r\nimages:\r\n- name: ghcr.io/org/app\r\n  newTag: v2"),
    ("images: []\nresources: [deploy.yaml]\n", "images: [{name: ghcr.io/org/app, newTag: v2}]\nresources: [deploy.yaml]\n"),
])
def test_kustomize_add_appends_an_entry_in_the_files_style(tmp_path: Path, before: str, after: str) -> None:
    result = edited(tmp_path, {"apps/app/overlays/prod/kustomization.yaml": before}, scope=["apps/app/overlays/prod"],
                    kustomize_add=True)
    assert result == {"apps/app/overlays/prod/kustomization.yaml": after.encode()}
    seed(tmp_path, {"apps/app/overlays/prod/kustomization.yaml": after})
    assert plan(tmp_path, scope=["apps/app/overlays/prod"], kustomize_add=True).edits == ()


def test_kustomize_add_spells_the_name_as_the_resources_do_and_reports_the_site(tmp_path: Path) -> None:
    seed(tmp_path, {"kustomization.yaml": "resources:\n- pod.yaml\n",
                    "pod.yaml": "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx\n"})
    update = plan(tmp_path, "docker.io/library/nginx:1.27", kustomize_add=True, digest=DIGEST)
    assert {e.relpath: e.after for e in update.edits} == {
        "kustomization.yaml": f"resources:\n- pod.yaml\nimages:\n- name: nginx\n  newTag: '1.27'\n  digest: {DIGEST}\n"
        .replace("'1.27'", '"1.27"').encode(),
        "pod.yaml": f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.27@{DIGEST}\n".encode()}
    assert [(s.relpath, s.line, s.kind) for s in update.changed] == [("kustomization.yaml", 4, "kustomize"),
                                                                     ("pod.yaml", 5, "container")]


def test_kustomize_add_leaves_a_scope_that_already_has_an_entry(tmp_path: Path) -> None:
    result = edited(tmp_path, {"env/kustomization.yaml": "images:\n- name: ghcr.io/org/app\n  newTag: v1\n",
                               "kustomization.yaml": "resources: [env]\n"}, kustomize_add=True)
    assert result == {"env/kustomization.yaml": b"images:\n- name: ghcr.io/org/app\n  newTag: v2\n"}


def test_kustomize_add_without_a_kustomization_is_an_error(tmp_path: Path) -> None:
    seed(tmp_path, {"apps/deploy.yaml": DEPLOYMENT})
    with pytest.raises(FileError, match="kustomization") as err:
        plan(tmp_path, scope=["apps"], kustomize_add=True)
    assert err.value.file == "apps"


# --------------------------------------------------------------------------- Helm values

VALUES = """\
# Default values for app.
replicaCount: 2
image:
  registry: ghcr.io
  repository: org/app
  tag: "v1"   # set by gitops-bump
  pullPolicy: IfNotPresent
worker:
  image:
    repository: ghcr.io/org/app-worker
    tag: v1
redis:
  enabled: true
  repository: docker.io/bitnami/redis
  tag: 7.2.4
sidecars:
  - name: proxy
    image: ghcr.io/org/app:v1
"""


def test_helm_values_repository_and_tag_blocks_and_image_strings(tmp_path: Path) -> None:
    after = one(tmp_path, VALUES, name="values-prod.yaml")
    assert after == VALUES.replace('tag: "v1"', 'tag: "v2"').replace("app:v1\n", "app:v2\n").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.kind, s.value) for s in sites] == [(6, "helm-values", "v1"), (18, "helm-values", "ghcr.io/org/app:v1")]


def test_helm_values_nested_block_matched_by_repository(tmp_path: Path) -> None:
    after = one(tmp_path, VALUES, "bitnami/redis:7.4.0", name="values.yaml")
    assert after == VALUES.replace("tag: 7.2.4", "tag: 7.4.0").encode()


def test_helm_tag_that_would_read_as_a_number_is_quoted(tmp_path: Path) -> None:
    text = "image:\n  repository: ghcr.io/org/app\n  tag: 1.25\n"
    assert one(tmp_path, text, "ghcr.io/org/app:1.26", name="values.yaml") == \
        b'image:\n  repository: ghcr.io/org/app\n  tag: "1.26"\n'


def test_helm_block_without_a_tag_gets_one(tmp_path: Path) -> None:
    text = "image:\n  repository: ghcr.io/org/app\n  pullPolicy: IfNotPresent\nother: 1\n"
    assert one(tmp_path, text, name="values.yaml") == \
        b"image:\n  repository: ghcr.io/org/app\n  pullPolicy: IfNotPresent\n  tag: v2\nother: 1\n"


def test_helm_empty_tag_is_filled_in(tmp_path: Path) -> None:
    for before, after in [('tag: ""', 'tag: "v2"'), ("tag:", "tag: v2"), ("tag: ~", "tag: v2")]:
        text = f"image:\n  repository: ghcr.io/org/app\n  {before}\n  pullPolicy: Always\n"
        assert one(tmp_path, text, name="values.yaml") == text.replace(before, after).encode()


def test_helm_digest_key_is_set_otherwise_the_tag_carries_it(tmp_path: Path) -> None:
    with_key = 'image:\n  repository: ghcr.io/org/app\n  tag: v1\n  digest: ""\n'
    assert one(tmp_path, with_key, name="values.yaml", digest=DIGEST) == \
        with_key.replace("v1", "v2").replace('digest: ""', f'digest: "{DIGEST}"').encode()
    without = "image:\n  repository: ghcr.io/org/app\n  tag: v1\n"
    pinned = one(tmp_path, without, name="values.yaml", digest=DIGEST)
    assert pinned == without.replace("v1", f"v2@{DIGEST}").encode()
    seed(tmp_path, {"values.yaml": pinned})
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert sites[0].current == ImageRef("ghcr.io", "org/app", "v2", DIGEST)
    assert one(tmp_path, pinned, "ghcr.io/org/app:v3", name="values.yaml", pins=DROP) == without.replace("v1", "v3").encode()
    assert one(tmp_path, with_key.replace('""', OLD_DIGEST), name="values.yaml", pins=DROP) == \
        with_key.replace("v1", "v2").encode()


def test_helm_templates_and_templated_values_are_left_alone(tmp_path: Path) -> None:
    unchanged(tmp_path, {
        "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        "chart/templates/deployment.yaml": "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                                           "      - image: ghcr.io/org/app:v1\n"
                                           "      - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
        "values.yaml": "image:\n  repository: ghcr.io/org/app\n  tag: '{{ .Values.global.tag }}'\n",
    })


def test_templates_in_scope_are_skipped_not_errors(tmp_path: Path) -> None:
    template = "kind: Pod\nspec:\n  containers:\n  - image: {{ .Values.registry }}/org/app:{{ .Values.tag }}\n"
    seed(tmp_path, {"chart/Chart.yaml": "apiVersion: v2\nname: app\n", "chart/templates/pod.yaml": template,
                    "jinja/pod.yaml": template})
    assert plan(tmp_path, scope=["chart/templates"]).edits == ()
    update = plan(tmp_path, scope=["jinja"])
    assert update.edits == ()
    assert [(f.relpath, f.level) for f in update.findings] == [("jinja/pod.yaml", "warning")]
    assert "template" in update.findings[0].message


def test_chart_yaml_dependencies_are_not_values(tmp_path: Path) -> None:
    unchanged(tmp_path, {"Chart.yaml": "apiVersion: v2\ndependencies:\n- name: app\n  repository: ghcr.io/org/app\n"
                                       "  tag: v1\n"})


def test_flux_helmrelease_values(tmp_path: Path) -> None:
    text = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
spec:
  chart:
    spec:
      chart: app
      version: 1.2.3
  values:
    image:
      repository: ghcr.io/org/app
      tag: v1
"""
    assert one(tmp_path, text, name="release.yaml") == text.replace("tag: v1", "tag: v2").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.kind) for s in sites] == [(13, "helmrelease")]


# --------------------------------------------------------------------------- Argo CD

APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app
spec:
  source:
    repoURL: https://charts.example.org
    chart: app
    helm:
      parameters:
        - name: image.repository
          value: ghcr.io/org/app
        - name: image.tag
          value: v1
        - name: worker.image
          value: ghcr.io/org/app:v1
      valuesObject:
        sidecar:
          repository: ghcr.io/org/app
          tag: v1
  sources:
    - repoURL: https://git.example.org/gitops
      kustomize:
        images:
          - ghcr.io/org/app:v1
          - app=ghcr.io/org/app:v1
          - ghcr.io/org/app-worker:v1
"""


def test_argocd_application_parameters_values_object_and_kustomize_images(tmp_path: Path) -> None:
    after = one(tmp_path, APPLICATION, name="app.yaml")
    assert after == APPLICATION.replace("value: v1", "value: v2").replace("tag: v1", "tag: v2").replace(
        "app:v1\n", "app:v2\n").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))
    assert [(s.line, s.kind) for s in sites] == [
        (14, "argocd-helm-parameter"), (16, "argocd-helm-parameter"), (20, "argocd-values"),
        (25, "argocd-kustomize"), (26, "argocd-kustomize")]


def test_argocd_parameters_without_a_tag_get_one(tmp_path: Path) -> None:
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      parameters:\n"
            "      - name: image.repository\n        value: ghcr.io/org/app\n")
    assert one(tmp_path, text, name="app.yaml") == (text + "      - name: image.tag\n        value: v2\n").encode()


def test_argocd_applicationset_template(tmp_path: Path) -> None:
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    spec:\n      source:\n"
            "        kustomize:\n          images: ['ghcr.io/org/app:v1']\n")
    assert one(tmp_path, text, name="appset.yaml") == text.replace(":v1", ":v2").encode()


# --------------------------------------------------------------------------- Flux setters


def copy_flux_setters(tmp_path: Path) -> Path:
    root = tmp_path / "setters"
    shutil.copytree(DATA / "flux-setters" / "original", root)
    return root


def test_flux_setters_golden_files(tmp_path: Path) -> None:
    """Flux's own testdata: each policy applied in turn gives Flux's expected files byte for byte."""
    root = copy_flux_setters(tmp_path)
    policies = [
        ("automation-ns:policy", "index.repo.fake/updated:v1.0.1"),
        ("automation-ns:unchanged", "image:v1.0.0"),
        ("automation-ns:policy-with-digest",
         "image:v1.0.0@sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be"),
    ]
    changed = {}
    for policy, image in policies:
        update = plan_image_update(root, [], ImageRef.parse(image), policy=policy)
        assert update.findings == ()
        changed[policy] = sorted((s.relpath, s.line, s.value) for s in update.changed)
        write_edits(update.edits)
    assert changed == {
        "automation-ns:policy": [("Kustomization", 8, "replaced"), ("Kustomization", 9, "v1"),
                                 ("kustomization.yml", 8, "replaced"), ("kustomization.yml", 9, "v1"),
                                 ("marked.yaml", 14, "image:v1.0.0")],
        "automation-ns:unchanged": [],
        "automation-ns:policy-with-digest": [("kustomization.yml", 10, "sha256:1234567890abcdef"),
                                             ("kustomization.yml", 28, "image")],
    }
    for expected in sorted((DATA / "flux-setters" / "expected").iterdir()):
        assert (root / expected.name).read_bytes() == expected.read_bytes(), expected.name
    for name in ("otherns.yaml", "unmarked.yaml"):
        assert (root / name).read_bytes() == (DATA / "flux-setters" / "original" / name).read_bytes()
    for policy, image in policies:  # and again: nothing left to do
        assert plan_image_update(root, [], ImageRef.parse(image), policy=policy).edits == ()


SETTERS = """\
kind: Deployment
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/org/app:v1 # {"$imagepolicy": "flux-system:app"}
      - image: ghcr.io/org/app:v1
      - image: ghcr.io/org/app:v1 # {"$imagepolicy": "flux-system:app-worker"}
---
images:
- name: app
  newName: ghcr.io/org/app # {"$imagepolicy": "flux-system:app:name"}
  newTag: v1 # {"$imagepolicy":"flux-system:app:tag"}
  digest: sha256:00 # {"$imagepolicy": "flux-system:app:digest"}
values:
  tags: [v1, v1] # {"$imagepolicy": "flux-system:app:tag"}
"""


def test_flux_setter_markers_of_every_form_and_only_those(tmp_path: Path) -> None:
    after = one(tmp_path, SETTERS, name="apps.yaml", policy="flux-system:app", digest=DIGEST)
    assert after == SETTERS.replace('v1 # {"$imagepolicy": "flux-system:app"}',
                                    f'v2@{DIGEST} # {{"$imagepolicy": "flux-system:app"}}').replace(
        "newTag: v1", "newTag: v2").replace("sha256:00", DIGEST).replace("[v1, v1]", "[v1, v2]").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"), policy="flux-system:app")
    assert [(s.line, s.kind, s.value) for s in sites] == [
        (6, "flux-setter", "ghcr.io/org/app:v1"), (12, "flux-setter", "ghcr.io/org/app"),
        (13, "flux-setter", "v1"), (14, "flux-setter", "sha256:00"), (16, "flux-setter", "v1")]


def test_a_digest_setter_needs_a_digest(tmp_path: Path) -> None:
    seed(tmp_path, {"apps.yaml": SETTERS})
    with pytest.raises(FileError, match="digest") as err:
        plan(tmp_path, policy="flux-system:app")
    assert (err.value.file, err.value.line) == ("apps.yaml", 14)


def test_a_name_setter_writes_the_new_name_when_it_differs(tmp_path: Path) -> None:
    text = 'newName: ghcr.io/old/app # {"$imagepolicy": "ns:p:name"}\n'
    assert one(tmp_path, text, name="k.yaml", policy="ns:p") == text.replace("old/app", "org/app").encode()


@pytest.mark.parametrize("policy", ["flux-system", "a:b:c", "A:b", ""])
def test_a_policy_is_namespace_colon_name(tmp_path: Path, policy: str) -> None:
    with pytest.raises(InputError, match="policy"):
        plan(tmp_path, policy=policy)


# --------------------------------------------------------------------------- set: FILE:path=VALUE


def test_set_changes_any_value_with_placeholders(tmp_path: Path) -> None:
    text = """\
app:
  version: "v1"   # shown in the UI
  containers:
    - ref: ghcr.io/org/app:v1
  annotations:
    deploy.example.org/image: old
  digest: none
"""
    after = one(tmp_path, text, name="custom.yaml", digest=DIGEST, sets=[
        "custom.yaml:app.version={tag}",
        "custom.yaml:app.containers[0].ref={image}",
        r"custom.yaml:app.annotations.deploy\.example\.org/image={name}",
        "custom.yaml:app.digest={digest}",
    ])
    assert after == text.replace('"v1"', '"v2"').replace("ghcr.io/org/app:v1", f"ghcr.io/org/app:v2@{DIGEST}").replace(
        "image: old", "image: ghcr.io/org/app").replace("digest: none", f"digest: {DIGEST}").encode()
    sites, _ = find_image_sites(tmp_path, [], ImageRef.parse("ghcr.io/org/app"), sets=["custom.yaml:app.version={tag}"])
    assert sites == (ImageSite("custom.yaml", 2, "set", ImageRef("ghcr.io", "org/app", "v1"), "v1"),)


def test_set_and_other_shapes_in_one_file_make_one_edit(tmp_path: Path) -> None:
    text = DEPLOYMENT + "---\nkind: Config\nversion: v1\n"
    update_files = edited(tmp_path, {"d.yaml": text}, sets=["d.yaml:version={tag}"])
    assert update_files == {"d.yaml": text.replace("app:v1  #", "app:v2  #").replace("version: v1", "version: v2")
                            .encode()}


@pytest.mark.parametrize("entry", ["values.yaml", "values.yaml:image.tag", ":a=b", "values.yaml:=x", "values.yaml:a..b=x",
                                   "values.yaml:a=x{bogus}", "values.yaml:a=x{tag.__class__}"])
def test_set_syntax_errors_name_the_input(tmp_path: Path, entry: str) -> None:
    with pytest.raises(InputError, match="set"):
        plan(tmp_path, sets=[entry])


def test_set_digest_placeholder_needs_a_digest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="digest"):
        plan(tmp_path, sets=["values.yaml:a={digest}"])


def test_set_on_a_missing_file_path_or_a_non_scalar_is_a_file_error(tmp_path: Path) -> None:
    seed(tmp_path, {"values.yaml": "a:\n  b: 1\n"})
    for entry, message in [("nope.yaml:a=x", "not found"), ("values.yaml:a.c=x", "has no a.c"),
                           ("values.yaml:a=x", "mapping")]:
        with pytest.raises(FileError, match=message):
            plan(tmp_path, sets=[entry])


# --------------------------------------------------------------------------- scope and paths


def test_scope_limits_the_search_to_its_folders_and_files(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {f"apps/app/overlays/{env}/deploy.yaml": DEPLOYMENT for env in ("dev", "prod")}
    files["apps/app/overlays/prod/patch.yml"] = DEPLOYMENT
    result = edited(tmp_path, files, scope=["apps/app/overlays/prod"])
    assert sorted(result) == ["apps/app/overlays/prod/deploy.yaml", "apps/app/overlays/prod/patch.yml"]
    result = edited(tmp_path, files, scope=["apps/app/overlays/dev/deploy.yaml"])
    assert sorted(result) == ["apps/app/overlays/dev/deploy.yaml"]


def test_git_folder_and_symbolic_links_are_skipped(tmp_path: Path) -> None:
    seed(tmp_path, {".git/x.yaml": DEPLOYMENT, "real/deploy.yaml": DEPLOYMENT})
    os.symlink(tmp_path / "real" / "deploy.yaml", tmp_path / "link.yaml")
    os.symlink(tmp_path / "real", tmp_path / "linked-folder")
    assert sorted(edited(tmp_path, {})) == ["real/deploy.yaml"]


@pytest.mark.parametrize("scope", ["../outside", "/etc", "apps/../../outside", "missing"])
def test_scope_outside_the_repository_or_missing_is_refused(tmp_path: Path, scope: str) -> None:
    (tmp_path / "repo" / "apps").mkdir(parents=True)
    with pytest.raises(InputError, match="path"):
        plan(tmp_path / "repo", scope=[scope])


def test_a_symbolic_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    seed(tmp_path, {"outside/deploy.yaml": DEPLOYMENT})
    (tmp_path / "repo").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "repo" / "escape")
    with pytest.raises(InputError, match="path"):
        plan(tmp_path / "repo", scope=["escape"])
    with pytest.raises(InputError, match="set"):
        plan(tmp_path / "repo", sets=["escape/deploy.yaml:a=b"])
    with pytest.raises(InputError, match="set"):
        plan(tmp_path / "repo", sets=["../outside/deploy.yaml:a=b"])


def test_a_target_needs_a_tag(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="tag"):
        plan_image_update(tmp_path, [], ImageRef.parse("ghcr.io/org/app"))


# --------------------------------------------------------------------------- malformed files


def test_malformed_unrelated_file_is_a_warning_and_is_skipped(tmp_path: Path) -> None:
    seed(tmp_path, {"a/deploy.yaml": DEPLOYMENT,
                    "b/worker.yaml": "image: ghcr.io/org/app-worker:v1\n  bad: [indent\n"})
    update = plan(tmp_path)
    assert [e.relpath for e in update.edits] == ["a/deploy.yaml"]
    assert len(update.findings) == 1
    finding = update.findings[0]
    assert (finding.relpath, finding.line, finding.level, finding.rule) == ("b/worker.yaml", 2, "warning", "yaml-syntax")


def test_a_file_that_never_mentions_the_image_is_not_parsed_at_all(tmp_path: Path) -> None:
    seed(tmp_path, {"a/deploy.yaml": DEPLOYMENT, "b/broken.yaml": "key: [unclosed\n"})
    assert plan(tmp_path).findings == ()


@pytest.mark.parametrize(("content", "line"), [
    ("kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/org/app:v1\n  bad: [x\n", 6),
    ("image:\n  repository: org/app\n\ttag: v1\n", 3),
    (b"image: ghcr.io/org/app:v1 \xff\n", 1),
])
def test_malformed_target_file_is_an_error_and_nothing_is_planned(tmp_path: Path, content: str | bytes,
                                                                  line: int) -> None:
    seed(tmp_path, {"a/deploy.yaml": DEPLOYMENT, "b/broken.yaml": content})
    with pytest.raises(FileError) as err:
        plan(tmp_path)
    assert (err.value.file, err.value.line) == ("b/broken.yaml", line)
    assert "\n" not in str(err.value)


def test_only_the_documents_that_mention_the_image_are_parsed(tmp_path: Path) -> None:
    """A broken document elsewhere in a file is not ours to judge (lint reports it)."""
    text = "a: [broken\n---\n" + DEPLOYMENT + "---\nb: {broken\n"
    assert one(tmp_path, text) == text.replace("app:v1  #", "app:v2  #").encode()
    seed(tmp_path, {"deploy.yaml": text})
    with pytest.raises(FileError) as err:
        plan(tmp_path, sets=["deploy.yaml:kind={tag}"])  # a set reads the whole file
    assert err.value.line == 2  # where the unclosed list of line 1 meets the next document


def test_a_file_with_directives_is_read_whole(tmp_path: Path) -> None:
    text = "%YAML 1.1\n---\nkind: Pod\nspec:\n  containers:\n  - image: ghcr.io/org/app:v1\n"
    assert one(tmp_path, text) == text.replace(":v1", ":v2").encode()


def test_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    seed(tmp_path, {"a.yaml": DEPLOYMENT, "b.yaml": "kind: Pod\nspec:\n  containers:\n  - image: !!binary ghcr.io/org/app:v1\n"})
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(FileError) as err:
        plan(tmp_path)
    assert "\n" not in str(err.value)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


# --------------------------------------------------------------------------- public manifests


@pytest.mark.parametrize(("name", "old", "new"), [
    ("guestbook-all-in-one.yaml", "gcr.io/google-samples/gb-frontend:v5", "gcr.io/google-samples/gb-frontend:v6"),
    ("guestbook-all-in-one.yaml", "registry.k8s.io/redis:e2e", "registry.k8s.io/redis:7.2"),
    ("cockroachdb-statefulset.yaml", "cockroachdb/cockroach:v1.1.0", "cockroachdb/cockroach:v1.1.1"),
    ("cockroachdb-statefulset.yaml", "cockroachdb/cockroach-k8s-init:0.2", "cockroachdb/cockroach-k8s-init:0.3"),
    ("javaweb-2.yaml", "resouer/sample:v2", "resouer/sample:v3"),
    ("es-rc.yaml", "image: busybox\n", "image: busybox:1.36\n"),
    ("cassandra-statefulset.yaml", "gcr.io/google-samples/cassandra:v14", "gcr.io/google-samples/cassandra:v15"),
    ("minio-distributed-statefulset.yaml", "minio/minio:latest", "minio/minio:RELEASE.2024-01-01T00-00-00Z"),
    ("newrelic-daemonset.yaml", "newrelic/nrsysmond\n", "newrelic/nrsysmond:2.3\n"),
])
def test_kubernetes_examples_change_exactly_one_reference(tmp_path: Path, name: str, old: str, new: str) -> None:
    shutil.copytree(DATA / "kubernetes-examples", tmp_path / "examples")
    original = (DATA / "kubernetes-examples" / name).read_bytes()
    assert original.count(old.encode()) == 1
    image = new.strip().removeprefix("image: ")
    update = plan_image_update(tmp_path / "examples", [], ImageRef.parse(image))
    assert [(e.relpath, e.after) for e in update.edits] == [(name, original.replace(old.encode(), new.encode()))]
    assert len(update.changed) == 1


# --------------------------------------------------------------------------- fuzzing

REGISTRIES = ["ghcr.io/org/", "docker.io/library/", "", "localhost:5000/", "registry.example.com:443/team/",
              "index.docker.io/", "docker.io/"]
NAMES = ["app", "nginx", "app-worker", "123"]
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
QUOTES = st.sampled_from(["", "'", '"'])
COMMENTS = st.sampled_from(["", " # pinned", "  # ghcr.io/org/app:v0 was here", " #app:v1", "\t# tab"])


def needs_quotes(value: str) -> bool:
    """Independent of the code under test: would a plain scalar read back as anything but this string,
    in YAML 1.1 (PyYAML, as Kubernetes reads) or 1.2 (ruamel.yaml)? (go-yaml also takes y/n as booleans.)"""
    import yaml as pyyaml
    from ruamel.yaml import YAML

    text = f"v: {value}\n"
    return (value in ("y", "Y", "n", "N") or pyyaml.safe_load(text) != {"v": value}
            or YAML(typ="safe", pure=True).load(text) != {"v": value})


def style(value: str, quote: str) -> str:
    """The quote a value is written with: plain only when it reads back as itself."""
    return '"' if quote == "" and needs_quotes(value) else quote


def quoted(value: str, quote: str) -> str:
    quote = style(value, quote)
    return f"{quote}{value}{quote}"


@st.composite
def fuzz_repositories(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str], ImageRef]:
    """(files before, files expected after, target) for a random repository."""
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    images = draw(st.lists(st.tuples(st.sampled_from(REGISTRIES), st.sampled_from(NAMES), TAGS, QUOTES, COMMENTS),
                           min_size=1, max_size=5))
    target_registry, target_name = draw(st.sampled_from([(r, n) for r, n, *_ in images]))
    target = ImageRef.parse(f"{target_registry}{target_name}:{draw(TAGS)}")
    if draw(st.booleans()):
        target = target.with_tag(target.tag, "sha256:" + draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)))
    suffix = f":{target.tag}" + (f"@{target.digest}" if target.digest else "")
    dash = draw(st.sampled_from(["", "  "]))

    def matches(registry: str, name: str) -> bool:
        return ImageRef.parse(registry + name).name == target.name

    before, after = [], []
    for registry, name, tag, quote, comment in images:
        line = f"      {dash}- name: c{eol}      {dash}  image: "
        before.append(line + quoted(f"{registry}{name}:{tag}", quote) + comment + eol)
        old = f"{registry}{name}:{tag}"
        new = f"{registry}{name}{suffix}" if matches(registry, name) else old
        after.append(line + quoted(new, style(old, quote)) + comment + eol)
    head = f"# generated{eol}apiVersion: apps/v1{eol}kind: Deployment{eol}spec:{eol}  template:{eol}    spec:{eol}" \
           f"      containers:{eol}"
    service = f"---{eol}apiVersion: v1{eol}kind: Service{eol}metadata:{eol}  name: x # ghcr.io/org/app:v1{eol}"
    deploy_before = head + "".join(before) + service
    deploy_after = head + "".join(after) + service

    registry, name, tag, quote, comment = images[0]
    value_quote = draw(QUOTES)
    values_head = f"image:{eol}  repository: {registry}{name}{comment}{eol}  tag: "
    values_before = values_head + quoted(tag, value_quote) + f"{eol}  pullPolicy: IfNotPresent{eol}"
    new_tag = target.tag + (f"@{target.digest}" if target.digest else "") if matches(registry, name) else tag
    values_after = values_head + quoted(new_tag or "", style(tag, value_quote)) + f"{eol}  pullPolicy: IfNotPresent{eol}"

    kust_head = f"resources:{eol}- deploy.yaml{eol}images:{eol}- name: {registry}{name}{eol}  newTag: "
    kust_before = kust_head + quoted(tag, quote) + comment
    kust_after = kust_head + quoted(target.tag or "" if matches(registry, name) else tag, style(tag, quote)) + comment
    if target.digest and matches(registry, name):
        kust_after += f"{eol}  digest: {target.digest}"
    final = draw(st.booleans())
    files_before = {"deploy.yaml": deploy_before, "values.yaml": values_before, "kustomization.yaml": kust_before + (eol if final else "")}
    files_after = {"deploy.yaml": deploy_after, "values.yaml": values_after, "kustomization.yaml": kust_after + (eol if final else "")}
    return files_before, files_after, target


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=fuzz_repositories())
def test_fuzzed_repositories_change_exactly_the_intended_values(tmp_path_factory: pytest.TempPathFactory,
                                                                 case: tuple[dict[str, str], dict[str, str], ImageRef]) -> None:
    before, expected, target = case
    root = tmp_path_factory.mktemp("fuzz")
    seed(root, {k: v.encode() for k, v in before.items()})
    update = plan_image_update(root, [], target)
    got = {e.relpath: e.after.decode() for e in update.edits}
    assert got == {k: v for k, v in expected.items() if v != before[k]}
    write_edits(update.edits)
    assert plan_image_update(root, [], target).edits == ()


YAML_BITS = st.sampled_from([
    "image: ", "ghcr.io/org/app:v1", "ghcr.io/org/app", "- ", "  ", "\n", ": ", "&a ", "*a", "!!str ", "'", '"', "#",
    "{", "}", "[", "]", ",", "---\n", "repository: ", "tag: ", "kind: Pod\n", "containers:\n", "spec:\n", "\t", "|\n",
    "\\", "%YAML 1.1\n", "images:\n", "newTag: ", "name: ", "\r\n", "é", "\ufeff",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=st.lists(YAML_BITS, max_size=40).map("".join), digest=st.booleans(), add=st.booleans())
def test_fuzzed_yaml_gives_an_edit_or_one_of_our_errors(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                        digest: bool, add: bool) -> None:
    root = tmp_path_factory.mktemp("junk")
    seed(root, {"kustomization.yaml": text.encode(), "values.yaml": text.encode()})
    try:
        update = plan(root, digest=DIGEST if digest else None, kustomize_add=add,
                      sets=["values.yaml:image={image}"] if add else [])
    except (FileError, InputError) as err:
        assert "\n" not in str(err)
        return
    write_edits(update.edits)
    sites, _ = find_image_sites(root, [], ImageRef.parse("ghcr.io/org/app"))
    for site in sites:  # every place now pins the new image, and a second run has nothing to do
        assert (site.current.tag, site.current.digest) == ("v2", DIGEST if digest else None), site
    assert plan(root, digest=DIGEST if digest else None, kustomize_add=add).edits == ()


def test_the_pure_python_parser_gives_the_same_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, ruamel.yaml's composer is used: same nodes, same offsets, same result."""
    from deploy_actions.gitops import yaml_splice

    files: dict[str, bytes | str] = {
        "deploy.yaml": DEPLOYMENT, "crlf.yaml": "\ufeffkind: Pod\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/org/app:v1",
        "kustomization.yaml": KUSTOMIZATION.replace("    newTag: v1 # bumped by CI\n", ""), "values.yaml": VALUES,
        "app.yaml": APPLICATION, "multi.yaml": "a: [1\n---\n" + DEPLOYMENT, "empty.yaml": "image:\n  repository: ghcr.io/org/app\n  tag:\n",
    }
    seed(tmp_path / "c", files)
    fast = plan(tmp_path / "c", digest=DIGEST, kustomize_add=True)
    monkeypatch.setattr(yaml_splice, "_compose", yaml_splice._pure_composer())
    seed(tmp_path / "p", files)
    pure = plan(tmp_path / "p", digest=DIGEST, kustomize_add=True)
    assert [(e.relpath, e.after) for e in pure.edits] == [(e.relpath, e.after) for e in fast.edits]
    assert len(pure.edits) == 7
    assert pure.sites == fast.sites
    seed(tmp_path / "p", {"bad.yaml": "image: ghcr.io/org/app:v1\n  x: [\n"})
    with pytest.raises(FileError) as err:
        plan(tmp_path / "p")
    assert (err.value.file, err.value.line) == ("bad.yaml", 2)


@pytest.mark.parametrize(("value", "plain"), [
    ("v1.2.3", True), ("1.25.3", True), ("latest", True), ("ghcr.io/org/app:1.25", True), ("sha256:" + "a" * 64, True),
    ("1.25", False), ("08", False), ("1e3", False), ("1_000", False), ("0x1F", False), ("2024-01-01", False),
    ("1:20", False), ("123:45", False), ("yes", False), ("on", False), ("y", False), ("null", False), ("", False),
])
def test_a_value_that_would_not_read_back_as_that_string_is_quoted(value: str, plain: bool) -> None:
    from deploy_actions.gitops.yaml_splice import plain_ok, scalar_text

    assert plain_ok(value) is plain
    assert scalar_text(value) == (value if plain else f'"{value}"')
    assert scalar_text(value, "'") == f"'{value}'"


WORKER_RUN = """
import json, sys
from pathlib import Path
from deploy_actions.errors import FileError
from deploy_actions.gitops import manifests
from deploy_actions.gitops.image_ref import ImageRef
manifests.WORKERS = 3
target = ImageRef.parse("ghcr.io/org/app:v2").with_tag("v2", sys.argv[2])
try:
    update = manifests.plan_image_update(Path(sys.argv[1]), [], target, sets=["apps/values.yaml:replicaCount={tag}"])
except FileError as err:
    print(json.dumps({"error": [err.message, err.file, err.line]}))
else:
    print(json.dumps({"edits": [[e.relpath, e.after.decode()] for e in update.edits],
                      "sites": [repr(s) for s in update.sites], "changed": [repr(s) for s in update.changed],
                      "findings": [repr(f) for f in update.findings]}))
"""


def test_worker_processes_give_the_same_plan_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big searches are shared by forked workers (in a fresh, single-threaded process); the result
    is the one a single process gets."""
    import json
    import subprocess
    import sys

    from deploy_actions.gitops import manifests

    files: dict[str, bytes | str] = {f"apps/a{i:02}/deploy.yaml": DEPLOYMENT for i in range(30)}
    files.update({"apps/values.yaml": VALUES, "apps/kustomization.yaml": KUSTOMIZATION, "apps/app.yaml": APPLICATION,
                  "apps/x/worker.yaml": "image: ghcr.io/org/app-worker:v1\n  bad: [\n"})
    seed(tmp_path, files)

    def in_workers() -> dict[str, object]:
        run = subprocess.run([sys.executable, "-c", WORKER_RUN, str(tmp_path), DIGEST], capture_output=True,
                             text=True, check=True)
        result: dict[str, object] = json.loads(run.stdout)
        return result

    monkeypatch.setattr(manifests, "WORKERS", 1)
    serial = plan(tmp_path, digest=DIGEST, sets=["apps/values.yaml:replicaCount={tag}"])
    assert len(serial.edits) == 33 and len(serial.findings) == 1
    assert in_workers() == {"edits": [[e.relpath, e.after.decode()] for e in serial.edits],
                            "sites": [repr(s) for s in serial.sites], "changed": [repr(s) for s in serial.changed],
                            "findings": [repr(f) for f in serial.findings]}
    seed(tmp_path, {"apps/a17/broken.yaml": "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/org/app:v1\n  - [\n"})
    assert in_workers() == {"error": ["is not valid YAML: did not find expected node content; nothing was written, "
                                      "fix the file first", "apps/a17/broken.yaml", 6]}


def test_kustomize_add_refuses_an_images_key_that_is_not_a_list(tmp_path: Path) -> None:
    seed(tmp_path, {"kustomization.yaml": "resources: [a.yaml]\nimages:\n"})
    with pytest.raises(FileError, match="images") as err:
        plan(tmp_path, kustomize_add=True)
    assert (err.value.file, err.value.line) == ("kustomization.yaml", 2)


def test_a_dropped_digest_on_the_last_line_keeps_the_missing_final_newline(tmp_path: Path) -> None:
    text = f"images:\r\n- name: ghcr.io/org/app\r\n  newTag: v1\r\n  digest: {OLD_DIGEST}"
    assert one(tmp_path, text, name="kustomization.yaml", pins=DROP) == b"images:\r\n- name: ghcr.io/org/app\r\n  newTag: v2"


def test_set_changes_the_path_in_every_document_that_has_it(tmp_path: Path) -> None:
    text = "app:\n  tag: v1\n---\nother: 1\n---\napp:\n  tag: 'v1'\n"
    assert one(tmp_path, text, name="multi.yaml", sets=["multi.yaml:app.tag={tag}"]) == \
        text.replace("tag: v1", "tag: v2").replace("'v1'", "'v2'").encode()


def test_a_helm_block_shared_through_an_anchor_is_refused(tmp_path: Path) -> None:
    text = "image: &img\n  repository: ghcr.io/org/app\n  tag: v1\nmirror:\n  image: *img\n"
    seed(tmp_path, {"values.yaml": text})
    with pytest.raises(FileError, match="anchor") as err:
        plan(tmp_path)
    assert (err.value.file, err.value.line) == ("values.yaml", 3)
