"""Coverage: latency histograms, the bounded sampler, and overlapping user pairs."""

from __future__ import annotations

import pytest

from xtalk.core.coverage import Histogram, Overlap, Sampler
from xtalk.core.ids import UserName


def test_an_empty_histogram_has_no_percentiles() -> None:
    h = Histogram()
    assert h.percentile(50) is None
    assert h.summary()["n"] == 0 and h.summary()["p95"] is None


@pytest.mark.parametrize("p", [50, 95, 99])
def test_histogram_percentiles_are_within_one_percent_of_the_exact_ones(p: int) -> None:
    values = [0.001 * (i + 1) for i in range(1000)]  # 1 ms .. 1 s
    h = Histogram()
    for v in values:
        h.add(v)
    exact = sorted(values)[max(0, -(-len(values) * p // 100) - 1)]
    got = h.percentile(p)
    assert got is not None and abs(got - exact) <= 0.011 * exact


def test_histogram_counts_and_maximum_are_exact() -> None:
    h = Histogram()
    for v in (0.0, 0.00001, 2.5, 30.0):
        h.add(v)
    s = h.summary()
    assert s["n"] == 4 and s["max"] == 30.0 and h.percentile(100) == 30.0


def test_the_sampler_keeps_a_bounded_evenly_spread_sample() -> None:
    s = Sampler(limit=100)
    for i in range(10_000):
        s.add((float(i), "p", 0.1))
    assert len(s.points) < 100
    ts = [p[0] for p in s.points]
    assert ts == sorted(ts) and ts[0] == 0.0 and ts[-1] > 9000


def test_no_overlap_when_users_take_turns() -> None:
    o = Overlap()
    for user in ("a", "b", "c"):
        o.start(UserName(user))
        o.stop(UserName(user))
    assert o.pairs() == (0, True)


def test_two_users_in_flight_together_are_one_pair_whoever_started_first() -> None:
    o = Overlap()
    o.start(UserName("a"))
    o.start(UserName("b"))
    o.stop(UserName("a"))
    o.stop(UserName("b"))
    assert o.pairs() == (1, True)


def test_pairs_count_every_overlapping_couple_once() -> None:
    o = Overlap()
    for u in ("a", "b", "c"):
        o.start(UserName(u))
    o.stop(UserName("a"))
    o.start(UserName("d"))  # overlaps b and c, not a
    assert o.pairs() == (5, True)


def test_one_user_with_two_requests_in_flight_is_no_pair() -> None:
    o = Overlap()
    o.start(UserName("a"))
    o.start(UserName("a"))
    o.stop(UserName("a"))
    o.start(UserName("b"))  # a still has one request in flight
    assert o.pairs() == (1, True)
    o2 = Overlap()
    o2.start(UserName("a"))
    o2.start(UserName("a"))
    assert o2.pairs() == (0, True)
