"""Load shapes on Locust's ``LoadTestShape``: the scenario's resolved stages, then a drain.

``xtalk.scenario.shape`` resolves every shape kind into stages ``(until, users, spawn_rate)``;
this adapter hands them to Locust second by second. A ``constant`` shape needs no adapter (plain
``-u``/``-r``, and the connect gate of ``xtalk.client.user`` holds the load until every user is
connected). For the other kinds users join while the load runs, which is the point of a ramp or a
spike.

When the stages are over, the shape keeps the last stage's users instead of answering ``None``:
Locust stops a shape test the moment ``tick`` returns ``None``, which would cut the drain short.
The users' conductor ends the run after the drain (``mark_run_over``: then ``tick`` returns
``None``, and Locust stops and quits); past a safety limit ``tick`` returns ``None`` too (Locust ignores ``-t`` for shape tests), so a run can never outlive it.
"""

from __future__ import annotations

from typing import Any

from xtalk.scenario.model import Scenario
from xtalk.scenario.shape import target_at


_RUN_OVER: list[bool] = [False]


def mark_run_over() -> None:
    """The users' conductor drained and wrote ``end``: the shape ends the test (Locust then stops
    and quits cleanly; quitting the runner ourselves would race with Locust's own stop)."""
    _RUN_OVER[0] = True


def needs_shape(scenario: Scenario) -> bool:
    return scenario.shape.kind != "constant" and bool(scenario.shape.stages)


def safety_limit(scenario: Scenario) -> float:
    return scenario.run_time + scenario.drain_window + scenario.connect_timeout + 60.0


def shape_class(scenario: Scenario, base: type[Any] | None = None) -> type[Any] | None:
    """A ``LoadTestShape`` subclass for the scenario, or ``None`` for a constant load. ``base``
    replaces Locust's class in tests (importing Locust monkey-patches the process)."""
    if not needs_shape(scenario):
        return None
    if base is None:
        from locust import LoadTestShape

        base = LoadTestShape
    shape = scenario.shape
    last = shape.stages[-1]
    limit = safety_limit(scenario)

    class XtalkShape(base):  # type: ignore[misc, valid-type]
        def tick(self) -> tuple[int, float] | None:
            t = self.get_run_time()
            if _RUN_OVER[0] or t > limit:
                return None
            target = target_at(shape, t)
            return target if target is not None else (last[1], last[2])

    XtalkShape.__doc__ = f"The {shape.kind} shape of scenario {scenario.name}: stages {shape.stages}."
    return XtalkShape
