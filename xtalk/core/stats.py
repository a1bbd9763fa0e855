"""What the run did, apart from its findings: requests and their outcomes, per engine path;
latencies; which users overlapped; client errors and broken assumptions; the scripted answers
kept for engine comparisons. Every table here is bounded (histograms, a sampled series, capped
lists, the script book's limit), whatever the history's length.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.coverage import Histogram, Overlap, Sampler
from xtalk.core.divergence import ScriptBook
from xtalk.core.explain import describe_send
from xtalk.core.lifecycle import Lifecycle
from xtalk.core.profile import EventKind
from xtalk.core.requests import Outcome, Request

_LATENCY_PHASES = (
    ("agent_started", EventKind.STARTED),
    ("agent_thinking", EventKind.THINKING),
    ("agent_completed", EventKind.COMPLETED),
)


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What an engine-divergence finding needs of a request, long after the request is forgotten."""

    req: str
    user: str
    conn: str
    t: float
    line: int
    verb: str
    final_t: float | None


@dataclass(slots=True)
class EngineTally:
    requests: int = 0
    completed: int = 0
    failed: int = 0
    unknown: int = 0


class RunStats:
    def __init__(self, unknowns_cap: int, script_limit: int) -> None:
        self.unknowns_cap = unknowns_cap
        self.sent = 0
        self.completed = 0
        self.failed = 0
        self.unknown = 0
        self.dropped = 0
        self.events = 0
        self.max_in_flight = 0
        self.engines: dict[str, EngineTally] = {}
        self.unknowns: list[dict[str, str]] = []
        self.broken_reasons: list[str] = []
        self.broken_count = 0
        self.client_errors: Counter[str] = Counter()
        self.overlap = Overlap()
        self.latency: dict[str, Histogram] = {}
        self.engine_latency: dict[str, Histogram] = {}
        self.series = Sampler()
        self.scripts: ScriptBook[SentRequest] = ScriptBook(script_limit)

    def broken(self, reason: str) -> None:
        self.broken_count += 1
        if len(self.broken_reasons) < 20:
            self.broken_reasons.append(reason)

    def sent_request(self, request: Request, in_flight: int) -> None:
        self.sent += 1
        self.max_in_flight = max(self.max_in_flight, in_flight)
        self.overlap.start(request.user)

    def ended(self, request: Request, outcome: Outcome, dropped: bool, reason: str | None) -> None:
        self.overlap.stop(request.user)
        tally = self.engines.setdefault(request.engine, EngineTally())
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
            if len(self.unknowns) < self.unknowns_cap:
                self.unknowns.append({"req": request.req, "user": request.user, "reason": reason or "unknown"})

    def answered(self, request: Request, t: float) -> None:
        """Latencies of a request answered successfully, and its sequence for engine comparisons."""
        life = request.life
        if not isinstance(life, Lifecycle):
            return
        for phase, kind in _LATENCY_PHASES:
            seen = life.first_seen.get(kind) if kind is not EventKind.COMPLETED else t
            if seen is None:
                continue
            seconds = max(0.0, seen - request.t)
            histogram = self.latency.get(phase)
            if histogram is None:
                histogram = self.latency[phase] = Histogram()
            histogram.add(seconds)
            if self.series.take():
                self.series.keep((round(request.t, 3), phase, round(seconds, 6)))
            if phase == "agent_completed":
                histogram = self.engine_latency.get(request.engine)
                if histogram is None:
                    histogram = self.engine_latency[request.engine] = Histogram()
                histogram.add(seconds)
        if self.scripts.accepts(request.key):
            self.scripts.remember(
                request.key,
                request.engine,
                tuple(life.sequence),
                SentRequest(request.req, request.user, request.conn, request.t, request.line, request.verb, t),
            )


def divergence_findings(scripts: ScriptBook[SentRequest]) -> list[tuple[Finding, str]]:
    """``engine_divergence`` findings (decided by ``ScriptBook.divergences``), each with the engine
    path it is counted under (the second path's)."""
    out: list[tuple[Finding, str]] = []
    for found in scripts.divergences():
        req_a, req_b = found.a.request, found.b.request
        label_a, line_a = found.at(found.a)
        label_b, line_b = found.at(found.b)
        finding = Finding(
            AnomalyKind.ENGINE_DIVERGENCE,
            tuple(sorted({req_a.line, req_b.line, line_a or req_a.line, line_b or req_b.line})),
            Explanation(
                (
                    ("A", describe_send(req_a.verb, req_a.user, req_a.conn, req_a.t, req_a.line)
                     + f" on engine path {found.engine_a}"),
                    ("B", describe_send(req_b.verb, req_b.user, req_b.conn, req_b.t, req_b.line)
                     + f" on engine path {found.engine_b}"),
                ),
                "A and B are the same scripted request, and each path answers it the same way every time,\n"
                f"but the event sequences differ at event {found.index + 1}: {found.engine_a} sent {label_a} "
                f"(line {line_a}), {found.engine_b} sent {label_b} (line {line_b}).",
            ),
            max(req_a.final_t or 0.0, req_b.final_t or 0.0),
            user=req_b.user,  # type: ignore[arg-type]
            owner=req_a.user,  # type: ignore[arg-type]
            req=req_b.req,  # type: ignore[arg-type]
            engine=f"{found.engine_a} vs {found.engine_b}",
        )
        out.append((finding, found.engine_b))
    return out
