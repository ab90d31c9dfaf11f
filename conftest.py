"""Test plugins: each starts a real part (git remotes, the GitHub API fake, act) on demand."""

pytest_plugins = [
    "tests.plugins.git_repos",
    "tests.plugins.git_http",
    "tests.plugins.registry",
    "tests.plugins.http_services",
    "tests.plugins.prometheus",
    "tests.plugins.github_api",
    "tests.plugins.act",
]

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _forget_masked_secrets():
    """Masks are process-wide (as in a real step); one test's secrets must not redact the next test's output."""
    from deploy_actions import actions_runtime

    yield
    actions_runtime._secrets.clear()
    actions_runtime.set_json_mode(False)
