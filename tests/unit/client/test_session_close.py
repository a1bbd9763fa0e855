"""Every way the server ends a connection is recorded at once, fails the requests in flight on
it, and leads to a reconnect after a bounded backoff; token refreshes never cut a request.

Fake sockets only: a real ``ServerProtocol`` answers the client's bytes in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from websockets.frames import Opcode

from xtalk.client import auth as auth_mod
from xtalk.client import wsconn as wsconn_mod
from xtalk.client.session import RECONNECT_BASE, RECONNECT_CAP, Session, backoff_delay
from xtalk.client.tracker import Outcome
from xtalk.scenario.model import Auth, Journey, Scenario, Step

from .fakes import FakeSocket
from .test_session import SECRET, ScriptedWaiter, attach_tab, history, make


class Sockets:
    """Stands in for ``socket.create_connection``: hands out scripted fake sockets in order."""

    def __init__(self, *scripts: dict[str, Any]) -> None:
        self.scripts = list(scripts)
        self.made: list[FakeSocket] = []

    def __call__(self, _address: Any, timeout: float | None = None) -> FakeSocket:
        sock = FakeSocket(**(self.scripts.pop(0) if self.scripts else {}))
        self.made.append(sock)
        return sock


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> Sockets:
    made = Sockets()
    monkeypatch.setattr(wsconn_mod.socket, "create_connection", made)
    return made


def logged_in(tmp_path: Path, scenario: Scenario | None = None, user: str = "u0001") -> Session:
    harness, _ = make(tmp_path, scenario=scenario)
    session = Session(harness, user, 1, Journey())
    assert session.login()
    return session


def test_a_refusal_sent_with_the_handshake_response_is_closed_before_anyone_sends(
        tmp_path: Path, sockets: Sockets) -> None:
    sockets.scripts = [{"refuse": True}]
    session = logged_in(tmp_path)
    tab = session.open_tab(None)
    assert tab is not None and not tab.alive and tab.close_code == 1008
    assert session.next_tabs() == [] and not session.next_tabs_alive()
    # The close was answered: the server is not left waiting for the client's close frame.
    assert [f.opcode for f in sockets.made[0].client_frames] == [Opcode.CLOSE]
    session.h.recorder.close()
    kinds = [(r["kind"], r.get("conn")) for r in history(tmp_path)]
    assert kinds == [("login", None), ("open", "u0001-c1"), ("recv", "u0001-c1"), ("error", "u0001-c1"),
                     ("close", "u0001-c1")]
    refused = history(tmp_path)[3]  # the refused token: a client error of phase auth, not an anomaly
    assert refused["phase"] == "auth" and "AUTH_FAILED" in refused["detail"]
    close = history(tmp_path)[-1]
    assert (close["code"], close["by"]) == (1008, "server")


@pytest.mark.parametrize("ending", ["close_1008", "close_1011", "eof", "reset"])
def test_a_server_ending_mid_request_is_recorded_once_and_fails_the_request(
        tmp_path: Path, ending: str) -> None:
    session = logged_in(tmp_path)
    tab, sock = attach_tab(session)

    def server() -> None:
        if ending.startswith("close_"):
            sock.server.send_close(int(ending[6:]), "bye")
            tab.ws.feed(sock.take())
        elif ending == "eof":
            tab.ws.feed(b"")
        else:  # a TCP reset seen by the reader
            sock.reset_on_recv = True
            tab.ws.read_loop()

    ScriptedWaiter.script = server
    try:
        assert session.run_step(Step(), 0) == [Outcome.CLOSED]
    finally:
        ScriptedWaiter.script = None
    session.h.recorder.close()
    closes = [r for r in history(tmp_path) if r["kind"] == "close"]
    assert len(closes) == 1 and closes[0]["by"] == "server"
    assert closes[0]["code"] == {"close_1008": 1008, "close_1011": 1011}.get(ending, 1006)
    assert not tab.alive and session.next_tabs() == [] and session.h.in_flight == 0


def test_a_send_that_hits_a_reset_records_the_close_by_the_server_and_fails_at_once(tmp_path: Path) -> None:
    session = logged_in(tmp_path)
    tab, sock = attach_tab(session)
    sock.reset_on_send = True
    assert session.run_step(Step(), 0) == [Outcome.CLOSED]
    session.h.recorder.close()
    records = history(tmp_path)
    assert [r["kind"] for r in records][-3:] == ["send", "error", "close"]
    assert (records[-1]["code"], records[-1]["by"]) == (1006, "server")
    assert "ConnectionResetError" in records[-2]["detail"]
    assert not tab.alive and session.next_tabs() == []


def test_a_send_on_a_connection_whose_close_was_not_yet_reported_ends_it(tmp_path: Path) -> None:
    session = logged_in(tmp_path)
    tab, sock = attach_tab(session)
    # The server's close frame reached the protocol but nobody reported it yet: the tab is no
    # longer offered for a step, and a send forced onto it fails and closes it properly.
    sock.server.send_close(1008, "policy violation")
    assert tab.ws.protocol is not None
    tab.ws.protocol.receive_data(sock.take())
    tab.ws.protocol.events_received()
    assert session.next_tabs() == []
    waiter = session._send(tab, "u0001-r1", Step(), 0, "hello", None)
    assert waiter.value is not None and waiter.value.outcome is Outcome.CLOSED
    session.h.recorder.close()
    records = history(tmp_path)
    assert [r["kind"] for r in records][-3:] == ["send", "error", "close"]
    assert "InvalidState" in records[-2]["detail"]
    assert (records[-1]["code"], records[-1]["by"]) == (1008, "server")
    assert not tab.alive and tab.close_code == 1008


def test_reconnect_waits_a_bounded_backoff_logs_in_again_after_1008_and_opens_a_new_tab(
        tmp_path: Path, sockets: Sockets) -> None:
    sockets.scripts = [{"refuse": True}, {}]
    session = logged_in(tmp_path)
    session.tabs.append(session.open_tab(None))  # type: ignore[arg-type]
    slept: list[float] = []
    assert session.reconnect(slept.append) == 1
    assert len(slept) == 1 and RECONNECT_BASE / 2 <= slept[0] <= RECONNECT_BASE
    assert [tab.conn for tab in session.tabs] == ["u0001-c2"] and session.tabs[0].alive
    session.h.recorder.close()
    logins = [r for r in history(tmp_path) if r["kind"] == "login"]
    assert [r.get("refresh", False) for r in logins] == [False, True]


def test_failed_reconnects_back_off_exponentially_up_to_the_cap(tmp_path: Path, sockets: Sockets) -> None:
    sockets.scripts = [{"refuse": True}] * 12
    session = logged_in(tmp_path)
    session.tabs.append(session.open_tab(None))  # type: ignore[arg-type]
    slept: list[float] = []
    for _ in range(10):
        assert session.reconnect(slept.append) == 0
    assert session.reconnect_failures == 10
    assert all(0 < s <= RECONNECT_CAP for s in slept)
    assert max(slept[-3:]) > RECONNECT_CAP / 2 > max(slept[:2])
    session.h.recorder.close()


def test_backoff_is_bounded_and_never_zero() -> None:
    for failures in range(40):
        for draw in (0.0, 0.5, 0.999):
            delay = backoff_delay(failures, draw)
            assert RECONNECT_BASE / 2 <= delay <= RECONNECT_CAP
    assert backoff_delay(1, 0.0) == 2 * backoff_delay(0, 0.0)


def test_a_dead_tab_of_several_is_replaced_before_the_next_step(tmp_path: Path, sockets: Sockets) -> None:
    harness, _ = make(tmp_path)
    session = Session(harness, "u0002", 2, Journey(tabs=2))
    assert session.login()
    assert session.open_tabs() == 2
    first = session.tabs[0]
    sockets.made[0].server.send_close(1011, "internal error")
    first.ws.feed(sockets.made[0].take())
    assert not first.alive
    session.run_step(Step(), 0)  # deadline at once with the fake waiter; the point is the tabs
    assert [tab.conn for tab in session.tabs if tab.alive] == ["u0002-c2", "u0002-c3"]
    harness.recorder.close()


def test_a_refresh_retires_old_tabs_and_closes_each_only_when_its_request_ended(
        tmp_path: Path, sockets: Sockets) -> None:
    session = logged_in(tmp_path)
    assert session.open_tabs() == 1
    old = session.tabs[0]
    old_sock = sockets.made[0]
    # One request in flight on the old tab, as in open pacing.
    waiter = session._send(old, "u0001-r1", Step(), 0, "hello", None)
    assert session.refresh()
    assert old.retiring and old.alive and old.ws.is_open  # not cut: its request is in flight
    assert [tab.conn for tab in session.next_tabs()] == ["u0001-c2"]
    for frame in ({"type": "agent_started", "run_id": "r1"}, {"type": "agent_completed", "run_id": "r1"}):
        old.ws.feed(old_sock.push_text(orjson.dumps(frame).decode()))
    assert waiter.value is not None and waiter.value.outcome is Outcome.OK
    assert [f.opcode for f in old_sock.client_frames][-1] is Opcode.CLOSE  # closed by the client now
    old.ws.feed(old_sock.recv(65536))
    session.h.recorder.close()
    close = [r for r in history(tmp_path) if r["kind"] == "close"]
    assert [(c["conn"], c["by"], c["code"]) for c in close] == [("u0001-c1", "client", 1000)]


def test_a_refresh_without_requests_in_flight_closes_the_old_tabs_at_once(tmp_path: Path, sockets: Sockets) -> None:
    session = logged_in(tmp_path)
    session.open_tabs()
    old = session.tabs[0]
    assert session.refresh()
    assert [f.opcode for f in sockets.made[0].client_frames] == [Opcode.CLOSE]
    assert session.tabs[0] is not old and session.retired == []
    session.h.recorder.close()


def test_a_token_is_refreshed_at_80_percent_of_the_shorter_lifetime(tmp_path: Path) -> None:
    session = logged_in(tmp_path, Scenario(auth=Auth(token_lifetime=900.0)))
    assert session.creds is not None
    session.creds = auth_mod.Credentials(session.creds.email, "x", "t", None, lifetime=10.0)
    assert session.token_lifetime() == 10.0
    session.token_at = session.h.recorder.now() - 7.9
    assert not session.token_due()
    session.token_at = session.h.recorder.now() - 8.1
    assert session.token_due()
    session.h.recorder.close()


def test_token_lifetime_is_read_from_the_token_or_the_service() -> None:
    token = jwt.encode({"sub": "a", "iat": 1000, "exp": 1004}, SECRET, algorithm="HS256")
    assert auth_mod.lifetime_of(token) == 4.0
    assert auth_mod.lifetime_of("not-a-jwt", 900) == 900.0
    assert auth_mod.lifetime_of("not-a-jwt", None) is None
    assert auth_mod.lifetime_of("not-a-jwt", True) is None
