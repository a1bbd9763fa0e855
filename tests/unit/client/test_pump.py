"""The read pump: one greenlet reads many connections with each connection's own semantics
(messages whole, pings answered, a server's close answered and reported once, end of stream),
and a closed connection leaves the pump before its socket closes."""

from __future__ import annotations

from typing import Any

import gevent
import gevent.socket
from gevent.event import Event
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from xtalk.client.pump import ReadPump
from xtalk.client.wsconn import WsConnection

WAIT = 10.0  # a bound on each wait, never a measured time


class Peer:
    """A server end on a socket pair: the ``websockets`` server protocol."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.protocol = ServerProtocol()
        self.frames: list[Frame] = []

    def handshake(self) -> None:
        while not self.protocol.events_received():
            self.protocol.receive_data(self.sock.recv(65536))
            events = self.protocol.events_received()
            if events:
                self.protocol.send_response(self.protocol.accept(events[0]))
                self.flush()
                return

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def read(self) -> None:
        self.protocol.receive_data(self.sock.recv(65536))
        self.frames += [e for e in self.protocol.events_received() if isinstance(e, Frame)]


def connect(pump: ReadPump, n: int) -> tuple[list[WsConnection], list[Peer], dict[int, list[Any]], Event]:
    conns, peers = [], []
    seen: dict[int, list[Any]] = {i: [] for i in range(n)}
    changed = Event()
    for i in range(n):
        a, b = gevent.socket.socketpair()
        peer = Peer(b)
        server = gevent.spawn(peer.handshake)

        def on_message(data: bytes, binary: bool, i: int = i) -> None:
            seen[i].append(data)
            changed.set()

        def on_closed(code: Any, reason: str, by: str, i: int = i) -> None:
            seen[i].append(("closed", code, by))
            changed.set()

        ws = WsConnection("ws://127.0.0.1:9/ws", on_message=on_message, on_closed=on_closed)
        ws.open(timeout=WAIT, sock=a)
        server.join(WAIT)
        assert ReadPump.accepts(ws)
        pump.add(ws)
        conns.append(ws)
        peers.append(peer)
    return conns, peers, seen, changed


def finish(pump: ReadPump, conns: list[WsConnection], peers: list[Peer]) -> None:
    pump.stop()
    for ws in conns:
        ws.abort("test over")
    for peer in peers:
        peer.sock.close()


def wait_for(changed: Event, done: Any) -> None:
    for _ in range(1000):
        if done():
            return
        changed.clear()
        changed.wait(WAIT)
    assert done()


def test_one_pump_delivers_every_connections_messages_whole_and_in_order() -> None:
    pump = ReadPump()
    conns, peers, seen, changed = connect(pump, 3)
    for i, peer in enumerate(peers):
        for k in range(5):
            peer.protocol.send_text(f'{{"n":{i},"k":{k}}}'.encode())
        peer.protocol.send_text(b'{"part":', fin=False)
        peer.protocol.send_continuation(b'"two"}', fin=True)
        peer.flush()
    wait_for(changed, lambda: all(len(seen[i]) == 6 for i in range(3)))
    for i in range(3):
        assert seen[i] == [f'{{"n":{i},"k":{k}}}'.encode() for k in range(5)] + [b'{"part":"two"}']
    assert len(pump) == 3
    finish(pump, conns, peers)


def test_a_ping_read_by_the_pump_is_answered_with_a_pong() -> None:
    pump = ReadPump()
    conns, (peer,), _, _ = connect(pump, 1)
    peer.protocol.send_ping(b"hi")
    peer.flush()
    reader = gevent.spawn(lambda: [peer.read() for _ in range(3) if not peer.frames])
    reader.join(WAIT)
    assert [(f.opcode, f.data) for f in peer.frames][:1] == [(Opcode.PONG, b"hi")]
    finish(pump, conns, [peer])


def test_a_servers_close_is_answered_reported_once_and_the_connection_leaves_the_pump() -> None:
    pump = ReadPump()
    (ws,), (peer,), seen, changed = connect(pump, 1)
    peer.protocol.send_close(1008, "auth failed")
    peer.flush()
    wait_for(changed, lambda: any(isinstance(x, tuple) for x in seen[0]))
    assert seen[0] == [("closed", 1008, "server")]
    assert len(pump) == 0 and ws.sock is None and not ws.is_open
    finish(pump, [ws], [peer])


def test_end_of_stream_is_1006_by_the_server_and_the_others_read_on() -> None:
    pump = ReadPump()
    conns, peers, seen, changed = connect(pump, 2)
    peers[0].sock.close()
    peers[1].protocol.send_text(b'{"still":"here"}')
    peers[1].flush()
    wait_for(changed, lambda: seen[0] and seen[1])
    assert seen[0] == [("closed", 1006, "server")]
    assert seen[1] == [b'{"still":"here"}']
    assert len(pump) == 1
    finish(pump, conns, peers)


def test_a_client_close_completes_through_the_pump() -> None:
    pump = ReadPump()
    (ws,), (peer,), seen, changed = connect(pump, 1)
    ws.close(1000, "done")
    answer = gevent.spawn(lambda: (peer.read(), peer.flush()))
    answer.join(WAIT)
    wait_for(changed, lambda: bool(seen[0]))
    assert seen[0] == [("closed", 1000, "client")]
    assert len(pump) == 0
    finish(pump, [ws], [peer])
