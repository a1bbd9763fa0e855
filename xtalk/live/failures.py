"""Live findings as Locust failures: Locust's own columns, CSV and exit code see isolation too.

A Locust user watching the usual Statistics and Failures tabs should not see "0 % failures" during
a run that leaks. Each finding the live checker makes (``LiveChecker(on_finding=...)``) becomes one
failed Locust request of the phase it struck, with the anomaly kind as the error
(``IsolationFailure("cross_user_event")``), once per request and kind: a leaked run of 12 events
is one failure, not 12. Locust then counts it in its failure ratio, lists it in
``locust_failures.csv`` and exits 1.

The phase is the one Locust already shows for the request (``agent_started``, ``agent_thinking``,
``agent_completed``): the offending event's own when it is a start or a thinking event, else
``agent_completed`` (the request as a whole: tools, completions, drops, lost connections). Only a
label: which finding it is was decided by the checker core. The final verdict, offline over every
shard, stays the authority; this is what a worker sees of its own users, a lower bound.

Locust-free (``fire`` is what ``environment.events.request.fire`` is), so it is testable alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xtalk.core.anomaly import Finding
from xtalk.core.profile import Profile, first_str

PHASES = ("agent_started", "agent_thinking")
WHOLE_REQUEST = "agent_completed"
MAX_REPORTED = 100_000  # (request, kind) pairs remembered; beyond, every finding is reported


class IsolationFailure(Exception):
    """What Locust shows as the error of a request the live checker found a finding in."""


def phase_of(finding: Finding, profile: Profile) -> str:
    """The Locust request name a finding is a failure of."""
    for _line, frame in reversed(finding.evidence):
        if not isinstance(frame, dict):
            continue
        inner = frame.get("frame") if isinstance(frame.get("frame"), dict) else frame
        kind = first_str(inner, profile.type_path)
        if kind in profile.wrappers:
            kind = first_str(inner, (profile.wrappers[kind],)) or kind
        name = profile.canonical.get(kind or "", kind)
        if name in PHASES:
            return name
        if name:
            break
    return WHOLE_REQUEST


class FailureReporter:
    """``reporter(finding)``: fire one failed request per (request, kind)."""

    def __init__(self, fire: Callable[..., Any], profile: Profile) -> None:
        self.fire = fire
        self.profile = profile
        self.seen: set[tuple[str, str]] = set()
        self.reported = 0
        self.errors = 0

    def __call__(self, finding: Finding) -> None:
        kind = finding.kind.value
        key = (str(finding.req or finding.run_id or finding.user or ""), kind)
        if key in self.seen:
            return
        if len(self.seen) < MAX_REPORTED:
            self.seen.add(key)
        try:
            self.fire(request_type="WS", name=phase_of(finding, self.profile), response_time=0.0,
                      response_length=0, exception=IsolationFailure(kind), context={"xtalk": "live finding"})
            self.reported += 1
        except Exception:  # never into the checker or Locust: count it
            self.errors += 1
