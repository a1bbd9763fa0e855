"""Locust users' habits: ``locust -f loadtests/locustfile.py --headless -u N -r N -t 10s`` works
with no ``XTALK_*`` variable (the reference backend is started for the run), the time limit
shortens load and drain to end before it and the banner says so, requests cut by Locust's stop
are no failures, and a leak the live checker sees is a Locust failure (its failures CSV and its
exit code)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.procs import MARKER, marked, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def plain_locust(tmp_path: Path, *args: str, **extra_env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XTALK_", "LOCUST_"))}
    env.update({MARKER: marker, "PYTHONWARNINGS": "ignore", **extra_env})
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
                           "--headless", "--csv", str(tmp_path / "locust"), *args],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    return proc, marker


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_plain_locust_with_no_xtalk_variable_runs_against_the_embedded_backend_and_exits_0(
        tmp_path: Path) -> None:
    proc, marker = plain_locust(tmp_path, "-u", "6", "-r", "6", "-t", "10s")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "started the reference backend on http://127.0.0.1:" in output
    assert "of Locust's 10 s time limit (-t)" in output and "shortened" in output
    assert "load starts for 30 s" not in output
    failures = rows(tmp_path / "locust_failures.csv")
    assert failures == [], failures
    stats = {r["Name"]: r for r in rows(tmp_path / "locust_stats.csv")}
    assert int(stats["agent_completed"]["Request Count"]) > 0
    (history,) = tmp_path.glob("reports/*/history.jsonl")
    assert f"xtalk check {history.relative_to(tmp_path)}" in output
    wait_until(lambda: not marked(marker), "the embedded backend to stop with Locust")


def test_a_leak_seen_live_is_a_locust_failure_of_its_phase_named_by_its_kind(tmp_path: Path) -> None:
    proc, _ = plain_locust(tmp_path, "-u", "8", "-r", "8", "-t", "12s",
                           XTALK_SCENARIO=str(ROOT / "scenarios" / "demo_leak.toml"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-4000:]
    failures = rows(tmp_path / "locust_failures.csv")
    kinds = {(r["Name"], r["Error"]) for r in failures}
    assert any("IsolationFailure('cross_user_event')" == error for _, error in kinds), kinds
    assert {name for name, _ in kinds} <= {"agent_started", "agent_thinking", "agent_completed"}
