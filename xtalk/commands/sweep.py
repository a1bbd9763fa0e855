"""``xtalk sweep SCENARIO --users 1,2,4,8``: where, in concurrency, leaks between users start."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a scenario at rising concurrency and find where leaks start"

DESCRIPTION = """\
Run SCENARIO at each concurrency level of --users (R times each, --repeat) and count, per level,
the requests sent, the requests whose events leaked to another user (cross_user_event or
cross_user_content), and the overlapping user pairs (how much concurrency the level really had),
with the leak rate and its 95 % Wilson interval. Prints a table and one line,
`onset: N users` (the smallest level with any leak) or `onset: none up to N users`, and writes,
in OUT (default reports/sweep-<time>-<scenario>/):

  sweep.html    the leak rate against concurrency, with its intervals (opens offline)
  sweep.csv     one row per level
  level-NNNN-run-K/   each run's folder (report.html, verdict.json, history, run.log)

Each run is an ordinary `xtalk run` of the scenario with --users N (and --run-time, --host,
--seed when given); run K of a level uses seed S+K-1. A level of 1 user is inconclusive by
nature (no two users in flight) and cannot leak: it is the baseline.

exit status: 1 a level leaked, 0 no level leaked, 3 usage or harness error (a run that gave no
verdict).

examples:
  xtalk serve --engine legacy --port 8000 &
  xtalk sweep scenarios/golden_path.toml --users 1,2,4 --run-time 8s --host http://127.0.0.1:8000
  xtalk sweep scenarios/golden_path.toml --users 1,2,4 --run-time 8s          # embedded, correct path
  xtalk sweep scenarios/nightly_isolation.toml --users 10,20,40,80 --repeat 3 --run-time 30s
"""


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number but got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario file (.toml) or name under scenarios/")
    parser.add_argument("--users", metavar="N,N,...", required=True,
                        help="the concurrency levels, e.g. 1,2,4,8 (users at once)")
    parser.add_argument("--repeat", metavar="R", type=_whole, default=1, help="runs per level (default 1)")
    parser.add_argument("--run-time", metavar="T", help="load duration of each run: 8s, 1m (default: the scenario's)")
    parser.add_argument("--host", metavar="URL", help="backend base URL (default: the scenario's, or embedded)")
    parser.add_argument("--seed", metavar="S", type=_whole, help="seed of each level's first run")
    parser.add_argument("--out", metavar="DIR", type=Path, help="where to write (default reports/sweep-<time>-<name>)")


def parse_levels(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]`` (sorted, without repeats); a ``UsageError`` otherwise."""
    from xtalk.errors import UsageError

    levels: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise UsageError("--users to list concurrency levels, whole numbers >= 1 separated by commas",
                             f"--users {text} ({part or 'an empty item'!r})", "pass e.g. --users 1,2,4,8")
        levels.add(int(part))
    return sorted(levels)


def run(args: argparse.Namespace) -> int:
    from xtalk.client.settings import make_run_id
    from xtalk.errors import EXIT_FAIL, EXIT_PASS, EXIT_USAGE, UsageError
    from xtalk.scenario.load import load_scenario
    from xtalk.sweep import levels as sweep_levels
    from xtalk.sweep import outputs
    from xtalk.sweep.html import render_sweep
    from xtalk.trials.execute import run_trial
    from xtalk.trials.progress import open_progress

    users = parse_levels(args.users)
    if args.repeat < 1:
        raise UsageError("--repeat R with R >= 1", f"--repeat {args.repeat}", "pass --repeat 1 (the default) or more")
    base = load_scenario(args.scenario, {k: v for k, v in {"host": args.host, "run_time": args.run_time,
                                                          "seed": args.seed}.items() if v is not None})
    plans = []  # every run's scenario, validated before anything starts
    for n in users:
        for repeat in range(1, args.repeat + 1):
            overrides = {"users": n, "seed": base.seed + repeat - 1, "run_time": base.run_time}
            if args.host:
                overrides["host"] = args.host
            plans.append((n, repeat, load_scenario(args.scenario, overrides)))
    out: Path = args.out or Path("reports") / make_run_id(f"sweep-{base.name}")
    if any(out.glob("level-*")) or (out / "sweep.csv").exists():
        raise UsageError("a new --out folder", f"{out} already holds a sweep", "pass --out with a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError("a writable --out folder", f"{out} ({error.strerror})", "pass --out DIR") from None

    where = base.host or f"the embedded reference backend (engine {base.backend.engine})"
    runs: list[sweep_levels.LevelRun] = []
    interrupted = False
    progress = open_progress("xtalk sweep", total=len(plans))
    try:
        progress.say(f"sweeping {base.name} over {', '.join(map(str, users))} users, {args.repeat} run(s) each, "
                     f"{base.run_time:g} s of load, against {where}")
        for n, repeat, scenario in plans:
            label = f"{n} user{'' if n == 1 else 's'}, run {repeat}/{args.repeat}"
            progress.begin(label)
            try:
                trial = run_trial(scenario, out / f"level-{n:04d}-run-{repeat}")
            except KeyboardInterrupt:
                interrupted = True
                break
            result = sweep_levels.level_run(n, repeat, trial.run_dir, trial.code, trial.seconds, trial.verdict,
                                            trial.error)
            runs.append(result)
            leaked = result.leaked if result.exact else f"≥{result.leaked}"
            detail = (f"error: {result.error}" if result.error else
                      f"{result.verdict}, {result.sent} requests, {leaked} leaked, "
                      f"{result.overlapping_pairs} overlapping pairs")
            progress.end(f"{label}: {detail} in {result.seconds:.1f} s")
    finally:
        progress.close()

    levels = sweep_levels.group(runs)
    info = {"scenario": base.name, "description": base.description, "host": f"against {where}",
            "run_time": f"{base.run_time:g} s of load", "repeat": f"{args.repeat} run(s) per level"}
    outputs.write_csv(out / "sweep.csv", levels)
    (out / "sweep.html").write_text(render_sweep(levels, info, base=str(out)), encoding="utf-8")
    print()
    print(outputs.format_levels(levels))
    print()
    print(sweep_levels.onset_line(levels))
    print(f"xtalk sweep: wrote {out / 'sweep.html'} and {out / 'sweep.csv'}; run folders in {out}")
    errors = [r for r in runs if r.error]
    for r in errors:
        print(f"xtalk sweep: level {r.users}, run {r.repeat} gave no verdict: {r.error}")
    if interrupted:
        print("xtalk sweep: interrupted; the table holds the runs that finished")
        return 130
    if any(level.leaked for level in levels):
        return EXIT_FAIL
    return EXIT_USAGE if errors else EXIT_PASS
