"""The ``xtalk`` command line: one sub-command per module in ``xtalk.commands``.

Each command module exposes ``HELP`` (one line), ``DESCRIPTION`` (the ``--help`` text),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their command
runs, so ``xtalk check`` never pays for importing Locust, and ``xtalk serve`` never imports gevent.

A ``UsageError`` from any command becomes its message on stderr and exit status 3; no traceback
reaches a user for their own mistake. So does every mistake argparse finds on the command line
(a missing argument, ``--users abc``, an unknown option or command): argparse's own exit status 2
means "inconclusive" to ``run`` and ``check`` (SPEC), so ``XtalkParser.error`` turns its message
into a teaching one (what was expected, what was found, an example that works) and exits 3.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from types import ModuleType
from typing import NoReturn

from xtalk import __version__
from xtalk.errors import EXIT_USAGE, UsageError

COMMANDS: dict[str, str] = {
    "run": "xtalk.commands.run",
    "check": "xtalk.commands.check",
    "report": "xtalk.commands.report",
    "serve": "xtalk.commands.serve",
    "selftest": "xtalk.commands.selftest",
    "trend": "xtalk.commands.trend",
    "shrink": "xtalk.commands.shrink",
    "sweep": "xtalk.commands.sweep",
    "profiles": "xtalk.commands.profiles",
    "scenarios": "xtalk.commands.scenarios",
}

# Short help lines live here so that `xtalk --help` imports no command module.
SUMMARIES: dict[str, str] = {
    "run": "run a scenario headless on Locust, check it, write a run folder",
    "check": "re-check recorded history files offline",
    "report": "render report.html (and junit.xml) again from a run folder",
    "serve": "run the reference backend alone (optionally with injected faults)",
    "selftest": "prove that every fault the reference backend injects is found",
    "trend": "print the recent runs of a scenario from the trend database",
    "shrink": "shrink a failing run to a minimal scenario that still fails the same way",
    "sweep": "run a scenario at rising concurrency and find where leaks start",
    "profiles": "list the shipped wire profiles, or validate and summarise a profile file",
    "scenarios": "list the scenarios xtalk run can name, with when to use each",
}

EPILOG = """\
exit status (run, check): 0 pass, 1 fail, 2 inconclusive, 3 usage or harness error,
130 / 143 interrupted by SIGINT / SIGTERM (the run folder still holds a verdict).

first steps:
  xtalk run scenarios/golden_path.toml          # embedded backend, 50 users, 30 s
  xtalk check reports/<run-id>/history*.jsonl   # re-check a recorded run
"""


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def _example(description: str | None, prog: str) -> str | None:
    """The first example line of a command's ``--help`` text (``  xtalk run ...``)."""
    for line in (description or "").splitlines():
        text = line.strip()
        if text.startswith(prog + " ") or text == prog:
            return text.split("  #")[0].strip()
    return None


class XtalkParser(argparse.ArgumentParser):
    """argparse, except that a command-line mistake exits 3 with a teaching message."""

    def error(self, message: str) -> NoReturn:
        found = message
        fix = f"see `{self.prog} --help` for every option"
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            names = [n.strip(" '") for n in choice.group(2).split(",")]
            close = difflib.get_close_matches(choice.group(1), names, n=1)
            found = f"{self.prog} {choice.group(1)} (no such command)"
            fix = (f"did you mean `{self.prog} {close[0]}`? " if close else "") + \
                f"the commands are {', '.join(names)}; `{self.prog} --help` explains each"
        else:
            example = _example(self.description, self.prog)
            if example:
                fix = f"for example `{example}`; {fix}"
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        expected = f"a command line as in: {usage}"
        self.exit(EXIT_USAGE, f"{self.prog}: {UsageError(expected, found, fix).message}\n")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = XtalkParser(
        prog="xtalk",
        description="Concurrent multi-user isolation load harness for AI-agent chat backends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xtalk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, argparse.ArgumentParser] = {}
    wanted = next((a for a in argv if a in COMMANDS), None)
    for name in COMMANDS:
        if name != wanted:
            sub.add_parser(name, help=SUMMARIES[name])
            continue
        module = _load(name)
        p = sub.add_parser(
            name,
            help=SUMMARIES[name],
            description=getattr(module, "DESCRIPTION", SUMMARIES[name]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_module=module)
        commands[name] = p
    parser.set_defaults(_commands=commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the command whose options these are not
        owner = getattr(args, "_commands", {}).get(getattr(args, "command", None), parser)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(module.run(args))
    except UsageError as error:
        print(f"xtalk {args.command}: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `xtalk scenarios | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"xtalk {args.command}: interrupted", file=sys.stderr)
        return 130
