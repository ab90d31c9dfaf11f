"""The batch form of gitops-bump: the list of images one call pins in one commit (`images`, or the
file `images-file`), read and checked whole before anything is cloned or written.

Two spellings of the same list:
- one entry per line, `IMAGE:TAG` and optionally a path after a space (`#` starts a comment):
      ghcr.io/org/api:v1.4.2
      ghcr.io/org/web:v2.0.1 apps/web/overlays/production
- a YAML list of mappings with the keys app (default: the image's last path part), image
  (without tag), tag and path (default: the path input, with {app} and {environment}):
      - {app: api, image: ghcr.io/org/api, tag: v1.4.2}
  A plain string item of the list is read as a line.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_actions.errors import InputError
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError, is_valid_tag

MAX_ENTRIES = 10_000  # a fleet of this many apps is one call; more is a mistake, or a shard's work
MAX_BYTES = 4 << 20  # 10,000 YAML entries of four keys are well under 2 MiB
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KEYS = ("app", "image", "tag", "path")
_COMMENT = re.compile(r"(?:^|\s)#.*$")


@dataclass(frozen=True)
class BatchEntry:
    """One image to pin. `path` is empty when the path input decides."""

    number: int  # 1-based, in the list
    line: int  # 1-based, where it starts in the text
    text: str  # as written, for messages
    app: str
    image: ImageRef  # the repository, no tag
    tag: str
    path: str

    @property
    def where(self) -> str:
        return f"entry {self.number}, line {self.line}"


def read(images: str, images_file: str) -> tuple[str, str]:
    """(input name, text) of the batch: the `images` text or the contents of `images-file`."""
    if images and images_file:
        raise InputError("images-file", images_file, "either images or images-file, not both")
    if not images_file:
        return "images", images
    path = Path(images_file).expanduser()
    try:
        if not path.is_file():  # a folder, a device or a pipe (which could block forever) is not a list
            raise InputError("images-file", images_file, "a regular file listing the images")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError("images-file", images_file, f"a readable file listing the images ({reason})") from None
    if len(data) > MAX_BYTES:
        raise InputError("images-file", images_file, f"a file of at most {MAX_BYTES >> 20} MiB")
    try:
        return "images-file", data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("images-file", images_file, f"UTF-8 text (byte {exc.start} is not)") from None


def parse(text: str, input_name: str) -> tuple[BatchEntry, ...]:
    """Every entry of the batch, checked; InputError naming the input, the entry and its line otherwise."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InputError(input_name, f"{len(text)} characters", f"a list of at most {MAX_BYTES >> 20} MiB")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    raw = list(_yaml_items(text, input_name) if first.startswith(("-", "[")) else _lines(text))
    if not raw:
        raise InputError(input_name, text, "at least one IMAGE:TAG line or YAML list entry")
    if len(raw) > MAX_ENTRIES:
        raise InputError(input_name, f"{len(raw)} entries", f"at most {MAX_ENTRIES:,} entries (shard the list)")
    entries: list[BatchEntry] = []
    seen: dict[str, BatchEntry] = {}
    for number, (line, shown, fields) in enumerate(raw, start=1):
        entry = _entry(input_name, number, line, shown, fields)
        if entry.app in seen:
            raise InputError(input_name, shown, f"each app once (entry {number}, line {line} repeats app "
                             f"{entry.app!r} of {seen[entry.app].where})")
        seen[entry.app] = entry
        entries.append(entry)
    return tuple(entries)


def _lines(text: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if line:
            yield number, line, _line_fields(line)


def _line_fields(line: str) -> dict[str, Any]:
    parts = line.split()
    return {"ref": parts[0], **({"path": parts[1]} if len(parts) == 2 else {}), "extra": parts[2:]}


def _yaml_items(text: str, input_name: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ruamel warns about re-used anchors on stderr
            document = YAML(typ="rt", pure=True).load(text)  # rt: duplicate keys are an error, not a silent pick
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(input_name, text, f"a YAML list of app, image, tag, path ({problem}{where})") from None
    except (RecursionError, ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        raise InputError(input_name, text, f"a YAML list of app, image, tag, path ({type(exc).__name__})") from None
    if not isinstance(document, list):
        raise InputError(input_name, text, "a YAML list of app, image, tag, path")
    for index, item in enumerate(document):
        line = _item_line(document, index)
        if isinstance(item, str):
            yield line, item, _line_fields(item) if item.strip() else {"ref": ""}
        elif isinstance(item, dict):
            unknown = [str(k) for k in item if k not in _KEYS]
            if unknown:
                raise InputError(input_name, unknown[0], f"only the keys {', '.join(_KEYS)} (entry {index + 1}, "
                                 f"line {line})")
            for key, value in item.items():
                if not isinstance(value, str):
                    raise InputError(input_name, f"{key}: {value}", f"text for {key} (entry {index + 1}, line "
                                     f"{line}; put it in quotes, or YAML reads a number or a date)")
            yield line, " ".join(f"{k}: {v}" for k, v in item.items()), dict(item)
        else:
            raise InputError(input_name, item, f"a mapping of app, image, tag, path or an IMAGE:TAG string "
                             f"(entry {index + 1}, line {line})")


def _item_line(document: Any, index: int) -> int:
    try:
        return int(document.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 1


def _entry(input_name: str, number: int, line: int, shown: str, fields: dict[str, Any]) -> BatchEntry:
    where = f"entry {number}, line {line}"
    if fields.get("extra"):
        raise InputError(input_name, shown, f"IMAGE:TAG and at most a path, separated by a space ({where})")
    if "ref" in fields:  # the line form: IMAGE:TAG
        try:
            ref = ImageRef.parse(fields["ref"])
        except ImageRefError as err:
            raise InputError(input_name, shown, f"IMAGE:TAG such as ghcr.io/org/app:v1.2.3 ({where}: {err})") from None
        if ref.digest:
            raise InputError(input_name, shown, f"IMAGE:TAG without a digest ({where}; digest: pin adds it)")
        if not ref.tag:
            raise InputError(input_name, shown, f"IMAGE:TAG such as ghcr.io/org/app:v1.2.3 ({where})")
        image, tag = ref.with_tag(None), ref.tag
    else:
        text = str(fields.get("image", "")).strip()
        try:
            image = ImageRef.parse(text)
        except ImageRefError as err:
            raise InputError(input_name, shown, f"an image repository such as ghcr.io/org/app ({where}: "
                             f"{err})") from None
        if image.tag or image.digest:
            raise InputError(input_name, shown, f"the image without tag or digest, and the tag in tag ({where})")
        tag = str(fields.get("tag", "")).strip()
        if not is_valid_tag(tag):
            raise InputError(input_name, shown, f"a tag such as v1.2.3 ({where})")
    app = str(fields.get("app") or image.repository.rsplit("/", 1)[-1]).strip()
    if not _NAME.match(app):
        raise InputError(input_name, shown, f"an app name of letters, digits, '.', '_' and '-' ({where})")
    path = str(fields.get("path", "")).strip()
    if path and (path.startswith("/") or ".." in Path(path).parts or "\x00" in path):
        raise InputError(input_name, shown, f"a path relative to the GitOps repository, without '..' ({where})")
    return BatchEntry(number, line, shown, app, image, tag, path)
