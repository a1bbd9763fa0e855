"""A simulated correct Netra-like server, and single faults to inject into its histories.

``generate(rng, ...)`` builds the history of a correct server: 2–6 users, each logged in with
one connection, sending 1–3 requests one after another (the first requests of all users in flight
together), answered in one envelope family per request (bridge with ``data`` or ``payload``, or
the emitter), with sub-agents, tool calls, thinking sometimes batched or sent as ``reasoning``,
``agent_error`` outcomes, the misc completion echo, progress updates without user ids, heartbeats
and pongs everywhere, and the last request of a user sometimes still in flight at the end (before
its deadline). Every event is delivered once, to the user who asked, in its legal order.

Each ``FAULTS`` entry takes the model and a random source, changes exactly one thing a broken
server would do, and returns the anomaly kind the checker must report (once), or ``None`` when
the model offers no place for that fault.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.histories import identity_of

DEADLINE = 30.0
FAMILIES = ("bridge", "bridge_payload", "emitter")


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


def render(step: Step, family: str, req: Req, t: float, user_id: str | None = None) -> dict[str, Any]:
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
    if step.type == "agent_thinking" and random.Random(t).random() < 0.4:
        frame["type"] = "reasoning"  # the emitter's known alias
        frame["reasoning"] = frame.pop("thought", "")
    return frame


def _steps(rng: random.Random, req: Req, echo_marker: bool) -> list[Step]:
    said = req.text if echo_marker else "your request"
    calls = iter(range(100))
    steps = [Step("agent_started", "supervisor", {"status": "started"}),
             Step("agent_thinking", "supervisor", {"thought": f"Reading: {said}"})]

    def tools(agent: str, k: int) -> list[Step]:
        out = []
        for _ in range(k):
            ex = f"exec_{req.run}_{next(calls)}"
            name = rng.choice(("search", "sql", "cost_model"))
            out.append(Step("tool_executing", agent, {"tool_name": name, "execution_id": ex, "parameters": {"q": said}}))
            out.append(Step("tool_completed", agent, {"tool_name": name, "execution_id": ex,
                                                      "results": {"rows": rng.randint(0, 9)}}))
        return out

    subs = rng.choice((0, 0, 1, 2))
    if subs == 0:
        steps += tools("supervisor", rng.choice((0, 1, 1, 2)))
    for i in range(subs):
        name = ("triage", "analyst")[i]
        steps.append(Step("agent_started", name, {"status": "started"}))
        if rng.random() < 0.6:
            steps.append(Step("agent_thinking", name, {"thought": f"{name} step {i}"}))
        steps += tools(name, rng.choice((0, 1, 2)))
        steps.append(Step("agent_completed", name, {"status": "completed"}))
    if rng.random() < 0.5:
        steps.append(Step("agent_thinking", "supervisor", {"thought": "summing up"}))
    if req.outcome == "error":
        cut = rng.randint(1, len(steps))
        steps = steps[:cut] + [Step("agent_error", "supervisor", {"error_message": "tool timed out",
                                                                  "error_context": {}})]
    else:
        steps.append(Step("agent_completed", "supervisor", {"status": "completed", "final_response": f"Done: {said}"}))
    return steps


def generate(rng: random.Random, *, n_users: int | None = None, allow_open: bool = True,
             allow_error: bool = True) -> Model:
    n = n_users or rng.randint(2, 6)
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
        t = 1.0 + rng.uniform(0.0, 0.004)  # every first request in flight together
        k = rng.randint(1, 3)
        for j in range(k):
            counter += 1
            outcome = "ok"
            if not (i == 0 and j == 0):  # one request surely completes
                if allow_open and j == k - 1 and rng.random() < 0.2:
                    outcome = "open"
                elif allow_error and rng.random() < 0.1:
                    outcome = "error"
            marker = f"xtm-{rng.getrandbits(64):016x}"
            text = f"Summarise spend for {u} #{j} [{marker}]"
            req = Req(u, counter, rng.choice(FAMILIES), marker, text, f"run_{counter:04d}_{rng.getrandbits(16):04x}",
                      f"thread_{u}", outcome=outcome)
            verb = "start_agent" if j == 0 else "user_message"
            payload: dict[str, Any] = ({"user_request": text, "thread_id": req.thread, "context":
                                        {"source": "message_input"}, "settings": {}} if j == 0 else
                                       {"content": text, "references": [], "thread_id": req.thread})
            req.send = Entry(t, u, "send", {"type": verb, "payload": payload}, req, "request")
            entries.append(req.send)
            steps = _steps(rng, req, echo_marker=rng.random() < 0.7)
            if outcome == "open":
                steps = steps[: rng.randint(0, len(steps) - 1)]
            t += rng.uniform(0.005, 0.3)
            batched = rng.random() < 0.15
            for s_i, step in enumerate(steps):
                if batched and step.type == "agent_thinking" and s_i > 0:
                    frame = {"type": "event_batch", "batch_id": f"batch_{req.run}_{s_i}", "events": {
                        "agent_thinking": [{"run_id": req.run, "user_id": identity_of(u),
                                            "reasoning": step.details.get("thought", "")}]}}
                    e = Entry(t, u, "recv", frame, req, "batch", step)
                else:
                    e = Entry(t, u, "recv", render(step, req.family, req, t), req, "event", step)
                req.events.append(e)
                entries.append(e)
                if rng.random() < 0.15:  # progress without a user id, inside the run
                    entries.append(Entry(t + 0.0005, u, "recv", {"type": "progress_update", "run_id": req.run,
                                                                  "agent_name": step.agent, "data": {"progress": 0.5}},
                                         req, "noise"))
                t += rng.uniform(0.001, 0.4)
            if outcome == "ok" and rng.random() < 0.3:
                req.echo = Entry(req.final_t + 0.0007, u, "recv", {"type": "agent_completed", "payload": {
                    "response": f"Done: {text}", "thread_id": req.thread}}, req, "echo")
                entries.append(req.echo)
            reqs.append(req)
            last_t = max(last_t, t)
            if outcome == "open":
                break
            t = max(t, (req.echo.t if req.echo else req.final_t)) + rng.uniform(0.01, 1.0)
    for u in users:  # noise everywhere, between 0.5 s and the end
        for _ in range(rng.randint(0, 6)):
            t = rng.uniform(0.5, last_t)
            frame = rng.choice(({"type": "heartbeat", "data": {"connection_id": f"main_{u}", "timestamp": t,
                                                               "stats": {}}},
                                {"type": "pong", "data": {"timestamp": t, "user_id": identity_of(u)}, "timestamp": t},
                                {"type": "ack", "received_type": "typing", "user_id": identity_of(u),
                                 "status": "acknowledged", "timestamp": t}))
            entries.append(Entry(t, u, "recv", frame, None, "noise"))
    end_t = last_t + rng.uniform(0.1, 2.0)
    return Model(users, entries, reqs, end_t)


# ---- faults: each returns the one kind it must produce, or None when it cannot apply -------

Fault = Callable[[Model, random.Random], "str | None"]


def _events(model: Model, pred: Callable[[Req], bool] = lambda r: True, role: str = "event") -> list[Entry]:
    return [e for r in model.reqs if pred(r) for e in r.events if e.role == role]


def _insert(model: Model, entry: Entry) -> None:
    model.entries.append(entry)
    model.end_t = max(model.end_t, entry.t + 0.1)


def leak(model: Model, rng: random.Random) -> str | None:
    """One event of A's run is also delivered to B."""
    cands = [e for e in _events(model, lambda r: r.outcome != "open") if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    other = rng.choice([u for u in model.users if u != e.user])
    _insert(model, Entry(e.t + rng.uniform(0.0001, 0.5), other, "recv", copy.deepcopy(e.frame), None, "leak"))
    return "cross_user_event"


def content(model: Model, rng: random.Random) -> str | None:
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


def stamp_nobody(model: Model, rng: random.Random) -> str | None:
    """One event stamped with a user id that is nobody's in the run (demo mode, relaxed mode)."""
    cands = [e for e in _events(model) if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    e.frame["user_id"] = rng.choice(("demo-user-001", f"relaxed_{rng.randint(0, 9999)}"))
    return "identity_mismatch"


def stamp_other(model: Model, rng: random.Random) -> str | None:
    """One event of B's own run stamped with another harness user's id (A's user id on B's line)."""
    cands = [e for e in _events(model) if "user_id" in e.frame]
    if not cands:
        return None
    e = rng.choice(cands)
    e.frame["user_id"] = identity_of(rng.choice([u for u in model.users if u != e.user]))
    return "cross_user_event"


def phantom(model: Model, rng: random.Random) -> str | None:
    """An event of a run nobody asked for, to a user who has not asked anything yet."""
    u = rng.choice(model.users)
    frame = {"type": "agent_thinking", "run_id": f"run_ghost_{rng.getrandbits(32):08x}", "user_id": identity_of(u),
             "agent_name": "supervisor", "timestamp": "2026-11-22T00:00:00Z", "data": {"thought": "boo"}}
    _insert(model, Entry(rng.uniform(0.5, 0.99), u, "recv", frame, None, "phantom"))
    return "phantom_event"


def drop(model: Model, rng: random.Random) -> str | None:
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


def duplicate(model: Model, rng: random.Random) -> str | None:
    """One event delivered twice to its user, the copy 1 ms to 2 s later (a retry)."""
    cands = [e for e in _events(model) if e.frame.get("run_id")]
    if not cands:
        return None
    e = rng.choice(cands)
    frame = copy.deepcopy(e.frame)
    if frame.get("critical") and rng.random() < 0.5:
        frame["attempt"] = 2
    _insert(model, Entry(e.t + rng.uniform(0.001, 2.0), e.user, "recv", frame, e.req, "dup"))
    return "duplicate_event"


def swap_tools(model: Model, rng: random.Random) -> str | None:
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


def after_completion(model: Model, rng: random.Random) -> str | None:
    """One more thinking event of a run after its final event."""
    cands = [r for r in model.reqs if r.outcome in ("ok", "error")]
    if not cands:
        return None
    r = rng.choice(cands)
    t = r.final_t + rng.uniform(0.002, 1.0)
    frame = render(Step("agent_thinking", "supervisor", {"thought": "one more thing"}), r.family, r, t)
    _insert(model, Entry(t, r.user, "recv", frame, r, "late"))
    return "event_after_completion"


def mix_envelope(model: Model, rng: random.Random) -> str | None:
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


def corrupt(model: Model, rng: random.Random) -> str | None:
    """A frame that is not JSON (truncated) reaches a user."""
    source = rng.choice(model.entries)
    text = orjson.dumps(source.frame if source.frame is not None else {"type": "heartbeat"}).decode()
    u = rng.choice(model.users)
    _insert(model, Entry(rng.uniform(0.5, model.end_t - 0.1), u, "raw", text[: max(1, len(text) // 2)], None, "raw"))
    return "protocol_error"


def server_close(model: Model, rng: random.Random) -> str | None:
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


def lose_tool_completion(model: Model, rng: random.Random) -> str | None:
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
