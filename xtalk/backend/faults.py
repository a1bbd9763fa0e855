"""The named faults of the reference backend, their rates and seeds, and their ground truth.

``FAULTS`` is the table: for each fault, what it does, which anomaly kinds (SPEC's, and xtalk's
``probe_violation``) a correct checker must report for it (``expected_kinds``, every one; ``any_of``, at least one), which further kinds
may follow from it as a consequence (``incidental_kinds``: a misrouted run also leaves its owner
without an answer), and the rate it runs at when named without one. ``xtalk selftest`` reads the
table; so do the tests.

``FaultPlan`` is the live side: one seeded ``random.Random`` per fault (so adding a fault never
changes another's draws), ``fires(name)`` for a Bernoulli draw at the fault's rate, and
``record(...)`` for a line of ground truth: ``{"fault","run_id","owner","victim","t","detail"}``,
owner and victim being server user ids. Races write ground truth only when the mechanism actually
misdelivered (owner != victim), so the file lists the leaks a client could see, not the chances.
``t`` is seconds on the harness clock (``time.monotonic() - XTALK_CLOCK_ZERO``) when the runner
set one, else seconds since the backend started.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import IO, Any

import orjson

from xtalk.backend.config import CLOCK_ZERO_ENV, BackendConfig


@dataclass(frozen=True, slots=True)
class FaultInfo:
    description: str
    expected_kinds: tuple[str, ...]
    incidental_kinds: tuple[str, ...] = ()
    default_rate: float = 1.0
    mechanism: str = "plain"  # "race": shows only when users overlap; "identity"; "plain"
    # At least one of these must be reported too: for a fault two SPEC readings fit equally well.
    any_of: tuple[str, ...] = ()


# Kinds that follow whenever a run's events go somewhere else: its owner misses them.
_MISROUTE = ("dropped_response", "incomplete_run", "out_of_order", "event_after_completion",
             "phantom_event", "duplicate_event", "cross_user_content")

FAULTS: dict[str, FaultInfo] = {
    # NETRA_PROTOCOL §5 mechanisms
    "demo_mode": FaultInfo(
        "demo mode: a connection becomes demo-user-001 whatever its token; the manager routes by "
        "that id, so every demo connection gets every demo user's events",
        ("identity_mismatch", "cross_user_event"), _MISROUTE, 1.0, "identity"),
    "relaxed_identity": FaultInfo(
        "relaxed mode: the user id becomes relaxed_<hash(token) % modulus>; ids that collide "
        "collapse two users into one, routed together",
        ("identity_mismatch",), ("cross_user_event",) + _MISROUTE, 1.0, "identity"),
    # The first user receives B's run under the first user's own ids: only B's content marker
    # ties the run to B. Read by SPEC's precedence that is cross_user_content; a checker that
    # binds the run to B's request through the marker reports cross_user_event. Both are right.
    "global_router": FaultInfo(
        "a global message router keeps each connection's handler forever and the first one "
        "registered serves every request: later users' runs go to the first user, as that user",
        (), _MISROUTE + ("cross_user_event",), 1.0, "race",
        any_of=("cross_user_event", "cross_user_content")),
    "shared_factory": FaultInfo(
        "one agent factory reconfigured per request with the caller's bridge and user, read after "
        "an await: A's run events reach B stamped with B's user id and A's run id",
        ("cross_user_event",), _MISROUTE, 1.0, "race"),
    "bridge_fallback": FaultInfo(
        "bridges are pooled; an emit without context falls back to the user the bridge was "
        "created for, so a reused bridge sends B's run events to A, stamped as A's",
        ("cross_user_event",), _MISROUTE, 0.5, "race"),
    "stale_emitter": FaultInfo(
        "emitters are pooled across runs and keep the run and thread ids of their first run: "
        "B's events arrive stamped with an earlier run's ids (usually another user's)",
        ("cross_user_event",), _MISROUTE, 0.3, "race"),
    "last_writer_map": FaultInfo(
        "a global run->thread map where the last writer wins: A's run events are routed to the "
        "connection of the thread written last (B's), still stamped as A's",
        ("cross_user_event",), _MISROUTE, 1.0, "race"),
    "thread_as_user": FaultInfo(
        "events routed by thread id taken as a user id: nobody has that id, so the run's "
        "events are silently dropped",
        ("dropped_response",), ("incomplete_run",), 0.1, "plain"),
    "retry_duplicates": FaultInfo(
        "send returns None, read as failure and retried (after 1 s, then 2 s): the event is "
        "delivered three times, seconds apart",
        ("duplicate_event",), ("event_after_completion", "out_of_order"), 0.05, "plain"),
    "manager_push": FaultInfo(
        "each request pushes the caller's manager into every live session; a session's runs "
        "then emit through another user's manager, to that user, stamped as that user",
        ("cross_user_event",), _MISROUTE, 1.0, "race"),
    # The probe asks for it: a prober's request whose payload names another user (spoofed
    # user_id) or another user's thread reaches that user stamped as that user, under the
    # prober's run. Nothing else in a run sends such payloads, so it acts only on probes.
    "trust_client_ids": FaultInfo(
        "one engine path takes user_id and thread_id from the client's payload over the token's: "
        "a request naming another user's id is run as that user and routed to that user",
        ("cross_user_event",), _MISROUTE, 1.0, "identity"),
    # An expired or wrongly signed token gets a welcome: the expired-token probe's connection
    # (expect: refusal) is served. Ordinary load presents only good tokens: acts only on probes.
    "accept_bad_tokens": FaultInfo(
        "the WebSocket does not check a token's signature or expiry: an expired or forged token "
        "is served as the user it names",
        ("probe_violation",), (), 1.0, "identity"),
    # plain faults
    "drop_run": FaultInfo(
        "a run stops after its supervisor started", ("dropped_response",), ("incomplete_run",), 0.1),
    "reorder_tools": FaultInfo(
        "tool_completed is sent before its tool_executing", ("out_of_order",), ("incomplete_run",), 0.1),
    "event_after_completion": FaultInfo(
        "one more event of the run after its final agent_completed",
        ("event_after_completion",), ("out_of_order", "phantom_event"), 0.1),
    "mixed_emitters": FaultInfo(
        "one event of a run is sent through another emitter family than the rest",
        ("mixed_engine_run",), (), 0.1),
    "content_bleed": FaultInfo(
        "a global 'last prompt' cache, read after an await, puts another user's request text "
        "into a run's tool results and answer, under the right ids",
        ("cross_user_content",), (), 1.0, "race"),
    # The other user's request is still pending when it is quoted, and its own run answers it:
    # nothing but the content crosses users, so nothing but cross_user_content may be reported
    # (no phantom for the quoted user's own run, no request left unknown: see proof.CASES).
    "content_bleed_inflight": FaultInfo(
        "a shared prompt buffer holds every request in flight; a run writes its thinking and "
        "answer from it, quoting another user's pending request (its text and marker) under the "
        "run's own ids, while its tool call still echoes its own text",
        ("cross_user_content",), (), 0.3, "race"),
    "garbage_frames": FaultInfo(
        "a frame that is not an event: non-JSON text, truncated JSON, binary, or oversized",
        ("protocol_error",), (), 0.1),
    "abrupt_close": FaultInfo(
        "the server closes the connection with 1011 in the middle of a run",
        ("connection_lost",), ("dropped_response",), 0.05),
    "login_401": FaultInfo(
        "login answers 401 to valid credentials", (), (), 0.2),
    "login_500": FaultInfo(
        "login answers 500", (), (), 0.2),
    "slow_handshake": FaultInfo(
        "the WebSocket handshake waits before accepting (2 s by default)", (), (), 0.2),
    "refuse_1008": FaultInfo(
        "an authenticated connection is refused after accept: AUTH_FAILED frame, close 1008 "
        "(a refused credential: a client error, never an isolation anomaly)",
        (), (), 0.1),
}


class FaultPlan:
    """Seeded draws and ground-truth output for the faults of one backend process."""

    def __init__(self, config: BackendConfig) -> None:
        self.rates: dict[str, float] = {}
        for name, rate in config.faults:
            self.rates[name] = rate
        self._rngs = {name: random.Random(f"{config.seed}:{name}") for name in self.rates}
        zero = os.environ.get(CLOCK_ZERO_ENV)
        self._zero = float(zero) if zero else time.monotonic()
        self._out: IO[bytes] | None = open(config.ground_truth, "ab") if config.ground_truth else None
        self.acts: list[dict[str, Any]] = []  # kept in memory too, for tests (capped)

    def on(self, name: str) -> bool:
        return self.rates.get(name, 0.0) > 0.0

    def fires(self, name: str) -> bool:
        rate = self.rates.get(name, 0.0)
        if rate <= 0.0:
            return False
        return rate >= 1.0 or self._rngs[name].random() < rate

    def rng(self, name: str) -> random.Random:
        return self._rngs[name]

    def record(self, fault: str, run_id: str | None, owner: str | None, victim: str | None,
               **detail: Any) -> None:
        act = {
            "fault": fault,
            "run_id": run_id,
            "owner": owner,
            "victim": victim,
            "t": round(time.monotonic() - self._zero, 6),
            "detail": detail,
        }
        if len(self.acts) < 100_000:
            self.acts.append(act)
        if self._out is not None:
            self._out.write(orjson.dumps(act) + b"\n")

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
