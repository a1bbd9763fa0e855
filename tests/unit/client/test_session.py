"""A user's session: login, thread, requests with markers, phase reports — with fake sockets."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest

from xtalk.client import auth as auth_mod
from xtalk.client.recorder import Recorder
from xtalk.client.channel import ws_url
from xtalk.client.session import Harness, Session, Tab, render_prompt
from xtalk.client.tracker import ConnTracker, Outcome
from xtalk.profiles import load_profile
from xtalk.transport import JsonCodec
from xtalk.client.wsconn import WsConnection
from xtalk.scenario.model import Auth, Journey, Scenario, Step

from .fakes import FakeSocket, Reports

SECRET = "test-secret-0123456789-abcdefghij"


def token_for(sub: str) -> str:
    return jwt.encode({"sub": sub, "token_type": "access"}, SECRET, algorithm="HS256")


def backend(status: dict[str, int] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    status = status or {}
    seen_passwords: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in status:
            return httpx.Response(status[path], json={"detail": "nope"})
        if path in ("/auth/register", "/auth/login"):
            body = orjson.loads(request.content)
            seen_passwords.append(body["password"])
            return httpx.Response(200, json={"access_token": token_for("id-" + body["email"][:5]),
                                             "refresh_token": "rt", "user": {"id": "x"}})
        if path == "/api/threads":
            assert request.headers["Authorization"].startswith("Bearer ")
            return httpx.Response(200, json={"id": "th_1"})
        return httpx.Response(404)

    handle.seen_passwords = seen_passwords  # type: ignore[attr-defined]
    return handle


class ScriptedWaiter:
    """Runs the server's script when the client starts waiting (no gevent, no sleeps)."""

    script: Callable[[], None] | None = None

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value

    def wait(self, timeout: float | None = None) -> Any:
        if ScriptedWaiter.script is not None and self.value is None:
            ScriptedWaiter.script()
        return self.value


def make(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response] | None = None,
         scenario: Scenario | None = None) -> tuple[Harness, Reports]:
    reports = Reports()
    harness = Harness(
        scenario=scenario or Scenario(deadline=30.0),
        recorder=Recorder(tmp_path / "history.jsonl", clock_zero=0.0, install_handlers=False),
        http=httpx.Client(transport=httpx.MockTransport(handler or backend())),
        base_url="http://backend.test", run_id="run1", report=reports, spawn=lambda *_args: None,
        make_waiter=ScriptedWaiter, environ={},
    )
    return harness, reports


def attach_tab(session: Session) -> tuple[Tab, FakeSocket]:
    tab_box: list[Tab] = []
    ws = WsConnection("ws://backend.test/ws", subprotocols=["jwt-auth", "jwt.x"],
                      on_message=lambda d, b: session._on_message(tab_box[0], d, b),
                      on_closed=lambda c, r, by: session._on_closed(tab_box[0], c, r, by))
    sock = FakeSocket()
    ws.open(sock=sock)
    tab = Tab(f"{session.user}-c1", None, ws, ConnTracker(session.h.profile.core), JsonCodec(), ready=True)
    tab_box.append(tab)
    session.tabs.append(tab)
    return tab, sock


def history(tmp_path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (tmp_path / "history.jsonl").read_bytes().splitlines()]


def test_a_request_carries_a_fresh_marker_and_reports_each_phase_once(tmp_path: Path) -> None:
    harness, reports = make(tmp_path)
    session = Session(harness, "u0001", 1, Journey())
    assert session.login()
    session.create_thread()
    tab, sock = attach_tab(session)

    def server() -> None:
        for frame in ({"type": "agent_started", "run_id": "run_9", "agent_name": "supervisor"},
                      {"type": "agent_thinking", "run_id": "run_9"},
                      {"type": "agent_thinking", "run_id": "run_9"},
                      {"type": "agent_completed", "run_id": "run_9", "agent_name": "supervisor"}):
            tab.ws.feed(sock.push_text(orjson.dumps(frame).decode()))

    ScriptedWaiter.script = server
    try:
        outcomes = session.run_step(Step(prompt="hello {user} #{n}"), 0)
    finally:
        ScriptedWaiter.script = None
    harness.recorder.close()

    assert outcomes == [Outcome.OK]
    assert reports.names() == ["agent_started", "agent_thinking", "agent_completed"]
    assert all(exc is None for _, _, exc in reports.calls)
    records = history(tmp_path)
    send = next(r for r in records if r["kind"] == "send")
    assert send["req"] == "u0001-r1" and send["thread"] == "th_1"
    assert re.fullmatch(r"xtm-[0-9a-f]{16}", send["marker"])
    assert send["frame"]["type"] == "start_agent"
    assert send["frame"]["payload"]["user_request"] == f"hello u0001 #1 {send['marker']}"
    assert sock.client_frames and orjson.loads(sock.client_frames[0].data) == send["frame"]
    assert [r["kind"] for r in records].count("recv") == 4
    assert harness.in_flight == 0 and harness.requests_done == 1


def test_two_requests_never_share_a_marker(tmp_path: Path) -> None:
    harness, _ = make(tmp_path)
    session = Session(harness, "u0002", 2, Journey())
    session.login()
    attach_tab(session)
    session.run_step(Step(), 0)  # no answer: deadline (the fake waiter returns at once)
    session.run_step(Step(kind="user_message"), 1)
    harness.recorder.close()
    sends = [r for r in history(tmp_path) if r["kind"] == "send"]
    assert [s["req"] for s in sends] == ["u0002-r1", "u0002-r2"]
    assert sends[0]["marker"] != sends[1]["marker"]
    assert sends[1]["frame"]["type"] == "user_message"
    assert sends[1]["marker"] in sends[1]["frame"]["payload"]["content"]


