"""Test doubles for the session client: an in-memory WebSocket server behind a fake socket, a
waiter that needs no gevent hub, and a collector of Locust reports."""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol


class FakeSocket:
    """Bytes the client sends go into a real ``ServerProtocol``; what the server answers waits in
    ``pending`` until the client ``recv``s it. No network, no threads."""

    def __init__(self, *, reject: tuple[int, str] | None = None, subprotocols: tuple[str, ...] = ("jwt-auth",),
                 refuse: bool = False, reset_on_send: bool = False, reset_on_recv: bool = False) -> None:
        self.server = ServerProtocol(subprotocols=[Subprotocol(s) for s in subprotocols])
        self.reject = reject
        # refuse: accept, then at once AUTH_FAILED + close 1008 (NETRA_PROTOCOL §2), all in the
        # bytes the client reads with the handshake response.
        self.refuse = refuse
        self.reset_on_send = reset_on_send  # after the handshake, sendall raises ECONNRESET
        self.reset_on_recv = reset_on_recv  # after the handshake, recv raises ECONNRESET
        self.request: Request | None = None
        self.client_frames: list[Frame] = []
        self.pending: list[bytes] = []
        self.closed = False
        self.shut = False

    # socket API used by WsConnection
    def sendall(self, data: bytes) -> None:
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        if self.reset_on_send and self.request is not None:
            raise ConnectionResetError(104, "Connection reset by peer")
        self.server.receive_data(data)
        for event in self.server.events_received():
            if isinstance(event, Request):
                self.request = event
                if self.reject is not None:
                    response = self.server.reject(self.reject[0], self.reject[1])
                else:
                    response = self.server.accept(event)
                self.server.send_response(response)
                if self.refuse and self.reject is None:
                    self.server.send_text(b'{"type":"error_message","error_code":"AUTH_FAILED"}')
                    self.server.send_close(1008, "policy violation")
            else:
                self.client_frames.append(event)
        self.pending.extend(d for d in self.server.data_to_send() if d)

    def recv(self, _n: int) -> bytes:
        if self.reset_on_recv and self.request is not None and not self.pending:
            raise ConnectionResetError(104, "Connection reset by peer")
        data = b"".join(self.pending)
        self.pending.clear()
        return data

    def settimeout(self, _t: float | None) -> None:
        pass

    def setsockopt(self, *_args: object) -> None:
        pass

    def shutdown(self, _how: int) -> None:
        self.shut = True

    def close(self) -> None:
        self.closed = True

    # server side, for the test to script
    def push_text(self, text: str, fin: bool = True) -> bytes:
        self.server.send_text(text.encode(), fin=fin)
        return self.take()

    def take(self) -> bytes:
        data = b"".join(d for d in self.server.data_to_send() if d)
        return data


class FakeWaiter:
    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value

    def wait(self, timeout: float | None = None) -> Any:
        return self.value


class Reports:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, Exception | None]] = []

    def __call__(self, name: str, ms: float, exc: Exception | None) -> None:
        self.calls.append((name, ms, exc))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]
