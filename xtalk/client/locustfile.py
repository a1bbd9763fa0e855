"""The packaged Locust entry point (``xtalk run`` points Locust here; ``loadtests/locustfile.py``
is the same for people who run ``locust -f`` from a checkout). All logic lives in
``xtalk.client``: importing ``xtalk.client.user`` registers the run's Locust listeners, and a
scenario whose shape is not constant gets its ``LoadTestShape`` here."""

from xtalk.client.shape import shape_class
from xtalk.client.user import XtalkUser, scenario_for_locustfile

XtalkShape = shape_class(scenario_for_locustfile())

__all__ = ["XtalkShape", "XtalkUser"]