def test_unanswered_request_is_reported_failed_at_its_deadline(tmp_path: Path) -> None:
    harness, reports = make(tmp_path)
    session = Session(harness, "u0003", 3, Journey())
    session.login()
    attach_tab(session)
    assert session.run_step(Step(), 0) == [Outcome.DEADLINE]
    harness.recorder.close()
    name, _, exc = reports.calls[-1]
    assert name == "agent_completed" and exc is not None and "deadline" in str(exc)
    assert harness.in_flight == 0


def test_server_close_mid_request_is_recorded_and_ends_the_request(tmp_path: Path) -> None:
    harness, _ = make(tmp_path)
    session = Session(harness, "u0004", 4, Journey())
    session.login()
    tab, sock = attach_tab(session)

    def server() -> None:
        sock.server.send_close(1011, "internal error")
        tab.ws.feed(sock.take())
        tab.ws.feed(b"")

    ScriptedWaiter.script = server
    try:
        assert session.run_step(Step(), 0) == [Outcome.CLOSED]
    finally:
        ScriptedWaiter.script = None
    harness.recorder.close()
    close = next(r for r in history(tmp_path) if r["kind"] == "close")
    assert (close["code"], close["by"], close["conn"]) == (1011, "server", "u0004-c1")
    assert not tab.alive and session.next_tabs() == []


def test_login_identity_is_the_tokens_sub_and_no_secret_is_recorded(tmp_path: Path) -> None:
    handler = backend()
    harness, _ = make(tmp_path, handler)
    session = Session(harness, "u0005", 5, Journey())
    assert session.login()
    harness.recorder.close()
    text = (tmp_path / "history.jsonl").read_text()
    login = history(tmp_path)[0]
    assert login["kind"] == "login" and login["identity"].startswith("id-")
    assert session.creds is not None and session.creds.token not in text
    assert handler.seen_passwords[0] not in text  # type: ignore[attr-defined]
    assert "rt" not in orjson.loads(text.splitlines()[0]).values()


@pytest.mark.parametrize("status", [401, 500])
def test_failed_login_is_recorded_and_the_session_goes_on(tmp_path: Path, status: int) -> None:
    harness, reports = make(tmp_path, backend({"/auth/register": status}))
    session = Session(harness, "u0006", 6, Journey())
    assert session.login() is False
    harness.recorder.close()
    error = history(tmp_path)[0]
    assert error["kind"] == "error" and error["phase"] == "register" and error["status"] == status
    assert reports.calls[0][0] == "login" and reports.calls[0][2] is not None


def test_register_falls_back_to_login_when_the_account_exists(tmp_path: Path) -> None:
    calls: list[str] = []
    inner = backend()

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/auth/register":
            return httpx.Response(409, json={"detail": "exists"})
        return inner(request)

    harness, _ = make(tmp_path, handler)
    assert Session(harness, "u0007", 7, Journey()).login()
    harness.recorder.close()
    assert calls == ["/auth/register", "/auth/login"]


def test_minted_tokens_carry_the_full_netra_claim_set() -> None:
    auth = Auth(strategy="mint_jwt", jwt_secret_env="XT_SECRET")
    creds = auth_mod.obtain(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))),
                            "http://h", auth, load_profile("netra").auth, user="u0001", index=1, run_id="run1",
                            environ={"XT_SECRET": SECRET})
    claims = jwt.decode(creds.token, SECRET, algorithms=["HS256"], audience="netra-backend")
    assert {"sub", "iat", "exp", "token_type", "iss", "aud", "jti", "email"} <= set(claims)
    assert claims["token_type"] == "access" and claims["iss"] == "netra-auth-service"
    assert creds.identity == claims["sub"] and claims["email"] == "xtalk-run1-u0001@example.test"
    assert creds.token not in repr(creds)


def test_ws_url_sends_mode_only_when_the_journey_names_an_engine() -> None:
    netra = load_profile("netra")
    assert ws_url("http://127.0.0.1:8000", netra, None) == "ws://127.0.0.1:8000/ws"
    assert ws_url("https://staging.example/", netra, "legacy") == "wss://staging.example/ws?mode=legacy"


def test_prompt_templates_fill_known_fields_and_keep_unknown_ones() -> None:
    assert render_prompt("{user} {n} {journey} {other}", user="u1", n=2, journey="ask") == "u1 2 ask {other}"


def test_matrix_journey_sends_the_same_step_down_every_engine_path(tmp_path: Path) -> None:
    harness, _ = make(tmp_path, scenario=Scenario(engines=("main", "isolated")))
    session = Session(harness, "u0008", 8, Journey(engine="matrix"))
    session.login()
    assert session.engines() == ["main", "isolated"]
    for engine in ("main", "isolated"):
        tab, _ = attach_tab(session)
        tab.engine = engine
    session.run_step(Step(prompt="same {n}"), 0)
    harness.recorder.close()
    sends = [r for r in history(tmp_path) if r["kind"] == "send"]
    assert [s["engine"] for s in sends] == ["main", "isolated"]
    assert sends[0]["group"] == sends[1]["group"]
    texts = [s["frame"]["payload"]["user_request"].replace(s["marker"], "") for s in sends]
    assert texts[0] == texts[1]
