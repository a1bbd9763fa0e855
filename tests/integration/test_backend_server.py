"""The reference backend on real loopback sockets: uvicorn, websockets client, ``xtalk serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from xtalk.backend.config import BackendConfig
from xtalk.backend.server import BackendThread

pytestmark = pytest.mark.integration
SECRET = "integration-secret-0123456789abcdef0123"


def login(base: str, email: str) -> tuple[str, str]:
    with httpx.Client(base_url=base) as client:
        body = client.post("/auth/register", json={"email": email, "password": "pw"}).json()
        token = body["access_token"]
        thread = client.post("/api/threads", json={},
                             headers={"Authorization": f"Bearer {token}"}).json()["id"]
    return token, thread


@pytest.fixture(scope="module")
def backend() -> BackendThread:
    with BackendThread(BackendConfig(jwt_secret=SECRET)) as running:
        yield running


@pytest.mark.parametrize("mode", ["main", "isolated", "factory", "legacy"])
def test_a_run_arrives_over_a_real_socket(backend: BackendThread, mode: str) -> None:
    token, thread = login(backend.url, f"{mode}@x.io")
    with connect(f"{backend.ws_url}/ws?mode={mode}", subprotocols=["jwt-auth", f"jwt.{token}"],
                 compression=None, open_timeout=10) as ws:
        assert ws.subprotocol == "jwt-auth"
        json.loads(ws.recv(timeout=10))  # welcome
        ws.send(json.dumps({"type": "start_agent", "payload": {"user_request": "hi xtm-1",
                                                               "thread_id": thread}}))
        types = []
        while len(types) < 7:
            frame = json.loads(ws.recv(timeout=10))
            types.append(frame["type"])
    assert types[0] == "agent_started" and types[-1] == "agent_completed"


def test_a_bad_token_is_refused_after_accept_with_1008(backend: BackendThread) -> None:
    with connect(f"{backend.ws_url}/ws", subprotocols=["jwt-auth", "jwt.bad"],
                 compression=None, open_timeout=10) as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert frame["error_code"] == "AUTH_FAILED"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_a_connection_past_the_per_user_limit_is_refused_with_1013_over_a_real_socket() -> None:
    with BackendThread(BackendConfig(jwt_secret=SECRET, max_connections_per_user=2)) as limited:
        token, _ = login(limited.url, "limit@x.io")
        url, protocols = f"{limited.ws_url}/ws", ["jwt-auth", f"jwt.{token}"]
        with connect(url, subprotocols=protocols, compression=None, open_timeout=10) as one, \
                connect(url, subprotocols=protocols, compression=None, open_timeout=10) as two:
            for ws in (one, two):
                assert json.loads(ws.recv(timeout=10))["type"] == "connection_established"
            with connect(url, subprotocols=protocols, compression=None, open_timeout=10) as three:
                assert json.loads(three.recv(timeout=10))["error_code"] == "CONNECTION_LIMIT_EXCEEDED"
                with pytest.raises(ConnectionClosed) as closed:
                    three.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "XTALK_JWT_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-m", "xtalk", "serve", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_announces_writes_the_ready_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = _serve("--port", "0", "--ready-file", str(ready), "--exit-after", "60")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("xtalk serve: listening on http://127.0.0.1:")
        assert line.rstrip().endswith("(engine main)")
        url = ready.read_text().strip()
        assert line.split()[4] == url
        assert httpx.get(f"{url}/health").json()["status"] == "healthy"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_serve_stops_by_itself_after_exit_after(tmp_path: Path) -> None:
    proc = _serve("--port", "0", "--exit-after", "1")
    started = time.monotonic()
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert time.monotonic() - started < 20


def test_serve_issues_tokens_of_the_lifetime_it_is_given(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = _serve("--port", "0", "--ready-file", str(ready), "--exit-after", "60",
                  "--token-lifetime", "90s", "--max-connections-per-user", "3")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("xtalk serve: listening on"), line
        body = httpx.post(f"{ready.read_text().strip()}/auth/register",
                          json={"email": "life@x.io", "password": "pw"}).json()
        assert body["expires_in"] == 90
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


@pytest.mark.parametrize("flags", [["--engine", "turbo"], ["--fault", "gremlins"],
                                   ["--fault", "drop_run=2"], ["--exit-after", "soon"],
                                   ["--token-lifetime", "0"], ["--max-connections-per-user", "-2"]])
def test_serve_refuses_bad_flags_with_status_3_and_no_traceback(flags: list[str]) -> None:
    proc = _serve("--port", "0", "--exit-after", "5", *flags)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3
    assert "Traceback" not in err and "expected" in err
