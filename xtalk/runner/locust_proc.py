"""Locust as child processes: one headless standalone process, or a local master and K workers.

Commands are built by pure functions (tested without running anything); ``run_locust`` starts
them, streams their output to our terminal (each line of a distributed run labelled with the
process it came from: ``[master]``, ``[worker 1]``, ...), and bounds them in time: Locust's own
``-t`` is a safety net beyond connect + load + drain (the users end the run themselves after the
drain: ``Budget`` says how the figure is made, and the banner prints it), and if even that does
not stop it, we terminate the processes we started, by pid.

On SIGTERM / SIGINT (``xtalk.runner.interrupt``) the load processes are asked to stop and drain
briefly; a second signal, or a drain that overstays, stops them.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import xtalk.client
from xtalk.runner.interrupt import INTERRUPT_DRAIN, STOP_GRACE, STOP_LOAD_SIGNAL, Interrupts, signal_name
from xtalk.runner.processes import send_signal, start_child, stop_process

#: The packaged locustfile (``loadtests/locustfile.py`` is the same for people with a checkout).
LOCUSTFILE = Path(xtalk.client.__file__).with_name("locustfile.py")

MARGIN = 30.0  # seconds of Locust's -t beyond connect + load + drain
CONNECT_SLACK = 10.0


@dataclass(frozen=True, slots=True)
class Budget:
    """Locust's ``-t``: the connect budget (handshake timeout + spawning + slack), the load, the
    drain window and a margin. The users end the run after the drain; ``-t`` only catches a run
    that would not."""

    connect: float
    load: float
    drain: float
    margin: float = MARGIN

    @property
    def total(self) -> float:
        return float(math.ceil(self.connect + self.load + self.drain + self.margin))

    def explain(self) -> str:
        share = self.drain / self.total * 100 if self.total else 0.0
        return (f"Locust's time limit -t {self.total:.0f}s = connect up to {self.connect:.0f} s + load "
                f"{self.load:g} s + drain up to {self.drain:g} s ({share:.0f} % of the limit) + {self.margin:.0f} s "
                "margin; the run ends itself after the drain, the limit is only a safety net")


def budget(users: int, spawn_rate: float, connect_timeout: float, run_time: float, drain: float) -> Budget:
    connect = connect_timeout + users / max(spawn_rate, 0.1) + CONNECT_SLACK
    return Budget(connect, run_time, drain)


def safety_time(users: int, spawn_rate: float, connect_timeout: float, run_time: float, drain: float) -> float:
    """Locust's ``-t``: the connect budget, the load, the drain, and a margin."""
    return budget(users, spawn_rate, connect_timeout, run_time, drain).total


@dataclass(frozen=True, slots=True)
class LocustPlan:
    host: str
    users: int
    spawn_rate: float
    safety_time: float  # seconds: Locust's -t
    run_dir: Path
    workers: int = 0
    master_port: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn_rate(rate: float) -> str:
    return str(int(rate)) if float(rate).is_integer() else str(rate)


def master_command(plan: LocustPlan) -> list[str]:
    """The standalone (``workers == 0``) or master command."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "-u", str(plan.users), "-r", _spawn_rate(plan.spawn_rate), "-t", f"{int(plan.safety_time)}s",
           "-H", plan.host, "--csv", str(plan.run_dir / "locust"), "--html", str(plan.run_dir / "locust.html"),
           "--only-summary", "--stop-timeout", "5"]
    if plan.workers > 0:
        cmd += ["--master", "--expect-workers", str(plan.workers), "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(plan.master_port)]
    return cmd


def worker_command(plan: LocustPlan) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", "127.0.0.1", "--master-port", str(plan.master_port), "-H", plan.host]


def labels(workers: int) -> list[str]:
    """The prefix of each process's lines: none for a standalone run."""
    if workers <= 0:
        return [""]
    return ["[master] "] + [f"[worker {n}] " for n in range(1, workers + 1)]


class _Relay:
    """Copies a child's output to our stdout line by line, each line behind its label."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self, stream: IO[bytes], label: str) -> None:
        thread = threading.Thread(target=self._copy, args=(stream, label.encode()), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _copy(self, stream: IO[bytes], prefix: bytes) -> None:
        out = sys.stdout.buffer
        try:
            for line in iter(stream.readline, b""):
                with self.lock:
                    out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
                    out.flush()
        except (OSError, ValueError):
            pass

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))


def run_locust(plan: LocustPlan, env: dict[str, str], interrupts: Interrupts | None = None,
               on_started: Callable[[list[subprocess.Popen[bytes]]], None] | None = None) -> int:
    """Run Locust to the end; returns the master's (or standalone process's) exit status.

    With ``interrupts``, the first SIGTERM/SIGINT asks the load processes (the standalone process,
    or every worker) to stop and drain (``STOP_LOAD_SIGNAL``); a second one, or a drain that takes
    longer than ``INTERRUPT_DRAIN + STOP_GRACE``, stops every process."""
    procs: list[subprocess.Popen[bytes]] = []
    relay = _Relay()
    labelled = plan.workers > 0
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT} if labelled else {}
    stop_by: list[float] = []  # when an interrupted run must be over
    try:
        procs.append(start_child(master_command(plan), env=env, **output))
        for _ in range(plan.workers):
            procs.append(start_child(worker_command(plan), env=env, **output))
        if labelled:  # threads only once every child is forked
            for proc, label in zip(procs, labels(plan.workers)):
                assert proc.stdout is not None
                relay.start(proc.stdout, label)
        load = procs[1:] if plan.workers > 0 else procs[:1]

        def on_signal(count: int) -> None:
            name = signal_name(interrupts.first) if interrupts is not None and interrupts.first else "signal"
            if count == 1:
                if interrupts is not None:
                    interrupts.say(f"xtalk run: {name}: stopping the load, draining for up to {INTERRUPT_DRAIN:g} s, "
                                   "then checking what was recorded (send it again to stop at once)")
                stop_by.append(time.monotonic() + INTERRUPT_DRAIN + STOP_GRACE)
                for proc in load:
                    send_signal(proc, STOP_LOAD_SIGNAL)
            else:
                if interrupts is not None:
                    interrupts.say("xtalk run: stopping Locust now; checking what was recorded")
                stop_by.append(time.monotonic())

        if interrupts is not None:
            interrupts.on_signal = on_signal
        if on_started is not None:
            on_started(procs)
        limit = time.monotonic() + plan.safety_time + 60.0
        master = procs[0]
        while master.poll() is None:
            now = time.monotonic()
            if now > limit or (stop_by and now > min(stop_by)):
                break
            time.sleep(0.1)
        # Workers quit with the master; give them a moment to flush their histories.
        for proc in procs[1:]:
            try:
                proc.wait(timeout=2.0 if stop_by else 15.0)
            except subprocess.TimeoutExpired:
                pass
        return master.returncode if master.returncode is not None else 124
    finally:
        if interrupts is not None:
            interrupts.on_signal = _already_stopping(interrupts)
        for proc in procs:
            stop_process(proc, grace=5.0 if stop_by else 10.0)
        relay.join(5.0)


def _already_stopping(interrupts: Interrupts) -> Callable[[int], None]:
    def note(count: int) -> None:
        interrupts.say("xtalk run: already stopping: checking what was recorded")

    return note
