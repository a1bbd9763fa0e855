"""``xtalk shrink`` for real: a failing run of the embedded backend's leaky ``legacy`` path is
shrunk to a scenario of at most 3 users that fails again with cross_user_event on its own.

Kept short (runs of a second or two, one try per candidate); the 40-user shrink against
``xtalk serve --engine legacy`` that the issue asks for is measured by hand (see the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xtalk.scenario.load import load_scenario

pytestmark = pytest.mark.integration

LEAKY = """
[run]
name = "leaky"
users = 4
spawn_rate = 10
run_time = "3s"
seed = 5
[check]
deadline = "5s"
[backend]
engine = "legacy"
[[journey]]
name = "ask"
think_time = ["0.05s", "0.2s"]
  [[journey.step]]
  kind = "start_agent"
  prompt = "Hello from {user}, request {n}"
  [[journey.step]]
  kind = "user_message"
  prompt = "And a follow-up, {user}"
"""


def xtalk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xtalk", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=900)


def test_a_failing_legacy_run_shrinks_to_a_small_scenario_that_fails_again_on_its_own(tmp_path: Path) -> None:
    scenario = tmp_path / "leaky.toml"
    scenario.write_text(LEAKY)
    original = xtalk("run", str(scenario), "--out", str(tmp_path / "original"), cwd=tmp_path)
    assert original.returncode == 1, original.stdout[-2000:] + original.stderr[-2000:]

    shrink = xtalk("shrink", str(tmp_path / "original"), "--tries", "1", "--budget", "4m", cwd=tmp_path)
    assert shrink.returncode == 1, shrink.stdout[-3000:] + shrink.stderr[-3000:]
    out = tmp_path / "original.shrink"
    assert "minimal reproducer" in shrink.stdout and "step  what changed" in shrink.stdout
    minimal = load_scenario(str(out / "leaky.min.toml"))
    assert minimal.users <= 3 and minimal.run_time <= 3 and minimal.backend.engine == "legacy"
    verdict = json.loads((out / "leaky.min" / "verdict.json").read_text())
    assert verdict["anomalies"]["cross_user_event"] > 0
    assert verdict["run"]["shrunk_from"]["run_dir"] == str((tmp_path / "original").resolve())
    assert (out / "leaky.min" / "run.log").is_file() and (out / "shrink-log.json").is_file()

    again = xtalk("run", str(out / "leaky.min.toml"), "--out", str(tmp_path / "again"), cwd=tmp_path)
    assert again.returncode == 1, again.stdout[-2000:]
    assert json.loads((tmp_path / "again" / "verdict.json").read_text())["anomalies"]["cross_user_event"] > 0


def test_a_passing_run_is_not_shrunk(tmp_path: Path) -> None:
    scenario = tmp_path / "clean.toml"
    scenario.write_text(LEAKY.replace('engine = "legacy"', 'engine = "main"').replace('"3s"', '"1s"'))
    original = xtalk("run", str(scenario), "--out", str(tmp_path / "original"), cwd=tmp_path)
    assert original.returncode == 0, original.stdout[-2000:]
    shrink = xtalk("shrink", str(tmp_path / "original"), cwd=tmp_path)
    assert shrink.returncode == 3 and "a run that failed with an anomaly" in shrink.stderr
