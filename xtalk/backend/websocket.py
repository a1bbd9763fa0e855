"""The WebSocket endpoint: handshake, authentication after accept, welcome, message dispatch.

As Netra does it (NETRA_PROTOCOL §2): the engine path comes from ``?mode=`` or the URL path;
the token from the ``jwt.<token>`` subprotocol (``jwt-auth`` is the one selected), an
``Authorization: Bearer`` header or ``?token=``. The socket is accepted first and authenticated
after: a bad token gets an ``error_message`` frame with ``AUTH_FAILED`` and a 1008 close, so an
open socket is not yet an authenticated one. Offered subprotocols with nothing acceptable among
them close with 1003.

With ``max_connections_per_user`` > 0, an authenticated connection that would exceed its
account's limit (live connections whose token named the same ``sub``) is refused the same way,
with ``CONNECTION_LIMIT_EXCEEDED`` and close 1013 (try again later: the token is fine, so a
client must not log in again). The limit is off by default.

The connection-level faults act here: ``slow_handshake`` (wait before accepting),
``refuse_1008`` (refuse a good token), ``accept_bad_tokens`` (serve an expired or forged token
as the user it names), ``demo_mode`` and ``relaxed_identity`` (the server's user id is not the
token's).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import orjson

from xtalk.backend.config import ENGINES, BackendConfig
from xtalk.backend.engines import REQUEST_TYPES, AgentService
from xtalk.backend.envelopes import iso_now
from xtalk.backend.faults import FaultPlan
from xtalk.backend.session import AsgiSend, Connection, Registry
from xtalk.backend.tokens import Claims, TokenError, TokenIssuer, read_unchecked

DEMO_USER = "demo-user-001"
PATH_MODES = {"/ws": None, "/ws/": None, "/ws/factory": "factory", "/ws/isolated": "isolated",
              "/ws/main": "main", "/ws/legacy": "legacy", "/api/v1/websocket": "main"}
GOLDEN_PATH_EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed",
                      "agent_completed"]


def is_websocket_path(path: str) -> bool:
    return path in PATH_MODES


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def engine_for(scope: dict[str, Any], default: str) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = (query.get("mode") or [None])[0]
    if asked in ENGINES:
        return str(asked)
    return PATH_MODES.get(scope["path"]) or default


def token_from(scope: dict[str, Any]) -> str | None:
    for protocol in scope.get("subprotocols", ()):
        if protocol.startswith("jwt.") and len(protocol) > 4:
            return str(protocol[4:])
    auth = _header(scope, b"authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [None])[0]
    return token or None


def welcome(conn: Connection) -> dict[str, Any]:
    if conn.mode == "factory":  # the older shape: wrapped in system_message, full user id
        return {"type": "system_message",
                "data": {"event": "connection_established", "connection_id": conn.conn_id,
                         "user_id": conn.user_id, "connection_ready": True}}
    kind = "connection_established" if conn.mode == "main" else f"{conn.mode}_connection_established"
    now = time.time()
    return {"type": kind,
            "data": {"mode": conn.mode, "user_id": conn.user_id[:8] + "...",
                     "connection_id": conn.conn_id, "golden_path_events": GOLDEN_PATH_EVENTS,
                     "features": {}, "timestamp": iso_now()},
            "timestamp": now, "server_id": None, "correlation_id": None}


def auth_failed(message: str = "Authentication failed") -> dict[str, Any]:
    return {"type": "error_message", "error_code": "AUTH_FAILED", "error_message": message,
            "details": {}, "timestamp": time.time()}


class WebSocketEndpoint:
    def __init__(self, config: BackendConfig, plan: FaultPlan, issuer: TokenIssuer,
                 registry: Registry, service: AgentService) -> None:
        self.config = config
        self.plan = plan
        self.issuer = issuer
        self.registry = registry
        self.service = service
        self.connections_opened = 0
        self.connections_refused = 0  # over the per-user limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: AsgiSend) -> None:
        event = await receive()
        if event["type"] != "websocket.connect":
            return
        mode = engine_for(scope, self.config.engine)
        offered: list[str] = list(scope.get("subprotocols", ()))
        if self.plan.fires("slow_handshake"):
            self.plan.record("slow_handshake", None, None, None, seconds=self.config.slow_handshake)
            await asyncio.sleep(self.config.slow_handshake)
        acceptable = "jwt-auth" in offered or any(p.startswith("jwt.") for p in offered)
        subprotocol = "jwt-auth" if "jwt-auth" in offered else None
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        if offered and not acceptable:
            await send({"type": "websocket.close", "code": 1003, "reason": "unsupported subprotocol"})
            return
        token = token_from(scope)
        try:
            claims = self.issuer.verify(token) if token else None
        except TokenError as error:
            claims = self._accept_bad(token or "", str(error))
            if claims is None:
                await self._refuse(send, str(error))
                return
        if claims is None:
            await self._refuse(send, "no token")
            return
        limit = self.config.max_connections_per_user
        if limit and self.registry.held_by(claims.sub) >= limit:
            # No await between this count and registry.add below: the check cannot race.
            self.connections_refused += 1
            await self._refuse(send, f"at most {limit} connections per user",
                               code="CONNECTION_LIMIT_EXCEEDED", close=1013, limit=limit)
            return
        conn = self._connection(claims.sub, token or "", mode, send)
        if self.plan.fires("refuse_1008"):
            self.plan.record("refuse_1008", None, conn.token_sub, conn.token_sub)
            await self._refuse(send, "Authentication failed")
            return
        self.registry.add(conn)
        self.service.on_connect(conn)
        self.connections_opened += 1
        try:
            await conn.send_json(welcome(conn))
            await self._serve(conn, receive)
        finally:
            conn.closed = True
            self.registry.remove(conn)

    def _accept_bad(self, token: str, why: str) -> Claims | None:
        """``accept_bad_tokens``: the claims of a refused token read without checks, or None."""
        if not token or not self.plan.fires("accept_bad_tokens"):
            return None
        try:
            claims = read_unchecked(token)
        except TokenError:
            return None  # not a JWT at all: even this server cannot tell whom it names
        self.plan.record("accept_bad_tokens", None, claims.sub, claims.sub, refused_for=why)
        return claims

    async def _refuse(self, send: AsgiSend, message: str, *, code: str = "AUTH_FAILED",
                      close: int = 1008, **details: Any) -> None:
        frame = auth_failed(message)
        frame["error_code"] = code
        frame["details"] = details
        reason = "policy violation" if close == 1008 else "try again later"
        try:
            await send({"type": "websocket.send", "text": orjson.dumps(frame).decode()})
            await send({"type": "websocket.close", "code": close, "reason": reason})
        except Exception:  # the client left first: nothing to tell it
            pass

    def _connection(self, sub: str, token: str, mode: str, send: AsgiSend) -> Connection:
        user_id, by_user = sub, False
        if self.plan.fires("demo_mode"):
            user_id, by_user = DEMO_USER, True
        elif self.plan.fires("relaxed_identity"):
            # Python's str hash is salted per process: ids differ between replicas, as in Netra.
            user_id, by_user = f"relaxed_{hash(token) % self.config.relaxed_modulus}", True
        conn = Connection(f"{mode}_{secrets.token_hex(4)}", user_id, sub, mode, send,
                          routed_by_user=by_user, last_client_message=time.monotonic())
        if by_user:
            fault = "demo_mode" if user_id == DEMO_USER else "relaxed_identity"
            self.plan.record(fault, None, sub, sub, server_user_id=user_id)
        return conn

    async def _serve(self, conn: Connection, receive: Any) -> None:
        while True:
            event = await receive()
            kind = event["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive":
                continue
            conn.last_client_message = time.monotonic()
            text = event.get("text")
            if text is None:
                continue  # binary from a client means nothing in this protocol
            await self._handle(conn, text)

    async def _handle(self, conn: Connection, text: str) -> None:
        if len(text) > self.config.max_message:
            await conn.send_json(_error("MESSAGE_TOO_LARGE", f"messages are limited to "
                                                             f"{self.config.max_message} bytes"))
            return
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            await conn.send_json(_error("INVALID_JSON", "message is not JSON"))
            return
        if not isinstance(message, dict):
            await conn.send_json(_error("INVALID_MESSAGE", "message is not an object"))
            return
        kind = message.get("type")
        now = time.time()
        if kind == "ping":
            await conn.send_json({"type": "pong", "data": {"timestamp": now, "user_id": conn.user_id},
                                  "timestamp": now, "server_id": None, "correlation_id": None})
        elif kind == "heartbeat":
            await conn.send_json({"type": "heartbeat_ack", "timestamp": now})
        elif kind in REQUEST_TYPES:
            if await self.service.start(conn, message) is None:
                await conn.send_json(_error("EMPTY_REQUEST", "the request has no text"))
        else:
            await conn.send_json({"type": "ack", "received_type": kind, "user_id": conn.user_id,
                                  "status": "acknowledged", "timestamp": now})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error_code": code, "error": message, "timestamp": time.time()}
