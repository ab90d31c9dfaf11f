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
    FakeAutoMerge,
    GitHubAPIFake,
    GitHubGraphQLSchema,
    ResponseSchemas,
    repository_root,
    to_json_schema,
)

# The document PyGithub 2.x sends for PullRequest.enable_automerge, word for word.
ENABLE_AUTO_MERGE = (
    "mutation Mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input)"
    " { actor { avatarUrl login resourcePath url } clientMutationId } }"
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


def _graphql(github_api: GitHubAPIFake, query: str, variables: dict[str, object] | None = None) -> requests.Response:
    """POST a GraphQL document to the fake, as any client would."""
    return requests.post(
        f"{github_api.url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"bearer {github_api.token}"},
        timeout=10,
    )


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


def test_add_labels_puts_them_on_the_pull_request_next_to_those_it_has(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    pull = github_api.seed_pull_request(labels=["release"])

    client.add_labels(pull.number, ["deploy", "env: production"])

    assert pull.labels == ["release", "deploy", "env: production"]
    [add] = github_api.calls("POST", f"/repos/org/app/issues/{pull.number}/labels")
    assert add.body == ["deploy", "env: production"]  # only what was missing
    assert client.pull_request_labels(pull.number) == ["release", "deploy", "env: production"]


def test_add_labels_is_idempotent_and_never_doubles_a_label(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request(labels=["Release"])

    client.add_labels(pull.number, ["deploy", "release", "deploy", " deploy "])
    writes = github_api.calls("POST")
    client.add_labels(pull.number, ["DEPLOY", "release"])

    assert pull.labels == ["Release", "deploy"]  # GitHub compares label names ignoring case
    assert github_api.calls("POST") == writes  # the second call only looked
    assert [body for body in (r.body for r in writes)] == [["deploy"]]


def test_add_labels_with_no_labels_sends_nothing(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    client.add_labels(1, [])

    assert github_api.requests == []


def test_a_blank_label_is_bad_input(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    with pytest.raises(InputError) as caught:
        client.add_labels(1, ["deploy", "  "])

    assert caught.value.name == "labels"
    assert github_api.requests == []


def test_add_labels_to_a_pull_request_that_does_not_exist_is_an_operation_error(client: GitHubClient) -> None:
    with pytest.raises(OperationError) as caught:
        client.add_labels(404, ["deploy"])

    assert str(caught.value).startswith("GitHub API: adding labels to pull request #404 in org/app failed: 404")


def test_default_branch_reads_the_repository(client: GitHubClient) -> None:
    assert client.default_branch() == "main"


# -- auto-merge (GraphQL) --------------------------------------------------------------------


def test_enable_auto_merge_arms_it_with_squash_by_default(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request(title="deploy app v1.2.0 to production")

    client.enable_auto_merge(pull.number)

    assert pull.auto_merge is not None
    assert (pull.auto_merge.merge_method, pull.auto_merge.enabled_by) == ("SQUASH", "deploy-bot")
    [mutation] = github_api.calls("POST", "/graphql")
    assert mutation.status == 200
    assert "enablePullRequestAutoMerge" in mutation.body["query"]
    assert mutation.body["variables"]["input"] == {"pullRequestId": pull.node_id, "mergeMethod": "SQUASH"}
    # REST shows it too, as GitHub does, with the commit title GitHub fills in.
    rest = requests.get(
        f"{github_api.url}/repos/org/app/pulls/{pull.number}",
        headers={"Authorization": f"token {github_api.token}"},
        timeout=10,
    ).json()
    assert rest["auto_merge"]["merge_method"] == "squash"
    assert rest["auto_merge"]["commit_title"] == f"deploy app v1.2.0 to production (#{pull.number})"
    assert rest["auto_merge"]["enabled_by"]["login"] == "deploy-bot"


@pytest.mark.parametrize(("given", "armed"), [("merge", "MERGE"), ("Rebase", "REBASE"), (" SQUASH ", "SQUASH")])
def test_enable_auto_merge_takes_the_merge_method_in_any_case(
    client: GitHubClient, github_api: GitHubAPIFake, given: str, armed: str
) -> None:
    pull = github_api.seed_pull_request()

    client.enable_auto_merge(pull.number, given)

    assert pull.auto_merge is not None
    assert pull.auto_merge.merge_method == armed


def test_an_unknown_merge_method_is_bad_input(client: GitHubClient, github_api: GitHubAPIFake) -> None:
    with pytest.raises(InputError) as caught:
        client.enable_auto_merge(1, "fast-forward")

    assert caught.value.name == "merge-method"
    assert "merge, squash or rebase" in str(caught.value)
    assert github_api.requests == []


def test_enable_auto_merge_again_sends_no_mutation_but_a_new_method_is_applied(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    pull = github_api.seed_pull_request()
    client.enable_auto_merge(pull.number)

    client.enable_auto_merge(pull.number, "SQUASH")

    assert len(github_api.calls("POST", "/graphql")) == 1  # already on with that method: only a look
    client.enable_auto_merge(pull.number, "MERGE")
    assert len(github_api.calls("POST", "/graphql")) == 2
    assert pull.auto_merge is not None
    assert pull.auto_merge.merge_method == "MERGE"


def test_auto_merge_already_enabled_by_someone_else_is_left_alone(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    pull = github_api.seed_pull_request()
    pull.auto_merge = FakeAutoMerge(merge_method="SQUASH", enabled_by="a-maintainer")

    client.enable_auto_merge(pull.number)

    assert pull.auto_merge.enabled_by == "a-maintainer"
    assert github_api.calls("POST") == []


def test_a_lost_answer_to_enabling_auto_merge_is_retried_harmlessly(
    client: GitHubClient, github_api: GitHubAPIFake, no_backoff: None
) -> None:
    pull = github_api.seed_pull_request()
    github_api.fail_next(status=502, method="POST", path="/graphql", after_handling=True)

    client.enable_auto_merge(pull.number)

    assert [r.status for r in github_api.calls("POST", "/graphql")] == [502, 200]
    assert pull.auto_merge is not None
    assert pull.auto_merge.merge_method == "SQUASH"


def test_a_repository_that_does_not_allow_auto_merge_gets_an_error_saying_how_to_allow_it(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    github_api.allow_auto_merge = False
    pull = github_api.seed_pull_request()

    with pytest.raises(OperationError) as caught:
        client.enable_auto_merge(pull.number)

    message = str(caught.value)
    assert message.startswith(
        f"GitHub API: enabling auto-merge on pull request #{pull.number} in org/app failed:"
        " GraphQL: Auto merge is not allowed for this repository;"
    )
    assert "Settings > General > Pull Requests > 'Allow auto-merge'" in message
    assert "gh api -X PATCH repos/org/app -F allow_auto_merge=true" in message
    assert "\n" not in message
    assert pull.auto_merge is None


def test_a_repository_that_does_not_allow_auto_merge_answers_as_github_does(github_api: GitHubAPIFake) -> None:
    github_api.allow_auto_merge = False
    pull = github_api.seed_pull_request()

    answer = _graphql(github_api, ENABLE_AUTO_MERGE, {"input": {"pullRequestId": pull.node_id}})

    # GitHub answers 200, a null payload, and the refusal as a typed GraphQL error.
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"enablePullRequestAutoMerge": None},
        "errors": [
            {
                "type": "UNPROCESSABLE",
                "path": ["enablePullRequestAutoMerge"],
                "locations": [{"line": 1, "column": 63}],
                "message": "Auto merge is not allowed for this repository",
            }
        ],
    }
    rest = requests.get(
        f"{github_api.url}/repos/org/app", headers={"Authorization": f"token {github_api.token}"}, timeout=10
    ).json()
    assert rest["allow_auto_merge"] is False


def test_a_pull_request_github_could_merge_now_gets_an_error_that_explains_it(
    client: GitHubClient, github_api: GitHubAPIFake
) -> None:
    pull = github_api.seed_pull_request()
    pull.merge_state_status = "CLEAN"  # no required check or review pending

    with pytest.raises(OperationError) as caught:
        client.enable_auto_merge(pull.number)

    assert "GraphQL: Pull request Pull request is in clean status;" in str(caught.value)
    assert "merge it directly, or require status checks on the base branch" in str(caught.value)


def test_enable_auto_merge_on_a_pull_request_that_does_not_exist_is_an_operation_error(
    client: GitHubClient,
) -> None:
    with pytest.raises(OperationError) as caught:
        client.enable_auto_merge(404)

    assert str(caught.value).startswith("GitHub API: enabling auto-merge on pull request #404 in org/app failed: 404")


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
    github_api_schemas: ResponseSchemas, github_graphql_schema: GitHubGraphQLSchema
) -> None:
    with GitHubAPIFake(github_api_schemas, prefix="/api/v3", graphql=github_graphql_schema) as ghes:
        pull = ghes.seed_pull_request(files=[f"f{i}" for i in range(101)], labels=["x"])
        client = GitHubClient(ghes.repository, ghes.token, ghes.url)

        assert ghes.url.endswith("/api/v3")
        assert len(client.pull_request_files(pull.number)) == 101
        assert client.pull_request_labels(pull.number) == ["x"]
        client.create_release("v1.0.0", "v1.0.0", "a")
        client.create_release("v1.0.0", "v1.0.0", "b")  # PATCHes the url GitHub handed back
        assert ghes.releases[0].body == "b"
        client.add_labels(pull.number, ["deploy"])
        client.enable_auto_merge(pull.number)  # GraphQL is at /api/graphql, beside /api/v3
        assert (pull.labels, pull.auto_merge is not None) == (["x", "deploy"], True)
        client.close()
        assert {r.path.split("/")[1] for r in ghes.requests} == {"repos", "graphql"}  # prefix stripped
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


def test_the_token_never_appears_when_labelling_or_enabling_auto_merge(
    github_api: GitHubAPIFake,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    no_backoff: None,
) -> None:
    import github  # noqa: F401  (see above: before raising the level)

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    client = GitHubClient("org/app", github_api.token, github_api.url)
    pull = github_api.seed_pull_request(labels=["release"])
    github_api.fail_next(1, status=502, path="/graphql")
    errors: list[str] = []

    client.add_labels(pull.number, ["deploy"])
    client.add_labels(pull.number, ["deploy"])
    client.enable_auto_merge(pull.number)  # retried once past the 502
    client.enable_auto_merge(pull.number)
    other = github_api.seed_pull_request(head="other")

    def not_allowed() -> None:
        github_api.allow_auto_merge = False
        client.enable_auto_merge(other.number)

    for failing in (
        lambda: client.add_labels(404, ["deploy"]),
        lambda: client.enable_auto_merge(404),
        not_allowed,
        lambda: GitHubClient("org/app", "ghp_wrong", github_api.url).enable_auto_merge(pull.number, "MERGE"),
    ):
        with pytest.raises(OperationError) as caught:
            failing()
        errors.append(_chain(caught.value))

    out, err = capfd.readouterr()
    seen = "\n".join([out, err, caplog.text, *errors, repr(client)])
    assert "/graphql" in caplog.text and "Authorization" in caplog.text  # logged, token masked
    assert "Auto merge is not allowed" in errors[2]
    assert [r.status for r in github_api.calls("POST", "/graphql")][:2] == [502, 200]
    assert github_api.token not in seen
    for recorded in github_api.requests:
        assert github_api.token not in recorded.path + str(recorded.query) + str(recorded.body)
    assert github_api.calls("POST", "/graphql")[0].headers["authorization"] == f"token {github_api.token}"


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


@pytest.mark.parametrize(
    ("query", "variables", "caught"),
    [
        pytest.param(
            "mutation M($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input)"
            " { mergedAt } }",
            {"input": {"pullRequestId": "PR_x"}},
            "Cannot query field 'mergedAt' on type 'EnablePullRequestAutoMergePayload'.",
            id="unknown-field",
        ),
        pytest.param(
            "mutation { enablePullRequestAutoMerge(input: {pullRequestId: 7}) { clientMutationId",
            {},
            "Syntax Error: Expected Name, found <EOF>.",
            id="syntax",
        ),
        pytest.param(
            "mutation { enablePullRequestAutoMerge(input: {mergeMethod: SQUASH}) { clientMutationId } }",
            {},
            "Field 'EnablePullRequestAutoMergeInput.pullRequestId' of required type 'ID!' was not provided.",
            id="missing-required-input",
        ),
        pytest.param(
            ENABLE_AUTO_MERGE,
            {"input": {"pullRequestId": "PR_x", "mergeMethod": "squash"}},
            "Variable '$input' got invalid value 'squash' at 'input.mergeMethod';"
            " Value 'squash' does not exist in 'PullRequestMergeMethod' enum.",
            id="bad-variable",
        ),
        pytest.param("{ viewer { login } }", {}, "", id="query-the-fake-does-not-back"),
    ],
)
def test_a_graphql_document_github_would_refuse_is_caught_by_the_schema(
    github_api: GitHubAPIFake, query: str, variables: dict[str, object], caught: str
) -> None:
    pull = github_api.seed_pull_request()

    answer = _graphql(github_api, query, variables)

    problems = github_api.take_problems()
    assert len(problems) == 1, problems
    assert pull.auto_merge is None
    if caught:  # refused as GitHub refuses: 200, errors and no data
        assert answer.status_code == 200
        assert "data" not in answer.json()
        assert caught in answer.json()["errors"][0]["message"]
        assert problems[0].startswith(f"POST /graphql: GitHub would refuse this GraphQL request: {caught}")
    else:  # valid for GitHub, but nothing behind it in the fake: a gap, never a made-up null
        assert answer.status_code == 500
        assert problems[0].startswith("POST /graphql: the fake does not back the GraphQL field Query.viewer")


def test_graphql_answers_are_shaped_by_github_s_schema(github_api: GitHubAPIFake) -> None:
    pull = github_api.seed_pull_request()
    pull.auto_merge = FakeAutoMerge(merge_method="REBASE", enabled_by="deploy-bot")
    query = (
        "query($id: ID!) { node(id: $id) { __typename ... on PullRequest { number state"
        " autoMergeRequest { mergeMethod enabledBy { __typename login } } repository { autoMergeAllowed } } } }"
    )

    answer = _graphql(github_api, query, {"id": pull.node_id})

    assert answer.json() == {
        "data": {
            "node": {
                "__typename": "PullRequest",
                "number": pull.number,
                "state": "OPEN",
                "autoMergeRequest": {
                    "mergeMethod": "REBASE",
                    "enabledBy": {"__typename": "Bot", "login": "deploy-bot"},
                },
                "repository": {"autoMergeAllowed": True},
            }
        }
    }


def test_a_graphql_answer_that_breaks_github_s_schema_is_answered_with_500_and_recorded(
    github_api: GitHubAPIFake,
) -> None:
    pull = github_api.seed_pull_request()
    pull.auto_merge = FakeAutoMerge(merge_method="FAST_FORWARD", enabled_by="deploy-bot")  # no such method
    pull.title = 42  # type: ignore[assignment]  # a String in the schema
    query = "query($id: ID!) { node(id: $id) { ... on PullRequest { %s } } }"

    answers = [
        _graphql(github_api, query % "autoMergeRequest { mergeMethod }", {"id": pull.node_id}),
        _graphql(github_api, query % "title", {"id": pull.node_id}),
    ]

    assert [answer.status_code for answer in answers] == [500, 500]
    assert github_api.take_problems() == [
        "POST /graphql: Enum 'PullRequestMergeMethod' cannot represent value: 'FAST_FORWARD'"
        " at node.autoMergeRequest.mergeMethod (line 1, column 75)",
        "POST /graphql: PullRequest.title: String in the schema, got int 42 at node.title (line 1, column 56)",
    ]


def test_graphql_with_bad_credentials_is_answered_401_as_github_does(github_api: GitHubAPIFake) -> None:
    answer = requests.post(
        f"{github_api.url}/graphql",
        json={"query": "{ viewer { login } }"},
        headers={"Authorization": "bearer ghp_wrong"},
        timeout=10,
    )

    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"
    assert github_api.take_problems() == []  # the 401 body passed GitHub's error schema


def test_graphql_not_found_is_answered_as_github_does(github_api: GitHubAPIFake) -> None:
    answer = _graphql(github_api, "query($id: ID!) { node(id: $id) { id } }", {"id": "PR_nope"})

    assert answer.json() == {
        "data": {"node": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["node"],
                "locations": [{"line": 1, "column": 19}],
                "message": "Could not resolve to a node with the global id of 'PR_nope'",
            }
        ],
    }
    assert github_api.take_problems() == []


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

            def test_sends_a_graphql_document_github_would_refuse(github_api):
                requests.post(
                    f"{github_api.url}/graphql",
                    json={"query": "{ repository(owner: \\"org\\", name: \\"app\\") { stars } }"},
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
    assert "2 passed, 2 errors" in run.stdout
    assert "at $.id: 'not-an-integer' is not of type 'integer'" in run.stdout
    assert "Cannot query field 'stars' on type 'Repository'." in run.stdout


@pytest.fixture
def html_portal() -> Iterator[str]:
    """A server that answers every request with an HTML login page, as a captive portal or a proxy does."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            body = b"<html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("call", ["release", "pull request", "deployment"])
def test_an_html_page_where_the_api_should_answer_is_one_line_error(html_portal, call):
    client = GitHubClient("org/app", "ghs_" + "x" * 36, html_portal)
    with pytest.raises(OperationError, match=r"did not answer as GitHub's API does") as caught:
        if call == "release":
            client.create_release("v1.0.0", "v1.0.0", "notes")
        elif call == "pull request":
            client.open_or_update_pull_request("deploy/x", "main", "title", "body")
        else:
            client.ensure_deployment("a" * 40, "staging", {}, "deploying")
    assert "\n" not in str(caught.value) and "ghs_" not in str(caught.value)
