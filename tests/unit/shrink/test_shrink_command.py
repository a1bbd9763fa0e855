"""``xtalk shrink`` end to end with a fake trial runner: outputs, messages, exit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from xtalk import cli
from xtalk.scenario.load import load_scenario, write_scenario_json
from xtalk.scenario.model import Scenario
from xtalk.shrink import reproducer
from xtalk.trials.execute import Trial

KINDS = ("cross_user_event", "cross_user_content", "dropped_response")


def _verdict(word: str, counts: dict[str, int], run_id: str, users: int) -> dict:
    return {"schema": "xtalk.verdict/1", "verdict": word, "anomalies": {k: counts.get(k, 0) for k in KINDS},
            "anomaly_limits": {k: 0 for k in KINDS}, "requests": {"sent": 10, "completed": 9, "unknown": 0},
            "users": users, "findings": [], "run": {"id": run_id, "scenario": "golden_path"}}


def _original(tmp_path: Path, counts: dict[str, int] | None = None, word: str = "fail") -> Path:
    run_dir = tmp_path / "reports" / "20260101-000000-golden_path"
    run_dir.mkdir(parents=True)
    scenario = load_scenario("scenarios/golden_path.toml", {"users": 40, "host": "http://127.0.0.1:9"})
    write_scenario_json(scenario, str(run_dir / "scenario.json"))
    verdict = _verdict(word, counts if counts is not None else {"cross_user_event": 120}, run_dir.name, 40)
    (run_dir / "verdict.json").write_text(json.dumps(verdict))
    (run_dir / "report.html").write_text("<html>original</html>")
    return run_dir


class FakeTrials:
    """Each trial 'fails with cross_user_event' when ``leaks(scenario)``; writes a verdict."""

    def __init__(self, leaks: Callable[[Scenario], bool]) -> None:
        self.leaks = leaks
        self.scenarios: list[Scenario] = []

    def __call__(self, scenario: Scenario, run_dir: Path) -> Trial:
        self.scenarios.append(scenario)
        run_dir.mkdir(parents=True)
        write_scenario_json(scenario, str(run_dir / "scenario.json"))
        leaked = self.leaks(scenario)
        verdict = _verdict("fail" if leaked else "pass", {"cross_user_event": 6} if leaked else {}, run_dir.name,
                           scenario.users)
        (run_dir / "verdict.json").write_text(json.dumps(verdict))
        return Trial(run_dir, 1 if leaked else 0, 2.0, verdict)


def _shrink(monkeypatch: pytest.MonkeyPatch, trials: FakeTrials, *args: str) -> int:
    monkeypatch.setattr(reproducer, "run_trial", trials)
    return cli.main(["shrink", *args])


def test_a_reproducer_is_written_as_a_scenario_a_run_folder_and_a_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = _original(tmp_path)
    trials = FakeTrials(lambda s: s.users >= 2)
    code = _shrink(monkeypatch, trials, str(original), "--budget", "10m")
    out = capsys.readouterr().out
    assert code == 1
    shrink_dir = original.parent / f"{original.name}.shrink"
    toml = shrink_dir / "golden_path.min.toml"
    minimal = load_scenario(str(toml))  # a valid scenario file, as xtalk run reads it
    assert minimal.users == 2 and minimal.run_time == 1 and minimal.host == "http://127.0.0.1:9"
    text = toml.read_text()
    assert text.startswith("# golden_path-min: the minimal reproducer of cross_user_event")
    assert f"Shrunk from run {original.name}" in text and "40 users, 30 s of load" in text
    verdict = json.loads((shrink_dir / "golden_path.min" / "verdict.json").read_text())
    origin = verdict["run"]["shrunk_from"]
    assert origin["run_id"] == original.name and origin["kind"] == "cross_user_event"
    assert (shrink_dir / "golden_path.min" / origin["report"]).resolve() == (original / "report.html").resolve()
    assert 'id="shrunk-from"' in (shrink_dir / "golden_path.min" / "report.html").read_text()
    log = json.loads((shrink_dir / "shrink-log.json").read_text())
    assert log["reproduced"] is True and log["best"]["users"] == 2
    table = (shrink_dir / "shrink-log.txt").read_text()
    assert table.splitlines()[0].split() == ["step", "what", "changed", "users", "run", "time", "drain", "tries",
                                             "reproduced", "seconds"]
    assert table.strip() in out
    assert "minimal reproducer: 2 users, 1 s of load, drain 2 s" in out
    assert all(s.users <= 40 and s.run_time <= 30 for s in trials.scenarios)  # never bigger than the original


def test_a_failure_that_no_longer_reproduces_exits_0_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = _original(tmp_path)
    code = _shrink(monkeypatch, FakeTrials(lambda s: False), str(original), "--tries", "2")
    out = capsys.readouterr().out
    assert code == 0
    assert "the original failure no longer reproduces" in out and "in 0 of 1 run(s)" in out
    shrink_dir = original.parent / f"{original.name}.shrink"
    assert not (shrink_dir / "golden_path.min.toml").exists()
    assert (shrink_dir / "shrink-log.txt").is_file()


def test_a_budget_too_small_for_any_run_concludes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = _original(tmp_path)
    trials = FakeTrials(lambda s: True)
    code = _shrink(monkeypatch, trials, str(original), "--budget", "5s")
    assert code == 2 and trials.scenarios == []
    assert "ran out before any candidate reproduced cross_user_event" in capsys.readouterr().out


@pytest.mark.parametrize(("setup", "args", "expected"), [
    ("missing", [], "RUN_DIR to be the folder of a failing run"),
    ("pass", [], "a run that failed with an anomaly"),
    ("threshold", [], "no anomaly kind above its limit"),
    ("fail", ["--kind", "duplicate_event"], "pick one of: cross_user_event"),
    ("fail", ["--tries", "0"], "--tries N with N >= 1"),
    ("fail", ["--budget", "soon"], "--budget to be a duration"),
])
def test_usage_mistakes_exit_3_with_a_teaching_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        setup: str, args: list[str], expected: str) -> None:
    if setup == "missing":
        run_dir = tmp_path / "nope"
    elif setup == "pass":
        run_dir = _original(tmp_path, {}, word="pass")
    elif setup == "threshold":
        run_dir = _original(tmp_path, {})
    else:
        run_dir = _original(tmp_path)
    trials = FakeTrials(lambda s: True)
    assert _shrink(monkeypatch, trials, str(run_dir), *args) == 3
    err = capsys.readouterr().err
    assert err.startswith("xtalk shrink: expected ") and expected in err
    assert trials.scenarios == []


def test_a_second_shrink_into_the_same_folder_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = _original(tmp_path)
    assert _shrink(monkeypatch, FakeTrials(lambda s: s.users >= 2), str(original)) == 1
    assert _shrink(monkeypatch, FakeTrials(lambda s: True), str(original)) == 3
    assert "already holds a shrink" in capsys.readouterr().err
