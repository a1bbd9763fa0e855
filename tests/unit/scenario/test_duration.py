"""Durations as people write them."""

from __future__ import annotations

import pytest

from xtalk.scenario.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1.5s", 1.5), ("250ms", 0.25),
     ("1h30m", 5400.0), ("2m 30s", 150.0), (" 45 ", 45.0), ("0", 0.0), (12, 12.0), (0.5, 0.5)],
)
def test_durations_in_every_written_form_give_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "s", "1x", "-3s", -1, float("inf"), float("nan"), True, "1.2.3s"])
def test_things_that_are_not_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [(30.0, "30s"), (300.0, "5m"), (5400.0, "1h30m"), (1.5, "1.5s")])
def test_format_duration_reads_back_to_the_same_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(format_duration(seconds)) == seconds
