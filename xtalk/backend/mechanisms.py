"""Netra's isolation bugs as the shared objects that cause them (NETRA_PROTOCOL §5).

Each class here is a piece of process-wide mutable state that an agent run reads *at emit time*,
after the awaits between its events; another user's request may have rewritten it meanwhile.
That is the whole trick, and why these faults show only when users overlap: nothing here checks
a rate or injects a leak; the engines decide which runs use which object, and the leak follows.

Every ``target`` returns a ``Target``: where a frame goes and which ids it carries. ``fault`` on a
target names the mechanism that chose it, so the delivery code can write ground truth whenever
the frame reaches someone other than the run's owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xtalk.backend.envelopes import Stamp
from xtalk.backend.session import Connection

if TYPE_CHECKING:
    from xtalk.backend.engines import Run


@dataclass(slots=True)
class Target:
    conns: list[Connection]
    stamp: Stamp
    fault: str | None = None  # the mechanism that routed this frame, if any
    route_user: str | None = None  # deliver to every connection of this server user id instead
    ids_owner: str | None = None  # account whose run the ids belong to, when not the run's owner


def own_target(run: Run) -> Target:
    """The correct destination: the connection that asked, with the run's own ids."""
    return Target([run.conn], run.stamp())


class SharedFactory:
    """One agent factory for all requests (the ``legacy`` path, and the ``shared_factory`` fault).

    ``configure`` is called per request with the caller's bridge (connection), user and thread;
    agents keep a reference to the factory, not a copy, and read it when they emit."""

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.user_id = ""
        self.thread_id = ""

    def configure(self, conn: Connection, user_id: str, thread_id: str) -> None:
        self.conn, self.user_id, self.thread_id = conn, user_id, thread_id

    def target(self, run: Run) -> Target:
        assert self.conn is not None
        stamp = Stamp(run.run_id, self.user_id, self.thread_id, run.request_id, run.engine_id)
        return Target([self.conn], stamp, "shared_factory")


@dataclass(eq=False, slots=True)
class Manager:
    """A per-user WebSocket manager; sessions point at one, and ``manager_push`` re-points them."""

    user_id: str
    conn: Connection


def push_manager(sessions: list[Connection], manager: Manager) -> None:
    """The bug: a request installs its caller's manager into every live session."""
    for session in sessions:
        session.manager = manager


def via_session_manager(run: Run) -> Target:
    manager: Manager = run.conn.manager
    stamp = Stamp(run.run_id, manager.user_id, run.thread_id, run.request_id, run.engine_id)
    return Target([manager.conn], stamp, "manager_push")


@dataclass(eq=False, slots=True)
class Bridge:
    """A pooled bridge remembers the user (and connection) it was created for."""

    conn: Connection
    user_id: str
    thread_id: str

    def target_without_context(self, run: Run) -> Target:
        stamp = Stamp(run.run_id, self.user_id, self.thread_id, run.request_id, run.engine_id)
        return Target([self.conn], stamp, "bridge_fallback")


@dataclass(slots=True)
class BridgePool:
    free: list[Bridge] = field(default_factory=list)

    def acquire(self, run: Run) -> Bridge:
        if self.free:
            return self.free.pop()
        return Bridge(run.conn, run.owner, run.thread_id)

    def release(self, bridge: Bridge) -> None:
        if len(self.free) < 256:
            self.free.append(bridge)


@dataclass(eq=False, slots=True)
class PooledEmitter:
    """An emitter keeps the ids of the run it was created for; reused, it stamps those."""

    run_id: str
    thread_id: str
    owner: str  # the account id of the first run's owner, for ground truth
    request_id: str

    def target(self, run: Run) -> Target:
        stamp = Stamp(self.run_id, run.owner, self.thread_id, self.request_id, run.engine_id)
        return Target([run.conn], stamp, "stale_emitter", ids_owner=self.owner)


@dataclass(slots=True)
class EmitterPool:
    free: list[PooledEmitter] = field(default_factory=list)

    def take(self) -> PooledEmitter | None:
        return self.free.pop(0) if self.free else None

    def release(self, emitter: PooledEmitter) -> None:
        if len(self.free) < 256:
            self.free.append(emitter)


class RunThreadMap:
    """A global run→thread map keyed too coarsely (by agent slot): the last writer wins.

    Frames are routed to the connections of the thread's owner, stamped as the run's owner."""

    KEY = "supervisor"

    def __init__(self) -> None:
        self.threads: dict[str, str] = {}

    def write(self, thread_id: str) -> None:
        self.threads[self.KEY] = thread_id

    def read(self) -> str | None:
        return self.threads.get(self.KEY)


@dataclass(slots=True)
class PromptCache:
    """A global 'last prompt' cache: written by every request, read when answering."""

    text: str = ""
    owner: str = ""

    def write(self, text: str, owner: str) -> None:
        self.text, self.owner = text, owner


@dataclass(slots=True)
class PromptBuffer:
    """A shared buffer of the prompts of every request still in flight (``content_bleed_inflight``):
    each run's prompt goes in when it starts and out just before its final event is sent, so
    whatever another run reads from it is a request still waiting for its answer."""

    pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # run id -> (text, owner account)

    def add(self, run_id: str, text: str, owner: str) -> None:
        self.pending[run_id] = (text, owner)

    def discard(self, run_id: str) -> None:
        self.pending.pop(run_id, None)

    def other_than(self, owner: str) -> tuple[str, str, str] | None:
        """(run id, text, owner) of the latest prompt another account put in, if any."""
        for run_id, (text, writer) in reversed(self.pending.items()):
            if writer != owner:
                return run_id, text, writer
        return None


@dataclass(eq=False, slots=True)
class Handler:
    """A connection's message handler in the global router (never removed)."""

    conn: Connection
    user_id: str


@dataclass(slots=True)
class GlobalRouter:
    handlers: list[Handler] = field(default_factory=list)

    def register(self, conn: Connection) -> None:
        self.handlers.append(Handler(conn, conn.user_id))

    def first(self) -> Handler | None:
        return self.handlers[0] if self.handlers else None
