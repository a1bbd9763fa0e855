"""The master side of live checking: the latest snapshot of each worker, and their sum.

Snapshots arrive in Locust messages; their content is treated as untrusted input: every field is
coerced to the type the view expects (a bad field becomes 0 or empty, never an exception), text
is cut to a bounded length, and the view escapes it again when it renders.

``summary()`` is what the web view's JSON endpoint returns and what the terminal line prints:
counts per anomaly kind (every kind, zeros included, in the SPEC's order), requests and events,
per worker and summed, and the latest findings of all workers, newest first.

The counts are a lower bound: each worker checks only its own users, so a leak whose owner and
receiver sit on different workers may be counted live under another kind (or not yet at all).
``NOTE`` says so wherever the counts are shown; the verdict is the offline merge of the shards.
"""

from __future__ import annotations

from typing import Any

from xtalk.core.anomaly import ANOMALY_KINDS

NOTE = ("Live counts come from each worker's own users: a lower bound. A leak between users on two "
        "workers may show here under another kind (phantom_event, identity_mismatch) or not yet; "
        "the final verdict merges every worker's history after the run.")
REQUEST_FIELDS = ("sent", "completed", "failed", "unknown", "in_flight")
NUMBER_FIELDS = ("records", "events", "connections", "users", "broken", "errors")
TEXT_CHARS = 2000


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    return 0


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return 0.0


def _text(value: Any, limit: int = TEXT_CHARS) -> str | None:
    if value is None:
        return None
    return str(value)[:limit]


def clean_finding(item: Any, worker: str) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    witness = item.get("witness")
    return {
        "kind": _text(item.get("kind"), 40) or "?",
        "user": _text(item.get("user"), 80),
        "owner": _text(item.get("owner"), 80),
        "run_id": _text(item.get("run_id"), 120),
        "t": _float(item.get("t")),
        "worker": worker,
        "witness": [_int(x) for x in witness[:8]] if isinstance(witness, list) else [],
        "explanation": _text(item.get("explanation")) or "",
    }


def clean_snapshot(data: Any, worker: str) -> dict[str, Any]:
    """A snapshot as the board keeps it: known fields, right types, bounded text."""
    data = data if isinstance(data, dict) else {}
    counts_in = data.get("counts") if isinstance(data.get("counts"), dict) else {}
    counts = {kind: max(0, _int(counts_in.get(kind))) for kind in ANOMALY_KINDS}
    for kind, value in counts_in.items():  # a newer worker's extra kind still counts
        if isinstance(kind, str) and kind not in counts and len(counts) < 40:
            counts[kind[:40]] = max(0, _int(value))
    requests_in = data.get("requests") if isinstance(data.get("requests"), dict) else {}
    latest_in = data.get("latest") if isinstance(data.get("latest"), list) else []
    latest = [f for f in (clean_finding(x, worker) for x in latest_in[:20]) if f is not None]
    snap: dict[str, Any] = {
        "worker": worker,
        "t": _float(data.get("t")),
        "counts": counts,
        "requests": {name: max(0, _int(requests_in.get(name))) for name in REQUEST_FIELDS},
        "latest": latest,
        "cost": _float(data.get("cost")),
        "error": _text(data.get("error"), 300),
        "disabled": bool(data.get("disabled")),
        "ended": bool(data.get("ended")),
    }
    for name in NUMBER_FIELDS:
        snap[name] = max(0, _int(data.get(name)))
    return snap


class LiveBoard:
    def __init__(self, latest: int = 10) -> None:
        self.latest = latest
        self.workers: dict[str, dict[str, Any]] = {}
        self.updates = 0
        self.rejected = 0

    def update(self, data: Any, node: str | None = None) -> None:
        """Keep a worker's newest snapshot. Never raises."""
        try:
            worker = data.get("worker") if isinstance(data, dict) else None
            name = _text(worker if worker is not None else node or "local", 60) or "local"
            self.workers[name] = clean_snapshot(data, name)
            self.updates += 1
        except Exception:
            self.rejected += 1

    def summary(self) -> dict[str, Any]:
        workers = [self.workers[name] for name in sorted(self.workers, key=_worker_order)]
        counts: dict[str, int] = {kind: 0 for kind in ANOMALY_KINDS}
        requests = {name: 0 for name in REQUEST_FIELDS}
        totals = {name: 0 for name in NUMBER_FIELDS}
        cost = 0.0
        latest: list[dict[str, Any]] = []
        for snap in workers:
            for kind, n in snap["counts"].items():
                counts[kind] = counts.get(kind, 0) + n
            for name in REQUEST_FIELDS:
                requests[name] += snap["requests"][name]
            for name in NUMBER_FIELDS:
                totals[name] += snap[name]
            cost += snap["cost"]
            latest.extend(snap["latest"])
        latest.sort(key=lambda f: f["t"], reverse=True)
        return {
            "note": NOTE,
            "workers": workers,
            "total": {"counts": counts, "anomalies": sum(counts.values()), "requests": requests,
                      "cost": round(cost, 3), **totals},
            "latest": latest[: self.latest],
            "ended": bool(workers) and all(s["ended"] for s in workers),
            "updates": self.updates,
        }


def _worker_order(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)
