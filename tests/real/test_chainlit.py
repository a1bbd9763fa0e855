"""xtalk against real Chainlit (the example app under chainlit 2.10.0 and 2.10.1).

- Plain concurrent load with 30 users passes on both versions: no false alarm on a real server.
- The session_takeover probe fails 2.10.0 with a cross-user finding whose witness shows the
  victim's event arriving at the prober, and passes 2.10.1, which refuses the takeover.

Each run goes through ``xtalk run`` exactly as a user would type it (``--host`` names the app).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.real.chainlit_env import REPO, ChainlitApp

pytestmark = pytest.mark.real


def xtalk_run(app: ChainlitApp, scenario: str, out: Path, *args: str) -> tuple[int, dict[str, Any], list[Any]]:
    env = {**os.environ, "XTALK_CHAINLIT_PASSWORD": app.password}
    result = subprocess.run([sys.executable, "-m", "xtalk", "run", str(REPO / "scenarios" / scenario),
                             "--host", app.url, "--out", str(out), *args],
                            cwd=REPO, env=env, capture_output=True, text=True)
    verdict_path = out / "verdict.json"
    assert verdict_path.exists(), f"no verdict (exit {result.returncode}):\n{result.stdout[-3000:]}\n" \
                                  f"{result.stderr[-3000:]}\nchainlit:\n{app.log()}"
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines() if line.strip()]
    return result.returncode, json.loads(verdict_path.read_text()), history


def summary(verdict: dict[str, Any]) -> str:
    found = {k: n for k, n in verdict["anomalies"].items() if n}
    return f"verdict {verdict['verdict']}, anomalies {found}, requests {verdict['requests']}, " \
           f"reasons {verdict.get('reasons')}"


def test_plain_load_with_30_users_passes(chainlit: tuple[str, ChainlitApp], tmp_path: Path) -> None:
    version, app = chainlit
    code, verdict, history = xtalk_run(app, "chainlit.toml", tmp_path / "run", "--users", "30",
                                       "--run-time", "15s")
    assert verdict["verdict"] == "pass" and code == 0, f"chainlit {version}: {summary(verdict)}"
    assert all(n == 0 for n in verdict["anomalies"].values())
    assert verdict["users"] == 30 and verdict["requests"]["completed"] >= 30
    # What was recorded: the Socket.IO opening, the cookie never, the decoded events.
    assert not any("access_token" in json.dumps(r) or app.password in json.dumps(r) for r in history)
    events = {r["frame"].get("event") for r in history if r["kind"] == "recv" and isinstance(r.get("frame"), dict)}
    assert {"eio.open", "sio.connect", "new_message", "update_message", "stream_token", "task_end"} <= events


def takeover(history: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]], set[str]]:
    """The takeover connection's open record, what it received, and the step and message ids the
    victim's own connection received or sent before the takeover."""
    opened = next(r for r in history if r["kind"] == "open" and r.get("probe") == "session_takeover")
    received = [r for r in history if r["kind"] == "recv" and r["conn"] == opened["conn"]]
    victim_ids: set[str] = set()
    for r in history:
        if r.get("t", 0.0) > opened["t"] or r.get("conn") != opened["victim_conn"]:
            continue
        frame = r.get("frame") if r["kind"] in ("recv", "send") else None
        data = frame.get("data") if isinstance(frame, dict) else None
        if isinstance(data, dict):
            message = data.get("message")
            for value in (data.get("id"), message.get("id") if isinstance(message, dict) else None):
                if isinstance(value, str):
                    victim_ids.add(value)
    return opened, received, victim_ids


def test_session_takeover_fails_2_10_0_and_passes_2_10_1(chainlit: tuple[str, ChainlitApp], tmp_path: Path) -> None:
    version, app = chainlit
    code, verdict, history = xtalk_run(app, "chainlit_takeover.toml", tmp_path / "run")
    opened, received, victim_ids = takeover(history)
    assert opened["victim"] != opened["user"] and victim_ids
    stolen = [r for r in received if isinstance(r.get("frame"), dict) and isinstance(r["frame"].get("data"), dict)
              and r["frame"]["data"].get("parentId") in victim_ids]
    if version == "2.10.0":
        assert stolen, "the prober received none of the victim's steps: the takeover did not happen"
        assert code == 1 and verdict["verdict"] == "fail", summary(verdict)
        assert verdict["anomalies"]["cross_user_event"] >= 1, summary(verdict)
        lines = {i: r for i, r in enumerate(history, start=1)}
        witnessed = [f for f in verdict["findings"] if f["kind"] == "cross_user_event"
                     and f["user"] == opened["user"] and f["owner"] == opened["victim"]
                     and any(lines.get(n, {}).get("conn") == opened["conn"] and lines[n]["kind"] == "recv"
                             for n in f["witness"])]
        assert witnessed, f"no cross_user_event of {opened['victim']} at {opened['user']}'s takeover connection " \
                          f"with it in the witness: {verdict['findings'][:3]}"
    else:
        assert not stolen
        assert any(r["frame"].get("event") == "sio.connect_error" for r in received if isinstance(r.get("frame"), dict))
        assert code == 0 and verdict["verdict"] == "pass", summary(verdict)
