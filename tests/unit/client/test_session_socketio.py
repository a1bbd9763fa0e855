"""A session on a Socket.IO profile (chainlit), against an in-memory Socket.IO server: the login
cookie rides on the handshake, the opening sequence (open, connect, hello) runs before any
request, a refused connect leaves the tab dead, requests are answered by parent chains rooted at
the echoed message id, and nothing secret is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from websockets.frames import Opcode

from xtalk.client import wsconn as wsconn_mod
from xtalk.client.recorder import Recorder
from xtalk.client.session import Harness, Session
from xtalk.client.tracker import Outcome
from xtalk.scenario.model import Auth, Journey, Scenario, Step

from .fakes import FakeSocket, Reports

SECRET = "chainlit-secret-0123456789-abcdefghij"
PASSWORD = "pw-0123"


class SocketIOServer(FakeSocket):
    """Speaks Engine.IO/Socket.IO back: open on accept, connect (or refuse) on 40, a scripted
    run on each client_message."""

    def __init__(self, *, refuse_connect: bool = False) -> None:
        super().__init__(subprotocols=())
        self.refuse_connect = refuse_connect
        self.texts: list[str] = []

    def sendall(self, data: bytes) -> None:
        accepted = self.request is not None
        super().sendall(data)
        if not accepted and self.request is not None:
            self._say('0{"sid":"e1","upgrades":[],"pingTimeout":20000,"pingInterval":25000,"maxPayload":1000000}')
        while self.client_frames:
            frame = self.client_frames.pop(0)
            if frame.opcode is Opcode.TEXT:
                text = bytes(frame.data).decode()
                self.texts.append(text)
                self._answer(text)

    def _say(self, text: str) -> None:
        self.server.send_text(text.encode())
        self.pending.extend(d for d in self.server.data_to_send() if d)

    def _answer(self, text: str) -> None:
        if text.startswith("40"):
            self._say('44{"message":"Connection refused by server"}' if self.refuse_connect else '40{"sid":"s1"}')
        elif text.startswith("42"):
            name, *args = json.loads(text[2:])
            if name == "client_message":
                message = args[0]["message"]
                for event, data in run(message["id"], message["output"]):
                    self._say("42" + json.dumps([event, data]))


def run(message_id: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    step = {"threadId": "th-1", "streaming": False}
    return [
        ("task_start", {}),
        ("new_message", {**step, "id": "root", "parentId": message_id, "name": "on_message", "type": "run", "end": None}),
        ("new_message", {**step, "id": "llm1", "parentId": "root", "name": "model", "type": "llm", "end": None}),
        ("new_message", {**step, "id": "tool1", "parentId": "root", "name": "get_weather", "type": "tool", "end": None}),
        ("update_message", {**step, "id": "tool1", "parentId": "root", "name": "get_weather", "type": "tool",
                            "end": "2026-12-01T00:00:01Z"}),
        ("stream_start", {**step, "id": "answer", "parentId": "root", "type": "assistant_message"}),
        ("stream_token", {"id": "answer", "token": text}),
        ("update_message", {**step, "id": "root", "parentId": message_id, "name": "on_message", "type": "run",
                            "end": "2026-12-01T00:00:02Z"}),
        ("task_end", {}),
    ]


class Pump:
    """Stands in for gevent: the reader 'greenlets' are fed whatever their sockets hold
    whenever somebody waits."""

    def __init__(self) -> None:
        self.conns: list[Any] = []

    def spawn(self, fn: Any, *_args: Any) -> None:
        self.conns.append(fn.__self__)

    def pump(self) -> None:
        for ws in self.conns:
            while ws.sock is not None and ws.sock.pending:
                ws.feed(ws.sock.recv(0))

    def waiter(self) -> Any:
        pump = self

        class Waiter:
            value: Any = None

            def set(self, value: Any) -> None:
                self.value = value

            def wait(self, timeout: float | None = None) -> Any:
                pump.pump()
                return self.value

        return Waiter()


def login_backend(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/login"
    form = dict(x.split("=") for x in request.content.decode().split("&"))
    if form["password"] != PASSWORD:
        return httpx.Response(401, json={"detail": "credentialssignin"})
    token = jwt.encode({"identifier": form["username"], "exp": 2_000_000_000, "iat": 1_900_000_000}, SECRET)
    return httpx.Response(200, json={"success": True},
                          headers={"set-cookie": f"access_token={token}; HttpOnly; Path=/; SameSite=lax"})


OPEN_RECORDERS: list[Recorder] = []


@pytest.fixture(autouse=True)
def recorders() -> Any:
    yield
    while OPEN_RECORDERS:
        OPEN_RECORDERS.pop().close()


def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **server: Any) -> tuple[Session, list[SocketIOServer]]:
    made: list[SocketIOServer] = []

    def connect(_address: Any, timeout: float | None = None) -> SocketIOServer:
        sock = SocketIOServer(**server)
        made.append(sock)
        return sock

    monkeypatch.setattr(wsconn_mod.socket, "create_connection", connect)
    pump = Pump()
    scenario = Scenario(profile="chainlit", engines=(), journeys=(Journey(steps=(Step(kind="client_message"),)),),
                        auth=Auth(strategy="login", email="xtalk-{user}", password_env="PW"))
    harness = Harness(scenario=scenario, recorder=Recorder(tmp_path / "history.jsonl", clock_zero=0.0,
                                                           install_handlers=False),
                      http=httpx.Client(transport=httpx.MockTransport(login_backend)), base_url="http://chat.test",
                      run_id="run1", report=Reports(), spawn=pump.spawn, make_waiter=pump.waiter,
                      environ={"PW": PASSWORD})
    session = Session(harness, "u0001", 1, scenario.journeys[0])
    OPEN_RECORDERS.append(harness.recorder)
    assert session.login()
    return session, made


def history(tmp_path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (tmp_path / "history.jsonl").read_bytes().splitlines()]


def test_the_login_cookie_rides_on_the_handshake_and_the_identity_is_the_tokens_identifier(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch)
    assert session.creds is not None and session.creds.identity == "xtalk-u0001"
    tab = session.open_tab(None)
    assert tab is not None and tab.ready
    request = made[0].request
    assert request is not None and request.path == "/ws/socket.io/?EIO=4&transport=websocket"
    assert request.headers["Cookie"] == f"access_token={session.creds.token}"


def test_the_opening_sequence_runs_before_any_request_and_names_a_fresh_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch)
    tab = session.open_tab(None)
    assert tab is not None and tab.session is not None
    connect = json.loads(made[0].texts[0][2:])
    assert made[0].texts[0].startswith("40") and connect["sessionId"] == tab.session
    assert made[0].texts[1] == '42["connection_successful"]'
    session.h.recorder.close()
    records = [(r["kind"], (r.get("frame") or {}).get("event")) for r in history(tmp_path)]
    assert records == [("login", None), ("open", None), ("recv", "eio.open"), ("send", "sio.connect"),
                       ("recv", "sio.connect"), ("send", "connection_successful")]


def test_a_request_is_answered_when_the_step_rooted_at_its_echoed_message_id_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch)
    session.tabs.append(session.open_tab(None))  # type: ignore[arg-type]
    assert session.run_step(Step(kind="client_message", prompt="weather for {user}"), 0) == [Outcome.OK]
    reports = session.h.report.names()  # type: ignore[attr-defined]
    assert reports == ["agent_started", "agent_thinking", "agent_completed"]
    session.h.recorder.close()
    send = next(r for r in history(tmp_path) if r["kind"] == "send" and r["req"])
    message = send["frame"]["data"]["message"]
    assert send["frame"]["event"] == "client_message" and message["output"] == f"weather for u0001 {send['marker']}"
    assert message["name"] == "xtalk-u0001" and message["threadId"] == ""
    stream = next(r for r in history(tmp_path) if r["kind"] == "recv" and r["frame"]["event"] == "stream_token")
    assert send["marker"] in stream["frame"]["data"]["token"]


def test_a_refused_connect_leaves_the_tab_dead_and_its_refusal_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch, refuse_connect=True)
    tab = session.open_tab(None, probe="session_takeover", victim="u0002")
    assert tab is not None and not tab.ready and session.next_tabs() == []
    assert made[0].texts[-1] == "41"  # the goodbye before the close; no hello frames after a refusal
    assert "connection_successful" not in "".join(made[0].texts)
    session.h.recorder.close()
    records = history(tmp_path)
    refusal = next(r for r in records if r["kind"] == "recv" and r["frame"]["event"] == "sio.connect_error")
    assert refusal["frame"]["data"] == {"message": "Connection refused by server"}
    opened = next(r for r in records if r["kind"] == "open")
    assert opened["probe"] == "session_takeover" and opened["victim"] == "u0002" and "expect" not in opened


def test_closing_sends_the_profiles_farewell_then_the_socketio_goodbye(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch)
    tab = session.open_tab(None)
    assert tab is not None
    session.close_tab(tab, 1000, "bye")
    assert made[0].texts[-2:] == ['42["clear_session"]', "41"]


def test_a_takeover_connection_names_the_victims_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, made = setup(tmp_path, monkeypatch)
    tab = session.open_tab(None, session="victim-session-id")
    assert tab is not None and json.loads(made[0].texts[0][2:])["sessionId"] == "victim-session-id"


def test_no_cookie_token_or_password_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, _ = setup(tmp_path, monkeypatch)
    session.tabs.append(session.open_tab(None))  # type: ignore[arg-type]
    session.run_step(Step(kind="client_message"), 0)
    session.close()
    session.h.recorder.close()
    text = (tmp_path / "history.jsonl").read_text()
    assert session.creds is not None and session.creds.token not in text and PASSWORD not in text
    assert "access_token" not in text


def test_the_takeover_probe_waits_for_the_victims_fresh_request_then_names_its_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xtalk.client.probes import take_over

    prober, made = setup(tmp_path, monkeypatch)
    victim = Session(prober.h, "u0002", 2, prober.journey)
    assert victim.login()
    victim_tab = victim.open_tab(None)
    assert victim_tab is not None and victim_tab.ready
    victim.tabs.append(victim_tab)
    victim_tab.tracker.sent("u0002-r1", 0.0, "old-message")  # in flight before the probe: not aimed at
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:  # the victim sends a fresh request, and its run starts
            victim_tab.tracker.sent("u0002-r2", 1.0, "m-2")
            victim_tab.tracker.frame({"event": "new_message", "data": {"id": "root", "parentId": "m-2",
                                                                        "type": "run", "name": "on_message"}}, 1.1)

    take_over(prober.h, prober, victim, None, sleep)
    assert len(naps) > 3  # it waited for the fresh request, then watched
    probe_socket = made[-1]
    assert json.loads(probe_socket.texts[0][2:])["sessionId"] == victim_tab.session
    assert "clear_session" not in "".join(probe_socket.texts)  # never ends the session it named
    prober.h.recorder.close()
    opened = [r for r in history(tmp_path) if r["kind"] == "open" and r.get("probe")]
    assert opened == [{**opened[0], "probe": "session_takeover", "victim": "u0002", "victim_conn": victim_tab.conn}]
    assert "expect" not in opened[0]
