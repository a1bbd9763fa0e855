"""Shrink candidates become scenarios through xtalk run's validation; the minimal one as TOML."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from xtalk.scenario.load import load_scenario, scenario_to_dict
from xtalk.scenario.shape import peak_users
from xtalk.scenario.validate import build_scenario
from xtalk.shrink.candidates import (
    EnginesDimension,
    Shrinkable,
    StepsDimension,
    TimeDimension,
)
from xtalk.shrink.scenario_file import render_scenario_toml

SCENARIOS = sorted(Path("scenarios").glob("*.toml"))


def test_the_original_candidate_is_the_scenario_itself() -> None:
    scenario = load_scenario("scenarios/golden_path.toml", {"users": 40, "run_time": "20s"})
    shrinkable = Shrinkable(scenario)
    c = shrinkable.original
    assert (c.users, c.run_time, c.drain, c.spawn_rate) == (40, 20.0, 30.0, 50.0)
    assert c.journeys == ((0, (0, 1)),) and c.constant_shape
    again = shrinkable.scenario_of(c)
    assert dataclasses.replace(again, drain=None) == scenario  # the drain is written out explicitly


def test_a_smaller_candidate_keeps_host_backend_auth_and_prompts() -> None:
    scenario = load_scenario("scenarios/golden_path.toml", {"host": "http://127.0.0.1:9", "users": 40})
    shrinkable = Shrinkable(scenario, name="golden_path-min", description="shrunk")
    small = dataclasses.replace(shrinkable.original, users=2, run_time=1, drain=2, spawn_rate=1.0,
                                journeys=((0, (1,)),))
    minimal = shrinkable.scenario_of(small)
    assert (minimal.users, minimal.run_time, minimal.drain, minimal.spawn_rate) == (2, 1.0, 2.0, 1.0)
    assert minimal.shape.stages == ((1.0, 2, 1.0),)
    assert minimal.host == scenario.host and minimal.backend == scenario.backend
    assert minimal.auth == scenario.auth and minimal.name == "golden_path-min"
    assert [s.prompt for s in minimal.journeys[0].steps] == [scenario.journeys[0].steps[1].prompt]


def test_the_time_dimension_tries_both_floors_then_the_drain_then_the_run_time() -> None:
    shrinkable = Shrinkable(load_scenario("scenarios/golden_path.toml"))
    changes = [m.change for m in TimeDimension().moves(shrinkable.original)]
    assert changes[0] == "run time 30 s → 1 s, drain 30 s → 2 s"
    assert changes[1] == "drain 30 s → 2 s"
    assert changes.index("drain 30 s → 15 s") < changes.index("run time 30 s → 15 s")


def test_a_shape_is_scaled_with_users_and_run_time_until_it_is_flattened() -> None:
    scenario = load_scenario("scenarios/burst.toml", {"users": 40, "run_time": "20s"})
    shrinkable = Shrinkable(scenario)
    assert not shrinkable.original.constant_shape
    half = shrinkable.scenario_of(dataclasses.replace(shrinkable.original, users=20, run_time=10))
    assert peak_users(half.shape) == 20 and half.shape.stages[-1][0] == 10.0
    assert len(half.shape.stages) == len(scenario.shape.stages)
    flat = shrinkable.scenario_of(dataclasses.replace(shrinkable.original, users=4, constant_shape=True))
    assert flat.shape.kind == "constant" and flat.shape.stages == ((20.0, 4, scenario.spawn_rate),)


def test_engine_paths_shrink_only_when_a_journey_fans_out_and_a_matrix_of_one_is_that_path() -> None:
    golden = Shrinkable(load_scenario("scenarios/golden_path.toml"))
    assert list(EnginesDimension(golden).moves(golden.original)) == []
    matrix = Shrinkable(load_scenario("scenarios/engine_matrix.toml"))
    moves = list(EnginesDimension(matrix).moves(matrix.original))
    assert moves and all(len(m.config.engines) < 3 for m in moves)
    single = next(m.config for m in moves if len(m.config.engines) == 1)
    scenario = matrix.scenario_of(single)
    assert scenario.journeys[0].engine == single.engines[0]


def test_steps_shrink_per_journey_and_a_journey_keeps_at_least_one_step() -> None:
    shrinkable = Shrinkable(load_scenario("scenarios/nightly_isolation.toml", check_env=False))
    moves = list(StepsDimension(shrinkable).moves(shrinkable.original))
    assert moves
    for move in moves:
        assert all(steps for _, steps in move.config.journeys)
        assert shrinkable.invalid(move.config) is None


def test_a_candidate_the_validation_refuses_says_why() -> None:
    shrinkable = Shrinkable(load_scenario("scenarios/burst.toml"))
    assert shrinkable.invalid(shrinkable.original) is None
    reason = shrinkable.invalid(dataclasses.replace(shrinkable.original, users=0))
    assert reason is not None and "users >= 1" in reason


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_written_as_toml_reads_back_as_the_same_scenario(path: Path) -> None:
    scenario = load_scenario(str(path), check_env=False)
    text = render_scenario_toml(scenario_to_dict(scenario), "minimal reproducer\nshrunk from a run")
    assert text.startswith("# minimal reproducer\n# shrunk from a run\n")
    back = build_scenario(tomllib.loads(text), source="min.toml", check_env=False)
    assert dataclasses.replace(back, path=None) == dataclasses.replace(scenario, path=None)


def test_text_that_needs_escaping_survives_the_toml_file() -> None:
    scenario = load_scenario("scenarios/golden_path.toml")
    doc = scenario_to_dict(scenario)
    doc["run"]["description"] = 'quotes " and \\ back\nslash, tab\t, unicode é ✓, "]]\n[run]'
    doc["journey"][0]["step"][0]["prompt"] = 'He said "{user}"\\n'
    text = render_scenario_toml(doc, "a comment\nwith\x1b[31m an escape")
    assert "\x1b" not in text
    back = build_scenario(tomllib.loads(text), source="min.toml", check_env=False)
    assert back.description == doc["run"]["description"]
    assert back.journeys[0].steps[0].prompt == 'He said "{user}"\\n'
