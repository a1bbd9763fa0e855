"""Load shapes: users and spawn rate as a pure function of time, ending in None (then the drain)."""

from __future__ import annotations

import pytest

from xtalk.scenario.model import Shape
from xtalk.scenario.shape import clip, peak_users, stages_for, target_at
from xtalk.scenario.validate import build_scenario


def shape(kind: str, **kw: float) -> Shape:
    users = int(kw.pop("users", 100))
    rate = kw.pop("spawn_rate", 10.0)
    run_time = kw.pop("run_time", 100.0)
    return Shape(kind=kind, stages=stages_for(kind, users=users, spawn_rate=rate, run_time=run_time, **kw))  # type: ignore[arg-type]


def test_constant_holds_users_until_the_run_time_then_stops() -> None:
    s = shape("constant")
    assert target_at(s, 0.0) == (100, 10.0)
    assert target_at(s, 99.9) == (100, 10.0)
    assert target_at(s, 100.0) is None


def test_ramp_spawns_at_users_over_ramp_up() -> None:
    s = shape("ramp", ramp_up=20.0)
    assert target_at(s, 0.0) == (100, 5.0)
    assert target_at(s, 150.0) is None


def test_ramp_longer_than_the_run_is_squeezed_into_it() -> None:
    s = shape("ramp", ramp_up=60.0, run_time=15.0)
    assert target_at(s, 0.0) == (100, pytest.approx(100 / 15, abs=1e-3))


def test_steps_climb_in_equal_steps_to_all_users() -> None:
    s = shape("steps", steps=4)
    assert [target_at(s, t) for t in (0, 25, 50, 75)] == [(25, 10.0), (50, 10.0), (75, 10.0), (100, 10.0)]
    assert target_at(s, 100) is None


def test_spike_goes_from_base_to_all_users_and_back() -> None:
    s = shape("spike", base=0.1, at=40.0, length=20.0)
    assert target_at(s, 10) == (10, 10.0)
    assert target_at(s, 45) == (100, 10.0)
    assert target_at(s, 70) == (10, 10.0)
    assert target_at(s, 100) is None
    assert peak_users(s) == 100


def test_spike_defaults_start_at_40_percent_for_20_percent_of_the_run() -> None:
    s = shape("spike")
    assert target_at(s, 39.9) == (20, 10.0)
    assert target_at(s, 40.0) == (100, 10.0)
    assert target_at(s, 60.0) == (20, 10.0)


def test_soak_ramps_gently_and_holds() -> None:
    s = shape("soak", run_time=3600.0)
    assert target_at(s, 0) == (100, pytest.approx(100 / 60, abs=1e-3))
    assert target_at(s, 3599) is not None
    assert target_at(s, 3600) is None


def test_clip_cuts_stages_at_the_run_time_and_holds_the_last_to_the_end() -> None:
    assert clip([(10, 5, 1.0), (20, 10, 1.0), (30, 20, 1.0)], 15) == ((10, 5, 1.0), (15, 10, 1.0))
    assert clip([(10, 5, 1.0)], 30) == ((30, 5, 1.0),)


def test_a_negative_time_is_the_start() -> None:
    assert target_at(shape("steps"), -1) == (25, 10.0)


def test_shape_percentages_scale_with_run_time_and_users_overrides() -> None:
    doc = {"shape": {"kind": "steps", "stages": [
        {"until": "50%", "users": "10%"}, {"until": "100%", "users": "100%", "spawn_rate": 5}]}}
    s = build_scenario(doc, source="x.toml", overrides={"users": 200, "run_time": 60.0})
    assert s.shape.stages == ((30.0, 20, 10.0), (60.0, 200, 5.0))


def test_every_resolved_shape_ends_exactly_at_the_run_time() -> None:
    for kind in ("constant", "ramp", "steps", "spike", "soak"):
        s = build_scenario({"run": {"run_time": "15s"}, "shape": {"kind": kind}}, source="x.toml")
        assert s.shape.stages[-1][0] == 15.0
        assert target_at(s.shape, 15.0) is None
