"""A simulated correct Netra-like server, and single faults to inject into its histories.

``models()`` is the Hypothesis strategy (``generate(draws, ...)`` underneath, every choice a
Hypothesis draw through ``Draws``, so that a failing example shrinks: to 2 users, one request
each, no sub-agents, no noise, the earliest times). It builds the history of a correct server:
2–6 users, each logged in with
one connection, sending 1–3 requests one after another (the first requests of all users in flight
together), answered in one envelope family per request (bridge with ``data`` or ``payload``, or
the emitter), with sub-agents, tool calls, thinking sometimes batched or sent as ``reasoning``,
``agent_error`` outcomes, the misc completion echo, progress updates without user ids, heartbeats
and pongs everywhere, and the last request of a user sometimes still in flight at the end (before
its deadline). Every event is delivered once, to the user who asked, in its legal order.

Each ``FAULTS`` entry takes the model and the draws, changes exactly one thing a broken server
would do, and returns the anomaly kind the checker must report (once), or ``None`` when the
model offers no place for that fault. ``faulty(fault)`` draws a model and injects it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from hypothesis import strategies as st

from tests.histories import identity_of

DEADLINE = 30.0
FAMILIES = ("bridge", "bridge_payload", "emitter")
TICK = 1e-4  # times are drawn in ticks of 0.1 ms: whole numbers shrink cleanly to their lower bound
HEAD = 16  # tape bytes for a request's own details: send time, marker, run id, echo, batching, gaps
PER_EVENT = 4  # tape bytes per event of a run: its gap, progress beside it, the reasoning alias
TOOLS = ("search", "sql", "cost_model")

T = TypeVar("T")


class Choices:
    """Where the model's choices come from. Every choice shrinks towards the simplest history:
    ``chance`` towards False, ``choice`` towards the first option, numbers towards their lower
    bound (times towards the shortest gaps)."""

    def randint(self, low: int, high: int) -> int:
        raise NotImplementedError

    def chance(self, p: float) -> bool:
        """True with (about) probability ``p``."""
        return self.randint(0, 99) >= 100 - round(100 * p)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.randint(0, len(options) - 1)]

    def randrange(self, n: int) -> int:
        return self.randint(0, n - 1)

    def uniform(self, low: float, high: float) -> float:
        """A time in [low, high], in ticks."""
        lo, hi = round(low / TICK), round(high / TICK)
        return self.randint(lo, max(lo, hi)) * TICK

    def bits(self, k: int) -> int:
        return self.randint(0, 2**k - 1)


class Draws(Choices):
    """Choices that are Hypothesis draws (``draw``: a composite strategy's, or
    ``st.data().draw``): what a history is made of (users, requests, outcomes, families,
    sub-agents, tools), each one a choice the shrinker simplifies on its own. ``tape()`` draws a
    ``Tape`` for the many choices of little consequence."""

    _INTS: dict[tuple[int, int], st.SearchStrategy[int]] = {}

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self._draw = draw

    def randint(self, low: int, high: int) -> int:
        strategy = self._INTS.get((low, high))
        if strategy is None:
            strategy = self._INTS[(low, high)] = st.integers(low, high)
        return int(self._draw(strategy))

    def tape(self, size: int) -> Tape:
        """``size`` bytes, always all of them: a shorter tape would read zeros for most
        choices (Hypothesis draws short byte strings), a history of no variety."""
        return Tape(self._draw(st.binary(min_size=size, max_size=size)))


class Tape(Choices):
    """Choices read from one drawn byte string: exact times, tool names, markers' random part,
    optional thinking, progress and noise. One draw instead of hundreds keeps examples cheap;
    the shrinker zeroes bytes, and a zero byte is the simplest choice (the shortest gap, the
    first option, no extra event). Past its end a tape reads zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def randint(self, low: int, high: int) -> int:
        span = high - low + 1
        size = max(1, (span - 1).bit_length() + 7 >> 3)
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return low + int.from_bytes(chunk.ljust(size, b"\0"), "big") % span


@dataclass
class Step:
    type: str
    agent: str
    details: dict[str, Any]


