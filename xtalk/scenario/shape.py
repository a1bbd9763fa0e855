"""Load shapes as pure functions of time: how many users, spawned how fast, at second ``t``.

A shape is resolved once, at load time, into ``Shape.stages``: a tuple of ``(until, users,
spawn_rate)`` with strictly increasing ``until`` whose last ``until`` is the run time. Stage ``i``
holds from the previous stage's ``until`` (0 for the first) up to its own. ``target_at`` walks
the stages; after the last one it answers ``None``: the load stops and the run drains (the drain
belongs to the runner: it keeps connections open for in-flight requests).

Kinds, all relative to the run's ``users`` and ``run_time`` so that ``--users`` and
``--run-time`` scale a shape instead of cutting it:

- ``constant``: ``users`` at ``spawn_rate`` for the whole run (plain Locust).
- ``ramp``: users grow linearly to ``users`` over ``ramp_up`` (spawn rate ``users / ramp_up``),
  then hold.
- ``steps``: ``steps`` equal steps up to ``users``, each held for ``run_time / steps``.
- ``spike``: a ``base`` fraction of users, then all ``users`` at once from ``at`` for ``length``,
  then back to the base until the end.
- ``soak``: a gentle ramp (``ramp_up``, default the smaller of 60 s and a tenth of the run) to
  ``users``, held for a long run time.

Explicit stages from the scenario file replace a kind's generated ones (the kind stays a label).
Nothing here reads a clock or does I/O; Locust's ``LoadTestShape`` wraps ``target_at``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xtalk.scenario.model import Shape

Stage = tuple[float, int, float]  # (until second, users, spawn rate)

SHAPE_KINDS: tuple[str, ...] = ("constant", "ramp", "steps", "spike", "soak")


def target_at(shape: Shape, t: float) -> tuple[int, float] | None:
    """``(users, spawn_rate)`` wanted at ``t`` seconds into the load; ``None`` once it ends."""
    if t < 0:
        t = 0.0
    for until, users, rate in shape.stages:
        if t < until:
            return users, rate
    return None


def peak_users(shape: Shape) -> int:
    """The most users the shape ever asks for (accounts, file descriptors, the pre-connect gate)."""
    return max((users for _, users, _ in shape.stages), default=0)


def stages_for(
    kind: str,
    *,
    users: int,
    spawn_rate: float,
    run_time: float,
    ramp_up: float | None = None,
    steps: int = 4,
    base: float = 0.2,
    at: float | None = None,
    length: float | None = None,
) -> tuple[Stage, ...]:
    """The stages a kind generates for a run of ``users`` over ``run_time`` seconds.

    ``at`` and ``length`` are seconds (default: the spike starts at 40 % of the run and lasts
    20 %); ``base`` is the fraction of ``users`` outside the spike.
    """
    if kind == "constant":
        return ((run_time, users, spawn_rate),)
    if kind in ("ramp", "soak"):
        default = run_time / 2 if kind == "ramp" else min(60.0, run_time / 10)
        # A ramp longer than the run (--run-time 15s on a 30 s ramp) is squeezed into the run,
        # so that a short smoke run still reaches every user.
        span = min(ramp_up, run_time) if ramp_up is not None else default
        rate = users / span if span > 0 else spawn_rate
        return ((run_time, users, _round_rate(rate)),)
    if kind == "steps":
        stages: list[Stage] = []
        for i in range(1, steps + 1):
            stages.append((run_time * i / steps, math.ceil(users * i / steps), spawn_rate))
        return clip(stages, run_time)
    if kind == "spike":
        start = at if at is not None else run_time * 0.4
        span = length if length is not None else run_time * 0.2
        low = max(1, round(users * base)) if base > 0 else 0
        return clip([(start, low, spawn_rate), (start + span, users, spawn_rate), (run_time, low, spawn_rate)], run_time)
    raise ValueError(f"unknown shape kind {kind!r}")


def clip(stages: Sequence[Stage], run_time: float) -> tuple[Stage, ...]:
    """Stages cut to the run time, zero-length stages dropped, the last one held to the end.

    ``--run-time 15s`` on a soak scenario therefore ends the load at 15 s whatever the file says.
    """
    kept: list[Stage] = []
    start = 0.0
    for until, users, rate in stages:
        end = min(until, run_time)
        if end > start:
            kept.append((end, users, rate))
            start = end
        if until >= run_time:
            break
    if not kept:
        first = stages[0] if stages else (run_time, 0, 1.0)
        return ((run_time, first[1], first[2]),)
    if kept[-1][0] < run_time:
        last = kept[-1]
        kept[-1] = (run_time, last[1], last[2])
    return tuple(kept)


def _round_rate(rate: float) -> float:
    # Keep rates readable in scenario.json and Locust's log; never round a positive rate to 0.
    return max(round(rate, 3), 0.001)
