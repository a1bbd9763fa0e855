"""From counts to a verdict: thresholds, inconclusive reasons, and the verdict.json object.

Precedence: an anomaly count above its limit fails the run (a leak is a leak, whatever else went
wrong); otherwise a run that could not have shown a leak, or whose history breaks the checker's
assumptions, is inconclusive; otherwise a failed threshold fails it; otherwise it passes.
Counts stay exact however many findings are kept in full.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from xtalk.core.anomaly import ANOMALY_KINDS, AnomalyKind, Finding
from xtalk.core.explain import render
from xtalk.core.profile import Profile

SCHEMA = "xtalk.verdict/1"
CONNECT_PHASES = frozenset({"login", "register", "auth", "thread", "connect", "handshake", "open", "websocket"})


class Outcome(str, Enum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


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

    @property
    def tomb_retention(self) -> float:
        if self.tomb_retention_override is not None:
            return self.tomb_retention_override
        return 2 * self.deadline + (self.deadline if self.drain is None else self.drain)

    def limit(self, kind: str) -> int:
        return self.anomaly_limits.get(kind, 0)


@dataclass
class EngineTally:
    requests: int = 0
    completed: int = 0
    failed: int = 0
    unknown: int = 0
    anomalies: int = 0


class Tally:
    """The checker's counters and kept findings: exact counts, capped detail."""

    def __init__(self, config: CheckConfig) -> None:
        self.config = config
        self.counts: Counter[str] = Counter()
        self.kept: dict[str, list[Finding]] = {}
        self.sent = 0
        self.completed = 0
        self.failed = 0
        self.unknown = 0
        self.dropped = 0
        self.events = 0
        self.connections = 0
        self.max_in_flight = 0
        self.engines: dict[str, EngineTally] = {}
        self.unknowns: list[dict[str, str]] = []
        self.broken_reasons: list[str] = []
        self.broken_count = 0
        self.client_errors: Counter[str] = Counter()

    def count(self, kind: AnomalyKind) -> bool:
        """Count one finding; True when it should also be kept in full."""
        self.counts[kind.value] += 1
        return len(self.kept.get(kind.value, ())) < self.config.findings_cap

    def keep(self, finding: Finding) -> None:
        self.kept.setdefault(finding.kind.value, []).append(finding)
        if finding.engine and finding.engine in self.engines:
            self.engines[finding.engine].anomalies += 1

    def broken(self, reason: str) -> None:
        self.broken_count += 1
        if len(self.broken_reasons) < 20:
            self.broken_reasons.append(reason)

    def client_error(self, phase: str) -> None:
        self.client_errors[phase] += 1

    def outcome(
        self, engine: str, outcome: Outcome, dropped: bool, req: str, user: str, reason: str | None
    ) -> None:
        tally = self.engines.setdefault(engine, EngineTally())
        tally.requests += 1
        if outcome is Outcome.OK:
            self.completed += 1
            tally.completed += 1
        elif outcome is Outcome.FAILED:
            self.failed += 1
            tally.failed += 1
            self.dropped += int(dropped)
        else:
            self.unknown += 1
            tally.unknown += 1
            if len(self.unknowns) < self.config.unknowns_cap:
                self.unknowns.append({"req": req, "user": user, "reason": reason or "unknown"})


@dataclass
class Verdict:
    verdict: str
    data: dict[str, Any]
    findings: list[Finding]

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "inconclusive": 2}[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _finding_dict(finding: Finding, number: int) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "user": finding.user,
        "owner": finding.owner,
        "run_id": finding.run_id,
        "witness": list(finding.witness),
        "explanation": render(finding, number),
        "t": round(finding.t, 3),
        "conn": finding.conn,
        "req": finding.req,
        "engine": finding.engine,
        "frames": [{"line": line, "record": frame} for line, frame in finding.evidence],
    }


