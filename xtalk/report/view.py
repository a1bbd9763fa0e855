"""A defensive, read-only view of a verdict dict: the one place that knows its shape.

``verdict.json`` is defined by SPEC.md plus the additions in docs/ARCHITECTURE.md. A renderer asks
this view for a value and always gets one of the expected type: a missing key, a ``null`` or a value
of the wrong type reads as "absent" (``None``, ``0`` only where SPEC says a count, an empty list or
dict). Nothing here raises for the verdict's content, so a half-written verdict of a run that died
still renders.

The anomaly kinds are the checker core's, in SPEC order then xtalk's additions, so that the report
and the JUnit file show every kind even when an older verdict lacks some.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xtalk.core.anomaly import ANOMALY_KINDS as CORE_KINDS

# Every kind the checker knows (SPEC's thirteen, then xtalk's additions), in precedence order.
ANOMALY_KINDS: tuple[str, ...] = CORE_KINDS

#: The phases the harness measures, in the order a request goes through them.
PHASES: tuple[str, ...] = ("agent_started", "agent_thinking", "agent_completed")

VERDICTS: tuple[str, ...] = ("pass", "fail", "inconclusive")


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def as_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def dig(data: object, *path: str) -> object:
    """``data[p0][p1]...`` or ``None`` when any step is missing or not a dict."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str
    limit: object
    observed: object
    ok: bool | None  # None: the verdict did not say


def verdict_word(verdict: dict[str, Any]) -> str:
    """``pass``, ``fail``, ``inconclusive`` or ``unknown`` (a verdict without a valid word)."""
    word = verdict.get("verdict")
    return word if isinstance(word, str) and word in VERDICTS else "unknown"


def anomaly_counts(verdict: dict[str, Any]) -> dict[str, int | None]:
    """Every SPEC kind (``None`` where the verdict lacks it), then any extra kinds, in order."""
    raw = as_dict(verdict.get("anomalies"))
    counts: dict[str, int | None] = {kind: as_int(raw.get(kind)) for kind in ANOMALY_KINDS}
    for kind, value in raw.items():
        if isinstance(kind, str) and kind not in counts:
            counts[kind] = as_int(value)
    return counts


def anomaly_total(verdict: dict[str, Any]) -> int:
    return sum(count for count in anomaly_counts(verdict).values() if count)


def thresholds(verdict: dict[str, Any]) -> list[Threshold]:
    out = []
    for item in as_list(verdict.get("thresholds")):
        item = as_dict(item)
        name = as_str(item.get("name"))
        if name is None:
            continue
        ok = item.get("ok")
        out.append(Threshold(name, item.get("limit"), item.get("observed"), ok if isinstance(ok, bool) else None))
    return out


def anomaly_limit(verdict: dict[str, Any], kind: str) -> int:
    """The allowed count of ``kind``: a threshold named after it (``kind``, ``anomalies.kind``,
    ``anomaly:kind`` ...) if the verdict has one, else 0 (SPEC's default)."""
    given = as_int(as_dict(verdict.get("anomaly_limits")).get(kind))
    if given is not None:
        return given
    for threshold in thresholds(verdict):
        name = threshold.name
        if name == kind or (name.endswith(kind) and name[-len(kind) - 1] in ".:/ "):
            limit = as_int(threshold.limit)
            if limit is not None:
                return limit
    return 0


def requests(verdict: dict[str, Any]) -> dict[str, int | None]:
    raw = as_dict(verdict.get("requests"))
    return {key: as_int(raw.get(key)) for key in ("sent", "completed", "failed", "dropped", "unknown")}


def completion_ratio(verdict: dict[str, Any]) -> float | None:
    """completed / (sent - unknown): unknowns are neither success nor failure. The checker's own
    figure when the verdict has one."""
    given = as_float(dig(verdict, "coverage", "completion_ratio"))
    if given is not None:
        return given
    counts = requests(verdict)
    sent, completed, unknown = counts["sent"], counts["completed"], counts["unknown"] or 0
    if sent is None or completed is None or sent - unknown <= 0:
        return None
    return completed / (sent - unknown)


def phase_stats(verdict: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """``{phase: {"n", "mean", "p50", "p95", "p99", "max"}}``, known phases first."""
    raw = as_dict(dig(verdict, "latency", "phases"))
    names = [p for p in PHASES if p in raw] + sorted(k for k in raw if isinstance(k, str) and k not in PHASES)
    return {
        name: {key: as_float(as_dict(raw[name]).get(key)) for key in ("n", "mean", "p50", "p95", "p99", "max")}
        for name in names
    }


def findings(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in as_list(verdict.get("findings")) if isinstance(f, dict)]


def inconclusive(verdict: dict[str, Any]) -> tuple[str | None, str | None]:
    raw = as_dict(verdict.get("inconclusive"))
    return as_str(raw.get("reason")), as_str(raw.get("advice"))


def reasons(verdict: dict[str, Any]) -> list[str]:
    return [r for r in (as_str(x) for x in as_list(verdict.get("reasons"))) if r]


def run_info(verdict: dict[str, Any]) -> dict[str, Any]:
    return as_dict(verdict.get("run"))


def scenario_name(verdict: dict[str, Any]) -> str | None:
    return as_str(run_info(verdict).get("scenario"))


def fmt_num(value: object) -> str:
    """A count with thousands separators, ``—`` when absent."""
    number = as_int(value) if not isinstance(value, float) or value.is_integer() else None
    if number is not None:
        return f"{number:,}"
    real = as_float(value)
    return "—" if real is None else f"{real:,.3g}"


def fmt_seconds(value: object) -> str:
    seconds = as_float(value)
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"
