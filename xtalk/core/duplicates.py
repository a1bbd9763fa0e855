"""Duplicates: the same event delivered twice to one user's connection (``duplicate_event``).

Two deliveries are the same event when their frames are equal apart from the retry counter and
the time stamp (the normaliser's dedup key), and either the later one says it is a retry (an
``attempt`` of 2 or more: NETRA_PROTOCOL §5 re-sends with a new time stamp) or both carry the
same time stamp (a byte-identical copy). A different step number or text is another key, so
another event. The same event on another connection (a second tab of the same user) is not a
duplicate, and one event delivered to two users is a cross-user kind, decided before this.
"""

from __future__ import annotations

from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.delivery import Delivery
from xtalk.core.explain import describe_recv
from xtalk.core.ids import ConnId, ReqId, UserName
from xtalk.core.normalise import Event

#: Where an event was first seen: (connection, history line, time stamp, time).
Sighting = tuple[ConnId, int, Any, float]


class Seen:
    """The events one request's user received, by dedup key (kept while the request is recent)."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[int, Sighting] = {}

    def repeat(self, event: Event, conn: ConnId, line: int, t: float) -> tuple[bool, Sighting] | None:
        """None for a new event (remembered); else (is it a duplicate?, the earlier sighting): a
        repeat on the same connection is a duplicate, one on another tab of the same user is that
        tab's own copy. Either way a repeat is not fed to the lifecycle again. A same-key event
        that is neither a retry nor a copy (a new time stamp, no attempt counter) is a new event
        and replaces the earlier sighting."""
        earlier = self.by_key.get(event.dedup)
        if earlier is not None and (event.retry or earlier[2] == event.stamp):
            return earlier[0] == conn, earlier
        self.by_key[event.dedup] = (conn, line, event.stamp, t)
        return None


def duplicate_finding(
    d: Delivery, owner: UserName, req: ReqId, engine: str, earlier_line: int, earlier_t: float
) -> Finding:
    event = d.event
    return Finding(
        AnomalyKind.DUPLICATE_EVENT,
        (earlier_line, d.line),
        Explanation(
            (
                ("E1", describe_recv(event.type, d.user, d.conn, earlier_t, earlier_line)),
                ("E2", describe_recv(event.type, d.user, d.conn, d.t, d.line)),
            ),
            "E2 repeats E1 field for field (a retry's attempt counter and time stamp aside):\n"
            "the same event was delivered twice.",
        ),
        d.t,
        user=d.user, owner=owner, run_id=event.run_id, conn=d.conn, req=req, engine=engine,
        evidence=((d.line, d.frame),),
    )
