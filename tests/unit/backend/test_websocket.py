"""The WebSocket endpoint: handshake, authentication after accept, welcome, keepalive, acks."""

from __future__ import annotations

import asyncio

import pytest

from backend.driver import FakeSocket, Harness, run


async def _settled(sock: FakeSocket) -> FakeSocket:
    for _ in range(10):
        await asyncio.sleep(0)
    return sock


def test_token_in_subprotocol_is_accepted_and_jwt_auth_is_selected() -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user)
        assert sock.accepted is not None and sock.accepted["subprotocol"] == "jwt-auth"
        welcome = sock.frames[0]
        assert welcome["type"] == "connection_established"
        assert welcome["data"]["user_id"] == user.id[:8] + "..."
        assert welcome["data"]["mode"] == "main"
    run(go)


@pytest.mark.parametrize("where", ["header", "query"])
def test_token_in_header_or_query_is_accepted(where: str) -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        if where == "header":
            sock = FakeSocket(h.app, headers=(("Authorization", f"Bearer {user.token}"),))
        else:
            sock = FakeSocket(h.app, query=f"token={user.token}")
        await _settled(sock)
        assert sock.close_code is None
        assert sock.frames[0]["type"] == "connection_established"
    run(go)


@pytest.mark.parametrize("token", ["not-a-jwt", None])
def test_bad_or_missing_token_gets_auth_failed_after_accept_then_1008(token: str | None) -> None:
    async def go() -> None:
        h = Harness()
        protocols = ("jwt-auth", f"jwt.{token}") if token else ("jwt-auth",)
        sock = await _settled(FakeSocket(h.app, subprotocols=protocols))
        assert sock.accepted is not None  # accept first ...
        assert sock.frames == [sock.frames[0]] and sock.frames[0]["type"] == "error_message"
        assert sock.frames[0]["error_code"] == "AUTH_FAILED"
        assert sock.close_code == 1008  # ... authenticate after
        assert len(h.app.registry) == 0
    run(go)


def test_offered_subprotocols_with_nothing_acceptable_close_1003() -> None:
    async def go() -> None:
        h = Harness()
        sock = await _settled(FakeSocket(h.app, subprotocols=("graphql-ws",)))
        assert sock.close_code == 1003
    run(go)


@pytest.mark.parametrize(("mode", "path", "welcome"), [
    ("isolated", "/ws", "isolated_connection_established"),
    ("legacy", "/ws", "legacy_connection_established"),
    (None, "/ws/isolated", "isolated_connection_established"),
    (None, "/api/v1/websocket", "connection_established"),
])
def test_mode_and_path_choose_the_engine_and_its_welcome(mode: str | None, path: str,
                                                         welcome: str) -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user, mode, path)
        assert sock.frames[0]["type"] == welcome
    run(go)


def test_factory_path_sends_the_older_system_message_welcome_with_the_full_id() -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user, None, "/ws/factory")
        frame = sock.frames[0]
        assert frame["type"] == "system_message"
        assert frame["data"]["event"] == "connection_established"
        assert frame["data"]["user_id"] == user.id
    run(go)


def test_ping_heartbeat_and_unknown_types_get_pong_ack_and_ack() -> None:
    async def go() -> None:
        h = Harness()
        sock = await h.connect(await h.user("a@x.io"))
        await sock.send({"type": "ping"})
        await sock.send({"type": "heartbeat"})
        await sock.send({"type": "typing"})
        kinds = [f["type"] for f in sock.frames[1:]]
        assert kinds == ["pong", "heartbeat_ack", "ack"]
        assert sock.frames[-1]["received_type"] == "typing"
    run(go)


def test_non_json_and_oversized_messages_get_error_frames_and_the_socket_stays_open() -> None:
    async def go() -> None:
        h = Harness()
        sock = await h.connect(await h.user("a@x.io"))
        sock.inbox.put_nowait({"type": "websocket.receive", "text": "{nope"})
        sock.inbox.put_nowait({"type": "websocket.receive", "text": "x" * 9000})
        await _settled(sock)
        assert [f["error_code"] for f in sock.frames[1:]] == ["INVALID_JSON", "MESSAGE_TOO_LARGE"]
        assert sock.close_code is None
    run(go)


def test_disconnect_removes_the_connection_from_the_registry() -> None:
    async def go() -> None:
        h = Harness()
        sock = await h.connect(await h.user("a@x.io"))
        assert len(h.app.registry) == 1
        await sock.disconnect()
        assert len(h.app.registry) == 0
    run(go)
