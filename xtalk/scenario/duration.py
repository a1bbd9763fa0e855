"""Durations as people write them: ``30s``, ``5m``, ``1h``, ``1.5s``, ``250ms``, ``1h30m``, or a number.

A bare number (or a numeric string) is seconds. The result is always seconds as a float, finite
and non-negative; anything else raises ``ValueError`` with a short reason, which the scenario
loader turns into a ``UsageError`` naming the key and the file.
"""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# One or more "<number><unit>" parts, e.g. "1h30m" or "1.5s"; whitespace between parts allowed.
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*")

DURATION_HINT = 'a duration such as "30s", "5m", "1h", "1.5s" or a number of seconds'


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; raises ``ValueError`` if it is not a duration."""
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a duration
        raise ValueError("true/false is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        raise ValueError(f"{type(value).__name__} is not a duration")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _parse_text(text: str) -> float:
    stripped = text.strip().lower()
    if not stripped:
        raise ValueError("an empty string is not a duration")
    try:
        return float(stripped)  # "30" or "1.5": seconds, as the command line's --run-time 30
    except ValueError:
        pass
    total = 0.0
    position = 0
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None or match.end() == position:
            raise ValueError(f'cannot read "{text}" as a duration')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``30s``, ``5m``, ``1h30m``, ``1.5s``."""
    if seconds >= 60 and float(seconds).is_integer():
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
        return "".join(parts)
    return f"{seconds:g}s"
