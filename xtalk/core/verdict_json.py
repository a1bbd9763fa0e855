"""The verdict.json object (``xtalk.verdict/1``) written from a ``Verdict``: serialising only.

SPEC's fields first (``schema``, ``verdict``, ``anomalies`` with every kind, ``requests``,
``users``, ``events``, ``thresholds``, ``findings``), then the additions the report reads
(docs/ARCHITECTURE.md). Findings are rendered with their explanation text and numbered per kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xtalk.core.anomaly import ANOMALY_KINDS, Finding
from xtalk.core.explain import render

if TYPE_CHECKING:
    from xtalk.core.verdict import Verdict

SCHEMA = "xtalk.verdict/1"


def thaw(value: Any) -> Any:
    """Frozen data back to plain JSON-like data."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def finding_json(finding: Finding, number: int) -> dict[str, Any]:
    data = _finding_json(finding, number)
    if finding.witness_at:  # a merged multi-shard history: where each witness line lives
        data["witness_at"] = [list(at) if at is not None else None for at in finding.witness_at]
        at = dict(zip(finding.witness, finding.witness_at))
        for frame in data["frames"]:
            place = at.get(frame["line"])
            frame["at"] = list(place) if place is not None else None
    return data


def _finding_json(finding: Finding, number: int) -> dict[str, Any]:
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


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    counts = verdict.counts
    numbers: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    for finding in verdict.findings:
        numbers[finding.kind.value] += 1
        findings.append(finding_json(finding, numbers[finding.kind.value]))
    details = thaw(verdict.details)
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "verdict": verdict.decision.value,
        "anomalies": {kind: counts.anomalies.get(kind, 0) for kind in ANOMALY_KINDS},
        "anomaly_limits": {kind: counts.limits.get(kind, 0) for kind in ANOMALY_KINDS},
        "requests": {
            "sent": counts.sent,
            "completed": counts.completed,
            "failed": counts.failed,
            "unknown": counts.unknown,
            "dropped": counts.dropped,
        },
        "users": details.pop("users", 0),
        "events": details.pop("events", 0),
        "thresholds": [
            {"name": t.name, "limit": t.limit, "observed": t.observed, "ok": t.ok} for t in verdict.thresholds
        ],
        "findings": findings,
        "reasons": list(verdict.reasons),
        "inconclusive": (
            {"reason": verdict.inconclusive.reason, "advice": verdict.inconclusive.advice}
            if verdict.inconclusive is not None
            else None
        ),
    }
    data.update(details)
    return data
