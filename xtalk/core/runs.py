"""Runs: which request a server run answers, decided on all of the run's evidence.

The backend may echo no request id, so a run (the events sharing a run id, or a parent chain
rooted at a client message id) is bound to a request by evidence, and judged as a whole (SPEC
"Attribution"): its deliveries wait in an undecided ``Run`` until its outermost agent completes
(or it fails, its first connection closes, its deadline passes, or the history ends), and only
then is it bound, on everything it carried. Evidence, strongest first:

1. an echoed client message id at the root of its parent chain (``Evidence.ECHO``): decided at once;
2. a content marker of a request of a user the run was delivered to: the receiver's own marker
   anywhere in a run outweighs another user's marker in it (``Evidence.CONNECTION``);
3. the run's user ids, then its thread ids, when they name exactly one harness user
   (``Evidence.IDS``); then the connection it first arrived on: the request that run reserved
   (the first new run id seen on a connection after a send reserves the oldest unclaimed pending
   request there) or that user's oldest pending request sent before it (``Evidence.CONNECTION``);
   "before" give or take ``SEND_SLACK``: a fast reply may be stamped a few milliseconds before
   its send record;
4. a content marker of a pending request of a user the run never reached, when nothing above
   names a waiting request: that user's run, delivered elsewhere (``Evidence.CONTENT``);
5. nothing: the run answers no request (its events are phantoms).

A run that carries only another user's marker (a *quoting* run: a global router's misdelivered
run, or a shared prompt buffer's quote) is decided after the others, like a conflicted run: the
runs that carry their owners' markers claim their requests first, so that a quote never takes a
request from its own answer, and what remains tells whose the quoting run is.

A first event whose own ids name another harness user reserves nothing on the connection it
reached (it is no evidence for that connection's user). A run that reached a second user stays
undecided-but-owned when its ids name one harness user who received it: that user's connection
becomes its home and it reserves that user's request there (a leak may arrive first).

A run delivered to two users whose ids do not say whose it is (*conflicted*) reserves nothing
and, unless markers settle it, is decided after the other runs, so that each user's own runs
claim that user's requests first. A request claimed by a run its owner received is *strongly*
claimed: another run claims it again only on its own marker and when nothing else fits; a
request claimed only by content (its run reached another user) can still be claimed by its own
run, which is how a leaked request's own answer is never taken for a phantom.

Invariant: a run id is in ``open`` (undecided) or in ``bound`` (decided), never both; a binding
never changes until its request is forgotten. ``Runs`` owns its tables; it reads the ledger's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from xtalk.core.config import SEND_SLACK
from xtalk.core.delivery import Delivery
from xtalk.core.identity import Identities
from xtalk.core.ids import ConnId, ReqId, RunId, UserName
from xtalk.core.profile import EventKind
from xtalk.core.requests import Conn, Ledger, Request

_STARTED = EventKind.STARTED
_COMPLETED = EventKind.COMPLETED
_FAILED = EventKind.FAILED


class Evidence(str, Enum):
    ECHO = "echo"  # the server echoed the request's client message id
    IDS = "ids"  # the run's user ids or thread ids name the request's user
    CONNECTION = "connection"  # it arrived on the owner's connection, or carried the owner's marker there
    CONTENT = "content"  # only the request's content marker ties the run to it


@dataclass(slots=True, eq=False)
class Binding:
    """What a run was bound to, and how. ``owner_received``: the owner got part of the run, so
    its run id is an id of the owner's request (its copies elsewhere are cross-user events)."""

    request: Request | None
    evidence: Evidence
    owner_received: bool = False

    @property
    def evident(self) -> bool:
        return self.evidence is not Evidence.CONTENT or self.owner_received


@dataclass(slots=True, eq=False)
class Run:
    """An undecided run: its deliveries wait here until its evidence is complete."""

    run: RunId
    first_t: float
    first_conn: ConnId
    first_user: UserName
    items: list[Delivery] = field(default_factory=list)
    depth: int = 0
    reserved: Request | None = None
    conflicted: bool = False
    echo: Request | None = None
    nesting: set[int] = field(default_factory=set)  # starts and completions counted (a copy of one counts once)


#: A decided run's deliveries, in arrival order, with the binding to judge them by.
Ready = list[tuple[Delivery, Binding]]


