"""A delivery: one agent event as one user received it, with the markers of its own content.

Deliveries are created once per received event, so they are a plain slotted class, not a frozen
one (a frozen dataclass's ``__init__`` costs about six times as much); nothing mutates them.
``markers`` are the known content markers found in the event's own content: the whole line for
a frame that is one event, the item's own object for an event of a batch (SPEC "per item").

``source`` is the frame as received, or the history line (bytes) it was decoded from: the
offline check keeps the line, not the decoded frame, so that the frame's many objects are freed
at once (while they are still in the processor's cache) and a run's waiting deliveries hold one
bytes object each; ``frame`` decodes it again for the rare finding that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from xtalk.core.ids import ConnId, Marker, ReqId, UserName
from xtalk.core.normalise import Event


@dataclass(slots=True, eq=False)
class Delivery:
    event: Event
    user: UserName
    conn: ConnId
    t: float
    line: int
    source: Any  # the frame, or the recv line (bytes) whose "frame" it is
    markers: tuple[tuple[Marker, ReqId], ...]

    @property
    def frame(self) -> Any:
        """The frame as received (decoded again from its line when that is what is kept)."""
        source = self.source
        if source.__class__ is bytes:
            return orjson.loads(source)["frame"]
        return source
