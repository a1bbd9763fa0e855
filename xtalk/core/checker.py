"""The checker: history records in, one at a time; a verdict out.

``Checker.feed(record)`` consumes records in history order (live inside a Locust worker, or
offline over a file) and ``finish()`` returns the ``Verdict``. No I/O, no clock: time arrives on
the records, and the run's end is the ``end`` record. The same records give the same verdict.
``feed_decoded(obj, line, text)`` is ``feed(parse_record(obj, line, text))`` for a decoded
history line, without building the record for a well-formed ``recv`` (most of any history).

This module only composes the stages, each of which owns its tables and returns values:

 received frame ─► ``normalise`` (events, each with its own ids; markers of its own content)
   ─► ``frames.classify`` (an answer, a refusal, a protocol error, a probe violation, or an event)
   ─► ``runs`` (which request its run answers, on the run's whole evidence: a ``Binding``)
   ─► ``attribution.attribute`` (whose event it is and what it proves: a ``Decision``)
   ─► ``duplicates`` and ``lifecycle`` of its request (fed only its own user's events: ``Judgement``s)
   ─► ``outcomes`` (how requests end: ``Ending``s) ─► ``findings`` (counted, kept, incidents)
   ─► ``verdict.decide`` (pure) ─► ``verdict_json`` (the writer)

``xtalk.core.anomaly.DECIDED_BY`` names the one function that decides each kind. Every second of
history time, runs whose deadline passed undecided are decided and old requests are stripped and
forgotten, so memory is bounded by the requests in flight and recently finished.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from xtalk.core.anomaly import ANOMALY_KINDS, AnomalyKind, Explanation, Finding
from xtalk.core.attribution import OWN, attribute
from xtalk.core.chains import Chains
from xtalk.core.config import TIME_JITTER, CheckConfig
from xtalk.core.delivery import Delivery
from xtalk.core.duplicates import duplicate_finding
from xtalk.core.explain import describe_recv, describe_send
from xtalk.core.findings import FindingBook
from xtalk.core.frames import Frame, classify, probe_violation, protocol_error
from xtalk.core.identity import Identities, Source
from xtalk.core.ids import ConnId, Marker, ReqId, RunId, UserName
from xtalk.core.lifecycle import Judgement, Lifecycle
from xtalk.core.markers import MarkerIndex
from xtalk.core.normalise import Event, Normaliser, Problem
from xtalk.core.outcomes import Ending, answered, at_end, finished, gaps, on_close
from xtalk.core.profile import EventKind
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
    parse_record,
)
from xtalk.core.requests import Conn, Ledger, Outcome, Request
from xtalk.core.runs import Binding, Evidence, Ready, Runs
from xtalk.core.stats import RunStats, divergence_findings
from xtalk.core.verdict import CONNECT_PHASES, Counts, Verdict, decide, freeze, thresholds

__all__ = ["CheckConfig", "Checker"]  # the documented API: from xtalk.core.checker import Checker, CheckConfig


_NOISE = EventKind.NOISE
_SERVER_ERROR = EventKind.SERVER_ERROR
_WELCOME = EventKind.WELCOME
_RUN_OTHER = EventKind.RUN_OTHER
_COMPLETED = EventKind.COMPLETED
_STARTED = EventKind.STARTED
_FAILED = EventKind.FAILED
_NOTHING: list[tuple[Marker, Request]] = []  # no markers (never appended to)


def _at(place: tuple[str, int] | None) -> list[Any] | None:
    return list(place) if place is not None else None


@dataclass(frozen=True, slots=True)
class Progress:
    t: float
    counts: dict[str, int]
    sent: int
    completed: int
    failed: int
    unknown: int
    in_flight: int
    events: int
    connections: int
    users: int
    broken: int


class Checker:
    """``Checker(config)``; ``feed`` (or ``feed_decoded``) every record in order; ``finish()``."""

    def __init__(self, config: CheckConfig) -> None:
        self.config = config
        profile = self.profile = config.profile
        self.normalise = Normaliser(profile, reference=config.reference)
        self.markers = MarkerIndex()
        self.early = not config.reference  # attribution's fast path
        self.chains = Chains()
        self.identities = Identities(profile.short_id_suffix)
        self.ledger = Ledger(profile, config.deadline, config.reference)
        self.runs = Runs(self.ledger, self.identities)
        self.book = FindingBook(config.findings_cap, config.notify)
        self.stats = RunStats(config.unknowns_cap, config.script_limit)
        self.last_t = 0.0
        self.next_maintenance = 0.0
        self.end: End | None = None
        self.meta: Meta | None = None
        self.refusals = 0
        # Markers of other users' requests that a user's own request text carried (the user
        # pasted them): hearing them back is that user's own content, not another's reaching it.
        self.quoted: dict[UserName, set[Marker]] = {}

    # ---- feeding -------------------------------------------------------------------------

    def feed(self, record: Record) -> None:
        t = getattr(record, "t", None)
        if t is not None:
            self._clock(t, record.line)
        if self.end is not None and not isinstance(record, Meta):
            if not isinstance(record, Close):  # connections closing after the end are harmless
                self.stats.broken(f"history line {record.line} comes after the end record")
            return
        if isinstance(record, Recv):
            self._recv(record)
        elif isinstance(record, Send):
            self._send(record)
        elif isinstance(record, Open):
            self.ledger.open(record)
        elif isinstance(record, Close):
            self._close(record)
        elif isinstance(record, Login):
            self._found(self.identities.login(record.user, record.identity, record.t, record.line))
        elif isinstance(record, End):
            self.end = record
        elif isinstance(record, Meta):
            if self.meta is None:
                self.meta = record
            if record.schema and record.schema != "xtalk.history/1":
                self.stats.broken(f"history line {record.line} has schema {record.schema!r}, not xtalk.history/1")
        elif isinstance(record, ClientError):
            self.stats.client_errors[record.phase] += 1
        elif isinstance(record, Malformed):
            self.stats.broken(f"history line {record.line}: {record.reason}")

    def feed_decoded(self, obj: Any, line: int, text: str | bytes) -> None:
        """The record in one decoded history line (``text``: the line, for content markers).
        Exactly ``feed(parse_record(obj, line, text))``; a well-formed ``recv`` with a JSON frame
        skips building the record. ``obj`` must be ``text`` decoded: when ``text`` is bytes, a
        delivery keeps the line instead of its frame and decodes it again for a finding's frames."""
        if obj.__class__ is dict and obj.get("kind") == "recv":
            t, user, conn, frame = obj.get("t"), obj.get("user"), obj.get("conn"), obj.get("frame")
            if t.__class__ is float and user.__class__ is str and conn.__class__ is str and frame is not None:
                if t < self.next_maintenance and t >= self.last_t - TIME_JITTER:  # ``_clock``'s common case
                    if t > self.last_t:
                        self.last_t = t
                else:
                    self._clock(t, line)
                if self.end is not None:
                    self.stats.broken(f"history line {line} comes after the end record")
                    return
                # The delivery keeps the line, not the frame, when the frame is the line's own.
                self._recv_frame(user, conn, t, line, frame, text, None,  # type: ignore[arg-type]
                                 text if text.__class__ is bytes else frame)
                return
        self.feed(parse_record(obj, line, text if isinstance(text, str) else text.decode("utf-8", "replace")))

    def progress(self) -> Progress:
        """The run so far, for live views (never ends the checker, unlike ``finish``)."""
        stats = self.stats
        return Progress(
            t=self.last_t,
            counts={kind: n for kind, n in self.book.counts.items() if n},
            sent=stats.sent, completed=stats.completed, failed=stats.failed, unknown=stats.unknown,
            in_flight=self.ledger.in_flight, events=stats.events, connections=self.ledger.connections,
            users=len(self.identities.identity), broken=stats.broken_count,
        )

    def kept(self) -> dict[str, list[Finding]]:
        """The findings kept in full so far, per kind (each list grows in place, oldest first)."""
        return self.book.kept

    def drain_findings(self) -> list[Finding]:
        """Every finding since the last call (only with ``CheckConfig(notify=True)``, for live
        checking: the Locust user reports each to Locust as a failure of its request's phase)."""
        return self.book.drain()

    def _clock(self, t: float, line: int) -> None:
        """Time arrives on the records: note it, and maintain once per second of it."""
        if t < self.last_t - TIME_JITTER:
            self.stats.broken(f"time goes backwards at history line {line} ({t:.3f} s after {self.last_t:.3f} s)")
        if t > self.last_t:
            self.last_t = t
        if t >= self.next_maintenance:
            self._maintain(t)
            self.next_maintenance = t + 1.0

    def _maintain(self, now: float) -> None:
        """Decide the runs whose deadline passed undecided; strip and forget old requests."""
        config = self.config
        self._judge_ready(self.runs.due(now, config.deadline))
        ripe = self.ledger.ripe(now, config.retention)
        for request in ripe:
            self._judge_gaps(request)
        self.ledger.strip(ripe)
        for request in self.ledger.forget(now, config.tomb_retention):
            self.runs.forget(request)
            self.chains.forget(request.req)
            if request.marker is not None:
                self.markers.discard(request.marker)

    # ---- records ---------------------------------------------------------------------------

    def _send(self, record: Send) -> None:
        request = self.ledger.send(record)
        if request is None:
            return
        if len(self.markers) and record.frame is not None:
            self._note_quoted(request)
        if record.marker is not None:
            self.markers.add(record.marker, record.req)  # type: ignore[arg-type]
        echo = self.ledger.echo_id(request)
        if echo is not None:
            self.chains.sent(echo, request.req)
        self.stats.sent_request(request, self.ledger.in_flight)

    def _note_quoted(self, request: Request) -> None:
        """The markers of other users' requests in a request's own frame (SPEC: a marker is
        evidence of *another user's content reaching* the receiver; text the receiver sent is not)."""
        try:
            sent = orjson.dumps(request.frame)
        except TypeError:
            return
        requests = self.ledger.requests
        for marker, req in self.markers.scan(sent):
            other = requests.get(req)
            if other is not None and other.user != request.user:
                self.quoted.setdefault(request.user, set()).add(marker)

    def _close(self, record: Close) -> None:
        conn = self.ledger.conn(record.conn, record.user, record.line)
        self._judge_ready(self.runs.closing(conn.conn))
        conn.closed_by = record.by
        if not conn.requests:
            return
        endings, lost = on_close(list(conn.requests), record, self.config.deadline, conn.refused)
        for ending in endings:
            self._end(ending)
        if lost is not None:
            self._found(lost, lost.engine)

    def _recv(self, record: Recv) -> None:
        if record.frame is None:
            self.ledger.conn(record.conn, record.user, record.line)
            self._found(protocol_error(record.user, record.conn, record.t, record.line, record.raw,
                                       "the server sent text that is not JSON"))
            return
        self._recv_frame(record.user, record.conn, record.t, record.line, record.frame, record.text, record, record.frame)

    def _recv_frame(
        self, user: UserName, conn_id: ConnId, t: float, line: int, frame: Any, text: str | bytes, record: Recv | None,
        source: Any,
    ) -> None:
        """``source``: what a delivery keeps to show the frame (the frame, or the bytes line it was
        decoded from)."""
        conn = self.ledger.conns.get(conn_id)
        if conn is None:
            conn = self.ledger.conn(conn_id, user, line)
        events = self.normalise(frame)
        if events.__class__ is not list:
            assert isinstance(events, Problem)
            self._found(protocol_error(user, conn_id, t, line, frame, events.reason), conn.engine)
            return
        line_markers: tuple[tuple[Marker, ReqId], ...] | None = None
        stats = self.stats
        for event in events:
            kind = event.kind
            if kind is _NOISE:
                continue
            if kind is _SERVER_ERROR or conn.refusal_probe is not None:
                if not self._screen(conn, event, kind, t, line, frame):
                    continue
            if kind is _WELCOME:
                self._welcome(conn, event, t, line, frame)
                continue
            if event.item is not None:  # a batched event: its markers are its own, not the frame's
                markers = self.markers.scan(orjson.dumps(event.item)) if len(self.markers) else ()
            else:
                if line_markers is None:
                    line_markers = self.markers.scan(text)
                markers = line_markers
            if markers and self.quoted:
                own_text = self.quoted.get(user)
                if own_text is not None:
                    markers = tuple(m for m in markers if m[0] not in own_text)
            stats.events += 1
            self._deliver(conn, Delivery(event, user, conn_id, t, line, source, markers))

    def _screen(self, conn: Conn, event: Event, kind: EventKind, t: float, line: int, frame: Any) -> bool:
        """Error frames and probe connections (``frames.classify``); True: go on as an event."""
        own = event.item if event.item is not None else frame
        refusal = kind is _SERVER_ERROR and bool(self.profile.refusal) and all(
            c.holds(own) for c in self.profile.refusal
        )
        verdict = classify(conn, kind, refusal)
        if verdict is Frame.PROBE_VIOLATION:
            self._found(probe_violation(conn, event.type, t, line, frame), conn.engine)
            conn.refusal_probe = None  # one finding per connection
            return True
        if verdict is Frame.EVENT:
            return True
        if verdict is Frame.PROBE_REQUEST_ANSWER:
            for request in list(conn.requests):
                if request.probe is not None:
                    self._end(Ending(request, Outcome.OK, t))  # refused, as the probe hopes
                    break
        elif verdict is Frame.REFUSAL:
            conn.refused = True
            self.refusals += 1
        elif verdict is Frame.PROTOCOL_ERROR:
            self._found(protocol_error(conn.user, conn.conn, t, line, frame, "the server sent an error frame"),
                        conn.engine)
        return False

    def _welcome(self, conn: Conn, event: Event, t: float, line: int, frame: Any) -> None:
        if event.mode and conn.engine is None:
            conn.engine = event.mode
        # Every welcome that shows a new id is judged (a later one may re-point the session at
        # another user: SPEC "the server's idea of a connection's user"), once per connection.
        if conn.welcomed or event.user_id is None or event.user_id == conn.welcome_id:
            return
        conn.welcome_id = event.user_id
        finding = self.identities.welcome(conn.user, conn.conn, event.user_id, event.type, t, line, frame)
        if finding is not None:
            conn.welcomed = True  # one identity finding per connection's welcomes
            self._found(finding, conn.engine)

    # ---- deliveries ------------------------------------------------------------------------

    def _deliver(self, conn: Conn, d: Delivery) -> None:
        event = d.event
        run = event.run_id
        echo: Request | None = None
        if run is None and self.chains and (event.step is not None or event.parent is not None):
            req = self.chains.resolve(event.step, event.parent)
            echo = self.ledger.requests.get(req) if req is not None else None
            if echo is not None:
                run = event.run_id = RunId(self.ledger.echo_id(echo) or echo.req)
        if run is not None:
            binding = self.runs.bound.get(run)
            if binding is not None:  # a decided run (most events): judged at once
                self._judge(d, binding)
            else:
                self._judge_ready(self.runs.add(conn, d, echo))
            return
        self._loose(conn, d)

    def _loose(self, conn: Conn, d: Delivery) -> None:
        """An event without a run id (SPEC "foreign events never advance the receiver's run"):
        one whose user id, thread or marker names another user is that user's event delivered
        here, judged on its own; one that names nobody else belongs to the run in progress on its
        connection, else to the request in flight there."""
        event = d.event
        receiver = d.user
        marked = self._marked(d)
        own = next((r for _, r in marked if r.user == receiver), None)
        if own is not None:
            ready = self.runs.join(conn, d, own)  # the run answering it is still undecided: join it
            if ready is not None:
                self._judge_ready(ready)
            else:
                self._judge(d, Binding(own, Evidence.CONNECTION, owner_received=True))
            return
        uid_user = self.identities.named(event.user_id)
        thread_user = self.ledger.thread_user(event.thread_id)
        other = uid_user if uid_user is not None and uid_user != receiver else None
        if other is None and thread_user is not None and thread_user != receiver:
            other = thread_user
        if other is not None:
            target = next((r for _, r in marked if r.user == other), None) or self._in_flight_of(other)
            self._judge(d, Binding(target, Evidence.IDS) if target is not None else None)
            return
        if any(r.user != receiver for _, r in marked):
            self._judge(d, None)  # another user's content, and nothing else: a content leak
            return
        ready = self.runs.join(conn, d)
        if ready is not None:
            self._judge_ready(ready)
            return
        request = self.ledger.by_connection(conn, event.thread_id) or self.ledger.by_user(receiver, event.thread_id)
        if (event.kind is _COMPLETED and request is not None and request.outcome is None and request.run is None
                and isinstance(request.life, Lifecycle) and not request.life.first_seen):
            # A completion for a request none of whose run has arrived cannot be its answer; it
            # is the misc echo of the request just answered here (NETRA: "a second agent_completed").
            request = self.ledger.latest_answered(conn.conn, receiver) or request
        self._judge(d, Binding(request, Evidence.CONNECTION, owner_received=True) if request is not None else None)

    def _in_flight_of(self, user: UserName) -> Request | None:
        for conn in self.ledger.user_conns.get(user, ()):
            if conn.requests:
                return conn.requests[0]
        return None

    def _marked(self, d: Delivery) -> list[tuple[Marker, Request]]:
        if not d.markers:
            return []
        requests = self.ledger.requests
        return [(marker, requests[req]) for marker, req in d.markers if req in requests]

    def _judge_ready(self, ready: Ready) -> None:
        for d, binding in ready:
            self._judge(d, binding)

    def _judge(self, d: Delivery, binding: Binding | None) -> None:
        """One delivery: ``attribute`` decides; this applies the decision."""
        event = d.event
        receiver = d.user
        uid = event.user_id
        uid_user = self.identities.named(uid) if uid else None
        thread = event.thread_id
        thread_user = self.ledger.thread_user(thread) if thread else None
        stranger: str | None = None
        if uid is not None and uid_user is None:
            judged = self.identities.judge(Source.EVENT, receiver, uid)
            stranger = judged[0] if judged is not None else None
        decision = attribute(d, binding, uid_user, thread_user, self._marked(d) if d.markers else _NOTHING, stranger,
                             self.early)
        book = self.book
        request = binding.request if binding is not None else None
        if decision is OWN:
            book.own(d)
            assert request is not None and binding is not None
            if not binding.owner_received:
                self.runs.note_owner_received(binding, d)
            self._advance(request, d, False)
            return
        leaked = decision.leaked
        if leaked is not None:
            leaked.leaked = True
            if event.kind is _COMPLETED or event.kind is _FAILED:
                leaked.answered_elsewhere = True  # its answer went to another user
            elif event.kind is _STARTED and isinstance(leaked.life, Lifecycle):
                leaked.life.started_elsewhere(event)  # an agent of its run started elsewhere
        if decision.finding is not None:
            conn = self.ledger.conns.get(d.conn)
            engine = request.engine if request is not None else (conn.engine or "default") if conn else None
            self._found(decision.finding, engine)
        book.lane(d, decision.owner or receiver)
        book.delivered(d, decision.source or receiver, decision.content)
        if decision.advances and request is not None:
            self._advance(request, d, counted=decision.kind is not None)
        if decision.answers is not None:
            self._end(answered(decision.answers, d.t, event.kind is _FAILED), answered=True)

    def _advance(self, request: Request, d: Delivery, counted: bool) -> None:
        """The receiver's own request: duplicates, then its lifecycle."""
        event = d.event
        if event.kind is _RUN_OTHER:
            return
        repeat = request.seen.repeat(event, d.conn, d.line, d.t)
        if repeat is not None:
            duplicate, (_, earlier_line, _, earlier_t) = repeat
            if duplicate and not counted:
                self._found(duplicate_finding(d, request.user, request.req, request.engine, earlier_line, earlier_t),
                            request.engine)
            return
        life = request.life
        was_final = life.final_line is not None
        judgements = life.observe(event, d.line, d.t, counted)
        if judgements:
            for judgement in judgements:
                self._found(self._judged(request, d, judgement), request.engine)
        if not was_final and life.final_line is not None and request.outcome is None:
            self._end(finished(request, d.t), answered=True)

    def _end(self, ending: Ending, answered: bool = False) -> None:
        request = ending.request
        if not self.ledger.settle(request, ending.outcome, ending.t):
            return
        self.stats.ended(request, ending.outcome, ending.dropped, ending.reason)
        if ending.finding is not None:
            self._found(ending.finding, request.engine)
        if answered and ending.outcome is Outcome.OK:
            self.stats.answered(request, ending.t)

    def _judge_gaps(self, request: Request) -> None:
        gap = gaps(request)
        request.gaps_judged = True
        if gap is not None:
            self._found(gap, request.engine)

    def _found(self, finding: Finding | None, engine: str | None = None) -> None:
        if finding is not None:
            self.book.add(finding, engine)

    @staticmethod
    def _judged(request: Request, d: Delivery, judgement: Judgement) -> Finding:
        event = d.event
        witness = judgement.witness + ((request.line,) if judgement.kind is AnomalyKind.MIXED_ENGINE_RUN else ())
        return Finding(
            judgement.kind,
            tuple(sorted(set(witness))),
            Explanation(
                (
                    ("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),
                    ("E", describe_recv(event.type, d.user, d.conn, d.t, d.line)),
                ),
                f"E belongs to R (run_id {event.run_id or 'absent'}), and {judgement.why}.",
            ),
            d.t,
            user=d.user, owner=request.user, run_id=event.run_id, conn=d.conn, req=request.req,
            engine=request.engine, evidence=((d.line, d.frame),),
        )

    # ---- the end ---------------------------------------------------------------------------

    def finish(self) -> Verdict:
        self._judge_ready(self.runs.decide_all())
        end_t = self.end.t if self.end is not None else self.last_t
        if self.end is None:
            self.stats.broken(
                "the history has no end record: the run did not finish cleanly, so requests still in "
                "flight are unknown rather than dropped"
            )
        for ending in at_end(self.ledger.unfinished(), end_t, self.end is not None, self.config.deadline):
            self._end(ending)
        for request in self.ledger.finished:
            if not request.gaps_judged:
                self._judge_gaps(request)
        for finding, engine in divergence_findings(self.stats.scripts):
            self._found(finding, engine)
        return self._verdict(end_t)

    def _verdict(self, end_t: float) -> Verdict:
        config, stats, book = self.config, self.stats, self.book
        latency = {phase: h.summary() for phase, h in stats.latency.items()}
        judged = stats.sent - stats.unknown
        completion = stats.completed / judged if judged > 0 else None
        connect_errors = sum(n for phase, n in stats.client_errors.items() if phase in CONNECT_PHASES)
        attempts = self.ledger.connections + connect_errors
        connection_error_ratio = connect_errors / attempts if attempts else None
        pairs, exact = stats.overlap.pairs()
        counts = Counts(
            anomalies={kind: book.counts.get(kind, 0) for kind in ANOMALY_KINDS},
            limits={kind: config.limit(kind) for kind in ANOMALY_KINDS},
            sent=stats.sent, completed=stats.completed, failed=stats.failed, unknown=stats.unknown,
            dropped=stats.dropped, overlapping_pairs=pairs, broken=tuple(stats.broken_reasons),
            broken_count=stats.broken_count,
            interrupted=config.interrupted or (self.end.interrupted if self.end is not None else None),
        )
        checked = thresholds(config, latency, completion, connection_error_ratio)
        decision, reasons, inconclusive = decide(counts, checked)
        kept = sorted((f for kind in ANOMALY_KINDS for f in book.kept.get(kind, [])), key=lambda f: (f.t, f.witness))
        locate = config.locate
        if locate is not None:  # shards merged by time: say where each witness line lives
            kept = [replace(f, witness_at=tuple(locate(line) for line in f.witness)) for f in kept]
        users = len(self.identities.users() | {c.user for c in self.ledger.conns.values()})
        matrix = book.full_matrix()
        meta = self.meta
        run_meta = {
            "scenario": meta.scenario if meta else None,
            "started_at": meta.started_at if meta else None,
            "profile": self.profile.name,
        }
        incidents = book.shown_incidents()
        details = {
            "users": users,
            "events": stats.events,
            "coverage": {
                "users": users,
                "connections": self.ledger.connections,
                "overlapping_user_pairs": pairs,
                "overlapping_user_pairs_exact": exact,
                "max_concurrent_requests": stats.max_in_flight,
                "engines": sorted(stats.engines),
                "completion_ratio": None if completion is None else round(completion, 4),
                "connection_error_ratio": None if connection_error_ratio is None else round(connection_error_ratio, 4),
                "refused_connections": self.refusals,
            },
            "client_errors": dict(stats.client_errors),
            "broken_assumptions": list(stats.broken_reasons),
            "matrix": {
                "users": sorted({u for pair in matrix for u in pair}),
                "cells": [[owner, receiver, n] for (owner, receiver), n in sorted(matrix.items())],
                "content": [[owner, receiver, n] for (owner, receiver), n in sorted(book.content.items())],
                "groups": self._engine_groups(),
            },
            "latency": {"phases": latency, "series": [list(p) for p in stats.series.points]},
            "engines": {
                name: {
                    "requests": e.requests,
                    "completed": e.completed,
                    "failed": e.failed,
                    "unknown": e.unknown,
                    "anomalies": book.engine_counts.get(name, 0),
                    "p95_completed": stats.engine_latency[name].summary()["p95"] if name in stats.engine_latency else None,
                }
                for name, e in sorted(stats.engines.items())
            },
            "unknowns": list(stats.unknowns),
            "finding_groups": [
                {"kind": kind, "count": n, "shown": len(book.kept.get(kind, []))}
                for kind, n in counts.anomalies.items()
                if n
            ],
            "incidents": [
                {
                    "kind": i.kind.value, "kinds": dict(i.kinds), "owner": i.owner, "receiver": i.receiver,
                    "run_id": i.run_id, "req": i.req, "engine": i.engine, "events": i.events,
                    "t": round(i.t, 3), "first_witness": list(i.first_witness),
                    **({"first_witness_at": [_at(locate(line)) for line in i.first_witness]} if locate else {}),
                }
                for i in incidents
            ],
            "incident_count": len(book.incident_hashes),
            "swimlanes": {user: [list(e) for e in lane] for user, lane in book.swimlanes().items()},
            "run": {
                **{k: v for k, v in run_meta.items() if v is not None},
                **({"interrupted": counts.interrupted} if counts.interrupted is not None else {}),
                **{k: v for k, v in config.run.items() if v is not None},  # the runner's own facts win
                "duration": round(end_t, 3),
                "drain": self.end.drain if self.end is not None else None,
            },
            "recheck": config.recheck,
        }
        return Verdict(decision, reasons, inconclusive, counts, checked, tuple(kept), freeze(details))

    def _engine_groups(self) -> dict[str, list[str]]:
        """Users by the engine path of their first connection, for grouping large matrices."""
        groups: dict[str, list[str]] = {}
        seen: set[str] = set()
        for conn in self.ledger.conns.values():
            if conn.user not in seen:
                seen.add(conn.user)
                groups.setdefault(conn.engine or "default", []).append(conn.user)
        return {engine: sorted(users) for engine, users in sorted(groups.items())}
