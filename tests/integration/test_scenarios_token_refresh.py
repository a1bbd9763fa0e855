"""Runs longer than a token lives: users refresh their token and reconnect before it expires,
and the run passes with no request lost to a refresh (issue 5, auth strategies).

The reference backend (in this process) issues tokens that live 4 s instead of 15 minutes
(``BackendConfig.token_lifetime``; ``xtalk serve`` has no flag for it), and checks them at
every WebSocket handshake, as Netra does. The client learns the lifetime from the token itself
(``exp - iat``), refreshes at 80 % of it through ``POST /auth/refresh``, opens new tabs with the
new token and retires the old ones (closed by the client once idle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xtalk.backend.config import BackendConfig
from xtalk.backend.server import BackendThread

pytestmark = pytest.mark.integration

TOKEN_LIFETIME = 4.0
SCENARIO = """
[run]
name = "short_tokens"
users = 4
spawn_rate = 4
run_time = "14s"  # 4-s tokens, refreshed at 80 %: two refreshes per user with room to spare under load
seed = 7
pacing = "{pacing}"
{arrival}
[check]
deadline = "10s"
[auth]
strategy = "register"
[[journey]]
think_time = ["0.1s", "0.3s"]
  [[journey.step]]
  kind = "start_agent"
  [[journey.step]]
  kind = "user_message"
"""


@pytest.fixture
def short_token_backend() -> Iterator[BackendThread]:
    config = BackendConfig(jwt_secret="refresh-test-secret-0123456789abcdef", token_lifetime=TOKEN_LIFETIME)
    with BackendThread(config) as running:
        yield running


@pytest.mark.parametrize("pacing", ["closed", "open"])
def test_users_refresh_and_reconnect_before_their_tokens_expire_and_the_run_passes(
        tmp_path: Path, short_token_backend: BackendThread, pacing: str) -> None:
    scenario = tmp_path / "short_tokens.toml"
    arrival = 'arrival_rate = 6' if pacing == "open" else ""
    scenario.write_text(SCENARIO.format(pacing=pacing, arrival=arrival))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(scenario), "--host", short_token_backend.url,
                           "--out", str(out)], capture_output=True, text=True, timeout=150, cwd=tmp_path,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    why = f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    assert (out / "verdict.json").is_file(), why
    verdict = json.loads((out / "verdict.json").read_text())
    assert proc.returncode == 0 and verdict["verdict"] == "pass", why
    assert verdict["requests"]["dropped"] == 0 and verdict["anomalies"]["connection_lost"] == 0
    assert verdict["requests"]["completed"] >= 20, why

    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    users = {r["user"] for r in history if r["kind"] == "login"}
    refreshes = [r for r in history if r["kind"] == "login" and r.get("refresh")]
    # 10 s of load with 4 s tokens: every user refreshed at least twice.
    for user in users:
        assert sum(1 for r in refreshes if r["user"] == user) >= 2, (user, len(refreshes))
    closes = [r for r in history if r["kind"] == "close"]
    assert closes and all(c["by"] == "client" for c in closes), [c for c in closes if c["by"] != "client"]
    assert any(c["reason"] == "xtalk: token refresh" for c in closes)
    opens = [r for r in history if r["kind"] == "open"]
    assert len(opens) >= 3 * len(users)  # first tabs, then a new tab per refresh
    assert not [r for r in history if r["kind"] == "error"], [r for r in history if r["kind"] == "error"][:3]
    # No request was cut by a retiring tab: every send on a refreshed-away tab completed there.
    assert verdict["requests"]["unknown"] == 0, why
