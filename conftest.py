"""Test plugins: each starts a real part (git remotes, the GitHub API fake, act) on demand."""

pytest_plugins = [
    "tests.plugins.git_repos",
    "tests.plugins.git_http",
    "tests.plugins.registry",
    "tests.plugins.github_api",
    "tests.plugins.act",
]
