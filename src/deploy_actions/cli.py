"""The `deploy-actions` command: parses arguments, dispatches to a command, reports the result.

Only argument parsing and reporting live here; each command's work is a function over typed
options (see `deploy_actions.commands`). Heavy libraries are imported by the commands, lazily,
so `deploy-actions --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from collections.abc import Sequence

from deploy_actions import __version__, actions_runtime
from deploy_actions.commands import COMMANDS
from deploy_actions.commands.spec import CommandSpec, Option, resolve
from deploy_actions.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, DeployActionsError
from deploy_actions.outcome import Outcome


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's usage dump is noise in a CI log: one line, exit 2.
        self.exit(EXIT_BAD_INPUT, f"deploy-actions: error: {message} (see --help)\n")


def _add_flag(parser: argparse.ArgumentParser, option: Option) -> None:
    help_text = option.description.replace("%", "%%")  # argparse formats help with %
    if option.choices:
        help_text += f" ({'|'.join(option.choices)})"
    if option.default not in (None, ""):
        help_text += f" [default: {option.default.replace('%', '%%')}]"
    if option.kind == "bool":
        parser.add_argument(f"--{option.name}", dest=option.dest, nargs="?", const="true",
                            default=None, metavar="true|false", help=help_text)
    else:
        parser.add_argument(f"--{option.name}", dest=option.dest, default=None,
                            metavar=option.name.upper().replace("-", "_"), help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deploy-actions",
        description="Carry a release from a code repository to running software, the GitOps way.",
        epilog="Every flag can also come from its action input, INPUT_<NAME>. "
               "Exit status: 0 done, 1 a check failed, 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"deploy-actions {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for spec in COMMANDS.values():
        cmd = sub.add_parser(spec.name, help=spec.description, description=spec.description)
        cmd.add_argument("--json", action="store_true",
                         help="print one JSON object whose keys are the outputs")
        for option in spec.all_options():
            if option.is_flag:
                _add_flag(cmd, option)
    return parser


def _report(spec: CommandSpec, outcome: Outcome, as_json: bool) -> None:
    for note in outcome.annotations:
        actions_runtime.annotate(note.level, note.message, file=note.file, line=note.line,
                                 title=note.title)
    if actions_runtime.in_actions():
        actions_runtime.write_outputs(outcome.outputs)
        actions_runtime.write_summary(outcome.summary)
    if outcome.text:
        actions_runtime.log(outcome.text)  # on stderr when --json keeps stdout for the object
    if as_json:
        payload = {name: outcome.outputs.get(name) for name in (o.name for o in spec.outputs)}
        sys.stdout.write(actions_runtime.redact(json.dumps(payload, indent=2, default=str)) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    spec = COMMANDS[args.command]
    actions_runtime.set_json_mode(bool(args.json))
    try:
        given = {o.dest: getattr(args, o.dest, None) for o in spec.all_options()}
        options = resolve(spec, given)
        module_name, func_name = spec.run.split(":")
        run = getattr(importlib.import_module(module_name), func_name)
        outcome: Outcome = run(options)
        _report(spec, outcome, bool(args.json))
    except DeployActionsError as err:
        actions_runtime.annotate("error", err.message, file=err.file, line=err.line)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as err:  # the system refused a file operation (full disk, permissions): one line, exit 1
        where = f" ({err.filename})" if err.filename else ""
        actions_runtime.annotate("error", f"{err.strerror or err}{where}")
        return EXIT_CHECK_FAILED
    except Exception:  # noqa: BLE001 -- a bug: show it, but never a token
        text = actions_runtime.neutralise(actions_runtime.redact(traceback.format_exc()))
        sys.stderr.write(text)
        sys.stderr.write("deploy-actions: internal error; please report it with the lines above\n")
        return 1
    return outcome.exit_code
