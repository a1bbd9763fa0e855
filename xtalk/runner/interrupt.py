"""SIGTERM and SIGINT during ``xtalk run``: stop the load, drain briefly, still write a verdict.

CI systems cancel and time out jobs with SIGTERM (GitHub Actions: SIGINT, then SIGTERM 7.5 s
later, then SIGKILL); a person presses Ctrl-C. Either way the run folder must still say what was
seen. ``Interrupts`` catches both while ``xtalk run`` runs:

- before the load (backend starting, preflight): nothing was recorded; ``RunInterrupted`` unwinds
  the run (every child is stopped on the way out) and xtalk exits 130 / 143;
- during the load, the first signal asks the Locust processes that generate load to stop it
  (``STOP_LOAD_SIGNAL``): each stops sending, drains for at most ``INTERRUPT_DRAIN`` seconds
  (connections open, answers still recorded), writes its history's ``end`` record with
  ``interrupted: true`` and quits. ``xtalk run`` waits at most ``INTERRUPT_DRAIN +
  STOP_GRACE`` for that, stops whatever still runs, checks what was recorded and writes
  ``verdict.json``, ``report.html`` and ``junit.xml``; a second signal stops the Locust processes
  at once (their histories still end: Locust's own SIGTERM handling writes ``end``);
- the exit status is 130 (SIGINT) or 143 (SIGTERM), whatever the verdict says.

The verdict of an interrupted run is the checker's (``xtalk.core.verdict.decide``): a run cut
short could not have shown what its scenario was written to show, so it is ``inconclusive``
(the reason says it was interrupted) unless an anomaly was already found — a leak seen is a leak,
however the run ended. The history's ``end`` record says ``interrupted``, so ``xtalk check`` gives
the run's own verdict; the runner, which saw the signal, only adds how (``describe_interruption``).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from xtalk.client.plan import INTERRUPT_DRAIN, STOP_LOAD_SIGNAL

__all__ = ["INTERRUPT_DRAIN", "STOP_LOAD_SIGNAL", "Interruption", "Interrupts", "RunInterrupted", "describe_interruption"]

#: Seconds beyond the drain that ``xtalk run`` waits for Locust to end by itself.
STOP_GRACE = 6.0

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
HANDLED = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):
    """A signal arrived before the load started: there is nothing to check."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@dataclass(frozen=True, slots=True)
class Interruption:
    """How a run was cut short: the signal (None when only the history says so), when (seconds
    after the load started, if known), and how long its last drain lasted."""

    signal: str | None
    at: float | None = None
    drain: float | None = None


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class Interrupts:
    """``with Interrupts() as interrupts:`` catches SIGINT and SIGTERM until the block ends.

    ``on_signal(count)`` is what a signal does while the load runs (``count`` 1 for the first);
    while it is None, a signal raises ``RunInterrupted``. ``first`` is the first signal's number."""

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        self.first: int | None = None
        self.count = 0
        self.at: float | None = None
        self.on_signal: Callable[[int], None] | None = None
        self._previous: dict[int, Any] = {}
        self._write = write or (lambda text: print(text, file=sys.stderr, flush=True))

    def __enter__(self) -> Interrupts:
        for signum in HANDLED:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: the caller's own handling stays
                pass
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @property
    def interrupted(self) -> bool:
        return self.first is not None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_SIGNAL.get(signal.Signals(self.first), 130) if self.first is not None else 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.first is None:
            self.first = signum
            self.at = time.monotonic()
        if self.on_signal is None:
            raise RunInterrupted(signum)
        self.on_signal(self.count)

    def say(self, text: str) -> None:
        self._write(text)


def describe_interruption(interruption: Interruption) -> str:
    """How the run was cut short, for the checker's reason: the signal, when, the drain."""
    what = f"by {interruption.signal}" if interruption.signal else "(its history's end record says so)"
    when = f" {interruption.at:.1f} s after the load started" if interruption.at is not None else ""
    drain = f"; its drain was cut to {interruption.drain:.1f} s" if interruption.drain is not None else ""
    return f"{what}{when}{drain}"
