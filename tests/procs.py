"""Processes of a run in tests: found by an environment marker they all inherit, never by name."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

MARKER = "XTALK_TEST_RUN_MARKER"
PATIENCE = 90.0  # seconds any wait may take on a loaded machine before a test gives up


def marked(marker: str) -> list[psutil.Process]:
    """The live processes whose environment carries ``marker`` (zombies excluded)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)
