"""The preflight of ``xtalk run``: one user logs in and opens its WebSocket before any load;
credentials the backend refuses (an error frame with close 1008, a 401 on the upgrade) are a
harness error with the strategy, the refusal and the fix; a backend that refuses only some
connections lets the run start. Against the reference backend on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xtalk.client.preflight import preflight
from xtalk.errors import UsageError
from xtalk.runner.processes import start_child, stop_process
from xtalk.scenario.load import load_scenario

pytestmark = pytest.mark.integration

SECRET_ENV = "XTALK_TEST_PREFLIGHT_SECRET"


def _serve(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> Iterator[str]:
    ready = tmp_path / "ready"
    log = open(tmp_path / "serve.log", "wb")
    proc = start_child([sys.executable, "-m", "xtalk", "serve", "--port", "0", "--ready-file", str(ready),
                        "--exit-after", "120s", *flags], stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, **(env or {})})
    log.close()
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
        text = ready.read_text().strip()
        yield json.loads(text)["url"] if text.startswith("{") else text
    finally:
        stop_process(proc, grace=5.0)


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    from xtalk.client import auth

    auth._SECRETS.clear()  # a process reads its secret once; each test here is another "process"
    yield
    auth._SECRETS.clear()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, env={"XTALK_JWT_SECRET": "the-backends-own-secret-0123456789"})


def _scenario(tmp_path: Path, auth: str) -> object:
    path = tmp_path / "s.toml"
    path.write_text(f"[run]\nname = \"pre\"\nusers = 2\n[auth]\n{auth}\n")
    return load_scenario(str(path), check_env=False)


def test_a_token_signed_with_the_wrong_secret_is_a_harness_error_naming_strategy_refusal_and_fix(
        tmp_path: Path, backend: str) -> None:
    scenario = _scenario(tmp_path, f'strategy = "mint_jwt"\njwt_secret_env = "{SECRET_ENV}"')
    with pytest.raises(UsageError) as caught:
        preflight(scenario, backend, {SECRET_ENV: "a-rotated-secret-that-is-wrong-0123"})
    message = caught.value.message
    assert '"mint_jwt" auth strategy' in message and backend in message
    assert "AUTH_FAILED" in message and "close 1008" in message, message
    assert f"${SECRET_ENV}" in message and "HS256 JWT signing secret" in message, message
    assert "a-rotated-secret" not in message  # never the secret itself


def test_the_right_credentials_pass_the_preflight(tmp_path: Path, backend: str) -> None:
    scenario = _scenario(tmp_path, f'strategy = "mint_jwt"\njwt_secret_env = "{SECRET_ENV}"')
    result = preflight(scenario, backend, {SECRET_ENV: "the-backends-own-secret-0123456789"})
    assert result.ok and "opened its WebSocket" in result.summary and "accepted" in result.summary


def test_a_backend_refusing_only_some_connections_lets_the_run_start(tmp_path: Path) -> None:
    for url in _serve(tmp_path, "--fault", "refuse_1008=0.5", "--seed", "3"):
        result = preflight(_scenario(tmp_path, 'strategy = "register"'), url, {})
        assert result.ok, result.summary


class _Refuser(threading.Thread):
    """Answers every HTTP request, the WebSocket upgrade included, with 401."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                body = b'{"detail":"invalid token"}'
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)


def test_a_401_on_the_websocket_upgrade_is_a_harness_error(tmp_path: Path) -> None:
    refuser = _Refuser()
    refuser.start()
    try:
        scenario = _scenario(tmp_path, f'strategy = "mint_jwt"\njwt_secret_env = "{SECRET_ENV}"')
        with pytest.raises(UsageError) as caught:
            preflight(scenario, f"http://127.0.0.1:{refuser.port}", {SECRET_ENV: "x" * 32})
        assert "HTTP 401" in caught.value.message and "invalid token" in caught.value.message
    finally:
        refuser.server.close()


def test_xtalk_run_with_a_wrong_jwt_secret_exits_3_before_any_load_not_fail(tmp_path: Path) -> None:
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(f'[run]\nname = "wrong_secret"\nusers = 3\nrun_time = "3s"\n'
                        f'[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "{SECRET_ENV}"\n')
    env = {**os.environ, SECRET_ENV: "not-the-embedded-backends-secret-0123"}
    env.pop("XTALK_JWT_SECRET", None)
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(scenario), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("xtalk run: expected the backend at") and "mint_jwt" in message, message
    assert "AUTH_FAILED" in message and SECRET_ENV in message, message
    assert not list((tmp_path / "run").glob("history*.jsonl")) and not (tmp_path / "run" / "verdict.json").exists()