class Runs:
    def __init__(self, ledger: Ledger, identities: Identities) -> None:
        self.ledger = ledger
        self.identities = identities
        self.bound: dict[RunId, Binding] = {}
        self.open: dict[RunId, Run] = {}
        self.on_conn: dict[ConnId, list[RunId]] = {}  # undecided runs first seen on a connection
        self.claims: dict[ReqId, list[RunId]] = {}
        self.strong: set[ReqId] = set()  # claimed by a run its owner received
        self.reserved_by: dict[ReqId, RunId] = {}

    # ---- buffering --------------------------------------------------------------------------

    def add(self, conn: Conn, d: Delivery, echo: Request | None = None) -> Ready:
        """Buffer a delivery of an undecided run (``d.event.run_id``); the run's deliveries with
        its binding once it is decided now, else nothing yet."""
        run_id = d.event.run_id
        assert run_id is not None
        run = self.open.get(run_id)
        if run is None:
            run = self.open[run_id] = Run(run_id, d.t, d.conn, d.user)
            self.on_conn.setdefault(d.conn, []).append(run_id)
            if not self._names_another(d):  # its own ids naming another user: no evidence for this one
                for request in conn.requests:  # the oldest request here that no other run claimed
                    if request.t <= d.t + SEND_SLACK and self._pending(request, run_id):
                        self.reserved_by[request.req] = run_id
                        run.reserved = request
                        break
        return self._buffer(run, d, echo)

    def join(self, conn: Conn, d: Delivery, request: Request | None = None) -> Ready | None:
        """A run-id-less event that names nobody else joins the undecided run answering a request
        on its connection (the one answering ``request``, when its own marker names it), if there
        is one (None: there is none)."""
        runs = [self.open[run_id] for run_id in reversed(self.on_conn.get(conn.conn, ()))]
        if request is not None:
            # The run that carries the request's marker answers it (a reservation is only the
            # order runs arrived in); else the run reserved for it, unless that run carries
            # another request's marker of the user.
            for run in runs:
                if any(req == request.req for x in run.items for _, req in x.markers):
                    return self._buffer(run, d, None)
            for run in runs:
                if run.reserved is request and not any(
                        self.ledger.requests.get(req) is not None and self.ledger.requests[req].user == d.user
                        for x in run.items for _, req in x.markers):
                    return self._buffer(run, d, None)
            # A request that a run answers already takes the event itself; one waiting for its
            # run may be answered by the user's undecided run here, sent from the other tab.
            return self._other_tab(conn, d, runs, request) if request.run is None else None
        thread = d.event.thread_id
        reserved = [run for run in runs if run.reserved is not None]
        for run in reserved:  # the run answering the request on the event's thread, else the latest
            if thread is None or run.reserved.thread == thread:  # type: ignore[union-attr]
                return self._buffer(run, d, None)
        if reserved:
            return self._buffer(reserved[0], d, None)
        return self._other_tab(conn, d, runs, None)

    def _other_tab(self, conn: Conn, d: Delivery, runs: list[Run], request: Request | None) -> Ready | None:
        """None reserved a request here, and none was sent here: the request was sent on the
        user's other tab; the user's own undecided run here (no delivery of it names another
        user, nor carries a marker of another request, when the event's own marker names one)."""
        if conn.requests or conn.last is not None:
            return None
        requests = self.ledger.requests
        for run in runs:
            if run.conflicted or run.first_user != d.user or any(self._names_another(x) for x in run.items):
                continue
            if request is not None and any(
                    req != request.req for x in run.items for _, req in x.markers if req in requests):
                continue
            return self._buffer(run, d, None)
        return None

    def _buffer(self, run: Run, d: Delivery, echo: Request | None) -> Ready:
        items = run.items
        items.append(d)
        if echo is not None and run.echo is None:
            run.echo = echo
        if d.user != run.first_user:
            if not run.conflicted:
                if not self._settled_owner(run):
                    # One run, two users, and its ids do not say whose: the other runs settle it
                    # (each user's own run claims that user's request); until then it claims none.
                    run.conflicted = True
                    self._release(run)
            elif self._shows(d, d.user) and self._settled_owner(run):
                run.conflicted = False  # the one user its ids name received it now: its home
        kind = d.event.kind
        if (kind is _STARTED or kind is _COMPLETED) and d.event.dedup not in run.nesting:
            run.nesting.add(d.event.dedup)  # a copy delivered to another user nests nothing
            run.depth += 1 if kind is _STARTED else -1
        if run.echo is not None:
            return self.decide(run.run)
        if kind is _FAILED or (kind is _COMPLETED and run.depth <= 0):
            marked = self._marked_requests(run)
            if run.conflicted and not self._marked(run, marked):
                return []  # seen by two users, no marker says whose: the other runs settle it
            if self._quoting(run, marked):
                return []  # only another user's content: whose it is waits until the others claimed theirs
            return self.decide(run.run, marked)
        return []

    def _names_another(self, d: Delivery) -> bool:
        """Do the delivery's own ids (user id, else thread) name a harness user other than its
        receiver?"""
        event = d.event
        user = self.identities.named(event.user_id) if event.user_id is not None else None
        if user is None and event.thread_id is not None:
            user = self.ledger.thread_user(event.thread_id)
        return user is not None and user != d.user

    def _settled_owner(self, run: Run) -> bool:
        """A run that reached a second user: do its ids still say whose it is? Yes when every
        delivery's ids show the user its reservation is for, or when its ids name one harness
        user only and that user received it: then it is that user's run wherever it arrived
        first (a leak may come first), and it reserves that user's request there."""
        reserved = run.reserved
        if reserved is not None and all(self._shows(x, reserved.user) for x in run.items):
            return True
        named = self._id_users(run)
        if len(named) != 1:
            return False
        (owner,) = named
        if reserved is not None and reserved.user == owner:
            return True
        return self._rehome(run, owner)

    def _rehome(self, run: Run, owner: UserName) -> bool:
        """Make the connection on which ``owner`` received the run its home: it reserves the
        oldest pending request of ``owner`` there (False: ``owner`` has none, or never received it)."""
        conn = next((self.ledger.conns.get(x.conn) for x in run.items if x.user == owner), None)
        if conn is None:
            return False
        request = next((r for r in conn.requests if r.t <= run.first_t + SEND_SLACK and self._pending(r, run.run)), None)
        if request is None:
            return False
        self._release(run)
        self.reserved_by[request.req] = run.run
        run.reserved = request
        waiting = self.on_conn.get(run.first_conn)
        if waiting is not None and run.run in waiting:
            waiting.remove(run.run)
            if not waiting:
                del self.on_conn[run.first_conn]
        self.on_conn.setdefault(conn.conn, []).append(run.run)
        run.first_conn, run.first_user = conn.conn, owner
        return True

    # ---- deciding ---------------------------------------------------------------------------

    def decide(self, run_id: RunId, marked: list[Request] | None = None) -> Ready:
        """Bind the run (``marked``: its ``_marked_requests``, when the caller has them)."""
        run = self.open.pop(run_id, None)
        if run is None:
            return []
        waiting = self.on_conn.get(run.first_conn)
        if waiting is not None:
            waiting.remove(run_id)
            if not waiting:
                del self.on_conn[run.first_conn]
        request, evidence = self._choose(run, marked if marked is not None else self._marked_requests(run))
        self._release(run)
        binding = Binding(request, evidence)
        if request is not None:
            robber = self.reserved_by.pop(request.req, None)
            binding.owner_received = any(d.user == request.user for d in run.items)
            self.claims.setdefault(request.req, []).append(run_id)
            if request.run is None:
                request.run = run_id
            if robber is not None and robber != run_id and robber in self.open:
                # Its reservation was this request: it reserves the next one waiting on its
                # connection instead (the one this run may just have released), so that a
                # run-id-less event there still joins it.
                other = self.open[robber]
                other.reserved = None
                if not other.conflicted and not any(self._names_another(x) for x in other.items[:1]):
                    conn = self.ledger.conns.get(other.first_conn)
                    for queued in conn.requests if conn is not None else ():
                        if queued.t <= other.first_t + SEND_SLACK and self._pending(queued, robber):
                            self.reserved_by[queued.req] = robber
                            other.reserved = queued
                            break
            if binding.owner_received:
                self.strong.add(request.req)
        self.bound[run_id] = binding
        return [(d, binding) for d in run.items]

    def due(self, now: float, deadline: float) -> Ready:
        """Decide the runs whose deadline passed undecided (conflicted ones last)."""
        return self.decide_all([r for r, run in self.open.items() if run.first_t + deadline <= now])

    def closing(self, conn: ConnId) -> Ready:
        """Decide the undecided runs first seen on a connection that is closing."""
        return self.decide_all(list(self.on_conn.get(conn, ())))

    def decide_all(self, runs: Iterable[RunId] | None = None) -> Ready:
        """Runs seen by one user first; conflicted and quoting runs are settled by what the
        others claimed."""
        chosen = list(self.open) if runs is None else list(runs)
        ready: Ready = []
        for run_id in sorted(chosen, key=self._settles_late):
            ready.extend(self.decide(run_id))
        return ready

    def _settles_late(self, run_id: RunId) -> bool:
        run = self.open.get(run_id)
        return run is not None and (run.conflicted or self._quoting(run))

    def note_owner_received(self, binding: Binding, d: Delivery) -> None:
        """A later delivery of a decided run reached its owner: its run id is evidence now."""
        request = binding.request
        if request is not None and not binding.owner_received and d.user == request.user:
            binding.owner_received = True
            self.strong.add(request.req)

    def forget(self, request: Request) -> None:
        """The request is forgotten: its runs' later events are phantoms."""
        for run_id in self.claims.pop(request.req, ()):
            self.bound.pop(run_id, None)
        self.strong.discard(request.req)
        self.reserved_by.pop(request.req, None)

    # ---- evidence ---------------------------------------------------------------------------

    def _pending(self, request: Request, run_id: RunId | None = None) -> bool:
        """Waiting for its run: not finished, claimed by no run, reserved by none but ``run_id``."""
        return (
            request.outcome is None
            and request.req not in self.claims
            and self.reserved_by.get(request.req, run_id) == run_id
        )

    def _release(self, run: Run) -> None:
        reserved = run.reserved
        if reserved is not None:
            if self.reserved_by.get(reserved.req) == run.run:
                del self.reserved_by[reserved.req]
            run.reserved = None

    def _shows(self, d: Delivery, user: UserName) -> bool:
        """Do the delivery's ids (not its connection, not its content) tie it to ``user``?"""
        event = d.event
        return (event.user_id is not None and self.identities.named(event.user_id) == user) or (
            event.thread_id is not None and self.ledger.thread_user(event.thread_id) == user
        )

    def _marked_requests(self, run: Run) -> list[Request]:
        requests = self.ledger.requests
        marked: dict[ReqId, Request] = {}
        for d in run.items:
            for _, req in d.markers:
                request = requests.get(req)
                if request is not None:
                    marked.setdefault(req, request)
        return list(marked.values())

    def _owners_marked(self, run: Run, marked: list[Request]) -> set[ReqId]:
        """``_heard_by_owner``, checked against the requests' users."""
        if not marked:
            return set()
        by_req = {r.req: r for r in marked}
        own: set[ReqId] = set()
        for d in run.items:
            for _, req in d.markers:
                r = by_req.get(req)
                if r is not None and r.user == d.user:
                    own.add(req)
        return own

    def _marked(self, run: Run, marked: list[Request] | None = None) -> bool:
        """Do the run's markers settle whose it is (a conflicted run need not wait)?"""
        if marked is None:
            marked = self._marked_requests(run)
        own = self._owners_marked(run, marked)
        return any((r.req in own and r.req not in self.strong) or self._weakly_claimable(r) for r in marked)

    def _quoting(self, run: Run, marked: list[Request] | None = None) -> bool:
        """Does the run carry a waiting request's marker of a user it never reached, and no
        marker of its receivers' own? Then it may be that user's run delivered here (a global
        router) or the receiver's own run quoting that user's text (a shared prompt buffer):
        only what the other runs claim tells which."""
        if marked is None:
            marked = self._marked_requests(run)
        if not marked:
            return False  # no marker at all: nothing to quote
        own = self._owners_marked(run, marked)
        if any(r.req in own and r.req not in self.strong for r in marked):
            return False
        return any(r.req not in own and self._weakly_claimable(r) for r in marked)

    def _weakly_claimable(self, request: Request) -> bool:
        """Can content alone bind a run to it? Only while it waits, or its runs went elsewhere."""
        return request.outcome is None and request.req not in self.strong

    def _choose(self, run: Run, marked: list[Request]) -> tuple[Request | None, Evidence]:
        if run.echo is not None:
            return run.echo, Evidence.ECHO
        receivers = list(dict.fromkeys(d.user for d in run.items))
        weight: dict[ReqId, int] = {}  # how many of its deliveries carry each request's marker
        for d in run.items:
            markers = d.markers
            if markers:
                for q in {q for _, q in markers} if len(markers) > 1 else (markers[0][1],):
                    weight[q] = weight.get(q, 0) + 1
        heard = self._owners_marked(run, marked)  # markers that reached their own user
        own = [r for r in marked if r.req in heard and r.req not in self.strong]
        if own:
            own.sort(key=lambda r: (r.user != run.first_user, r is not run.reserved, -weight[r.req], r.t))
            return own[0], Evidence.CONNECTION
        named = self._id_users(run)
        foreign = [r for r in marked if r.req not in heard and self._weakly_claimable(r)]
        foreign.sort(key=lambda r: (r.user not in named, -weight[r.req], r.t))
        if foreign and foreign[0].user in named:
            return foreign[0], Evidence.IDS  # its ids and its content name the same user
        # A marker of a user the run reached, only in deliveries to another user: that user's
        # request, unless the run's ids name someone else (a copy of one user's run to another
        # does not make the other user's content in it the copy's owner's).
        reached = [r for r in marked if r.user in receivers and r.req not in self.strong and not named]
        if reached:
            reached.sort(key=lambda r: (r.user != run.first_user, r is not run.reserved, -weight[r.req], r.t))
            return reached[0], Evidence.CONNECTION
        found = self._by_ids_and_connection(run, receivers)
        if found is not None:
            return found  # the ids say whose run it is; another user's marker in it is content
        if foreign:
            return foreign[0], Evidence.CONTENT  # another user's run, delivered where it does not belong
        again = [r for r in marked if r.user in receivers]  # its own marker, on a request already answered
        if again:
            return again[0], Evidence.CONNECTION
        return None, Evidence.CONNECTION

    def _id_users(self, run: Run) -> set[UserName]:
        named: set[UserName] = set()
        for d in run.items:
            user = self.identities.named(d.event.user_id)
            if user is not None:
                named.add(user)
            user = self.ledger.thread_user(d.event.thread_id)
            if user is not None:
                named.add(user)
        return named

    def _by_ids_and_connection(self, run: Run, receivers: list[UserName]) -> tuple[Request, Evidence] | None:
        """Its user ids, then its thread ids, then the connection it arrived on, name the user;
        that user's reserved or oldest pending request sent before the run's first event is the one."""
        uid_users = {self.identities.named(d.event.user_id) for d in run.items} - {None}
        thread_users = {self.ledger.thread_user(d.event.thread_id) for d in run.items} - {None}
        order: list[tuple[UserName, Evidence]] = []
        if len(uid_users) == 1:
            order.append((next(iter(uid_users)), Evidence.IDS))  # type: ignore[arg-type]
        if len(thread_users) == 1:
            order.append((next(iter(thread_users)), Evidence.IDS))  # type: ignore[arg-type]
        order.append((run.first_user, Evidence.CONNECTION))
        order.extend((user, Evidence.CONNECTION) for user in receivers)  # a conflicted run: any user it reached
        reserved = run.reserved if run.reserved is not None and self._pending(run.reserved, run.run) else None
        threads = {d.event.thread_id for d in run.items if d.event.thread_id}
        tried: set[UserName] = set()
        for user, evidence in order:
            if user in tried:
                continue
            tried.add(user)
            if reserved is not None and reserved.user == user:
                return reserved, evidence
            best: Request | None = None
            best_score: tuple[int, int, float] | None = None
            for conn in self.ledger.user_conns.get(user, ()):
                for request in conn.requests:
                    if request.t > run.first_t + SEND_SLACK or not self._pending(request, run.run):
                        continue
                    score = (int(request.conn == run.first_conn), int(request.thread in threads), -request.t)
                    if best_score is None or score > best_score:
                        best, best_score = request, score
            if best is not None:
                return best, evidence
        return None
