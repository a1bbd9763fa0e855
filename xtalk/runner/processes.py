"""Stopping the child processes xtalk started: by their pid, SIGTERM first, SIGKILL after a grace.

Every process xtalk starts (the embedded backend, Locust's master and workers, the selftest's
backends) is stopped through ``stop_process``, so none outlives the run that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Ask ``proc`` to stop, give it ``grace`` seconds, then kill it. Idempotent."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
