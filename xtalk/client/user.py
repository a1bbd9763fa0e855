"""The Locust side: ``XtalkUser`` and the per-process ``ProcessRun`` that conducts a run.

Timeline of one Locust process (a standalone run or one worker):

1. **Connect** (gate closed): each user, as Locust spawns it, logs in, creates its thread and
   opens its tabs, then waits at the gate. Handshakes never compete with users already looping
   at full speed (STYLE.md: without a gate only 3.3-4.8k of 5,000 users connected in 40 s).
   The gate opens when spawning is complete and every spawned user has finished connecting, or
   when the connect budget runs out.
2. **Load** for ``run_time`` seconds from the gate: users repeat their journey, closed-loop.
3. **Drain**: no new request; connections stay open until no request is in flight or the drain
   window passes. Then ``end`` (with ``drain`` = seconds waited) is written and Locust is ended:
   a standalone process quits its runner; a worker sends ``xtalk_done`` to the master, which
   quits (and so stops every worker) once all workers have sent it.

Locust's ``-t`` is only a safety net (``xtalk run`` sets it beyond connect + load + drain); a
shorter ``-t`` given by hand shortens the load and the drain to end before it
(``xtalk.client.plan``); when it fires first anyway, ``quitting`` still writes ``end`` and flushes
the history. ``STOP_LOAD_SIGNAL`` (what ``xtalk run`` sends on SIGTERM/SIGINT) ends the load at
once and cuts the drain to ``INTERRUPT_DRAIN`` seconds; the ``end`` record then says
``interrupted``.

Adapters never raise into Locust (an exception in a listener turns Locust's exit code into 2):
every listener here catches, logs and goes on.
"""

from __future__ import annotations

import gc
import logging
import os
import random
from pathlib import Path
from typing import Any

import gevent
import locust.stats
import httpx
from gevent.event import AsyncResult, Event
from gevent.lock import BoundedSemaphore
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from xtalk.client import embedded
from xtalk.client.plan import INTERRUPT_DRAIN, STOP_LOAD_SIGNAL, Plan, fit
from xtalk.client.probes import run_probes, wanted
from xtalk.client.pump import ReadPump
from xtalk.client.recorder import Recorder
from xtalk.client.session import Harness, RequestFailed, Session
from xtalk.client.settings import RunSettings, read_settings
from xtalk.scenario.load import write_scenario_json
from xtalk.client.shape import mark_run_over, needs_shape
from xtalk.live.plugin import start_worker as start_live_worker  # also registers the live view's listeners
from xtalk.scenario.model import Journey, Scenario

log = logging.getLogger("xtalk")
HTTP_CONNECTIONS = 200  # the shared HTTP client's pool, and how many users set up at once
# httpx logs every request at INFO: thousands of logins would drown the progress lines.
logging.getLogger("httpx").setLevel(logging.WARNING)

PROGRESS_EVERY = 2.0  # seconds between progress lines


def user_name(index: int) -> str:
    return f"u{index:04d}"


def pick_journey(journeys: tuple[Journey, ...], seed: int, index: int) -> Journey:
    """The journey user ``index`` repeats: weighted, and the same for the same seed."""
    if len(journeys) == 1:
        return journeys[0]
    rng = random.Random(f"{seed}:{index}")
    return rng.choices(journeys, weights=[max(0, j.weight) for j in journeys])[0]


