"""docs/PROFILES.md's worked example is enough to load a backend xtalk has no code for.

The profile and the scenario are taken verbatim from the document's first two TOML blocks; the
backend ("Parrot", tests/integration/parrot/server.py) is built from the example's prose. A
short ``xtalk run`` against it passes, with every request completed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xtalk.runner.locust_proc import free_port
from xtalk.runner.processes import stop_process

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def doc_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", (REPO / "docs" / "PROFILES.md").read_text(), re.S)


def test_the_worked_example_profile_drives_a_backend_xtalk_has_never_seen(tmp_path: Path) -> None:
    profile, scenario = doc_blocks()[:2]
    (tmp_path / "parrot.toml").write_text(profile)
    (tmp_path / "scenario.toml").write_text(scenario.replace('users = 20', 'users = 4')
                                            .replace('run_time = "30s"', 'run_time = "3s"'))
    port, ready = free_port(), tmp_path / "ready"
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "integration" / "parrot" / "server.py"),
                               str(port), str(ready)])
    try:
        for _ in range(600):
            if ready.exists() or server.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "the Parrot server did not start"
        out = tmp_path / "run"
        proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(tmp_path / "scenario.toml"),
                               "--host", f"http://127.0.0.1:{port}", "--out", str(out)],
                              capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "PARROT_PASSWORD": "polly"})
    finally:
        stop_process(server)
    verdict = json.loads((out / "verdict.json").read_text())
    assert proc.returncode == 0 and verdict["verdict"] == "pass", proc.stdout[-3000:] + proc.stderr[-2000:]
    assert verdict["requests"]["completed"] == verdict["requests"]["sent"] > 0
    history = (out / "history.jsonl").read_text()
    assert "polly" not in history and "eyJ" not in history  # no password, no token (the URL's ?token= is dropped)
    logins = [json.loads(line) for line in history.splitlines() if '"kind":"login"' in line]
    assert logins and all(r["identity"] == "p-" + r["email"] for r in logins)
