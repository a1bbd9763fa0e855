"""The ``xtalk`` command line: one sub-command per module in ``xtalk.commands``.

Each command module exposes ``HELP`` (one line), ``DESCRIPTION`` (the ``--help`` text),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their command
runs, so ``xtalk check`` never pays for importing Locust, and ``xtalk serve`` never imports gevent.

A ``UsageError`` from any command becomes its message on stderr and exit status 3; no traceback
reaches a user for their own mistake.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

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
}

EPILOG = """\
exit status (run, check): 0 pass, 1 fail, 2 inconclusive, 3+ usage or harness error.

first steps:
  xtalk run scenarios/golden_path.toml          # embedded backend, 50 users, 30 s
  xtalk check reports/<run-id>/history*.jsonl   # re-check a recorded run
"""


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xtalk",
        description="Concurrent multi-user isolation load harness for AI-agent chat backends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xtalk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(module.run(args))
    except UsageError as error:
        print(f"xtalk {args.command}: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"xtalk {args.command}: interrupted", file=sys.stderr)
        return 130
