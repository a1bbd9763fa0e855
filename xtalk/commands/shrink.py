"""``xtalk shrink RUN_DIR``: shrink a failing run to a minimal scenario that fails the same way."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "shrink a failing run to a minimal scenario that still fails the same way"

DESCRIPTION = """\
Shrink the failing run in RUN_DIR to the smallest configuration that still fails with the same
anomaly kind (the run's first, in SPEC order, or --kind), so that the next engineer starts from
a reproducer of 2 users and 1 second instead of 200 users and 10 minutes.

RUN_DIR is a folder written by `xtalk run`: its scenario.json says what ran, against its host
(or --host), or against the embedded reference backend with the same engine path and faults.
xtalk shrink then runs smaller candidates, each an ordinary bounded `xtalk run` into
OUT/runs/step-NN-try-K/ (its output in run.log there), and keeps a candidate when every one of
its --tries runs fails with that kind. In order, it tries: a shorter run time and drain, a
constant load shape, fewer users (halving, then ddmin over the count), fewer journeys and
steps (ddmin), fewer engine paths, a lower spawn rate; then again, until nothing smaller
reproduces or the --budget is spent (a run that could not end within the budget is not
started; the best found so far stands). A candidate stops at its first run that does not
reproduce; the log shows each candidate's rate as hits/runs.

It writes, in OUT (default RUN_DIR.shrink beside RUN_DIR):
  <name>.min.toml    the minimal scenario, a file `xtalk run` accepts (its comment says what it
                     was shrunk from and how to run it)
  <name>.min/        the minimal run's folder; its report links back to the original run
  shrink-log.txt     the log as the table printed at the end (step, what changed, users, run
                     time, drain, tries, reproduced, seconds); shrink-log.json the same as data
  runs/              every candidate run

exit status: 1 a reproducer was found (the failure is real: fix it), 0 the original failure no
longer reproduces (not even the original configuration fails that way now), 2 the budget ran out
before anything reproduced, 3 usage or harness error.

examples:
  xtalk serve --engine legacy --port 8000 &
  xtalk run scenarios/golden_path.toml --host http://127.0.0.1:8000 --users 40   # fails
  xtalk shrink reports/<run-id> --budget 8m
  xtalk run reports/<run-id>.shrink/golden_path.min.toml                         # fails again
  xtalk shrink reports/<run-id> --tries 1 --kind cross_user_content              # flaky is fine
"""

DEFAULT_BUDGET = "10m"
DEFAULT_TRIES = 3


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number but got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="the folder of a failing `xtalk run`")
    parser.add_argument("--budget", metavar="T", default=DEFAULT_BUDGET,
                        help=f"stop the search after this long with the best found so far (default {DEFAULT_BUDGET})")
    parser.add_argument("--tries", metavar="N", type=_whole, default=DEFAULT_TRIES,
                        help=f"runs that must all fail for a candidate to count (default {DEFAULT_TRIES}; "
                        "1 accepts a flaky reproducer)")
    parser.add_argument("--out", metavar="DIR", type=Path, help="where to write (default RUN_DIR.shrink)")
    parser.add_argument("--kind", metavar="KIND", help="the anomaly kind to keep (default: the run's first)")
    parser.add_argument("--host", metavar="URL", help="run the candidates against this host instead of the run's")


def _budget(text: str) -> float:
    from xtalk.errors import UsageError
    from xtalk.scenario.duration import DURATION_HINT, parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as reason:
        raise UsageError(f"--budget to be {DURATION_HINT}", f"--budget {text} ({reason})",
                         "pass e.g. --budget 10m") from None
    if seconds <= 0:
        raise UsageError("--budget above 0", f"--budget {text}", "pass e.g. --budget 10m")
    return seconds


def run(args: argparse.Namespace) -> int:
    from xtalk.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, EXIT_USAGE, UsageError
    from xtalk.shrink import log as shrink_log
    from xtalk.shrink import reproducer
    from xtalk.shrink.search import STOP_BUDGET, STOP_INTERRUPTED
    from xtalk.trials.progress import open_progress

    budget = _budget(args.budget)
    if args.tries < 1:
        raise UsageError("--tries N with N >= 1", f"--tries {args.tries}",
                         "pass --tries 3 (the default: a reproducer that fails every time) or --tries 1")
    failure = reproducer.read_failure(args.run_dir, kind=args.kind, host=args.host)
    out: Path = args.out or reproducer.default_out(args.run_dir)
    reproducer.check_out(out)
    started = time.monotonic()
    progress = open_progress("xtalk shrink", budget=budget)
    try:
        shrink = reproducer.shrink_failure(failure, out=out, tries=args.tries, budget=budget, progress=progress)
    finally:
        progress.close()
    reproducer.write_results(shrink)
    result = shrink.result
    print()
    print(shrink_log.format_log(result, args.tries))
    print()
    elapsed = time.monotonic() - started
    stopped = {STOP_BUDGET: f"the budget ({args.budget}) ran out", STOP_INTERRUPTED: "interrupted"}.get(result.stopped)
    print(f"xtalk shrink: {result.runs} runs of {len(result.steps)} candidates in {elapsed:.0f} s"
          + (f"; stopped: {stopped}" if stopped else ""))
    kind = failure.kind
    if result.reproduced and shrink.minimal_toml is not None:
        step = result.best_step
        rate = f"{step.hits}/{len(step.tries)}" if step else "?"
        same = " (the original configuration: nothing smaller reproduced)" if step and step.original else ""
        best_so_far = " (the best found so far)" if stopped else ""
        print(f"xtalk shrink: minimal reproducer{best_so_far}: {reproducer.describe(result.best)}{same}; "
              f"it failed with {kind} in {rate} runs")
        print(f"xtalk shrink: scenario {shrink.minimal_toml}")
        if shrink.minimal_dir is not None:
            print(f"xtalk shrink: its run folder {shrink.minimal_dir} (report.html links back to {failure.run_dir})")
        print(f"xtalk shrink: run it again: xtalk run {shrink.minimal_toml}")
        print(f"xtalk shrink: log {out / 'shrink-log.txt'}")
        return EXIT_FAIL
    if result.reproduced is False:
        original = result.steps[-1] if result.steps and result.steps[-1].original else None
        if original is not None and original.errors:
            print(f"xtalk shrink: could not run the original configuration: {original.errors[0]}")
            return EXIT_USAGE
        runs = len(original.tries) if original else 0
        hits = original.hits if original else 0
        print(f"xtalk shrink: the original failure no longer reproduces: run {failure.run_id} failed with {kind}, "
              f"but its configuration, run again, failed with it in {hits} of {runs} run(s) "
              f"(a reproducer must fail in all {args.tries}), and no smaller candidate did. Nothing to shrink; "
              f"log {out / 'shrink-log.txt'}")
        return EXIT_PASS
    print(f"xtalk shrink: {stopped or 'stopped'} before any candidate reproduced {kind}; no minimal scenario "
          f"was written. Give the search more time (--budget) or accept flaky reproducers (--tries 1); "
          f"log {out / 'shrink-log.txt'}")
    return 130 if result.stopped == STOP_INTERRUPTED else EXIT_INCONCLUSIVE
