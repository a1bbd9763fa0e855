"""The worker's end of live checking in a side process (``xtalk.live.tail``).

``SideLive`` starts ``python -m xtalk.live.tail`` on the run's history once the recorder exists
(``attach``), flushes the recorder every ``FLUSH_EVERY`` seconds so the side process sees
records even when the load is light, and reads the side process's messages in a greenlet:

- a ``failure`` is fired as a failed Locust request of its phase, the error
  ``IsolationFailure(kind)``: what ``xtalk.live.failures`` does inline;
- a ``snapshot`` goes to the master (``runner.send_message``), as ``LiveWorker`` sends its own.

``finish(timeout)`` is called after the ``end`` record is written: it waits, bounded, for the
side process's final snapshot (so the master's live view and Locust's failure counts are
complete before the worker says it is done), then lets the process go. The verdict never
depends on any of this: it is the offline check of the shards.

Never raises into the run: a side process that cannot start or dies is logged, and its reason
travels in the snapshot's ``error`` field. Locust-free (``environment`` is duck-typed) so the
unit tests drive it with fakes; the process and greenlet functions are injectable.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import orjson

from xtalk.live.failures import IsolationFailure
from xtalk.live.worker import LIVE_MESSAGE

log = logging.getLogger("xtalk")

FLUSH_EVERY = 0.25  # seconds: the side process lags the recorder by at most this much plus its backlog
END_WAIT = 20.0  # seconds the worker waits for the final snapshot after its end record
TEXT_CHARS = 300


def tail_command(history: str, offset: int, worker: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "xtalk.live.tail", history, "--offset", str(offset)]
    return cmd + (["--worker", worker] if worker is not None else [])


class SideLive:
    """Live checking of one Locust process's history in a side process."""

    on_record = None  # the recorder calls no hook: it only writes

    def __init__(self, environment: Any, scenario: dict[str, Any], worker: str | None, *,
                 popen: Callable[..., Any] | None = None, spawn: Callable[..., Any] | None = None,
                 sleep: Callable[[float], Any] | None = None, make_event: Callable[[], Any] | None = None) -> None:
        import gevent
        from gevent.event import Event

        self.env = environment
        self.scenario = scenario
        self.worker = worker
        self._popen = popen
        self._spawn = spawn or gevent.spawn
        self._sleep = sleep or gevent.sleep
        self.ended = (make_event or Event)()
        self.proc: Any = None
        self.recorder: Any = None
        self.last: dict[str, Any] | None = None
        self.sent = 0
        self.send_errors = 0
        self.failures = 0
        self.error: str | None = None
        self._greenlets: list[Any] = []

    # ---- starting ------------------------------------------------------------------------------

    def attach(self, recorder: Any) -> None:
        """Start the side process on ``recorder``'s file, from its current size on."""
        self.recorder = recorder
        try:
            offset = recorder.path.stat().st_size + recorder.buffered_bytes
            popen = self._popen
            if popen is None:
                from gevent import subprocess

                popen = subprocess.Popen
            self.proc = popen(tail_command(str(recorder.path), offset, self.worker), stdin=-1, stdout=-1,
                              close_fds=True)
            self.proc.stdin.write(orjson.dumps(self.scenario) + b"\n")
            self.proc.stdin.flush()
        except Exception as error:
            self._fail(f"the live checker process could not start: {type(error).__name__}: {error}")
            return
        self._greenlets = [self._spawn(self._read), self._spawn(self._flush_loop)]

    # ---- the side process's messages -----------------------------------------------------------

    def _read(self) -> None:
        stdout = self.proc.stdout
        try:
            for line in stdout:
                self.handle(line)
        except Exception as error:
            self._fail(f"live checker output unreadable: {type(error).__name__}: {error}")
        code = self.proc.poll() if hasattr(self.proc, "poll") else None
        if not self.ended.is_set():
            self._fail(f"the live checker process ended early (exit code {code})")

    def handle(self, line: bytes) -> None:
        """One message line from the side process. Never raises."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        if isinstance(message.get("failure"), dict):
            self._fire(message["failure"])
        elif isinstance(message.get("snapshot"), dict):
            snap = message["snapshot"]
            self.last = snap
            self.send(snap)
            if snap.get("ended"):
                self.ended.set()
        elif "error" in message:
            self._fail(str(message["error"])[:TEXT_CHARS])

    def _fire(self, failure: dict[str, Any]) -> None:
        try:
            self.env.events.request.fire(request_type="WS", name=str(failure.get("name"))[:80], response_time=0.0,
                                         response_length=0, exception=IsolationFailure(str(failure.get("kind"))[:40]),
                                         context={"xtalk": "live finding"})
            self.failures += 1
        except Exception as error:  # never into Locust
            log.debug("xtalk: live failure not fired: %s", error)

    def send(self, snap: dict[str, Any]) -> None:
        runner = getattr(self.env, "runner", None)
        if runner is None:
            return
        try:
            runner.send_message(LIVE_MESSAGE, snap)
            self.sent += 1
        except Exception as error:  # the master may be gone at the very end: count it, go on
            self.send_errors += 1
            if self.send_errors <= 3:
                log.warning("xtalk: could not send the live snapshot: %s: %s", type(error).__name__, error)

    def _fail(self, reason: str) -> None:
        """The side process is of no more use: say why once, in the log and in a snapshot."""
        if self.error is not None:
            return
        self.error = reason
        log.error("xtalk: %s; live checking is off (the verdict, offline, is not affected)", reason)
        snap = dict(self.last or {"worker": self.worker})
        snap.update(error=reason, disabled=True)
        self.send(snap)
        self.ended.set()

    # ---- flushing and ending -------------------------------------------------------------------

    def _flush_loop(self) -> None:
        recorder = self.recorder
        while not self.ended.is_set() and not getattr(recorder, "ended", False):
            self._sleep(FLUSH_EVERY)
            try:
                recorder.flush()
            except Exception as error:  # a closed file at the very end
                log.debug("xtalk: history not flushed for live checking: %s", error)
                return

    def finish(self, timeout: float = END_WAIT) -> bool:
        """After the ``end`` record: wait up to ``timeout`` for the final snapshot; True when it came."""
        came = bool(self.ended.wait(timeout)) if self.proc is not None else False
        if not came and self.proc is not None and self.error is None:
            log.warning("xtalk: the live checker had not reached the end of the history after %.0f s: "
                        "the live counts stop short (the verdict, offline, is complete)", timeout)
        self.stop()
        return came

    def stop(self) -> None:
        """Let the side process go (closing its stdin ends it) and stop the greenlets."""
        proc = self.proc
        if proc is not None:
            try:
                proc.stdin.close()
            except Exception:
                pass
            try:
                if proc.poll() is None:
                    proc.terminate()
            except Exception:
                pass
        for greenlet in self._greenlets:
            try:
                greenlet.kill(block=False)
            except Exception:
                pass
