"""The reference backend as one ASGI application: HTTP and WebSocket on one port.

``build_app(config)`` wires the parts (directory, token issuer, fault plan, registry, agent
service, HTTP API, WebSocket endpoint) and returns a ``Backend``, a plain ASGI callable that
also exposes those parts, so tests can look inside (runs started, ground truth acts) without
parsing logs. Plain ASGI rather than a framework: the hot path is one dict lookup and one
``send`` per event.

Lifespan: on startup a heartbeat task sends ``{"type": "heartbeat"}`` to connections whose
client has been silent for ``heartbeat_after`` seconds (Netra: 10–30 s); on shutdown the ground
truth file is flushed and closed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from xtalk.backend.config import BackendConfig, secrets_from_env
from xtalk.backend.directory import Directory
from xtalk.backend.engines import AgentService
from xtalk.backend.faults import FaultPlan
from xtalk.backend.http_api import HttpApi
from xtalk.backend.session import Registry
from xtalk.backend.tokens import TokenIssuer
from xtalk.backend.websocket import WebSocketEndpoint, is_websocket_path


class Backend:
    def __init__(self, config: BackendConfig) -> None:
        config = secrets_from_env(config.validate())
        self.config = config
        self.directory = Directory()
        self.issuer = TokenIssuer(config.jwt_secret, config.jwt_issuer, config.jwt_audience,
                                  config.token_lifetime, config.refresh_lifetime)
        self.plan = FaultPlan(config)
        self.registry = Registry()
        self.service = AgentService(config, self.plan, self.directory, self.registry)
        self.http = HttpApi(config, self.plan, self.directory, self.issuer)
        self.websocket = WebSocketEndpoint(config, self.plan, self.issuer, self.registry,
                                           self.service)
        self._heartbeat: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "websocket":
            if is_websocket_path(scope["path"]):
                await self.websocket(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008, "reason": "no such endpoint"})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.config.heartbeat_after > 0:
                    self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def stop(self) -> None:
        """Flush what must survive the process: the ground truth."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        self.plan.close()

    async def _beat(self) -> None:
        period = min(5.0, self.config.heartbeat_after)
        while True:
            await asyncio.sleep(period)
            self.plan.flush()
            now = time.monotonic()
            for conn in list(self.registry.by_id.values()):
                if now - conn.last_client_message >= self.config.heartbeat_after:
                    conn.last_client_message = now  # one heartbeat per silent period
                    await conn.send_json({"type": "heartbeat",
                                          "data": {"connection_id": conn.conn_id,
                                                   "timestamp": time.time(), "stats": {}}})


def build_app(config: BackendConfig | None = None) -> Backend:
    """The ASGI app for ``config`` (defaults: the main path, no faults)."""
    return Backend(config or BackendConfig())

