"""A sweep's table (for the terminal) and ``sweep.csv`` (one row per level, for a spreadsheet).

Rates are shown as percentages with one decimal; the CSV keeps them as fractions with six
digits. A leaked count that is only a lower bound (see ``xtalk.sweep.levels``) is shown "≥n"
and has ``leaked_exact`` false in the CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from xtalk.trials.table import format_table
from xtalk.sweep.levels import Level

HEADERS = ("users", "runs", "requests", "leaked", "leak rate", "95 % interval", "overlapping pairs", "verdicts")
CSV_HEADERS = ("users", "runs", "requests", "leaked_requests", "leaked_exact", "leak_rate", "ci_low", "ci_high",
               "overlapping_pairs_min", "overlapping_pairs_max", "verdicts", "folders")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def leaked_text(level: Level) -> str:
    return f"{level.leaked}" if level.exact else f"≥{level.leaked}"


def pairs_text(level: Level) -> str:
    low, high = level.pairs
    return f"{low}" if low == high else f"{low}–{high}"


def row(level: Level) -> tuple[str, ...]:
    low, high = level.interval
    interval = "—" if not level.sent else f"{percent(low)} – {percent(high)}"
    return (str(level.users), str(len(level.runs)), str(level.sent), leaked_text(level), percent(level.rate),
            interval, pairs_text(level), ", ".join(level.verdicts))


def format_levels(levels: Sequence[Level]) -> str:
    return format_table([row(level) for level in levels], HEADERS, ("users", "runs", "requests", "leaked", "leak rate"))


def render_csv(levels: Sequence[Level]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for level in levels:
        low, high = level.interval
        rate = level.rate
        pairs = level.pairs
        writer.writerow([level.users, len(level.runs), level.sent, level.leaked, str(level.exact).lower(),
                         "" if rate is None else f"{rate:.6f}", f"{low:.6f}", f"{high:.6f}", pairs[0], pairs[1],
                         " ".join(level.verdicts), " ".join(str(r.run_dir) for r in level.runs)])
    return out.getvalue()


def write_csv(path: Path, levels: Sequence[Level]) -> None:
    path.write_text(render_csv(levels), encoding="utf-8")
