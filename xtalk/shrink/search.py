"""The shrink search: from a failing configuration to a smaller one that still fails the same way.

Pure: it knows configurations only as hashable values, smaller ones only through the moves its
dimensions propose, and runs only through ``run_try``; time comes from an injected ``clock``. So it
is tested with a fake runner and a fake clock, and ``xtalk shrink`` gives it real runs.

The search is greedy, in passes, as Hypothesis shrinks and as Zeller's ddmin reduces a failing
input:

- a pass walks the dimensions in order (for a run: its time, users, journeys, steps, engine
  paths, spawn rate); a dimension proposes smaller configurations, the boldest first; the first
  one that reproduces becomes the current configuration and the dimension proposes again from
  there; when none of its proposals reproduces, the next dimension has its turn;
- passes repeat until one accepts nothing (a fixpoint), or the budget is spent;
- a candidate *reproduces* when each of ``tries`` runs reproduces the failure. The first run
  that does not ends the candidate (it cannot reproduce every time any more), so the log's rate
  for a rejected candidate is "hits / runs made";
- a configuration is run at most once (its outcome is cached);
- counts are assumed monotone within a pass: once a value of a field (say users = 5) did not
  reproduce, smaller values of that field are not tried again until another field changes.
  This is what makes halving followed by ddmin over a count a binary search (a handful of
  runs, not one per value);
- before each run the search asks whether the run can end within the budget (``estimate``); if
  not, it stops with the best configuration found so far;
- the original configuration is run only when no smaller one reproduced: to tell "the original
  is already minimal" (it still reproduces) from "the failure no longer reproduces".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

C = TypeVar("C")
T = TypeVar("T")

STOP_DONE = "done"  # a pass accepted nothing: no dimension can shrink the best configuration
STOP_BUDGET = "budget"  # the next run could not have ended within the budget
STOP_INTERRUPTED = "interrupted"  # Ctrl-C: the best found so far stands


@dataclass(frozen=True, slots=True)
class Move(Generic[C]):
    """A smaller configuration and what changed, in words ("users 40 → 20").

    ``field`` and ``value`` name the one count the move lowers, when it lowers one: the search
    then skips values at or below one already seen not to reproduce (monotone counts)."""

    config: C
    change: str
    field: str | None = None
    value: float | None = None


class Dimension(Protocol[C]):
    name: str

    def moves(self, config: C) -> Iterable[Move[C]]:
        """Smaller configurations than ``config`` along this dimension, the boldest first."""
        ...


@dataclass(frozen=True, slots=True)
class TryResult:
    """One run of a candidate. ``error``: the run could not be judged (a harness error); it
    counts as a miss for the candidate and is shown in the log."""

    reproduced: bool
    seconds: float = 0.0
    detail: Any = None  # what the runner wants to keep (its run folder)
    error: str | None = None


@dataclass(slots=True)
class Step(Generic[C]):
    """One candidate the search ran (a row of the shrink log)."""

    number: int
    change: str
    config: C
    tries: list[TryResult] = field(default_factory=list)
    reproduced: bool = False
    original: bool = False  # the unchanged original, run to see whether it still reproduces

    @property
    def hits(self) -> int:
        return sum(1 for t in self.tries if t.reproduced)

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.tries)

    @property
    def errors(self) -> list[str]:
        return [t.error for t in self.tries if t.error]


@dataclass(slots=True)
class Result(Generic[C]):
    best: C
    steps: list[Step[C]]
    stopped: str
    #: True: a configuration reproduced ``tries`` out of ``tries`` (``best`` did, or is the
    #: original that did); False: no candidate, not even the original, reproduced; None: the
    #: search stopped (budget, interrupt) before it could tell.
    reproduced: bool | None

    @property
    def best_step(self) -> Step[C] | None:
        """The step that ran ``best`` and reproduced (None when nothing did)."""
        for step in reversed(self.steps):
            if step.reproduced and step.config == self.best:
                return step
        return None

    @property
    def runs(self) -> int:
        return sum(len(s.tries) for s in self.steps)


RunTry = Callable[[C, Step[C], int], TryResult]  # (config, its step, try number from 1) -> result


class _Out(Exception):
    """The search must stop now (budget, interrupt); carries the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Search(Generic[C]):
    dimensions: Sequence[Dimension[C]]
    run_try: RunTry[C]
    tries: int
    budget: float
    clock: Callable[[], float]
    estimate: Callable[[C], float]
    valid: Callable[[C], str | None]
    on_step: Callable[[Step[C]], None] | None
    steps: list[Step[C]] = field(default_factory=list)
    seen: dict[Any, bool] = field(default_factory=dict)
    started: float = 0.0
    best: Any = None  # the smallest configuration that reproduced so far (the original before)
    found: bool = False

    def reproduces(self, config: C, change: str, *, original: bool = False) -> bool:
        if config in self.seen:
            return self.seen[config]
        if self.valid(config) is not None:
            self.seen[config] = False
            return False
        step = Step(len(self.steps) + 1, change, config, original=original)
        try:
            for number in range(1, self.tries + 1):
                if self.clock() + self.estimate(config) > self.started + self.budget:
                    raise _Out(STOP_BUDGET)
                if not step.tries:
                    self.steps.append(step)
                try:
                    result = self.run_try(config, step, number)
                except KeyboardInterrupt:
                    raise _Out(STOP_INTERRUPTED) from None
                step.tries.append(result)
                if not result.reproduced:
                    break
            step.reproduced = len(step.tries) == self.tries and step.hits == self.tries
            self.seen[config] = step.reproduced
            return step.reproduced
        finally:
            if step.tries and self.on_step is not None:
                self.on_step(step)

    def shrink(self) -> bool:
        """One pass over every dimension from the best configuration; True when one accepted."""
        accepted = False
        config: C = self.best
        for dimension in self.dimensions:
            lowest_miss: dict[str, float] = {}
            progressed = True
            while progressed:
                progressed = False
                for move in dimension.moves(config):
                    if move.field is not None and move.value is not None and \
                            move.value <= lowest_miss.get(move.field, -math.inf):
                        continue
                    if self.reproduces(move.config, move.change):
                        config, progressed, accepted = move.config, True, True
                        self.best, self.found = config, True
                        lowest_miss = {k: v for k, v in lowest_miss.items() if k == move.field}
                        break
                    if move.field is not None and move.value is not None:
                        lowest_miss[move.field] = max(move.value, lowest_miss.get(move.field, -math.inf))
        return accepted


