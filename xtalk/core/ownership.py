"""Ownership: which request a run answers, by evidence (the backend echoes no request id).

1. connection → user (``open``), and each ``send`` with a ``req`` is a request on it;
2. a run id is bound to a request when evidence arrives: a frame of that run carrying a pending
   request's content marker binds it at once; otherwise, when the run's outermost agent finishes
   (or its deadline or connection ends), by its ``user_id`` (a harness identity), its thread id
   (a thread the harness sent), and finally the connection it first arrived on: the oldest
   pending request there sent before it. Until then the run's deliveries wait in a ``Trace``,
   so memory is bounded by the runs in flight;
3. a frame without a run id belongs to the run arriving on its connection, else to the oldest
   request in flight there, else to the latest one.

Reservations: the first new run id seen on a connection after a send reserves the oldest
pending request there that no other undecided run has reserved. A reservation is a default, not
a binding: a marker or a decision may move it. A run delivered to two users whose ids do not say
whose it is reserves nothing (it is *conflicted*) and is decided after the others, so that each
user's own runs claim that user's requests first.

Invariant: a run id is in ``traces`` or in ``run_owner``, never both; once in ``run_owner`` its
binding never changes (until the request is forgotten).
"""

from __future__ import annotations

from xtalk.core.ids import Identity, RunId, ThreadId, UserName
from xtalk.core.profile import EventKind
from xtalk.core.state import UNBOUND, CheckerState, Conn, Delivery, Request, Trace