@dataclass
class Entry:
    t: float
    user: str
    kind: str  # login, open, send, recv, raw, close
    frame: Any = None
    req: "Req | None" = None
    role: str = ""  # event, batch, echo, noise, welcome, request
    step: Step | None = None


@dataclass
class Req:
    user: str
    n: int
    family: str
    marker: str
    text: str
    run: str
    thread: str
    send: Entry | None = None
    events: list[Entry] = field(default_factory=list)
    outcome: str = "ok"  # ok, error, open
    echo: Entry | None = None

    @property
    def req_id(self) -> str:
        return f"{self.user}-r{self.n}"

    @property
    def final_t(self) -> float:
        return self.events[-1].t if self.events else (self.send.t if self.send else 0.0)


@dataclass
class Model:
    users: list[str]
    entries: list[Entry]
    reqs: list[Req]
    end_t: float
    seed: int = 0

    def __repr__(self) -> str:
        """A short summary: Hypothesis prints it for a failing example (the test notes the full
        history lines beside it)."""
        reqs = ", ".join(f"{r.req_id}:{r.family}/{r.outcome}/{len(r.events)}ev" for r in self.reqs)
        extra = sorted({e.role for e in self.entries} - {"event", "batch", "echo", "noise", "welcome", "request", ""})
        return f"Model(users={len(self.users)}, reqs=[{reqs}], injected={extra}, end_t={self.end_t:.4f})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis would print a dataclass field by field (all entries)

    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"kind": "meta", "schema": "xtalk.history/1", "profile": "netra",
                                      "started_at": "2026-11-22T00:00:00Z", "scenario": "property",
                                      "seed": self.seed, "worker": "local"}]
        for e in sorted(self.entries, key=lambda e: e.t):
            conn = f"{e.user}-c1"
            t = round(e.t, 6)
            if e.kind == "login":
                out.append({"kind": "login", "t": t, "user": e.user, "identity": identity_of(e.user)})
            elif e.kind == "open":
                out.append({"kind": "open", "t": t, "user": e.user, "conn": conn, "engine": "main",
                            "url": "ws://127.0.0.1/ws?mode=main"})
            elif e.kind == "send":
                r = e.req
                assert r is not None
                out.append({"kind": "send", "t": t, "user": e.user, "conn": conn, "req": r.req_id,
                            "thread": r.thread, "marker": r.marker, "frame": e.frame})
            elif e.kind == "recv":
                out.append({"kind": "recv", "t": t, "user": e.user, "conn": conn, "frame": e.frame})
            elif e.kind == "raw":
                out.append({"kind": "recv", "t": t, "user": e.user, "conn": conn, "raw": e.frame})
            elif e.kind == "close":
                out.append({"kind": "close", "t": t, "user": e.user, "conn": conn, "code": 1011,
                            "reason": "internal error", "by": "server"})
        out.append({"kind": "end", "t": round(self.end_t, 6), "drain": 1.0})
        return out

    def lines(self) -> list[bytes]:
        return [orjson.dumps(r) for r in self.records()]


def render(step: Step, family: str, req: Req, t: float, user_id: str | None = None,
           alias: bool = False) -> dict[str, Any]:
    """One step of ``req``'s run in its envelope family; ``alias``: the emitter's thinking sent
    as ``reasoning``."""
    uid = user_id or identity_of(req.user)
    stamp = f"2026-11-22T00:00:{t:09.6f}Z"
    details = dict(step.details)
    if family in ("bridge", "bridge_payload"):
        frame: dict[str, Any] = {"type": step.type, "run_id": req.run}
        if step.type not in ("agent_error", "agent_death"):
            frame["user_id"] = uid
        frame["agent_name"] = step.agent
        frame["timestamp"] = stamp
        if "tool_name" in details:
            frame["tool_name"] = details["tool_name"]
        frame["data" if family == "bridge" else "payload"] = details
        return frame
    frame = {"timestamp": stamp, "critical": True, "type": step.type, "user_id": uid, "thread_id": req.thread,
             "run_id": req.run, "request_id": f"ws_req_{req.run}", "agent_name": step.agent, **details}
    if step.type == "agent_thinking" and alias:
        frame["type"] = "reasoning"  # the emitter's known alias
        frame["reasoning"] = frame.pop("thought", "")
    return frame


