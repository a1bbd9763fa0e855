"""The checker's state: connections, requests, undecided runs, deliveries, and what is kept of them.

``CheckerState`` holds every table the checker's parts share, and declares the seams between
those parts (``ownership``: which request a run answers; ``judge``: what one delivery proves;
``outcomes``: how requests end and how long they are remembered; ``findings``: counting and
keeping findings). ``Checker`` (``xtalk.core.checker``) composes them.

Invariants:

- ``requests`` holds every request sent until it is forgotten (``outcomes``: ``tomb_retention``
  after it finished); ``Conn.requests`` holds a connection's unfinished requests, oldest first.
- A run id is in ``traces`` (undecided, its deliveries waiting) or in ``run_owner`` (decided:
  the request it answers, or None for none), never in both; ``Conn.traces`` lists the undecided
  runs first seen on that connection.
- Memory is bounded by the requests in flight plus those finished within ``tomb_retention`` and
  by the number of users, connections and threads, never by the history's length: a finished
  request is stripped after ``retention`` (its dedup keys, frame, script key and event labels go,
  and its lifecycle shrinks to its final line: ``SettledLife``) and forgotten after
  ``tomb_retention``; findings, unknowns, swimlanes, latency samples and the script book are
  capped. One exception: a run decided to no request (a phantom) stays in ``run_owner``, so
  that its later events are phantoms too; that grows with the phantom runs, i.e. with findings.

Deliveries and events are created once per received event, so they are plain slotted classes,
not frozen ones (a frozen dataclass's ``__init__`` costs about six times as much); nothing
mutates them after creation.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.coverage import Histogram, Overlap, Sampler
from xtalk.core.divergence import ScriptBook
from xtalk.core.ids import ConnId, Identity, Marker, ReqId, RunId, ThreadId, UserName
from xtalk.core.lifecycle import Lifecycle, SettledLife
from xtalk.core.markers import MarkerIndex
from xtalk.core.normalise import Event, Normaliser
from xtalk.core.profile import Profile
from xtalk.core.records import End, Meta
from xtalk.core.verdict import CheckConfig, Outcome, Tally

#: ``run_owner.get(run, UNBOUND)`` for a run not (or no longer) decided (None means: to no request).
UNBOUND: Any = object()

#: A lane entry: (t, event type, owner, run id, history line); t is rounded when lanes are shown.
LaneEntry = tuple[float, str, str, str, int]


@dataclass(slots=True, eq=False)
class Request:
    req: ReqId
    user: UserName
    conn: ConnId
    t: float
    line: int
    thread: ThreadId | None
    marker: Marker | None
    engine: str
    key: str | None
    verb: str
    frame: Any
    deadline_at: float
    life: Lifecycle | SettledLife = field(default_factory=Lifecycle)  # SettledLife once stripped
    runs: list[RunId] = field(default_factory=list)
    seen: dict[int, tuple[ConnId, int, Any, float]] = field(default_factory=dict)  # dedup → conn, line, stamp, t
    outcome: Outcome | None = None
    final_t: float | None = None
    leaked: bool = False
    probe: str | None = None
    evident: set[RunId] = field(default_factory=set)  # runs tied to it by ids, not only by content
    reserved_by: RunId | None = None  # the undecided run first seen on its connection after it
    gaps_judged: bool = False

    @property
    def pending(self) -> bool:
        """Waiting for a run id: nothing bound yet and not finished."""
        return not self.runs and self.outcome is None


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What an engine-divergence finding needs of a request, long after the request is forgotten
    (the script book keeps one per script and engine path, not the request itself)."""

    req: ReqId
    user: UserName
    conn: ConnId
    t: float
    line: int
    verb: str
    final_t: float | None


@dataclass(slots=True, eq=False)
class Conn:
    conn: ConnId
    user: UserName
    engine: str | None
    line: int
    requests: list[Request] = field(default_factory=list)  # not yet finished, oldest first
    last: Request | None = None
    traces: list[RunId] = field(default_factory=list)  # undecided runs first seen here
    closed_by: str | None = None
    welcomed: bool = False
    probe: str | None = None  # an active probe opened it: an error frame here is an answer, not noise
    refusal_probe: str | None = None  # a probe expects the server to refuse this connection
    probe_line: int = 0


