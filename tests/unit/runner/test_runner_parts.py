"""``xtalk run``'s parts that need no process: commands, ready files, budgets, exit statuses."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import orjson
import pytest

from xtalk.client.settings import make_run_id, read_settings
from xtalk.errors import UsageError
from xtalk.runner import outcome
from xtalk.runner.backend import parse_ready, serve_command
from xtalk.runner.locust_proc import LOCUSTFILE, LocustPlan, master_command, safety_time, worker_command
from xtalk.runner.run import RunOptions, resolve
from xtalk.scenario.model import Backend, Scenario


def test_ready_file_may_hold_a_url_a_port_or_json() -> None:
    assert parse_ready("http://127.0.0.1:4321\n") == "http://127.0.0.1:4321"
    assert parse_ready("4321") == "http://127.0.0.1:4321"
    assert parse_ready('{"port": 4321}') == "http://127.0.0.1:4321"
    assert parse_ready('{"url": "http://127.0.0.1:9/"}') == "http://127.0.0.1:9"
    with pytest.raises(ValueError):
        parse_ready("")


def test_backend_command_carries_engine_faults_seed_ground_truth_and_a_lifetime(tmp_path: Path) -> None:
    scenario = Scenario(backend=Backend(engine="legacy", faults=(("drop_run", 0.2),)))
    cmd = serve_command(scenario, seed=9, ready_file=tmp_path / "r", ground_truth=tmp_path / "gt.jsonl",
                        exit_after=100.0)
    assert cmd[1:4] == ["-m", "xtalk", "serve"]
    joined = " ".join(cmd)
    assert "--port 0" in joined and "--engine legacy" in joined and "--seed 9" in joined
    assert "--fault drop_run=0.2" in joined and f"--ground-truth {tmp_path / 'gt.jsonl'}" in joined
    assert "--exit-after 100s" in joined


def test_locust_time_limit_is_a_safety_net_beyond_connect_load_and_drain() -> None:
    t = safety_time(users=50, spawn_rate=50, connect_timeout=30, run_time=20, drain=30)
    assert t > 30 + 1 + 20 + 30


def test_standalone_and_distributed_locust_commands(tmp_path: Path) -> None:
    plan = LocustPlan(host="http://127.0.0.1:1", users=50, spawn_rate=12.5, safety_time=120, run_dir=tmp_path)
    cmd = master_command(plan)
    assert cmd[:3] == [sys.executable, "-m", "locust"] and str(LOCUSTFILE) in cmd
    assert "--headless" in cmd and "--master" not in cmd
    assert cmd[cmd.index("-u") + 1] == "50" and cmd[cmd.index("-r") + 1] == "12.5"
    assert cmd[cmd.index("-t") + 1] == "120s" and cmd[cmd.index("--csv") + 1] == str(tmp_path / "locust")
    dist = LocustPlan(host="http://h", users=4, spawn_rate=4, safety_time=60, run_dir=tmp_path, workers=2,
                      master_port=5599)
    assert "--expect-workers" in master_command(dist) and "2" in master_command(dist)
    worker = worker_command(dist)
    assert "--worker" in worker and "5599" in worker


def test_the_packaged_locustfile_exists_and_only_imports_the_user() -> None:
    text = LOCUSTFILE.read_text()
    assert "from xtalk.client.user import XtalkUser" in text
    repo_copy = Path(__file__).resolve().parents[3] / "loadtests" / "locustfile.py"
    assert "from xtalk.client.user import XtalkUser" in repo_copy.read_text()


def test_run_ids_are_sortable_time_stamps_plus_the_scenario_name() -> None:
    import datetime as dt

    assert make_run_id("golden path!", dt.datetime(2026, 11, 22, 3, 15, 0)) == "20261122-031500-golden_path"


def test_locust_settings_come_from_the_xtalk_environment(tmp_path: Path) -> None:
    env = {"XTALK_OUT": str(tmp_path), "XTALK_RUN_ID": "rid", "XTALK_CLOCK_ZERO": "12.5", "XTALK_SEED": "42",
           "XTALK_WORKERS": "2"}
    settings = read_settings(env)
    assert (settings.out_dir, settings.run_id, settings.clock_zero, settings.seed, settings.workers) == (
        tmp_path, "rid", 12.5, 42, 2)


def test_negative_workers_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        resolve(RunOptions(scenario="x.toml", workers=-1))
    assert "--workers" in str(info.value)


class _Verdict:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    @property
    def exit_code(self) -> int:
        from xtalk.core.verdict import exit_code_of

        return exit_code_of(self.data["verdict"])


@pytest.mark.parametrize(("verdict", "status"), [("pass", 0), ("fail", 1), ("inconclusive", 2)])
def test_exit_status_follows_the_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdict: str,
                                         status: int) -> None:
    fake = types.ModuleType("xtalk.history")
    fake.check_files = lambda paths, scenario, **given: _Verdict(  # type: ignore[attr-defined]
        {"verdict": verdict, "anomalies": {}, "run": given["run"], "recheck": given["recheck"]})
    monkeypatch.setitem(sys.modules, "xtalk.history", fake)
    monkeypatch.setitem(sys.modules, "xtalk.report.outputs", None)  # report missing: degrade
    code = outcome.check_and_write(tmp_path, [tmp_path / "history.jsonl"], Scenario(), {"id": "rid"})
    assert code == status
    written = orjson.loads((tmp_path / "verdict.json").read_bytes())
    assert written["verdict"] == verdict and written["run"]["id"] == "rid"
    assert written["recheck"].startswith("xtalk check ")


def test_missing_checker_keeps_the_history_and_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "xtalk.history", None)
    assert outcome.check_and_write(tmp_path, [], Scenario(), {}) == 3
    assert "xtalk check" in capsys.readouterr().err


def test_the_banner_explains_locusts_time_limit_and_the_drains_share_of_it() -> None:
    from xtalk.runner.locust_proc import budget

    limit = budget(users=50, spawn_rate=50, connect_timeout=30, run_time=30, drain=30)
    assert limit.total == 131  # what Locust prints as "Run time limit set to 131 seconds"
    assert limit.explain() == ("Locust's time limit -t 131s = connect up to 41 s + load 30 s + drain up to 30 s "
                               "(23 % of the limit) + 30 s margin; the run ends itself after the drain, the limit "
                               "is only a safety net")


def test_worker_output_is_labelled_and_a_standalone_process_is_not() -> None:
    from xtalk.runner.locust_proc import labels

    assert labels(0) == [""]
    assert labels(2) == ["[master] ", "[worker 1] ", "[worker 2] "]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_leads_its_own_group_and_dies_when_its_parent_is_killed_hard() -> None:
    import os
    import signal
    import subprocess
    import time

    import psutil

    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom xtalk.runner.processes import start_child\n"
         "child = start_child([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
         "print(child.pid, flush=True)\ntime.sleep(120)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert os.getpgid(child) == child  # its own group: a terminal's Ctrl-C reaches xtalk alone
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 60
        while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
