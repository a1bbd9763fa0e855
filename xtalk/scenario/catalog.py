"""The names a scenario may use that other modules own: anomaly kinds, faults, phases.

Anomaly kinds come from the checker core (``xtalk.core.anomaly``). Fault names come from ``xtalk.backend.faults.FAULTS`` when it
can be imported; ``None`` means "unknown here", and the fault check is skipped rather than
refusing names this module cannot see. Imports are lazy: loading a scenario never imports the
backend's web stack unless it validates faults.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from xtalk.core.anomaly import ANOMALY_KINDS

#: Latency phases a threshold may name (time from the send to that event).
PHASES: tuple[str, ...] = ("agent_started", "agent_thinking", "agent_completed")
PERCENTILES: dict[str, int] = {"p50": 50, "p95": 95, "p99": 99}

def anomaly_kinds() -> tuple[str, ...]:
    """Every anomaly kind a threshold may name: the checker core's list (SPEC's thirteen, then
    xtalk's additions). The core is pure and cheap to import."""
    return ANOMALY_KINDS


def fault_names() -> tuple[str, ...] | None:
    """The reference backend's fault names, or ``None`` if its fault table is not importable."""
    try:
        module = importlib.import_module("xtalk.backend.faults")
        faults = getattr(module, "FAULTS")
    except (ImportError, AttributeError):
        return None
    except Exception:  # a half-written module must not break loading a scenario
        return None
    if isinstance(faults, Mapping):
        return tuple(str(k) for k in faults)
    if isinstance(faults, Iterable) and not isinstance(faults, (str, bytes)):
        return tuple(str(getattr(f, "name", f)) for f in faults)
    return None


def fault_default_rate(name: str) -> float:
    """The rate a fault runs at when named without one (1.0 if the fault table cannot say)."""
    try:
        module = importlib.import_module("xtalk.backend.faults")
        info = getattr(module, "FAULTS")[name]
        return float(getattr(info, "default_rate", 1.0))
    except Exception:  # missing module, unknown name, another table shape: the plain default
        return 1.0
