"""Plain ``locust -f loadtests/locustfile.py`` with no host: the reference backend, embedded.

A Locust user types ``locust -f loadtests/locustfile.py --headless -u 10 -r 10 -t 10s`` and
expects a run. With no ``--host`` (``-H``), no ``host`` in the scenario and no ``XTALK_*``
variable, a standalone Locust process starts xtalk's reference backend itself, as ``xtalk run``
does (``xtalk serve --port 0`` on a free loopback port, configured by the scenario's
``[backend]``: the correct ``main`` engine path by default), points the run at it, and stops it
when Locust quits; its log is ``backend.log`` in the run folder. The history goes to
``reports/<run-id>/history.jsonl``; ``xtalk check`` it afterwards for the verdict.

Only a standalone process does this: a master or worker started by hand needs ``--host`` (each
worker starting its own backend would split the users between backends).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("xtalk")

_BACKEND: list[Any] = []


def wanted(environment: Any, scenario_host: str | None) -> bool:
    from locust.runners import LocalRunner

    return isinstance(environment.runner, LocalRunner) and not environment.host and not scenario_host


def start(environment: Any, settings: Any) -> None:
    """Start the reference backend for this process's run and point Locust at it."""
    from xtalk.runner.backend import EmbeddedBackend

    settings.out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["XTALK_CLOCK_ZERO"] = repr(settings.clock_zero)
    backend = EmbeddedBackend(settings.scenario, seed=settings.seed, run_dir=settings.out_dir, env=env,
                              exit_after=24 * 3600.0)
    backend.__enter__()
    _BACKEND.append(backend)
    environment.host = backend.url
    os.environ["XTALK_BACKEND"] = "embedded"
    log.info("xtalk: no --host given: started the reference backend on %s (engine %s) for this run; "
             "pass --host URL to load another backend", backend.url, settings.scenario.backend.engine)


def stop() -> None:
    while _BACKEND:
        try:
            _BACKEND.pop().stop()
        except Exception as error:
            log.error("xtalk: could not stop the embedded backend: %s", error)
