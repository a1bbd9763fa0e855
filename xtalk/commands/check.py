"""``xtalk check HISTORY... [--scenario SCENARIO] [--out DIR]``: re-check recorded histories."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import orjson

HELP = "re-check recorded history files offline"
DESCRIPTION = """\
Re-check recorded history files offline, with the same checker a live run uses.

Pass one history.jsonl, or every history-<worker>.jsonl shard of a distributed run: shards are
merged by time as they are read (nothing is copied); witness line numbers then count lines of
that merged stream, and each finding's witness_at names the shard file and line of each one.
Without --scenario, every anomaly kind has limit 0 and there are no latency thresholds; with
it, the scenario's deadline, drain window and thresholds apply.

examples:
  xtalk check reports/20261122-031500-golden_path/history.jsonl
  xtalk check reports/RUN/history-*.jsonl --scenario scenarios/nightly_isolation.toml --out /tmp/recheck

exit status: 0 pass, 1 fail, 2 inconclusive, 3 usage error.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("histories", nargs="+", metavar="HISTORY", help="history .jsonl file(s)")
    parser.add_argument("--scenario", metavar="SCENARIO", help="scenario file whose thresholds apply")
    parser.add_argument("--out", metavar="DIR", help="write verdict.json, report.html and junit.xml here")
    parser.add_argument("--json", action="store_true", help="print verdict.json to stdout instead of a summary")


def run(args: argparse.Namespace) -> int:
    from xtalk.history import check_files

    scenario = None
    if args.scenario:
        from xtalk.scenario.load import load_scenario

        scenario = load_scenario(args.scenario, check_env=False)  # re-checking needs no secrets
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    recheck = "xtalk check " + " ".join(shlex.quote(h) for h in args.histories)
    if args.scenario:
        recheck += f" --scenario {shlex.quote(args.scenario)}"
    run_info: dict[str, Any] = {"scenario": scenario.name if scenario else None}
    verdict = check_files(
        args.histories,
        scenario,
        run=run_info,
        recheck=recheck,
    )
    data = verdict.to_dict()
    if out is not None:
        write_outputs(out, data)
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(summarise(data))
        if out is not None:
            print(f"run folder: {out}")
    return verdict.exit_code


def write_outputs(out: Path, data: dict[str, Any]) -> None:
    try:
        from xtalk.report.outputs import write_run_outputs
    except ImportError:
        (out / "verdict.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        return
    write_run_outputs(out, data)


def summarise(data: dict[str, Any]) -> str:
    try:
        from xtalk.report.summary import format_summary
    except ImportError:
        counts = ", ".join(f"{k}={n}" for k, n in data["anomalies"].items() if n) or "no anomalies"
        return f"verdict: {data['verdict']} ({counts}); requests {data['requests']}"
    return format_summary(data)
