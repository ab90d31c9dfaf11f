"""The packages of a monorepo, as release-please's manifest lists them: the folder of each, its
component and tag prefix, its own settings, and which commits are its.

    packages:
      packages/api: {component: api, version-files: [pyproject.toml]}
      packages/web: {}                  # component web, tags web-v1.2.3
      .: {component: tools}             # the root package owns every file no other package does

A changed file belongs to the deepest package whose folder holds it, so a commit is counted by
every package it touches and by no other; a commit that touches no package is released by none.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from deploy_actions import untrusted
from deploy_actions.errors import InputError

INPUT = "packages"
MAX_PACKAGES = 1000
# The settings a package may have of its own (input names); every other setting is the run's.
# version-files and changelog-file are relative to the package's folder, as release-please's
# extra-files and changelog-path are.
PACKAGE_SETTINGS = ("tag-prefix", "version-files", "version-source", "changelog", "changelog-file",
                    "changelog-sections", "commit-types", "squash-bodies", "major-on-zero", "prerelease-id",
                    "release-as", "floating-tags")
_COMPONENT = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # it starts a tag name: no '..'
_LINKED = "linked-versions"

# Turns one setting (input name, the value as written) into the typed value the command takes;
# raises InputError naming the setting. The command layer supplies it from the command's spec.
Convert = Callable[[str, object], Any]


@dataclass(frozen=True)
class Package:
    path: str  # "." for the root, else a folder relative to it, without "./" or a trailing "/"
    component: str  # "" only for a root package that names none
    settings: tuple[tuple[str, Any], ...] = ()  # (option field, typed value): the package's own

    @property
    def tag_prefix(self) -> str | None:
        """The package's tags: its own `tag-prefix`, else `<component>-v` (release-please's
        default), else (a root package without a component) the run's tag prefix."""
        own = dict(self.settings).get("tag_prefix")
        if own is not None:
            return str(own)
        return f"{self.component}-v" if self.component else None

    @property
    def name(self) -> str:
        return self.component or self.path

    def contains(self, path: str) -> bool:
        """Whether the folder `path` (another package's) is inside this package's folder."""
        return path != self.path and (self.path == "." or path.startswith(self.path + "/"))


@dataclass(frozen=True)
class LinkedGroup:
    """Components that always release together at the highest next version of any of them."""

    name: str
    components: tuple[str, ...]


def pathspecs(package: Package, packages: Sequence[Package]) -> list[str]:
    """git pathspecs of the files that are `package`'s: its folder, less every package inside it
    (literal: a folder named `*` or `:x` means itself)."""
    own = ":(top)" if package.path == "." else f":(top,literal){package.path}"
    return [own, *(f":(top,exclude,literal){other.path}" for other in packages if package.contains(other.path))]


