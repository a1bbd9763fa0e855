"""What a run covered, in memory that does not grow with the history's length.

- ``Histogram``: latency percentiles from log-spaced bins (1 % relative width), exact counts.
- ``Sampler``: a bounded, deterministic sample of (t, phase, seconds) points for plots.
- ``Overlap``: which users were ever in flight at the same time. Each user holds a bit set of the
  users that were in flight when one of its requests started; a pair overlapped exactly when one
  of the two saw the other. The count is exact up to ``EXACT_PAIR_USERS`` users, and a lower
  bound above it (reported as such).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xtalk.core.ids import UserName

_BASE = 1.01
_FLOOR = 1e-4  # 0.1 ms: anything faster lands in bin 0
_LOG_BASE = math.log(_BASE)  # math.log(x, b) is exactly math.log(x) / math.log(b)
EXACT_PAIR_USERS = 2000


@dataclass(slots=True)
class Histogram:
    bins: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total: float = 0.0
    maximum: float = 0.0

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= _FLOOR else int(math.log(seconds / _FLOOR) / _LOG_BASE) + 1
        bins = self.bins
        bins[index] = bins.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        if seconds > self.maximum:  # = max(self.maximum, seconds), without the call
            self.maximum = seconds

    def percentile(self, p: float) -> float | None:
        if self.count == 0:
            return None
        rank = max(1, math.ceil(self.count * p / 100.0))
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                upper = _FLOOR if index == 0 else _FLOOR * _BASE**index
                return min(upper, self.maximum)
        return self.maximum

    def summary(self) -> dict[str, float | int | None]:
        return {
            "n": self.count,
            "mean": round(self.total / self.count, 6) if self.count else None,
            "p50": _round(self.percentile(50)),
            "p95": _round(self.percentile(95)),
            "p99": _round(self.percentile(99)),
            "max": round(self.maximum, 6) if self.count else None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass(slots=True)
class Sampler:
    """Keeps every ``stride``-th point; doubles the stride and thins when full."""

    limit: int = 5000
    stride: int = 1
    seen: int = 0
    points: list[tuple[float, str, float]] = field(default_factory=list)

    def add(self, point: tuple[float, str, float]) -> None:
        if self.take():
            self.keep(point)

    def take(self) -> bool:
        """Count the next point; is it one to keep? (A caller can skip building the others.)"""
        self.seen += 1
        return not (self.seen - 1) % self.stride

    def keep(self, point: tuple[float, str, float]) -> None:
        self.points.append(point)
        if len(self.points) >= self.limit:
            self.points = self.points[::2]
            self.stride *= 2


@dataclass(slots=True)
class Overlap:
    index: dict[UserName, int] = field(default_factory=dict)
    names: list[UserName] = field(default_factory=list)
    saw: list[int] = field(default_factory=list)
    in_flight_mask: int = 0
    in_flight: dict[UserName, int] = field(default_factory=dict)

    def _bit(self, user: UserName) -> int:
        i = self.index.get(user)
        if i is None:
            i = len(self.names)
            self.index[user] = i
            self.names.append(user)
            self.saw.append(0)
        return i

    def start(self, user: UserName) -> None:
        i = self._bit(user)
        count = self.in_flight.get(user, 0)
        self.saw[i] |= self.in_flight_mask & ~(1 << i)
        if count == 0:
            self.in_flight_mask |= 1 << i
        self.in_flight[user] = count + 1

    def stop(self, user: UserName) -> None:
        count = self.in_flight.get(user, 0)
        if count <= 1:
            self.in_flight.pop(user, None)
            i = self.index.get(user)
            if i is not None:
                self.in_flight_mask &= ~(1 << i)
        else:
            self.in_flight[user] = count - 1

    def pairs(self) -> tuple[int, bool]:
        """(overlapping user pairs, exact?)"""
        n = len(self.names)
        if n > EXACT_PAIR_USERS:
            directed = sum(bin(bits).count("1") for bits in self.saw)
            return (directed + 1) // 2, False
        if n == 0:
            return 0, True
        # A pair overlapped when either saw the other: the bit matrix or'ed with its transpose.
        # The transpose is taken on bit strings (zip and join run in C), not bit by bit.
        rows = [format(bits, f"0{n}b")[::-1] for bits in self.saw]  # character j = bit j
        columns = ["".join(column) for column in zip(*rows)]  # character i of column j = bit j of row i
        return sum((int(row, 2) | int(column, 2)).bit_count() for row, column in zip(rows, columns)) // 2, True
