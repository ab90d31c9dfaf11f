"""The repository's own settings: `.deploy-actions.yml` at its root, one mapping per command.

    version-bump:
      squash-bodies: always
      changelog-sections: {feat: Features, fix: Bug Fixes, docs: Documentation, chore: hidden}
    changelog-check:
      require-sections: [Rollback Plan]

Keys are the commands' input names. A value is what the input would say: text, a boolean or
a number, and for one-per-line inputs a list (or a mapping, written as `key: value` lines).
A flag or an action input that is set wins over the file, and the file over the default.
The file is read only for commands whose spec says `configurable`, never for secrets (a
token does not belong in a repository), and `repo`, which says where the file is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_actions.errors import FileError
from deploy_actions.files import read_regular_file

if TYPE_CHECKING:
    from deploy_actions.commands.spec import CommandSpec, Option

CONFIG_FILE = ".deploy-actions.yml"
MAX_CONFIG_BYTES = 1 << 20
NOT_IN_CONFIG = frozenset({"repo"})
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 32


@dataclass(frozen=True)
class Setting:
    """One value from the file, as input text, and where it was written."""

    raw: str
    line: int | None


def config_root(spec: CommandSpec, given: Mapping[str, str | None]) -> Path:
    """Where the file is: the command's `repo` (flag, input, default), else the workspace."""
    from deploy_actions import actions_runtime

    repo = next((o for o in spec.all_options() if o.name == "repo"), None)
    if repo is not None:
        value = given.get(repo.dest) or actions_runtime.get_input(repo.name) or repo.default or "."
        return Path(value)
    return Path(os.environ.get("GITHUB_WORKSPACE") or ".")


def configurable(option: Option) -> bool:
    return not option.secret and option.name not in NOT_IN_CONFIG


def load_settings(spec: CommandSpec, root: Path) -> dict[str, Setting]:
    """The file's settings for `spec`'s command (empty without a file or a section).
    FileError, naming the file and line, for anything it cannot use."""
    path = root / CONFIG_FILE
    if not path.exists():
        return {}
    shown = CONFIG_FILE if root == Path(".") else str(path)
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symbolic link loop
        inside = False
    if not inside:
        raise FileError("leads outside the repository (a symbolic link?); settings must live in it", file=shown)
    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES)
        text = data.decode("utf-8-sig")
    except OSError as err:
        raise FileError(f"cannot be read: {err.strerror or err}", file=shown) from None
    except UnicodeDecodeError:
        raise FileError("is not UTF-8 text", file=shown) from None
    document = _load_yaml(text, shown)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise FileError("must be a mapping of command names (version-bump:, changelog-check:, …)", file=shown)
    from deploy_actions.commands import COMMANDS

    takes = sorted(name for name, command in COMMANDS.items() if command.configurable)
    for name in document:
        if name not in COMMANDS:
            raise FileError(f"'{name}' is not a command; expected one of {', '.join(takes)}",
                            file=shown, line=_line(document, name))
        if not COMMANDS[name].configurable:
            raise FileError(f"{name} takes no settings from {CONFIG_FILE} (only {', '.join(takes)} "
                            "do); use its inputs", file=shown, line=_line(document, name))
    section = document.get(spec.name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise FileError(f"{spec.name}: must be a mapping of input names to values",
                        file=shown, line=_line(document, spec.name))
    options = {o.name: o for o in spec.options if configurable(o)}
    settings: dict[str, Setting] = {}
    for key, value in section.items():
        line = _line(section, key)
        option = options.get(str(key))
        if option is None:
            raise FileError(f"{spec.name}: '{key}' is not a setting; expected one of "
                            f"{', '.join(sorted(options))}", file=shown, line=line)
        settings[option.dest] = Setting(_as_input(option, value, f"{spec.name}.{key}", shown, line), line)
    return settings


def _load_yaml(text: str, shown: str) -> Any:
    import warnings

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The round-trip loader builds only plain data (never objects) and keeps line numbers.
            return YAML(typ="rt").load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise FileError(f"is not valid YAML: {getattr(err, 'problem', None) or err}", file=shown,
                        line=mark.line + 1 if mark is not None else None) from None
    except (ValueError, TypeError, RecursionError) as err:
        raise FileError(f"is not valid YAML: {err}", file=shown) from None


def _line(mapping: Any, key: object) -> int | None:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _as_input(option: Option, value: object, name: str, shown: str, line: int | None) -> str:
    """The text the action input would carry for this value."""
    text = input_text(option, value)
    if text is not None:
        return text
    if option.kind == "lines":
        raise FileError(f"{name} must be a list of text lines (or a mapping)", file=shown, line=line)
    if option.kind == "yaml":
        raise FileError(f"{name} must be YAML of at most {MAX_YAML_NODES:,} values, {MAX_YAML_DEPTH} levels "
                        "deep, without tags", file=shown, line=line)
    raise FileError(f"{name} must be a single value (text, true/false or a number)", file=shown, line=line)


def input_text(option: Option, value: object) -> str | None:
    """The text the action input would carry for `value` as YAML wrote it, or None when the
    value has the wrong shape for the option."""
    if option.kind == "lines":
        if isinstance(value, list):
            items = [_scalar(v) for v in value]
            if all(item is not None and "\n" not in item for item in items):
                return "\n".join(item for item in items if item is not None)
        elif isinstance(value, dict):
            pairs = [(_scalar(k), _scalar(v)) for k, v in value.items()]
            if all(k is not None and v is not None for k, v in pairs):
                return "\n".join(f"{k}: {v}" for k, v in pairs)
        elif (text := _scalar(value)) is not None:
            return text
        return None
    if option.kind == "yaml" and isinstance(value, dict | list):
        import json

        plain = _plain(value, [MAX_YAML_NODES], 0)
        return None if plain is None else json.dumps(plain, ensure_ascii=False)  # JSON is YAML: the input's text
    return _scalar(value)


def _plain(value: object, budget: list[int], depth: int) -> object | None:
    """`value` as plain JSON data, or None past the budget of values (an alias that repeats a
    list of aliases grows exponentially), too deep (an alias inside itself), or for a value
    JSON cannot hold."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_YAML_DEPTH:
        return None
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            plain_key, plain_item = _scalar(key), _plain(item, budget, depth + 1)
            if plain_key is None or (plain_item is None and item is not None):
                return None
            items[plain_key] = plain_item
        return items
    if isinstance(value, list):
        values = []
        for item in value:
            plain_item = _plain(item, budget, depth + 1)
            if plain_item is None and item is not None:
                return None
            values.append(plain_item)
        return values
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | str):
        return value if isinstance(value, str) or not isinstance(value, float) else float(value)
    return None
