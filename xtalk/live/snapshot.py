"""The worker side of live checking: records in, a compact snapshot out.

A ``LiveChecker`` is the recorder's ``on_record`` hook. It parses each record as written
(``xtalk.core.records.parse_record``) and feeds it to its own ``Checker``; every couple of
seconds the plugin asks it for a ``snapshot()``: a small dict of plain values that travels to
the master in a Locust message (msgpack), so it holds only str, int, float, bool, lists and dicts.

Invariants:

- ``on_record`` never raises. An exception from the checker is counted and its first message
  kept for the snapshot; after ``MAX_ERRORS`` the checker is switched off (its state can no
  longer be trusted) and the snapshot says so. The load and the history go on regardless: the
  final verdict comes from the history, offline.
- The snapshot reads only the checker's public state (``progress()`` and ``kept()``); it never
  calls ``finish()``, which would end the checker.
- Its cost is measured: ``cost`` estimates the seconds spent inside ``on_record`` (parse and
  feed; one record in ``TIMED_EVERY`` is timed), so the live checker's share of a worker's CPU is
  visible in every snapshot.
- Findings kept by the checker are reported once each, newest last, at most ``latest`` of them;
  counts stay exact (the checker counts beyond its cap of kept findings).
- With ``on_finding``, every finding is handed to it as the checker makes it (``CheckConfig(
  notify=True)`` and ``Checker.drain_findings``): the plugin reports it to Locust as a failure of
  its request's phase, so Locust's own failure columns show isolation too. The verdict, offline
  over every shard, stays the authority.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from xtalk.core.anomaly import Finding
from xtalk.core.checker import Checker
from xtalk.core.explain import render
from xtalk.core.verdict import CheckConfig

MAX_ERRORS = 100
EXPLANATION_CHARS = 2000
TIMED_EVERY = 16  # a power of two
LIVE_FINDINGS_CAP = 20  # findings kept in full per kind in a worker (the offline check keeps its own)


def finding_summary(finding: Finding, worker: str | None) -> dict[str, Any]:
    """What the live view shows of one finding: who, whose, when, and the explanation text."""
    text = render(finding)
    if len(text) > EXPLANATION_CHARS:
        text = text[:EXPLANATION_CHARS] + " ..."
    return {
        "kind": finding.kind.value,
        "user": finding.user,
        "owner": finding.owner,
        "run_id": finding.run_id,
        "t": round(float(finding.t), 3),
        "worker": worker,
        "witness": [int(x) for x in finding.witness[:8]],  # line numbers in this worker's shard
        "explanation": text,
    }


class LiveChecker:
    def __init__(
        self,
        config: CheckConfig,
        worker: str | None = None,
        *,
        latest: int = 5,
        on_end: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        on_finding: Callable[[Finding], None] | None = None,
    ) -> None:
        if config.findings_cap > LIVE_FINDINGS_CAP:
            config = dataclasses.replace(config, findings_cap=LIVE_FINDINGS_CAP)
        if on_finding is not None and not config.notify:
            config = dataclasses.replace(config, notify=True)
        self.on_finding = on_finding
        self.checker = Checker(config)
        self.worker = worker
        self.on_end = on_end
        self.clock = clock
        self.records = 0
        self.errors = 0
        self.first_error: str | None = None
        self.disabled = False
        self.ended = False
        self.timed_cost = 0.0
        self.latest: deque[dict[str, Any]] = deque(maxlen=latest)
        self._reported: dict[str, int] = {}

    # ---- the recorder's hook -------------------------------------------------------------------

    def on_record(self, record: dict[str, Any], line: int, text: str) -> None:
        if self.disabled:
            return
        self.records += 1
        # The cost is timed on one record in TIMED_EVERY (two clock reads per record would be a
        # measurable share of a cheap record): an unbiased estimate, scaled up in ``cost``.
        timed = not self.records & (TIMED_EVERY - 1)
        started = self.clock() if timed else 0.0
        try:
            self.checker.feed_decoded(record, line, text)  # = feed(parse_record(...)), cheaper
            if self.on_finding is not None:
                for finding in self.checker.drain_findings():
                    self.on_finding(finding)
        except Exception as error:  # never into the recorder, never into Locust
            self._failed(error, line)
        if timed:
            self.timed_cost += self.clock() - started
        if record.get("kind") == "end":
            self.ended = True
            if self.on_end is not None:
                try:
                    self.on_end()
                except Exception as error:
                    self._failed(error, line)

    @property
    def cost(self) -> float:
        """Estimated seconds spent in ``on_record`` so far (parse and feed)."""
        return self.timed_cost * TIMED_EVERY

    def _failed(self, error: Exception, line: int) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"history line {line}: {type(error).__name__}: {error}"[:300]
        if self.errors >= MAX_ERRORS:
            self.disabled = True

    # ---- the snapshot --------------------------------------------------------------------------

    def _new_findings(self) -> list[dict[str, Any]]:
        fresh: list[Finding] = []
        for kind, kept in list(self.checker.kept().items()):
            seen = self._reported.get(kind, 0)
            if len(kept) > seen:
                fresh.extend(kept[seen:])
                self._reported[kind] = len(kept)
        fresh.sort(key=lambda f: f.t)
        return [finding_summary(f, self.worker) for f in fresh[-self.latest.maxlen:]] if self.latest.maxlen else []

    def snapshot(self) -> dict[str, Any]:
        """Plain values only (it crosses processes as msgpack). Never raises."""
        try:
            for item in self._new_findings():
                self.latest.append(item)
        except Exception as error:
            self._failed(error, 0)
        progress = self.checker.progress()
        return {
            "worker": self.worker,
            "t": round(progress.t, 3),
            "records": self.records,
            "counts": {str(kind): int(n) for kind, n in progress.counts.items()},
            "latest": list(self.latest),
            "requests": {
                "sent": progress.sent,
                "completed": progress.completed,
                "failed": progress.failed,
                "unknown": progress.unknown,
                "in_flight": progress.in_flight,
            },
            "events": progress.events,
            "connections": progress.connections,
            "users": progress.users,
            "broken": progress.broken,
            "cost": round(self.cost, 4),
            "errors": self.errors,
            "error": self.first_error,
            "disabled": self.disabled,
            "ended": self.ended,
        }
