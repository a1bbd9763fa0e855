"""The worker side of live checking: records in through the recorder's hook, a snapshot out."""

from __future__ import annotations

from typing import Any

import msgpack
import orjson

from tests.histories import History, clean_pair, only
from xtalk.core.verdict import CheckConfig
from xtalk.live.snapshot import MAX_ERRORS, LiveChecker
from xtalk.profiles.netra import NETRA


def feed(live: LiveChecker, history: History) -> None:
    for number, line in enumerate(history.lines(), start=1):
        live.on_record(orjson.loads(line), number, line.decode())


def leaky_history() -> History:
    h, a, b = clean_pair()
    c = h.ask("alice", at=2.0)
    h.answer(c, at=2.1, to="bob", conn="bob-c1")  # alice's run delivered to bob
    h.end(at=40.0)
    return h


def test_live_counts_equal_the_offline_checks_counts_for_one_shard() -> None:
    h = leaky_history()
    live = LiveChecker(CheckConfig(profile=NETRA), "0")
    feed(live, h)
    snap = live.snapshot()
    offline = only(h.check())
    assert offline  # the history does leak
    # Live counts come before finish(): kinds judged only at the end may still be missing,
    # but every kind seen live is seen offline at least as often.
    assert snap["counts"] and all(offline.get(kind, 0) >= n for kind, n in snap["counts"].items())
    assert snap["counts"].get("cross_user_event", 0) == offline["cross_user_event"]


def test_snapshot_reports_requests_events_and_the_end() -> None:
    h = leaky_history()
    live = LiveChecker(CheckConfig(profile=NETRA), "1")
    feed(live, h)
    snap = live.snapshot()
    assert snap["worker"] == "1" and snap["ended"] is True
    assert snap["requests"]["sent"] == 3 and snap["requests"]["completed"] >= 2
    assert snap["events"] > 0 and snap["records"] == len(h.lines())
    assert snap["errors"] == 0 and snap["cost"] > 0


def test_each_finding_is_reported_once_with_its_owner_receiver_and_explanation() -> None:
    live = LiveChecker(CheckConfig(profile=NETRA), "0", latest=5)
    feed(live, leaky_history())
    first = live.snapshot()["latest"]
    assert first
    leak = first[-1]
    assert leak["kind"] == "cross_user_event" and leak["user"] == "bob" and leak["owner"] == "alice"
    assert "cross_user_event" in leak["explanation"] and leak["witness"]
    again = live.snapshot()["latest"]
    assert again == first  # nothing new: the same latest list, no finding twice


def test_snapshot_is_made_of_plain_values_that_cross_processes_as_msgpack() -> None:
    live = LiveChecker(CheckConfig(profile=NETRA), "0")
    feed(live, leaky_history())
    snap = live.snapshot()
    assert msgpack.unpackb(msgpack.packb(snap)) == snap


class Boom(Exception):
    pass


def test_a_checker_failure_is_counted_never_raised_and_switches_the_checker_off_after_many() -> None:
    live = LiveChecker(CheckConfig(profile=NETRA), "0")

    def broken_feed(*args: Any) -> None:
        raise Boom("bad state")

    live.checker.feed_decoded = broken_feed  # type: ignore[method-assign]
    for n in range(MAX_ERRORS + 5):
        live.on_record({"kind": "recv", "t": 1.0, "user": "u", "conn": "c", "frame": {}}, n + 1, "{}")
    snap = live.snapshot()
    assert snap["errors"] == MAX_ERRORS and snap["disabled"] is True
    assert "Boom: bad state" in snap["error"]


def test_the_end_record_triggers_the_end_callback_once_and_its_failure_is_contained() -> None:
    calls: list[int] = []

    def on_end() -> None:
        calls.append(1)
        raise RuntimeError("master gone")

    live = LiveChecker(CheckConfig(profile=NETRA), "0", on_end=on_end)
    live.on_record({"kind": "end", "t": 3.0, "drain": 0.0}, 1, '{"kind":"end"}')
    assert calls == [1] and live.ended and live.errors == 1
