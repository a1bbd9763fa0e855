"""The shrink search against fake runners: a hidden threshold, flakiness, the budget, a fake clock.

No process and no sleep: a fake runner decides whether a configuration reproduces, and a fake
clock that only the runner advances stands for time.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

import pytest

from xtalk.shrink.candidates import Candidate, Shrinkable, UsersDimension
from xtalk.shrink.search import (
    STOP_BUDGET,
    STOP_DONE,
    STOP_INTERRUPTED,
    Step,
    TryResult,
    ddmin_subsets,
    search,
    smaller_counts,
    Result,
)
from xtalk.scenario.load import load_scenario

ORIGINAL = Candidate(users=40, run_time=30.0, drain=30.0, spawn_rate=50.0,
                     journeys=((0, (0, 1)),), engines=("main", "isolated"), constant_shape=True)


class FakeRunner:
    """Reproduces when ``fails(config, try_number)``; counts every run; advances a fake clock."""

    def __init__(self, fails: Callable[[Candidate, int], bool], seconds: float = 10.0) -> None:
        self.fails = fails
        self.seconds = seconds
        self.now = 0.0
        self.runs: Counter[Candidate] = Counter()

    def clock(self) -> float:
        return self.now

    def __call__(self, config: Candidate, step: Step[Candidate], number: int) -> TryResult:
        self.runs[config] += 1
        self.now += self.seconds
        return TryResult(self.fails(config, number), seconds=self.seconds)


def shrink_users(runner: FakeRunner, *, tries: int = 1, budget: float = 1e9, start: Candidate = ORIGINAL) -> Result[Candidate]:
    return search(start, [UsersDimension()], runner, tries=tries, budget=budget, clock=runner.clock)


def test_counts_to_try_are_the_two_smallest_then_halving_then_ddmin_over_the_count() -> None:
    assert smaller_counts(40) == [1, 2, 20, 30, 35, 37, 38, 39]
    assert smaller_counts(3) == [1, 2]
    assert smaller_counts(2) == [1]
    assert smaller_counts(1) == []
    assert smaller_counts(10, floor=2) == [2, 3, 5, 7, 8, 9]


def test_ddmin_proposes_halves_then_complements_at_finer_granularity_and_never_the_whole() -> None:
    assert list(ddmin_subsets("ab")) == [("a",), ("b",)]
    proposals = list(ddmin_subsets("abcd"))
    assert proposals[:2] == [("a", "b"), ("c", "d")]
    assert ("a",) in proposals and ("b", "c", "d") in proposals
    assert ("a", "b", "c", "d") not in proposals and () not in proposals
    assert list(ddmin_subsets("a")) == []


@pytest.mark.parametrize("threshold", [1, 2, 3, 7, 13, 20, 21, 33, 40])
def test_a_hidden_user_threshold_is_found_exactly_in_few_runs(threshold: int) -> None:
    runner = FakeRunner(lambda c, n: c.users >= threshold)
    result = shrink_users(runner)
    assert result.best.users == threshold
    assert result.reproduced is True
    # halving then bisection: about two runs per halving of 40, never one run per count
    assert result.runs <= 12
    assert max(runner.runs.values()) == 1  # no configuration is run twice


def test_each_accepted_candidate_needs_every_try_to_reproduce() -> None:
    runner = FakeRunner(lambda c, n: c.users >= 7)
    result = shrink_users(runner, tries=3)
    assert result.best.users == 7
    best = result.best_step
    assert best is not None and best.hits == 3 and len(best.tries) == 3
    rejected = [s for s in result.steps if not s.reproduced]
    assert rejected and all(len(s.tries) == 1 for s in rejected)  # the first miss ends a candidate


def test_a_flaky_reproducer_is_rejected_with_several_tries_and_accepted_with_one() -> None:
    # Under 20 users the failure shows on a candidate's first run only: a flaky reproducer.
    def fails(c: Candidate, number: int) -> bool:
        return c.users >= 20 or number == 1

    strict = shrink_users(FakeRunner(fails), tries=3)
    assert strict.best.users == 20
    flaky_steps = [s for s in strict.steps if s.config.users < 20]
    assert flaky_steps and all((s.hits, len(s.tries), s.reproduced) == (1, 2, False) for s in flaky_steps)

    lenient = shrink_users(FakeRunner(fails), tries=1)
    assert lenient.best.users == 1
    assert lenient.best_step is not None and lenient.best_step.hits == 1


def test_the_search_stops_at_the_budget_with_the_best_found_so_far() -> None:
    runner = FakeRunner(lambda c, n: c.users >= 3, seconds=10.0)
    result = search(ORIGINAL, [UsersDimension()], runner, tries=1, budget=35.0, clock=runner.clock,
                    estimate=lambda c: 10.0)
    assert result.stopped == STOP_BUDGET
    assert runner.now <= 35.0  # no run was started that could not end within the budget
    assert result.runs == 3  # users 1 (no), 2 (no), 20 (yes); a fourth run would end at 40 s
    assert result.best.users == 20 and result.reproduced is True


def test_a_budget_spent_before_anything_reproduced_concludes_nothing() -> None:
    runner = FakeRunner(lambda c, n: False)
    result = search(ORIGINAL, [UsersDimension()], runner, tries=1, budget=15.0, clock=runner.clock,
                    estimate=lambda c: 10.0)
    assert result.stopped == STOP_BUDGET and result.reproduced is None and result.best == ORIGINAL


def test_an_interrupt_keeps_the_best_found_so_far() -> None:
    calls = Counter[str]()

    def run(config: Candidate, step: Step[Candidate], number: int) -> TryResult:
        calls["runs"] += 1
        if calls["runs"] == 5:  # after users 1 (no), 2 (no), 20 (yes), 10 (yes)
            raise KeyboardInterrupt
        return TryResult(config.users >= 3)

    result = search(ORIGINAL, [UsersDimension()], run, tries=1, budget=1e9, clock=lambda: 0.0)
    assert result.stopped == STOP_INTERRUPTED and result.best.users == 10 and result.reproduced is True


def test_a_failure_that_no_longer_reproduces_is_told_apart_by_running_the_original() -> None:
    runner = FakeRunner(lambda c, n: False)
    result = shrink_users(runner, tries=3)
    assert result.reproduced is False and result.stopped == STOP_DONE
    last = result.steps[-1]
    assert last.original and last.config == ORIGINAL and last.hits == 0
    assert result.best_step is None


def test_an_original_that_is_already_minimal_is_the_reproducer() -> None:
    runner = FakeRunner(lambda c, n: c == ORIGINAL)
    result = shrink_users(runner, tries=2)
    assert result.reproduced is True and result.best == ORIGINAL
    assert result.best_step is not None and result.best_step.original and result.best_step.hits == 2


def test_a_candidate_the_validation_refuses_is_never_run() -> None:
    runner = FakeRunner(lambda c, n: c.users >= 2)
    result = search(ORIGINAL, [UsersDimension()], runner, tries=1, budget=1e9, clock=runner.clock,
                    valid=lambda c: "odd users refused" if c.users % 2 else None)
    assert all(c.users % 2 == 0 for c in runner.runs)
    assert result.best.users == 2


def test_every_dimension_of_a_real_scenario_shrinks_to_what_the_failure_needs() -> None:
    scenario = load_scenario("scenarios/golden_path.toml", {"users": 40})
    shrinkable = Shrinkable(scenario)

    def fails(c: Candidate, number: int) -> bool:
        # needs 3 users, 4 s of load, and the journey's first step; nothing else matters
        return c.users >= 3 and c.run_time >= 4 and any(0 in steps for _, steps in c.journeys)

    runner = FakeRunner(fails)
    result = search(shrinkable.original, shrinkable.dimensions(), runner, tries=1, budget=1e9,
                    clock=runner.clock, valid=shrinkable.invalid)
    best = result.best
    assert (best.users, best.run_time, best.drain) == (3, 4, 2)
    assert best.journeys == ((0, (0,)),)
    assert best.spawn_rate == 1.0
    assert result.runs <= 30
    minimal = shrinkable.scenario_of(best)
    assert minimal.users == 3 and minimal.run_time == 4 and minimal.drain == 2
    assert [s.kind for s in minimal.journeys[0].steps] == ["start_agent"]
    assert dataclasses.replace(minimal.backend) == scenario.backend
