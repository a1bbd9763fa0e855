"""Locust entry point for xtalk: ``locust -f loadtests/locustfile.py --host http://127.0.0.1:8000``.

Thin on purpose: the user class and the run's conductor live in ``xtalk.client.user``. Settings
come from the environment (``XTALK_SCENARIO``, ``XTALK_OUT``, ``XTALK_RUN_ID``,
``XTALK_CLOCK_ZERO``, ``XTALK_SEED``), which ``xtalk run`` sets; with none of them set the run
uses the default scenario and writes ``reports/<run-id>/history.jsonl``. Check it afterwards with
``xtalk check reports/<run-id>/history*.jsonl``.
"""

from xtalk.client.shape import shape_class
from xtalk.client.user import XtalkUser, scenario_for_locustfile

XtalkShape = shape_class(scenario_for_locustfile())  # None (no shape) for a constant load

__all__ = ["XtalkShape", "XtalkUser"]
