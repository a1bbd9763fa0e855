"""``xtalk run``: one scenario, end to end.

1. Load and validate the scenario with the command line's overrides (all configuration errors
   surface here, before anything starts).
2. Make the run folder (``reports/<run-id>/`` or ``--out``) and write ``scenario.json`` (no
   secret: the model only names where secrets live).
3. Without a host: start the embedded reference backend (a child process). With one: make sure it
   answers before any user spawns.
4. Preflight (``xtalk.client.preflight``): one user logs in and opens its WebSocket; credentials
   the backend refuses (an error frame, close 1008, 401 on the upgrade) end the command here with
   exit 3 and a paragraph naming the auth strategy, the refusal and the fix.
5. Run Locust (standalone, or a local master and K workers) with the ``XTALK_*`` environment; the
   users connect, load, drain and end the run themselves.
6. Check the history shards, write verdict.json / report.html / junit.xml, print the summary and
   the folder; the exit status comes from the verdict (3 for harness errors).

The backend and the Locust processes are ours: they are stopped by pid whatever happens, and they
die with xtalk even when xtalk is killed hard (``xtalk.runner.processes``). SIGTERM and SIGINT stop
the load in order and still write the verdict (``xtalk.runner.interrupt``): exit 143 / 130.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from xtalk.client.settings import make_run_id
from xtalk.errors import EXIT_USAGE, UsageError
from xtalk.runner.backend import EmbeddedBackend
from xtalk.runner.health import read_health
from xtalk.runner.interrupt import Interruption, Interrupts, RunInterrupted, signal_name
from xtalk.runner.locust_proc import LocustPlan, budget, free_port, run_locust
from xtalk.runner.outcome import check_and_write
from xtalk.scenario.load import load_scenario, write_scenario_json
from xtalk.scenario.model import Scenario
from xtalk.scenario.shape import peak_users


@dataclass(frozen=True, slots=True)
class RunOptions:
    scenario: str
    host: str | None = None
    users: int | None = None
    spawn_rate: float | None = None
    run_time: str | float | None = None
    out: str | None = None
    workers: int = 0
    seed: int | None = None
    preflight: bool = True


def resolve(options: RunOptions) -> Scenario:
    if options.workers < 0:
        raise UsageError("--workers K with K >= 0", f"workers={options.workers}",
                         "pass --workers 0 (one process) or a positive number of worker processes")
    overrides: dict[str, object] = {"host": options.host, "users": options.users, "spawn_rate": options.spawn_rate,
                                    "run_time": options.run_time, "seed": options.seed}
    return load_scenario(options.scenario, {k: v for k, v in overrides.items() if v is not None})


def check_host(host: str) -> None:
    """An unreachable host is the user's to fix before any user spawns (exit 3)."""
    try:
        with httpx.Client(timeout=5.0) as client:
            client.get(host)
    except httpx.HTTPError as error:
        raise UsageError("a reachable host", f"host={host} ({type(error).__name__}: {error})",
                         "start the backend there, or fix --host (without --host, xtalk starts its own "
                         "reference backend)") from None


def run(options: RunOptions) -> int:
    scenario = resolve(options)
    with Interrupts() as interrupts:
        try:
            return _run(options, scenario, interrupts)
        except RunInterrupted as stop:
            print(f"xtalk run: {signal_name(stop.signum)} before the load started: nothing was recorded, "
                  "so there is nothing to check; every process the run started is stopped", file=sys.stderr)
            return interrupts.exit_code


