"""The reference backend's faults through the whole harness: ``xtalk run --host`` against
``xtalk serve``, and ``xtalk selftest`` on a few faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration


def _serve(tmp: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    ready = tmp / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "xtalk", "serve", "--port", "0",
                             "--ready-file", str(ready), "--exit-after", "90", *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "xtalk serve did not start"
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)


def _run(url: str, out: Path, users: int) -> tuple[int, dict[str, object]]:
    code = subprocess.run([sys.executable, "-m", "xtalk", "run", "scenarios/golden_path.toml",
                           "--host", url, "--users", str(users), "--run-time", "4s",
                           "--out", str(out)], capture_output=True, timeout=120).returncode
    return code, orjson.loads((out / "verdict.json").read_bytes())


def test_legacy_engine_fails_the_run_with_cross_user_events(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path, "--engine", "legacy")
    try:
        code, verdict = _run(url, tmp_path / "many", users=10)
    finally:
        _stop(proc)
    assert code == 1
    assert verdict["anomalies"]["cross_user_event"] > 0  # type: ignore[index]


def test_legacy_engine_with_one_user_alone_shows_no_cross_user_anomaly(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path, "--engine", "legacy")
    try:
        _, verdict = _run(url, tmp_path / "one", users=1)
    finally:
        _stop(proc)
    anomalies = verdict["anomalies"]
    assert anomalies["cross_user_event"] == 0 and anomalies["cross_user_content"] == 0  # type: ignore[index]


def test_selftest_proves_a_race_and_a_plain_fault(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "xtalk", "selftest", "--skip-clean",
                             "--faults", "shared_factory,drop_run", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = orjson.loads((tmp_path / "selftest.json").read_bytes())
    assert summary["ok"] and {c["case"] for c in summary["cases"]} == {"shared_factory", "drop_run"}
    assert "cross_user_event" in result.stdout and "green" in result.stdout


def test_selftest_proves_the_faults_only_probes_reveal_and_probes_raise_no_false_alarm(
        tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "xtalk", "selftest", "--skip-clean",
                             "--faults", "trust_client_ids,accept_bad_tokens,clean_probes",
                             "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = orjson.loads((tmp_path / "selftest.json").read_bytes())
    found = {c["case"]: c["found"] for c in summary["cases"]}
    assert found["trust_client_ids"].get("cross_user_event", 0) > 0
    assert found["accept_bad_tokens"] == {"probe_violation": 1}
    assert found["clean_probes"] == {}