SAID, RUN = "<said>", "<run>"  # placeholders in a run's steps until its text and run id are drawn


def _steps(rng: Choices, req: Req) -> list[Step]:
    """The run's steps (their structure drawn from ``rng``), saying ``SAID`` where the request's
    text may be echoed and ``RUN`` where the run id goes; ``_say`` fills them in."""
    said = SAID
    calls = iter(range(100))
    steps = [Step("agent_started", "supervisor", {"status": "started"}),
             Step("agent_thinking", "supervisor", {"thought": f"Reading: {said}"})]

    def tools(agent: str, k: int) -> list[Step]:
        out = []
        for _ in range(k):
            call = next(calls)
            name = TOOLS[(req.n + call) % len(TOOLS)]  # names vary between runs; nothing leans on them
            ex = f"exec_{RUN}_{call}"
            out.append(Step("tool_executing", agent, {"tool_name": name, "execution_id": ex, "parameters": {"q": said}}))
            out.append(Step("tool_completed", agent, {"tool_name": name, "execution_id": ex,
                                                      "results": {"rows": (req.n * 7 + call) % 10}}))
        return out

    subs = rng.choice((0, 1, 2))
    if subs == 0:
        steps += tools("supervisor", rng.choice((0, 1, 2)))
    for i in range(subs):
        name = ("triage", "analyst")[i]
        steps.append(Step("agent_started", name, {"status": "started"}))
        if rng.chance(0.6):
            steps.append(Step("agent_thinking", name, {"thought": f"{name} step {i}"}))
        steps += tools(name, rng.choice((0, 1, 2)))
        steps.append(Step("agent_completed", name, {"status": "completed"}))
    if rng.chance(0.5):
        steps.append(Step("agent_thinking", "supervisor", {"thought": "summing up"}))
    if req.outcome == "error":
        cut = rng.randint(1, len(steps))
        steps = steps[:cut] + [Step("agent_error", "supervisor", {"error_message": "tool timed out",
                                                                  "error_context": {}})]
    else:
        steps.append(Step("agent_completed", "supervisor", {"status": "completed", "final_response": f"Done: {said}"}))
    return steps


def _say(steps: list[Step], req: Req, echo: bool) -> None:
    """Fill in the run id, and the request's text (its marker with it) or, with ``echo`` off,
    words that quote nothing."""
    said = req.text if echo else "your request"

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(SAID, said).replace(RUN, req.run)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    for step in steps:
        step.details = fill(step.details)


