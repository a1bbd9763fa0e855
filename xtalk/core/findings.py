"""Findings and swimlanes: every finding counted exactly, the first ones kept in full.

``_found`` counts a finding of a kind and keeps it (with its witness lines and explanation) while
fewer than ``findings_cap`` of that kind are kept. Each receiver's last ``SWIMLANE_DEPTH``
deliveries are kept in a ring (``lanes``); when a user is first involved in a finding (as the
receiver or the owner), the ring is copied beside it and the deliveries that follow are added,
up to twice the depth, for at most ``SWIMLANE_USERS`` users. So the swimlanes show what led up to
the first finding, what followed it, and how the run ended, in memory bounded by the number of
users.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.explain import describe_recv
from xtalk.core.ids import ConnId, ReqId, RunId, UserName
from xtalk.core.state import CheckerState, Delivery, LaneEntry

SWIMLANE_USERS = 12
SWIMLANE_DEPTH = 40


class Findings(CheckerState):
    def _lane(self, receiver: UserName, d: Delivery, owner: UserName) -> None:
        lane = self.lanes.get(receiver)
        if lane is None:
            lane = self.lanes[receiver] = deque(maxlen=SWIMLANE_DEPTH)
        entry = (d.t, d.event.type, owner, d.event.run_id or "", d.line)  # t rounded when shown
        lane.append(entry)
        if self.lane_users:
            kept = self.lane_users.get(receiver)
            if kept is not None and len(kept) < 2 * SWIMLANE_DEPTH:
                kept.append(entry)  # the events that follow a finding stay beside it

    def _found_in(self, kind: AnomalyKind, d: Delivery, then: str) -> None:
        """A finding one received event proves on its own (E, and why it cannot be)."""
        self._found(
            kind,
            (d.line,),
            d.t,
            Explanation((("E", describe_recv(d.event.type, d.user, d.conn, d.t, d.line)),), then),
            user=d.user,
            run=d.event.run_id,
            conn=d.conn,
            evidence=((d.line, d.frame),),
        )

    def _found(
        self,
        kind: AnomalyKind,
        witness: tuple[int, ...],
        t: float,
        explanation: Explanation,
        *,
        user: UserName | None = None,
        owner: UserName | None = None,
        run: RunId | None = None,
        conn: ConnId | None = None,
        req: ReqId | None = None,
        engine: str | None = None,
        evidence: tuple[tuple[int, Any], ...] = (),
    ) -> None:
        keep = self.tally.count(kind)
        if not keep and not self.config.notify:
            return
        finding = Finding(kind, tuple(sorted(set(witness))), explanation, t, user, owner, run, conn, req, engine,
                          evidence=evidence)
        if self.config.notify:
            self.notes.append(finding)
        if not keep:
            return
        self.tally.keep(finding)
        for who in (user, owner):
            if who is not None and who not in self.lane_users and len(self.lane_users) < SWIMLANE_USERS:
                self.lane_users[who] = list(self.lanes.get(who, ()))

    def _swimlanes(self) -> dict[str, list[LaneEntry]]:
        """What led up to each kept user's first finding, what followed it, and how the run ended."""
        lanes: dict[str, list[LaneEntry]] = {}
        for user, kept in self.lane_users.items():
            merged = {entry[4]: entry for entry in kept}
            merged.update((entry[4], entry) for entry in self.lanes.get(UserName(user), ()))
            lanes[user] = sorted((round(t, 3), kind, owner, run, line) for t, kind, owner, run, line in merged.values())
        return lanes
