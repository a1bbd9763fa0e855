"""The ledger: the run's connections and the requests sent on them, and how long each is kept.

``Ledger`` owns these tables; other stages read them and ask the ledger to change them
(``send``, ``settle``, ``retire``). Invariants:

- ``requests`` holds every request sent until it is forgotten; ``Conn.requests`` holds a
  connection's unfinished requests, oldest first; a request leaves it exactly once, when it is
  settled (its outcome set).
- A thread sent by two users, or by a probe, is no evidence of ownership: ``threads`` maps it
  to None.
- Memory is bounded by the requests in flight and those finished within the retention windows,
  never by the history's length: a finished request keeps everything for ``retention`` seconds
  (late duplicates are retries seconds apart; a late tool half is late, not missing), then only
  what ties its runs and marker to it until ``tomb_retention``, then it is forgotten.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from xtalk.core.duplicates import Seen
from xtalk.core.ids import ConnId, Marker, ReqId, RunId, ThreadId, UserName
from xtalk.core.lifecycle import Lifecycle, SettledLife
from xtalk.core.profile import Profile, first_str, first_value
from xtalk.core.records import Open, Send


class Outcome(str, Enum):
    """How a request ended, three-valued as in Jepsen: unknown is never counted as dropped."""

    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(slots=True, eq=False)
class Request:
    req: ReqId
    user: UserName
    conn: ConnId
    t: float
    line: int
    thread: ThreadId | None
    marker: Marker | None
    engine: str
    key: str | None  # the script key: requests with one key ask the same thing (engine divergence)
    verb: str
    frame: Any
    deadline_at: float
    probe: str | None = None
    life: Lifecycle | SettledLife = field(default_factory=Lifecycle)  # SettledLife once stripped
    seen: Seen = field(default_factory=Seen)
    outcome: Outcome | None = None
    final_t: float | None = None
    leaked: bool = False  # another user received events of it
    answered_elsewhere: bool = False  # its run's completion reached another user
    run: RunId | None = None  # the first run bound to it (for findings about the request)
    gaps_judged: bool = False


@dataclass(slots=True, eq=False)
class Conn:
    conn: ConnId
    user: UserName
    engine: str | None
    line: int
    requests: list[Request] = field(default_factory=list)  # unfinished, oldest first
    last: Request | None = None
    closed_by: str | None = None
    welcomed: bool = False  # a welcome of it showed another identity (found once)
    welcome_id: str | None = None  # the id its last judged welcome showed
    probe: str | None = None  # an active probe opened it: an error frame here is an answer
    refusal_probe: str | None = None  # a probe expects the server to refuse this connection
    probe_line: int = 0
    refused: bool = False  # the server refused its credentials: its requests end unknown


class Ledger:
    def __init__(self, profile: Profile, deadline: float, reference: bool = False) -> None:
        self.profile = profile
        self.deadline = deadline
        self.reference = reference  # lifecycles without their fast path (CheckConfig.reference)
        self.conns: dict[ConnId, Conn] = {}
        self.user_conns: dict[UserName, list[Conn]] = {}
        self.requests: dict[ReqId, Request] = {}
        self.threads: dict[ThreadId, UserName | None] = {}
        self.finished: deque[Request] = deque()  # by finishing time
        self.stripped: deque[Request] = deque()
        self.in_flight = 0
        self.connections = 0  # connection attempts that may fail (probes meant to be refused aside)

    # ---- connections ------------------------------------------------------------------------

    def open(self, record: Open) -> Conn:
        conn = self._add(Conn(record.conn, record.user, record.engine, record.line))
        conn.probe = record.probe
        if record.expect == "refusal":
            conn.refusal_probe = record.probe or "probe"
            conn.probe_line = record.line
        else:
            self.connections += 1
        return conn

    def conn(self, conn_id: ConnId, user: UserName, line: int) -> Conn:
        found = self.conns.get(conn_id)
        return found if found is not None else self._add(Conn(conn_id, user, None, line))

    def _add(self, conn: Conn) -> Conn:
        old = self.conns.get(conn.conn)
        if old is not None:
            conn.requests, conn.last = old.requests, old.last  # a reopened id keeps its requests
        self.conns[conn.conn] = conn
        siblings = self.user_conns.setdefault(conn.user, [])
        if old is not None and old in siblings:
            siblings.remove(old)
        siblings.append(conn)
        return conn

    # ---- requests ---------------------------------------------------------------------------

    def send(self, record: Send) -> Request | None:
        """The request a send record makes, or None (a control message, or a request id seen before)."""
        conn = self.conn(record.conn, record.user, record.line)
        if record.req is None or record.req in self.requests:
            return None
        frame = record.frame if isinstance(record.frame, dict) else {}
        verb = str(first_value(frame, self.profile.type_path) or "request")
        key: str | None = record.script  # the harness said which requests ask the same thing
        if key is None:
            if isinstance(frame.get("script"), str):
                key = frame["script"]
            else:
                text = first_str(frame, self.profile.request_text)
                if text is not None:
                    key = (text.replace(record.marker, "") if record.marker else text).strip()
        request = Request(
            record.req, record.user, record.conn, record.t, record.line, record.thread, record.marker,
            conn.engine or "default", key, verb, frame, record.t + self.deadline, probe=record.probe,
        )
        if self.reference:
            request.life.reference = True  # type: ignore[union-attr]  # (a new request's is a Lifecycle)
        self.requests[record.req] = request
        conn.requests.append(request)
        conn.last = request
        if record.thread is not None and record.probe is None:  # a probe may send another's thread
            if self.threads.setdefault(record.thread, record.user) != record.user:
                self.threads[record.thread] = None
        self.in_flight += 1
        return request

    def echo_id(self, request: Request) -> str | None:
        """The client message id the request's frame carries for the server to echo, if any."""
        if not self.profile.request_echo or not isinstance(request.frame, dict):
            return None
        return first_str(request.frame, self.profile.request_echo)

    def thread_user(self, thread: str | None) -> UserName | None:
        return self.threads.get(thread) if thread else None  # type: ignore[call-overload]  # (no NewType call)

    def by_connection(self, conn: Conn, thread: str | None) -> Request | None:
        """A run-id-less event that names nobody belongs to the request in flight on its
        connection (the one on its thread, else the oldest), else to the latest one there."""
        if conn.requests:
            if thread is not None:
                for request in conn.requests:
                    if request.thread == thread:
                        return request
            return conn.requests[0]
        return conn.last

    def by_user(self, user: UserName, thread: str | None) -> Request | None:
        """As ``by_connection``, over all of the user's connections (an event that names nobody
        may arrive on the user's other tab): in flight on its thread, else the oldest in flight,
        else the latest sent."""
        conns = self.user_conns.get(user, ())
        flying = [r for c in conns for r in c.requests]
        if flying:
            if thread is not None:
                for request in flying:
                    if request.thread == thread:
                        return request
            return min(flying, key=lambda r: r.t)
        latest = [c.last for c in conns if c.last is not None]
        return max(latest, key=lambda r: r.t) if latest else None

    def latest_answered(self, conn: ConnId, user: UserName) -> Request | None:
        """The request of ``user`` whose run's final event came last, sent on ``conn`` if one
        was, among those finished recently (still in full state)."""
        fallback: Request | None = None
        for request in reversed(self.finished):
            if request.user == user and request.life.final_line is not None:
                if request.conn == conn:
                    return request
                if fallback is None:
                    fallback = request
        return fallback

    def settle(self, request: Request, outcome: Outcome, t: float) -> bool:
        """Give the request its outcome, once; False when it already had one."""
        if request.outcome is not None:
            return False
        request.outcome = outcome
        request.final_t = t
        conn = self.conns.get(request.conn)
        if conn is not None and request in conn.requests:
            conn.requests.remove(request)
        self.in_flight -= 1
        self.finished.append(request)
        return True

    def unfinished(self) -> list[Request]:
        return [r for c in self.conns.values() for r in c.requests]

    # ---- memory -----------------------------------------------------------------------------

    def ripe(self, now: float, retention: float) -> list[Request]:
        """The finished requests whose full state may go now (finished ``retention`` ago), oldest
        first; the caller judges what needs their lifecycle, then hands them to ``strip``."""
        ripe: list[Request] = []
        while self.finished and (self.finished[0].final_t or 0.0) < now - retention:
            ripe.append(self.finished.popleft())
        return ripe

    def strip(self, requests: list[Request]) -> None:
        """Keep of each request only what ties its runs and marker to it."""
        for old in requests:
            old.seen = Seen()
            old.frame = None
            old.key = None
            if isinstance(old.life, Lifecycle):
                if old.life.final_line is not None:  # its run is over: keep the final line only
                    old.life = SettledLife(old.life.final_line, old.life.failed)
                else:  # settled without a final event (dropped, lost, unknown): events may still come
                    old.life.sequence = []
            self.stripped.append(old)

    def forget(self, now: float, tomb_retention: float) -> list[Request]:
        """The stripped requests forgotten now: an event of their runs is a phantom from now on."""
        forgotten: list[Request] = []
        horizon = now - tomb_retention
        while self.stripped and (self.stripped[0].final_t or 0.0) < horizon:
            old = self.stripped.popleft()
            forgotten.append(old)
            self.requests.pop(old.req, None)
            conn = self.conns.get(old.conn)
            if conn is not None and conn.last is old:
                conn.last = None
        return forgotten