def generate(rng: Draws, *, max_users: int = 6, allow_open: bool = True, allow_error: bool = True) -> Model:
    """A correct server's history: the structure from ``rng``'s draws, the details of each
    request (times, names, noise) from a tape of its own, so that one request's details shrink
    without moving another's."""
    n = rng.randint(2, max_users)
    users = [f"u{i:04d}" for i in range(n)]
    entries: list[Entry] = []
    reqs: list[Req] = []
    counter = 0
    last_t = 0.0
    for i, u in enumerate(users):
        t = 0.1 + i * 0.01
        entries.append(Entry(t, u, "login"))
        entries.append(Entry(t + 0.001, u, "open"))
        entries.append(Entry(t + 0.002, u, "recv", {"type": "connection_established", "data": {
            "mode": "main", "user_id": identity_of(u)[:8] + "...", "connection_id": f"main_{u}"},
            "timestamp": 1758196800.0}, role="welcome"))
    for i, u in enumerate(users):
        k = rng.randint(1, 3)
        t = 1.0
        for j in range(k):
            counter += 1
            outcome = "ok"
            if not (i == 0 and j == 0):  # one request surely completes
                # about 20 % of last requests still open at the end, 10 % of the rest failing
                open_ = ("open",) * 2 if allow_open and j == k - 1 else ()
                outcome = rng.choice(("ok",) * (8 - len(open_)) + open_ + (("error",) if allow_error else ("ok",)))
            req = Req(u, counter, rng.choice(FAMILIES), "", "", "", f"thread_{u}", outcome=outcome)
            steps = _steps(rng, req)
            if outcome == "open":
                steps = steps[: rng.randint(0, len(steps) - 1)]
            fine = rng.tape(HEAD + PER_EVENT * len(steps))
            batched = fine.chance(0.15)  # thinking after the first sent in event_batch frames
            if j == 0:
                t += fine.uniform(0.0, 0.004)  # every first request in flight together
            req.marker = f"xtm-{counter:04x}{fine.bits(48):012x}"  # unique however it shrinks
            req.text = f"Summarise spend for {u} #{j} [{req.marker}]"
            req.run = f"run_{counter:04d}_{fine.bits(16):04x}"
            _say(steps, req, echo=not fine.chance(0.3))
            text = req.text
            verb = "start_agent" if j == 0 else "user_message"
            payload: dict[str, Any] = ({"user_request": text, "thread_id": req.thread, "context":
                                        {"source": "message_input"}, "settings": {}} if j == 0 else
                                       {"content": text, "references": [], "thread_id": req.thread})
            req.send = Entry(t, u, "send", {"type": verb, "payload": payload}, req, "request")
            entries.append(req.send)
            t += fine.uniform(0.005, 0.3)
            for s_i, step in enumerate(steps):
                if batched and step.type == "agent_thinking" and s_i > 0:
                    frame = {"type": "event_batch", "batch_id": f"batch_{req.run}_{s_i}", "events": {
                        "agent_thinking": [{"run_id": req.run, "user_id": identity_of(u),
                                            "reasoning": step.details.get("thought", "")}]}}
                    e = Entry(t, u, "recv", frame, req, "batch", step)
                else:
                    alias = req.family == "emitter" and step.type == "agent_thinking" and fine.chance(0.4)
                    e = Entry(t, u, "recv", render(step, req.family, req, t, alias=alias), req, "event", step)
                req.events.append(e)
                entries.append(e)
                if fine.chance(0.15):  # progress without a user id, inside the run
                    entries.append(Entry(t + 0.0005, u, "recv", {"type": "progress_update", "run_id": req.run,
                                                                  "agent_name": step.agent, "data": {"progress": 0.5}},
                                         req, "noise"))
                t += fine.uniform(0.001, 0.4)
            if outcome == "ok" and fine.chance(0.3):
                req.echo = Entry(req.final_t + 0.0007, u, "recv", {"type": "agent_completed", "payload": {
                    "response": f"Done: {text}", "thread_id": req.thread}}, req, "echo")
                entries.append(req.echo)
            reqs.append(req)
            last_t = max(last_t, t)
            if outcome == "open":
                break
            t = max(t, (req.echo.t if req.echo else req.final_t)) + fine.uniform(0.01, 1.0)
    noise = rng.tape(3 + 19 * len(users))
    for u in users:  # noise everywhere, between 0.5 s and the end
        for _ in range(noise.randint(0, 6)):
            t = noise.uniform(0.5, last_t)
            frame = noise.choice(({"type": "heartbeat", "data": {"connection_id": f"main_{u}", "timestamp": t,
                                                               "stats": {}}},
                                {"type": "pong", "data": {"timestamp": t, "user_id": identity_of(u)}, "timestamp": t},
                                {"type": "ack", "received_type": "typing", "user_id": identity_of(u),
                                 "status": "acknowledged", "timestamp": t}))
            entries.append(Entry(t, u, "recv", frame, None, "noise"))
    end_t = last_t + noise.uniform(0.1, 2.0)
    return Model(users, entries, reqs, end_t)


@st.composite
def models(draw: Callable[[st.SearchStrategy[Any]], Any], *, max_users: int = 6, allow_open: bool = True,
           allow_error: bool = True) -> Model:
    """Histories of a correct server (see the module docstring)."""
    return generate(Draws(draw), max_users=max_users, allow_open=allow_open, allow_error=allow_error)


@st.composite
def faulty(draw: Callable[[st.SearchStrategy[Any]], Any], fault: str | None) -> tuple[Model, str | None]:
    """A correct server's history with ``fault`` injected (None: none); the kind it must give
    (None also when the model had no place for the fault)."""
    rng = Draws(draw)
    model = generate(rng, allow_open=fault != "drop")
    return model, (FAULTS[fault](model, rng) if fault is not None else None)


# ---- faults: each returns the one kind it must produce, or None when it cannot apply -------