class ProcessRun:
    """Everything one Locust process shares for the run: settings, recorder, HTTP client,
    the harness the sessions use, and the conductor greenlet (gate, load, drain, end)."""

    def __init__(self, environment: Environment, settings: RunSettings) -> None:
        self.env = environment
        self.settings = settings
        scenario = settings.scenario
        runner = environment.runner
        self.worker: str | None = str(runner.worker_index) if isinstance(runner, WorkerRunner) else None
        name = "history.jsonl" if self.worker is None else f"history-{self.worker}.jsonl"
        # ---- live checking (xtalk.live, issue 7): the recorder feeds each record to it ----
        self.live = start_live_worker(environment, settings, self.worker)
        self.recorder = Recorder(settings.out_dir / name, clock_zero=settings.clock_zero,
                                 on_record=self.live.on_record if self.live is not None else None)
        if self.live is not None:
            self.live.attach(self.recorder)  # a side process tails the history from here
        self.host = (environment.host or scenario.host or "").rstrip("/")
        self.recorder.meta(profile=scenario.profile, scenario=scenario.name, seed=settings.seed,
                           worker=self.worker, run_id=settings.run_id, host=self.host,
                           **({"backend": "embedded"} if os.environ.get("XTALK_BACKEND") == "embedded" else {}))
        # One client for all users: each httpx.Client builds an SSL context (~15 ms, ~844 KB).
        self.http = httpx.Client(timeout=httpx.Timeout(max(30.0, scenario.connect_timeout)),
                                 limits=httpx.Limits(max_connections=HTTP_CONNECTIONS, max_keepalive_connections=50))
        # At most as many users log in at once as the pool has connections: past that, httpx's
        # pool spends its time matching queued requests to connections (measured: at 1,000
        # spawns/s, 97 % of a worker's CPU, and 202 of 3,000 users connected in 73 s).
        self.setup_slots = BoundedSemaphore(HTTP_CONNECTIONS)
        self.harness = Harness(
            scenario=scenario, recorder=self.recorder, http=self.http, base_url=self.host,
            run_id=settings.run_id, report=self.report, spawn=gevent.spawn, make_waiter=AsyncResult,
            environ=_environ(), pause=gevent.sleep,
            pump=ReadPump() if os.environ.get("XTALK_READ_PUMP", "1") != "0" else None,
        )
        self.sessions: list[Session] = []
        self.spawned = 0
        self.ready = 0
        self.spawning_done = False
        self.gate = Event()
        self.finished = False
        self.stopped_at: float | None = None
        self.listener_errors = 0
        self.started_at = self.recorder.now()  # about when Locust's -t started counting
        self.plan: Plan | None = None
        self.interrupted_at: float | None = None  # STOP_LOAD_SIGNAL arrived (xtalk run was interrupted)
        self.wake = Event()  # set on interrupt: the conductor stops waiting
        self.conductor = gevent.spawn(self._conduct)
        if _STOP_REQUESTED[0]:
            self.interrupt()

    def interrupt(self) -> None:
        """Stop the load now; drain at most ``INTERRUPT_DRAIN`` seconds; then end (idempotent)."""
        if self.interrupted_at is None:
            self.interrupted_at = self.recorder.now()
            log.warning("xtalk: asked to stop: ending the load, draining for up to %.0f s", INTERRUPT_DRAIN)
            self.wake.set()

    # ---- the Locust adapter ------------------------------------------------------------------

    def report(self, name: str, response_time_ms: float, exception: Exception | None) -> None:
        try:
            self.env.events.request.fire(request_type="WS", name=name, response_time=response_time_ms,
                                         response_length=0, exception=exception, context={})
        except Exception as error:  # never into Locust: count it and record it
            self.listener_errors += 1
            if self.listener_errors <= 3:
                self.recorder.error(None, "locust", f"request event listener failed: {type(error).__name__}")

    def next_index(self) -> int:
        local = self.spawned
        self.spawned += 1
        if self.worker is None:
            return local
        # Unique across workers without asking the master: worker w of K takes w, w+K, w+2K, ...
        # (K unknown when Locust is started by hand: leave room for 1,000 workers).
        stride = self.settings.workers or 1000
        return local * stride + int(self.worker)

    # ---- the conductor -----------------------------------------------------------------------

    def _conduct(self) -> None:
        try:
            self._connect_phase()
            gated = not needs_shape(self.settings.scenario)
            if gated and self.harness.connected == 0 and self.spawned > 0:
                # Nobody got in (logins refused, handshakes refused): a load phase would only
                # wait. End now; the errors are in the history and `xtalk run` explains them.
                log.error("xtalk: no user could open a connection; ending the run (see the error records)")
                self.harness.stopping = True
                drained = 0.0
            else:
                self._load_phase()
                drained = self._drain_phase()
            self.finish(drained)
            self._finish_live()
            self._end_locust()
        except gevent.GreenletExit:
            raise
        except Exception as error:  # record, end the history, and let -t stop Locust
            log.exception("xtalk: the run's conductor failed")
            self.recorder.error(None, "harness", f"conductor failed: {type(error).__name__}: {error}")
            self.finish(0.0)

    def _finish_live(self) -> None:
        """Before saying the run is over: the live checker's last findings and snapshot (a side
        process may lag the history a little), bounded in time."""
        if self.live is not None:
            try:
                self.live.finish()
            except Exception as error:  # the live view is never worth a broken run
                log.warning("xtalk: live checking did not finish: %s: %s", type(error).__name__, error)

    def _end_locust(self) -> None:
        """Stop Locust once this process's history is complete.

        A worker does not quit by itself: the master would rebalance its users onto the workers
        still running (and they would start spawning again). It reports ``xtalk_done``; the
        master quits once every worker has, which stops the workers cleanly. A standalone run
        quits its runner; a shape test lets the shape's next tick end it (quitting here would
        race with Locust's own stop).
        """
        runner = self.env.runner
        if isinstance(runner, WorkerRunner):
            # Only a quit asked by the master sends a final stats report: send ours now, or the
            # master's totals miss the last seconds.
            send_stats = getattr(runner, "_send_stats", None)
            if callable(send_stats):
                send_stats()
            runner.send_message(DONE_MESSAGE, {"worker": self.worker, "lines": self.recorder.lines})
            return
        if needs_shape(self.settings.scenario):
            mark_run_over()
            return
        if runner is not None:
            gevent.sleep(csv_settle(self.env))
            runner.quit()

    def _connect_phase(self) -> None:
        scenario = self.settings.scenario
        if needs_shape(scenario):
            # Ramps, steps, spikes: users join while the load runs; no gate.
            self.recorder.write({"kind": "load", "t": self.recorder.now(), "state": "start", "users": 0,
                                 "connections": 0, "shape": scenario.shape.kind})
            log.info("xtalk: %s shape: users start as they connect; load for %.0f s",
                     scenario.shape.kind, scenario.run_time)
            log.info("%s", self._plan().banner())
            self.gate.set()
            return
        budget = scenario.connect_timeout + scenario.users / max(scenario.spawn_rate, 0.1) + 10.0
        started = self.recorder.now()
        next_log = started + PROGRESS_EVERY
        while True:
            runner = self.env.runner
            target = runner.user_count if runner is not None else 0
            if self.spawning_done and self.ready >= target and self.spawned >= target:
                break
            now = self.recorder.now()
            if self.interrupted_at is not None:
                break
            if now - started > budget:
                log.warning("xtalk: connect budget of %.0f s spent with %d/%d users ready; starting the load",
                            budget, self.ready, self.spawned)
                break
            if now >= next_log:
                log.info("xtalk: connecting: %d/%d users ready, %d connections open",
                         self.ready, max(target, self.spawned), self.harness.connected)
                next_log = now + PROGRESS_EVERY
            gevent.sleep(0.05)
        self.recorder.write({"kind": "load", "t": self.recorder.now(), "state": "start", "users": self.ready,
                             "connections": self.harness.connected})
        # Everything set up so far lives for the whole run: out of the collector's sight, so its
        # full collections during the load do not walk thousands of sessions (CPython's gc.freeze).
        gc.collect()
        gc.freeze()
        plan = self._plan()
        log.info("xtalk: %d users ready, %d connections open: load starts for %g s",
                 self.ready, self.harness.connected, plan.load)
        log.info("%s", plan.banner())
        self.gate.set()

    def _plan(self) -> Plan:
        """The load and drain of this process, fitted to Locust's time limit (-t) when it has one."""
        if self.plan is None:
            scenario = self.settings.scenario
            options = getattr(self.env, "parsed_options", None)
            limit = getattr(options, "run_time", None) if not isinstance(self.env.runner, WorkerRunner) else None
            limit = float(limit) if isinstance(limit, (int, float)) and not needs_shape(scenario) else None
            self.plan = fit(scenario.run_time, scenario.drain_window, limit, self.recorder.now() - self.started_at)
        return self.plan

    def _load_phase(self) -> None:
        h = self.harness
        run_time = self._plan().load
        start = self.recorder.now()
        if wanted(self.settings.scenario.probes) and self.worker in (None, "0"):
            gevent.spawn_later(min(1.0, run_time / 4), self._probe)
        while self.interrupted_at is None:
            elapsed = self.recorder.now() - start
            if elapsed >= run_time:
                break
            self.wake.wait(min(PROGRESS_EVERY, run_time - elapsed))
            if self.interrupted_at is not None:
                break
            log.info("xtalk: load %.0f/%.0f s: %d requests done, %d in flight",
                     min(self.recorder.now() - start, run_time), run_time, h.requests_done, h.in_flight)
        h.stopping = True
        self.stopped_at = self.recorder.now()
        self.recorder.write({"kind": "load", "t": self.stopped_at, "state": "stop", "sent": h.requests_sent,
                             "done": h.requests_done})

    def _probe(self) -> None:
        try:
            run_probes(self.harness, list(self.sessions), self.settings.scenario.probes, gevent.sleep)
        except Exception as error:  # a probe's bug must not end the run: record it
            log.exception("xtalk: a probe failed")
            self.recorder.error(None, "probe", f"{type(error).__name__}: {error}")

    def _drain_phase(self) -> float:
        h = self.harness
        window = self._plan().drain
        start = self.recorder.now()
        next_log = start + PROGRESS_EVERY
        while h.in_flight > 0 and self.recorder.now() < self._drain_ends(start, window):
            gevent.sleep(0.05)
            if self.recorder.now() >= next_log:
                log.info("xtalk: draining: %d requests in flight", h.in_flight)
                next_log = self.recorder.now() + PROGRESS_EVERY
        drained = self.recorder.now() - start
        log.info("xtalk: drained in %.1f s; %d requests sent, %d done, %d still in flight",
                 drained, h.requests_sent, h.requests_done, h.in_flight)
        return drained

    def _drain_ends(self, start: float, window: float) -> float:
        ends = start + window
        if self.interrupted_at is not None:  # cut short: a few seconds from the interrupt at most
            ends = min(ends, max(start, self.interrupted_at) + INTERRUPT_DRAIN)
        return ends

    def finish(self, drain: float) -> None:
        """Write ``end`` and close the history (idempotent)."""
        if self.finished:
            return
        self.finished = True
        self.harness.stopping = True
        self.recorder.end(drain, **({"interrupted": True} if self.interrupted_at is not None else {}))
        self.recorder.close()
        log.info("xtalk: history written to %s (%d lines)", self.recorder.path, self.recorder.lines)

    def on_quitting(self) -> None:
        if not self.finished:
            since = 0.0 if self.stopped_at is None else self.recorder.now() - self.stopped_at
            self.finish(since)
        if self.live is not None:
            try:
                self.live.stop()
            except Exception:
                pass
        try:
            self.http.close()
        except Exception:
            pass


