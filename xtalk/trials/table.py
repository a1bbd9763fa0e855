"""Plain fixed-width tables for the terminal, as Locust prints its statistics (no colour, so a CI
log shows the same as a terminal)."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def format_table(rows: Sequence[Sequence[str]], headers: Sequence[str], right: Collection[str] = ()) -> str:
    """``rows`` under ``headers``; the columns named in ``right`` (numbers) are right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    aligned = {i for i, h in enumerate(headers) if h in right}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in aligned else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
