"""One trial: a scenario value run into a folder by the runner, its output kept in ``run.log``.

The run's processes (the embedded backend, Locust) inherit our standard output and error, so the
output is redirected at the file-descriptor level for the run's duration and restored after,
whatever happens; the progress display writes to a copy of the terminal taken before (see
``xtalk.trials.progress``). A ``UsageError`` raised by the run (an unreachable host, say) is the
trial's error, not the command's: the caller decides what a failed trial means.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from xtalk.errors import EXIT_USAGE, UsageError
from xtalk.scenario.model import Scenario

LOG_NAME = "run.log"


@dataclass(frozen=True, slots=True)
class Trial:
    run_dir: Path
    code: int  # xtalk run's exit status: 0 pass, 1 fail, 2 inconclusive, 3 harness error
    seconds: float
    verdict: dict[str, Any] | None  # verdict.json, when the run got that far
    error: str | None = None  # why there is no verdict (the runner's message)

    @property
    def log(self) -> Path:
        return self.run_dir / LOG_NAME


@contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Standard output and error go to ``path`` meanwhile: our children's (file descriptors 1
    and 2) and our own (``sys.stdout``, ``sys.stderr``, which need not write to those)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    streams = (sys.stdout, sys.stderr)
    log = open(path, "a", encoding="utf-8", errors="replace", buffering=1)
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        yield
    finally:
        try:
            log.flush()
        finally:
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            log.close()


def read_verdict(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads((run_dir / "verdict.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def run_trial(scenario: Scenario, run_dir: Path) -> Trial:
    """Run ``scenario`` into ``run_dir`` (which must not hold a run yet)."""
    from xtalk.runner.run import run_resolved

    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    error: str | None = None
    with output_to(run_dir / LOG_NAME):
        try:
            code = run_resolved(scenario, run_dir)
        except UsageError as failure:
            print(f"xtalk: {failure.message}", file=sys.stderr)
            code, error = EXIT_USAGE, failure.message
    seconds = time.monotonic() - started
    verdict = read_verdict(run_dir)
    if verdict is None and error is None:
        error = f"the run ended with exit status {code} and no verdict; see {run_dir / LOG_NAME}"
    return Trial(run_dir, code, seconds, verdict, error)
