"""Attribution: whose event one delivery is, and what that proves (SPEC "Attribution").

``attribute`` is the one decision per delivered event. It takes the delivery (its own ids and
the markers of its own content), the binding of its run (``xtalk.core.runs``: which request the
run answers, and on what evidence), and what the run's tables say of its ids, and returns a
``Decision``: whose event it is, the kind it shows or none, and whether it goes on to its
request's duplicate test and lifecycle. Each event counts once, under the first kind that fits
(SPEC "one finding, one kind"):

1. ``cross_user_event``: its ids show another user's request. Its run is bound to another user's
   request and the binding is evident (the run's ids, or the owner received part of the run, or
   an echoed message id), or the event's own user id or thread names the owner; or its user id
   or thread names another harness user. On the receiver's own run it still advances that run
   (counted, not judged again): the run is the receiver's, stamped with another's ids.
2. ``cross_user_content``: its run is bound to another user's request only by that request's
   content (its ids look like the receiver's or are absent); or it carries a marker minted for
   another user's request. The receiver's own run still advances.
3. ``identity_mismatch``: a user id that is nobody's in the run (``Identities.judge`` decides it).
4. ``phantom_event``: its run answers no request.

A delivery that is none of these and whose run is the receiver's own (the common case: own run,
own ids, no foreign marker) returns ``OWN`` at once: the fast path is this function's early return.

Whatever the kind, a final event whose run is bound to a finished request or to another user's,
but which carries the marker of a request of the receiver's that no run answered yet, also
``answers`` that request (SPEC "requests are not lost track of"): the backend answered it under
a stale or foreign run id (NETRA_PROTOCOL §5: an emitter reused across runs keeps its old ids),
so it is not left unknown because its events were bound elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.delivery import Delivery
from xtalk.core.explain import describe_recv, describe_send
from xtalk.core.ids import Marker, UserName
from xtalk.core.profile import EventKind
from xtalk.core.requests import Request
from xtalk.core.runs import Binding, Evidence


@dataclass(frozen=True, slots=True)
class Decision:
    """``owner``: whose event it is when not the receiver's own (None: the receiver's, or
    nobody's for a phantom); ``source``: whose request's events or content reached the receiver
    (the matrix cell), ``content`` when by content; ``advances``: it goes on to its bound
    request's duplicate test and lifecycle (only ever the receiver's own request); ``leaked``:
    the request whose run reached another user; ``answers``: the receiver's own request this
    final event answers although its run is bound elsewhere (module docstring)."""

    kind: AnomalyKind | None
    finding: Finding | None = None
    owner: UserName | None = None
    source: UserName | None = None
    content: bool = False
    advances: bool = False
    leaked: Request | None = None
    answers: Request | None = None


#: The receiver's own request, nothing found: straight to duplicates and the lifecycle.
OWN = Decision(None, advances=True)

_COMPLETED = EventKind.COMPLETED
_FAILED = EventKind.FAILED


def _answers(d: Delivery, request: Request | None, marked: list[tuple[Marker, Request]]) -> Request | None:
    """The receiver's request that this final event answers under another run's id: its marker
    is in the event, no run answers it yet, and the event's run is bound to a finished request
    or to another user's (a run still answering the receiver's own request may quote another of
    the receiver's requests: that is no answer)."""
    kind = d.event.kind
    if (kind is not _COMPLETED and kind is not _FAILED) or not marked:
        return None
    if request is not None and request.user == d.user and request.outcome is None:
        return None
    for _, m in marked:
        if m.user == d.user and m is not request and m.outcome is None and m.run is None:
            return m
    return None