@dataclass(slots=True, eq=False)
class Delivery:
    """One agent event as one user received it (treated as immutable)."""

    event: Event
    user: UserName
    conn: ConnId
    t: float
    line: int
    frame: Any
    markers: tuple[tuple[Marker, ReqId], ...]


@dataclass(slots=True, eq=False)
class Trace:
    """An undecided run: its deliveries wait here until evidence binds it to a request."""

    run: RunId
    first_t: float
    first_conn: ConnId
    deliveries: list[Delivery] = field(default_factory=list)
    depth: int = 0
    started: bool = False
    reserved: Request | None = None  # the request it answers if no evidence says otherwise
    conflicted: bool = False  # delivered to two users, and no marker yet says whose it is


class CheckerState:
    """The tables the checker's parts share, and the seams between the parts."""

    def __init__(self, config: CheckConfig) -> None:
        self.config = config
        self.profile: Profile = config.profile
        self.normalise = Normaliser(config.profile)
        self.tally = Tally(config)
        self.identity: dict[UserName, Identity] = {}
        self.identity_user: dict[Identity, UserName] = {}
        self.collapsed: set[Identity] = set()
        self.welcome_ids: dict[str, UserName] = {}
        self.conns: dict[ConnId, Conn] = {}
        self.user_conns: dict[UserName, list[Conn]] = {}
        self.requests: dict[ReqId, Request] = {}
        self.run_owner: dict[RunId, Request | None] = {}
        self.traces: dict[RunId, Trace] = {}
        self.threads: dict[ThreadId, UserName | None] = {}  # None: sent by two users, no evidence
        self.markers = MarkerIndex()
        self.finished: deque[Request] = deque()  # finished requests, by finishing time
        self.stripped: deque[Request] = deque()  # finished long enough ago to keep ids only
        self.lanes: dict[UserName, deque[LaneEntry]] = {}
        self.lane_users: dict[str, list[LaneEntry]] = {}
        self.overlap = Overlap()
        self.latency: dict[str, Histogram] = {}
        self.engine_latency: dict[str, Histogram] = {}
        self.series = Sampler()
        self.matrix: Counter[tuple[str, str]] = Counter()  # (owner, receiver) → events, off the diagonal
        self.own_events: dict[UserName, int] = {}  # the matrix's diagonal, counted apart (the common case)
        self.scripts: ScriptBook[SentRequest] = ScriptBook(config.script_limit)
        self.last_t = 0.0
        self.next_maintenance = 0.0
        self.end: End | None = None
        self.meta: Meta | None = None
        self.in_flight = 0
        self.notes: list[Finding] = []  # every finding since the last drain, when config.notify

    # ---- seams: each is defined by one part, and called by the others ----------------------

    def _found_in(self, kind: AnomalyKind, d: Delivery, then: str) -> None:
        """A finding one received event proves on its own (``findings``)."""
        raise NotImplementedError

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
        """Count a finding, and keep it in full while under the cap (``findings``)."""
        raise NotImplementedError

    def _lane(self, receiver: UserName, d: Delivery, owner: UserName) -> None:
        """Note a delivery in the receiver's swimlane (``findings``)."""
        raise NotImplementedError

    def _deliver(self, request: Request | None, d: Delivery) -> None:
        """Judge one delivery of a run bound to ``request`` (None: to no request) (``judge``)."""
        raise NotImplementedError

    def _decide(self, run: RunId, chosen: Request | None = None) -> None:
        """Bind an undecided run to a request and judge its waiting deliveries (``ownership``)."""
        raise NotImplementedError

    def _finish_request(self, request: Request, t: float) -> None:
        """The request's run reached its final event (``outcomes``)."""
        raise NotImplementedError

    def _settle(
        self, request: Request, outcome: Outcome, t: float, reason: str | None = None, dropped: bool = False
    ) -> None:
        """Give the request its outcome, once (``outcomes``)."""
        raise NotImplementedError