Fault = Callable[[Model, Draws], "str | None"]


def _events(model: Model, pred: Callable[[Req], bool] = lambda r: True, role: str = "event") -> list[Entry]:
    return [e for r in model.reqs if pred(r) for e in r.events if e.role == role]


def _insert(model: Model, entry: Entry) -> None:
    model.entries.append(entry)
    model.end_t = max(model.end_t, entry.t + 0.1)


def leak(model: Model, rng: Draws) -> str | None:
    """One event of A's run is also delivered to B."""
    cands = [e for e in _events(model, lambda r: r.outcome != "open") if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    other = rng.choice([u for u in model.users if u != e.user])
    _insert(model, Entry(e.t + rng.uniform(0.0001, 0.5), other, "recv", copy.deepcopy(e.frame), None, "leak"))
    return "cross_user_event"


def content(model: Model, rng: Draws) -> str | None:
    """B's own thinking quotes A's request text, marker included (A's request long answered)."""
    pairs = []
    for e in _events(model, lambda r: r.outcome != "open"):
        if e.step is None or e.step.type not in ("agent_thinking", "agent_completed") or e.step.agent != "supervisor":
            continue
        donors = [r for r in model.reqs if r.user != e.user and r.outcome != "open" and r.final_t < e.t]
        if donors:
            pairs.append((e, donors))
    if not pairs:
        return None
    e, donors = rng.choice(pairs)
    donor = rng.choice(donors)
    quote = f" (as in: {donor.text})"
    body = e.frame.get("data") or e.frame.get("payload") or e.frame
    key = next(k for k in ("thought", "reasoning", "final_response", "status") if k in body)
    body[key] += quote
    return "cross_user_content"


def stamp_nobody(model: Model, rng: Draws) -> str | None:
    """One event stamped with a user id that is nobody's in the run (demo mode, relaxed mode)."""
    cands = [e for e in _events(model) if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    e.frame["user_id"] = rng.choice(("demo-user-001", f"relaxed_{rng.randint(0, 9999)}"))
    return "identity_mismatch"


def stamp_other(model: Model, rng: Draws) -> str | None:
    """One event of B's own run stamped with another harness user's id (A's user id on B's line)."""
    cands = [e for e in _events(model) if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    e.frame["user_id"] = identity_of(rng.choice([u for u in model.users if u != e.user]))
    return "cross_user_event"


def phantom(model: Model, rng: Draws) -> str | None:
    """An event of a run nobody asked for, to a user who has not asked anything yet."""
    u = rng.choice(model.users)
    frame = {"type": "agent_thinking", "run_id": f"run_ghost_{rng.bits(32):08x}", "user_id": identity_of(u),
             "agent_name": "supervisor", "timestamp": "2026-11-22T00:00:00Z", "data": {"thought": "boo"}}
    _insert(model, Entry(rng.uniform(0.5, 0.99), u, "recv", frame, None, "phantom"))
    return "phantom_event"


def drop(model: Model, rng: Draws) -> str | None:
    """A user's last request loses its final events; the run ends past its deadline."""
    lasts = {r.user: r for r in model.reqs}
    cands = [r for r in lasts.values() if r.outcome != "open"]
    if any(r.outcome == "open" for r in model.reqs) or not cands:
        return None
    r = rng.choice(cands)
    keep = rng.randint(0, len(r.events) - 1)
    gone = {id(e) for e in r.events[keep:]}
    if r.echo is not None:
        gone.add(id(r.echo))
    model.entries = [e for e in model.entries if id(e) not in gone]
    r.events = r.events[:keep]
    assert r.send is not None
    model.end_t = max(model.end_t, r.send.t + DEADLINE + rng.uniform(0.5, 5.0))
    return "dropped_response"


def duplicate(model: Model, rng: Draws) -> str | None:
    """One event delivered twice to its user, the copy 1 ms to 2 s later (a retry)."""
    cands = [e for e in _events(model) if e.frame.get("run_id")]
    if not cands:
        return None
    e = rng.choice(cands)
    frame = copy.deepcopy(e.frame)
    if frame.get("critical") and rng.chance(0.5):
        frame["attempt"] = 2
    _insert(model, Entry(e.t + rng.uniform(0.001, 2.0), e.user, "recv", frame, e.req, "dup"))
    return "duplicate_event"


def swap_tools(model: Model, rng: Draws) -> str | None:
    """A tool call's completion arrives before its execution."""
    pairs = []
    for r in model.reqs:
        if r.outcome != "ok":
            continue
        for i, e in enumerate(r.events):
            if e.step is not None and e.step.type == "tool_executing":
                j = next(k for k in range(i + 1, len(r.events)) if r.events[k].step is not None
                         and r.events[k].step.type == "tool_completed"  # type: ignore[union-attr]
                         and r.events[k].step.details["execution_id"] == e.step.details["execution_id"])  # type: ignore[union-attr]
                pairs.append((r.events[i], r.events[j]))
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    a.frame, b.frame = b.frame, a.frame
    return "out_of_order"


def after_completion(model: Model, rng: Draws) -> str | None:
    """One more thinking event of a run after its final event."""
    cands = [r for r in model.reqs if r.outcome in ("ok", "error")]
    if not cands:
        return None
    r = rng.choice(cands)
    t = r.final_t + rng.uniform(0.002, 1.0)
    frame = render(Step("agent_thinking", "supervisor", {"thought": "one more thing"}), r.family, r, t,
                   alias=r.family == "emitter" and rng.chance(0.4))
    _insert(model, Entry(t, r.user, "recv", frame, r, "late"))
    return "event_after_completion"


def mix_envelope(model: Model, rng: Draws) -> str | None:
    """One event of a run sent through another emitter path."""
    cands = [(r, e) for r in model.reqs for e in r.events[1:] if e.role == "event" and e.step is not None
             and e.step.type not in ("agent_error", "agent_death")]  # errors come through the bridge anyway
    cands = [(r, e) for r, e in cands if any(x.role == "event" for x in r.events[: r.events.index(e)])]
    if not cands:
        return None
    r, e = rng.choice(cands)
    assert e.step is not None
    e.frame = render(e.step, rng.choice([f for f in FAMILIES if f != r.family]), r, e.t)
    return "mixed_engine_run"


def corrupt(model: Model, rng: Draws) -> str | None:
    """A frame that is not JSON (truncated) reaches a user."""
    source = rng.choice(model.entries)
    text = orjson.dumps(source.frame if source.frame is not None else {"type": "heartbeat"}).decode()
    u = rng.choice(model.users)
    _insert(model, Entry(rng.uniform(0.5, model.end_t - 0.1), u, "raw", text[: max(1, len(text) // 2)], None, "raw"))
    return "protocol_error"


def server_close(model: Model, rng: Draws) -> str | None:
    """The server closes a user's connection (1011) while one of its requests is in flight."""
    cands = [r for r in model.reqs if r.events and r.send is not None]
    if not cands:
        return None
    r = rng.choice(cands)
    assert r.send is not None
    times = [r.send.t] + [e.t for e in r.events]
    i = rng.randrange(len(times) - 1) if len(times) > 1 else 0
    tc = (times[i] + times[i + 1]) / 2 if len(times) > 1 else r.send.t + 0.001
    model.entries = [e for e in model.entries if not (e.user == r.user and e.t > tc)]
    _insert(model, Entry(tc, r.user, "close", None, r, "close"))
    return "connection_lost"


def lose_tool_completion(model: Model, rng: Draws) -> str | None:
    """A finished run lacks one tool_completed."""
    cands = [e for e in _events(model, lambda r: r.outcome == "ok")
             if e.step is not None and e.step.type == "tool_completed"]
    if not cands:
        return None
    e = rng.choice(cands)
    model.entries.remove(e)
    return "incomplete_run"


FAULTS: dict[str, Fault] = {
    "leak": leak,
    "content": content,
    "stamp_nobody": stamp_nobody,
    "stamp_other": stamp_other,
    "phantom": phantom,
    "drop": drop,
    "duplicate": duplicate,
    "swap_tools": swap_tools,
    "after_completion": after_completion,
    "mix_envelope": mix_envelope,
    "corrupt": corrupt,
    "server_close": server_close,
    "lose_tool_completion": lose_tool_completion,
}
