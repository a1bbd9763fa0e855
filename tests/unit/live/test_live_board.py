"""The master side: each worker's latest snapshot, summed; untrusted input coerced, never raising."""

from __future__ import annotations

from typing import Any

from xtalk.core.anomaly import ANOMALY_KINDS
from xtalk.live.board import NOTE, LiveBoard
from xtalk.live.progress import format_progress


def snap(worker: str, *, counts: dict[str, Any] | None = None, sent: int = 0, in_flight: int = 0,
         latest: list[Any] | None = None, ended: bool = False) -> dict[str, Any]:
    return {"worker": worker, "t": 1.0, "counts": counts or {}, "latest": latest or [],
            "requests": {"sent": sent, "completed": sent - in_flight, "failed": 0, "unknown": 0, "in_flight": in_flight},
            "events": 10 * sent, "records": 20 * sent, "cost": 0.5, "errors": 0, "error": None, "ended": ended}


def finding(kind: str, t: float, user: str = "u0001", owner: str = "u0002") -> dict[str, Any]:
    return {"kind": kind, "user": user, "owner": owner, "t": t, "witness": [3, 4], "explanation": f"{kind} at {t}"}


def test_summary_sums_every_worker_and_lists_every_kind_in_spec_order() -> None:
    board = LiveBoard()
    board.update(snap("0", counts={"cross_user_event": 2}, sent=10, in_flight=3))
    board.update(snap("1", counts={"cross_user_event": 1, "phantom_event": 4}, sent=5, in_flight=1))
    s = board.summary()
    assert list(s["total"]["counts"])[: len(ANOMALY_KINDS)] == list(ANOMALY_KINDS)
    assert s["total"]["counts"]["cross_user_event"] == 3 and s["total"]["counts"]["phantom_event"] == 4
    assert s["total"]["anomalies"] == 7
    assert s["total"]["requests"]["sent"] == 15 and s["total"]["requests"]["in_flight"] == 4
    assert [w["worker"] for w in s["workers"]] == ["0", "1"]
    assert s["note"] == NOTE and "lower bound" in NOTE


def test_a_newer_snapshot_of_a_worker_replaces_its_older_one() -> None:
    board = LiveBoard()
    board.update(snap("0", sent=10))
    board.update(snap("0", sent=12, ended=True))
    s = board.summary()
    assert s["total"]["requests"]["sent"] == 12 and s["ended"] is True


def test_latest_findings_of_all_workers_come_newest_first_and_capped() -> None:
    board = LiveBoard(latest=3)
    board.update(snap("0", latest=[finding("cross_user_event", 1.0), finding("cross_user_event", 5.0)]))
    board.update(snap("1", latest=[finding("phantom_event", 3.0), finding("duplicate_event", 4.0)]))
    latest = board.summary()["latest"]
    assert [f["t"] for f in latest] == [5.0, 4.0, 3.0]
    assert {f["worker"] for f in latest} == {"0", "1"}


def test_malformed_snapshots_are_coerced_not_raised() -> None:
    board = LiveBoard()
    board.update(None, "node-a")
    board.update({"worker": "1", "counts": {"cross_user_event": "many", "phantom_event": 2.0},
                  "requests": "lots", "latest": [None, 7, {"kind": "<script>", "t": "x", "explanation": "y" * 10_000}]})
    s = board.summary()
    assert s["total"]["counts"]["cross_user_event"] == 0 and s["total"]["counts"]["phantom_event"] == 2
    assert s["total"]["requests"]["sent"] == 0
    (only,) = s["latest"]
    assert only["kind"] == "<script>" and only["t"] == 0.0 and len(only["explanation"]) <= 2000
    assert board.rejected == 0 and len(s["workers"]) == 2


def test_progress_line_names_the_counts_and_says_they_are_a_lower_bound() -> None:
    board = LiveBoard()
    board.update(snap("0", counts={"cross_user_event": 2}, sent=1000, in_flight=7))
    board.update(snap("1", sent=234))
    line = format_progress(board.summary())
    assert "2 workers" in line and "1,234 sent" in line and "7 in flight" in line
    assert "cross_user_event=2" in line and "lower bound" in line
    assert "none so far" in format_progress(LiveBoard().summary())
