"""Every scenario in ``scenarios/`` runs against the reference backend and ends with a verdict
(issue 5, "done when"); thresholds reach ``verdict.json``, ``junit.xml`` and the exit status;
every class of bad scenario file stops ``xtalk run`` with exit 3 and one paragraph.

The scenario runs are short (a few users, ``--run-time 4s``) and run three at a time from one
module fixture, so the whole file stays near a minute and a half on two cores. ``staging_example``
runs with its environment variables pointing at a separately started ``xtalk serve``, as a user
would point them at staging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
EXIT_FOR = {"pass": 0, "fail": 1, "inconclusive": 2}
BYPASS_KEY = "xtalk-test-bypass-key-not-a-secret"

#: Per scenario: the overrides of the short run. Nightly spreads its users over three paths
#: (user i takes engines[i % 3]); demo_leak needs two users on the leaky path at once.
OVERRIDES: dict[str, list[str]] = {
    "golden_path": ["--users", "6", "--run-time", "4s"],
    "nightly_isolation": ["--users", "12", "--run-time", "4s"],
    "demo_leak": ["--users", "8", "--run-time", "4s"],
    "burst": ["--users", "6", "--run-time", "4s"],
    "soak": ["--users", "6", "--run-time", "4s"],
    "engine_matrix": ["--users", "6", "--run-time", "4s"],
    "probes": ["--users", "6", "--run-time", "4s"],
    # a ramp with 2–5 s think times: enough users that two requests surely overlap
    "staging_example": ["--users", "12", "--spawn-rate", "12", "--run-time", "6s"],
}

THRESHOLDS_SCENARIO = """
[run]
name = "impossible_latency"
users = 4
spawn_rate = 4
run_time = "3s"
[check]
deadline = "10s"
[thresholds]
completion_ratio = 0.5
connection_error_ratio = 0.5
  [thresholds.latency.agent_completed]
  p95 = "1ms"
[[journey]]
think_time = ["0.05s", "0.1s"]
"""


@dataclass
class Ran:
    name: str
    returncode: int
    stdout: str
    stderr: str
    out: Path

    def verdict(self) -> dict:
        path = self.out / "verdict.json"
        assert path.is_file(), f"{self.name}: no verdict.json\n{self.stdout[-2000:]}\n{self.stderr[-2000:]}"
        return json.loads(path.read_text())

    def why(self) -> str:
        return f"{self.name} exit {self.returncode}\n{self.stdout[-2500:]}\n{self.stderr[-2500:]}"


def _run(name: str, scenario: Path, args: list[str], out: Path, env: dict[str, str]) -> Ran:
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(scenario), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=170, cwd=out.parent, env=env)
    return Ran(name, proc.returncode, proc.stdout, proc.stderr, out)


@pytest.fixture(scope="module")
def staging_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A reference backend started on its own, as a stand-in for staging (bounded by --exit-after)."""
    folder = tmp_path_factory.mktemp("staging")
    ready = folder / "ready"
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "xtalk", "serve", "--port", "0", "--ready-file", str(ready),
                             "--exit-after", "240s"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "XTALK_E2E_BYPASS_KEY": BYPASS_KEY}, start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, (folder / "serve.log").read_text()
            time.sleep(0.05)
        text = ready.read_text().strip()
        yield json.loads(text)["url"] if text.startswith("{") else text
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, staging_host: str) -> dict[str, Ran]:
    base = tmp_path_factory.mktemp("scenarios")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    staging_env = {**env, "XTALK_STAGING_HOST": staging_host, "XTALK_E2E_BYPASS_KEY": BYPASS_KEY}
    thresholds = base / "impossible_latency.toml"
    thresholds.write_text(THRESHOLDS_SCENARIO)
    jobs = [(name, SCENARIOS / f"{name}.toml", args, base / name,
             staging_env if name == "staging_example" else env) for name, args in OVERRIDES.items()]
    jobs.insert(0, ("impossible_latency", thresholds, [], base / "impossible_latency", env))
    # The leak demo is the longest (its leaked requests wait out their deadline): first.
    jobs.sort(key=lambda job: job[0] != "demo_leak")
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda job: _run(*job), jobs))
    return {ran.name: ran for ran in done}


#: Scenarios for backends other than the reference one: tests/real runs them against real servers.
REAL_TIER = {"chainlit", "chainlit_takeover"}


def test_every_scenario_file_is_covered() -> None:
    assert sorted(p.stem for p in SCENARIOS.glob("*.toml")) == sorted([*OVERRIDES, *REAL_TIER])


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_each_scenario_ends_with_a_verdict_and_its_exit_status(runs: dict[str, Ran], name: str) -> None:
    ran = runs[name]
    verdict = ran.verdict()
    assert verdict["schema"] == "xtalk.verdict/1"
    assert verdict["verdict"] in EXIT_FOR, ran.why()
    assert ran.returncode == EXIT_FOR[verdict["verdict"]], ran.why()
    assert "Traceback" not in ran.stderr
    assert verdict["requests"]["sent"] > 0, ran.why()
    assert (ran.out / "junit.xml").is_file() and (ran.out / "report.html").is_file()


