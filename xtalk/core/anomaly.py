"""Anomaly kinds and findings: the checker's returned values, never exceptions.

Every kind of SPEC.md is a member of ``AnomalyKind``, in the SPEC's order, which is also the
order of precedence when one event could fit several kinds ("one finding, one kind"):
``cross_user_event`` before ``cross_user_content`` before the rest, and ``event_after_completion``
before ``out_of_order``.

A ``Finding`` carries its minimal witness (history line numbers) and an ``Explanation`` as data:
the facts (Let ...), why they contradict isolation (Then ...), and likely causes. ``explain``
renders it to text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from xtalk.core.ids import ConnId, ReqId, RunId, UserName


class AnomalyKind(str, Enum):
    CROSS_USER_EVENT = "cross_user_event"
    CROSS_USER_CONTENT = "cross_user_content"
    IDENTITY_MISMATCH = "identity_mismatch"
    PHANTOM_EVENT = "phantom_event"
    DROPPED_RESPONSE = "dropped_response"
    INCOMPLETE_RUN = "incomplete_run"
    DUPLICATE_EVENT = "duplicate_event"
    EVENT_AFTER_COMPLETION = "event_after_completion"
    OUT_OF_ORDER = "out_of_order"
    MIXED_ENGINE_RUN = "mixed_engine_run"
    ENGINE_DIVERGENCE = "engine_divergence"
    PROTOCOL_ERROR = "protocol_error"
    CONNECTION_LOST = "connection_lost"
    # xtalk's addition to SPEC's kinds (README "Contracts"): an active probe answered otherwise
    # than isolation requires (an expired token or a connection over the limit accepted).
    PROBE_VIOLATION = "probe_violation"


ANOMALY_KINDS: tuple[str, ...] = tuple(kind.value for kind in AnomalyKind)

#: Where each kind is decided: the one function (``module.qualified_name`` under ``xtalk.core``)
#: whose code says whether an event, a request or a connection shows that kind. Everything else
#: only counts, keeps and renders what these return. A test resolves every entry.
DECIDED_BY: dict[AnomalyKind, str] = {
    AnomalyKind.CROSS_USER_EVENT: "attribution.attribute",
    AnomalyKind.CROSS_USER_CONTENT: "attribution.attribute",
    AnomalyKind.IDENTITY_MISMATCH: "identity.Identities.judge",
    AnomalyKind.PHANTOM_EVENT: "attribution.attribute",
    AnomalyKind.DROPPED_RESPONSE: "outcomes.expire",
    AnomalyKind.INCOMPLETE_RUN: "lifecycle.Lifecycle.missing",
    AnomalyKind.DUPLICATE_EVENT: "duplicates.Seen.repeat",
    AnomalyKind.EVENT_AFTER_COMPLETION: "lifecycle.Lifecycle.observe",
    AnomalyKind.OUT_OF_ORDER: "lifecycle.Lifecycle.observe",
    AnomalyKind.MIXED_ENGINE_RUN: "lifecycle.Lifecycle.observe",
    AnomalyKind.ENGINE_DIVERGENCE: "divergence.ScriptBook.divergences",
    AnomalyKind.PROTOCOL_ERROR: "frames.classify",
    AnomalyKind.CONNECTION_LOST: "outcomes.on_close",
    AnomalyKind.PROBE_VIOLATION: "frames.classify",
}

#: What most often causes each kind on a Netra-like backend; shown under "Likely causes".
LIKELY_CAUSES: dict[AnomalyKind, tuple[str, ...]] = {
    AnomalyKind.CROSS_USER_EVENT: (
        "an agent factory or WebSocket bridge shared between requests and reconfigured per request",
        "routing by a stale connection slot or a global router whose first handler serves everyone",
        "a bridge falling back to the user it was created for",
    ),
    AnomalyKind.CROSS_USER_CONTENT: (
        "a cache or prompt buffer shared between users (last prompt, conversation memory)",
        "an LLM context or tool result reused across requests",
    ),
    AnomalyKind.IDENTITY_MISMATCH: (
        "demo mode on: every connection becomes one demo user whatever the token",
        "relaxed authentication hashing tokens into a small id space",
        "a session re-pointed at another user's manager",
    ),
    AnomalyKind.PHANTOM_EVENT: (
        "an emitter reused across runs stamping events with old run ids",
        "events of a run the harness never asked for (another client, a retry of an old run)",
    ),
    AnomalyKind.DROPPED_RESPONSE: (
        "events routed by a thread id taken as a user id, and silently dropped",
        "a global run-to-thread map overwritten by another request (last writer wins)",
        "the run died without an agent_error",
    ),
    AnomalyKind.INCOMPLETE_RUN: (
        "an emitter that swallows send failures for some event types",
        "a tool path that skips its completion event on error",
    ),
    AnomalyKind.DUPLICATE_EVENT: (
        "a send that returns None read as a failure and retried (1 s, then 2 s)",
        "two emitters both delivering the same event",
    ),
    AnomalyKind.EVENT_AFTER_COMPLETION: (
        "an emitter reused across runs, still sending for a finished run",
        "late retries arriving after the final event",
    ),
    AnomalyKind.OUT_OF_ORDER: (
        "events of one run sent from concurrent tasks without ordering",
        "retries re-sending an earlier event after later ones",
    ),
    AnomalyKind.MIXED_ENGINE_RUN: (
        "two execution engines or emitters serving parts of one request",
        "a manager pushed into every session mid-run",
    ),
    AnomalyKind.ENGINE_DIVERGENCE: (
        "engine paths that run different agent pipelines for the same request",
        "an engine path that skips or reorders events",
    ),
    AnomalyKind.PROTOCOL_ERROR: (
        "the server sent a frame that is not JSON, is truncated, or lacks a type",
        "the server answered with an error frame",
    ),
    AnomalyKind.CONNECTION_LOST: (
        "the server closed the connection (1011 internal error, a crash, a restart) mid-request",
    ),
    AnomalyKind.PROBE_VIOLATION: (
        "token expiry not checked on the WebSocket (only at login)",
        "the per-user connection limit not enforced",
    ),
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """Facts, then the contradiction. ``let`` pairs a name (``R``, ``E``) with what it stands for."""

    let: tuple[tuple[str, str], ...]
    then: str


@dataclass(frozen=True, slots=True)
class Finding:
    kind: AnomalyKind
    witness: tuple[int, ...]  # history line numbers, smallest set that proves the finding
    explanation: Explanation
    t: float
    user: UserName | None = None  # who received it (or whose request it is)
    owner: UserName | None = None  # whose request it belongs to
    run_id: RunId | None = None
    conn: ConnId | None = None
    req: ReqId | None = None
    engine: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    evidence: tuple[tuple[int, Any], ...] = ()  # (history line, the frame sent or received)
    # Where each witness line lives when the history is several shards merged by time (the
    # shard file and its line), in the order of ``witness``; () for a single file.
    witness_at: tuple[tuple[str, int] | None, ...] = ()
