"""The live counts as one terminal line, for headless runs (the master, or a standalone process).

Example::

    xtalk live: 2 workers, 812 sent, 790 completed, 22 in flight, 19,750 events; anomalies:
    cross_user_event=3 phantom_event=1 (lower bound: each worker checks its own users)

Pure: the line is built from ``LiveBoard.summary()``; the plugin decides when to print it.
"""

from __future__ import annotations

from typing import Any


def format_progress(summary: dict[str, Any], *, final: bool = False) -> str:
    total = summary.get("total") or {}
    requests = total.get("requests") or {}
    workers = summary.get("workers") or []
    counts = {k: v for k, v in (total.get("counts") or {}).items() if v}
    found = " ".join(f"{k}={v:,}" for k, v in counts.items()) if counts else "none so far"
    who = f"{len(workers)} worker{'s' if len(workers) != 1 else ''}" if len(workers) != 1 or \
        (workers and workers[0].get("worker") not in (None, "local")) else "1 process"
    problems = [f"worker {w.get('worker')}: live checker {'off' if w.get('disabled') else 'errors'}: {w.get('error')}"
                for w in workers if w.get("error")]
    line = (f"xtalk live{' (final)' if final else ''}: {who}, {requests.get('sent', 0):,} sent, "
            f"{requests.get('completed', 0):,} completed, {requests.get('in_flight', 0):,} in flight, "
            f"{total.get('events', 0):,} events; anomalies: {found} "
            "(lower bound: each worker checks its own users; the verdict merges all histories)")
    if problems:
        line += "; " + "; ".join(problems[:3])
    return line
