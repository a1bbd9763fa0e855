"""Transports: how frames travel on a WebSocket, sans-I/O (bytes in, frames out).

A ``Codec`` turns one received WebSocket message into ``Incoming`` items (the frame to record,
a reply to send at once, a change of the connection's state) and a frame to send into the
message's bytes. ``codec_for(transport)`` picks the codec a profile's ``[transport]`` names:

- ``json``: one JSON object per text message (``JsonCodec``);
- ``socketio``: Socket.IO v5 over Engine.IO v4 (``SocketIOCodec``), encoded and decoded with
  python-socketio's and python-engineio's own packet classes.

The sockets, greenlets and clocks belong to ``xtalk.client``; nothing here does I/O.
"""

from __future__ import annotations

from xtalk.profiles.model import Transport
from xtalk.transport.codec import Codec, Control, Incoming
from xtalk.transport.jsonws import JsonCodec
from xtalk.transport.sio import SocketIOCodec


def codec_for(transport: Transport) -> Codec:
    if transport.kind == "socketio":
        return SocketIOCodec(transport.namespace)
    return JsonCodec()


__all__ = ["Codec", "Control", "Incoming", "JsonCodec", "SocketIOCodec", "codec_for"]
