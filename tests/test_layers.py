"""Imports point down: cli and docker_action → commands → the domain packages → outcome, errors, untrusted.
No domain module imports the commands package, so there is no loop through it (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "deploy_actions"
ENTRY_POINTS = {"cli.py", "docker_action.py", "__main__.py"}
# config.py reads the repository's settings for the command specs it is given: it is the command layer's.
COMMAND_LAYER = {"config.py"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_domain_module_imports_the_commands_package():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("commands/") or rel in ENTRY_POINTS or rel in COMMAND_LAYER:
            continue
        for module in _imports(path):
            if module == "deploy_actions.commands" or module.startswith("deploy_actions.commands."):
                offenders.append(f"{rel} imports {module}")
    assert offenders == []


def test_outcome_errors_and_untrusted_import_no_domain_package():
    for name in ("outcome.py", "errors.py", "untrusted.py"):
        upward = {m for m in _imports(PACKAGE / name) if m.startswith("deploy_actions.") and m not in (
            "deploy_actions.errors", "deploy_actions.actions_runtime")}
        assert upward == set(), name