def _environ() -> dict[str, str]:
    return dict(os.environ)


# ---- one ProcessRun per process, created when the test starts ------------------------------------

_RUN: ProcessRun | None = None
_STOP_REQUESTED = [False]  # STOP_LOAD_SIGNAL came before the run started


def _on_stop_signal() -> None:
    """``xtalk run`` was interrupted: end this process's load in order (runs in a greenlet)."""
    try:
        _STOP_REQUESTED[0] = True
        if _RUN is not None:
            _RUN.interrupt()
    except Exception as error:
        log.error("xtalk: could not stop the load: %s: %s", type(error).__name__, error)


def current_run() -> ProcessRun | None:
    return _RUN


_SETTINGS: list[RunSettings] = []


def settings_once() -> RunSettings:
    """This process's settings, read once (a made-up run id must not change between reads)."""
    if not _SETTINGS:
        _SETTINGS.append(read_settings())
    return _SETTINGS[0]


def scenario_for_locustfile() -> Scenario:
    """The scenario, read when the locustfile is imported (to pick a load shape). A broken
    scenario is reported at test start with a clear message; here it falls back to defaults."""
    try:
        return settings_once().scenario
    except Exception:
        return Scenario()


def _on_test_start(environment: Environment, **_: Any) -> None:
    global _RUN
    if isinstance(environment.runner, MasterRunner) or _RUN is not None:
        return
    try:
        settings = settings_once()
        Path(settings.out_dir).mkdir(parents=True, exist_ok=True)
        if not (environment.host or settings.scenario.host):
            log.error("xtalk: expected a host to load but got none; pass --host http://127.0.0.1:PORT "
                      "(or set host in the scenario); only a standalone Locust starts the reference backend "
                      "by itself, and `xtalk run` does the same for any number of workers")
            environment.process_exit_code = 3
            if environment.runner is not None:
                gevent.spawn_later(0.1, environment.runner.quit)
            return
        if not settings.out_dir.joinpath("scenario.json").exists() and environment.runner is not None \
                and not isinstance(environment.runner, WorkerRunner):
            write_scenario_json(settings.scenario, str(settings.out_dir / "scenario.json"))
        _RUN = ProcessRun(environment, settings)
        log.info("xtalk: run %s, history in %s", settings.run_id, settings.out_dir)
    except Exception as error:
        log.error("xtalk: could not start the run: %s: %s", type(error).__name__, error)
        environment.process_exit_code = 3
        if environment.runner is not None:
            gevent.spawn_later(0.1, environment.runner.quit)


