"""The GitHub API fake as fixtures: one server per test process, fresh state per test.

`github_api` yields a `tests.fakes.github_api.GitHubAPIFake` with `.url` (for GITHUB_API_URL),
`.token`, `.repository` ("org/app") and `.env`. A test fails at teardown if the fake served a
body that GitHub's OpenAPI description does not allow, was asked for an endpoint it lacks,
was sent a GraphQL document that GitHub's GraphQL schema refuses, or could not answer one
faithfully (a field it does not back).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github_api import GitHubAPIFake, GitHubGraphQLSchema, ResponseSchemas


@pytest.fixture(scope="session")
def github_api_schemas() -> ResponseSchemas:
    """GitHub's response schemas for the fake's operations (npm @octokit/openapi, cached)."""
    try:
        return ResponseSchemas.load()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def github_graphql_schema() -> GitHubGraphQLSchema:
    """GitHub's GraphQL schema (npm @octokit/graphql-schema, cached); built on first use."""
    try:
        return GitHubGraphQLSchema().prepare()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def github_api_server(
    github_api_schemas: ResponseSchemas, github_graphql_schema: GitHubGraphQLSchema
) -> Iterator[GitHubAPIFake]:
    """The running fake, shared by the tests of one process; prefer `github_api`."""
    with GitHubAPIFake(github_api_schemas, graphql=github_graphql_schema) as fake:
        yield fake


@pytest.fixture
def github_api(github_api_server: GitHubAPIFake) -> Iterator[GitHubAPIFake]:
    """The GitHub API fake with empty state, checked for schema violations at teardown."""
    github_api_server.reset()
    yield github_api_server
    problems = github_api_server.take_problems()
    github_api_server.reset()
    if problems:
        pytest.fail(
            "the GitHub API fake caught problems (see tests/fakes/github_api.py):\n"
            + "\n".join(f"  - {problem}" for problem in problems),
            pytrace=False,
        )
