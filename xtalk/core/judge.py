"""Judging one delivery: what an agent event, once its request is known, proves.

Each delivery is judged once, under the first kind that fits (SPEC "one finding, one kind"):

1. ``cross_user_event``: its ids show another user's request. The run is bound to another
   user's request and its ids say so too (the run is evident for that request, or its user id or
   thread is the owner's, or it has no run id); or its ``user_id`` is another harness user's
   identity; or its thread is another user's thread. When the run is the receiver's own, its
   lifecycle goes on (the event is counted, not judged again).
2. ``cross_user_content``: bound to another user's request only by that request's content marker
   (its ids look like the receiver's or are absent), or it carries another user's marker.
3. ``identity_mismatch``: a ``user_id`` that is nobody's in the run, and not the receiver's
   (full, or its short form: a prefix and the profile's suffix).
4. ``phantom_event``: no request.
5. ``duplicate_event``: the same frame (time stamp and retry counter aside) twice on one
   connection for one request; a retry, or an identical time stamp, says it is the same event.
6. the lifecycle kinds (``xtalk.core.lifecycle``).

The common delivery (a decided run, on its owner's connection, with the owner's ids and no
foreign marker) passes the cross-user tests with two dictionary lookups and goes straight to the
duplicate test and the lifecycle.

Also here: the welcome's identity, error frames (expected for probes), probe violations and
protocol errors, each about one received frame.
"""

from __future__ import annotations

from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation
from xtalk.core.explain import describe_recv, describe_send
from xtalk.core.ids import Marker, UserName
from xtalk.core.normalise import Event
from xtalk.core.profile import EventKind
from xtalk.core.records import Recv
from xtalk.core.state import CheckerState, Conn, Delivery, Request
from xtalk.core.verdict import Outcome

_RUN_OTHER = EventKind.RUN_OTHER
_MIXED = AnomalyKind.MIXED_ENGINE_RUN


class Judge(CheckerState):
    def _deliver(self, request: Request | None, d: Delivery) -> None:
        receiver = d.user
        event = d.event
        uid = event.user_id
        uid_user = self.identity_user.get(uid) if uid else None
        thread = event.thread_id
        thread_user = self.threads.get(thread) if thread else None
        counted = False
        if (
            request is not None
            and request.user == receiver
            and (uid_user is None or uid_user == receiver)
            and (thread_user is None or thread_user == receiver)
        ):
            # The receiver's own request, and no id of the event names anyone else.
            self._lane(receiver, d, receiver)
            if event.run_id is not None:
                request.evident.add(event.run_id)
        else:
            owner = request.user if request is not None else None
            foreign = request is not None and owner != receiver
            other: UserName | None
            if request is not None and (  # the run id ties the event to another user's request
                foreign and (event.run_id is None or event.run_id in request.evident or uid_user == owner
                             or thread_user == owner)
            ):
                other = owner
            elif uid_user is not None and uid_user != receiver:
                other = uid_user
            elif thread_user is not None and thread_user != receiver:
                other = thread_user
            else:
                other = None
            self._lane(receiver, d, other or owner or receiver)
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
            own = self.own_events
            own[receiver] = own.get(receiver, 0) + 1
            if d.markers:
                requests = self.requests
                for marker, req in d.markers:
                    marked = requests.get(req)
                    if marked is not None and marked.user != receiver:
                        self._content_leak(marked, marker, d)
                        counted = True  # still the receiver's own event: its lifecycle goes on
                        break
        if uid is not None and uid_user is None and not counted and receiver in self.identity:
            if not self._same_identity(uid, self.identity[receiver]):
                counted = True
                self._found_in(
                    AnomalyKind.IDENTITY_MISMATCH,
                    d,
                    f"E is stamped user_id {uid!r}, which is nobody's in this run,\n"
                    f"while {receiver} logged in as {self.identity[receiver]}.",
                )
        if request is None:
            if not counted:
                self._found_in(
                    AnomalyKind.PHANTOM_EVENT,
                    d,
                    f"E (run_id {event.run_id}) belongs to no request sent in this run:\n"
                    f"no request of {receiver} was waiting for an answer when it arrived.",
                )
            return
        if event.kind is _RUN_OTHER:
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
        life = request.life
        was_final = life.final_line is not None
        judgements = life.observe(event, d.line, d.t, counted)
        if judgements:
            self._judged(request, d, judgements)
        if not was_final and life.final_line is not None and request.outcome is None:
            self._finish_request(request, d.t)

    def _judged(self, request: Request, d: Delivery, judgements: Any) -> None:
        event = d.event
        for judgement in judgements:
            self._found(
                judgement.kind,
                judgement.witness + ((request.line,) if judgement.kind is _MIXED else ()),
                d.t,
                Explanation(
                    (
                        ("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),
                        ("E", describe_recv(event.type, d.user, d.conn, d.t, d.line)),
                    ),
                    f"E belongs to R (run_id {event.run_id or 'absent'}), and {judgement.why}.",
                ),
                user=d.user,
                owner=request.user,
                run=event.run_id,
                conn=d.conn,
                req=request.req,
                engine=request.engine,
                evidence=((d.line, d.frame),),
            )

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
        if conn.refusal_probe is not None or conn.probe is not None:
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
