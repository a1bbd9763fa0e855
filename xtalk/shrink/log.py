"""The shrink log: one row per candidate the search ran, as a table and as JSON.

Columns: the step, what changed (from the configuration accepted before it), users, run time,
drain, tries (runs that reproduced / runs made, of the runs a candidate needs), reproduced, and
the seconds its runs took. A rejected candidate stops at its first miss, so "1/2 of 3" means two
runs were made and the second did not reproduce. The best step is marked with ``*``.
"""

from __future__ import annotations

from typing import Any

from xtalk.shrink.candidates import Candidate
from xtalk.shrink.search import Result, Step
from xtalk.trials.table import format_table

HEADERS = ("step", "what changed", "users", "run time", "drain", "tries", "reproduced", "seconds")
RIGHT = ("step", "users", "run time", "drain", "seconds")
CHANGE_WIDTH = 60


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _tries(step: Step[Candidate], tries: int) -> str:
    return f"{step.hits}/{len(step.tries)} of {tries}"


def _reproduced(step: Step[Candidate]) -> str:
    if step.reproduced:
        return "yes"
    errors = step.errors
    return f"no (error: {_cut(errors[0], 40)})" if errors else "no"


def rows(result: Result[Candidate], tries: int) -> list[tuple[str, ...]]:
    best = result.best_step
    out: list[tuple[str, ...]] = []
    for step in result.steps:
        c = step.config
        mark = "*" if step is best else " "
        out.append((f"{step.number}{mark}", _cut(step.change, CHANGE_WIDTH), str(c.users), f"{c.run_time:g} s",
                    f"{c.drain:g} s", _tries(step, tries), _reproduced(step), f"{step.seconds:.1f}"))
    return out


def format_log(result: Result[Candidate], tries: int) -> str:
    if not result.steps:
        return "(no candidate was run)"
    return format_table(rows(result, tries), HEADERS, RIGHT)


def log_document(result: Result[Candidate], tries: int, *, original: Candidate, kind: str,
                 source: str) -> dict[str, Any]:
    """The machine-readable log (``shrink-log.json``)."""
    best = result.best_step
    return {
        "schema": "xtalk.shrink/1",
        "source": source,
        "kind": kind,
        "tries": tries,
        "stopped": result.stopped,
        "reproduced": result.reproduced,
        "original": _config(original),
        "best": _config(result.best) if best is not None else None,
        "best_step": best.number if best is not None else None,
        "runs": result.runs,
        "steps": [
            {"step": s.number, "change": s.change, "config": _config(s.config), "original": s.original,
             "hits": s.hits, "runs": len(s.tries), "reproduced": s.reproduced, "seconds": round(s.seconds, 3),
             "folders": [str(t.detail) for t in s.tries if t.detail is not None],
             "errors": s.errors}
            for s in result.steps
        ],
    }


def _config(c: Candidate) -> dict[str, Any]:
    return {"users": c.users, "run_time": c.run_time, "drain": c.drain, "spawn_rate": c.spawn_rate,
            "journeys": [[i, list(steps)] for i, steps in c.journeys], "engines": list(c.engines),
            "constant_shape": c.constant_shape}
