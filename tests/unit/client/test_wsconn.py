"""The sans-I/O WebSocket connection, driven against a real ServerProtocol behind a fake socket."""

from __future__ import annotations

import pytest

from xtalk.client.wsconn import HandshakeError, WsConnection

from .fakes import FakeSocket


def _open(**kwargs: object) -> tuple[WsConnection, FakeSocket, list[tuple[bytes, bool]], list[tuple]]:
    messages: list[tuple[bytes, bool]] = []
    closes: list[tuple] = []
    ws = WsConnection("ws://127.0.0.1:9/ws?mode=main", subprotocols=["jwt-auth", "jwt.abc.def.ghi"],
                      headers={"Authorization": "Bearer abc.def.ghi"},
                      on_message=lambda d, b: messages.append((d, b)),
                      on_closed=lambda c, r, by: closes.append((c, r, by)))
    sock = FakeSocket(**kwargs)  # type: ignore[arg-type]
    ws.open(timeout=30.0, sock=sock)
    return ws, sock, messages, closes


def test_handshake_offers_both_jwt_subprotocols_and_the_bearer_header() -> None:
    ws, sock, _, _ = _open()
    assert sock.request is not None
    assert sock.request.path == "/ws?mode=main"
    assert sock.request.headers["Sec-WebSocket-Protocol"] == "jwt-auth, jwt.abc.def.ghi"
    assert sock.request.headers["Authorization"] == "Bearer abc.def.ghi"
    assert ws.subprotocol == "jwt-auth"
    assert ws.is_open


def test_handshake_offers_no_compression_extension() -> None:
    _, sock, _, _ = _open()
    assert sock.request is not None
    assert "Sec-WebSocket-Extensions" not in sock.request.headers


def test_refused_handshake_raises_with_the_http_status() -> None:
    with pytest.raises(HandshakeError) as info:
        _open(reject=(403, "no entry"))
    assert info.value.status == 403
    assert "no entry" in info.value.detail


def test_text_messages_reach_the_callback_whole_even_when_fragmented() -> None:
    ws, sock, messages, _ = _open()
    ws.feed(sock.push_text('{"type":"a"}'))
    sock.server.send_text(b'{"type":', fin=False)
    sock.server.send_continuation(b'"b"}', fin=True)
    ws.feed(sock.take())
    assert messages == [(b'{"type":"a"}', False), (b'{"type":"b"}', False)]


def test_client_text_is_sent_as_one_masked_text_frame() -> None:
    ws, sock, _, _ = _open()
    ws.send_text('{"type":"ping"}')
    assert [f.data for f in sock.client_frames] == [b'{"type":"ping"}']


def test_server_close_is_reported_once_as_by_server_with_its_code() -> None:
    ws, sock, _, closes = _open()
    sock.server.send_close(1008, "auth failed")
    ws.feed(sock.take())
    ws.feed(b"")  # the server's TCP close
    assert closes == [(1008, "auth failed", "server")]
    assert not ws.is_open


def test_client_close_is_reported_as_by_client() -> None:
    ws, sock, _, closes = _open()
    ws.close(1000, "done")
    ws.feed(sock.recv(65536))  # the server's close reply
    ws.feed(b"")
    assert closes and closes[0][2] == "client"
    assert closes[0][0] == 1000


def test_end_of_stream_without_close_frame_is_1006_by_server() -> None:
    ws, _, _, closes = _open()
    ws.feed(b"")
    assert closes == [(1006, "", "server")]


def test_a_raising_callback_is_counted_not_propagated() -> None:
    ws = WsConnection("ws://127.0.0.1:9/ws", on_message=lambda d, b: 1 / 0)
    sock = FakeSocket(subprotocols=())
    ws.open(sock=sock)
    ws.feed(sock.push_text("x"))
    assert ws.callback_errors == 1


def test_a_refusal_that_came_with_the_handshake_response_is_delivered_answered_and_reported() -> None:
    ws, sock, messages, closes = _open(refuse=True)
    assert closes == []  # nothing is read past the handshake until someone settles it
    ws.settle_early()
    assert messages == [(b'{"type":"error_message","error_code":"AUTH_FAILED"}', False)]
    assert closes == [(1008, "policy violation", "server")]
    assert not ws.is_open and sock.closed
    assert [f.opcode.name for f in sock.client_frames] == ["CLOSE"]  # the close reply went out
    ws.settle_early()  # idempotent
    ws.read_loop()  # the reader finds the connection over and reports nothing more
    assert len(closes) == 1 and len(messages) == 1


def test_abort_after_a_failed_send_reports_the_servers_close_once() -> None:
    ws, _, _, closes = _open()
    ws.abort("send failed: ConnectionResetError")
    ws.abort("again")
    assert closes == [(1006, "send failed: ConnectionResetError", "server")]
