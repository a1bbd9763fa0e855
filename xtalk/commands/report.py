"""``xtalk report RUN_DIR``: render ``report.html`` and ``junit.xml`` again from ``verdict.json``.

Re-rendering reads the verdict only (never the history) and the trend database read-only: it does
not append a row, so re-rendering a run any number of times leaves the trend unchanged.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from xtalk.errors import EXIT_PASS, UsageError
from xtalk.report import outputs, trend

HELP = "render report.html (and junit.xml) again from a run folder"
DESCRIPTION = """\
Render report.html and junit.xml again from RUN_DIR/verdict.json, for example after upgrading
xtalk, or to view a run folder copied from CI. The trend section reads the trend store
($XTALK_TREND_DB, else reports/history.sqlite of the current folder: the one every xtalk run and
xtalk check appends to) without adding to it.

example:
  xtalk report reports/20250918T020000-nightly
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run folder holding verdict.json")
    parser.add_argument("--trend-db", type=trend.store, default=None, metavar="PATH|URL",
                        help="the trend database (default: $XTALK_TREND_DB, else reports/history.sqlite)")


def read_verdict(run_dir: Path) -> dict[str, Any]:
    """The verdict of a run folder, or a ``UsageError`` that says what is wrong with it."""
    path = run_dir / "verdict.json"
    if not run_dir.is_dir():
        raise UsageError("RUN_DIR to be a run folder", f"RUN_DIR={run_dir} (no such folder)",
                         "pass the folder that `xtalk run` or `xtalk check` printed, e.g. reports/<run-id>")
    if not path.is_file():
        raise UsageError("a verdict.json in RUN_DIR", f"RUN_DIR={run_dir} without verdict.json",
                         "re-check the run first: xtalk check RUN_DIR/history*.jsonl --out RUN_DIR")
    try:
        verdict = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as error:
        raise UsageError("verdict.json to hold JSON", f"{path}: {error}",
                         "re-check the run to write it again: xtalk check RUN_DIR/history*.jsonl --out RUN_DIR"
                         ) from None
    schema = verdict.get("schema") if isinstance(verdict, dict) else None
    if not isinstance(schema, str) or not schema.startswith("xtalk.verdict/"):
        raise UsageError("a verdict (schema xtalk.verdict/N)", f"{path} with schema={schema!r}",
                         "point RUN_DIR at a folder written by xtalk run or xtalk check")
    return dict(verdict)


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    verdict = read_verdict(run_dir)
    db = args.trend_db if args.trend_db is not None else trend.default_db()
    outputs.write_reports(run_dir, verdict, outputs.read_trend(db, verdict))
    print(f"wrote {run_dir / 'report.html'} and {run_dir / 'junit.xml'}")
    return EXIT_PASS