def search(
    original: C,
    dimensions: Sequence[Dimension[C]],
    run_try: RunTry[C],
    *,
    tries: int,
    budget: float,
    clock: Callable[[], float],
    estimate: Callable[[C], float] = lambda config: 0.0,
    valid: Callable[[C], str | None] = lambda config: None,
    on_step: Callable[[Step[C]], None] | None = None,
) -> Result[C]:
    """Shrink ``original`` (a configuration that failed once) along ``dimensions``.

    ``run_try(config, step, n)`` runs ``config`` once and says whether it reproduced the failure;
    ``budget`` is in the clock's seconds; ``estimate(config)`` is how long one run of it may
    take; ``valid(config)`` returns why a configuration cannot run (skipped, never run), or None.
    ``on_step`` is told about each step after its last try (progress, the log)."""
    if tries < 1:
        raise ValueError("tries must be at least 1")
    state = _Search(dimensions, run_try, tries, budget, clock, estimate, valid, on_step)
    state.started = clock()
    state.best = original
    try:
        while state.shrink():
            pass
        if not state.found:
            state.found = state.reproduces(original, "the original configuration", original=True)
    except _Out as out:
        return Result(state.best, state.steps, out.reason, True if state.found else None)
    return Result(state.best, state.steps, STOP_DONE, state.found)


# -- proposals shared by the dimensions ---------------------------------------------------------


def smaller_counts(n: int, floor: int = 1) -> list[int]:
    """Counts below ``n`` to try, the boldest first: the floor and the one above it, then halving,
    then ddmin over the count: removing a quarter, an eighth, ... down to one (``n - ceil(n / g)``
    for g = 4, 8, ...).

    The two smallest come first because a concurrency bug's smallest case is usually two of
    something (two users, two requests in flight): one run finds it, and a miss costs one run.
    With the search's monotone skip the rest is a binary search for the smallest failing count.
    ``smaller_counts(40) == [1, 2, 20, 30, 35, 37, 38, 39]``."""
    if n <= floor:
        return []
    out: list[int] = []

    def add(value: int) -> None:
        if floor <= value < n and value not in out:
            out.append(value)

    add(floor)
    add(floor + 1)
    add(math.ceil(n / 2))
    g = 4
    while True:
        cut = math.ceil(n / g)
        add(n - cut)
        if cut <= 1:
            break
        g *= 2
    return out


def ddmin_subsets(items: Sequence[T]) -> Iterator[tuple[T, ...]]:
    """Smaller non-empty sub-sequences of ``items`` in ddmin's order: at granularity 2, 4, 8, ...
    each chunk alone, then each complement (all of it but one chunk). Order is kept."""
    n = len(items)
    seen: set[tuple[int, ...]] = set()
    granularity = 2
    while n >= 2 and granularity <= 2 * n:
        g = min(granularity, n)
        bounds = [round(i * n / g) for i in range(g + 1)]
        chunks = [tuple(range(bounds[i], bounds[i + 1])) for i in range(g) if bounds[i] < bounds[i + 1]]
        complements = [tuple(i for i in range(n) if i not in chunk) for chunk in chunks]
        for keep in [*chunks, *complements]:
            if 0 < len(keep) < n and keep not in seen:
                seen.add(keep)
                yield tuple(items[i] for i in keep)
        if g == n:
            break
        granularity *= 2
