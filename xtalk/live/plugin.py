"""Live checking inside Locust: the glue between Locust's runners and ``xtalk.live``.

- **Worker** (or standalone process): ``start_worker`` makes the ``LiveChecker`` whose
  ``on_record`` the run's ``Recorder`` calls (each finding also fires a failed Locust request of
  its phase: ``xtalk.live.failures``), and a greenlet that sends its snapshot to the master
  every ``SEND_EVERY`` seconds (``runner.send_message``; on a standalone ``LocalRunner`` the
  message goes straight to the local listener). The ``end`` record sends a last snapshot at once,
  so it reaches the master before the worker's ``xtalk_done``.
- **Master** (or standalone process), on ``init``: a ``LiveBoard`` that keeps each worker's
  latest snapshot, the web UI tabs (when there is a web UI), a terminal progress line every
  ``PRINT_EVERY`` seconds, and on ``quitting`` a final line and ``live.json`` in the run folder.

By default the checker runs in a side process that tails the history (``xtalk.live.side``,
``xtalk.live.tail``): the worker's own loop only records. ``XTALK_LIVE=inline`` keeps it in the
recorder's hook, in the worker's loop (the previous way); ``XTALK_LIVE=0`` switches live checking
off (the benchmark measures both costs this way).
Every listener and greenlet here catches its own exceptions: an exception inside a Locust
listener turns Locust's exit code into 2 (STYLE.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import gevent
import orjson
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from xtalk.live.board import LiveBoard
from xtalk.live.progress import format_progress
from xtalk.live.snapshot import LiveChecker
from xtalk.live.side import SideLive
from xtalk.live.worker import LIVE_MESSAGE, LiveWorker, enabled, mode

log = logging.getLogger("xtalk")

PRINT_EVERY = 5.0
QUIT_GRACE = 2.5

_BOARD: LiveBoard | None = None
_WORKER: LiveWorker | SideLive | None = None


def current_board() -> LiveBoard | None:
    return _BOARD


def start_worker(environment: Environment, settings: Any, worker: str | None) -> LiveWorker | SideLive | None:
    """The live checker for this process's recorder, or None (switched off, or it could not be
    made: the run goes on without it). ``settings`` is ``xtalk.client.settings.RunSettings``."""
    global _WORKER
    how = mode()
    if how == "off":
        return None
    try:
        if how == "side":
            from xtalk.scenario.load import scenario_to_dict

            _WORKER = SideLive(environment, scenario_to_dict(settings.scenario), worker)
            return _WORKER
        from xtalk.history import config_for

        from xtalk.live.failures import FailureReporter

        config = config_for(settings.scenario)
        # Each finding is also a failed Locust request of its phase: Locust's own failure columns,
        # its failures CSV and its exit code then show isolation too (the verdict stays the authority).
        reporter = FailureReporter(environment.events.request.fire, config.profile)
        checker = LiveChecker(config, worker, on_finding=reporter)
        _WORKER = LiveWorker(environment, checker)
        return _WORKER
    except Exception as error:
        log.error("xtalk: live checking is off: %s: %s", type(error).__name__, error)
        return None


# ---- master (or standalone) --------------------------------------------------------------------


def _on_init(environment: Environment, **_: Any) -> None:
    global _BOARD
    try:
        runner = environment.runner
        if runner is None or isinstance(runner, WorkerRunner) or not enabled():
            return
        board = _BOARD = LiveBoard()

        def on_live(environment: Environment, msg: Any, **_: Any) -> None:
            board.update(getattr(msg, "data", None), str(getattr(msg, "node_id", "") or ""))

        runner.register_message(LIVE_MESSAGE, on_live)
        web_ui = getattr(environment, "web_ui", None)
        if web_ui is not None:
            from xtalk.live.web import install

            install(web_ui, board)
            gevent.spawn(_end_ui_after_quit, runner, web_ui)
        gevent.spawn(_print_progress, board)
    except Exception as error:
        log.error("xtalk: the live view is off: %s: %s", type(error).__name__, error)


def _end_ui_after_quit(runner: Any, web_ui: Any) -> None:
    """A master started with ``--autostart`` keeps serving its web UI after ``runner.quit()``
    (the run's own end, when every worker has finished its history) until ``-t`` and
    ``--autoquit``: stop the UI shortly after the runner's greenlets are gone, so the process
    ends and the verdict can be computed (docker-compose.yml's master runs ``xtalk check`` next)."""
    try:
        while len(runner.greenlet) > 0:
            gevent.sleep(0.5)
        gevent.sleep(QUIT_GRACE)  # the final counts stay on screen for one more UI poll
        web_ui.stop()
    except Exception as error:
        log.debug("xtalk: web UI left running: %s", error)


def _print_progress(board: LiveBoard) -> None:
    while True:
        gevent.sleep(PRINT_EVERY)
        try:
            if board.workers:
                log.info("%s", format_progress(board.summary()))
        except Exception as error:
            log.debug("xtalk: no live progress line: %s", error)


def _on_quitting(environment: Environment, **_: Any) -> None:
    board = _BOARD
    if board is None or not board.workers:
        return
    try:
        summary = board.summary()
        log.info("%s", format_progress(summary, final=True))
        out = os.environ.get("XTALK_OUT")
        if out and Path(out).is_dir():
            (Path(out) / "live.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    except Exception as error:
        log.error("xtalk: could not write the live summary: %s: %s", type(error).__name__, error)


events.init.add_listener(_on_init)
events.quitting.add_listener(_on_quitting)
