"""The finding book: every finding counted exactly, the first ones kept in full, grouped into
incidents; the who-received-whose matrix; the swimlanes beside the findings.

- ``add`` counts a finding (per kind, per engine path), keeps it while fewer than
  ``findings_cap`` of its kind are kept, and, for live checking, notes it until drained.
- Incidents: findings of one leaked run or one affected request are one incident (owner →
  receiver, run id, how many events, first witness), so a 174-event leak of 29 runs reads as 29
  incidents. The first ``INCIDENTS_SHOWN`` are kept in full; all are counted exactly.
- The matrix counts every delivery by whose request's events (or content) reached whom: the
  diagonal is normal; off the diagonal, content leaks are also counted apart.
- Each receiver's last ``SWIMLANE_DEPTH`` deliveries are kept in a ring; when a user is first
  involved in a finding (as the receiver or the owner), the ring is copied beside it and the
  deliveries that follow are added, up to twice the depth, for at most ``SWIMLANE_USERS``
  users: what led up to the first finding, what followed, and how the run ended.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from xtalk.core.anomaly import AnomalyKind, Finding
from xtalk.core.delivery import Delivery
from xtalk.core.ids import ReqId, RunId, UserName

SWIMLANE_USERS = 12
SWIMLANE_DEPTH = 40
INCIDENTS_SHOWN = 500

#: A lane entry: (t, event type, owner, run id, history line).
LaneEntry = tuple[float, str, str, str, int]


@dataclass(slots=True)
class Incident:
    kind: AnomalyKind
    owner: UserName | None
    receiver: UserName | None
    run_id: RunId | None
    req: ReqId | None
    engine: str | None
    t: float
    first_witness: tuple[int, ...]
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.kinds.values())


def incident_key(finding: Finding) -> tuple[str, ...]:
    """One leaked run (owner, receiver, run), else one affected request, else the one event."""
    owner, user = finding.owner or "", finding.user or ""
    if finding.run_id is not None and finding.owner is not None:
        return (owner, user, "run", finding.run_id)
    if finding.req is not None:
        return (owner, user, "req", finding.req)
    return (finding.kind.value, user, finding.conn or "", str(finding.witness[:1]))


class FindingBook:
    def __init__(self, findings_cap: int, notify: bool) -> None:
        self.cap = findings_cap
        self.notify = notify
        self.counts: Counter[str] = Counter()
        self.kept: dict[str, list[Finding]] = {}
        self.notes: list[Finding] = []
        self.engine_counts: Counter[str] = Counter()
        self.incidents: dict[tuple[str, ...], Incident] = {}
        self.incident_hashes: set[int] = set()  # every incident, for the exact count
        self.matrix: Counter[tuple[str, str]] = Counter()  # (whose, receiver) → events, off the diagonal
        self.content: Counter[tuple[str, str]] = Counter()  # ... of which content leaks
        self.own_counts: dict[str, int] = {}  # the diagonal, counted apart (the common case)
        self.lanes: dict[UserName, deque[LaneEntry]] = {}
        self.lane_users: dict[str, list[LaneEntry]] = {}

    def add(self, finding: Finding, engine: str | None) -> None:
        kind = finding.kind.value
        self.counts[kind] += 1
        if engine is not None:
            self.engine_counts[engine] += 1
        if self.notify:
            self.notes.append(finding)
        key = incident_key(finding)
        digest = hash(key)
        if digest not in self.incident_hashes:
            self.incident_hashes.add(digest)
            if len(self.incidents) < INCIDENTS_SHOWN:
                self.incidents[key] = Incident(
                    finding.kind, finding.owner, finding.user, finding.run_id, finding.req, finding.engine,
                    finding.t, finding.witness,
                )
        incident = self.incidents.get(key)
        if incident is not None:
            incident.kinds[kind] += 1
        kept = self.kept.setdefault(kind, [])
        if len(kept) >= self.cap:
            return
        kept.append(finding)
        for who in (finding.user, finding.owner):
            if who is not None and who not in self.lane_users and len(self.lane_users) < SWIMLANE_USERS:
                self.lane_users[who] = list(self.lanes.get(who, ()))

    def drain(self) -> list[Finding]:
        notes, self.notes = self.notes, []
        return notes

    def delivered(self, d: Delivery, whose: str, content: bool = False) -> None:
        """Count a delivery in the matrix (``whose`` request's events or content reached ``d.user``)."""
        receiver = d.user
        if whose == receiver:
            own = self.own_counts
            own[receiver] = own.get(receiver, 0) + 1
        else:
            self.matrix[(whose, receiver)] += 1
            if content:
                self.content[(whose, receiver)] += 1

    def own(self, d: Delivery) -> None:
        """``lane(d, d.user)`` and ``delivered(d, d.user)`` at once: the receiver's own event (most)."""
        receiver = d.user
        own = self.own_counts
        own[receiver] = own.get(receiver, 0) + 1
        lane = self.lanes.get(receiver)
        if lane is None:
            lane = self.lanes[receiver] = deque(maxlen=SWIMLANE_DEPTH)
        event = d.event
        entry = (d.t, event.type, receiver, event.run_id or "", d.line)
        lane.append(entry)
        if self.lane_users:
            kept = self.lane_users.get(receiver)
            if kept is not None and len(kept) < 2 * SWIMLANE_DEPTH:
                kept.append(entry)

    def lane(self, d: Delivery, owner: str) -> None:
        """Note a delivery in its receiver's swimlane, coloured by whose event it is."""
        receiver = d.user
        lane = self.lanes.get(receiver)
        if lane is None:
            lane = self.lanes[receiver] = deque(maxlen=SWIMLANE_DEPTH)
        entry = (d.t, d.event.type, owner, d.event.run_id or "", d.line)
        lane.append(entry)
        if self.lane_users:
            kept = self.lane_users.get(receiver)
            if kept is not None and len(kept) < 2 * SWIMLANE_DEPTH:
                kept.append(entry)  # the events that follow a finding stay beside it

    def swimlanes(self) -> dict[str, list[LaneEntry]]:
        lanes: dict[str, list[LaneEntry]] = {}
        for user, kept in self.lane_users.items():
            merged = {entry[4]: entry for entry in kept}
            merged.update((entry[4], entry) for entry in self.lanes.get(UserName(user), ()))
            lanes[user] = sorted((round(t, 3), kind, owner, run, line) for t, kind, owner, run, line in merged.values())
        return lanes

    def full_matrix(self) -> Counter[tuple[str, str]]:
        matrix: Counter[tuple[str, str]] = Counter(self.matrix)
        for user, n in self.own_counts.items():
            matrix[(user, user)] += n
        return matrix

    def shown_incidents(self) -> list[Incident]:
        return sorted(self.incidents.values(), key=lambda i: (i.t, i.first_witness))