def build_verdict(
    tally: Tally,
    *,
    users: int,
    overlapping_pairs: int,
    pairs_exact: bool,
    latency: dict[str, dict[str, Any]],
    engine_latency: dict[str, dict[str, Any]],
    series: list[tuple[float, str, float]],
    matrix: Counter[tuple[str, str]],
    swimlanes: dict[str, list[tuple[float, str, str, str, int]]],
    groups: dict[str, list[str]],
    end_t: float,
    drain: float | None,
    meta: dict[str, Any] | None = None,
) -> Verdict:
    meta = {k: v for k, v in (meta or {}).items() if v is not None}
    config = tally.config
    anomalies = {kind: tally.counts.get(kind, 0) for kind in ANOMALY_KINDS}
    thresholds: list[dict[str, Any]] = []
    for limit in config.latency:
        observed = latency.get(limit.phase, {}).get(f"p{limit.percentile}")
        thresholds.append(
            {
                "name": f"latency.{limit.phase}.p{limit.percentile}",
                "limit": limit.limit,
                "observed": observed,
                "ok": observed is None or observed <= limit.limit,
            }
        )
    judged = tally.sent - tally.unknown
    completion = tally.completed / judged if judged > 0 else None
    if config.completion_ratio is not None:
        thresholds.append(
            {
                "name": "completion_ratio",
                "limit": config.completion_ratio,
                "observed": None if completion is None else round(completion, 4),
                "ok": completion is None or completion >= config.completion_ratio,
            }
        )
    connect_errors = sum(n for phase, n in tally.client_errors.items() if phase in CONNECT_PHASES)
    attempts = tally.connections + connect_errors
    connection_error_ratio = connect_errors / attempts if attempts else None
    if config.connection_error_ratio is not None:
        thresholds.append(
            {
                "name": "connection_error_ratio",
                "limit": config.connection_error_ratio,
                "observed": None if connection_error_ratio is None else round(connection_error_ratio, 4),
                "ok": connection_error_ratio is None or connection_error_ratio <= config.connection_error_ratio,
            }
        )

    reasons: list[str] = []
    over = {k: n for k, n in anomalies.items() if n > config.limit(k)}
    for kind, n in over.items():
        reasons.append(f"{kind}: {n} found (limit {config.limit(kind)})")
    inconclusive: dict[str, str] | None = None
    if tally.completed == 0:
        inconclusive = {
            "reason": f"no request completed ({tally.sent} sent, {tally.failed} failed, {tally.unknown} unknown)",
            "advice": "make sure the host answers agent requests (see client errors and findings), "
            "then run long enough for requests to finish within their deadline",
        }
    elif overlapping_pairs == 0:
        inconclusive = {
            "reason": "no two users were ever in flight at the same time, so no leak between users could show",
            "advice": "run with at least 2 users (--users N) and enough load that their requests overlap",
        }
    elif tally.broken_count:
        inconclusive = {
            "reason": "the history breaks the checker's assumptions: " + "; ".join(tally.broken_reasons[:3])
            + (f" (and {tally.broken_count - 3} more)" if tally.broken_count > 3 else ""),
            "advice": "re-record the run (histories are written by xtalk run; do not edit them); "
            "pass every shard of a distributed run to xtalk check together",
        }
    failed_thresholds = [t for t in thresholds if not t["ok"]]
    if over:
        verdict = "fail"
    elif inconclusive is not None:
        verdict = "inconclusive"
        reasons.append(inconclusive["reason"])
    elif failed_thresholds:
        verdict = "fail"
    else:
        verdict = "pass"
    for t in failed_thresholds:
        reasons.append(f"threshold {t['name']}: observed {t['observed']}, limit {t['limit']}")

    kept = [f for kind in ANOMALY_KINDS for f in tally.kept.get(kind, [])]
    kept.sort(key=lambda f: (f.t, f.witness))
    numbers: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    for finding in kept:
        numbers[finding.kind.value] += 1
        findings.append(_finding_dict(finding, numbers[finding.kind.value]))
    users_in_matrix = sorted({u for pair in matrix for u in pair})
    engines = {
        name: {
            "requests": e.requests,
            "completed": e.completed,
            "failed": e.failed,
            "unknown": e.unknown,
            "anomalies": e.anomalies,
            "p95_completed": engine_latency.get(name, {}).get("p95"),
        }
        for name, e in sorted(tally.engines.items())
    }
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "verdict": verdict,
        "anomalies": anomalies,
        "anomaly_limits": {kind: config.limit(kind) for kind in ANOMALY_KINDS},
        "requests": {
            "sent": tally.sent,
            "completed": tally.completed,
            "failed": tally.failed,
            "unknown": tally.unknown,
            "dropped": tally.dropped,
        },
        "users": users,
        "events": tally.events,
        "thresholds": thresholds,
        "findings": findings,
        "reasons": reasons,
        "inconclusive": inconclusive if verdict == "inconclusive" else None,
        "coverage": {
            "users": users,
            "connections": tally.connections,
            "overlapping_user_pairs": overlapping_pairs,
            "overlapping_user_pairs_exact": pairs_exact,
            "max_concurrent_requests": tally.max_in_flight,
            "engines": sorted(tally.engines),
            "completion_ratio": None if completion is None else round(completion, 4),
            "connection_error_ratio": None if connection_error_ratio is None else round(connection_error_ratio, 4),
        },
        "client_errors": dict(tally.client_errors),
        "broken_assumptions": tally.broken_reasons,
        "matrix": {
            "users": users_in_matrix,
            "cells": [[owner, receiver, n] for (owner, receiver), n in sorted(matrix.items())],
            "groups": groups,
        },
        "latency": {"phases": latency, "series": [list(p) for p in series]},
        "engines": engines,
        "unknowns": tally.unknowns,
        "finding_groups": [
            {"kind": kind, "count": anomalies[kind], "shown": len(tally.kept.get(kind, []))}
            for kind in ANOMALY_KINDS
            if anomalies[kind]
        ],
        "swimlanes": {user: [list(e) for e in lane] for user, lane in swimlanes.items()},
        "run": {**meta, **{k: v for k, v in config.run.items() if v is not None}, "duration": round(end_t, 3), "drain": drain},
        "recheck": config.recheck,
    }
    return Verdict(verdict, data, kept)
