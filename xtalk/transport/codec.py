"""What every transport codec offers (``Codec``) and what it makes of a received message."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol


class Control(enum.Enum):
    """A change of the connection's state that a received packet announces."""

    OPEN = "open"  # the transport is open: the client may now connect (Engine.IO open)
    CONNECTED = "connected"  # the server accepted the connection (Socket.IO connect)
    REFUSED = "refused"  # the server refused it (Socket.IO connect error)
    DISCONNECTED = "disconnected"  # the server ended it without closing the WebSocket


@dataclass(slots=True)
class Incoming:
    """One item of a received message. ``frame`` is what the history records (a JSON value;
    ``None``: nothing is recorded, e.g. a ping); ``raw`` is text that could not be decoded;
    ``verbatim`` says the message's bytes are ``frame``'s JSON, so the recorder may copy them;
    ``reply`` is sent back at once (a pong) and never recorded. Treated as immutable; not frozen
    because one is built per received message and a frozen ``__init__`` costs several times more."""

    frame: Any = None
    raw: bytes | None = None
    verbatim: bool = False
    reply: bytes | None = None
    control: Control | None = None


class Codec(Protocol):
    #: Whether the client must connect (and be accepted) after the WebSocket handshake.
    needs_connect: bool
    #: Whether each message is one JSON frame recorded as received (the client may then skip
    #: ``decode``: the hot path of plain JSON backends).
    plain_json: bool

    def decode(self, data: bytes) -> list[Incoming]:
        """The items of one received text message (never raises: undecodable text is ``raw``)."""
        ...

    def encode(self, frame: dict[str, Any]) -> bytes:
        """The text message that sends ``frame``."""
        ...

    def connect(self, payload: Any) -> tuple[bytes, dict[str, Any]]:
        """The message that connects (with ``payload``), and the frame the history records."""
        ...

    def goodbye(self) -> tuple[bytes, dict[str, Any]] | None:
        """The message that ends the connection politely before the WebSocket closes, if any."""
        ...
