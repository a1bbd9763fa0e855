"""Socket.IO v5 over Engine.IO v4 on a WebSocket, with the field's own packet classes.

Engine.IO packets: ``0`` open (``{sid, pingInterval, ...}``), ``1`` close, ``2``/``3`` ping and
pong, ``4`` message (carrying a Socket.IO packet), ``6`` noop. Socket.IO packets inside a
message: ``0`` connect (``40{...}``: the client's payload, the server's ``{sid}``), ``1``
disconnect, ``2`` event (``42["name", arg, ...]``), ``3`` ack, ``4`` connect error.

Frames, as the history records them (SPEC, "History of a Socket.IO backend"): an event is
``{"event": "name", "data": arg}`` (``"args": [...]`` when more arguments follow; no ``data``
when there is none); control packets are ``{"event": "eio.open" | "eio.close" |
"sio.connect" | "sio.connect_error" | "sio.disconnect" | "sio.ack", "data": ...}``. Pings are
answered with pongs and recorded by neither side. A packet of another namespace carries
``"namespace"``. Binary attachments are not supported: such a packet is recorded ``raw``.

The packet classes parse JSON with orjson here (their default is the stdlib's, ~3x slower).
"""

from __future__ import annotations

from typing import Any

import engineio.packet as eio
import orjson
import socketio.packet as sio

from xtalk.transport.codec import Control, Incoming


class _Json:
    """The ``json`` module interface the packet classes call, on orjson."""

    JSONDecodeError = orjson.JSONDecodeError

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)

    @staticmethod
    def dumps(value: Any, **_: Any) -> str:
        return orjson.dumps(value).decode("utf-8")


class _EioPacket(eio.Packet):  # type: ignore[misc]
    json = _Json


class _SioPacket(sio.Packet):  # type: ignore[misc]
    json = _Json
    uses_binary_events = False  # no scan of every payload for bytes: we never send any


_PONG_EMPTY = _EioPacket(eio.PONG).encode().encode("ascii")


class SocketIOCodec:
    plain_json = False  # each message is one JSON frame, recorded as received
    needs_connect = True

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace

    # ---- receiving ---------------------------------------------------------------------------

    def decode(self, data: bytes) -> list[Incoming]:
        try:
            text = data.decode("utf-8")
            packet = _EioPacket(encoded_packet=text)
        except (UnicodeDecodeError, ValueError, IndexError, TypeError):
            return [Incoming(raw=data)]
        kind = packet.packet_type
        if kind == eio.MESSAGE:
            return [self._message(packet.data, data)]
        if kind == eio.PING:
            pong = _EioPacket(eio.PONG, packet.data).encode().encode("utf-8") if packet.data else _PONG_EMPTY
            return [Incoming(reply=pong)]
        if kind == eio.OPEN:
            return [Incoming(frame={"event": "eio.open", "data": packet.data}, control=Control.OPEN)]
        if kind == eio.CLOSE:
            return [Incoming(frame={"event": "eio.close"}, control=Control.DISCONNECTED)]
        if kind in (eio.PONG, eio.NOOP):
            return []
        return [Incoming(raw=data)]  # UPGRADE and the like: not expected on a WebSocket-only transport

    def _message(self, text: Any, data: bytes) -> Incoming:
        if not isinstance(text, str):
            return Incoming(raw=data)
        try:
            packet = _SioPacket(encoded_packet=text)
        except (ValueError, IndexError, TypeError):
            return Incoming(raw=data)
        if packet.attachment_count:
            return Incoming(raw=data)
        kind = packet.packet_type
        frame: dict[str, Any]
        control: Control | None = None
        if kind == sio.EVENT:
            args = packet.data
            if not isinstance(args, list) or not args or not isinstance(args[0], str):
                return Incoming(raw=data)
            frame = {"event": args[0]}
            if len(args) > 1:
                frame["data"] = args[1]
            if len(args) > 2:
                frame["args"] = args[2:]
        elif kind == sio.CONNECT:
            frame, control = {"event": "sio.connect", "data": packet.data}, Control.CONNECTED
        elif kind == sio.CONNECT_ERROR:
            frame, control = {"event": "sio.connect_error", "data": packet.data}, Control.REFUSED
        elif kind == sio.DISCONNECT:
            frame, control = {"event": "sio.disconnect"}, Control.DISCONNECTED
        elif kind == sio.ACK:
            frame = {"event": "sio.ack", "data": packet.data}
        else:
            return Incoming(raw=data)
        if packet.id is not None:
            frame["id"] = packet.id
        namespace = packet.namespace or "/"
        if namespace != self.namespace:
            frame["namespace"] = namespace
            control = None  # another namespace's connect or error is not ours
        return Incoming(frame=frame, control=control)

    # ---- sending -----------------------------------------------------------------------------

    def _wrap(self, packet: Any) -> bytes:
        return _EioPacket(eio.MESSAGE, packet.encode()).encode().encode("utf-8")

    def encode(self, frame: dict[str, Any]) -> bytes:
        name = frame.get("event")
        if not isinstance(name, str) or not name:
            raise ValueError("a Socket.IO frame needs a string 'event'")
        args: list[Any] = [name]
        if "data" in frame:
            args.append(frame["data"])
        args.extend(frame.get("args") or ())
        return self._wrap(_SioPacket(sio.EVENT, args, namespace=self.namespace, binary=False))

    def connect(self, payload: Any) -> tuple[bytes, dict[str, Any]]:
        packet = _SioPacket(sio.CONNECT, payload, namespace=self.namespace, binary=False)
        return self._wrap(packet), {"event": "sio.connect", "data": payload}

    def goodbye(self) -> tuple[bytes, dict[str, Any]] | None:
        packet = _SioPacket(sio.DISCONNECT, namespace=self.namespace, binary=False)
        return self._wrap(packet), {"event": "sio.disconnect"}
