"""A worker's live reporter: switching live checking off, the final snapshot, failing sends contained."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from xtalk.core.verdict import CheckConfig
from xtalk.live.board import LiveBoard
from xtalk.live.worker import LIVE_MESSAGE, LiveWorker, enabled
from xtalk.live.snapshot import LiveChecker
from xtalk.profiles.netra import NETRA


def test_live_checking_is_on_unless_xtalk_live_says_off() -> None:
    assert enabled({}) and enabled({"XTALK_LIVE": "1"})
    for off in ("0", "off", "false", "NO"):
        assert not enabled({"XTALK_LIVE": off})


class Runner:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.board = LiveBoard()

    def send_message(self, kind: str, data: Any) -> None:
        if self.fail:
            raise ConnectionError("master gone")
        assert kind == LIVE_MESSAGE
        self.board.update(data)


def worker(fail: bool) -> tuple[LiveWorker, Runner]:
    runner = Runner(fail)
    live = LiveWorker(SimpleNamespace(runner=runner), LiveChecker(CheckConfig(profile=NETRA), "3"))
    live.stop()  # no periodic sends in a unit test: send() is called by hand
    return live, runner


def test_the_end_record_sends_the_final_snapshot_at_once() -> None:
    live, runner = worker(fail=False)
    live.on_record({"kind": "end", "t": 2.0, "drain": 0.0}, 1, "{}")
    summary = runner.board.summary()
    assert live.sent == 1 and summary["ended"] and summary["workers"][0]["worker"] == "3"


def test_a_failing_send_is_counted_not_raised() -> None:
    live, _ = worker(fail=True)
    live.send()
    live.on_record({"kind": "end", "t": 2.0, "drain": 0.0}, 1, "{}")
    assert live.sent == 0 and live.send_errors == 2