DONE_MESSAGE = "xtalk_done"
_DONE_WORKERS: set[str] = set()


def csv_settle(environment: Environment) -> float:
    """Seconds to wait before quitting so that Locust's CSV files hold the last failures.

    Locust rewrites its ``--csv`` files once per ``CSV_STATS_INTERVAL_SEC`` in a greenlet and only
    closes them on shutdown; failures fired just before the quit (the live checker's last
    findings, decided when a leaked run's deadline passes or the history ends) would show in the
    printed error report but not in ``*_failures.csv``. One interval and a little more lets the
    writer run once more. Zero when this process writes no CSV."""
    options = getattr(environment, "parsed_options", None)
    if not getattr(options, "csv_prefix", None):
        return 0.0
    return float(getattr(locust.stats, "CSV_STATS_INTERVAL_SEC", 1)) + 0.2


def _on_init(environment: Environment, **_: Any) -> None:
    """On a load process: stop the load on ``STOP_LOAD_SIGNAL``. On the master: quit once every
    worker has written the end of its history."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        try:
            gevent.signal_handler(STOP_LOAD_SIGNAL, _on_stop_signal)
        except Exception as error:  # not the main thread (tests): xtalk run's SIGTERM then stops it
            log.debug("xtalk: no stop signal handler: %s", error)
        try:
            settings = settings_once()
            if embedded.wanted(environment, settings.scenario.host):
                embedded.start(environment, settings)
        except Exception as error:  # test_start reports a broken scenario with its own message
            log.error("xtalk: could not start the reference backend: %s: %s", type(error).__name__, error)
        return

    def on_done(environment: Environment, msg: Any, **_: Any) -> None:
        try:
            _DONE_WORKERS.add(str(msg.node_id))
            expected = max(runner.worker_count, 1)
            log.info("xtalk: worker %s finished its history (%d/%d)", msg.data.get("worker"),
                     len(_DONE_WORKERS), expected)
            if len(_DONE_WORKERS) >= expected:
                # let the last stats reports arrive, and reach the CSV files
                gevent.spawn_later(max(0.5, csv_settle(environment)), runner.quit)
        except Exception as error:
            log.error("xtalk: could not handle a worker's end: %s: %s", type(error).__name__, error)

    runner.register_message(DONE_MESSAGE, on_done)


def _on_spawning_complete(user_count: int, **_: Any) -> None:
    if _RUN is not None:
        _RUN.spawning_done = True


def _on_quitting(environment: Environment, **_: Any) -> None:
    try:
        if _RUN is not None:
            _RUN.on_quitting()
            if not isinstance(environment.runner, WorkerRunner) and not os.environ.get("XTALK_OUT"):
                log.info("xtalk: check the run with: xtalk check %s", _RUN.recorder.path)
    except Exception as error:
        log.error("xtalk: could not finish the history: %s: %s", type(error).__name__, error)
    finally:
        embedded.stop()


events.init.add_listener(_on_init)
events.test_start.add_listener(_on_test_start)
events.spawning_complete.add_listener(_on_spawning_complete)
events.quitting.add_listener(_on_quitting)


class XtalkUser(User):
    """One simulated person: logs in, opens its tabs, waits at the gate, then repeats its journey
    closed-loop until the load ends, then idles while the run drains."""

    wait_time = constant(0)

    def on_start(self) -> None:
        run = _RUN
        self.session: Session | None = None
        if run is None:
            return
        index = run.next_index()
        journey = pick_journey(run.settings.scenario.journeys, run.settings.seed, index)
        session = Session(run.harness, user_name(index), index, journey)
        self.session = session
        try:
            with run.setup_slots:
                logged_in = session.login()
                if logged_in:
                    session.create_thread()
            if logged_in:
                opened = session.open_tabs()  # yields: count after, or updates are lost
                run.harness.connected += opened
        except Exception as error:  # a bug of ours must not kill the user silently: record it
            run.recorder.error(session.user, "setup", f"{type(error).__name__}: {error}")
            run.report("setup", 0.0, RequestFailed(f"{type(error).__name__}"))
        finally:
            run.ready += 1
            run.sessions.append(session)
        run.gate.wait()

    @task
    def journey(self) -> None:
        run = _RUN
        session = self.session
        if run is None or session is None or run.harness.stopping or session.creds is None:
            gevent.sleep(1.0)
            return
        if session.token_due():
            session.refresh()
        scenario = run.settings.scenario
        if scenario.pacing == "open" and scenario.arrival_rate:
            self._open_loop(run, session, scenario.arrival_rate / max(1, scenario.users))
            return
        for index, step in enumerate(session.journey.steps):
            if run.harness.stopping:
                return
            outcomes = session.run_step(step, index)
            if not outcomes:
                self._reconnect(run, session)
                return
            low, high = step.think_time
            if high > 0:
                gevent.sleep(random.uniform(low, high))

    def _open_loop(self, run: ProcessRun, session: Session, rate: float) -> None:
        """Open pacing: this user's share of the arrival rate, Poisson arrivals, whatever the
        answers; each request waits for its answer in a greenlet of its own."""
        for index, step in enumerate(session.journey.steps):
            if run.harness.stopping:
                return
            if not session.next_tabs_alive():
                self._reconnect(run, session)
                return
            gevent.spawn(session.run_step, step, index)
            gevent.sleep(random.expovariate(rate))

    def _reconnect(self, run: ProcessRun, session: Session) -> None:
        """Every tab is gone: the session replaces them after its bounded backoff."""
        session.reconnect(gevent.sleep)

    def on_stop(self) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            try:
                session.close()
            except Exception:
                pass
