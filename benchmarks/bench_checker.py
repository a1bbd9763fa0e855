"""Checker throughput and memory, offline, on generated histories of a clean multi-user run.

    python benchmarks/bench_checker.py                 # 2M and 8M events, side by side
    python benchmarks/bench_checker.py --events 500000 # one size

Each size is checked in a fresh child process so that its peak RSS (ru_maxrss) is its own. The
history mimics the reference backend: users in closed loops, seven events per request (a
supervisor and a sub-agent with one tool), both envelope families, heartbeats, runs overlapping.
Memory should stay flat as the history grows: the checker keeps the requests in flight and a
short tail of finished ones, not the history.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

EVENTS_PER_REQUEST = 7


def generate(path: Path, events: int, users: int = 1000) -> int:
    """Write a history with about ``events`` agent events; returns the number of lines."""
    requests = events // EVENTS_PER_REQUEST
    lines = 0
    with path.open("wb") as out:
        def put(record: dict[str, object]) -> None:
            nonlocal lines
            out.write(orjson.dumps(record) + b"\n")
            lines += 1

        put({"kind": "meta", "schema": "xtalk.history/1", "profile": "netra", "scenario": "bench", "seed": 1,
             "worker": "local", "started_at": "2026-11-22T00:00:00Z"})
        for u in range(users):
            user = f"u{u:04d}"
            put({"kind": "login", "t": u * 1e-4, "user": user, "identity": f"id-{u:08d}-aaaa"})
            put({"kind": "open", "t": u * 1e-4, "user": user, "conn": f"{user}-c1", "engine": "main", "url": "/ws"})
        # Rounds: in each, every user sends one request, and the answers interleave.
        t = 1.0
        sent = 0
        round_no = 0
        while sent < requests:
            batch = min(users, requests - sent)
            for u in range(batch):
                user = f"u{u:04d}"
                n = round_no
                marker = f"xtm-{u:06x}{n:010x}"
                put({"kind": "send", "t": round(t, 6), "user": user, "conn": f"{user}-c1", "req": f"{user}-r{n}",
                     "thread": f"thread_{user}", "marker": marker,
                     "frame": {"type": "start_agent", "payload": {"user_request": f"Spend for {user} {marker}",
                                                                   "thread_id": f"thread_{user}"}}})
                t += 1e-5
            for step in range(EVENTS_PER_REQUEST):
                for u in range(batch):
                    user = f"u{u:04d}"
                    n = round_no
                    run = f"run_{u}_{n}"
                    marker = f"xtm-{u:06x}{n:010x}"
                    emitter = u % 2 == 0
                    kind, extra = (
                        ("agent_started", {"agent_name": "supervisor"}),
                        ("agent_thinking", {"reasoning": f"Reading {marker}"}),
                        ("agent_started", {"agent_name": "analyst"}),
                        ("tool_executing", {"tool_name": "search", "execution_id": f"e{n}"}),
                        ("tool_completed", {"tool_name": "search", "execution_id": f"e{n}", "results": {"m": marker}}),
                        ("agent_completed", {"agent_name": "analyst"}),
                        ("agent_completed", {"agent_name": "supervisor", "final_response": f"Done {marker}"}),
                    )[step]
                    frame: dict[str, object] = {"type": kind, "run_id": run, "user_id": f"id-{u:08d}-aaaa",
                                                "thread_id": f"thread_{user}", **extra}
                    if emitter:
                        frame["critical"] = True
                    else:
                        frame["data"] = {"status": "ok"}
                    put({"kind": "recv", "t": round(t, 6), "user": user, "conn": f"{user}-c1", "frame": frame})
                    t += 1e-5
                if step == 3 and u % 50 == 0:
                    put({"kind": "recv", "t": round(t, 6), "user": "u0000", "conn": "u0000-c1",
                         "frame": {"type": "heartbeat", "data": {}}})
            t += 1.0  # a round a second: 1,000 users in closed loops at ~1 request/s each
            sent += batch
            round_no += 1
        put({"kind": "end", "t": round(t + 1, 6), "drain": 0.5})
    return lines


def measure(path: Path) -> dict[str, float]:
    from xtalk.history import check_files

    started = time.perf_counter()
    cpu = time.process_time()
    verdict = check_files([path])
    wall = time.perf_counter() - started
    data = verdict.to_dict()
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "events": data["events"],
        "verdict": data["verdict"],
        "anomalies": sum(data["anomalies"].values()),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="*", default=[2_000_000, 8_000_000])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(orjson.dumps(measure(Path(args.child))).decode())
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for events in args.events:
            path = Path(tmp) / f"history-{events}.jsonl"
            started = time.perf_counter()
            lines = generate(path, events)
            gen = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            result = orjson.loads(out.stdout.strip().splitlines()[-1])
            rows.append((events, lines, size, gen, result))
            path.unlink()
    print(f"{'events':>10} {'lines':>10} {'MB':>8} {'check s':>8} {'events/s':>10} {'lines/s':>10} "
          f"{'peak RSS MB':>12} verdict")
    for events, lines, size, gen, r in rows:
        print(f"{r['events']:>10} {lines:>10} {size:>8.0f} {r['wall']:>8.1f} {r['events'] / r['wall']:>10,.0f} "
              f"{lines / r['wall']:>10,.0f} {r['maxrss_mb']:>12.0f} {r['verdict']} ({r['anomalies']} anomalies)")


if __name__ == "__main__":
    main()
