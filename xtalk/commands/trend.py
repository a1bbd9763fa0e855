"""``xtalk trend``: the recent runs of a scenario from the trend database, regressions flagged.

The same rows and the same regression rule (``xtalk.report.trend.compare``) as the report's trend
section, printed as a table per scenario.
"""

from __future__ import annotations

import argparse
from typing import Any

from xtalk.errors import EXIT_PASS, UsageError
from xtalk.report import trend, view
from xtalk.report.text import plain

HELP = "print the recent runs of a scenario from the trend database"
DESCRIPTION = """\
Print the last runs recorded in the trend store (every xtalk run and xtalk check appends one:
$XTALK_TREND_DB, else reports/history.sqlite of the current folder): verdict, host, profile,
anomalies, p95 per phase and completion, with regressions flagged against the previous run of the
same scenario, host and profile (like with like: a run against a leaky host is never a regression
of the embedded runs): a worse verdict, more anomalies of a kind, a p95 up by more than 20 % and
50 ms, completion down by 2 points or more.

examples:
  xtalk trend                                   # every scenario in reports/history.sqlite
  xtalk trend --scenario nightly_isolation --last 20
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=trend.store, default=None, metavar="PATH|URL",
                        help="the trend store: a SQLite file or a postgresql:// URL "
                             "(default: $XTALK_TREND_DB, else reports/history.sqlite)")
    parser.add_argument("--scenario", default=None, metavar="NAME", help="only this scenario (default: all)")
    parser.add_argument("--last", type=int, default=10, metavar="N", help="runs per scenario (default: 10)")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    phases = [p for p in view.PHASES if any(p in view.as_dict(r.get("p95")) for r in rows)]
    header = ["run", "started", "verdict", "host", "profile", "anomalies", *(f"p95 {p.removeprefix('agent_')}" for p in phases),
              "completion", ""]
    body = []
    for row in rows:
        p95 = view.as_dict(row.get("p95"))
        started = plain(row.get("started_at") or row.get("recorded_at") or "", 25)
        body.append([plain(row.get("run_id"), 40), started, plain(row.get("verdict"), 12),
                     plain(row.get("host"), 40), plain(row.get("profile"), 20),
                     view.fmt_num(row.get("anomalies_total")), *(view.fmt_seconds(p95.get(p)) for p in phases),
                     view.fmt_ratio(view.as_float(row.get("completion"))),
                     "▲ regression" if row.get("regressions") else ""])
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [header, *body]]
    for row in rows:
        for regression in view.as_list(row.get("regressions")):
            lines.append(f"  ▲ {plain(row.get('run_id'), 40)} (against {plain(row.get('previous'), 40)}): "
                         f"{plain(regression, 120)}")
    return lines


def run(args: argparse.Namespace) -> int:
    db: trend.Store = args.db if args.db is not None else trend.default_db()
    if args.last < 1:
        raise UsageError("--last >= 1", f"--last={args.last}", "pass --last N with N at least 1")
    if not trend.exists(db):
        raise UsageError("a trend database", f"--db={db} (no such file)",
                         "run a scenario first (xtalk run ... appends to reports/history.sqlite), "
                         "or pass --db PATH / set XTALK_TREND_DB")
    scenarios = [args.scenario] if args.scenario is not None else trend.read_scenarios(db)
    printed = False
    for name in scenarios:
        rows = trend.read_runs(db, name, args.last)
        if not rows:
            continue
        if printed:
            print()
        print(f"scenario {plain(name, 80)}: last {len(rows)} run(s), oldest first")
        print("\n".join(_table(rows)))
        printed = True
    if not printed:
        known = ", ".join(plain(s, 40) for s in trend.read_scenarios(db)) or "none"
        raise UsageError("runs of the scenario in the trend database", f"--scenario={args.scenario} "
                         f"(scenarios recorded: {known})", "pick one of the recorded scenarios")
    return EXIT_PASS
