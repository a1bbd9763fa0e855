"""``xtalk run SCENARIO``: run a scenario headless on Locust, check it, write a run folder."""

from __future__ import annotations

import argparse

HELP = "run a scenario headless on Locust, check it, write a run folder"

DESCRIPTION = """\
Run SCENARIO (a .toml file, or a name under scenarios/) headless on Locust and check it.

Without --host (and no host in the scenario) xtalk starts its embedded reference backend on a
free loopback port, configured by the scenario's [backend] table. Every user connects first;
then the load runs for the run time; then the run drains (connections stay open until no request
is in flight, or the drain window passes). The histories are checked and the run folder
(reports/<run-id>/ or --out) receives history*.jsonl, verdict.json, report.html, junit.xml and
Locust's own locust.html and CSV stats.

Before the load, a preflight user logs in and opens its WebSocket: credentials the backend
refuses (an error frame, close 1008, 401 on the upgrade) stop the run with exit 3 and a paragraph
naming the auth strategy, the refusal and the fix. SIGTERM or SIGINT stop the load, drain for up
to 3 s and still write the verdict (inconclusive unless an anomaly was already found).

exit status: 0 pass, 1 fail, 2 inconclusive, 3 usage or harness error, 130 / 143 interrupted by
SIGINT / SIGTERM.

examples:
  xtalk run scenarios/golden_path.toml
  xtalk run scenarios/golden_path.toml --users 50 --run-time 20s
  xtalk run golden_path --host http://127.0.0.1:8000 --workers 2
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number but got {text!r}") from None
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number but got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario file (.toml) or name under scenarios/")
    parser.add_argument("--host", metavar="URL", help="backend base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--users", metavar="N", type=_positive_int, help="peak concurrent users")
    parser.add_argument("--spawn-rate", metavar="R", type=_number, help="users started per second")
    parser.add_argument("--run-time", metavar="T", help="load duration: 30s, 5m, 1h (the drain comes after)")
    parser.add_argument("--out", metavar="DIR", help="run folder (default reports/<run-id>)")
    parser.add_argument("--workers", metavar="K", type=_positive_int, default=0,
                        help="Locust worker processes under a local master (default: one process)")
    parser.add_argument("--seed", metavar="S", type=_positive_int, help="random seed (journeys, backend)")
    parser.add_argument("--no-preflight", action="store_true",
                        help="skip the preflight (one user logs in and connects before the load; refused "
                             "credentials then exit 3): for a backend whose first connection changes what "
                             "later ones get")


def run(args: argparse.Namespace) -> int:
    from xtalk.runner.run import RunOptions
    from xtalk.runner.run import run as run_scenario

    return run_scenario(RunOptions(scenario=args.scenario, host=args.host, users=args.users,
                                   spawn_rate=args.spawn_rate, run_time=args.run_time, out=args.out,
                                   workers=args.workers, seed=args.seed, preflight=not args.no_preflight))
