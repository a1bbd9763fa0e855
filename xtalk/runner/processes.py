"""Starting and stopping the child processes xtalk runs, so that none outlives xtalk.

Every process xtalk starts (the embedded backend, Locust's master and workers, the selftest's
backends and runs) is started through ``start_child`` and stopped through ``stop_process``:

- Each child leads a process group (and session) of its own: a Ctrl-C on the terminal reaches
  xtalk alone, which then stops the load in order (``xtalk.runner.interrupt``) instead of every
  process dying at once; and ``stop_process`` signals the child's whole group, so anything the
  child started goes with it.
- On Linux each child asks the kernel for a parent-death signal (``prctl(PR_SET_PDEATHSIG,
  SIGTERM)``, through ctypes, between fork and exec): if xtalk itself dies, even by SIGKILL, every
  child receives SIGTERM at once (Locust then ends its history and quits; the backend stops). A
  child whose parent died before the request took effect stops itself. Elsewhere the children's
  own bounds remain (Locust's ``-t``, the backend's ``--exit-after``).

The ctypes function is looked up once, in the parent: the child, between fork and exec, only
calls it (no import, no lookup).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1
DEATH_SIGNAL = signal.SIGTERM


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl  # type: ignore[no-any-return]


_PRCTL = _load_prctl()


def parent_death_signal_supported() -> bool:
    return _PRCTL is not None


def _die_with(parent: int) -> Callable[[], None]:
    """The ``preexec_fn`` of a child of ``parent``: SIGTERM when the parent dies."""
    prctl = _PRCTL
    term = int(DEATH_SIGNAL)

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, term, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), term)

    return preexec


def start_child(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, **kwargs)`` in a process group of its own, dying with xtalk."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(list(cmd), start_new_session=True, preexec_fn=_die_with(os.getpid()), **kwargs)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if os.getpgid(proc.pid) == proc.pid:  # it leads its group: the group goes together
            os.killpg(proc.pid, sig)
            return
    except (ProcessLookupError, PermissionError):
        pass
    os.kill(proc.pid, sig)


def send_signal(proc: subprocess.Popen[bytes], sig: int) -> bool:
    """Send ``sig`` to ``proc`` alone (not its group) if it still runs; True when sent."""
    if proc.poll() is not None:
        return False
    try:
        os.kill(proc.pid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Ask ``proc`` (and its group) to stop, give it ``grace`` seconds, then kill it. Idempotent."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            _signal(proc, sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
