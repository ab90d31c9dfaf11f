"""The GitHub Actions runtime: inputs, outputs, step summary, annotations, masks, log groups.

Built on `actions-toolkit`'s command and file-command writers. We import only those two
light modules: `actions_toolkit.core` pulls in `requests` (~170 ms) for OIDC we never use.
Outside GitHub Actions everything degrades to plain, readable text on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from typing import Literal, TextIO

from actions_toolkit.command import issue_command
from actions_toolkit.file_command import issue_file_command, prepare_key_value_message

SUMMARY_LIMIT = 1024 * 1024  # GitHub rejects a step summary over 1 MiB
Level = Literal["error", "warning", "notice"]

_secrets: set[str] = set()
_json_mode = False


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def set_json_mode(enabled: bool) -> None:
    """With --json, stdout carries only the JSON object; everything else goes to stderr."""
    global _json_mode
    _json_mode = enabled


def _stream() -> TextIO:
    # The runner reads workflow commands from stdout and stderr alike; we keep commands and
    # log lines on one stream so that an ::add-mask:: is always processed before what it hides.
    if in_actions() and not _json_mode:
        return sys.stdout
    return sys.stderr


def get_input(name: str) -> str | None:
    """The raw value of input `name` (hyphenated), or None when unset or empty.

    GitHub passes `INPUT_TAG-PREFIX` to Docker actions; shells cannot name that, so composite
    actions may map inputs as `INPUT_TAG_PREFIX`. Both spellings are read.
    """
    upper = name.upper()
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}", f"INPUT_{upper.replace(' ', '_')}"):
        value = os.environ.get(key)
        if value is not None and value.strip() != "":
            return value
    return None


def mask(secret: str | None) -> None:
    """Hide `secret` from every later log line. Call before anything could print it."""
    if not secret:
        return
    for piece in {secret, *(line for line in secret.splitlines() if line.strip())}:
        if piece in _secrets:
            continue
        _secrets.add(piece)
        if in_actions():
            _with_stream(lambda p=piece: issue_command("add-mask", {}, p))


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ***, for text we print ourselves."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _with_stream(fn: object) -> None:
    # actions-toolkit writes commands to sys.stdout; point that at our chosen stream.
    stream = _stream()
    if stream is sys.stdout:
        fn()  # type: ignore[operator]
        return
    saved = sys.stdout
    sys.stdout = stream
    try:
        fn()  # type: ignore[operator]
    finally:
        sys.stdout = saved


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What the runner reads as a command: a line that starts with '::' (after blanks), or the old '##[' form
# anywhere in a line.
_COMMAND_LIKE = re.compile(r"^\s*::|##\[", re.MULTILINE)


def neutralise(text: str) -> str:
    """`text` as log lines that can never be read as workflow commands.

    Our log lines carry values from outside (a health endpoint's version, a server's error body), so
    a value holding a line break and `::add-mask::` or `::stop-commands::` could otherwise become a
    command. Inside Actions, text holding anything command-like is wrapped in `::stop-commands::`
    with a token nobody can guess (GitHub's own mechanism), so it is shown exactly as it is and
    never executed; stray carriage returns, which the runner also treats as line breaks, become
    line feeds first."""
    text = _LINE_BREAK.sub("\n", text)
    if not in_actions() or not _COMMAND_LIKE.search(text):
        return text
    token = secrets.token_hex(16)
    return f"::stop-commands::{token}\n{text}\n::{token}::"


def one_line(text: str) -> str:
    """`text` on one line: line breaks and other control characters shown as escapes (\\n, \\x1b)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def log(message: str) -> None:
    stream = _stream()
    stream.write(neutralise(redact(message)) + "\n")
    stream.flush()


def annotate(
    level: Level, message: str, *, file: str | None = None, line: int | None = None,
    title: str | None = None,
) -> None:
    """An annotation in Actions (`::error file=…,line=…::`), a plain `level: file:line: …` line elsewhere."""
    message = redact(message)
    if in_actions():
        props: dict[str, object] = {}
        if title:
            props["title"] = title
        if file:
            props["file"] = file
        if line:
            props["line"] = line
        _with_stream(lambda: issue_command(level, props, message))
        sys.stdout.flush()
        return
    where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
    sys.stderr.write(one_line(f"{level}: {where}{message}") + "\n")
    sys.stderr.flush()


@contextlib.contextmanager
def group(name: str) -> Iterator[None]:
    """A foldable log group in Actions; a heading line elsewhere."""
    if in_actions():
        _with_stream(lambda: issue_command("group", {}, name))
    else:
        log(f"== {name}")
    try:
        yield
    finally:
        if in_actions():
            _with_stream(lambda: issue_command("endgroup", {}, ""))


def output_text(value: object) -> str:
    """How an output value is spelled: booleans as true/false, None as '', lists/dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_outputs(outputs: Mapping[str, object]) -> None:
    """Append every output to GITHUB_OUTPUT, each with its own random heredoc delimiter."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    if not os.path.isfile(path):
        from deploy_actions.errors import OperationError

        raise OperationError(f"GITHUB_OUTPUT is {path!r}, which is not a file; outputs cannot be written")
    for name, value in outputs.items():
        text = output_text(value)
        if any(secret in text for secret in _secrets):
            # A masked value cannot be an output on GitHub; refusing beats a silent blank.
            text = redact(text)
        issue_file_command("OUTPUT", prepare_key_value_message(name, text))


def write_summary(markdown: str) -> None:
    """Append Markdown to the step summary, truncated to GitHub's 1 MiB limit."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path or not markdown:
        return
    data = redact(markdown).encode("utf-8")
    if len(data) > SUMMARY_LIMIT:
        note = b"\n\n_(summary truncated at 1 MiB)_\n"
        data = data[: SUMMARY_LIMIT - len(note)].decode("utf-8", "ignore").encode() + note
    with open(path, "ab") as fh:
        fh.write(data if data.endswith(b"\n") else data + b"\n")
