"""Live checking in a side process: it tails one Locust process's history and reports back.

    python -m xtalk.live.tail HISTORY --offset N [--worker W]    (stdin: the scenario, one JSON line)

Why a side process: checking inline, in the recorder's hook, was about half of a worker's CPU
per event (issue 11: 47-59 %). Here the worker's hot loop only records; the checker runs on
another core, reading the lines the recorder flushed (``xtalk.live.side`` starts this process
and flushes the history every ``FLUSH_EVERY`` seconds, so it never lags by more than that plus
its own backlog). The checker is the same ``LiveChecker`` as inline, fed the same lines with the
same line numbers, so its findings and counts are the same.

What goes back, on stdout, one JSON object a line (the parent treats it as untrusted input):

- ``{"failure": {"name": phase, "kind": kind}}``: a live finding, once per request and kind, as
  ``xtalk.live.failures.FailureReporter`` decides; the parent fires it as a failed Locust request.
- ``{"snapshot": {...}}``: ``LiveChecker.snapshot()`` every ``SEND_EVERY`` seconds and once more
  after the ``end`` record (then ``ended`` is true); ``cost`` is this process's CPU seconds.

Invariants: lines are read whole (a partial last line waits for its newline); line numbers
count every line from ``--offset`` (the recorder's own numbering); the process ends after the
final snapshot, when stdin closes, or when its parent is gone, never later.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import IO, Any

import orjson

from xtalk.live.failures import FailureReporter
from xtalk.live.snapshot import LiveChecker
from xtalk.live.worker import SEND_EVERY

READ_BYTES = 1 << 20
IDLE_SLEEP = 0.02  # seconds between looks at a history that has not grown


class Reply:
    """The stdout side: one JSON line per message, flushed at once (messages are rare)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out

    def send(self, key: str, value: Any) -> None:
        self.out.write(orjson.dumps({key: value}) + b"\n")
        self.out.flush()

    def fire(self, *, name: str, exception: Exception | None = None, **_: Any) -> None:
        """``FailureReporter``'s ``fire``: what Locust's ``events.request.fire`` would get."""
        self.send("failure", {"name": name, "kind": str(exception.args[0]) if exception and exception.args else ""})


def snapshot(checker: LiveChecker) -> dict[str, Any]:
    snap = checker.snapshot()
    snap["cost"] = round(time.process_time(), 4)  # the whole side process: exact, not sampled
    return snap


def follow(path: str, offset: int, checker: LiveChecker, reply: Reply, parent: int,
           stdin_closed: Any, every: float = SEND_EVERY) -> int:
    """Feed every whole line of ``path`` after ``offset`` to ``checker`` until ``end``; returns
    the number of lines fed."""
    line_no = 0
    rest = b""
    next_send = time.monotonic() + every
    with open(path, "rb") as handle:
        handle.seek(offset)
        while True:
            data = handle.read(READ_BYTES)
            if data:
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                feed = checker.on_record
                for line in lines:
                    line_no += 1
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue  # a blank or broken line: the offline check reports it; live goes on
                    if record.__class__ is not dict:
                        continue
                    feed(record, line_no, line)
                    if checker.ended:
                        reply.send("snapshot", snapshot(checker))
                        return line_no
            else:
                if os.getppid() != parent or stdin_closed():
                    return line_no
                time.sleep(IDLE_SLEEP)
            if time.monotonic() >= next_send:
                reply.send("snapshot", snapshot(checker))
                next_send = time.monotonic() + every


def _stdin_watch() -> Any:
    """A callable that says whether stdin reached its end (the parent closed it or died)."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(sys.stdin.buffer, selectors.EVENT_READ)
    closed = [False]

    def check() -> bool:
        if not closed[0] and selector.select(0):
            closed[0] = not sys.stdin.buffer.read1(4096)
        return closed[0]

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xtalk.live.tail", description=__doc__.split("\n")[0])
    parser.add_argument("history")
    parser.add_argument("--offset", type=int, default=0, help="bytes of the file before this run's first line")
    parser.add_argument("--worker", default=None)
    parser.add_argument("--parent", type=int, default=0, help="the pid to outlive no longer (default: ours)")
    args = parser.parse_args(argv)
    parent = args.parent or os.getppid()
    reply = Reply(sys.stdout.buffer)
    try:
        from xtalk.history import config_for
        from xtalk.scenario.load import scenario_from_dict

        first = sys.stdin.buffer.readline()
        scenario = scenario_from_dict(orjson.loads(first), check_env=False) if first.strip() else None
        config = config_for(scenario)
        checker = LiveChecker(config, args.worker, on_finding=FailureReporter(reply.fire, config.profile))
    except Exception as error:  # say why, so the live view can show it
        reply.send("error", f"the live checker could not start: {type(error).__name__}: {error}"[:300])
        return 3
    follow(args.history, args.offset, checker, reply, parent, _stdin_watch())
    return 0


if __name__ == "__main__":
    sys.exit(main())
