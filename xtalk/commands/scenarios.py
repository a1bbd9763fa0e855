"""``xtalk scenarios``: the scenario names ``xtalk run`` understands, and when to use each."""

from __future__ import annotations

import argparse
import shutil
import textwrap

from xtalk.errors import EXIT_PASS, UsageError
from xtalk.report.text import plain

HELP = "list the scenarios xtalk run can name, with when to use each"
DESCRIPTION = """\
List the scenarios that `xtalk run NAME` finds: the current folder's scenarios/*.toml first
(a team's own copy of a scenario wins), then the scenarios shipped with xtalk. Each line says
when to use it, from the comment block at the top of its file.

examples:
  xtalk scenarios
  xtalk scenarios --paths          # where each file is, to copy one and adapt it
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", action="store_true", help="show each scenario's file")


def run(args: argparse.Namespace) -> int:
    from xtalk.scenario.library import entries

    found = entries()
    if not found:
        raise UsageError("scenario files in ./scenarios or shipped with xtalk", "none",
                         "reinstall xtalk (its wheel ships scenarios), or pass a .toml path to xtalk run")
    columns = max(60, shutil.get_terminal_size((100, 20)).columns)
    width = max(len(e.name) for e in found) + 2
    for entry in found:
        text = plain(entry.when or "(its file has no \"When to use it\" line)")
        if entry.source == "here":
            text += " [./scenarios]"
        lines = textwrap.wrap(text, width=max(30, columns - width)) or [""]
        print(entry.name.ljust(width) + lines[0])
        for line in lines[1:]:
            print(" " * width + line)
        if args.paths:
            print(" " * width + f"file: {entry.path}")
    print(f"\nrun one with: xtalk run NAME (e.g. xtalk run {found[0].name}); "
          "copy a file into ./scenarios/ to adapt it (a local file wins over the shipped one)")
    return EXIT_PASS
