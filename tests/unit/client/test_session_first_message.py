"""Auth by a first message on the socket, from a profile file: the auth frame goes out once the
socket is open (recorded without the token), the connection carries requests only after the
server's accepting answer, and a refusing answer leaves it dead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.frames import Opcode

from xtalk.client import wsconn as wsconn_mod
from xtalk.client.recorder import Recorder
from xtalk.client.session import Harness, Session
from xtalk.profiles.load import read_profile
from xtalk.scenario.model import Auth, Journey, Scenario, Step

from .fakes import FakeSocket, Reports
from .test_session_socketio import Pump

PROFILE = '''
name = "gatekeeper"
[transport]
path = "/socket"
[auth]
strategies = ["login"]
[auth.login]
path = "/login"
fields = { name = "{account}", password = "{password}" }
[auth.first_message]
frame = { type = "auth", token = "{token}", who = "{user}" }
accepted = [{ path = "type", op = "eq", value = "auth_ok" }]
refused = [{ path = "type", op = "eq", value = "auth_denied" }]
[request.kinds.chat]
frame = { type = "chat", text = "{text}" }
[events.types]
auth_ok = "welcome"
auth_denied = "server_error"
'''


class AuthServer(FakeSocket):
    def __init__(self, answer: str) -> None:
        super().__init__(subprotocols=())
        self.answer = answer
        self.texts: list[dict[str, Any]] = []

    def sendall(self, data: bytes) -> None:
        super().sendall(data)
        while self.client_frames:
            frame = self.client_frames.pop(0)
            if frame.opcode is Opcode.TEXT:
                self.texts.append(json.loads(bytes(frame.data)))
                if self.texts[-1]["type"] == "auth":
                    self.server.send_text(json.dumps({"type": self.answer}).encode())
                    self.pending.extend(d for d in self.server.data_to_send() if d)


@pytest.mark.parametrize("answer", ["auth_ok", "auth_denied"])
def test_the_first_message_decides_whether_the_connection_carries_requests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    (tmp_path / "p.toml").write_text(PROFILE)
    profile = read_profile(str(tmp_path / "p.toml"))
    made: list[AuthServer] = []
    monkeypatch.setattr(wsconn_mod.socket, "create_connection",
                        lambda *_a, **_k: made.append(AuthServer(answer)) or made[-1])
    pump = Pump()
    recorder = Recorder(tmp_path / "history.jsonl", clock_zero=0.0, install_handlers=False)
    harness = Harness(scenario=Scenario(profile=str(tmp_path / "p.toml"), engines=(),
                                        journeys=(Journey(steps=(Step(kind="chat"),)),),
                                        auth=Auth(strategy="login", email="{user}", password_env="PW")),
                      recorder=recorder, report=Reports(), spawn=pump.spawn, make_waiter=pump.waiter,
                      http=httpx.Client(transport=httpx.MockTransport(
                          lambda r: httpx.Response(200, json={"access_token": "tok-secret-123"}))),
                      base_url="http://gate.test", run_id="run1", environ={"PW": "pw"}, profile=profile)
    session = Session(harness, "u0001", 1, harness.scenario.journeys[0])
    assert session.login()
    tab = session.open_tab(None)
    recorder.close()
    assert tab is not None
    session.tabs.append(tab)
    assert tab is not None and made[0].texts[0] == {"type": "auth", "token": "tok-secret-123", "who": "u0001"}
    records = [orjson.loads(line) for line in (tmp_path / "history.jsonl").read_bytes().splitlines()]
    sent = next(r for r in records if r["kind"] == "send")
    assert sent["frame"] == {"type": "auth", "token": "<redacted>", "who": "u0001"} and sent["req"] is None
    assert "tok-secret-123" not in (tmp_path / "history.jsonl").read_text()
    if answer == "auth_ok":
        assert tab.ready and session.next_tabs() == [tab]
    else:
        assert not tab.ready and session.next_tabs() == []
        assert made[0].client_frames == [] and made[0].texts[-1]["type"] == "auth"  # nothing sent after
