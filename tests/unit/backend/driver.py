"""Drive the reference backend's ASGI app in process: no sockets, no server, no sleeps.

``Harness`` owns a ``Backend`` built with zero delays (runs still yield at every step, so runs of
different users interleave as they do on a real loop), and offers HTTP calls and fake WebSocket
clients that speak ASGI messages directly. ``settle()`` waits until every run has finished.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from xtalk.backend.app import Backend, build_app
from xtalk.backend.config import BackendConfig

T = TypeVar("T")

FAST = dict(delay_min=0.0, delay_max=0.0, retry_delays=(0.0, 0.0), slow_handshake=0.0,
            heartbeat_after=0.0)


def fast_config(**overrides: Any) -> BackendConfig:
    return BackendConfig(**{**FAST, "jwt_secret": "test-secret-0123456789abcdef0123456789", **overrides})


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


class FakeSocket:
    """One client WebSocket: what it sends goes to the app's receive, what the app sends lands
    in ``messages`` (raw ASGI messages) and ``frames`` (the parsed JSON text frames)."""

    def __init__(self, app: Backend, path: str = "/ws", query: str = "",
                 subprotocols: tuple[str, ...] = (), headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.messages: list[dict[str, Any]] = []
        self.accepted: dict[str, Any] | None = None
        self.close_code: int | None = None
        scope = {
            "type": "websocket", "path": path, "query_string": query.encode(),
            "subprotocols": list(subprotocols),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        }
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.get_running_loop().create_task(app(scope, self.inbox.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        if self.close_code is not None:
            raise RuntimeError("send after close")  # what uvicorn does
        if message["type"] == "websocket.accept":
            self.accepted = message
        elif message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
        else:
            self.messages.append(message)

    @property
    def frames(self) -> list[dict[str, Any]]:
        out = []
        for message in self.messages:
            text = message.get("text")
            if text is not None:
                try:
                    out.append(orjson.loads(text))
                except orjson.JSONDecodeError:
                    continue
        return out

    def events(self) -> list[dict[str, Any]]:
        """Agent events (any family), with the ids pulled up from data/payload for tests."""
        out = []
        for frame in self.frames:
            kind = frame.get("type")
            if kind in ("agent_started", "agent_thinking", "reasoning", "tool_executing",
                        "tool_completed", "agent_completed"):
                out.append(flatten(frame))
        return out

    async def send(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": orjson.dumps(frame).decode()})
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def ask(self, text: str, thread_id: str | None = None, kind: str = "start_agent") -> None:
        if kind == "start_agent":
            await self.send({"type": "start_agent", "payload": {
                "user_request": text, "thread_id": thread_id, "context": {"source": "message_input"},
                "settings": {}}})
        else:
            await self.send({"type": kind, "payload": {"content": text, "references": [],
                                                       "thread_id": thread_id}})

    async def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


def flatten(frame: dict[str, Any]) -> dict[str, Any]:
    """Top-level ids, else data/payload ids, else data.context: enough for these tests."""
    out = dict(frame)
    for nest in ("data", "payload"):
        inner = frame.get(nest)
        if isinstance(inner, dict):
            for key, value in inner.items():
                out.setdefault(key, value)
            context = inner.get("context")
            if isinstance(context, dict):
                for key, value in context.items():
                    out.setdefault(key, value)
    if out.get("type") == "reasoning":
        out["type"] = "agent_thinking"
    return out


@dataclasses.dataclass
class User:
    email: str
    id: str
    token: str
    thread: str


class Harness:
    def __init__(self, config: BackendConfig | None = None) -> None:
        self.app = build_app(config or fast_config())

    async def http(self, method: str, path: str, body: Any = None,
                   headers: tuple[tuple[str, str], ...] = ()) -> tuple[int, dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        raw = b"" if body is None else orjson.dumps(body)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        inbox.put_nowait({"type": "http.request", "body": raw, "more_body": False})
        scope = {"type": "http", "method": method, "path": path,
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, inbox.get, send)
        status = sent[0]["status"]
        return status, orjson.loads(sent[1]["body"])

    async def user(self, email: str) -> User:
        status, body = await self.http("POST", "/auth/register", {"email": email, "password": "pw"})
        assert status == 200, body
        token = body["access_token"]
        status, thread = await self.http("POST", "/api/threads", {},
                                         (("Authorization", f"Bearer {token}"),))
        assert status == 200, thread
        return User(email, body["user"]["id"], token, thread["id"])

    async def connect(self, user: User, mode: str | None = None, path: str = "/ws") -> FakeSocket:
        query = f"mode={mode}" if mode else ""
        sock = FakeSocket(self.app, path, query, ("jwt-auth", f"jwt.{user.token}"))
        for _ in range(5):
            await asyncio.sleep(0)
        return sock

    async def settle(self, rounds: int = 50) -> None:
        """Wait until no run is in flight (every run task has finished)."""
        for _ in range(rounds):
            tasks = list(self.app.service.tasks)
            if not tasks:
                await asyncio.sleep(0)
                if not self.app.service.tasks:
                    return
                continue
            await asyncio.gather(*tasks, return_exceptions=True)
        raise AssertionError("runs did not finish")