@pytest.mark.parametrize("name", ["golden_path", "nightly_isolation", "burst", "engine_matrix", "probes",
                                  "staging_example"])
def test_scenarios_on_correct_paths_pass_against_the_reference_backend(runs: dict[str, Ran], name: str) -> None:
    ran = runs[name]
    assert ran.verdict()["verdict"] == "pass", ran.why()
    assert ran.returncode == 0


def test_nightly_gates_only_the_correct_engine_paths_as_shipped() -> None:
    text = (SCENARIOS / "nightly_isolation.toml").read_text()
    assert 'engines = ["main", "factory", "isolated"]' in text and '"legacy"]' not in text


def test_demo_leak_says_it_fails_on_purpose_and_fails_with_cross_user_event_on_the_legacy_path(
        runs: dict[str, Ran]) -> None:
    assert "FAILS ON PURPOSE" in (SCENARIOS / "demo_leak.toml").read_text().splitlines()[0]
    ran = runs["demo_leak"]
    verdict = ran.verdict()
    assert ran.returncode == 1, ran.why()
    assert verdict["verdict"] == "fail"
    assert verdict["anomalies"]["cross_user_event"] > 0, ran.why()
    leaks = [f for f in verdict["findings"] if f["kind"] == "cross_user_event"]
    assert leaks and all(f.get("engine") in (None, "legacy") for f in leaks), [f.get("engine") for f in leaks]


def test_staging_example_takes_its_host_and_key_from_the_environment_and_records_no_secret(
        runs: dict[str, Ran], staging_host: str) -> None:
    ran = runs["staging_example"]
    history = (ran.out / "history.jsonl").read_text()
    assert staging_host.split("//")[1] in history  # the host came from XTALK_STAGING_HOST
    logins = [json.loads(x) for x in history.splitlines() if '"kind":"login"' in x]
    assert logins and all(r["identity"].startswith("e2e-") for r in logins)  # the e2e bypass route
    for folder_file in ran.out.iterdir():
        if folder_file.is_file():
            assert BYPASS_KEY not in folder_file.read_text(errors="replace"), folder_file.name
    assert BYPASS_KEY not in ran.stdout + ran.stderr


def test_an_impossible_latency_threshold_fails_the_run_and_is_named_everywhere(runs: dict[str, Ran]) -> None:
    ran = runs["impossible_latency"]
    verdict = ran.verdict()
    assert ran.returncode == 1, ran.why()
    assert verdict["verdict"] == "fail" and not any(verdict["anomalies"].values()), ran.why()
    by_name = {t["name"]: t for t in verdict["thresholds"]}
    latency = by_name["latency.agent_completed.p95"]
    assert latency["ok"] is False and latency["limit"] == pytest.approx(0.001) and latency["observed"] > 0.001
    assert by_name["completion_ratio"]["ok"] is True and by_name["completion_ratio"]["limit"] == 0.5
    assert by_name["connection_error_ratio"]["ok"] is True
    assert "latency.agent_completed.p95" in ran.stdout  # the terminal summary names it
    suite = ET.parse(ran.out / "junit.xml").getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    for name in ("latency.agent_completed.p95", "completion_ratio", "connection_error_ratio"):
        assert name in cases, sorted(cases)
    assert cases["latency.agent_completed.p95"].find("failure") is not None
    assert cases["completion_ratio"].find("failure") is None


BAD_SCENARIOS = {
    "unknown_key": ("[run]\nusres = 5\n", "unknown key run.usres=5", 'did you mean "users"'),
    "wrong_type": ('[run]\nusers = "many"\n', "run.users", "whole number"),
    "impossible_value": ("[run]\nusers = 0\n", "run.users >= 1", "--users N"),
    "missing_secret": ('[auth]\nstrategy = "e2e_bypass"\nbypass_key_env = "XTALK_TEST_UNSET_KEY"\n',
                       "XTALK_TEST_UNSET_KEY unset", "export XTALK_TEST_UNSET_KEY="),
    "unknown_engine": ('[[journey]]\nengine = "isolatd"\n', 'journey[1].engine="isolatd"', 'did you mean "isolated"'),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_a_bad_scenario_file_stops_xtalk_run_with_exit_3_and_one_paragraph(tmp_path: Path, case: str) -> None:
    text, found, fix = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "XTALK_TEST_UNSET_KEY"}
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(path), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("xtalk run: expected ") and "\n" not in message, message
    assert found in message and fix in message and str(path) in message, message
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").glob("history*.jsonl"))
