"""What a received frame is, before any attribution: an answer, a refusal, a protocol error, or an
event to attribute (``protocol_error`` and ``probe_violation`` are decided here, by ``classify``).

- A frame that cannot be parsed or normalised (not JSON, not an object, no type, a malformed
  batch) is a ``protocol_error``: a client cannot tell whose event it is.
- An error frame on a connection an active probe opened, or while a probe's request is in
  flight on it, is the answer the probe hopes for (never a protocol error).
- An error frame that refuses the connection's credentials (the profile's ``refusal``
  conditions: Netra's ``AUTH_FAILED``) is a client error of the harness (its token was
  refused), not a protocol anomaly; its connection's requests then end ``unknown``.
- Any other error frame is a ``protocol_error``.
- Any event on a connection a probe expects the server to refuse (an expired token, one
  connection too many) is a ``probe_violation``: the server served it. One per connection.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.explain import describe_recv
from xtalk.core.ids import ConnId, UserName
from xtalk.core.profile import EventKind
from xtalk.core.requests import Conn


class Frame(str, Enum):
    EVENT = "event"  # an event to attribute (or noise, a welcome)
    PROBE_ANSWER = "probe_answer"  # an error frame a probe asked for
    PROBE_REQUEST_ANSWER = "probe_request_answer"  # ... refusing the probe's request in flight
    REFUSAL = "refusal"  # the server refused the credentials: a client error
    PROTOCOL_ERROR = "protocol_error"
    PROBE_VIOLATION = "probe_violation"  # an event on a connection the server should have refused


def classify(conn: Conn, kind: EventKind | None, refusal: bool) -> Frame:
    """What one received event (``kind``; None: a frame that cannot be normalised) is on ``conn``."""
    if kind is None:
        return Frame.PROTOCOL_ERROR
    if kind is EventKind.SERVER_ERROR:
        if conn.refusal_probe is not None or conn.probe is not None:
            return Frame.PROBE_ANSWER
        if any(request.probe is not None for request in conn.requests):
            return Frame.PROBE_REQUEST_ANSWER
        return Frame.REFUSAL if refusal else Frame.PROTOCOL_ERROR
    if conn.refusal_probe is not None and kind is not EventKind.NOISE:
        return Frame.PROBE_VIOLATION
    return Frame.EVENT


def protocol_error(user: UserName, conn: ConnId, t: float, line: int, shown: Any, reason: str) -> Finding:
    return Finding(
        AnomalyKind.PROTOCOL_ERROR,
        (line,),
        Explanation(
            (("F", f"a frame received by {user} on {conn} at {t:.3f} s (history line {line})"),),
            f"{reason}; a client cannot tell whose event it is.",
        ),
        t,
        user=user,
        conn=conn,
        evidence=((line, shown),),
    )


def probe_violation(conn: Conn, type_name: str, t: float, line: int, frame: Any) -> Finding:
    probe = conn.refusal_probe
    return Finding(
        AnomalyKind.PROBE_VIOLATION,
        (conn.probe_line, line),
        Explanation(
            (
                ("P", f"the {probe} probe's connection {conn.conn} of {conn.user} (history line {conn.probe_line})"),
                ("E", describe_recv(type_name, conn.user, conn.conn, t, line)),
            ),
            f"the {probe} probe expects the server to refuse P (an error, a close),\n"
            "but the server served it: E arrived on it.",
        ),
        t,
        user=conn.user,
        owner=conn.user,
        conn=conn.conn,
        evidence=((line, frame),),
    )
