"""SIGTERM and SIGINT on a real ``xtalk run``: the load stops, drains briefly, the run folder
still gets verdict.json, report.html and junit.xml (inconclusive: the run was interrupted), every
child process is gone, and the exit status is 143 / 130. Killed hard (SIGKILL), xtalk leaves no
child behind either: the children die with it.

"No process left" is judged by an environment marker that every process of the run inherits
(``XTALK_TEST_RUN_MARKER``), never by process names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.procs import MARKER, PATIENCE, marked, wait_until
from xtalk.runner.processes import parent_death_signal_supported

pytestmark = pytest.mark.integration

SCENARIO = """
[run]
name = "interrupted"
users = 4
spawn_rate = 4
run_time = "120s"
seed = 5
[check]
deadline = "10s"
[[journey]]
think_time = ["0.05s", "0.2s"]
"""


def start_run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path, str]:
    scenario = tmp_path / "interrupted.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    marker = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-m", "xtalk", "run", str(scenario), "--out", str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, MARKER: marker, "PYTHONWARNINGS": "ignore"})
    return proc, out, marker


def loading(out: Path) -> bool:
    """The load has started and requests have been answered."""
    histories = list(out.glob("history*.jsonl"))
    if not histories:
        return False
    text = "".join(h.read_text(errors="replace") for h in histories)
    return '"state":"start"' in text and text.count('"agent_completed"') >= 4


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_load_still_writes_an_inconclusive_verdict_and_stops_every_child(
        tmp_path: Path, sig: signal.Signals, code: int) -> None:
    proc, out, marker = start_run(tmp_path)
    try:
        wait_until(lambda: loading(out) or proc.poll() is not None, "the load to start")
        assert proc.poll() is None, proc.communicate()
        assert len(marked(marker)) >= 3  # xtalk, the embedded backend, Locust
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=PATIENCE)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stdout[-3000:] + stderr[-3000:]
    print(f"{sig.name}: xtalk run exited {took:.1f} s after the signal")
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == "inconclusive", verdict["reasons"]
    assert f"interrupted by {sig.name}" in verdict["inconclusive"]["reason"]
    assert verdict["run"]["interrupted"] == sig.name
    assert verdict["requests"]["completed"] >= 4
    assert (out / "report.html").is_file() and "interrupted" in (out / "report.html").read_text()
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
    error = cases["conclusive"].find("error")
    assert error is not None and "interrupted" in (error.get("message") or "")
    end = json.loads((out / "history.jsonl").read_text().splitlines()[-1])
    assert end["kind"] == "end" and end["interrupted"] is True and end["drain"] <= 3.5
    assert "Traceback" not in stderr and f"interrupted by {sig.name}" in stderr
    wait_until(lambda: not marked(marker), "every process of the run to end")
    # The re-check of the interrupted history gives the run's own verdict.
    recheck = subprocess.run([sys.executable, "-m", "xtalk", "check", str(out / "history.jsonl"), "--json"],
                             capture_output=True, text=True, timeout=PATIENCE, cwd=tmp_path)
    assert recheck.returncode == 2 and json.loads(recheck.stdout)["verdict"] == "inconclusive", recheck.stderr


@pytest.mark.skipif(not parent_death_signal_supported(), reason="needs Linux's PR_SET_PDEATHSIG")
def test_when_xtalk_is_killed_hard_no_process_of_its_run_outlives_it(tmp_path: Path) -> None:
    proc, out, marker = start_run(tmp_path, "--workers", "2")
    try:
        wait_until(lambda: loading(out) or proc.poll() is not None, "the load to start")
        assert proc.poll() is None, proc.communicate()
        children = [p for p in marked(marker) if p.pid != proc.pid]
        assert len(children) >= 4, children  # the backend, the master, two workers
        proc.kill()  # SIGKILL: xtalk gets no chance to stop anything
        proc.communicate(timeout=PATIENCE)
        wait_until(lambda: not marked(marker), "the children to die with xtalk")
    finally:
        if proc.poll() is None:
            proc.kill()
        for left in marked(marker):
            left.kill()
