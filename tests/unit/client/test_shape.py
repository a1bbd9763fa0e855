"""The LoadTestShape adapter: the scenario's stages, then the last stage held until the drain ends."""

from __future__ import annotations

import pytest

from xtalk.client import shape as shape_mod
from xtalk.scenario.model import Scenario, Shape


class FakeLoadTestShape:
    """Stands in for locust.LoadTestShape: importing Locust would monkey-patch the test process."""

    def get_run_time(self) -> float:
        return 0.0


def ticks(cls: type, times: list[float]) -> list[object]:
    instance = cls()
    out = []
    for t in times:
        instance.get_run_time = lambda t=t: t
        out.append(instance.tick())
    return out


@pytest.fixture(autouse=True)
def fresh_run() -> None:
    shape_mod._RUN_OVER[0] = False
    yield
    shape_mod._RUN_OVER[0] = False


def test_constant_load_needs_no_shape_class() -> None:
    assert shape_mod.shape_class(Scenario(shape=Shape(kind="constant", stages=((30.0, 10, 10.0),)))) is None


def test_stages_are_followed_then_the_last_one_is_held_through_the_drain() -> None:
    scenario = Scenario(run_time=30.0, shape=Shape(kind="steps", stages=((10.0, 2, 5.0), (30.0, 6, 5.0))))
    cls = shape_mod.shape_class(scenario, FakeLoadTestShape)
    assert cls is not None
    assert ticks(cls, [0.0, 9.9, 10.0, 29.0, 45.0]) == [(2, 5.0), (2, 5.0), (6, 5.0), (6, 5.0), (6, 5.0)]


def test_the_shape_ends_the_test_once_the_run_is_over_or_past_its_safety_limit() -> None:
    scenario = Scenario(run_time=30.0, shape=Shape(kind="ramp", stages=((30.0, 6, 1.0),)))
    cls = shape_mod.shape_class(scenario, FakeLoadTestShape)
    assert cls is not None
    assert ticks(cls, [shape_mod.safety_limit(scenario) + 1]) == [None]
    shape_mod.mark_run_over()
    assert ticks(cls, [1.0]) == [None]