def load(text: str) -> Any:
    """The YAML of the `packages` input: plain data only (never objects), duplicate keys refused."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        problem = str(getattr(err, "problem", None) or err).splitlines()[0]
        raise InputError(INPUT, text, f"YAML: a mapping of package folders to their settings ({problem})") from None
    except (ValueError, TypeError, RecursionError) as err:
        raise InputError(INPUT, text, f"YAML: a mapping of package folders to their settings ({err})") from None


def parse(text: str, convert: Convert) -> tuple[Package, ...]:
    """Every package of the `packages` input (YAML text), checked; InputError naming the package
    and the field otherwise. The packages are a mapping of folders to settings (release-please's
    `packages`), or a list of folders or of mappings with a `path`."""
    data = load(text)
    if data is None or data == "":
        return ()
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = [_list_item(item, number) for number, item in enumerate(data, 1)]
    else:
        raise InputError(INPUT, text, "a mapping of package folders to their settings, or a list of folders")
    if len(items) > MAX_PACKAGES:
        raise InputError(INPUT, f"{len(items)} packages", f"at most {MAX_PACKAGES} packages")
    packages: list[Package] = []
    for key, settings in items:
        path = _folder(key)
        if any(p.path == path for p in packages):
            raise InputError(f"{INPUT}[{path}]", key, "each folder listed once")
        packages.append(_package(path, settings, convert))
    unique(packages, "component", lambda p: p.component, "a component of its own (set `component`)")
    return tuple(packages)


def _list_item(item: object, number: int) -> tuple[object, object]:
    if isinstance(item, str | int) and not isinstance(item, bool):
        return item, None
    if isinstance(item, dict) and "path" in item:
        rest = {k: v for k, v in item.items() if k != "path"}
        return item["path"], rest
    raise InputError(f"{INPUT}[{number}]", item, "a package folder, or a mapping with its `path`")


def _folder(key: object) -> str:
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise InputError(INPUT, key, "package folders as text, e.g. packages/api")
    raw = str(key)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(INPUT, raw, "package folders as UTF-8 text") from None
    written = untrusted.path_text(INPUT, raw)
    parts = PurePosixPath(written.rstrip("/") or ".").parts
    if written.startswith("/") or "\\" in written or ".." in parts or parts[:1] == (".git",):
        raise InputError(f"{INPUT}[{raw}]", raw, "a folder inside the repository, relative to its root "
                         "(no leading '/', no '..', no backslash, not .git)")
    clean = "/".join(p for p in parts if p != ".")
    return clean or "."


def _package(path: str, settings: object, convert: Convert) -> Package:
    field = f"{INPUT}[{path}]"
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise InputError(field, settings, "a mapping of the package's settings (component, tag-prefix, "
                         "version-files, …), or nothing")
    component = "" if path == "." else PurePosixPath(path).name
    typed: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = str(key)
        if name == "component":
            if not isinstance(value, str | int) or isinstance(value, bool) or not _COMPONENT.match(str(value)):
                raise InputError(f"{field}.component", value, "a name of letters, digits, '.', '_' and '-' "
                                 "(at most 100, no '..'), starting with a letter or digit")
            component = str(value)
        elif name in PACKAGE_SETTINGS:
            try:
                typed.append((name.replace("-", "_"), convert(name, value)))
            except InputError as err:
                raise InputError(f"{field}.{name}", err.value, err.expected) from None
        else:
            raise InputError(f"{field}.{name}", value if isinstance(value, str) else name,
                             "one of component, " + ", ".join(PACKAGE_SETTINGS) + " (the others are the run's)")
    if path != "." and not _COMPONENT.match(component):
        raise InputError(f"{field}.component", component, "a name of letters, digits, '.', '_' and '-' "
                         "(the folder's name is not one: set `component`)")
    return Package(path, component, tuple(typed))


def unique(packages: Sequence[Package], what: str, key: Callable[[Package], str | None], expected: str) -> None:
    """Refuse two packages with the same `key` (None: no value to compare)."""
    seen: dict[str, Package] = {}
    for package in packages:
        value = key(package)
        if value is None or (what == "component" and not value):
            continue
        if value in seen:
            raise InputError(f"{INPUT}[{package.path}].{what}", value,
                             f"{expected}; {seen[value].path} has it already")
        seen[value] = package


def parse_linked(lines: Sequence[str], packages: Sequence[Package]) -> tuple[LinkedGroup, ...]:
    """`linked-versions` lines, each one group: `name: api, web` or `api web`. Every component
    must be a package's, at most one group each, at least two per group."""
    if lines and not packages:
        raise InputError(_LINKED, lines[0], "groups of the components of `packages` (no packages are configured)")
    known = {p.component for p in packages if p.component}
    grouped: dict[str, str] = {}
    groups = []
    for number, line in enumerate(lines, 1):
        head, sep, rest = line.partition(":")
        name, members = (head.strip(), rest) if sep else (f"group {number}", line)
        components = tuple(dict.fromkeys(c for c in re.split(r"[\s,]+", members) if c))
        if sep and not _COMPONENT.match(name):
            raise InputError(_LINKED, line, "lines of `group: component, component`, the group a name")
        if len(components) < 2:
            raise InputError(_LINKED, line, "at least two components per group, e.g. `core: api, web`")
        for component in components:
            if component not in known:
                shown = ", ".join(sorted(known)) or "none"
                raise InputError(_LINKED, component, f"a component of `packages` (they are: {shown})")
            if component in grouped:
                raise InputError(_LINKED, component, f"each component in one group ({grouped[component]} has it)")
            grouped[component] = name
        groups.append(LinkedGroup(name, components))
    return tuple(groups)
