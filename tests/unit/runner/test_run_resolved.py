"""``run_resolved``: a scenario value runs through ``xtalk run``'s own path, from its JSON form."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xtalk.runner import run as run_module
from xtalk.scenario.load import load_scenario


def test_a_resolved_scenario_is_written_as_the_folders_scenario_json_and_run_from_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[run_module.RunOptions] = []

    def fake_run(options: run_module.RunOptions) -> int:
        seen.append(options)
        return 1

    monkeypatch.setattr(run_module, "run", fake_run)
    scenario = dataclasses.replace(load_scenario(None, {"users": 3, "run_time": 2}), name="gp-min")
    folder = tmp_path / "runs" / "step-01"
    assert run_module.run_resolved(scenario, folder) == 1
    assert seen == [run_module.RunOptions(scenario=str(folder / "scenario.json"), out=str(folder))]
    assert load_scenario(str(folder / "scenario.json")) == scenario