def _run(options: RunOptions, scenario: Scenario, interrupts: Interrupts) -> int:
    seed = scenario.seed
    run_id = make_run_id(scenario.name)
    run_dir = Path(options.out) if options.out else Path("reports") / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError("a writable run folder", f"{run_dir} ({error.strerror})",
                         "pass --out DIR pointing at a folder you can write") from None
    stale = sorted(run_dir.glob("history*.jsonl"))
    if stale:
        raise UsageError("an empty run folder", f"{run_dir} already holds {stale[0].name}",
                         "pass --out with a new folder, or remove the old run")
    scenario_json = run_dir / "scenario.json"
    write_scenario_json(scenario, str(scenario_json))

    clock_zero = time.monotonic()
    env = dict(os.environ)
    env.update({"XTALK_SCENARIO": str(scenario_json.resolve()), "XTALK_OUT": str(run_dir.resolve()),
                "XTALK_RUN_ID": run_id, "XTALK_CLOCK_ZERO": repr(clock_zero), "XTALK_SEED": str(seed),
                "XTALK_WORKERS": str(options.workers), "PYTHONUNBUFFERED": "1"})
    users = max(scenario.users, peak_users(scenario.shape))
    limit = budget(users, scenario.spawn_rate, scenario.connect_timeout, scenario.run_time, scenario.drain_window)
    started = time.monotonic()
    load_started: list[float] = []
    embedded = scenario.host is None
    with ExitStack() as stack:
        host = scenario.host
        if host is None:
            backend = stack.enter_context(EmbeddedBackend(scenario, seed=seed, run_dir=run_dir, env=env,
                                                          exit_after=limit.total + 120.0))
            host = backend.url
            env["XTALK_BACKEND"] = "embedded"  # the history's meta says so: the trend compares like with like
            print(f"xtalk run: embedded reference backend on {host} (engine {scenario.backend.engine})", flush=True)
        check_host(host)
        if options.preflight:
            preflight_check(scenario, host, env)
        plan = LocustPlan(host=host, users=users, spawn_rate=scenario.spawn_rate, safety_time=limit.total,
                          run_dir=run_dir, workers=options.workers,
                          master_port=free_port() if options.workers else 0)
        print(f"xtalk run: {run_id}: {users} users at {scenario.spawn_rate:g}/s, {scenario.run_time:g} s of load "
              f"then up to {scenario.drain_window:g} s of drain, against {host}"
              + (f", {options.workers} workers" if options.workers else ", one Locust process"), flush=True)
        print(f"xtalk run: {limit.explain()}", flush=True)
        locust_status = run_locust(plan, env, interrupts, on_started=lambda _procs: load_started.append(time.monotonic()))
    duration = time.monotonic() - started
    interruption = None
    if interrupts.first is not None:
        at = interrupts.at - load_started[0] if interrupts.at is not None and load_started else None
        interruption = Interruption(signal_name(interrupts.first), at)
    histories = sorted(run_dir.glob("history*.jsonl"))
    if not histories:
        print(f"xtalk run: expected a history in {run_dir} but Locust (exit status {locust_status}) wrote none; "
              "read its output above; a locustfile or configuration error stops it before any user starts",
              file=sys.stderr)
        return interrupts.exit_code if interruption else EXIT_USAGE
    if locust_status not in (0, 1) and interruption is None:
        print(f"xtalk run: Locust exited with status {locust_status}; checking what it recorded", file=sys.stderr)
    health = read_health(histories)
    if health.nothing_ran:
        print(f"xtalk run: {health.explain(host)}", file=sys.stderr)
        print(f"xtalk run: run folder {run_dir}", flush=True)
        return interrupts.exit_code if interruption else EXIT_USAGE
    info: dict[str, Any] = {"id": run_id, "scenario": scenario.name, "seed": seed, "host": host,
                            "profile": scenario.profile, "workers": max(1, options.workers),
                            "distributed": options.workers > 0, "duration": round(duration, 3)}
    if embedded:
        info["backend"] = "embedded"
    code = check_and_write(run_dir, histories, scenario, info, interruption)
    print(f"xtalk run: run folder {run_dir}", flush=True)
    if interruption is not None:
        print(f"xtalk run: interrupted by {interruption.signal}: the verdict above is what was recorded until then "
              f"(exit {interrupts.exit_code})", file=sys.stderr)
        return interrupts.exit_code
    return code


def run_resolved(scenario: Scenario, run_dir: Path) -> int:
    """Run an already resolved ``scenario`` into ``run_dir`` exactly as ``xtalk run`` would (for
    ``xtalk shrink`` and ``xtalk sweep``, which build scenarios as values): its JSON form is written
    as the folder's ``scenario.json`` and handed to ``run``, which validates it again. The exit
    status is ``run``'s; the verdict is in ``run_dir / "verdict.json"``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    source = run_dir / "scenario.json"
    write_scenario_json(scenario, str(source))
    return run(RunOptions(scenario=str(source), out=str(run_dir)))


def preflight_check(scenario: Scenario, host: str, env: dict[str, str]) -> None:
    """One user logs in and opens its WebSocket before any load: refused credentials are a harness
    error (exit 3) with the strategy, the server's refusal and the fix, not a run full of errors."""
    from xtalk.client.preflight import preflight

    result = preflight(scenario, host, env)
    print(f"xtalk run: preflight: {result.summary}", flush=True)
