"""The checker: history records in, one at a time; a verdict out.

``Checker.feed(record)`` consumes records in history order (live inside a Locust worker, or
offline over a file) and ``finish()`` returns the ``Verdict``. No I/O, no clock: time arrives on
the records, and the run's end is the ``end`` record. The same records give the same verdict.

How an event is tied to a request (the real backend echoes no request id):

1. connection → user (``open``), and each ``send`` with a ``req`` is a request on it;
2. a run id is bound to a request when evidence arrives: a frame of that run carrying a pending
   request's content marker binds it at once; otherwise, when the run's outermost agent finishes
   (or its deadline or connection ends), by its ``user_id`` (a harness identity), its thread id
   (a thread the harness sent), and finally the connection it first arrived on: the oldest
   pending request there sent before it. Until then the run's deliveries wait in a ``Trace``,
   so memory is bounded by the runs in flight;
3. a frame without a run id belongs to the run arriving on its connection, else to the oldest
   request in flight there, else to the latest one.

Then each delivery is judged once, under the first kind that fits (SPEC "one finding, one
kind"): ``cross_user_event`` (its run, user id or thread belongs to another harness user),
``cross_user_content`` (it carries another user's marker), ``identity_mismatch`` (a user id that
is nobody's in the run), ``phantom_event`` (no request), ``duplicate_event`` (the same frame
twice on one connection), then the lifecycle kinds (``xtalk.core.lifecycle``).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.coverage import Histogram, Overlap, Sampler
from xtalk.core.divergence import ScriptBook
from xtalk.core.explain import describe_recv, describe_send
from xtalk.core.ids import ConnId, Identity, Marker, ReqId, RunId, ThreadId, UserName
from xtalk.core.lifecycle import Lifecycle
from xtalk.core.markers import MarkerIndex
from xtalk.core.normalise import Event, Normaliser, Problem
from xtalk.core.profile import EventKind, Profile, first_str
from xtalk.core.records import (
    ClientError,
    Close,
    End,
    Login,
    Malformed,
    Meta,
    Open,
    Record,
    Recv,
    Send,
)
from xtalk.core.verdict import CheckConfig, Outcome, Tally, Verdict, build_verdict

AGENT_KINDS = frozenset(
    {
        EventKind.STARTED,
        EventKind.THINKING,
        EventKind.TOOL_EXECUTING,
        EventKind.TOOL_COMPLETED,
        EventKind.COMPLETED,
        EventKind.FAILED,
        EventKind.RUN_OTHER,
    }
)
SWIMLANE_USERS = 12
TIME_JITTER = 0.05  # seconds a record may lag the one before it (clock reads racing the writer)
SWIMLANE_DEPTH = 40


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
    key: str | None
    verb: str
    frame: Any
    deadline_at: float
    life: Lifecycle = field(default_factory=Lifecycle)
    runs: list[RunId] = field(default_factory=list)
    seen: dict[int, tuple[ConnId, int, Any, float]] = field(default_factory=dict)  # dedup → conn, line, stamp, t
    outcome: Outcome | None = None
    final_t: float | None = None
    leaked: bool = False
    probe: str | None = None
    evident: set[RunId] = field(default_factory=set)  # runs tied to it by ids, not only by content
    reserved_by: RunId | None = None  # the undecided run first seen on its connection after it
    gaps_judged: bool = False

    @property
    def pending(self) -> bool:
        """Waiting for a run id: nothing bound yet and not finished."""
        return not self.runs and self.outcome is None


@dataclass(slots=True, eq=False)
class Conn:
    conn: ConnId
    user: UserName
    engine: str | None
    line: int
    requests: list[Request] = field(default_factory=list)  # not yet finished, oldest first
    last: Request | None = None
    traces: list[RunId] = field(default_factory=list)  # undecided runs first seen here
    closed_by: str | None = None
    welcomed: bool = False
    refusal_probe: str | None = None  # a probe expects the server to refuse this connection
    probe_line: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    event: Event
    user: UserName
    conn: ConnId
    t: float
    line: int
    frame: Any
    markers: tuple[tuple[Marker, ReqId], ...]


@dataclass(slots=True, eq=False)
class Trace:
    run: RunId
    first_t: float
    first_conn: ConnId
    deliveries: list[Delivery] = field(default_factory=list)
    depth: int = 0
    started: bool = False
    reserved: Request | None = None  # the request it answers if no evidence says otherwise
    conflicted: bool = False  # delivered to two users, and no marker yet says whose it is


class Checker:
    def __init__(self, config: CheckConfig) -> None:
        self.config = config
        self.profile: Profile = config.profile
        self.normalise = Normaliser(config.profile)
        self.tally = Tally(config)
        self.identity: dict[UserName, Identity] = {}
        self.identity_user: dict[Identity, UserName] = {}
        self.collapsed: set[Identity] = set()
        self.welcome_ids: dict[str, UserName] = {}
        self.conns: dict[ConnId, Conn] = {}
        self.user_conns: dict[UserName, list[Conn]] = {}
        self.requests: dict[ReqId, Request] = {}
        self.run_owner: dict[RunId, Request | None] = {}
        self.traces: dict[RunId, Trace] = {}
        self.threads: dict[ThreadId, UserName | None] = {}  # None: sent by two users, no evidence
        self.markers = MarkerIndex()
        self.finished: deque[Request] = deque()  # finished requests, by finishing time
        self.stripped: deque[Request] = deque()  # finished long enough ago to keep ids only
        self.lanes: dict[UserName, deque[tuple[float, str, str, str, int]]] = {}
        self.lane_users: dict[str, list[tuple[float, str, str, str, int]]] = {}
        self.overlap = Overlap()
        self.latency: dict[str, Histogram] = {}
        self.engine_latency: dict[str, Histogram] = {}
        self.series = Sampler()
        self.matrix: Counter[tuple[str, str]] = Counter()
        self.scripts: ScriptBook[Request] = ScriptBook(config.script_limit)
        self.last_t = 0.0
        self.next_maintenance = 0.0
        self.end: End | None = None
        self.meta: Meta | None = None
        self.in_flight = 0

    # ---- feeding -------------------------------------------------------------------------

    def feed(self, record: Record) -> None:
        t = getattr(record, "t", None)
        if t is not None:
            if t < self.last_t - TIME_JITTER:
                self.tally.broken(
                    f"time goes backwards at history line {record.line} ({t:.3f} s after {self.last_t:.3f} s)"
                )
            self.last_t = max(self.last_t, t)
            if t >= self.next_maintenance:
                self._maintain(t)
                self.next_maintenance = t + 1.0
        if self.end is not None and not isinstance(record, Meta):
            if not isinstance(record, Close):  # connections closing after the end are harmless
                self.tally.broken(f"history line {record.line} comes after the end record")
            return
        if isinstance(record, Recv):
            self._recv(record)
        elif isinstance(record, Send):
            self._send(record)
        elif isinstance(record, Open):
            self._open(record)
        elif isinstance(record, Close):
            self._close(record)
        elif isinstance(record, Login):
            self._login(record)
        elif isinstance(record, End):
            self.end = record
        elif isinstance(record, Meta):
            if self.meta is None:
                self.meta = record
            if record.schema and record.schema != "xtalk.history/1":
                self.tally.broken(f"history line {record.line} has schema {record.schema!r}, not xtalk.history/1")
        elif isinstance(record, ClientError):
            self.tally.client_error(record.phase)
        elif isinstance(record, Malformed):
            self.tally.broken(f"history line {record.line}: {record.reason}")

    def _login(self, record: Login) -> None:
        previous = self.identity.get(record.user)
        self.identity[record.user] = record.identity
        known = self.identity_user.get(record.identity)
        if known is None and record.identity not in self.collapsed:
            if previous is None or previous == record.identity:
                self.identity_user[record.identity] = record.user
            return
        if known == record.user:
            return
        # A shared identity is no evidence of ownership any more: the collapse is the finding.
        self.identity_user.pop(record.identity, None)
        self.collapsed.add(record.identity)
        self._found(
            AnomalyKind.IDENTITY_MISMATCH,
            (record.line,),
            record.t,
            Explanation(
                (("L", f"login of {record.user} at {record.t:.3f} s (history line {record.line})"),),
                f"the auth service vouched for identity {record.identity} for {record.user},\n"
                f"but it already belongs to {known or 'another user'}: two users collapse into one identity.",
            ),
            user=record.user,
            owner=known,
        )

    def _conn(self, conn: ConnId, user: UserName, line: int) -> Conn:
        found = self.conns.get(conn)
        if found is None:
            found = self._add_conn(Conn(conn, user, None, line))
        return found

    def _add_conn(self, conn: Conn) -> Conn:
        old = self.conns.get(conn.conn)
        if old is not None:
            conn.requests, conn.last = old.requests, old.last  # a reopened id keeps its requests
        self.conns[conn.conn] = conn
        siblings = self.user_conns.setdefault(conn.user, [])
        if old is not None and old in siblings:
            siblings.remove(old)
        siblings.append(conn)
        return conn

    def _open(self, record: Open) -> None:
        conn = self._add_conn(Conn(record.conn, record.user, record.engine, record.line))
        if record.expect == "refusal":
            conn.refusal_probe = record.probe or "probe"
            conn.probe_line = record.line
            return  # a connection meant to be refused is not an attempt that may fail
        self.tally.connections += 1

    def _send(self, record: Send) -> None:
        conn = self._conn(record.conn, record.user, record.line)
        if record.req is None or record.req in self.requests:
            return
        frame = record.frame if isinstance(record.frame, dict) else {}
        verb = str(frame.get("type") or "request")
        text = first_str(frame, self.profile.request_text)
        key: str | None = None
        if isinstance(frame.get("script"), str):
            key = frame["script"]
        elif text is not None:
            key = text.replace(record.marker, "").strip() if record.marker else text.strip()
        request = Request(
            record.req,
            record.user,
            record.conn,
            record.t,
            record.line,
            record.thread,
            record.marker,
            conn.engine or "default",
            key,
            verb,
            frame,
            record.t + self.config.deadline,
            probe=record.probe,
        )
        self.requests[record.req] = request
        conn.requests.append(request)
        conn.last = request
        if record.thread is not None and record.probe is None:  # a probe may send another's thread
            if self.threads.setdefault(record.thread, record.user) != record.user:
                self.threads[record.thread] = None
        if record.marker is not None:
            self.markers.add(record.marker, record.req)
        self.tally.sent += 1
        self.in_flight += 1
        self.tally.max_in_flight = max(self.tally.max_in_flight, self.in_flight)
        self.overlap.start(record.user)

    def _close(self, record: Close) -> None:
        conn = self._conn(record.conn, record.user, record.line)
        for run in list(conn.traces):
            self._decide(run)
        conn.closed_by = record.by
        if not conn.requests:
            return
        lost: list[Request] = []
        for request in list(conn.requests):
            if request.deadline_at <= record.t:
                self._drop(request, record.t)  # its deadline passed while the connection was open
            elif record.by == "server":
                lost.append(request)
                self._settle(request, Outcome.FAILED, record.t)
            else:
                self._settle(request, Outcome.UNKNOWN, record.t, reason="the harness closed its connection")
        if lost:
            first = lost[0]
            self._found(
                AnomalyKind.CONNECTION_LOST,
                tuple(sorted({r.line for r in lost} | {record.line})),
                record.t,
                Explanation(
                    (
                        ("R", describe_send(first.verb, first.user, first.conn, first.t, first.line)),
                        ("C", f"close {record.code} {record.reason!r} by the server at {record.t:.3f} s "
                              f"(history line {record.line})"),
                    ),
                    f"C closed {record.conn} while {len(lost)} request(s) on it were in flight (R the first):\n"
                    "their answers can no longer arrive.",
                ),
                user=record.user,
                owner=record.user,
                conn=record.conn,
                req=first.req,
                engine=first.engine,
            )

    def _recv(self, record: Recv) -> None:
        conn = self._conn(record.conn, record.user, record.line)
        if record.frame is None:
            self._protocol(record, "the server sent text that is not JSON")
            return
        events = self.normalise(record.frame)
        if isinstance(events, Problem):
            self._protocol(record, events.reason)
            return
        if not events:
            return
        markers: tuple[tuple[Marker, ReqId], ...] | None = None
        for event in events:
            kind = event.kind
            if kind is EventKind.NOISE:
                continue
            if kind is EventKind.SERVER_ERROR:
                if not self._expected_error(conn, record):
                    self._protocol(record, "the server sent an error frame")
                continue
            if conn.refusal_probe is not None:
                self._probe_accepted(conn, event, record)
            if kind is EventKind.WELCOME:
                self._welcome(conn, event, record)
                continue
            if markers is None:
                markers = tuple(self.markers.find(record.text)) if len(self.markers) else ()
            self.tally.events += 1
            delivery = Delivery(event, record.user, record.conn, record.t, record.line, record.frame, markers)
            self._route(conn, delivery)

    # ---- ownership -----------------------------------------------------------------------

    def _route(self, conn: Conn, d: Delivery) -> None:
        run = d.event.run_id
        if run is None:
            for pending_run in reversed(conn.traces):
                waiting = self.traces[pending_run]
                if waiting.reserved is not None:  # an undecided run answering a request here
                    self._buffer(waiting, d)
                    return
            owner = self._by_marker(d) or self._by_connection(conn, d.event.thread_id)
            self._deliver(owner, d)
            return
        if run in self.run_owner:
            self._deliver(self.run_owner[run], d)
            return
        trace = self.traces.get(run)
        if trace is None:
            trace = self.traces[run] = Trace(run, d.t, d.conn)
            conn.traces.append(run)
            # "The first new run id seen on a connection after a send": the oldest request there
            # that no other undecided run has claimed, unless evidence says otherwise later.
            for request in conn.requests:
                if request.pending and request.reserved_by is None and request.t <= d.t:
                    request.reserved_by = run
                    trace.reserved = request
                    break
        self._buffer(trace, d)

    def _by_marker(self, d: Delivery) -> Request | None:
        """A frame without a run id that quotes one of its receiver's requests belongs to it."""
        for _, req in d.markers:
            request = self.requests.get(req)
            if request is not None and request.user == d.user:
                return request
        return None

    def _by_connection(self, conn: Conn, thread: ThreadId | None) -> Request | None:
        if conn.requests:
            if thread is not None:
                for request in conn.requests:
                    if request.thread == thread:
                        return request
            return conn.requests[0]
        return conn.last

    def _buffer(self, trace: Trace, d: Delivery) -> None:
        trace.deliveries.append(d)
        if not trace.conflicted and d.user != trace.deliveries[0].user:
            reserved = trace.reserved
            if reserved is None or not all(self._shows(x, reserved.user, by_conn=False) for x in trace.deliveries):
                # One run, two users, and its ids do not say whose: the other runs settle it
                # (each user's own run claims that user's request); until then it claims none.
                trace.conflicted = True
                if reserved is not None:
                    reserved.reserved_by = None
                    trace.reserved = None
        kind = d.event.kind
        if kind is EventKind.STARTED:
            trace.depth += 1
            trace.started = True
        elif kind is EventKind.COMPLETED:
            trace.depth -= 1
        chosen: Request | None = None
        for _, req in d.markers:
            request = self.requests.get(req)
            if request is not None and request.pending:
                if request.user == d.user:  # the receiver's own marker among others: its run
                    chosen = request
                    break
                chosen = chosen or request
        if chosen is not None:
            self._decide(trace.run, chosen)
            return
        if trace.conflicted:
            return  # seen by two users with no marker: wait for the other runs to settle it
        if kind is EventKind.FAILED or (kind is EventKind.COMPLETED and trace.depth <= 0):
            self._decide(trace.run)

    def _decide(self, run: RunId, chosen: Request | None = None) -> None:
        trace = self.traces.pop(run, None)
        if trace is None:
            return
        first = self.conns.get(trace.first_conn)
        if first is not None and run in first.traces:
            first.traces.remove(run)
        by_marker = chosen is not None
        if chosen is None:
            chosen = self._best_request(trace)
        if trace.reserved is not None and trace.reserved is not chosen:
            trace.reserved.reserved_by = None
        if chosen is not None and chosen.reserved_by not in (None, run):
            robbed = self.traces.get(chosen.reserved_by)
            if robbed is not None:
                robbed.reserved = None
        self.run_owner[run] = chosen
        if chosen is not None:
            chosen.reserved_by = run
            chosen.runs.append(run)
            if not by_marker or any(self._shows(d, chosen.user) for d in trace.deliveries):
                chosen.evident.add(run)
        for d in trace.deliveries:
            self._deliver(chosen, d)

    def _decide_all(self, runs: list[RunId]) -> None:
        """Runs seen by one user first: a conflicted run is settled by what the others claimed."""
        for run in sorted(runs, key=lambda r: self.traces[r].conflicted if r in self.traces else False):
            self._decide(run)

    def _shows(self, d: Delivery, user: UserName, by_conn: bool = True) -> bool:
        """Do the delivery's ids (not its content) tie it to ``user``?"""
        event = d.event
        return (
            (by_conn and d.user == user)
            or (event.user_id is not None and self.identity_user.get(Identity(event.user_id)) == user)
            or (event.thread_id is not None and self.threads.get(event.thread_id) == user)
        )

    def _best_request(self, trace: Trace) -> Request | None:
        """The request a run answers, when no content marker said: its user ids, then its thread
        ids, then the connection it arrived on, name the user; that user's reserved or oldest
        unclaimed waiting request sent before the run's first event is the one."""
        uid_users = {self.identity_user.get(Identity(d.event.user_id or "")) for d in trace.deliveries}
        uid_users.discard(None)
        thread_users = {self.threads.get(d.event.thread_id) for d in trace.deliveries if d.event.thread_id}
        thread_users.discard(None)
        first_conn = self.conns.get(trace.first_conn)
        order: list[UserName] = []
        if len(uid_users) == 1:
            order.append(next(iter(uid_users)))  # type: ignore[arg-type]
        if len(thread_users) == 1:
            order.append(next(iter(thread_users)))  # type: ignore[arg-type]
        if first_conn is not None:
            order.append(first_conn.user)
        order.extend(d.user for d in trace.deliveries)  # a conflicted run: any user it reached
        reserved = trace.reserved if trace.reserved is not None and trace.reserved.pending else None
        threads = {d.event.thread_id for d in trace.deliveries if d.event.thread_id}
        for user in dict.fromkeys(order):
            if reserved is not None and reserved.user == user:
                return reserved
            best: Request | None = None
            best_score: tuple[int, int, float] | None = None
            for conn in self.user_conns.get(user, ()):
                for request in conn.requests:
                    if not request.pending or request.t > trace.first_t or request.reserved_by not in (None, trace.run):
                        continue
                    score = (int(request.conn == trace.first_conn), int(request.thread in threads), -request.t)
                    if best_score is None or score > best_score:
                        best, best_score = request, score
            if best is not None:
                return best
        return None

    # ---- judging one delivery ------------------------------------------------------------

    def _deliver(self, request: Request | None, d: Delivery) -> None:
        receiver = d.user
        event = d.event
        uid_user = self.identity_user.get(Identity(event.user_id)) if event.user_id else None
        thread_user = self.threads.get(event.thread_id) if event.thread_id else None
        owner = request.user if request is not None else None
        foreign = request is not None and owner != receiver
        if request is not None and (  # the run id ties the event to another user's request
            foreign and (event.run_id is None or event.run_id in request.evident or uid_user == owner
                         or thread_user == owner)
        ):
            other: UserName | None = owner
        elif uid_user is not None and uid_user != receiver:
            other = uid_user
        elif thread_user is not None and thread_user != receiver:
            other = thread_user
        else:
            other = None
        self._lane(receiver, d, other or owner or receiver)
        counted = False
        if other is not None:
            self.matrix[(other, receiver)] += 1
            if request is not None and request.user == other:
                request.leaked = True
            self._cross_user_event(request, d, other, uid_user, thread_user)
            if request is None or request.user != receiver:
                return
            counted = True  # the receiver's own run, stamped with another's ids: its lifecycle goes on
        if request is not None and foreign:
            # Bound to another user's request only by the content marker it carries: its ids
            # look like the receiver's, so SPEC calls it a content leak.
            assert owner is not None
            self.matrix[(owner, receiver)] += 1
            request.leaked = True
            self._content_leak(request, request.marker, d, via_run=True)
            return
        if request is not None and event.run_id is not None:
            request.evident.add(event.run_id)  # the owner received its run: its ids are evidence now
        if not counted:
            self.matrix[(receiver, receiver)] += 1
        for marker, req in d.markers if not counted else ():
            marked = self.requests.get(req)
            if marked is not None and marked.user != receiver:
                self._content_leak(marked, marker, d)
                counted = True  # still the receiver's own event: its lifecycle goes on
                break
        if event.user_id is not None and uid_user is None and not counted and receiver in self.identity:
            if not self._same_identity(event.user_id, self.identity[receiver]):
                counted = True
                self._found(
                    AnomalyKind.IDENTITY_MISMATCH,
                    (d.line,),
                    d.t,
                    Explanation(
                        (("E", describe_recv(event.type, receiver, d.conn, d.t, d.line)),),
                        f"E is stamped user_id {event.user_id!r}, which is nobody's in this run,\n"
                        f"while {receiver} logged in as {self.identity[receiver]}.",
                    ),
                    user=receiver,
                    run=event.run_id,
                    conn=d.conn,
                    evidence=((d.line, d.frame),),
                )
        if request is None:
            if not counted:
                self._found(
                    AnomalyKind.PHANTOM_EVENT,
                    (d.line,),
                    d.t,
                    Explanation(
                        (("E", describe_recv(event.type, receiver, d.conn, d.t, d.line)),),
                        f"E (run_id {event.run_id}) belongs to no request sent in this run:\n"
                        f"no request of {receiver} was waiting for an answer when it arrived.",
                    ),
                    user=receiver,
                    run=event.run_id,
                    conn=d.conn,
                    evidence=((d.line, d.frame),),
                )
            return
        if event.kind is EventKind.RUN_OTHER:
            return
        seen = request.seen.get(event.dedup)
        if seen is not None and (event.retry or seen[2] == event.stamp):
            if seen[0] == d.conn and not counted:
                self._found(
                    AnomalyKind.DUPLICATE_EVENT,
                    (seen[1], d.line),
                    d.t,
                    Explanation(
                        (
                            ("E1", describe_recv(event.type, receiver, d.conn, seen[3], seen[1])),
                            ("E2", describe_recv(event.type, receiver, d.conn, d.t, d.line)),
                        ),
                        "E2 repeats E1 field for field (a retry's attempt counter and time stamp aside):\n"
                        "the same event was delivered twice.",
                    ),
                    user=receiver,
                    owner=request.user,
                    run=event.run_id,
                    conn=d.conn,
                    req=request.req,
                    engine=request.engine,
                    evidence=((d.line, d.frame),),
                )
            return
        request.seen[event.dedup] = (d.conn, d.line, event.stamp, d.t)
        was_final = request.life.final
        for judgement in request.life.observe(event, d.line, d.t, counted):
            self._found(
                judgement.kind,
                judgement.witness + ((request.line,) if judgement.kind is AnomalyKind.MIXED_ENGINE_RUN else ()),
                d.t,
                Explanation(
                    (
                        ("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),
                        ("E", describe_recv(event.type, receiver, d.conn, d.t, d.line)),
                    ),
                    f"E belongs to R (run_id {event.run_id or 'absent'}), and {judgement.why}.",
                ),
                user=receiver,
                owner=request.user,
                run=event.run_id,
                conn=d.conn,
                req=request.req,
                engine=request.engine,
                evidence=((d.line, d.frame),),
            )
        if not was_final and request.life.final and request.outcome is None:
            self._finish_request(request, d.t)

    def _content_leak(self, marked: Request, marker: Marker | None, d: Delivery, via_run: bool = False) -> None:
        event = d.event
        carries = (
            f"E belongs to run {event.run_id}, whose frames carry marker {marker} minted for R"
            if via_run
            else f"E carries marker {marker}, minted for R"
        )
        self._found(
            AnomalyKind.CROSS_USER_CONTENT,
            (marked.line, d.line),
            d.t,
            Explanation(
                (
                    ("R", describe_send(marked.verb, marked.user, marked.conn, marked.t, marked.line)),
                    ("E", describe_recv(event.type, d.user, d.conn, d.t, d.line)),
                ),
                f"{carries}, although its ids look like {d.user}'s or are absent:\n"
                f"{marked.user}'s content reached {d.user}.",
            ),
            user=d.user,
            owner=marked.user,
            run=event.run_id,
            conn=d.conn,
            req=marked.req,
            engine=marked.engine,
            evidence=((marked.line, marked.frame), (d.line, d.frame)),
        )

    def _cross_user_event(
        self,
        request: Request | None,
        d: Delivery,
        other: UserName,
        uid_user: UserName | None,
        thread_user: UserName | None,
    ) -> None:
        event = d.event
        reasons: list[str] = []
        if request is not None and request.user == other:
            how = "by its content marker" if request.marker and any(
                r == request.req for _, r in d.markers
            ) else "as the run answering R"
            reasons.append(f"run_id {event.run_id or '(absent)'}, bound to R {how}")
        if uid_user == other:
            reasons.append(f"user_id {event.user_id} ({other}'s identity)")
        if thread_user == other:
            reasons.append(f"thread_id {event.thread_id} ({other}'s thread)")
        let = [("E", describe_recv(event.type, d.user, d.conn, d.t, d.line))]
        witness: tuple[int, ...] = (d.line,)
        evidence: tuple[tuple[int, Any], ...] = ((d.line, d.frame),)
        if request is not None and request.user == other:
            let.insert(0, ("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)))
            witness = (request.line, d.line)
            evidence = ((request.line, request.frame), (d.line, d.frame))
        self._found(
            AnomalyKind.CROSS_USER_EVENT,
            witness,
            d.t,
            Explanation(
                tuple(let),
                f"E carries {' and '.join(reasons)}, which belong to {other},\n"
                f"but it was delivered to {d.user}: a cross-user leak.",
            ),
            user=d.user,
            owner=other,
            run=event.run_id,
            conn=d.conn,
            req=request.req if request is not None and request.user == other else None,
            engine=request.engine if request is not None else None,
            evidence=evidence,
        )

    def _same_identity(self, shown: str, identity: str) -> bool:
        if shown == identity:
            return True
        suffix = self.profile.short_id_suffix
        if suffix and shown.endswith(suffix):
            prefix = shown[: -len(suffix)]
            return bool(prefix) and identity.startswith(prefix)
        return False

    def _welcome(self, conn: Conn, event: Event, record: Recv) -> None:
        if event.mode and conn.engine is None:
            conn.engine = event.mode
        if conn.welcomed or event.user_id is None:
            return
        conn.welcomed = True
        identity = self.identity.get(conn.user)
        if identity is None:
            return
        shown = event.user_id
        collapsed = self.welcome_ids.get(shown) if not shown.endswith(self.profile.short_id_suffix) else None
        if self._same_identity(shown, identity) and (collapsed is None or collapsed == conn.user):
            if collapsed is None and not shown.endswith(self.profile.short_id_suffix):
                self.welcome_ids[shown] = conn.user
            return
        why = (
            f"the welcome on {conn.conn} names user_id {shown!r}, but {conn.user} logged in as {identity}"
            if not self._same_identity(shown, identity)
            else f"the welcome names {shown!r}, the identity the server already gave {collapsed}"
        )
        self._found(
            AnomalyKind.IDENTITY_MISMATCH,
            (record.line,),
            record.t,
            Explanation(
                (("W", describe_recv(event.type, conn.user, conn.conn, record.t, record.line)),),
                why + ":\nthe server's idea of this connection's user is not the user who logged in.",
            ),
            user=conn.user,
            owner=collapsed,
            conn=conn.conn,
            evidence=((record.line, record.frame),),
        )

    def _expected_error(self, conn: Conn, record: Recv) -> bool:
        """An error frame is the right answer to a probe: a refused connection, a refused request."""
        if conn.refusal_probe is not None:
            return True
        for request in conn.requests:
            if request.probe is not None:
                self._settle(request, Outcome.OK, record.t)  # refused, as a probe hopes
                return True
        return False

    def _probe_accepted(self, conn: Conn, event: Event, record: Recv) -> None:
        probe = conn.refusal_probe
        conn.refusal_probe = None  # one finding per connection
        self._found(
            AnomalyKind.PROBE_VIOLATION,
            (conn.probe_line, record.line),
            record.t,
            Explanation(
                (
                    ("P", f"the {probe} probe's connection {conn.conn} of {conn.user} "
                          f"(history line {conn.probe_line})"),
                    ("E", describe_recv(event.type, conn.user, conn.conn, record.t, record.line)),
                ),
                f"the {probe} probe expects the server to refuse P (an error, a close),\n"
                "but the server served it: E arrived on it.",
            ),
            user=conn.user,
            owner=conn.user,
            conn=conn.conn,
            evidence=((record.line, record.frame),),
        )

    def _protocol(self, record: Recv, reason: str) -> None:
        shown = record.frame if record.frame is not None else record.raw
        self._found(
            AnomalyKind.PROTOCOL_ERROR,
            (record.line,),
            record.t,
            Explanation(
                (("F", f"a frame received by {record.user} on {record.conn} at {record.t:.3f} s "
                       f"(history line {record.line})"),),
                f"{reason}; a client cannot tell whose event it is.",
            ),
            user=record.user,
            conn=record.conn,
            evidence=((record.line, shown),),
        )

    # ---- request outcomes ------------------------------------------------------------------

    def _finish_request(self, request: Request, t: float) -> None:
        life = request.life
        if life.failed:
            self._settle(request, Outcome.FAILED, t)
            return
        self._settle(request, Outcome.OK, t)
        for phase, kind in (
            ("agent_started", EventKind.STARTED),
            ("agent_thinking", EventKind.THINKING),
            ("agent_completed", EventKind.COMPLETED),
        ):
            seen = life.first_seen.get(kind) if kind is not EventKind.COMPLETED else t
            if seen is None:
                continue
            seconds = max(0.0, seen - request.t)
            self.latency.setdefault(phase, Histogram()).add(seconds)
            self.series.add((round(request.t, 3), phase, round(seconds, 6)))
            if phase == "agent_completed":
                self.engine_latency.setdefault(request.engine, Histogram()).add(seconds)
        self.scripts.remember(request.key, request.engine, tuple(request.life.sequence), request)

    def _judge_gaps(self, request: Request) -> None:
        """A finished run's missing events, judged once late events had their chance to arrive
        (a late one is event_after_completion only, not also a gap)."""
        life = request.life
        gap = life.missing()
        if gap is None or request.leaked or request.gaps_judged:
            return
        request.gaps_judged = True
        what, witness = gap
        self._found(
            AnomalyKind.INCOMPLETE_RUN,
            (request.line,) + witness,
            request.final_t or request.t,
            Explanation(
                (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
                f"R's run finished (history line {life.final_line}) without {what}.",
            ),
            user=request.user,
            owner=request.user,
            conn=request.conn,
            req=request.req,
            engine=request.engine,
            run=request.runs[0] if request.runs else None,
        )

    def _drop(self, request: Request, t: float) -> None:
        if request.probe is not None:
            self._settle(request, Outcome.UNKNOWN, t, reason=f"the server ignored the {request.probe} probe")
            return
        if not request.leaked:
            self._found(
                AnomalyKind.DROPPED_RESPONSE,
                (request.line,),
                request.deadline_at,
                Explanation(
                    (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
                    f"R had no final event by its deadline ({self.config.deadline:g} s, at "
                    f"{request.deadline_at:.3f} s) nor by the end of the drain,\n"
                    f"while {request.conn} stayed open.",
                ),
                user=request.user,
                owner=request.user,
                conn=request.conn,
                req=request.req,
                engine=request.engine,
                run=request.runs[0] if request.runs else None,
            )
        self._settle(request, Outcome.FAILED, t, dropped=not request.leaked)

    def _settle(
        self, request: Request, outcome: Outcome, t: float, reason: str | None = None, dropped: bool = False
    ) -> None:
        if request.outcome is not None:
            return
        request.outcome = outcome
        request.final_t = t
        conn = self.conns.get(request.conn)
        if conn is not None and request in conn.requests:
            conn.requests.remove(request)
        self.in_flight -= 1
        self.overlap.stop(request.user)
        self.tally.outcome(request.engine, outcome, dropped, request.req, request.user, reason)
        self.finished.append(request)

    # ---- bounded memory --------------------------------------------------------------------

    def _maintain(self, now: float) -> None:
        self._decide_all([run for run, trace in self.traces.items() if trace.first_t + self.config.deadline <= now])
        # Finished requests keep their full state a little while (late duplicates are retries
        # seconds apart), then only what ties their runs to them, then nothing.
        while self.finished and (self.finished[0].final_t or 0.0) < now - self.config.retention:
            old = self.finished.popleft()
            self._judge_gaps(old)
            old.seen = {}
            old.frame = None
            old.life.sequence = []
            self.stripped.append(old)
        horizon = now - self.config.tomb_retention
        while self.stripped and (self.stripped[0].final_t or 0.0) < horizon:
            self._forget(self.stripped.popleft())

    def _forget(self, request: Request) -> None:
        """After this, an event of the request's runs is a phantom: it came far too late."""
        self.requests.pop(request.req, None)
        for run in request.runs:
            self.run_owner.pop(run, None)
        if request.marker is not None:
            self.markers.discard(request.marker)
        conn = self.conns.get(request.conn)
        if conn is not None and conn.last is request:
            conn.last = None

    def _lane(self, receiver: UserName, d: Delivery, owner: UserName) -> None:
        lane = self.lanes.get(receiver)
        if lane is None:
            lane = self.lanes[receiver] = deque(maxlen=SWIMLANE_DEPTH)
        entry = (round(d.t, 3), d.event.type, owner, d.event.run_id or "", d.line)
        lane.append(entry)
        kept = self.lane_users.get(receiver)
        if kept is not None and len(kept) < 2 * SWIMLANE_DEPTH:
            kept.append(entry)  # the events that follow a finding stay beside it

    # ---- findings --------------------------------------------------------------------------

    def _found(
        self,
        kind: AnomalyKind,
        witness: tuple[int, ...],
        t: float,
        explanation: Explanation,
        *,
        user: UserName | None = None,
        owner: UserName | None = None,
        run: RunId | None = None,
        conn: ConnId | None = None,
        req: ReqId | None = None,
        engine: str | None = None,
        evidence: tuple[tuple[int, Any], ...] = (),
    ) -> None:
        keep = self.tally.count(kind)
        if not keep:
            return
        self.tally.keep(
            Finding(kind, tuple(sorted(set(witness))), explanation, t, user, owner, run, conn, req, engine,
                    evidence=evidence)
        )
        for who in (user, owner):
            if who is not None and who not in self.lane_users and len(self.lane_users) < SWIMLANE_USERS:
                self.lane_users[who] = list(self.lanes.get(who, ()))

    # ---- the end ---------------------------------------------------------------------------

    def finish(self) -> Verdict:
        self._decide_all(list(self.traces))
        end_t = self.end.t if self.end is not None else self.last_t
        if self.end is None:
            self.tally.broken(
                "the history has no end record: the run did not finish cleanly, so requests still in "
                "flight are unknown rather than dropped"
            )
        for request in [r for c in self.conns.values() for r in c.requests]:
            if self.end is not None and request.deadline_at <= end_t:
                self._drop(request, end_t)
            else:
                reason = "in flight at the end of the run, before its deadline"
                if self.end is None:
                    reason = "in flight when the history stopped (no end record)"
                self._settle(request, Outcome.UNKNOWN, end_t, reason=reason)
        for request in self.finished:
            self._judge_gaps(request)
        self._divergence()
        for user, kept in self.lane_users.items():
            # What led up to the first finding, what followed it, and how the run ended.
            merged = {entry[4]: entry for entry in kept}
            merged.update((entry[4], entry) for entry in self.lanes.get(UserName(user), ()))
            self.lane_users[user] = sorted(merged.values())
        pairs, exact = self.overlap.pairs()
        return build_verdict(
            self.tally,
            users=len(set(self.identity) | {c.user for c in self.conns.values()}),
            overlapping_pairs=pairs,
            pairs_exact=exact,
            latency={phase: h.summary() for phase, h in self.latency.items()},
            engine_latency={engine: h.summary() for engine, h in self.engine_latency.items()},
            series=self.series.points,
            matrix=self.matrix,
            swimlanes=self.lane_users,
            groups=self._engine_groups(),
            end_t=end_t,
            drain=self.end.drain if self.end is not None else None,
            meta={
                "scenario": self.meta.scenario if self.meta else None,
                "started_at": self.meta.started_at if self.meta else None,
                "profile": self.profile.name,
            },
        )

    def _engine_groups(self) -> dict[str, list[str]]:
        """Users by the engine path of their first connection, for grouping large matrices."""
        groups: dict[str, list[str]] = {}
        seen: set[str] = set()
        for conn in self.conns.values():
            if conn.user not in seen:
                seen.add(conn.user)
                groups.setdefault(conn.engine or "default", []).append(conn.user)
        return {engine: sorted(users) for engine, users in sorted(groups.items())}

    def _divergence(self) -> None:
        for found in self.scripts.divergences():
            req_a, req_b = found.a.request, found.b.request
            label_a, line_a = found.at(found.a)
            label_b, line_b = found.at(found.b)
            self._found(
                AnomalyKind.ENGINE_DIVERGENCE,
                (req_a.line, req_b.line, line_a or req_a.line, line_b or req_b.line),
                max(req_a.final_t or 0.0, req_b.final_t or 0.0),
                Explanation(
                    (
                        ("A", describe_send(req_a.verb, req_a.user, req_a.conn, req_a.t, req_a.line)
                         + f" on engine path {found.engine_a}"),
                        ("B", describe_send(req_b.verb, req_b.user, req_b.conn, req_b.t, req_b.line)
                         + f" on engine path {found.engine_b}"),
                    ),
                    "A and B are the same scripted request, and each path answers it the same way every time,\n"
                    f"but the event sequences differ at event {found.index + 1}: {found.engine_a} sent {label_a} "
                    f"(line {line_a}), {found.engine_b} sent {label_b} (line {line_b}).",
                ),
                user=req_b.user,
                owner=req_a.user,
                req=req_b.req,
                engine=f"{found.engine_a} vs {found.engine_b}",
            )
