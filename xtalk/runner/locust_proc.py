"""Locust as child processes: one headless standalone process, or a local master and K workers.

Commands are built by pure functions (tested without running anything); ``run_locust`` starts
them, streams their output to our terminal, and bounds them in time: Locust's own ``-t`` is a
safety net beyond connect + load + drain (the users end the run themselves after the drain), and
if even that does not stop it, we terminate the processes we started, by pid.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import xtalk.client
from xtalk.runner.processes import stop_process

#: The packaged locustfile (``loadtests/locustfile.py`` is the same for people with a checkout).
LOCUSTFILE = Path(xtalk.client.__file__).with_name("locustfile.py")


@dataclass(frozen=True, slots=True)
class LocustPlan:
    host: str
    users: int
    spawn_rate: float
    safety_time: float  # seconds: Locust's -t
    run_dir: Path
    workers: int = 0
    master_port: int = 0


def safety_time(users: int, spawn_rate: float, connect_timeout: float, run_time: float, drain: float) -> float:
    """Locust's ``-t``: the connect budget, the load, the drain, and a margin."""
    connect = connect_timeout + users / max(spawn_rate, 0.1) + 10.0
    return math.ceil(connect + run_time + drain + 30.0)


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


def run_locust(plan: LocustPlan, env: dict[str, str]) -> int:
    """Run Locust to the end; returns the master's (or standalone process's) exit status."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(master_command(plan), env=env, stdin=subprocess.DEVNULL,
                                      start_new_session=True))
        for _ in range(plan.workers):
            procs.append(subprocess.Popen(worker_command(plan), env=env, stdin=subprocess.DEVNULL,
                                          start_new_session=True))
        limit = time.monotonic() + plan.safety_time + 60.0
        master = procs[0]
        while master.poll() is None:
            if time.monotonic() > limit:
                break
            time.sleep(0.2)
        # Workers quit with the master; give them a moment to flush their histories.
        for proc in procs[1:]:
            try:
                proc.wait(timeout=15.0)
            except subprocess.TimeoutExpired:
                pass
        return master.returncode if master.returncode is not None else 124
    finally:
        for proc in procs:
            stop_process(proc)
