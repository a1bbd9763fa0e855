"""The checker's settings: deadlines, limits, caps and what the report shows of the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xtalk.core.profile import Profile


#: Seconds a record may lag the one before it (clock reads racing the writer): time may run
#: back this much without breaking the history.
TIME_JITTER = 0.05

#: Seconds a run's first event may be stamped before a send and still answer it: a fast reply
#: read (and stamped) by the receiving side before the sending side stamped its send record. A
#: few milliseconds, far less than the jitter allowed between records: an event well before any
#: send is a phantom.
SEND_SLACK = 0.005


@dataclass(frozen=True, slots=True)
class LatencyLimit:
    phase: str
    percentile: int
    limit: float


@dataclass(frozen=True)
class CheckConfig:
    profile: Profile
    deadline: float = 30.0
    drain: float | None = None
    anomaly_limits: dict[str, int] = field(default_factory=dict)  # kind → allowed (default 0)
    latency: tuple[LatencyLimit, ...] = ()
    completion_ratio: float | None = None
    connection_error_ratio: float | None = None
    findings_cap: int = 100  # findings kept in full per kind
    unknowns_cap: int = 200
    retention: float = 10.0  # seconds a finished request keeps its full state
    tomb_retention_override: float | None = None
    script_limit: int = 10_000
    run: dict[str, Any] = field(default_factory=dict)  # id, scenario, started_at, ... (for the report)
    recheck: str | None = None
    notify: bool = False  # keep every finding until ``Checker.drain_findings`` takes it (live checking)
    interrupted: str | None = None  # the run was cut short: how ("by SIGTERM 12.3 s after ..."); inconclusive unless it failed
    # (a history whose end record says ``interrupted`` is judged the same way without it)
    # Where a history line lives, for a history merged from shards: line -> (shard file, its line),
    # None for a line no shard holds (the merged end record). Asked only when the verdict is built.
    locate: Callable[[int], tuple[str, int] | None] | None = None
    # The checker without its fast paths (each stage's early return for the common case): the
    # reference that tests/differential compares every fast path against, verdict for verdict.
    reference: bool = False

    @property
    def tomb_retention(self) -> float:
        if self.tomb_retention_override is not None:
            return self.tomb_retention_override
        return 2 * self.deadline + (self.deadline if self.drain is None else self.drain)

    def limit(self, kind: str) -> int:
        return self.anomaly_limits.get(kind, 0)
