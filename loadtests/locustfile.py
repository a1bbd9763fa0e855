"""Locust entry point for xtalk: ``locust -f loadtests/locustfile.py``.

Thin on purpose: the user class and the run's conductor live in ``xtalk.client.user``.

With no ``XTALK_*`` variable at all, ``locust -f loadtests/locustfile.py --headless -u 10 -r 10
-t 10s`` runs the default scenario (one journey: start an agent run, ask a follow-up) against
xtalk's reference backend, which a standalone Locust process starts for the run on a free
loopback port (correct ``main`` engine path) and stops when it quits; pass ``--host URL`` to load
another backend instead (needed for ``--master``/``--worker`` started by hand). A ``-t`` shorter
than the scenario's load plus drain shortens both to end before it, and the first lines say how
long each lasts. Leaks the live checker sees are Locust failures (error: the anomaly kind), so
Locust's exit code is 1 for a leaky run; the verdict is ``xtalk check reports/<run-id>/history*.jsonl``.

Settings (all optional; ``xtalk run`` sets them): ``XTALK_SCENARIO`` (a ``.toml`` scenario or a
run folder's ``scenario.json``), ``XTALK_OUT`` (the run folder, default ``reports/<run-id>``),
``XTALK_RUN_ID``, ``XTALK_CLOCK_ZERO``, ``XTALK_SEED``, ``XTALK_LIVE=0`` (no live checking).
"""

from xtalk.client.shape import shape_class
from xtalk.client.user import XtalkUser, scenario_for_locustfile

XtalkShape = shape_class(scenario_for_locustfile())  # None (no shape) for a constant load

__all__ = ["XtalkShape", "XtalkUser"]
