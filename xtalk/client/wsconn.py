"""One WebSocket connection: the ``websockets`` sans-I/O ``ClientProtocol`` driven on a socket.

Why sans-I/O: under Locust (gevent, monkey-patched) the protocol object fed from our own
greenlets received about twice the events per second of ``websockets.sync.client`` at a third of
its memory per connection (STYLE.md; ``benchmarks/bench_ws_clients.py`` measures it again). The
socket is whatever ``socket`` is at call time: gevent's inside Locust, the blocking one elsewhere.

Shape:

- ``open()`` runs the opening handshake in the caller's greenlet, bounded by ``timeout`` (>= 30 s
  in runs: handshakes of many users compete). A refused handshake raises ``HandshakeError`` with
  the HTTP status; a socket failure raises ``OSError``.
- ``start_reader(spawn)`` runs the receive loop in one greenlet per connection (or a
  ``xtalk.client.pump.ReadPump`` reads it, with many others, through ``pump_read``); it hands every
  complete text or binary message to ``on_message(data, binary)`` and calls ``on_closed(code,
  reason, by)`` exactly once when the connection is over (``by`` is ``"client"`` when we sent the
  first close frame, else ``"server"``; 1006 when no close frame arrived).
- Every way a connection ends is reported through ``on_closed`` as soon as it is seen: a close
  frame (answered at once, whether it came with the handshake response or later), end of
  stream (1006), a socket error, or ``abort()`` after a failed send. Until then ``is_open``.
- Compression is off: no extension is offered (47 KB vs 13 KB per idle connection, ~25 % more
  events/s).
- Writes from the user's greenlet (``send_text``) and the reader's (pongs, close replies) go
  through one lock, so bytes of two frames never interleave.

The callbacks must not raise; if one does, the error is counted and the loop goes on.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

OnMessage = Callable[[bytes, bool], None]
OnClosed = Callable[[int | None, str, str], None]

_SSL_CONTEXT: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context per process: building one costs ~15 ms of CPU and ~844 KB."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


def raw_socket(sock: Any) -> Any:
    """The non-blocking OS socket under a plain gevent socket, else None (a TLS socket, a
    blocking one, a test's fake): sends try it first, and the read pump reads it."""
    try:
        from gevent.socket import socket as gevent_socket
        from gevent.ssl import SSLSocket
    except ImportError:
        return None
    raw = getattr(sock, "_sock", None)
    if isinstance(sock, gevent_socket) and not isinstance(sock, SSLSocket) and raw is not None \
            and raw.gettimeout() == 0.0:
        return raw
    return None


class HandshakeError(Exception):
    """The server answered the opening handshake with something other than 101, or hung up."""

    def __init__(self, status: int | None, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}" if status is not None else detail)


class WsConnection:
    # Thousands per worker: no per-instance dict (issue 11: <= 25 KB per session).
    __slots__ = ("url", "uri", "subprotocols", "headers", "on_message", "on_closed", "max_size", "bufsize",
                 "protocol", "sock", "subprotocol", "callback_errors", "_early", "_fragments", "_fragment_binary",
                 "_closed_reported", "_client_closed_first", "_lock", "pump", "raw_sock", "queued", "__weakref__")

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Sequence[str] = (),
        headers: dict[str, str] | None = None,
        on_message: OnMessage | None = None,
        on_closed: OnClosed | None = None,
        max_size: int | None = 2**22,
        bufsize: int = 65536,
    ) -> None:
        self.url = url
        self.uri = parse_uri(url)
        self.subprotocols = [Subprotocol(s) for s in subprotocols]
        self.headers = dict(headers or {})
        self.on_message = on_message
        self.on_closed = on_closed
        self.max_size = max_size
        self.bufsize = bufsize
        self.protocol: ClientProtocol | None = None
        self.sock: Any = None
        self.subprotocol: str | None = None
        self.callback_errors = 0
        self._early: list[Any] = []
        self._fragments: list[bytes] = []
        self._fragment_binary = False
        self._closed_reported = False
        self._client_closed_first = False
        self._lock = threading.Lock()
        self.pump: Any = None  # the ReadPump reading this connection, if one does (xtalk.client.pump)
        self.raw_sock: Any = None  # the non-blocking socket under ``sock`` (``raw_socket``)
        self.queued = False  # in the pump's ready list

    # ---- opening -----------------------------------------------------------------------------

    def open(self, timeout: float = 30.0, sock: Any = None) -> None:
        """Connect and complete the opening handshake. ``sock`` lets tests pass a fake socket."""
        if sock is None:
            sock = socket.create_connection((self.uri.host, self.uri.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.uri.secure:
                sock = shared_ssl_context().wrap_socket(sock, server_hostname=self.uri.host)
        self.sock = sock
        protocol = ClientProtocol(self.uri, subprotocols=self.subprotocols or None, max_size=self.max_size)
        self.protocol = protocol
        request = protocol.connect()
        for name, value in self.headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        try:
            self._flush()
            response = self._read_response()
        except BaseException:
            self._hard_close()
            raise
        if protocol.handshake_exc is not None or response.status_code != 101:
            self._hard_close()
            body = (response.body or b"")[:200].decode("utf-8", "replace")
            raise HandshakeError(response.status_code, body or response.reason_phrase)
        self.subprotocol = protocol.subprotocol
        sock.settimeout(None)
        self.raw_sock = raw_socket(sock)
        # The handshake's headers hold the credential and are needed no more: not kept per connection.
        self.headers = {}
        self.subprotocols = []
        # The protocol's parser keeps the response object alive for the connection's life (a local
        # of its generator): its headers and body are read, so they go (~1.5 KB a connection).
        response.headers.clear()
        response.body = b""

    def _read_response(self) -> Response:
        assert self.protocol is not None
        while True:
            data = self.sock.recv(self.bufsize)
            if not data:
                self.protocol.receive_eof()
                raise HandshakeError(None, "the server closed the connection during the handshake")
            self.protocol.receive_data(data)
            events = self.protocol.events_received()
            if events:
                response = events[0]
                if not isinstance(response, Response):
                    raise HandshakeError(None, f"unexpected handshake event {type(response).__name__}")
                self._early = events[1:]  # frames that came in the same read as the response
                return response
            if self.protocol.handshake_exc is not None:
                raise HandshakeError(None, f"invalid handshake response: {self.protocol.handshake_exc}")

    # ---- sending -----------------------------------------------------------------------------

    def send_text(self, text: str | bytes) -> None:
        assert self.protocol is not None
        data = text.encode("utf-8") if isinstance(text, str) else text
        with self._lock:
            self.protocol.send_text(data)
            self._flush_locked()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; the reader reports the close when it completes."""
        protocol = self.protocol
        if protocol is None or protocol.state is not State.OPEN:
            return
        self._client_closed_first = True
        try:
            with self._lock:
                protocol.send_close(code, reason)
                self._flush_locked()
        except OSError:
            self._hard_close()

    def _flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        assert self.protocol is not None
        chunks = self.protocol.data_to_send()
        if self.sock is None:
            return  # already torn down: nothing can be sent any more
        raw = self.raw_sock
        for chunk in chunks:
            if chunk:
                if raw is not None:  # most frames fit the socket's buffer: one system call
                    try:
                        sent = raw.send(chunk)
                    except (BlockingIOError, InterruptedError):
                        sent = 0
                    if sent == len(chunk):
                        continue
                    chunk = chunk[sent:]
                self.sock.sendall(chunk)  # the rest, waiting for the buffer as gevent does
            else:  # SEND_EOF: half-close
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    # ---- receiving ---------------------------------------------------------------------------

    def start_reader(self, spawn: Callable[..., Any], pause: Callable[[], Any] | None = None) -> Any:
        """Run the receive loop in a new greenlet (or thread): ``spawn(fn)`` starts it. ``pause``
        is called after each read: ``gevent.idle``-like, so that a connection whose socket always
        has data (a busy server) cannot starve every other greenlet — a gevent socket ``recv``
        with data ready returns without ever switching."""
        return spawn(self.read_loop, pause)

    def settle_early(self) -> None:
        """Handle the frames that arrived in the same read as the handshake response, now.

        A server that accepts and then refuses (an error frame and close 1008, as the profile's
        ``refusal`` describes) often sends its refusal in that very read. Those frames must be
        delivered, the close answered and reported before anyone sends on this connection:
        otherwise the connection looks open (the protocol is CLOSING, every send fails) and the
        server waits for a close reply that never comes. Idempotent; the reader calls it too."""
        early, self._early = self._early, []
        if early:
            self._settle(early, eof=False)

    def read_loop(self, pause: Callable[[], Any] | None = None) -> None:
        protocol = self.protocol
        assert protocol is not None
        self.settle_early()
        while not self._closed_reported:
            sock = self.sock
            if sock is None:
                self._torn_down()
                break
            try:
                data = sock.recv(self.bufsize)
            except OSError as error:
                self._socket_error(error)
                break
            self.feed(data)
            if pause is not None:
                pause()

    def pump_read(self) -> None:
        """One read for the read pump, which saw the socket readable: what one turn of
        ``read_loop`` does, without blocking (nothing there: nothing done)."""
        if self.sock is None:
            self._torn_down()
            return
        try:
            data = self.raw_sock.recv(self.bufsize)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._socket_error(error)
            return
        self.feed(data)

    def _torn_down(self) -> None:
        self._report_closed(1006, "connection torn down", "client" if self._client_closed_first else "server")

    def _socket_error(self, error: OSError) -> None:
        """A read failed: closed with the close frame's code if one came, else 1006."""
        by = "client" if self._client_closed_first else "server"
        received = self.protocol.close_rcvd if self.protocol is not None else None
        self._report_closed(received.code if received is not None else 1006, f"socket error: {error}", by)

    def feed(self, data: bytes) -> None:
        """Process bytes read from the socket (b"" is end of stream). Public for tests."""
        protocol = self.protocol
        assert protocol is not None
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        self._settle(protocol.events_received(), eof=not data)

    def _settle(self, events: list[Any], *, eof: bool) -> None:
        """Deliver ``events``, send what the protocol queued (pongs, the close reply), and report
        the close once the WebSocket is over."""
        protocol = self.protocol
        assert protocol is not None
        self._dispatch(events)
        try:
            self._flush()
        except OSError:
            pass
        # Closed once the stream ended, or once both close frames have crossed: the WebSocket is
        # over then, whether or not the server ever closes its TCP side (some never do).
        if protocol.state is State.CLOSED or eof or (
                protocol.close_rcvd is not None and protocol.close_sent is not None):
            by = "client" if self._client_closed_first else "server"
            received = protocol.close_rcvd  # 1006 when no close frame came (websockets' rule)
            code, reason = (received.code, received.reason) if received is not None else (1006, "")
            self._report_closed(code, reason, by)

    def _dispatch(self, events: list[Any]) -> None:
        for event in events:
            if not isinstance(event, Frame):
                continue
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if event.fin:
                    self._deliver(bytes(event.data), opcode is Opcode.BINARY)
                else:
                    self._fragments = [bytes(event.data)]
                    self._fragment_binary = opcode is Opcode.BINARY
            elif opcode is Opcode.CONT:
                self._fragments.append(bytes(event.data))
                if event.fin:
                    data = b"".join(self._fragments)
                    self._fragments = []
                    self._deliver(data, self._fragment_binary)
            # PING/PONG/CLOSE: the protocol object already queued the pong / close reply.

    def _deliver(self, data: bytes, binary: bool) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(data, binary)
        except Exception:
            self.callback_errors += 1

    def abort(self, reason: str) -> None:
        """The connection cannot be used any more (a send failed: reset, broken pipe, or the
        protocol already closing): tear the socket down and report the close now, once. The close
        is the server's unless we started closing: the code is the server's close frame's, or
        1006 when none came. A reader blocked on the socket wakes with an error and stops."""
        protocol = self.protocol
        received = protocol.close_rcvd if protocol is not None else None
        by = "client" if self._client_closed_first else "server"
        if received is not None:
            self._report_closed(received.code, received.reason, by)
        else:
            self._report_closed(1006, reason, by)

    def _report_closed(self, code: int | None, reason: str, by: str) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        self._hard_close()
        if self.on_closed is not None:
            try:
                self.on_closed(code, reason, by)
            except Exception:
                self.callback_errors += 1

    def _hard_close(self) -> None:
        if self.pump is not None:
            self.pump.remove(self)  # its watcher goes before its descriptor does
        sock, self.sock, self.raw_sock = self.sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def is_open(self) -> bool:
        return self.protocol is not None and self.protocol.state is State.OPEN and not self._closed_reported
