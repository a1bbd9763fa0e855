"""Request outcomes: how each request ends (``dropped_response`` and ``connection_lost`` are
decided here; ``incomplete_run`` is judged here on what ``Lifecycle.missing`` says).

A request ends once, with an ``Ending``:

- ``ok`` when its run's final event reached its user and it did not fail; ``failed`` on
  ``agent_error``/``agent_death``; the same when a final event carrying its marker reached its
  user under another run's id (``answered``);
- at its deadline with no final event while its connection stayed open (``expire``):
  ``dropped_response`` (failed), unless another user received its run (a leak already explains
  the silence: failed, not dropped), or it was a probe the server ignored (unknown);
- when its connection closes (``on_close``): past its deadline, as ``expire``; closed by the
  server while in flight, ``connection_lost`` (failed), unless the server had refused the
  connection's credentials (unknown: a client error); closed by the harness, unknown;
- at the end of the run (``at_end``): past its deadline, as ``expire``; its run's completion
  went to another user, failed (it was answered, to someone else: never unknown); else unknown,
  in flight before its deadline (or the history stopped without an end record).

Unknown is never counted as dropped. The functions are pure: they read the request and return
what happens to it; the checker applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.explain import describe_send
from xtalk.core.lifecycle import Lifecycle
from xtalk.core.records import Close
from xtalk.core.requests import Outcome, Request


@dataclass(frozen=True, slots=True)
class Ending:
    request: Request
    outcome: Outcome
    t: float
    reason: str | None = None  # why unknown
    dropped: bool = False
    finding: Finding | None = None


def finished(request: Request, t: float) -> Ending:
    """Its run's final event reached its user."""
    life = request.life
    failed = isinstance(life, Lifecycle) and life.failed
    return Ending(request, Outcome.FAILED if failed else Outcome.OK, t)


def answered(request: Request, t: float, failed: bool) -> Ending:
    """A final event carrying its marker reached its user under another run's id
    (``attribution``'s ``answers``): answered, though its lifecycle never saw that run."""
    return Ending(request, Outcome.FAILED if failed else Outcome.OK, t)


def expire(request: Request, t: float, deadline: float) -> Ending:
    """Its deadline passed with no final event while its connection stayed open."""
    if request.probe is not None:
        return Ending(request, Outcome.UNKNOWN, t, reason=f"the server ignored the {request.probe} probe")
    if request.leaked:
        return Ending(request, Outcome.FAILED, t)  # another user received its run: the leak is the finding
    finding = Finding(
        AnomalyKind.DROPPED_RESPONSE,
        (request.line,),
        Explanation(
            (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
            f"R had no final event by its deadline ({deadline:g} s, at {request.deadline_at:.3f} s) "
            f"nor by the end of the drain,\nwhile {request.conn} stayed open.",
        ),
        request.deadline_at,
        user=request.user, owner=request.user, run_id=request.run, conn=request.conn, req=request.req,
        engine=request.engine,
    )
    return Ending(request, Outcome.FAILED, t, dropped=True, finding=finding)


def on_close(requests: list[Request], close: Close, deadline: float, refused: bool) -> tuple[list[Ending], Finding | None]:
    """The unfinished requests of a connection that closed, and its ``connection_lost`` finding."""
    endings: list[Ending] = []
    lost: list[Request] = []
    for request in requests:
        if request.deadline_at <= close.t:
            endings.append(expire(request, close.t, deadline))
        elif request.answered_elsewhere:
            endings.append(Ending(request, Outcome.FAILED, close.t))  # its answer went to another user
        elif close.by != "server":
            endings.append(Ending(request, Outcome.UNKNOWN, close.t, reason="the harness closed its connection"))
        elif refused:
            endings.append(Ending(request, Outcome.UNKNOWN, close.t, reason="the server refused the credentials"))
        else:
            lost.append(request)
            endings.append(Ending(request, Outcome.FAILED, close.t))
    if not lost:
        return endings, None
    first = lost[0]
    finding = Finding(
        AnomalyKind.CONNECTION_LOST,
        tuple(sorted({r.line for r in lost} | {close.line})),
        Explanation(
            (
                ("R", describe_send(first.verb, first.user, first.conn, first.t, first.line)),
                ("C", f"close {close.code} {close.reason!r} by the server at {close.t:.3f} s (history line {close.line})"),
            ),
            f"C closed {close.conn} while {len(lost)} request(s) on it were in flight (R the first):\n"
            "their answers can no longer arrive.",
        ),
        close.t,
        user=close.user, owner=close.user, conn=close.conn, req=first.req, engine=first.engine,
    )
    return endings, finding


def at_end(requests: list[Request], end_t: float, has_end: bool, deadline: float) -> list[Ending]:
    endings: list[Ending] = []
    for request in requests:
        if has_end and request.deadline_at <= end_t:
            endings.append(expire(request, end_t, deadline))
        elif request.answered_elsewhere:
            endings.append(Ending(request, Outcome.FAILED, end_t))  # answered, but to another user
        else:
            reason = (
                "in flight at the end of the run, before its deadline"
                if has_end
                else "in flight when the history stopped (no end record)"
            )
            endings.append(Ending(request, Outcome.UNKNOWN, end_t, reason=reason))
    return endings


def gaps(request: Request) -> Finding | None:
    """A finished run's missing events (``Lifecycle.missing``), judged once late events had their
    chance to arrive; a run that reached another user is judged by its leak, not its gaps."""
    if request.leaked or request.gaps_judged:
        return None
    gap = request.life.missing()
    if gap is None:
        return None
    what, witness = gap
    return Finding(
        AnomalyKind.INCOMPLETE_RUN,
        tuple(sorted({request.line, *witness})),
        Explanation(
            (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
            f"R's run finished (history line {request.life.final_line}) without {what}.",
        ),
        request.final_t or request.t,
        user=request.user, owner=request.user, run_id=request.run, conn=request.conn, req=request.req,
        engine=request.engine,
    )
