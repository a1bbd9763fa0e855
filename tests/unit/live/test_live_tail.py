"""Live checking in a side process: the tail sees what the inline checker sees (same counts and
findings from the same lines), reads whole lines only, and its messages become Locust failures
and master snapshots on the worker's side."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from tests.histories import History, clean_pair
from xtalk.core.verdict import CheckConfig
from xtalk.live.failures import FailureReporter, IsolationFailure
from xtalk.live.side import SideLive, tail_command
from xtalk.live.snapshot import LiveChecker
from xtalk.live.tail import Reply, follow
from xtalk.live.worker import LIVE_MESSAGE, mode
from xtalk.profiles.netra import NETRA
from xtalk.scenario.load import scenario_to_dict
from xtalk.scenario.model import Scenario

ROOT = Path(__file__).resolve().parents[3]
COMPARED = ("counts", "requests", "events", "connections", "users", "records", "ended")


def leaky() -> History:
    h, a, b = clean_pair()
    c = h.ask("alice", at=2.0)
    h.answer(c, at=2.1, to="bob", conn="bob-c1")  # alice's whole run delivered to bob
    h.end(at=40.0)
    return h


def inline(h: History) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    fired: list[tuple[str, str]] = []
    live = LiveChecker(CheckConfig(profile=NETRA), "0", on_finding=FailureReporter(
        lambda **kw: fired.append((kw["name"], str(kw["exception"]))), NETRA))
    for number, line in enumerate(h.lines(), start=1):
        live.on_record(orjson.loads(line), number, line.decode())
    return live.snapshot(), fired


def tailed(path: Path, offset: int = 0, closed: Any = lambda: True) -> tuple[list[dict[str, Any]], int]:
    out = io.BytesIO()
    reply = Reply(out)
    live = LiveChecker(CheckConfig(profile=NETRA), "0", on_finding=FailureReporter(reply.fire, NETRA))
    fed = follow(str(path), offset, live, reply, os.getppid(), closed)
    return [orjson.loads(line) for line in out.getvalue().splitlines()], fed


def test_the_tail_finds_what_the_inline_checker_finds_on_the_same_lines(tmp_path: Path) -> None:
    h = leaky()
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"old run's line\n")  # the recorder appends: the tail starts at its offset
    offset = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(h.text())
    messages, fed = tailed(path, offset)
    want, want_fired = inline(h)
    final = messages[-1]["snapshot"]
    assert {k: final[k] for k in COMPARED} == {k: want[k] for k in COMPARED}
    assert final["ended"] and final["counts"]["cross_user_event"] > 0
    assert fed == len(h.lines())
    failures = [(m["failure"]["name"], m["failure"]["kind"]) for m in messages if "failure" in m]
    assert failures == want_fired and ("agent_started", "cross_user_event") in failures


def test_the_tail_waits_for_a_whole_line_and_stops_when_its_input_closes(tmp_path: Path) -> None:
    h = leaky()
    text = h.text()
    cut = text.rindex(b"\n", 0, len(text) - 1) + 5  # inside the last line (the end record)
    path = tmp_path / "history.jsonl"
    path.write_bytes(text[:cut])
    messages, fed = tailed(path)
    assert fed == len(h.lines()) - 1  # the torn end record was not read
    assert not any(m.get("snapshot", {}).get("ended") for m in messages)


def test_python_m_xtalk_live_tail_reads_the_scenario_on_stdin_and_ends_after_the_end_record(
        tmp_path: Path) -> None:
    h = leaky()
    path = h.write(tmp_path / "history.jsonl")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(tail_command(str(path), 0, "2"), input=orjson.dumps(scenario_to_dict(Scenario())) + b"\n",
                          capture_output=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    messages = [orjson.loads(line) for line in proc.stdout.splitlines()]
    final = messages[-1]["snapshot"]
    assert final["ended"] and final["worker"] == "2" and final["counts"]["cross_user_event"] > 0
    assert any("failure" in m for m in messages)


class Runner:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send_message(self, kind: str, data: Any) -> None:
        self.sent.append((kind, data))


def side() -> tuple[SideLive, Runner, list[dict[str, Any]]]:
    runner, fired = Runner(), []
    events = SimpleNamespace(request=SimpleNamespace(fire=lambda **kw: fired.append(kw)))
    live = SideLive(SimpleNamespace(runner=runner, events=events), {}, "1", spawn=lambda fn: None,
                    sleep=lambda s: None)
    return live, runner, fired


def test_the_side_processes_messages_become_locust_failures_and_master_snapshots() -> None:
    live, runner, fired = side()
    live.handle(b'{"failure": {"name": "agent_started", "kind": "cross_user_event"}}\n')
    live.handle(b"not json\n")
    live.handle(b'[1, 2]\n')
    live.handle(b'{"snapshot": {"worker": "1", "events": 7, "ended": false}}\n')
    assert not live.ended.is_set()
    live.handle(b'{"snapshot": {"worker": "1", "events": 9, "ended": true}}\n')
    assert len(fired) == 1 and fired[0]["name"] == "agent_started"
    assert isinstance(fired[0]["exception"], IsolationFailure) and str(fired[0]["exception"]) == "cross_user_event"
    assert [(kind, data["events"]) for kind, data in runner.sent] == [(LIVE_MESSAGE, 7), (LIVE_MESSAGE, 9)]
    assert live.ended.is_set()


def test_a_side_process_that_cannot_start_says_why_in_a_snapshot_and_the_run_goes_on(tmp_path: Path) -> None:
    live, runner, _ = side()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no processes left")

    live._popen = refuse
    (tmp_path / "h.jsonl").write_bytes(b"")
    live.attach(SimpleNamespace(path=tmp_path / "h.jsonl", buffered_bytes=0))
    assert live.error is not None and "no processes left" in live.error
    (kind, snap), = runner.sent
    assert snap["disabled"] and "no processes left" in snap["error"]
    assert live.finish(0.0) is False


def test_xtalk_live_chooses_the_side_process_inline_or_off() -> None:
    assert mode({}) == "side" and mode({"XTALK_LIVE": "1"}) == "side"
    assert mode({"XTALK_LIVE": "inline"}) == "inline"
    assert mode({"XTALK_LIVE": "0"}) == "off"