class Ownership(CheckerState):
    def _route(self, conn: Conn, d: Delivery) -> None:
        run = d.event.run_id
        if run is None:
            for pending_run in reversed(conn.traces):
                waiting = self.traces[pending_run]
                if waiting.reserved is not None:  # an undecided run answering a request here
                    self._buffer(waiting, d)
                    return
            owner = self._by_marker(d) or self._by_connection(conn, d.event.thread_id)
            self._deliver(owner, d)
            return
        owner_of_run = self.run_owner.get(run, UNBOUND)
        if owner_of_run is not UNBOUND:  # decided: the common case, judged at once
            self._deliver(owner_of_run, d)
            return
        trace = self.traces.get(run)
        if trace is None:
            trace = self.traces[run] = Trace(run, d.t, d.conn)
            conn.traces.append(run)
            # "The first new run id seen on a connection after a send": the oldest request there
            # that no other undecided run has claimed, unless evidence says otherwise later.
            t = d.t
            for request in conn.requests:
                if not request.runs and request.outcome is None and request.reserved_by is None and request.t <= t:
                    request.reserved_by = run
                    trace.reserved = request
                    break
        self._buffer(trace, d)

    def _by_marker(self, d: Delivery) -> Request | None:
        """A frame without a run id that quotes one of its receiver's requests belongs to it."""
        for _, req in d.markers:
            request = self.requests.get(req)
            if request is not None and request.user == d.user:
                return request
        return None

    def _by_connection(self, conn: Conn, thread: ThreadId | None) -> Request | None:
        if conn.requests:
            if thread is not None:
                for request in conn.requests:
                    if request.thread == thread:
                        return request
            return conn.requests[0]
        return conn.last

    def _buffer(self, trace: Trace, d: Delivery) -> None:
        deliveries = trace.deliveries
        deliveries.append(d)
        if not trace.conflicted and d.user != deliveries[0].user:
            reserved = trace.reserved
            if reserved is None or not all(self._shows(x, reserved.user, by_conn=False) for x in deliveries):
                # One run, two users, and its ids do not say whose: the other runs settle it
                # (each user's own run claims that user's request); until then it claims none.
                trace.conflicted = True
                if reserved is not None:
                    reserved.reserved_by = None
                    trace.reserved = None
        kind = d.event.kind
        if kind is EventKind.STARTED:
            trace.depth += 1
            trace.started = True
        elif kind is EventKind.COMPLETED:
            trace.depth -= 1
        chosen: Request | None = None
        if d.markers:
            requests = self.requests
            for _, req in d.markers:
                request = requests.get(req)
                if request is not None and not request.runs and request.outcome is None:  # pending
                    if request.user == d.user:  # the receiver's own marker among others: its run
                        chosen = request
                        break
                    chosen = chosen or request
        if chosen is not None:
            self._decide(trace.run, chosen)
            return
        if trace.conflicted:
            return  # seen by two users with no marker: wait for the other runs to settle it
        if kind is EventKind.FAILED or (kind is EventKind.COMPLETED and trace.depth <= 0):
            self._decide(trace.run)

    def _decide(self, run: RunId, chosen: Request | None = None) -> None:
        trace = self.traces.pop(run, None)
        if trace is None:
            return
        first = self.conns.get(trace.first_conn)
        if first is not None and run in first.traces:
            first.traces.remove(run)
        by_marker = chosen is not None
        if chosen is None:
            chosen = self._best_request(trace)
        if trace.reserved is not None and trace.reserved is not chosen:
            trace.reserved.reserved_by = None
        if chosen is not None and chosen.reserved_by not in (None, run):
            robbed = self.traces.get(chosen.reserved_by)
            if robbed is not None:
                robbed.reserved = None
        self.run_owner[run] = chosen
        if chosen is not None:
            chosen.reserved_by = run
            chosen.runs.append(run)
            if not by_marker or any(self._shows(d, chosen.user) for d in trace.deliveries):
                chosen.evident.add(run)
        for d in trace.deliveries:
            self._deliver(chosen, d)

    def _decide_all(self, runs: list[RunId]) -> None:
        """Runs seen by one user first: a conflicted run is settled by what the others claimed."""
        for run in sorted(runs, key=lambda r: self.traces[r].conflicted if r in self.traces else False):
            self._decide(run)

    def _shows(self, d: Delivery, user: UserName, by_conn: bool = True) -> bool:
        """Do the delivery's ids (not its content) tie it to ``user``?"""
        event = d.event
        return (
            (by_conn and d.user == user)
            or (event.user_id is not None and self.identity_user.get(Identity(event.user_id)) == user)
            or (event.thread_id is not None and self.threads.get(event.thread_id) == user)
        )

    def _best_request(self, trace: Trace) -> Request | None:
        """The request a run answers, when no content marker said: its user ids, then its thread
        ids, then the connection it arrived on, name the user; that user's reserved or oldest
        unclaimed waiting request sent before the run's first event is the one."""
        uid_users = {self.identity_user.get(Identity(d.event.user_id or "")) for d in trace.deliveries}
        uid_users.discard(None)
        thread_users = {self.threads.get(d.event.thread_id) for d in trace.deliveries if d.event.thread_id}
        thread_users.discard(None)
        first_conn = self.conns.get(trace.first_conn)
        order: list[UserName] = []
        if len(uid_users) == 1:
            order.append(next(iter(uid_users)))  # type: ignore[arg-type]
        if len(thread_users) == 1:
            order.append(next(iter(thread_users)))  # type: ignore[arg-type]
        if first_conn is not None:
            order.append(first_conn.user)
        order.extend(d.user for d in trace.deliveries)  # a conflicted run: any user it reached
        reserved = trace.reserved if trace.reserved is not None and trace.reserved.pending else None
        threads = {d.event.thread_id for d in trace.deliveries if d.event.thread_id}
        for user in dict.fromkeys(order):
            if reserved is not None and reserved.user == user:
                return reserved
            best: Request | None = None
            best_score: tuple[int, int, float] | None = None
            for conn in self.user_conns.get(user, ()):
                for request in conn.requests:
                    if not request.pending or request.t > trace.first_t or request.reserved_by not in (None, trace.run):
                        continue
                    score = (int(request.conn == trace.first_conn), int(request.thread in threads), -request.t)
                    if best_score is None or score > best_score:
                        best, best_score = request, score
            if best is not None:
                return best
        return None
