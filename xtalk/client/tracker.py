"""Closed-loop pacing: when has a request been answered, as far as the load generator can tell?

A ``ConnTracker`` follows the requests in flight on one WebSocket connection and reports, for
each received frame, the phases a request reached (first ``agent_started``, first
``agent_thinking``) and when it finished. This only paces the load and feeds Locust's latency
statistics; it decides no anomaly (that is the checker core's job, from the history).

Rules, from NETRA_PROTOCOL.md §3-4:

- Nothing in an answer echoes a client request id. The first run id seen on the connection after
  a send, and not already bound to an earlier request on this connection, is that request's.
- A run has several ``agent_started``/``agent_completed`` pairs (supervisor and sub-agents, same
  run id). The request is answered when the outermost agent completes: the count of started
  minus completed returns to zero. ``agent_error`` and ``agent_death`` end it too (failed).
- ``reasoning`` is ``agent_thinking``; ``system_message``/``agent_progress`` carry the type in
  ``data.event``; ``event_batch`` holds several events; ids sit at the top level, then under
  ``data``, then ``payload``, then ``data.context``/``data.result``.
- Deadline expiry and lost connections are decided by the caller (it owns the clock); it tells
  the tracker with ``expire`` and ``connection_closed``.

Pure: no clock, no I/O; times are passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.Enum):
    STARTED = "agent_started"
    THINKING = "agent_thinking"
    COMPLETED = "agent_completed"


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # agent_error / agent_death / an error frame
    DEADLINE = "deadline"  # no final event before the deadline
    CLOSED = "closed"  # the connection closed while it was in flight


AGENT_EVENTS = frozenset(
    {"agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed",
     "agent_error", "agent_death", "progress_update", "partial_result", "final_report",
     "agent_fallback", "stream_chunk", "tool_error"}
)
_FAILURES = frozenset({"agent_error", "agent_death"})
_ERROR_FRAMES = frozenset({"error", "error_message"})


def event_type(frame: dict[str, Any]) -> str | None:
    kind = frame.get("type")
    if kind in ("system_message", "agent_progress"):
        data = frame.get("data")
        if isinstance(data, dict) and isinstance(data.get("event"), str):
            kind = data["event"]
    if kind == "reasoning":
        return "agent_thinking"
    return kind if isinstance(kind, str) else None


def run_id_of(frame: dict[str, Any]) -> str | None:
    value = frame.get("run_id")
    if isinstance(value, str) and value:
        return value
    for key in ("data", "payload"):
        inner = frame.get(key)
        if isinstance(inner, dict):
            value = inner.get("run_id")
            if isinstance(value, str) and value:
                return value
    data = frame.get("data")
    if isinstance(data, dict):
        for key in ("context", "result"):
            inner = data.get(key)
            if isinstance(inner, dict):
                value = inner.get("run_id")
                if isinstance(value, str) and value:
                    return value
    return None


def iter_events(frame: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(normalised type, event dict) for each event a frame carries (a batch carries several)."""
    kind = event_type(frame)
    if kind == "event_batch":
        events = frame.get("events")
        if isinstance(events, dict):
            for sub_kind, items in events.items():
                if not isinstance(items, list):
                    continue
                norm = "agent_thinking" if sub_kind == "reasoning" else sub_kind
                for item in items:
                    if isinstance(item, dict):
                        yield norm, item
        return
    if kind is not None:
        yield kind, frame


@dataclass(slots=True)
class Pending:
    """One request in flight on a connection."""

    req: str
    sent_at: float
    run_id: str | None = None
    depth: int = 0
    phases: dict[Phase, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PhaseReached:
    req: str
    phase: Phase
    t: float
    latency: float  # seconds since the send


@dataclass(frozen=True, slots=True)
class Finished:
    req: str
    outcome: Outcome
    t: float
    latency: float
    detail: str = ""


Notice = PhaseReached | Finished


class ConnTracker:
    """Requests in flight on one connection, in send order."""

    def __init__(self) -> None:
        self._waiting: list[Pending] = []  # sent, no run id learned yet (oldest first)
        self._by_run: dict[str, Pending] = {}  # run id -> request (kept after it finishes)
        self._open: dict[str, Pending] = {}  # req -> request, while in flight

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def sent(self, req: str, t: float) -> None:
        pending = Pending(req, t)
        self._waiting.append(pending)
        self._open[req] = pending

    def frame(self, frame: dict[str, Any], t: float) -> list[Notice]:
        notices: list[Notice] = []
        for kind, event in iter_events(frame):
            self._event(kind, event, t, notices)
        return notices

    def _event(self, kind: str, event: dict[str, Any], t: float, out: list[Notice]) -> None:
        if kind in _ERROR_FRAMES:
            # A server error frame answers the oldest request still waiting for its run, if any:
            # without it the request would idle until its deadline.
            if self._waiting:
                pending = self._waiting[0]
                self._finish(pending, Outcome.FAILED, t, out, f"server sent {kind}")
            return
        if kind not in AGENT_EVENTS:
            return
        run_id = run_id_of(event)
        if run_id is None:
            return  # e.g. the second, id-less agent_completed: no evidence to pace on
        bound = self._by_run.get(run_id)
        if bound is None:
            if not self._waiting:
                return  # a run nobody here asked for: the checker's business
            bound = self._waiting.pop(0)
            bound.run_id = run_id
            self._by_run[run_id] = bound
        pending = bound
        if pending.req not in self._open:
            return  # late event of a finished request
        if kind == "agent_started":
            pending.depth += 1
            self._phase(pending, Phase.STARTED, t, out)
        elif kind == "agent_thinking":
            self._phase(pending, Phase.THINKING, t, out)
        elif kind == "agent_completed":
            pending.depth -= 1
            if pending.depth <= 0:
                self._finish(pending, Outcome.OK, t, out)
        elif kind in _FAILURES:
            self._finish(pending, Outcome.FAILED, t, out, kind)

    def _phase(self, pending: Pending, phase: Phase, t: float, out: list[Notice]) -> None:
        if phase not in pending.phases:
            pending.phases[phase] = t
            out.append(PhaseReached(pending.req, phase, t, t - pending.sent_at))

    def _finish(self, pending: Pending, outcome: Outcome, t: float, out: list[Notice], detail: str = "") -> None:
        self._open.pop(pending.req, None)
        if pending in self._waiting:
            self._waiting.remove(pending)
        out.append(Finished(pending.req, outcome, t, t - pending.sent_at, detail))

    def expire(self, req: str, t: float) -> Notice | None:
        """The caller's deadline for ``req`` passed. Its run id, if learned, stays bound, so its
        late events are not taken for the next request's."""
        pending = self._open.get(req)
        if pending is None:
            return None
        out: list[Notice] = []
        self._finish(pending, Outcome.DEADLINE, t, out, "no final event before the deadline")
        return out[0]

    def connection_closed(self, t: float, detail: str) -> list[Notice]:
        out: list[Notice] = []
        for pending in list(self._open.values()):
            self._finish(pending, Outcome.CLOSED, t, out, detail)
        return out
