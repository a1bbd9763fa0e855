"""Trials: a run's output (ours and its child processes') goes to its run.log; progress lines."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest

from xtalk.errors import UsageError
from xtalk.runner import run as run_module
from xtalk.scenario.load import load_scenario
from xtalk.scenario.model import Scenario
from xtalk.trials import execute
from xtalk.trials.progress import PlainProgress, open_progress
from xtalk.trials.table import format_table


def test_a_trials_output_and_its_child_processes_output_go_to_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    def fake_run_resolved(scenario: Scenario, run_dir: Path) -> int:
        print("from the runner")
        subprocess.run([sys.executable, "-c", "import sys; print('from locust'); print('oops', file=sys.stderr)"],
                       check=True)
        (run_dir / "verdict.json").write_text('{"verdict": "pass"}')
        return 0

    monkeypatch.setattr(run_module, "run_resolved", fake_run_resolved)
    trial = execute.run_trial(load_scenario(None), tmp_path / "run")
    print("after the trial")
    captured = capfd.readouterr()
    assert "from the runner" not in captured.out and "from locust" not in captured.out
    assert "after the trial" in captured.out
    log = trial.log.read_text()
    assert "from the runner" in log and "from locust" in log and "oops" in log
    assert trial.code == 0 and trial.verdict == {"verdict": "pass"} and trial.error is None


def test_a_trial_that_raises_a_usage_error_is_a_trial_with_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(scenario: Scenario, run_dir: Path) -> int:
        raise UsageError("a reachable host", "host=http://127.0.0.1:9", "start it")

    monkeypatch.setattr(run_module, "run_resolved", unreachable)
    trial = execute.run_trial(load_scenario(None), tmp_path / "run")
    assert trial.code == 3 and trial.verdict is None and "a reachable host" in (trial.error or "")
    assert "a reachable host" in trial.log.read_text()


def test_plain_progress_writes_locust_like_time_stamped_lines() -> None:
    out = io.StringIO()
    progress = PlainProgress("xtalk sweep", out, total=2, clock=lambda: dt.datetime(2026, 1, 2, 3, 4, 5, 678000))
    progress.begin("2 users, run 1/1")
    progress.end("2 users, run 1/1: fail")
    assert out.getvalue().splitlines() == [
        "[2026-01-02 03:04:05,678] xtalk sweep: 2 users, run 1/1: started",
        "[2026-01-02 03:04:05,678] xtalk sweep: 2 users, run 1/1: fail (1/2)",
    ]


def test_a_stream_that_is_not_a_terminal_gets_plain_lines() -> None:
    assert isinstance(open_progress("xtalk shrink", budget=60.0, stream=io.StringIO()), PlainProgress)


def test_tables_align_numbers_right_and_text_left() -> None:
    text = format_table([("1", "fail"), ("100", "pass")], ("users", "verdict"), right={"users"})
    assert text.splitlines() == ["users  verdict", "-----  -------", "    1  fail", "  100  pass"]
