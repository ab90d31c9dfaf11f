"""deploy_actions.github against a local GitHub API whose every answer matches GitHub's schema."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import deploy_actions.github as github_module
from deploy_actions.errors import InputError, OperationError
from deploy_actions.github import GitHubClient
from tests.fakes.github_api import (
    GitHubAPIFake,
    ResponseSchemas,
    repository_root,
    to_json_schema,
)


@pytest.fixture
def client(github_api: GitHubAPIFake) -> Iterator[GitHubClient]:
    client = GitHubClient(github_api.repository, github_api.token, github_api.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PyGithub's polite pause between requests (0.25 s, 1 s after a write)."""
    monkeypatch.setattr(github_module, "SECONDS_BETWEEN_REQUESTS", 0)
    monkeypatch.setattr(github_module, "SECONDS_BETWEEN_WRITES", 0)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the sleeps between them, so retry tests stay fast."""
    monkeypatch.setattr(github_module, "BACKOFF_SECONDS", 0)


def _chain(exc: BaseException) -> str:
    """Every message in an exception and the exceptions it was raised from."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(texts) < 20:
        texts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


# -- releases --------------------------------------------------------------------------------


def test_create_release_publishes_it_and_returns_its_page(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    url = client.create_release("v1.2.0", "v1.2.0", "### Added\n- canary analysis")

    assert url == "https://github.com/org/app/releases/tag/v1.2.0"
    [release] = github_api.releases
    assert (release.tag_name, release.name, release.body) == (
        "v1.2.0",
        "v1.2.0",
        "### Added\n- canary analysis",
    )
    assert not release.draft
    assert not release.prerelease


def test_create_release_passes_prerelease_and_target_commitish(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    client.create_release("v2.0.0-rc.1", "v2.0.0-rc.1", "rc", prerelease=True, target_commitish="abc123")

    release = github_api.release_for_tag("v2.0.0-rc.1")
    assert release is not None
    assert release.prerelease
    assert release.target_commitish == "abc123"
    [create] = github_api.calls("POST", "/repos/org/app/releases")
    assert create.body["make_latest"] == "false"  # a release candidate never becomes "latest"


def test_create_release_twice_with_the_same_notes_changes_nothing_the_second_time(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    first = client.create_release("v1.2.0", "v1.2.0", "notes")
    writes_before = [r for r in github_api.requests if r.method != "GET"]

    second = client.create_release("v1.2.0", "v1.2.0", "notes")

    assert second == first
    assert len(github_api.releases) == 1
    assert [r for r in github_api.requests if r.method != "GET"] == writes_before


def test_create_release_for_a_tag_that_has_one_updates_it_instead_of_duplicating(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    existing = github_api.seed_release("v1.2.0", name="old name", body="old notes")

    url = client.create_release("v1.2.0", "v1.2.0", "new notes")

    assert url == "https://github.com/org/app/releases/tag/v1.2.0"
    assert github_api.releases == [existing]
    assert (existing.name, existing.body) == ("v1.2.0", "new notes")
    assert not github_api.calls("POST")


def test_create_release_recovers_when_the_release_appears_between_lookup_and_create(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    # Another job published v1.2.0 just after our look-up said there was none.
    github_api.seed_release("v1.2.0", body="theirs")
    github_api.fail_next(status=404, method="GET", path="/repos/org/app/releases/tags/v1.2.0")

    client.create_release("v1.2.0", "v1.2.0", "ours")

    [release] = github_api.releases
    assert release.body == "ours"
    assert [r.status for r in github_api.calls("POST")] == [422]


def test_a_create_whose_answer_was_lost_is_retried_without_a_duplicate(
    client: GitHubClient, github_api: GitHubAPIFake, no_backoff: None
) -> None:
    github_api.fail_next(status=502, method="POST", path="/repos/org/app/releases", after_handling=True)

    url = client.create_release("v1.2.0", "v1.2.0", "notes")

    assert url.endswith("/releases/tag/v1.2.0")
    assert len(github_api.releases) == 1
    assert [r.status for r in github_api.calls("POST")] == [502, 422]


# -- pull requests ---------------------------------------------------------------------------


def test_open_or_update_opens_a_pull_request_when_none_is_open(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    url, created = client.open_or_update_pull_request("release/v1.2.0", "main", "chore: release v1.2.0", "notes")

    assert created
    [pull] = github_api.pulls.values()
    assert url == f"https://github.com/org/app/pull/{pull.number}"
    assert (pull.label, pull.base, pull.title, pull.body) == (
        "org:release/v1.2.0",
        "main",
        "chore: release v1.2.0",
        "notes",
    )


def test_a_second_call_updates_the_open_pull_request_instead_of_opening_another(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    first_url, _ = client.open_or_update_pull_request("release/next", "main", "v1.2.0", "a")

    second_url, created = client.open_or_update_pull_request("release/next", "main", "v1.3.0", "b")

    assert not created
    assert second_url == first_url
    [pull] = github_api.pulls.values()
    assert (pull.title, pull.body) == ("v1.3.0", "b")
    assert len(github_api.calls("POST")) == 1


def test_updating_a_pull_request_to_what_it_already_says_sends_no_write(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    pull = github_api.seed_pull_request(head="release/next", title="v1.2.0", body="notes")

    url, created = client.open_or_update_pull_request("release/next", "main", "v1.2.0", "notes")

    assert (url, created) == (f"https://github.com/org/app/pull/{pull.number}", False)
    assert [r.method for r in github_api.requests] == ["GET"]


def test_a_closed_pull_request_from_the_same_branch_is_not_reused(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    closed = github_api.seed_pull_request(head="release/next", state="closed")

    _, created = client.open_or_update_pull_request("release/next", "main", "v1.2.0", "notes")

    assert created
    assert len(github_api.pulls) == 2
    assert closed.title == "A change"


def test_pull_requests_are_matched_on_both_head_owner_and_base(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    fork = github_api.seed_pull_request(head="fix", head_owner="someone", title="fork PR")
    other_base = github_api.seed_pull_request(head="fix", base="release-1.x", title="backport")

    url, created = client.open_or_update_pull_request("fix", "main", "ours", "body")

    assert created
    assert (fork.title, other_base.title) == ("fork PR", "backport")
    url, created = client.open_or_update_pull_request("someone:fix", "main", "fork, updated", "b")
    assert (url, created) == (f"https://github.com/org/app/pull/{fork.number}", False)
    assert fork.title == "fork, updated"


def test_open_or_update_recovers_when_the_pull_request_appears_meanwhile(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    # Another job opened it just after our look-up came back empty.
    theirs = github_api.seed_pull_request(head="release/next", title="theirs")
    github_api.tamper_next(lambda pulls: [], method="GET", path="/repos/org/app/pulls")

    url, created = client.open_or_update_pull_request("release/next", "main", "ours", "b")

    assert (url, created) == (f"https://github.com/org/app/pull/{theirs.number}", False)
    assert theirs.title == "ours"
    assert len(github_api.pulls) == 1


def test_pull_request_files_follows_every_page(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    files = [f"deploy/overlays/env-{i:03}/kustomization.yaml" for i in range(250)]
    pull = github_api.seed_pull_request(files=files)

    assert client.pull_request_files(pull.number) == files
    pages = github_api.calls("GET", f"/repos/org/app/pulls/{pull.number}/files")
    assert [r.query.get("page", "1") for r in pages] == ["1", "2", "3"]
    assert {r.query["per_page"] for r in pages} == {"100"}


def test_pull_request_labels_lists_their_names_in_order(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request(labels=["release", "skip-changelog", "bug"])

    assert client.pull_request_labels(pull.number) == ["release", "skip-changelog", "bug"]


def test_a_pull_request_without_labels_has_none(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request()

    assert client.pull_request_labels(pull.number) == []


def test_default_branch_reads_the_repository(client: GitHubClient) -> None:
    assert client.default_branch() == "main"


# -- configuration ---------------------------------------------------------------------------


def test_the_api_url_comes_from_GITHUB_API_URL_when_not_given(
    github_api: GitHubAPIFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github_api.url + "/")
    client = GitHubClient("org/app", github_api.token)

    assert client.api_url == github_api.url
    assert client.default_branch() == "main"


def test_the_api_url_defaults_to_api_github_com(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_API_URL", raising=False)

    assert GitHubClient("org/app", "ghs_token").api_url == "https://api.github.com"


def test_github_enterprise_server_urls_with_a_path_prefix_work_across_pages(
    github_api_schemas: ResponseSchemas,
) -> None:
    with GitHubAPIFake(github_api_schemas, prefix="/api/v3") as ghes:
        pull = ghes.seed_pull_request(files=[f"f{i}" for i in range(101)], labels=["x"])
        client = GitHubClient(ghes.repository, ghes.token, ghes.url)

        assert ghes.url.endswith("/api/v3")
        assert len(client.pull_request_files(pull.number)) == 101
        assert client.pull_request_labels(pull.number) == ["x"]
        client.create_release("v1.0.0", "v1.0.0", "a")
        client.create_release("v1.0.0", "v1.0.0", "b")  # PATCHes the url GitHub handed back
        assert ghes.releases[0].body == "b"
        client.close()
        assert {r.path.split("/")[1] for r in ghes.requests} == {"repos"}  # prefix stripped
        ghes.raise_for_problems()


@pytest.mark.parametrize("repository", ["app", "org/", "/app", "org/app/extra", "-org/app", "org/..", ""])
def test_a_repository_not_shaped_owner_slash_name_is_bad_input(repository: str) -> None:
    with pytest.raises(InputError) as caught:
        GitHubClient(repository, "ghs_token")

    assert caught.value.name == "github-repository"
    assert "owner/name" in str(caught.value)


def test_an_empty_token_is_bad_input() -> None:
    with pytest.raises(InputError, match="github-token"):
        GitHubClient("org/app", "")


def test_an_api_url_carrying_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(InputError) as caught:
        GitHubClient("org/app", "ghs_token", "https://user:s3cret@ghe.example.com/api/v3")

    assert "s3cret" not in str(caught.value)
    assert "GITHUB_API_URL" in str(caught.value)


# -- failures --------------------------------------------------------------------------------


def test_a_bad_token_is_an_operation_error_that_does_not_show_the_token(
    github_api: GitHubAPIFake,
) -> None:
    wrong = "ghp_" + "Z" * 36
    client = GitHubClient("org/app", wrong, github_api.url)

    with pytest.raises(OperationError) as caught:
        client.create_release("v1.0.0", "v1.0.0", "notes")

    message = str(caught.value)
    assert "401 Bad credentials" in message
    assert "creating release v1.0.0 in org/app" in message
    assert "\n" not in message
    assert wrong not in _chain(caught.value)
    assert not github_api.releases


def test_an_unknown_pull_request_is_an_operation_error_naming_it(client: GitHubClient) -> None:
    with pytest.raises(OperationError) as caught:
        client.pull_request_files(999)

    assert str(caught.value).startswith("GitHub API: listing files of pull request #999 in org/app")
    assert "404 Not Found" in str(caught.value)


def test_a_validation_error_shows_github_s_reason(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    with pytest.raises(OperationError, match=r"422 Validation Failed \(No commits between main"):
        client.open_or_update_pull_request("main", "main", "t", "b")


def test_a_transient_server_error_is_retried(client: GitHubClient, github_api: GitHubAPIFake, no_backoff: None) -> None:
    pull = github_api.seed_pull_request(labels=["release"])
    github_api.fail_next(2, status=502)

    assert client.pull_request_labels(pull.number) == ["release"]
    assert [r.status for r in github_api.requests] == [502, 502, 200]


def test_a_server_error_that_persists_is_an_operation_error_with_its_status(
    client: GitHubClient, github_api: GitHubAPIFake, no_backoff: None
) -> None:
    github_api.fail_next(10, status=503)

    with pytest.raises(OperationError, match=r"503 Service Unavailable"):
        client.pull_request_labels(1)
    assert len(github_api.requests) == 1 + github_module.RETRIES


def test_an_unreachable_api_is_an_operation_error(no_backoff: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    client = GitHubClient("org/app", "ghs_secret_token_value", f"http://127.0.0.1:{port}")

    with pytest.raises(OperationError) as caught:
        client.pull_request_labels(1)

    assert f"cannot reach http://127.0.0.1:{port}" in str(caught.value)
    assert "ghs_secret_token_value" not in _chain(caught.value)


def test_the_token_never_appears_in_urls_logs_output_or_errors(
    github_api: GitHubAPIFake,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    no_backoff: None,
) -> None:
    # PyGithub logs every request with its headers at DEBUG; urllib3 logs every URL.
    # (Importing `github` resets its logger to INFO, so import it before raising the level.)
    import github  # noqa: F401

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    client = GitHubClient("org/app", github_api.token, github_api.url)
    pull = github_api.seed_pull_request(files=["a", "b"], labels=["l"])
    github_api.fail_next(1, status=502)
    errors: list[str] = []

    client.create_release("v1.0.0", "v1.0.0", "notes")
    client.create_release("v1.0.0", "v1.0.0", "notes, edited")
    client.open_or_update_pull_request("next", "main", "t", "b")
    client.pull_request_files(pull.number)
    client.pull_request_labels(pull.number)
    for failing in (
        lambda: client.pull_request_files(404),
        lambda: client.open_or_update_pull_request("main", "main", "t", "b"),
        lambda: GitHubClient("org/app", "ghp_wrong", github_api.url).pull_request_labels(1),
    ):
        with pytest.raises(OperationError) as caught:
            failing()
        errors.append(_chain(caught.value))

    out, err = capfd.readouterr()
    seen = "\n".join([out, err, caplog.text, *errors, repr(client)])
    assert "/repos/org/app/releases" in caplog.text  # the logs were captured...
    assert "Authorization" in caplog.text  # ...with request headers, the token masked
    assert github_api.token not in seen
    for recorded in github_api.requests:  # it travels in the Authorization header only
        assert github_api.token not in recorded.path + str(recorded.query) + str(recorded.body)
    assert github_api.calls()[0].headers["authorization"] == f"token {github_api.token}"


# -- the fake holds itself to GitHub's schema ------------------------------------------------


def test_a_response_that_breaks_github_s_schema_is_answered_with_500_and_recorded(
    client: GitHubClient, github_api: GitHubAPIFake, no_backoff: None
) -> None:
    github_api.seed_release("v1.0.0", body="notes")
    github_api.tamper_next(
        lambda release: {k: v for k, v in release.items() if k != "html_url"},
        path="/repos/org/app/releases/tags/v1.0.0",
    )

    client.create_release("v1.0.0", "v1.0.0", "notes")  # recovers: the 500 is retried

    assert [r.status for r in github_api.calls("GET")] == [500, 200]
    assert github_api.take_problems() == [
        "GET /repos/{owner}/{repo}/releases/tags/{tag} (repos/get-release-by-tag) -> 200:"
        " at $: 'html_url' is a required property"
    ]


def test_nested_objects_wrong_types_and_formats_are_caught(
    github_api: GitHubAPIFake,
) -> None:
    pull = github_api.seed_pull_request(labels=["bug"])
    github_api.tamper_next(
        lambda body: {
            **body,
            "state": "merged",
            "created_at": "yesterday",
            "labels": [{"name": "bug"}],
        }
    )

    answer = requests.get(
        f"{github_api.url}/repos/org/app/pulls/{pull.number}",
        headers={"Authorization": f"Bearer {github_api.token}"},
        timeout=10,
    )

    assert answer.status_code == 500
    problems = "\n".join(github_api.take_problems())
    assert "at $.state: 'merged' is not one of ['open', 'closed']" in problems
    assert "at $.labels[0]: 'color' is a required property" in problems


def test_a_request_to_an_endpoint_the_fake_lacks_is_recorded(github_api: GitHubAPIFake) -> None:
    answer = requests.get(
        f"{github_api.url}/repos/org/app/hooks",
        headers={"Authorization": f"token {github_api.token}"},
        timeout=10,
    )

    assert answer.status_code == 404
    assert github_api.take_problems() == ["the fake does not implement GET /repos/org/app/hooks"]


def test_pages_carry_github_s_link_header(github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request(files=[f"f{i}" for i in range(5)])
    path = f"/repos/org/app/pulls/{pull.number}/files"

    answer = requests.get(
        f"{github_api.url}{path}?per_page=2&page=2",
        headers={"Authorization": f"token {github_api.token}"},
        timeout=10,
    )

    assert [entry["filename"] for entry in answer.json()] == ["f2", "f3"]
    base = f"{github_api.url}{path}?per_page=2"
    assert answer.headers["Link"] == (
        f'<{base}&page=1>; rel="prev", <{base}&page=3>; rel="next", '
        f'<{base}&page=3>; rel="last", <{base}&page=1>; rel="first"'
    )


def test_status_codes_the_operation_does_not_document(github_api_schemas: ResponseSchemas) -> None:
    schemas = github_api_schemas
    release_by_tag = ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}")

    # Errors GitHub leaves undocumented (401, 5xx) still have to be GitHub's error shape.
    assert schemas.validate(*release_by_tag, 401, {"message": "Bad credentials"}) == []
    assert schemas.validate(*release_by_tag, 502, {"message": 1}) != []
    # A success status GitHub never sends for this operation is a problem by itself.
    assert "does not document" in schemas.validate(*release_by_tag, 201, {})[0]


def test_openapi_nullable_becomes_json_schema_null() -> None:
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert to_json_schema({"allOf": [{"type": "object"}], "nullable": True}) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"type": "object"}]}]
    }
    # A property that happens to be called "nullable" is a property, not the keyword.
    assert to_json_schema({"properties": {"nullable": {"type": "boolean"}}}) == {
        "properties": {"nullable": {"type": "boolean"}}
    }


def test_the_fixture_fails_a_test_whose_responses_broke_the_schema(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(
        textwrap.dedent(
            """
            import requests

            def test_serves_a_broken_release(github_api):
                github_api.seed_release("v1")
                github_api.tamper_next(lambda body: {**body, "id": "not-an-integer"})
                requests.get(
                    f"{github_api.url}/repos/org/app/releases/tags/v1",
                    headers={"Authorization": f"token {github_api.token}"},
                    timeout=10,
                )
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(repository_root())}

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.plugins.github_api",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed, 1 error" in run.stdout
    assert "at $.id: 'not-an-integer' is not of type 'integer'" in run.stdout
