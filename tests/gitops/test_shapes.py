"""Images found by structure, in every shape real repositories use, and nothing else touched.

The first part runs over real manifests vendored in tests/data (see its README for sources and
licences); each bump must change exactly the values named, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deploy_actions.errors import FileError
from deploy_actions.gitops import yaml_splice
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.manifests import Pins, find_image_sites, plan_image_update

DATA = Path(__file__).parent.parent / "data"
DIGEST = "sha256:" + "ab" * 32
OLD_DIGEST = "sha256:" + "01" * 32


def seed(root: Path, files: dict[str, str]) -> Path:
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode())
    return root


def bump(root: Path, image: str, scope: list[str] | None = None, **kwargs: object) -> dict[str, str]:
    """relpath -> new text of each file the bump changes."""
    update = plan_image_update(root, scope or [], ImageRef.parse(image), **kwargs)  # type: ignore[arg-type]
    return {edit.relpath: edit.after.decode() for edit in update.edits}


def kinds(root: Path, image: str, scope: list[str] | None = None) -> list[tuple[str, int, str]]:
    sites, _ = find_image_sites(root, scope or [], ImageRef.parse(image))
    return [(s.relpath, s.line, s.kind) for s in sites]


# --------------------------------------------------------------------------- the vendored corpus


def corpus(tmp_path: Path, folder: str) -> Path:
    shutil.copytree(DATA / folder, tmp_path / folder)
    return tmp_path / folder


def test_argo_rollouts_experiment_and_analysis_templates(tmp_path: Path) -> None:
    root = corpus(tmp_path, "argo-rollouts")
    experiment = (root / "experiment-with-analysis.yaml").read_text()
    assert bump(root, "argoproj/rollouts-demo:green") == {
        "experiment-with-analysis.yaml": experiment.replace("rollouts-demo:purple", "rollouts-demo:green")
        .replace("rollouts-demo:orange", "rollouts-demo:green")}
    templates = (root / "analysis-templates.yaml").read_text()
    assert bump(root, "alpine:3.19") == {"analysis-templates.yaml": templates.replace("alpine:3.8", "alpine:3.19")}
    assert [k for _, _, k in kinds(root, "alpine")] == ["container", "container"]


def test_openkruise_workloads_and_a_sidecar_set(tmp_path: Path) -> None:
    root = corpus(tmp_path, "openkruise-samples")
    cloneset, sidecars = (root / "cloneset.yaml").read_text(), (root / "sidecarset.yaml").read_text()
    assert bump(root, "openkruise/hotupgrade-sample:v2") == {
        "cloneset.yaml": cloneset.replace("sample:busybox", "sample:v2"),
        # the container's image, not the placeholder image of its upgrade strategy
        "sidecarset.yaml": sidecars.replace("sample:sidecarv1", "sample:v2"),
    }
    guestbook = (root / "guestbook.yaml").read_text()
    assert bump(root, "registry.k8s.io/guestbook:v4") == {
        "guestbook.yaml": guestbook.replace("'registry.k8s.io/guestbook:v3'", "'registry.k8s.io/guestbook:v4'")}


def test_argocd_image_updater_write_back_file_and_values(tmp_path: Path) -> None:
    root = corpus(tmp_path, "argocd-image-updater")
    source = (root / ".argocd-source-testapp.yaml").read_text()
    assert bump(root, "nginx:1.2.4") == {".argocd-source-testapp.yaml": source.replace("value: 1.2.3", "value: 1.2.4")}
    assert kinds(root, "nginx") == [(".argocd-source-testapp.yaml", 7, "argocd-helm-parameter")]
    values = (root / "values.yaml").read_text()
    assert bump(root, "quay.io/dkarpele/my-guestbook:1.0.1") == {"values.yaml": values.replace(
        "\n  tag: 1.0.0", "\n  tag: 1.0.1", 1)}  # the commented-out block at the end stays as it is


def test_bitnami_chart_annotations_are_kept_in_step_with_the_values(tmp_path: Path) -> None:
    root = corpus(tmp_path, "bitnami-charts")
    (root / "values.yaml").write_text("image:\n  registry: docker.io\n  repository: bitnami/nginx\n"
                                      "  tag: 1.26.0-debian-12-r1\n  digest: \"\"\n")
    chart = (root / "Chart.yaml").read_text()
    assert bump(root, "docker.io/bitnami/nginx:1.27.0-debian-12-r0") == {
        "Chart.yaml": chart.replace("bitnami/nginx:1.26.0-debian-12-r1", "bitnami/nginx:1.27.0-debian-12-r0"),
        "values.yaml": "image:\n  registry: docker.io\n  repository: bitnami/nginx\n"
                       "  tag: 1.27.0-debian-12-r0\n  digest: \"\"\n",
    }
    assert ("Chart.yaml", 11, "chart-annotation") in kinds(root, "docker.io/bitnami/nginx")


def test_artifact_hub_image_annotations_too(tmp_path: Path) -> None:
    text = ("apiVersion: v2\nname: app\nversion: 1.0.0\nannotations:\n  artifacthub.io/images: |\n"
            "    - name: app\n      image: ghcr.io/org/app:v1 # main\n      whitelisted: true\n")
    seed(tmp_path, {"chart/Chart.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"chart/Chart.yaml": text.replace("app:v1", "app:v2")}


# --------------------------------------------------------------------------- pod specs by structure

KEDA_SCALED_JOB = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: worker
spec:
  jobTargetRef:
    template:
      spec:
        containers:
        - name: worker
          image: ghcr.io/org/app:v1
        restartPolicy: Never
  triggers: []
"""
DEPLOYMENT_CONFIG = """\
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
spec:
  template:
    spec:
      initContainers:
      - {name: init, image: "ghcr.io/org/app:v1"}
      ephemeralContainers:
      - name: debug
        image: ghcr.io/org/app:v1 # debug
"""


