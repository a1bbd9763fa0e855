"""Progress of many trials: Rich progress bars on a terminal, Locust-like lines when not a TTY.

On a terminal, one bar: trials done of all (``xtalk sweep``), or the budget spent
(``xtalk shrink``, whose number of runs is not known in advance), with the current trial's
description and the elapsed time; each finished trial leaves one line above the bar. Elsewhere
(CI logs, pipes) each event is one time-stamped line, as Locust writes its own
(``[2025-09-18 02:00:00,123] xtalk sweep: ...``).

Both write to a copy of the terminal's file descriptor taken when the display opens, so that a
trial's output, redirected to its ``run.log`` meanwhile (``xtalk.trials.execute``), never
carries the progress, and the progress never stops while a trial runs.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import sys
from typing import Any, Protocol, TextIO

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress_bar import ProgressBar
from rich.text import Text


class TrialProgress(Protocol):
    def begin(self, text: str) -> None:
        """A trial starts: ``text`` says which."""
        ...

    def end(self, text: str) -> None:
        """A trial ended: ``text`` is its one line of record."""
        ...

    def say(self, text: str) -> None:
        """A line for the reader, outside any trial."""
        ...

    def close(self) -> None: ...


def terminal_stream() -> TextIO:
    """A stream on a copy of standard output's file descriptor (or standard output itself when
    it has none, as under a test's capture)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return sys.stdout
    sys.stdout.flush()
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")


def _fmt_clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class BudgetBarColumn(ProgressColumn):
    """A bar of the time budget spent (the search's runs are not known in advance)."""

    def __init__(self, budget: float) -> None:
        super().__init__()
        self.budget = budget

    def render(self, task: Task) -> RenderableType:
        return ProgressBar(total=self.budget, completed=min(task.elapsed or 0.0, self.budget), width=30)


class BudgetTextColumn(ProgressColumn):
    """"1:05 of 8:00 budget"."""

    def __init__(self, budget: float) -> None:
        super().__init__()
        self.budget = budget

    def render(self, task: Task) -> RenderableType:
        spent = min(task.elapsed or 0.0, self.budget)
        return Text(f"{_fmt_clock(spent)} of {_fmt_clock(self.budget)} budget", style="progress.elapsed")


class RichProgress:
    def __init__(self, command: str, stream: TextIO, *, total: int | None, budget: float | None) -> None:
        self.stream = stream
        self.console = Console(file=stream)
        columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
        if budget is not None and total is None:
            columns += [BudgetBarColumn(budget), BudgetTextColumn(budget)]
        else:
            columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=self.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task(command, total=total)
        self.counted = total is not None

    def begin(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def end(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)
        if self.counted:
            self.progress.advance(self.task)

    def say(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()
        self.stream.flush()


class PlainProgress:
    def __init__(self, command: str, stream: TextIO, *, total: int | None, clock: Any = None) -> None:
        self.command = command
        self.stream = stream
        self.total = total
        self.done = 0
        self.now = clock or _dt.datetime.now

    def _line(self, text: str) -> None:
        stamp = self.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        self.stream.write(f"[{stamp}] {self.command}: {text}\n")
        self.stream.flush()

    def begin(self, text: str) -> None:
        self._line(f"{text}: started")

    def end(self, text: str) -> None:
        self.done += 1
        self._line(f"{text}" + (f" ({self.done}/{self.total})" if self.total else ""))

    def say(self, text: str) -> None:
        self._line(text)

    def close(self) -> None:
        self.stream.flush()


def open_progress(command: str, *, total: int | None = None, budget: float | None = None,
                  stream: TextIO | None = None) -> TrialProgress:
    """The display for ``command`` ("xtalk sweep"): Rich when ``stream`` is a terminal."""
    out = stream if stream is not None else terminal_stream()
    if out.isatty():
        return RichProgress(command, out, total=total, budget=budget)
    return PlainProgress(command, out, total=total)
