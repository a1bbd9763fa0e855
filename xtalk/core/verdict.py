"""The verdict: a typed, immutable value, decided by one small pure function (``decide``).

Precedence: an anomaly count above its limit fails the run (a leak is a leak, whatever else went
wrong); otherwise a run that could not have shown a leak (no request completed, no two users in
flight together), whose history breaks the checker's assumptions, or that was interrupted, is
inconclusive; otherwise a failed threshold fails it; otherwise it passes. Counts stay exact
however many findings are kept in full.

``Verdict`` holds the decision, its reasons, the counts it rests on, the thresholds, the kept
findings and ``details`` (what the report shows: coverage, matrix, latency, incidents, ...) as
frozen data. ``xtalk.core.verdict_json`` writes it as the verdict.json object; ``exit_code`` is
the one mapping from verdict to exit status. Nothing changes a verdict after it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from xtalk.core.anomaly import Finding
from xtalk.core.config import CheckConfig, LatencyLimit
from xtalk.core.requests import Outcome
from xtalk.core.verdict_json import SCHEMA, verdict_json

__all__ = [
    "CheckConfig", "Counts", "Decision", "EXIT_CODES", "Inconclusive", "LatencyLimit", "Outcome", "SCHEMA",
    "Threshold", "Verdict", "decide", "exit_code_of", "freeze", "thresholds",
]

CONNECT_PHASES = frozenset({"login", "register", "auth", "thread", "connect", "handshake", "open", "websocket"})


class Decision(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


#: The one mapping from verdict to exit status (SPEC "Exit status"; 3 and above: harness errors).
EXIT_CODES: Mapping[Decision, int] = MappingProxyType({Decision.PASS: 0, Decision.FAIL: 1, Decision.INCONCLUSIVE: 2})
EXIT_HARNESS = 3


def exit_code_of(verdict: str) -> int:
    """The exit status for a verdict string (``pass``/``fail``/``inconclusive``); 3 for anything else."""
    try:
        return EXIT_CODES[Decision(verdict)]
    except ValueError:
        return EXIT_HARNESS


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str
    limit: float
    observed: float | None
    ok: bool


@dataclass(frozen=True, slots=True)
class Inconclusive:
    reason: str
    advice: str


@dataclass(frozen=True, slots=True)
class Counts:
    """The figures a decision rests on."""

    anomalies: Mapping[str, int]  # every kind, zeros included
    limits: Mapping[str, int]
    sent: int
    completed: int
    failed: int
    unknown: int
    dropped: int
    overlapping_pairs: int
    broken: tuple[str, ...] = ()  # the first reasons the history breaks the checker's assumptions
    broken_count: int = 0
    interrupted: str | None = None


def decide(counts: Counts, checked: tuple[Threshold, ...]) -> tuple[Decision, tuple[str, ...], Inconclusive | None]:
    """The decision, its reasons, and why it is inconclusive (when it is)."""
    reasons: list[str] = []
    over = [(kind, n) for kind, n in counts.anomalies.items() if n > counts.limits.get(kind, 0)]
    for kind, n in over:
        reasons.append(f"{kind}: {n} found (limit {counts.limits.get(kind, 0)})")
    inconclusive: Inconclusive | None = None
    if counts.interrupted is not None:
        interrupted = (f"the run was interrupted {counts.interrupted}, so it ended before its scenario's load "
                       "and drain were over and cannot show what a full run would")
        if over:
            reasons.append(interrupted)  # a leak seen is a leak, however the run ended
        inconclusive = Inconclusive(
            interrupted,
            "re-run it without interrupting it; in CI give the job a timeout longer than the scenario's "
            "connect + load + drain (xtalk run prints them when it starts)",
        )
    elif counts.completed == 0:
        inconclusive = Inconclusive(
            f"no request completed ({counts.sent} sent, {counts.failed} failed, {counts.unknown} unknown)",
            "make sure the host answers agent requests (see client errors and findings), "
            "then run long enough for requests to finish within their deadline",
        )
    elif counts.overlapping_pairs == 0:
        inconclusive = Inconclusive(
            "no two users were ever in flight at the same time, so no leak between users could show",
            "run with at least 2 users (--users N) and enough load that their requests overlap",
        )
    elif counts.broken_count:
        more = f" (and {counts.broken_count - 3} more)" if counts.broken_count > 3 else ""
        inconclusive = Inconclusive(
            "the history breaks the checker's assumptions: " + "; ".join(counts.broken[:3]) + more,
            "re-record the run (histories are written by xtalk run; do not edit them); "
            "pass every shard of a distributed run to xtalk check together",
        )
    failed = [t for t in checked if not t.ok]
    if over:
        decision = Decision.FAIL
    elif inconclusive is not None:
        decision = Decision.INCONCLUSIVE
        reasons.append(inconclusive.reason)
    elif failed:
        decision = Decision.FAIL
    else:
        decision = Decision.PASS
    # A threshold an interrupted run failed is still said, but no longer decides.
    reasons.extend(f"threshold {t.name}: observed {t.observed}, limit {t.limit}" for t in failed)
    return decision, tuple(reasons), inconclusive if decision is Decision.INCONCLUSIVE else None


def thresholds(
    config: CheckConfig,
    latency: Mapping[str, Mapping[str, Any]],
    completion: float | None,
    connection_error_ratio: float | None,
) -> tuple[Threshold, ...]:
    """The scenario's latency, completion and connection-error thresholds against what was seen."""
    out: list[Threshold] = []
    for limit in config.latency:
        observed = latency.get(limit.phase, {}).get(f"p{limit.percentile}")
        out.append(Threshold(f"latency.{limit.phase}.p{limit.percentile}", limit.limit, observed,
                             observed is None or observed <= limit.limit))
    if config.completion_ratio is not None:
        observed = None if completion is None else round(completion, 4)
        out.append(Threshold("completion_ratio", config.completion_ratio, observed,
                             completion is None or completion >= config.completion_ratio))
    if config.connection_error_ratio is not None:
        ratio = connection_error_ratio
        out.append(Threshold("connection_error_ratio", config.connection_error_ratio,
                             None if ratio is None else round(ratio, 4),
                             ratio is None or ratio <= config.connection_error_ratio))
    return tuple(out)


def freeze(value: Any) -> Any:
    """JSON-like data made immutable: dicts become read-only mappings, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reasons: tuple[str, ...]
    inconclusive: Inconclusive | None
    counts: Counts
    thresholds: tuple[Threshold, ...]
    findings: tuple[Finding, ...]  # kept in full, by time
    details: Mapping[str, Any]  # frozen: what the report shows beside the decision

    @property
    def verdict(self) -> str:
        return self.decision.value

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def to_dict(self) -> dict[str, Any]:
        """The verdict.json object (a new dict each time)."""
        return verdict_json(self)
