"""Shrink candidates: a failing run's configuration as a small value, and the ways to make it smaller.

A ``Candidate`` holds only what the shrinker changes: users, load time, drain window, spawn rate,
which journeys (and which of their steps) are kept, the engine paths of ``[run] engines``, and
whether a non-constant load shape has been flattened. Everything else (host, auth, backend engine
and faults, thresholds, prompts, think times) stays as the original run had it.

``Shrinkable`` turns a candidate back into a scenario: the original's resolved document
(``scenario_to_dict``) with the candidate's values put in, loaded by ``scenario_from_dict``:
the same validation as ``xtalk run``, so a candidate the validation refuses is never run, and a
minimal scenario written as TOML is one ``xtalk run`` accepts.

The dimensions, in the order a pass tries them (cheap cuts first: a shorter run makes every
later run cheaper): time (the run time and drain together at their floors, then each halved and
bisected), the load shape (flattened), users (halving, then ddmin over the count), journeys and
their steps (ddmin over the lists), engine paths (ddmin, only when a journey fans out over them),
spawn rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from xtalk.errors import UsageError
from xtalk.scenario.load import scenario_from_dict, scenario_to_dict
from xtalk.scenario.model import Scenario
from xtalk.shrink.search import Dimension, Move, ddmin_subsets, smaller_counts

RUN_TIME_FLOOR = 1  # seconds of load: the shortest candidate run
DRAIN_FLOOR = 2  # seconds of drain: leaked events are seen when they arrive, not at the end
RUN_OVERHEAD = 10.0  # seconds a run takes beyond connect, load and drain (processes, check, report)
FANNING_ENGINES = ("matrix", "per_user")  # journey engines that use [run] engines


@dataclass(frozen=True, slots=True)
class Candidate:
    users: int
    run_time: float
    drain: float
    spawn_rate: float
    journeys: tuple[tuple[int, tuple[int, ...]], ...]  # (journey index, kept step indices), in order
    engines: tuple[str, ...]
    constant_shape: bool


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _rate(value: float) -> str:
    return f"{value:g}/s"


class Shrinkable:
    """A failing run's scenario, and the candidates smaller than it."""

    def __init__(self, scenario: Scenario, *, name: str | None = None, description: str | None = None) -> None:
        self.scenario = scenario
        self.doc = scenario_to_dict(scenario)
        self.name = name or scenario.name
        self.description = description if description is not None else scenario.description
        self.original = Candidate(
            users=scenario.users,
            run_time=scenario.run_time,
            drain=scenario.drain_window,
            spawn_rate=scenario.spawn_rate,
            journeys=tuple((i, tuple(range(len(j.steps)))) for i, j in enumerate(scenario.journeys)),
            engines=scenario.engines,
            constant_shape=scenario.shape.kind == "constant" and len(scenario.shape.stages) <= 1,
        )
        self._validated: dict[Candidate, Scenario | str] = {}

    # -- candidate → scenario ------------------------------------------------------------------

    def document(self, c: Candidate) -> dict[str, Any]:
        """The scenario document (sectioned, as ``scenario.json``) of candidate ``c``."""
        doc: dict[str, Any] = _copy(self.doc)
        run = doc["run"]
        run.update(name=self.name, description=self.description, users=c.users, run_time=c.run_time,
                   spawn_rate=c.spawn_rate, engines=list(c.engines))
        doc["check"]["drain"] = c.drain
        journeys = []
        for index, steps in c.journeys:
            journey = _copy(self.doc["journey"][index])
            journey["step"] = [journey["step"][s] for s in steps]
            if len(c.engines) == 1 and journey.get("engine") == "matrix":
                journey["engine"] = c.engines[0]  # a matrix of one path is that path
            journeys.append(journey)
        doc["journey"] = journeys
        doc["shape"] = self._shape(c)
        return doc

    def _shape(self, c: Candidate) -> dict[str, Any]:
        if c.constant_shape:
            return {"kind": "constant"}  # stages regenerated from users, spawn rate and run time
        original = self.original
        time_scale = c.run_time / original.run_time
        user_scale = c.users / original.users
        stages = [{"until": round(stage["until"] * time_scale, 3),
                   "users": math.ceil(stage["users"] * user_scale),
                   "spawn_rate": min(stage["spawn_rate"], c.spawn_rate)}
                  for stage in self.doc["shape"]["stages"]]
        return {"kind": self.doc["shape"]["kind"], "stages": stages}

    def scenario_of(self, c: Candidate) -> Scenario:
        """The validated scenario of ``c``; a ``UsageError`` if the validation refuses it."""
        found = self.check(c)
        if isinstance(found, str):
            raise UsageError("a valid shrink candidate", found, "this is a bug in xtalk shrink; report it")
        return found

    def check(self, c: Candidate) -> Scenario | str:
        """The scenario of ``c``, or why ``xtalk run``'s validation refuses it."""
        if c not in self._validated:
            try:
                self._validated[c] = scenario_from_dict(self.document(c))
            except UsageError as error:
                self._validated[c] = error.message
        return self._validated[c]

    def invalid(self, c: Candidate) -> str | None:
        found = self.check(c)
        return found if isinstance(found, str) else None

    def estimate(self, c: Candidate) -> float:
        """The longest one run of ``c`` should take: connect, load, the whole drain, overhead."""
        return c.users / max(c.spawn_rate, 0.1) + c.run_time + c.drain + RUN_OVERHEAD

    # -- words for the log ---------------------------------------------------------------------

    def journey_name(self, index: int) -> str:
        return str(self.doc["journey"][index]["name"])

    def step_label(self, journey: int, step: int) -> str:
        return f"{step + 1}:{self.doc['journey'][journey]['step'][step]['kind']}"

    def dimensions(self) -> list[Dimension[Candidate]]:
        return [TimeDimension(), ShapeDimension(), UsersDimension(), JourneysDimension(self),
                StepsDimension(self), EnginesDimension(self), SpawnRateDimension()]


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _shorter(value: float, floor: int) -> list[int]:
    return [v for v in smaller_counts(math.ceil(value), floor) if v < value]