@pytest.mark.parametrize("text", [KEDA_SCALED_JOB, DEPLOYMENT_CONFIG])
def test_container_lists_are_found_at_any_depth_in_any_kind(tmp_path: Path, text: str) -> None:
    seed(tmp_path, {"w.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"w.yaml": text.replace("app:v1", "app:v2")}
    assert {k for _, _, k in kinds(tmp_path, "ghcr.io/org/app")} == {"container"}


def test_a_list_named_containers_that_holds_no_images_is_not_a_pod_spec(tmp_path: Path) -> None:
    seed(tmp_path, {"x.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {}\nspec:\n  containers: [a, b]\n"
                              "  note: ghcr.io/org/app:v1\n"})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {}


def test_custom_resources_spec_image_and_image_with_version(tmp_path: Path) -> None:
    text = ("apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nspec:\n  image: quay.io/prometheus/prometheus\n"
            "  version: v2.45.0\n  thanos:\n    image: quay.io/thanos/thanos:v0.31.0\n---\n"
            "apiVersion: example.com/v1\nkind: Database\nspec:\n  image: ghcr.io/org/db:1.0 # pinned\n")
    seed(tmp_path, {"cr.yaml": text})
    assert bump(tmp_path, "quay.io/prometheus/prometheus:v2.46.0") == {
        "cr.yaml": text.replace("version: v2.45.0", "version: v2.46.0")}
    assert bump(tmp_path, "quay.io/thanos/thanos:v0.32.0") == {"cr.yaml": text.replace("v0.31.0", "v0.32.0")}
    assert bump(tmp_path, "ghcr.io/org/db:1.1") == {"cr.yaml": text.replace("db:1.0", 'db:1.1')}
    assert kinds(tmp_path, "quay.io/prometheus/prometheus") == [("cr.yaml", 5, "custom-resource")]


def test_an_untagged_image_in_a_custom_resource_names_a_repository_and_is_left_alone(tmp_path: Path) -> None:
    seed(tmp_path, {"repo.yaml": "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\n"
                                 "spec:\n  image: ghcr.io/org/app\n  interval: 5m\n"})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {}


# --------------------------------------------------------------------------- Helm values by shape


@pytest.mark.parametrize(("block", "bumped"), [
    ("image:\n  repository: ghcr.io/org/app\n  tag: v1\n", "image:\n  repository: ghcr.io/org/app\n  tag: v2\n"),
    ("image:\n  name: ghcr.io/org/app\n  tag: v1\n", "image:\n  name: ghcr.io/org/app\n  tag: v2\n"),
    ("app:\n  repo: ghcr.io/org/app\n  version: v1\n", "app:\n  repo: ghcr.io/org/app\n  version: v2\n"),
    ("app:\n  image: ghcr.io/org/app\n  tag: v1\n", "app:\n  image: ghcr.io/org/app\n  tag: v2\n"),
    ("app:\n  registry: ghcr.io\n  repository: org/app\n  version: v1\n",
     "app:\n  registry: ghcr.io\n  repository: org/app\n  version: v2\n"),
    ("workers:\n- image: ghcr.io/org/app:v1\n", "workers:\n- image: ghcr.io/org/app:v2\n"),
])
def test_helm_values_image_maps_in_every_spelling(tmp_path: Path, block: str, bumped: str) -> None:
    seed(tmp_path, {"values.yaml": "replicaCount: 1\n" + block})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"values.yaml": "replicaCount: 1\n" + bumped}


def test_a_values_file_with_a_top_level_kind_key_is_still_values(tmp_path: Path) -> None:
    text = "kind: Deployment  # the chart's workload kind\nimage:\n  repository: ghcr.io/org/app\n  tag: v1\n"
    seed(tmp_path, {"values.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"values.yaml": text.replace("tag: v1", "tag: v2")}


def test_a_flux_helmrelease_values_block(tmp_path: Path) -> None:
    text = ("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n  values:\n    image:\n"
            "      repository: ghcr.io/org/app\n      tag: v1\n")
    seed(tmp_path, {"hr.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"hr.yaml": text.replace("tag: v1", "tag: v2")}
    assert kinds(tmp_path, "ghcr.io/org/app") == [("hr.yaml", 7, "helmrelease")]


# --------------------------------------------------------------------------- Argo CD

APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app
spec:
  source:
    repoURL: https://example.com/charts
    chart: app
    helm:
      values: |
        # overrides for production
        replicaCount: 3
        image:
          repository: ghcr.io/org/app   # the app
          tag: "v1"
        worker: {image: 'ghcr.io/org/app:v1'}
      parameters:
      - name: sidecar.image
        value: ghcr.io/org/app:v1
"""


def test_argocd_helm_values_string_is_edited_inside_the_string(tmp_path: Path) -> None:
    seed(tmp_path, {"app.yaml": APPLICATION})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"app.yaml": APPLICATION.replace('"v1"', '"v2"').replace(
        "app:v1'", "app:v2'").replace("value: ghcr.io/org/app:v1", "value: ghcr.io/org/app:v2")}
    assert kinds(tmp_path, "ghcr.io/org/app") == [("app.yaml", 15, "argocd-values"), ("app.yaml", 16, "argocd-values"),
                                                  ("app.yaml", 19, "argocd-helm-parameter")]


def test_argocd_values_string_gets_a_missing_tag_in_its_own_indentation(tmp_path: Path) -> None:
    text = APPLICATION.replace('          tag: "v1"\n', "").replace("        worker: {image: 'ghcr.io/org/app:v1'}\n", "")
    seed(tmp_path, {"app.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2")["app.yaml"] == text.replace(
        "# the app\n", "# the app\n          tag: v2\n").replace("value: ghcr.io/org/app:v1", "value: ghcr.io/org/app:v2")


def test_an_argocd_values_string_that_is_not_yaml_holds_no_image(tmp_path: Path) -> None:
    text = APPLICATION.replace("replicaCount: 3", "replicaCount: [3")
    seed(tmp_path, {"app.yaml": text})
    assert kinds(tmp_path, "ghcr.io/org/app") == [("app.yaml", 19, "argocd-helm-parameter")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(indent=st.integers(1, 8), comment=st.sampled_from(["", "  # c", " #"]),
       quote=st.sampled_from(["", "'", '"']), chomp=st.sampled_from(["", "-", "+"]), blank=st.booleans(),
       crlf=st.booleans())
def test_fuzz_values_strings_keep_every_other_byte(tmp_path: Path, indent: int, comment: str, quote: str,
                                                   chomp: str, blank: bool, crlf: bool) -> None:
    pad = " " * (6 + indent)
    lines = ["apiVersion: argoproj.io/v1alpha1", "kind: Application", "spec:", "  source:", "    helm:",
             f"      values: |{chomp}"]
    for line in (f"image:{comment}", f"  repository: ghcr.io/org/app{comment}", f"  tag: {quote}v1{quote}{comment}"):
        lines += [pad + line] + ([""] if blank else [])
    lines.append("    chart: x")
    eol = "\r\n" if crlf else "\n"
    text = eol.join(lines) + eol
    folder = tmp_path / f"f{indent}{len(comment)}{len(quote)}{chomp}{blank}{crlf}"
    seed(folder, {"app.yaml": text})
    assert bump(folder, "ghcr.io/org/app:v2") == {"app.yaml": text.replace(f"tag: {quote}v1", f"tag: {quote}v2")}


# --------------------------------------------------------------------------- what is not deployment config

WORKFLOW = "on: push\njobs:\n  e2e:\n    runs-on: ubuntu-latest\n    container:\n      image: ghcr.io/org/app:v1\n"


@pytest.mark.parametrize(("name", "text", "why"), [
    ("ci/e2e.yaml", WORKFLOW, "a GitHub workflow"),
    ("docker-compose.yml", "services:\n  app:\n    image: ghcr.io/org/app:v1\n", "a Compose file"),
    ("dev/stack.yaml", "services:\n  app:\n    image: ghcr.io/org/app:v1\n    ports: ['80:80']\n", "a Compose file"),
    (".gitlab-ci.yml", "image: ghcr.io/org/app:v1\nstages: [test]\n", "a CI configuration"),
    ("ci/gitlab.yml", "stages: [test]\ntest:\n  image: ghcr.io/org/app:v1\n  script: [make]\n", "a CI configuration"),
    (".circleci/config.yml", "version: 2.1\njobs:\n  t:\n    docker:\n    - image: ghcr.io/org/app:v1\n",
     "a CI configuration"),
    ("azure-pipelines.yml", "pool: {vmImage: ubuntu-latest}\nresources:\n  containers:\n  - container: app\n"
     "    image: ghcr.io/org/app:v1\n", "a CI configuration"),
    (".travis.yml", "services: [docker]\nenv: {image: ghcr.io/org/app:v1}\n", "a CI configuration"),
    ("charts/app/tests/image_test.yaml", "suite: image\ntemplates: [deployment.yaml]\ntests:\n- it: uses the image\n"
     "  set:\n    image: ghcr.io/org/app:v1\n  asserts: []\n", "a Helm test suite"),
])
def test_files_that_are_not_deployment_config_are_skipped_and_reported(tmp_path: Path, name: str, text: str,
                                                                       why: str) -> None:
    seed(tmp_path, {name: text, "values.yaml": "image: ghcr.io/org/app:v1\n"})
    update = plan_image_update(tmp_path, [], ImageRef.parse("ghcr.io/org/app:v2"))
    assert [e.relpath for e in update.edits] == ["values.yaml"]
    assert [(f.relpath, f.level, why in f.message) for f in update.findings] == [(name, "notice", True)]
    # named one by one, the file is the user's choice
    assert list(bump(tmp_path, "ghcr.io/org/app:v2", [name])) == [name]


def test_dot_github_is_out_of_scope_unless_named(tmp_path: Path) -> None:
    seed(tmp_path, {".github/workflows/e2e.yaml": WORKFLOW.replace("app:v1", f"app:v1@{OLD_DIGEST}"),
                    ".github/other.yaml": "nothing: here\n", "values.yaml": "image: ghcr.io/org/app:v1\n"})
    update = plan_image_update(tmp_path, [], ImageRef.parse("ghcr.io/org/app:v2"))
    assert [e.relpath for e in update.edits] == ["values.yaml"]
    assert [(f.relpath, f.level) for f in update.findings] == [(".github/workflows/e2e.yaml", "notice")]
    assert "out of scope" in update.findings[0].message
    assert bump(tmp_path, "ghcr.io/org/app:v2", [".github/workflows"], pins=Pins(digest=DIGEST)) == {
        ".github/workflows/e2e.yaml": WORKFLOW.replace("app:v1", f"app:v2@{DIGEST}")}


def test_values_with_a_services_map_of_image_maps_are_not_a_compose_file(tmp_path: Path) -> None:
    text = "services:\n  api:\n    image:\n      repository: ghcr.io/org/app\n      tag: v1\n"
    seed(tmp_path, {"values.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"values.yaml": text.replace("tag: v1", "tag: v2")}


def test_chart_templates_that_hold_the_image_are_reported_as_skipped(tmp_path: Path) -> None:
    seed(tmp_path, {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
                    "chart/templates/job.yaml": "image: {{ .Values.x }} # ghcr.io/org/app\n",
                    "chart/values.yaml": "image: ghcr.io/org/app:v1\n"})
    update = plan_image_update(tmp_path, [], ImageRef.parse("ghcr.io/org/app:v2"))
    assert [e.relpath for e in update.edits] == ["chart/values.yaml"]
    assert [(f.relpath, "Helm chart template" in f.message) for f in update.findings] == [
        ("chart/templates/job.yaml", True)]


# --------------------------------------------------------------------------- pins and errors


def test_a_digest_pin_is_refused_in_one_line_naming_both_ways_out(tmp_path: Path) -> None:
    text = f"image:\n  repository: ghcr.io/org/app\n  tag: v1@{OLD_DIGEST}\n"
    seed(tmp_path, {"values.yaml": text})
    with pytest.raises(FileError) as err:
        bump(tmp_path, "ghcr.io/org/app:v2")
    assert (err.value.file, err.value.line) == ("values.yaml", 3)
    assert "digest: pin" in str(err.value) and "digest: drop" in str(err.value) and "\n" not in str(err.value)
    assert bump(tmp_path, "ghcr.io/org/app:v2", pins=Pins(digest=DIGEST)) == {
        "values.yaml": text.replace(f"v1@{OLD_DIGEST}", f"v2@{DIGEST}")}
    assert bump(tmp_path, "ghcr.io/org/app:v2", pins=Pins(drop=True)) == {
        "values.yaml": text.replace(f"v1@{OLD_DIGEST}", "v2")}


def test_an_unpinned_site_stays_unpinned_when_the_registry_gives_a_digest(tmp_path: Path) -> None:
    seed(tmp_path, {"a.yaml": f"image: ghcr.io/org/app:v1@{OLD_DIGEST}\n", "b.yaml": "image: ghcr.io/org/app:v1\n"})
    assert bump(tmp_path, "ghcr.io/org/app:v2", pins=Pins(digest=DIGEST)) == {
        "a.yaml": f"image: ghcr.io/org/app:v2@{DIGEST}\n", "b.yaml": "image: ghcr.io/org/app:v2\n"}


def test_a_malformed_file_that_only_mentions_the_image_is_a_warning_with_its_line(tmp_path: Path) -> None:
    seed(tmp_path, {"tests/fixtures/broken.yaml": "# a fixture for ghcr.io/org/app\nlist: [a,\n",
                    "values.yaml": "image: ghcr.io/org/app:v1\n"})
    update = plan_image_update(tmp_path, [], ImageRef.parse("ghcr.io/org/app:v2"))
    assert [e.relpath for e in update.edits] == ["values.yaml"]
    assert [(f.relpath, f.line, f.level) for f in update.findings] == [("tests/fixtures/broken.yaml", 3, "warning")]


def test_a_malformed_file_with_an_edit_target_stops_the_bump(tmp_path: Path) -> None:
    seed(tmp_path, {"deploy.yaml": "spec:\n  containers:\n  - image: ghcr.io/org/app:v1\n  bad: [\n",
                    "values.yaml": "image: ghcr.io/org/app:v1\n"})
    with pytest.raises(FileError) as err:
        bump(tmp_path, "ghcr.io/org/app:v2")
    assert err.value.file == "deploy.yaml" and "fix the file" in str(err.value)


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: ghcr.io/org/app:v1\n"
            "    image: ghcr.io/org/app:v0\n")
    seed(tmp_path, {"pod.yaml": text})
    with pytest.raises(FileError) as err:
        bump(tmp_path, "ghcr.io/org/app:v2")
    assert (err.value.file, err.value.line) == ("pod.yaml", 7)
    assert "'image' appears twice" in str(err.value)
    assert err.value.exit_code == 2


def test_documents_left_out_read_as_empty_whatever_their_first_line_holds(tmp_path: Path) -> None:
    text = ("--- {kind: ConfigMap, data: {a: b}}\n--- |+\n  keep\n\n---\nnote: |+\n  kept ghcr.io/org/app\n\n"
            "--- # the pod\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - {name: c, image: ghcr.io/org/app:v1}\n"
            "--- !!map\nother: x\n")
    seed(tmp_path, {"multi.yaml": text})
    assert bump(tmp_path, "ghcr.io/org/app:v2") == {"multi.yaml": text.replace("app:v1}", "app:v2}")}
    read = yaml_splice.YamlText("multi.yaml", text.encode(), "org/app")
    assert [doc.id for doc in read.docs] == ["mapping", "mapping"]  # the note and the pod, nothing else
    assert read.docs[0].value[0][1].value == "kept ghcr.io/org/app\n\n"  # |+ keeps its own blank line only


_SNIPPETS = ["kind: A\nx: 1\n", "note: |+\n  ghcr.io/org/app\n\n", "a: [1, 2]\n", "# only a comment\n",
             "b: >\n  folded\n  ghcr.io/org/app\n", "{c: d}\n", "|\n  text\n", "image: ghcr.io/org/app:v1\n",
             "- ghcr.io/org/app\n- two\n", "k: 'quoted ghcr.io/org/app'\n...\n", "e: f # ghcr.io/org/app\n\n\n"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SNIPPETS), st.sampled_from(["---\n", "--- ", "---\r\n"])),
                min_size=1, max_size=8))
def test_fuzz_reading_only_some_documents_reads_them_as_the_whole_file_does(parts: list[tuple[str, str]]) -> None:
    text = "".join(marker + body for body, marker in parts)
    try:
        whole = yaml_splice.compose(text)
    except yaml_splice.YamlSyntaxError:
        whole = []  # `--- key: value` is not YAML; nothing to compare
    # a snippet that ends its document (`...`) is counted differently
    assume(len(whole) == len(parts))
    wanted = [doc for doc, (body, _) in zip(whole, parts, strict=True) if "org/app" in body]
    read = yaml_splice.YamlText("f.yaml", text.encode(), "org/app")
    assert len(read.docs) == len(wanted)
    assert yaml_splice._Comparison(()).equal(list(zip(wanted, read.docs, strict=True)))
    assert [d.start_mark.index for d in read.docs] == [d.start_mark.index for d in wanted]


# --------------------------------------------------------------------------- work grows with the file


def _work(tmp_path: Path, documents: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Characters parsed and spliced to bump one image in a file of `documents` documents, every
    other one naming the image."""
    counted = [0]
    compose, spliced = yaml_splice.compose, yaml_splice._spliced

    def counting_compose(text: str) -> list[object]:
        counted[0] += len(text)
        return compose(text)

    def counting_spliced(text: str, splices: object) -> str:
        counted[0] += len(text)
        return spliced(text, splices)  # type: ignore[arg-type]

    monkeypatch.setattr(yaml_splice, "compose", counting_compose)
    monkeypatch.setattr(yaml_splice, "_spliced", counting_spliced)
    docs = []
    for i in range(documents):
        image = "ghcr.io/org/app:v1" if i % 2 else f"ghcr.io/org/other-{i}:v1"
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n"
                    f"  - name: c\n    image: {image}\n")
    folder = tmp_path / str(documents)
    seed(folder, {"pods.yaml": "---\n".join(docs)})
    assert len(bump(folder, "ghcr.io/org/app:v2")) == 1
    return counted[0]


def test_a_file_of_thousands_of_documents_costs_work_linear_in_its_size(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _work(tmp_path, 500, monkeypatch), _work(tmp_path, 4000, monkeypatch)
    assert large < 8 * small * 1.1  # 8 times the documents: 8 times the work (quadratic would be 64)
