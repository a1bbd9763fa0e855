"""One accepted WebSocket (``Connection``) and the registry of live ones (``Registry``).

A ``Connection`` wraps the ASGI ``send`` of one socket. Sending never raises: a frame for a
socket that is closed (by either side) is dropped and reported as ``False``, because agent runs
outlive their sockets in Netra too and must not crash when their user has gone.

``Registry`` is the connection manager: it finds connections by the server's idea of their user
(``send_to_user``), which is how Netra's manager routes, and so how identity collapse turns into
cross-user delivery; it also counts live connections per account (``held_by``, the token's
``sub``), for the per-user connection limit. Invariant: a connection is in the registry from
authentication to close, and ``held_by(sub)`` is the number of those whose token named ``sub``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

AsgiSend = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Connection:
    conn_id: str
    user_id: str  # the server's idea of the user (demo/relaxed faults change it)
    token_sub: str  # the user the token vouched for
    mode: str
    _send: AsgiSend = field(repr=False)
    closed: bool = False
    routed_by_user: bool = False  # demo/relaxed identity: the manager routes by user id
    last_client_message: float = 0.0
    manager: Any = None  # Manager (see mechanisms.manager_push); re-pointable, as in Netra

    async def send_json(self, frame: dict[str, Any]) -> bool:
        return await self.send_text(orjson.dumps(frame).decode())

    async def send_text(self, text: str) -> bool:
        if self.closed:
            return False
        try:
            await self._send({"type": "websocket.send", "text": text})
        except Exception:  # the socket went away under us: uvicorn's ClientDisconnected & co.
            self.closed = True
            return False
        return True

    async def send_bytes(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            await self._send({"type": "websocket.send", "bytes": data})
        except Exception:
            self.closed = True
            return False
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            pass


class Registry:
    """Live connections by id and by the server's user id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Connection] = {}
        self._by_user: dict[str, list[Connection]] = {}
        self._held: dict[str, int] = {}  # live connections per token sub

    def add(self, conn: Connection) -> None:
        self.by_id[conn.conn_id] = conn
        self._by_user.setdefault(conn.user_id, []).append(conn)
        self._held[conn.token_sub] = self._held.get(conn.token_sub, 0) + 1

    def remove(self, conn: Connection) -> None:
        if self.by_id.pop(conn.conn_id, None) is not None:
            left = self._held.get(conn.token_sub, 0) - 1
            if left > 0:
                self._held[conn.token_sub] = left
            else:
                self._held.pop(conn.token_sub, None)
        conns = self._by_user.get(conn.user_id)
        if conns and conn in conns:
            conns.remove(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def held_by(self, sub: str) -> int:
        """Live connections whose token named ``sub`` (whatever the server's idea of the user)."""
        return self._held.get(sub, 0)

    def connections_of(self, user_id: str) -> list[Connection]:
        return list(self._by_user.get(user_id, ()))

    async def send_to_user(self, user_id: str, frame: dict[str, Any]) -> int:
        """Send to every live connection of ``user_id``; how many got it (0: silently lost)."""
        text = orjson.dumps(frame).decode()
        sent = 0
        for conn in self.connections_of(user_id):
            sent += await conn.send_text(text)
        return sent

    def __len__(self) -> int:
        return len(self.by_id)
