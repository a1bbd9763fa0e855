"""A Locust process's live checker and the greenlet that reports it to the master.

Kept free of Locust imports (Locust monkey-patches at import), so it is testable alone: the
runner is whatever has ``send_message(kind, data)``. ``send`` never raises: a snapshot that
cannot be sent (the master already gone at the very end) is counted and the run goes on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gevent

from xtalk.live.snapshot import LiveChecker

log = logging.getLogger("xtalk")

LIVE_MESSAGE = "xtalk_live"
SEND_EVERY = 2.0


def mode(environ: dict[str, str] | None = None) -> str:
    """``XTALK_LIVE``: ``off`` (0, off, false, no), ``inline`` (the checker in the recorder's
    hook, in the worker's own loop), else ``side`` (a side process tails the history: the default)."""
    value = (os.environ if environ is None else environ).get("XTALK_LIVE", "1").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    return "inline" if value == "inline" else "side"


def enabled(environ: dict[str, str] | None = None) -> bool:
    return mode(environ) != "off"


class LiveWorker:
    """One Locust process's live checker and the greenlet that reports it (``environment`` is
    Locust's ``Environment``: only its ``runner`` is used)."""

    def __init__(self, environment: Any, checker: LiveChecker) -> None:
        self.env = environment
        self.checker = checker
        self.sent = 0
        self.send_errors = 0
        checker.on_end = self.send
        self.greenlet = gevent.spawn(self._loop)

    @property
    def on_record(self) -> Any:
        """The recorder's hook: the checker's own method, without a call in between."""
        return self.checker.on_record

    def attach(self, recorder: Any) -> None:
        """Nothing to start: the recorder calls ``on_record`` itself."""

    def finish(self, timeout: float = 0.0) -> bool:
        """The ``end`` record already sent the final snapshot (``on_end``)."""
        self.stop()
        return self.checker.ended

    def send(self) -> None:
        runner = self.env.runner
        if runner is None:
            return
        try:
            runner.send_message(LIVE_MESSAGE, self.checker.snapshot())
            self.sent += 1
        except Exception as error:  # the master may be gone at the very end: count it, go on
            self.send_errors += 1
            if self.send_errors <= 3:
                log.warning("xtalk: could not send the live snapshot: %s: %s", type(error).__name__, error)

    def _loop(self) -> None:
        while not self.checker.ended:
            gevent.sleep(SEND_EVERY)
            if not self.checker.ended:
                self.send()

    def stop(self) -> None:
        self.greenlet.kill(block=False)
