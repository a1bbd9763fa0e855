"""Live findings reach Locust as failed requests of their phase, with the kind as the error."""

from __future__ import annotations

from typing import Any

import orjson

from tests.histories import History, clean_pair
from xtalk.core.verdict import CheckConfig
from xtalk.live.failures import FailureReporter, IsolationFailure
from xtalk.live.snapshot import LiveChecker
from xtalk.profiles.netra import NETRA


class Fired:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def _feed(live: LiveChecker, h: History) -> None:
    for number, line in enumerate(h.lines(), start=1):
        live.on_record(orjson.loads(line), number, line.decode())


def test_a_leaked_run_is_one_locust_failure_per_request_and_kind_named_by_the_kind() -> None:
    h, a, b = clean_pair()
    c = h.ask("alice", at=2.0)
    h.answer(c, at=2.1, to="bob", conn="bob-c1")  # alice's whole run delivered to bob
    h.end(at=40.0)
    fired = Fired()
    live = LiveChecker(CheckConfig(profile=NETRA), "0", on_finding=FailureReporter(fired, NETRA))
    _feed(live, h)
    assert fired.calls, "the leak was not reported to Locust"
    kinds = [(call["name"], str(call["exception"])) for call in fired.calls]
    assert ("agent_started", "cross_user_event") in kinds  # the first leaked event was a start
    assert len(kinds) == len(set(kinds))  # once per request and kind, not once per leaked event
    assert all(isinstance(call["exception"], IsolationFailure) and call["request_type"] == "WS"
               for call in fired.calls)
    assert {call["name"] for call in fired.calls} <= {"agent_started", "agent_thinking", "agent_completed"}


def test_a_clean_run_reports_no_failure_to_locust() -> None:
    h, a, b = clean_pair()
    h.end(at=40.0)
    fired = Fired()
    _feed(LiveChecker(CheckConfig(profile=NETRA), "0", on_finding=FailureReporter(fired, NETRA)), h)
    assert fired.calls == []


def test_a_failing_locust_listener_never_reaches_the_checker() -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("listener")

    h, a, b = clean_pair()
    c = h.ask("alice", at=2.0)
    h.answer(c, at=2.1, to="bob", conn="bob-c1")
    h.end(at=40.0)
    reporter = FailureReporter(broken, NETRA)
    live = LiveChecker(CheckConfig(profile=NETRA), "0", on_finding=reporter)
    _feed(live, h)
    assert reporter.errors > 0 and live.errors == 0 and live.snapshot()["counts"]["cross_user_event"] > 0
