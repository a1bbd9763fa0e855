"""Benchmark: the report of a 1-million-event run: file size and load time in headless Chromium.

Builds a synthetic verdict shaped like the checker's for a run of 1,000,000 events (5,000 users,
1,000 findings with their witness frames, 3,000 cross-user events, a 5,000-point latency series,
30 swimlanes, 300 unknowns), renders the run folder's outputs, and opens report.html from disk in
Debian's chromium through Playwright, three times. Prints the render time, the file sizes and the
load-event time (the Navigation Timing ``loadEventEnd``). Goals: report.html <= 10 MB, load < 2 s.

    python benchmarks/bench_report.py [--events N] [--users N] [--findings N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from xtalk.report import outputs, samples

SIZE_GOAL = 10 * 1024 * 1024
LOAD_GOAL = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--findings", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    verdict = samples.huge(users=args.users, events=args.events, findings=args.findings)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        started = time.perf_counter()
        outputs.write_run_outputs(run_dir, verdict, trend_db=Path(tmp) / "history.sqlite")
        render = time.perf_counter() - started
        sizes = {name: (run_dir / name).stat().st_size for name in ("report.html", "verdict.json", "junit.xml")}
        print(f"verdict: {args.events:,} events, {args.users:,} users, {len(verdict['findings']):,} findings shown "
              f"of {verdict['anomalies']['cross_user_event']:,}, {len(verdict['latency']['series']):,} latency points")
        print(f"render + write (verdict.json, report.html, junit.xml, trend row): {render:.2f} s")
        for name, size in sizes.items():
            print(f"{name:13} {size / 1024 / 1024:6.2f} MB")
        html_size = sizes["report.html"]
        print(f"report.html size goal <= 10 MB: {'met' if html_size <= SIZE_GOAL else 'MISSED'}")

        chromium = shutil.which("chromium")
        if chromium is None:
            print("chromium not found: load time not measured (apt-get install chromium)")
            return 0
        from playwright.sync_api import sync_playwright

        loads, walls = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                wall = time.perf_counter()
                page.goto((run_dir / "report.html").as_uri(), wait_until="load")
                walls.append(time.perf_counter() - wall)
                loads.append(page.evaluate(
                    "performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000)
                if errors:
                    print("page errors:", errors, file=sys.stderr)
                context.close()
            browser.close()
        load = statistics.median(loads)
        print(f"load event (Navigation Timing loadEventEnd), median of {args.runs}: {load:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in loads)}); goto wall time median {statistics.median(walls):.2f} s")
        print(f"load goal < 2 s: {'met' if load < LOAD_GOAL else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
