"""Telling the demo's story: each step printed as it runs and kept for report.md, and the small
helpers every chapter uses (the real `deploy-actions` command line, git, its JSON outputs)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "deploy_actions"]


class DemoFailed(Exception):
    """A step did not do what the story needs; the message says which and why."""


@dataclass
class Story:
    """Prints the narrative and keeps it, step by step, for report.md."""

    work: Path
    color: bool = sys.stdout.isatty()
    started: float = field(default_factory=time.monotonic)
    markdown: list[str] = field(default_factory=list)
    chapters: int = 0
    held: list[str] | None = None  # an aside's printed lines, until the story it belongs to tells it

    def aside(self, chapters: int) -> Story:
        """A part of the story that runs alongside it (another thread): kept, not printed, until
        `tell`; its first chapter is number `chapters` + 1."""
        return Story(self.work, self.color, self.started, chapters=chapters, held=[])

    def tell(self, aside: Story) -> None:
        """Print an aside that has ended, and make it part of the report, after what is told so far."""
        for line in aside.held or ():
            print(line, flush=True)
        self.markdown += aside.markdown
        self.chapters = max(self.chapters, aside.chapters)

    def _print(self, text: str) -> None:
        if self.held is None:
            print(text, flush=True)
        else:
            self.held.append(text)

    def _bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.color else text

    def _dim(self, text: str) -> str:
        return f"\033[2m{text}\033[0m" if self.color else text

    def chapter(self, title: str, why: str = "") -> None:
        self.chapters += 1
        self._print(f"\n{self._bold(f'{self.chapters}. {title}')}  {self._dim(f'({self.elapsed():.0f} s)')}")
        self.markdown += ["", f"## {self.chapters}. {title}", ""]
        if why:
            self.say(why)

    def step(self, title: str) -> None:
        self._print(f"\n  {self._bold('▸ ' + title)}")
        self.markdown += ["", f"### {title}", ""]

    def say(self, text: str) -> None:
        self._print(f"  {text}")
        self.markdown += [text, ""]

    def show(self, text: str, markdown_lang: str = "text") -> None:
        """A block of output: indented on the terminal, fenced in the report."""
        if not text.strip():
            return
        self._print("    " + text.rstrip().replace("\n", "\n    "))
        self.markdown += [f"````{markdown_lang}", text.rstrip(), "````", ""]  # 4: the text may hold ``` fences

    def embed(self, markdown: str) -> None:
        """Markdown written by a command, made part of the report (its headings under this chapter's)."""
        lines = [f"##{line}" if line.startswith("#") else line for line in markdown.rstrip().splitlines()]
        self.markdown += [*lines, ""]

    def command(self, argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                expect: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        """Run `deploy-actions …` in `cwd`; print it, its stderr, and its exit status when not 0."""
        shown = "deploy-actions " + " ".join(map(quote, argv))
        self._print(f"  {self._dim('$ ' + shown)}")
        proc = subprocess.run([*CLI, *argv], cwd=cwd, capture_output=True, text=True, check=False,
                              env=env or cli_env())
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        for line in lines:
            self._print(f"    {line}")
        status = f"exit status {proc.returncode}"
        if proc.returncode:
            self._print(f"    → {status}")
        self.markdown += ["```console", f"$ {shown}", *lines, f"# {status}", "```", ""]
        if proc.returncode not in expect:
            raise DemoFailed(f"`{shown}` ended with exit status {proc.returncode} (expected "
                             f"{' or '.join(map(str, expect))}):\n{proc.stderr.strip()[-3000:]}")
        return proc

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def quote(arg: str) -> str:
    """As a shell would need it; a multi-line value as bash's $'…'."""
    if "\n" in arg:
        return "$'" + arg.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    return shlex.quote(arg)


def cli_env() -> dict[str, str]:
    """The environment of a terminal, not of a workflow run: no GITHUB_*/INPUT_* from a CI caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}


def outputs(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        document = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise DemoFailed(f"expected one JSON object on stdout, got {proc.stdout[:300]!r}") from err
    if not isinstance(document, dict):
        raise DemoFailed(f"expected one JSON object on stdout, got {proc.stdout[:300]!r}")
    return document


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False, env=cli_env())
    if proc.returncode != 0:
        raise DemoFailed(f"git {' '.join(args)} in {repo}: {proc.stderr.strip()}")
    return proc.stdout.strip()
