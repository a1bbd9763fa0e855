"""Plain JSON over WebSocket: one JSON value per text message, recorded as received."""

from __future__ import annotations

from typing import Any

import orjson

from xtalk.transport.codec import Incoming


class JsonCodec:
    plain_json = True  # each message is one JSON frame, recorded as received
    needs_connect = False

    def decode(self, data: bytes) -> list[Incoming]:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [Incoming(raw=data)]
        return [Incoming(frame=frame, raw=data, verbatim=True)]

    def encode(self, frame: dict[str, Any]) -> bytes:
        return orjson.dumps(frame)

    def connect(self, payload: Any) -> tuple[bytes, dict[str, Any]]:
        raise NotImplementedError("plain JSON WebSockets have no connect step")

    def goodbye(self) -> tuple[bytes, dict[str, Any]] | None:
        return None