class TimeDimension:
    """Run time and drain together at their floors; else the drain first (a leaked request holds
    the drain open to its end, so a short drain makes every later candidate cheap), then the
    run time."""

    name = "time"

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        if c.run_time > RUN_TIME_FLOOR and c.drain > DRAIN_FLOOR:
            yield Move(dataclasses.replace(c, run_time=RUN_TIME_FLOOR, drain=DRAIN_FLOOR),
                       f"run time {_seconds(c.run_time)} → {_seconds(RUN_TIME_FLOOR)}, "
                       f"drain {_seconds(c.drain)} → {_seconds(DRAIN_FLOOR)}")
        for value in _shorter(c.drain, DRAIN_FLOOR):
            yield Move(dataclasses.replace(c, drain=value),
                       f"drain {_seconds(c.drain)} → {_seconds(value)}", "drain", value)
        for value in _shorter(c.run_time, RUN_TIME_FLOOR):
            yield Move(dataclasses.replace(c, run_time=value),
                       f"run time {_seconds(c.run_time)} → {_seconds(value)}", "run_time", value)


class ShapeDimension:
    name = "shape"

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        if not c.constant_shape:
            yield Move(dataclasses.replace(c, constant_shape=True), "load shape → constant")


class UsersDimension:
    name = "users"

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        for value in smaller_counts(c.users, 1):
            yield Move(dataclasses.replace(c, users=value), f"users {c.users} → {value}", "users", value)


class JourneysDimension:
    name = "journeys"

    def __init__(self, shrinkable: Shrinkable) -> None:
        self.s = shrinkable

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        names = ", ".join(self.s.journey_name(i) for i, _ in c.journeys)
        for kept in ddmin_subsets(c.journeys):
            yield Move(dataclasses.replace(c, journeys=kept),
                       f"journeys {names} → {', '.join(self.s.journey_name(i) for i, _ in kept)}")


class StepsDimension:
    name = "steps"

    def __init__(self, shrinkable: Shrinkable) -> None:
        self.s = shrinkable

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        for position, (index, steps) in enumerate(c.journeys):
            for kept in ddmin_subsets(steps):
                journeys = c.journeys[:position] + ((index, kept),) + c.journeys[position + 1:]
                yield Move(dataclasses.replace(c, journeys=journeys),
                           f"steps of {self.s.journey_name(index)}: {len(steps)} → {len(kept)} "
                           f"(kept {', '.join(self.s.step_label(index, s) for s in kept)})")


class EnginesDimension:
    name = "engines"

    def __init__(self, shrinkable: Shrinkable) -> None:
        self.s = shrinkable

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        fanning = any(self.s.doc["journey"][i].get("engine") in FANNING_ENGINES for i, _ in c.journeys)
        if not fanning:
            return  # no journey uses [run] engines: fewer of them would change nothing
        for kept in ddmin_subsets(c.engines):
            yield Move(dataclasses.replace(c, engines=kept),
                       f"engine paths {', '.join(c.engines)} → {', '.join(kept)}")


class SpawnRateDimension:
    name = "spawn rate"

    def moves(self, c: Candidate) -> Iterator[Move[Candidate]]:
        for value in _shorter(c.spawn_rate, 1):
            yield Move(dataclasses.replace(c, spawn_rate=float(value)),
                       f"spawn rate {_rate(c.spawn_rate)} → {_rate(value)}", "spawn_rate", value)
