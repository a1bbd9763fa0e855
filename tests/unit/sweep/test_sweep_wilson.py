"""The 95 % Wilson score interval against published values."""

from __future__ import annotations

import pytest

from xtalk.sweep.wilson import wilson_interval


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Statistics in Medicine 17, table I, method 3
    (15, 148, 0.0624, 0.1605),  # Newcombe (1998), same table
    (0, 20, 0.0, 0.1611),  # Newcombe (1998), same table
    (1, 29, 0.0061, 0.1718),  # Newcombe (1998), same table
    (5, 10, 0.2366, 0.7634),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
])
def test_the_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_no_trials_know_nothing_and_no_leak_seen_is_not_proof_of_none() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 40)
    assert low == 0.0 and 0.08 < high < 0.09


def test_the_interval_holds_the_rate_and_narrows_with_more_requests() -> None:
    for k, n in ((1, 3), (3, 7), (30, 70), (300, 700)):
        low, high = wilson_interval(k, n)
        assert 0.0 <= low <= k / n <= high <= 1.0
    assert (lambda a, b: a[1] - a[0] > b[1] - b[0])(wilson_interval(3, 10), wilson_interval(300, 1000))


def test_impossible_counts_are_refused() -> None:
    for k, n in ((3, 2), (-1, 4), (0, -1)):
        with pytest.raises(ValueError):
            wilson_interval(k, n)
