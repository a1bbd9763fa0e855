"""Request outcomes: how each request ends, and how long it is remembered after.

A request ends once (``_settle``): ``ok`` when its run's final event arrives and it did not fail;
``failed`` on ``agent_error``/``agent_death``, on a close by the server (``connection_lost``), or
when its deadline passed with no final event while its connection stayed open
(``dropped_response``, unless a leak already explains the silence); ``unknown`` when the harness
closed the connection, or the run ended before its deadline, or the request was a probe the
server ignored. Unknown is never counted as dropped.

What is kept after the end (``_retire``, called once per second of history time):

- for ``retention`` seconds, everything: late duplicates are retries seconds apart, and a late
  half of a tool call must count as late, not missing (``incomplete_run`` is judged when the
  retention ends, ``_judge_gaps``);
- then, until ``tomb_retention``, only what ties its runs and marker to it (``stripped``): its
  dedup keys, request frame and event labels go; a late event of its runs is still
  ``event_after_completion``, and a marker of it still a content leak;
- then nothing (``_forget``): an event of its runs is a phantom; it came far too late.

So memory is bounded by the requests finished within ``tomb_retention`` (by default 2 deadlines
plus the drain window), whatever the history's length. The latency histograms, the sampled
series and the script book (``xtalk.core.divergence``: one ``SentRequest`` and one label
sequence per script and engine path, at most ``script_limit`` scripts) are bounded too.
"""

from __future__ import annotations

from xtalk.core.anomaly import AnomalyKind, Explanation
from xtalk.core.coverage import Histogram
from xtalk.core.explain import describe_send
from xtalk.core.lifecycle import Lifecycle, SettledLife
from xtalk.core.profile import EventKind
from xtalk.core.state import CheckerState, Request, SentRequest
from xtalk.core.verdict import Outcome

_LATENCY_PHASES = (
    ("agent_started", EventKind.STARTED),
    ("agent_thinking", EventKind.THINKING),
    ("agent_completed", EventKind.COMPLETED),
)


class Outcomes(CheckerState):
    def _finish_request(self, request: Request, t: float) -> None:
        life = request.life
        assert isinstance(life, Lifecycle)  # a request is stripped only after it finished
        if life.failed:
            self._settle(request, Outcome.FAILED, t)
            return
        self._settle(request, Outcome.OK, t)
        for phase, kind in _LATENCY_PHASES:
            seen = life.first_seen.get(kind) if kind is not EventKind.COMPLETED else t
            if seen is None:
                continue
            seconds = max(0.0, seen - request.t)
            histogram = self.latency.get(phase)
            if histogram is None:
                histogram = self.latency[phase] = Histogram()
            histogram.add(seconds)
            self.series.add((round(request.t, 3), phase, round(seconds, 6)))
            if phase == "agent_completed":
                histogram = self.engine_latency.get(request.engine)
                if histogram is None:
                    histogram = self.engine_latency[request.engine] = Histogram()
                histogram.add(seconds)
        key = request.key
        if self.scripts.accepts(key):
            self.scripts.remember(
                key,
                request.engine,
                tuple(life.sequence),
                SentRequest(request.req, request.user, request.conn, request.t, request.line, request.verb, t),
            )

    def _judge_gaps(self, request: Request) -> None:
        """A finished run's missing events, judged once late events had their chance to arrive
        (a late one is event_after_completion only, not also a gap)."""
        life = request.life
        gap = life.missing()
        if gap is None or request.leaked or request.gaps_judged:
            return
        request.gaps_judged = True
        what, witness = gap
        self._found(
            AnomalyKind.INCOMPLETE_RUN,
            (request.line,) + witness,
            request.final_t or request.t,
            Explanation(
                (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
                f"R's run finished (history line {life.final_line}) without {what}.",
            ),
            user=request.user,
            owner=request.user,
            conn=request.conn,
            req=request.req,
            engine=request.engine,
            run=request.runs[0] if request.runs else None,
        )

    def _drop(self, request: Request, t: float) -> None:
        if request.probe is not None:
            self._settle(request, Outcome.UNKNOWN, t, reason=f"the server ignored the {request.probe} probe")
            return
        if not request.leaked:
            self._found(
                AnomalyKind.DROPPED_RESPONSE,
                (request.line,),
                request.deadline_at,
                Explanation(
                    (("R", describe_send(request.verb, request.user, request.conn, request.t, request.line)),),
                    f"R had no final event by its deadline ({self.config.deadline:g} s, at "
                    f"{request.deadline_at:.3f} s) nor by the end of the drain,\n"
                    f"while {request.conn} stayed open.",
                ),
                user=request.user,
                owner=request.user,
                conn=request.conn,
                req=request.req,
                engine=request.engine,
                run=request.runs[0] if request.runs else None,
            )
        self._settle(request, Outcome.FAILED, t, dropped=not request.leaked)

    def _settle(
        self, request: Request, outcome: Outcome, t: float, reason: str | None = None, dropped: bool = False
    ) -> None:
        if request.outcome is not None:
            return
        request.outcome = outcome
        request.final_t = t
        conn = self.conns.get(request.conn)
        if conn is not None and request in conn.requests:
            conn.requests.remove(request)
        self.in_flight -= 1
        self.overlap.stop(request.user)
        self.tally.outcome(request.engine, outcome, dropped, request.req, request.user, reason)
        self.finished.append(request)

    def _retire(self, now: float) -> None:
        """Strip the requests finished ``retention`` ago, forget those finished ``tomb_retention`` ago."""
        # Finished requests keep their full state a little while (late duplicates are retries
        # seconds apart), then only what ties their runs to them, then nothing.
        while self.finished and (self.finished[0].final_t or 0.0) < now - self.config.retention:
            old = self.finished.popleft()
            self._judge_gaps(old)
            old.seen = {}
            old.frame = None
            old.key = None
            if isinstance(old.life, Lifecycle):
                if old.life.final_line is not None:  # its run is over: keep the final line only
                    old.life = SettledLife(old.life.final_line, old.life.failed)
                else:  # settled without a final event (dropped, lost, unknown): events may still come
                    old.life.sequence = []
            self.stripped.append(old)
        horizon = now - self.config.tomb_retention
        while self.stripped and (self.stripped[0].final_t or 0.0) < horizon:
            self._forget(self.stripped.popleft())

    def _forget(self, request: Request) -> None:
        """After this, an event of the request's runs is a phantom: it came far too late."""
        self.requests.pop(request.req, None)
        for run in request.runs:
            self.run_owner.pop(run, None)
        if request.marker is not None:
            self.markers.discard(request.marker)
        conn = self.conns.get(request.conn)
        if conn is not None and conn.last is request:
            conn.last = None

    def _divergence(self) -> None:
        for found in self.scripts.divergences():
            req_a, req_b = found.a.request, found.b.request
            label_a, line_a = found.at(found.a)
            label_b, line_b = found.at(found.b)
            self._found(
                AnomalyKind.ENGINE_DIVERGENCE,
                (req_a.line, req_b.line, line_a or req_a.line, line_b or req_b.line),
                max(req_a.final_t or 0.0, req_b.final_t or 0.0),
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
                user=req_b.user,
                owner=req_a.user,
                req=req_b.req,
                engine=f"{found.engine_a} vs {found.engine_b}",
            )