def attribute(
    d: Delivery,
    binding: Binding | None,
    uid_user: UserName | None,
    thread_user: UserName | None,
    marked: list[tuple[Marker, Request]],
    stranger: str | None,
    early: bool = True,
) -> Decision:
    """Decide one delivery. ``uid_user``/``thread_user``: the harness user its user id / thread
    names (None: nobody's, or unknown); ``marked``: the requests whose markers its own content
    carries; ``stranger``: why its user id contradicts the receiver's identity (``Identities.judge``),
    when it is nobody's in the run. ``early``: take the fast path (False: the reference, which
    reaches the same ``OWN`` at the end of the cascade)."""
    receiver = d.user
    request = binding.request if binding is not None else None
    if (
        early
        and request is not None
        and request.user == receiver
        and (uid_user is None or uid_user == receiver)
        and (thread_user is None or thread_user == receiver)
        and stranger is None
    ):
        for _, m in marked:
            if m.user != receiver or (m is not request and request.outcome is not None):
                break
        else:
            return OWN  # the fast path: own run, own ids, no foreign marker, no other request's
    owner = request.user if request is not None else None
    own = owner == receiver
    # 1. cross_user_event: its ids show another user's request.
    if request is not None and not own and binding is not None and (
        binding.evident or uid_user == owner or thread_user == owner
    ):
        return Decision(
            AnomalyKind.CROSS_USER_EVENT,
            _cross_user_event(d, request, owner, uid_user, thread_user, binding),  # type: ignore[arg-type]
            owner=owner, source=owner, leaked=request, answers=_answers(d, request, marked),
        )
    other = uid_user if uid_user is not None and uid_user != receiver else None
    if other is None and thread_user is not None and thread_user != receiver:
        other = thread_user
    if other is not None:
        return Decision(
            AnomalyKind.CROSS_USER_EVENT,
            _cross_user_event(d, None, other, uid_user, thread_user, binding),
            owner=receiver if own else other, source=other, advances=own,
        )
    # 2. cross_user_content: another user's content, whatever ids the event carries.
    if request is not None and not own:
        return Decision(
            AnomalyKind.CROSS_USER_CONTENT,
            _content_leak(request, request.marker, d, via_run=True),
            owner=owner, source=owner, content=True, leaked=request,
        )
    for marker, marked_request in marked:
        if marked_request.user != receiver:
            return Decision(
                AnomalyKind.CROSS_USER_CONTENT,
                _content_leak(marked_request, marker, d),
                owner=receiver if own else marked_request.user, source=marked_request.user, content=True,
                advances=own,
            )
    # 3. identity_mismatch: a user id that is nobody's in the run.
    if stranger is not None:
        return Decision(AnomalyKind.IDENTITY_MISMATCH, _single(AnomalyKind.IDENTITY_MISMATCH, d, stranger),
                        advances=own)
    # 4. phantom_event: no request.
    if request is None:
        return Decision(
            AnomalyKind.PHANTOM_EVENT,
            _single(
                AnomalyKind.PHANTOM_EVENT,
                d,
                f"E (run_id {d.event.run_id}) belongs to no request sent in this run:\n"
                f"no request of {receiver} was waiting for an answer when it arrived.",
            ),
        )
    answers = _answers(d, request, marked)
    return OWN if answers is None else Decision(None, advances=True, answers=answers)


def _single(kind: AnomalyKind, d: Delivery, then: str) -> Finding:
    """A finding one received event proves on its own (E, and why it cannot be)."""
    return Finding(
        kind, (d.line,), Explanation((("E", describe_recv(d.event.type, d.user, d.conn, d.t, d.line)),), then), d.t,
        user=d.user, run_id=d.event.run_id, conn=d.conn, evidence=((d.line, d.frame),),
    )


def _content_leak(marked: Request, marker: Marker | None, d: Delivery, via_run: bool = False) -> Finding:
    event = d.event
    carries = (
        f"E belongs to run {event.run_id}, whose frames carry marker {marker} minted for R"
        if via_run
        else f"E carries marker {marker}, minted for R"
    )
    return Finding(
        AnomalyKind.CROSS_USER_CONTENT,
        tuple(sorted({marked.line, d.line})),
        Explanation(
            (
                ("R", describe_send(marked.verb, marked.user, marked.conn, marked.t, marked.line)),
                ("E", describe_recv(event.type, d.user, d.conn, d.t, d.line)),
            ),
            f"{carries}, although its ids look like {d.user}'s or are absent:\n"
            f"{marked.user}'s content reached {d.user}.",
        ),
        d.t,
        user=d.user, owner=marked.user, run_id=event.run_id, conn=d.conn, req=marked.req, engine=marked.engine,
        evidence=((marked.line, marked.frame), (d.line, d.frame)),
    )


_HOW = {
    Evidence.ECHO: "by the client message id it echoes",
    Evidence.IDS: "by its ids",
    Evidence.CONNECTION: "as the run answering R",
    Evidence.CONTENT: "by its content marker",
}


def _cross_user_event(
    d: Delivery,
    request: Request | None,
    other: UserName,
    uid_user: UserName | None,
    thread_user: UserName | None,
    binding: Binding | None,
) -> Finding:
    event = d.event
    reasons: list[str] = []
    if request is not None and binding is not None:
        how = _HOW[binding.evidence]
        if binding.evidence is Evidence.CONTENT and binding.owner_received:
            how = "as the run its owner received"
        reasons.append(f"run_id {event.run_id or '(absent)'}, bound to R {how}")
    if uid_user == other:
        reasons.append(f"user_id {event.user_id} ({other}'s identity)")
    if thread_user == other:
        reasons.append(f"thread_id {event.thread_id} ({other}'s thread)")
    let = [("E", describe_recv(event.type, d.user, d.conn, d.t, d.line))]
    witness: tuple[int, ...] = (d.line,)
    evidence: tuple[tuple[int, Any], ...] = ((d.line, d.frame),)
    if request is not None:
        let.insert(0, ("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)))
        witness = tuple(sorted({request.line, d.line}))
        evidence = ((request.line, request.frame), (d.line, d.frame))
    return Finding(
        AnomalyKind.CROSS_USER_EVENT,
        witness,
        Explanation(
            tuple(let),
            f"E carries {' and '.join(reasons)}, which belong to {other},\n"
            f"but it was delivered to {d.user}: a cross-user leak.",
        ),
        d.t,
        user=d.user, owner=other, run_id=event.run_id, conn=d.conn,
        req=request.req if request is not None else None,
        engine=request.engine if request is not None else None,
        evidence=evidence,
    )
