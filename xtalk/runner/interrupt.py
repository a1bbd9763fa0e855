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

The verdict of an interrupted run is the checker's, amended by ``mark_interrupted``: a run cut
short could not have shown what its scenario was written to show, so it is ``inconclusive``
(the reason says it was interrupted) unless an anomaly was already found — a leak seen is a leak,
however the run ended. Why amend here rather than in the checker: the checker core decides from
the history alone and has no notion of a run being cut short by its operator; the runner, which
saw the signal, is the one place that knows, and ``xtalk check`` applies the same function when a
history's ``end`` record says ``interrupted``, so a re-check gives the run's own verdict.
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

__all__ = ["INTERRUPT_DRAIN", "STOP_LOAD_SIGNAL", "Interruption", "Interrupts", "RunInterrupted", "mark_interrupted"]

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


def mark_interrupted(verdict: dict[str, Any], interruption: Interruption) -> dict[str, Any]:
    """The verdict of a run cut short: ``inconclusive`` unless an anomaly was found, with a reason
    that says the run was interrupted; ``run.interrupted`` names the signal. A new dict."""
    data = dict(verdict)
    what = f"by {interruption.signal}" if interruption.signal else "(its history's end record says so)"
    when = f" {interruption.at:.1f} s after the load started" if interruption.at is not None else ""
    drain = (f"; its drain was cut to {interruption.drain:.1f} s" if interruption.drain is not None else "")
    reason = (f"the run was interrupted {what}{when}{drain}, so it ended before its scenario's load and "
              "drain were over and cannot show what a full run would")
    advice = ("re-run it without interrupting it; in CI give the job a timeout longer than the scenario's "
              "connect + load + drain (xtalk run prints them when it starts)")
    anomalies = data.get("anomalies") if isinstance(data.get("anomalies"), dict) else {}
    limits = data.get("anomaly_limits") if isinstance(data.get("anomaly_limits"), dict) else {}
    leaked = any(isinstance(n, int) and n > int(limits.get(kind, 0) or 0) for kind, n in anomalies.items())
    reasons = [r for r in data.get("reasons") or [] if isinstance(r, str)]
    if leaked:
        data["verdict"] = "fail"
        data["reasons"] = [*reasons, reason]
    else:
        previous = data.get("inconclusive") if isinstance(data.get("inconclusive"), dict) else None
        data["verdict"] = "inconclusive"
        data["inconclusive"] = {"reason": reason, "advice": advice}
        kept = [r for r in reasons if previous is None or r != previous.get("reason")]
        data["reasons"] = [reason, *kept] + ([str(previous["reason"])] if previous and previous.get("reason") else [])
    run = dict(data["run"]) if isinstance(data.get("run"), dict) else {}
    run["interrupted"] = interruption.signal or True
    data["run"] = run
    return data
