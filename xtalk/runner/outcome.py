"""After the load: check the history shards, write the run folder's outputs, pick the exit status.

The checker (``xtalk.history.check_files``) and the report (``xtalk.report.outputs``,
``xtalk.report.summary``) are other modules' concepts; this one only sequences them, so it
degrades instead of failing when one of them is missing: without the report it writes
``verdict.json`` itself; without the checker it keeps the histories, says how to re-check them
and exits 3 (a harness error: nothing was concluded).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from xtalk.errors import EXIT_USAGE
from xtalk.runner.interrupt import Interruption, describe_interruption
from xtalk.scenario.model import Scenario



def recheck_command(run_dir: Path) -> str:
    return f"xtalk check {shlex.quote(str(run_dir))}/history*.jsonl --scenario {shlex.quote(str(run_dir / 'scenario.json'))}"


def check_and_write(run_dir: Path, histories: Sequence[Path], scenario: Scenario, run_info: dict[str, Any],
                    interruption: Interruption | None = None) -> int:
    try:
        from xtalk.history import check_files
    except ImportError as error:
        print(f"xtalk run: the checker is not available ({error}); the history is in {run_dir}. "
              f"Re-check it later with: {recheck_command(run_dir)}", file=sys.stderr)
        return EXIT_USAGE
    # Several shards are merged by time; witnesses are line numbers in that merged stream, so it
    # is saved beside the verdict (not named history*.jsonl: the re-check command globs those).
    paths = [str(p) for p in histories]
    # The checker decides what an interruption means (inconclusive unless a leak was found);
    # the runner, which saw the signal, only says how it happened.
    how = describe_interruption(interruption) if interruption is not None else None
    run = {**run_info, **({"interrupted": interruption.signal or True} if interruption is not None else {})}
    verdict = check_files(paths, scenario, run=run, recheck=recheck_command(run_dir),
                          interrupted=how)
    data: dict[str, Any] = verdict.to_dict()
    write_outputs(run_dir, data)
    print(summary(data))
    return verdict.exit_code


def write_outputs(run_dir: Path, verdict: dict[str, Any]) -> None:
    try:
        from xtalk.report.outputs import write_run_outputs
    except ImportError:
        print("xtalk run: the report module is missing; writing verdict.json only", file=sys.stderr)
    else:
        try:
            write_run_outputs(run_dir, verdict)
            return
        except Exception as error:  # the verdict must reach disk even if rendering fails
            print(f"xtalk run: the report could not be rendered ({type(error).__name__}: {error}); "
                  "writing verdict.json only", file=sys.stderr)
    (run_dir / "verdict.json").write_bytes(orjson.dumps(verdict, option=orjson.OPT_INDENT_2) + b"\n")


def summary(verdict: dict[str, Any]) -> str:
    try:
        from xtalk.report.summary import format_summary

        return str(format_summary(verdict))
    except Exception:
        anomalies = {k: v for k, v in (verdict.get("anomalies") or {}).items() if v}
        requests = verdict.get("requests") or {}
        return (f"verdict: {verdict.get('verdict')}  requests sent={requests.get('sent')} "
                f"completed={requests.get('completed')} unknown={requests.get('unknown')}  "
                f"anomalies: {anomalies or 'none'}")
