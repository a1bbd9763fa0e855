"""How long one Locust process loads and drains: the scenario's plan, fitted to Locust's limit.

``xtalk run`` gives Locust a time limit (``-t``) beyond connect + load + drain, so the scenario's
plan always fits and the run ends itself after the drain. A person running
``locust -f loadtests/locustfile.py -t 10s`` by hand gives a limit of their own, often shorter
than the scenario's load plus drain: then the load and the drain are shortened to fit inside the
time left when the users are connected (the drain gets at most ``DRAIN_SHARE`` of it), so that
Locust's own stop never cuts the run's requests mid-way. The banner says the figures either way.

``STOP_LOAD_SIGNAL`` and ``INTERRUPT_DRAIN`` are the contract with ``xtalk run``'s SIGTERM/SIGINT
handling (``xtalk.runner.interrupt``): on that signal a load process stops its load, drains for at
most that many seconds, writes ``end`` (with ``interrupted: true``) and quits. Pure: no clock.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

#: Sent by ``xtalk run`` to each Locust process that generates load: stop, drain briefly, end.
STOP_LOAD_SIGNAL = signal.SIGUSR1
#: Seconds a load process drains after ``STOP_LOAD_SIGNAL``.
INTERRUPT_DRAIN = 3.0
#: At most this share of the time left under a short Locust limit is drain.
DRAIN_SHARE = 0.25
#: Seconds kept free before Locust's limit, to write the end of the history and quit in order.
END_MARGIN = 1.5


@dataclass(frozen=True, slots=True)
class Plan:
    load: float  # seconds of load from the gate
    drain: float  # at most this many seconds of drain after it
    limit: float | None  # Locust's time limit (-t), if any
    fitted: bool  # shortened to fit the limit
    wanted: tuple[float, float] = (0.0, 0.0)  # the scenario's own load and drain

    def banner(self) -> str:
        head = f"xtalk: load {self.load:g} s, then up to {self.drain:g} s of drain"
        if self.limit is None:
            return head + " (no Locust time limit: the run ends itself after the drain)"
        share = self.drain / self.limit * 100 if self.limit > 0 else 0.0
        head += f": the drain is {share:.0f} % of Locust's {self.limit:g} s time limit (-t)"
        if self.fitted:
            head += (f"; -t is shorter than the scenario's {self.wanted[0]:g} s load + {self.wanted[1]:g} s drain, "
                     "so both were shortened to end before it (requests still in flight then count as unknown)")
        else:
            head += "; the run ends itself after the drain, -t is only a safety net"
        return head


def fit(run_time: float, drain_window: float, limit: float | None, elapsed: float) -> Plan:
    """The plan for a load that starts ``elapsed`` seconds after Locust's clock started."""
    wanted = (run_time, drain_window)
    if not limit or limit <= 0:
        return Plan(run_time, drain_window, None, False, wanted)
    available = limit - elapsed - END_MARGIN
    if run_time + drain_window <= available:
        return Plan(run_time, drain_window, limit, False, wanted)
    available = max(0.0, available)
    drain = round(min(drain_window, max(0.5, available * DRAIN_SHARE)), 1)
    load = round(max(0.0, min(run_time, available - drain)), 1)
    return Plan(load, drain, limit, True, wanted)
