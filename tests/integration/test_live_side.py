"""Live checking in a side process (the default) and inline (``XTALK_LIVE=inline``): either way
the live counts of a one-process run are its verdict's counts, live findings are Locust
failures, and the verdict is the offline check of the history, unchanged by how live checking
ran."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUN_SPECIFIC = ("run", "recheck")


def run_leak(tmp_path: Path, live: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / f"run-{live}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "XTALK_LIVE": live}
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(ROOT / "scenarios" / "demo_leak.toml"),
                           "--users", "6", "--run-time", "4s", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    return proc, out


@pytest.mark.parametrize("live", ["1", "inline"])
def test_live_counts_equal_the_verdict_and_the_verdict_is_the_offline_check(tmp_path: Path, live: str) -> None:
    proc, out = run_leak(tmp_path, live)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    summary = json.loads((out / "live.json").read_text())
    assert summary["ended"] and summary["workers"][0]["error"] is None
    live_counts = {kind: n for kind, n in summary["total"]["counts"].items() if n}
    assert live_counts == {kind: n for kind, n in verdict["anomalies"].items() if n}
    assert live_counts.get("cross_user_event", 0) > 0
    assert summary["total"]["requests"]["sent"] == verdict["requests"]["sent"]
    with open(out / "locust_failures.csv", newline="") as handle:
        errors = {row["Error"] for row in csv.DictReader(handle)}
    assert "IsolationFailure('cross_user_event')" in errors
    checked = subprocess.run([sys.executable, "-m", "xtalk", "check", str(out / "history.jsonl"), "--scenario",
                              str(out / "scenario.json"), "--json"], capture_output=True, text=True, timeout=120,
                             cwd=out)
    offline = json.loads(checked.stdout)
    assert {k: v for k, v in verdict.items() if k not in RUN_SPECIFIC} == \
        {k: v for k, v in offline.items() if k not in RUN_SPECIFIC}
