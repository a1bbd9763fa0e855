"""Closed-loop pacing: when has a request been answered, as far as the load generator can tell?

A ``ConnTracker`` follows the requests in flight on one WebSocket connection and reports, for
each received frame, the phases a request reached (first ``agent_started``, first
``agent_thinking``) and when it finished. This only paces the load and feeds Locust's latency
statistics; it decides no anomaly (that is the checker core's job, from the history).

Everything backend-specific comes from the profile, read through the core's ``Normaliser`` (the
same event kinds the checker sees):

- An event that names a parent (``profile.parent_id``) answers the request whose echoed client
  message id (``send(echo=...)``) or one of whose steps (``profile.step_id``) that parent is; its
  own step joins the request. The first step hung under the message id is the request's root.
- Otherwise, the first run id (``profile.run_id``) seen on the connection after a send, and not
  already bound to an earlier request on this connection, is that request's.
- A run may hold several ``agent_started``/``agent_completed`` pairs (a supervisor and its
  sub-agents, or nested run steps). The request is answered when its root step completes, or
  (no root known) when the count of started minus completed returns to zero. Failure events
  end it too (failed); so does a server error frame, for the oldest request still waiting.
- Deadline expiry and lost connections are decided by the caller (it owns the clock); it tells
  the tracker with ``expire`` and ``connection_closed``.

Pure: no clock, no I/O; times are passed in.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from xtalk.core.normalise import Normaliser, Problem, id_text
from xtalk.core.profile import EventKind, Profile, first_str


class Phase(enum.Enum):
    STARTED = "agent_started"
    THINKING = "agent_thinking"
    COMPLETED = "agent_completed"


_SEEN = Phase.THINKING


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # a failure event or an error frame
    DEADLINE = "deadline"  # no final event before the deadline
    CLOSED = "closed"  # the connection closed while it was in flight


_AGENT_KINDS = frozenset({EventKind.STARTED, EventKind.THINKING, EventKind.TOOL_EXECUTING, EventKind.TOOL_COMPLETED,
                          EventKind.COMPLETED, EventKind.FAILED, EventKind.RUN_OTHER})
_PACED = _AGENT_KINDS | {EventKind.SERVER_ERROR}  # the kinds ``_event`` acts on
_QUIET = frozenset({EventKind.TOOL_EXECUTING, EventKind.TOOL_COMPLETED, EventKind.RUN_OTHER})  # bind, nothing else
_THINKING = EventKind.THINKING
_NORMALISERS: dict[int, Normaliser] = {}


def normaliser_for(profile: Profile) -> Normaliser:
    """One compiled normaliser per profile and process (the trackers of all tabs share it)."""
    normaliser = _NORMALISERS.get(id(profile))
    if normaliser is None or normaliser.profile is not profile:
        normaliser = _NORMALISERS[id(profile)] = Normaliser(profile)
    return normaliser


@dataclass(slots=True)
class Pending:
    """One request in flight on a connection."""

    req: str
    sent_at: float
    echo: str | None = None  # the client message id the server may echo as a parent
    run_id: str | None = None
    root: str | None = None  # the first step hung under ``echo``: its completion answers the request
    depth: int = 0
    phases: dict[Phase, float] = field(default_factory=dict)


#: What a finished request's ids point at: its late events are nobody's (``req`` is never open).
_DONE = Pending("", 0.0)
#: Finished requests per connection whose ids are remembered.
RETAIN = 16


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

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.normalise = normaliser_for(profile)
        self._chains = bool(profile.parent_id or profile.step_id)
        self._type_of = self.normalise.type_of
        self._direct = self.normalise.direct
        self._run_of = self.normalise.run_id_of
        self._waiting: list[Pending] = []  # sent, not bound to a run or a step yet (oldest first)
        self._by_run: dict[str, Pending] = {}  # run id -> request (``_DONE`` a while after it finishes)
        self._by_step: dict[str, Pending] = {}  # message and step ids -> request (the same)
        self._retired: deque[list[tuple[dict[str, Pending], str]]] = deque()  # ids of finished requests
        self.in_flight_now: dict[str, Pending] = {}  # req -> request, while in flight (read per event: public)

    @property
    def in_flight(self) -> int:
        return len(self.in_flight_now)

    def open_requests(self) -> set[str]:
        """The requests in flight on this connection."""
        return set(self.in_flight_now)

    def started_requests(self) -> set[str]:
        """The requests in flight here that have reached ``agent_started``."""
        return {req for req, pending in self.in_flight_now.items() if Phase.STARTED in pending.phases}

    def sent(self, req: str, t: float, echo: str | None = None) -> None:
        pending = Pending(req, t, echo)
        self._waiting.append(pending)
        self.in_flight_now[req] = pending
        if echo is not None:
            self._by_step[echo] = pending

    def frame(self, frame: dict[str, Any], t: float) -> list[Notice]:
        notices: list[Notice] = []
        if not self._chains:
            # The short way for the common event: a type whose kind is its own (no rule, wrapper
            # or batch: the normaliser's ``direct`` table), paced on its kind and run id alone,
            # without building the checker's whole event (ids, fingerprints, dedup hash).
            type_name = self._type_of(frame)
            direct = self._direct.get(type_name) if type_name.__class__ is str else None
            if direct is not None:
                kind = direct[0]
                if kind in _PACED:
                    run = id_text(self._run_of(frame))
                    if run:
                        bound = self._by_run.get(run)
                        if bound is not None and (kind in _QUIET or (kind is _THINKING and _SEEN in bound.phases)):
                            return notices  # most of a run's events: bound already, nothing to report
                    self._event(kind, direct[1], run or None, None, None, t, notices)
                return notices
        events = self.normalise(frame)
        if isinstance(events, Problem):
            return []
        step = parent = None
        if self._chains and len(events) == 1:  # a batch's items have no ids of the frame's
            step = first_str(frame, self.profile.step_id)
            parent = first_str(frame, self.profile.parent_id)
        for event in events:
            self._event(event.kind, event.type, event.run_id, step, parent, t, notices)
        return notices

    def _owner(self, run_id: str | None, step: str | None, parent: str | None) -> Pending | None:
        """The request an agent event answers, binding its step or run id on the way."""
        pending = self._by_step.get(parent) if parent is not None else None
        if pending is None and step is not None:
            pending = self._by_step.get(step)
        if pending is not None:
            if pending is _DONE:
                return pending  # a late event of a finished request
            if step is not None:
                self._by_step.setdefault(step, pending)
                if pending.root is None and parent is not None and parent == pending.echo:
                    pending.root = step
            if pending in self._waiting:
                self._waiting.remove(pending)
            return pending
        if run_id is None:
            return None  # e.g. the second, id-less agent_completed: no evidence to pace on
        bound = self._by_run.get(run_id)
        if bound is None:
            if not self._waiting:
                return None  # a run nobody here asked for: the checker's business
            bound = self._waiting.pop(0)
            bound.run_id = run_id
            self._by_run[run_id] = bound
        return bound

    def _event(self, kind: EventKind, type_name: str, run_id: str | None, step: str | None, parent: str | None,
               t: float, out: list[Notice]) -> None:
        if kind is EventKind.SERVER_ERROR:
            # A server error frame answers the oldest request still waiting for its run, if any:
            # without it the request would idle until its deadline.
            if self._waiting:
                self._finish(self._waiting[0], Outcome.FAILED, t, out, f"server sent {type_name}")
            return
        if kind not in _AGENT_KINDS:
            return
        pending = self._owner(run_id, step, parent)
        if pending is None or pending.req not in self.in_flight_now:
            return  # nobody's here, or a late event of a finished request
        if kind is EventKind.STARTED:
            pending.depth += 1
            self._phase(pending, Phase.STARTED, t, out)
        elif kind is EventKind.THINKING:
            self._phase(pending, Phase.THINKING, t, out)
        elif kind is EventKind.COMPLETED:
            pending.depth -= 1
            if (step == pending.root) if pending.root is not None else pending.depth <= 0:
                self._finish(pending, Outcome.OK, t, out)
        elif kind is EventKind.FAILED:
            self._finish(pending, Outcome.FAILED, t, out, type_name)

    def _phase(self, pending: Pending, phase: Phase, t: float, out: list[Notice]) -> None:
        if phase not in pending.phases:
            pending.phases[phase] = t
            out.append(PhaseReached(pending.req, phase, t, t - pending.sent_at))

    def _finish(self, pending: Pending, outcome: Outcome, t: float, out: list[Notice], detail: str = "") -> None:
        self.in_flight_now.pop(pending.req, None)
        if pending in self._waiting:
            self._waiting.remove(pending)
        self._retire(pending)
        out.append(Finished(pending.req, outcome, t, t - pending.sent_at, detail))

    def _retire(self, pending: Pending) -> None:
        """A finished request's ids keep pointing at ``_DONE`` (so its late events are not taken
        for a later request's) for its ``RETAIN`` successors on this connection, then go: a
        connection's tables stay small however long the run."""
        ids: list[tuple[dict[str, Pending], str]] = []
        if pending.run_id is not None and self._by_run.get(pending.run_id) is pending:
            self._by_run[pending.run_id] = _DONE
            ids.append((self._by_run, pending.run_id))
        if self._chains:
            for key, owner in self._by_step.items():
                if owner is pending:
                    ids.append((self._by_step, key))
            for table, key in ids:
                table[key] = _DONE
        self._retired.append(ids)
        if len(self._retired) > RETAIN:
            for table, key in self._retired.popleft():
                if table.get(key) is _DONE:
                    del table[key]

    def expire(self, req: str, t: float) -> Notice | None:
        """The caller's deadline for ``req`` passed. Its run id, if learned, stays bound, so its
        late events are not taken for the next request's."""
        pending = self.in_flight_now.get(req)
        if pending is None:
            return None
        out: list[Notice] = []
        self._finish(pending, Outcome.DEADLINE, t, out, "no final event before the deadline")
        return out[0]

    def connection_closed(self, t: float, detail: str) -> list[Notice]:
        out: list[Notice] = []
        for pending in list(self.in_flight_now.values()):
            self._finish(pending, Outcome.CLOSED, t, out, detail)
        return out
