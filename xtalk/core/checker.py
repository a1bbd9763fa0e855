"""The checker: history records in, one at a time; a verdict out.

``Checker.feed(record)`` consumes records in history order (live inside a Locust worker, or
offline over a file) and ``finish()`` returns the ``Verdict``. No I/O, no clock: time arrives on
the records, and the run's end is the ``end`` record. The same records give the same verdict.
``feed_decoded(obj, line, text)`` is ``feed(parse_record(obj, line, text))`` for a decoded
history line, without building the record for a well-formed ``recv`` (most of any history).

The checker is composed of parts, one concept each, over shared tables (``xtalk.core.state``):

- this module: connections, logins, requests sent, closes, frames received (normalised by the
  profile, noise and welcomes set aside, content markers found with one pass over the line);
- ``ownership``: which request each run answers, by evidence;
- ``judge``: what one delivery proves, under the first kind that fits;
- ``outcomes``: how requests end, and how long they are remembered after;
- ``findings``: counting and keeping findings, and the swimlanes beside them;
- ``lifecycle``: one request's events against the legal sequence of a run.

Records are judged in order; every ``TIME_JITTER``-tolerant second of history time, runs whose
deadline passed undecided are decided and old requests are stripped and forgotten, so memory is
bounded by the requests in flight and recently finished, not by the history's length.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.explain import describe_send
from xtalk.core.findings import Findings
from xtalk.core.ids import ConnId, Marker, ReqId, UserName
from xtalk.core.judge import Judge
from xtalk.core.normalise import Problem
from xtalk.core.outcomes import Outcomes
from xtalk.core.ownership import Ownership
from xtalk.core.profile import EventKind, first_str
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
from xtalk.core.state import UNBOUND, Conn, Delivery, Request
from xtalk.core.verdict import CheckConfig, Outcome, Verdict, build_verdict

__all__ = ["CheckConfig", "Checker"]  # the documented API: from xtalk.core.checker import Checker, CheckConfig

TIME_JITTER = 0.05  # seconds a record may lag the one before it (clock reads racing the writer)

_NOISE = EventKind.NOISE
_SERVER_ERROR = EventKind.SERVER_ERROR
_WELCOME = EventKind.WELCOME


class Checker(Judge, Ownership, Outcomes, Findings):
    """``Checker(config)``; ``feed`` (or ``feed_decoded``) every record in order; ``finish()``."""

    # ---- feeding -------------------------------------------------------------------------

    def feed(self, record: Record) -> None:
        t = getattr(record, "t", None)
        if t is not None:
            self._clock(t, record.line)
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

    def feed_decoded(self, obj: Any, line: int, text: str | bytes) -> None:
        """The record in one decoded history line (``text``: the line, for content markers).
        Exactly ``feed(parse_record(obj, line, text))``; a well-formed ``recv`` with a JSON frame
        skips building the record."""
        if obj.__class__ is dict and obj.get("kind") == "recv":
            t, user, conn, frame = obj.get("t"), obj.get("user"), obj.get("conn"), obj.get("frame")
            if t.__class__ is float and user.__class__ is str and conn.__class__ is str and frame is not None:
                self._clock(t, line)
                if self.end is not None:
                    self.tally.broken(f"history line {line} comes after the end record")
                    return
                # user and conn are strings (checked above): the ids' types cost nothing at run time
                self._recv_frame(user, conn, t, line, frame, text, None)  # type: ignore[arg-type]
                return
        self.feed(parse_record(obj, line, text if isinstance(text, str) else text.decode("utf-8", "replace")))

    def _clock(self, t: float, line: int) -> None:
        """Time arrives on the records: note it, and maintain once per second of it."""
        if t < self.last_t - TIME_JITTER:
            self.tally.broken(f"time goes backwards at history line {line} ({t:.3f} s after {self.last_t:.3f} s)")
        if t > self.last_t:
            self.last_t = t
        if t >= self.next_maintenance:
            self._maintain(t)
            self.next_maintenance = t + 1.0

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
        conn.probe = record.probe
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
        key: str | None = record.script
        if key is not None:
            pass  # the harness said which requests ask the same thing (a script, a matrix group)
        elif isinstance(frame.get("script"), str):
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
        if record.frame is None:
            self._conn(record.conn, record.user, record.line)
            self._protocol(record, "the server sent text that is not JSON")
            return
        self._recv_frame(record.user, record.conn, record.t, record.line, record.frame, record.text, record)

    def _recv_frame(
        self, user: UserName, conn_id: ConnId, t: float, line: int, frame: Any, text: str | bytes, record: Recv | None
    ) -> None:
        """A received JSON frame; ``record`` is built only when a rare path needs it."""
        conn = self.conns.get(conn_id)
        if conn is None:
            conn = self._conn(conn_id, user, line)
        events = self.normalise(frame)
        if isinstance(events, Problem):
            record = record or self._record(user, conn_id, t, line, frame, text)
            self._protocol(record, events.reason)
            return
        if not events:
            return
        markers: tuple[tuple[Marker, ReqId], ...] | None = None
        for event in events:
            kind = event.kind
            if kind is _NOISE:
                continue
            if kind is _SERVER_ERROR:
                record = record or self._record(user, conn_id, t, line, frame, text)
                if not self._expected_error(conn, record):
                    self._protocol(record, "the server sent an error frame")
                continue
            if conn.refusal_probe is not None:
                record = record or self._record(user, conn_id, t, line, frame, text)
                self._probe_accepted(conn, event, record)
            if kind is _WELCOME:
                record = record or self._record(user, conn_id, t, line, frame, text)
                self._welcome(conn, event, record)
                continue
            if markers is None:
                markers = self.markers.scan(text)
            self.tally.events += 1
            d = Delivery(event, user, conn_id, t, line, frame, markers)
            if event.run_id is not None:  # a decided run (most events): straight to judging
                owner = self.run_owner.get(event.run_id, UNBOUND)
                if owner is not UNBOUND:
                    self._deliver(owner, d)
                    continue
            self._route(conn, d)

    @staticmethod
    def _record(user: UserName, conn: ConnId, t: float, line: int, frame: Any, text: str | bytes) -> Recv:
        decoded = text if isinstance(text, str) else text.decode("utf-8", "replace")
        return Recv(line, t, user, conn, frame, None, decoded)

    def _maintain(self, now: float) -> None:
        """Once per second of history time: decide the runs whose deadline passed undecided, then
        strip and forget old requests."""
        deadline = self.config.deadline
        self._decide_all([run for run, trace in self.traces.items() if trace.first_t + deadline <= now])
        self._retire(now)

    def drain_findings(self) -> list[Finding]:
        """Every finding since the last call (only with ``CheckConfig(notify=True)``, for live
        checking: the Locust user reports each to Locust as a failure of its request's phase)."""
        notes, self.notes = self.notes, []
        return notes

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
        matrix: Counter[tuple[str, str]] = Counter(self.matrix)
        for user, n in self.own_events.items():
            matrix[(user, user)] += n
        pairs, exact = self.overlap.pairs()
        return build_verdict(
            self.tally,
            users=len(set(self.identity) | {c.user for c in self.conns.values()}),
            overlapping_pairs=pairs,
            pairs_exact=exact,
            latency={phase: h.summary() for phase, h in self.latency.items()},
            engine_latency={engine: h.summary() for engine, h in self.engine_latency.items()},
            series=self.series.points,
            matrix=matrix,
            swimlanes=self._swimlanes(),
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
