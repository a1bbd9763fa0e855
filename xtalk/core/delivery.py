"""A delivery: one agent event as one user received it, with the markers of its own content.

Deliveries are created once per received event, so they are a plain slotted class, not a frozen
one (a frozen dataclass's ``__init__`` costs about six times as much); nothing mutates them.
``markers`` are the known content markers found in the event's own content: the whole line for
a frame that is one event, the item's own object for an event of a batch (SPEC "per item").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xtalk.core.ids import ConnId, Marker, ReqId, UserName
from xtalk.core.normalise import Event


@dataclass(slots=True, eq=False)
class Delivery:
    event: Event
    user: UserName
    conn: ConnId
    t: float
    line: int
    frame: Any
    markers: tuple[tuple[Marker, ReqId], ...]
