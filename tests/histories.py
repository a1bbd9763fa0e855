"""A small builder for histories in tests, so that a test reads like the story it tells.

    h = History()
    h.user("alice").user("bob")                 # login + open, one connection each
    a = h.ask("alice", at=1.0)                  # send start_agent with a fresh marker
    h.answer(a, at=1.1)                         # the full clean run, events 10 ms apart
    h.end(at=40.0)
    verdict = h.check()

``answer`` sends the five events of a run with a sub-agent, echoing the request's marker in
thinking, tool and completion texts. ``frames(...)`` builds the events without sending them,
so a test can reorder, drop, copy or redirect them with ``recv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from xtalk.core.verdict import CheckConfig, Verdict
from xtalk.history import check_lines
from xtalk.profiles.netra import NETRA


@dataclass
class Ask:
    user: str
    conn: str
    req: str
    marker: str
    thread: str
    run: str
    t: float
    text: str


class History:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = [
            {"kind": "meta", "schema": "xtalk.history/1", "profile": "netra", "started_at": "2026-11-22T00:00:00Z",
             "scenario": "test", "seed": 1, "worker": "local"}
        ]
        self.identities: dict[str, str] = {}
        self.threads: dict[str, str] = {}
        self.conns: dict[str, str] = {}
        self.counter = 0
        self.t = 0.0

    # ---- plain records ------------------------------------------------------------------

    def _at(self, at: float | None) -> float:
        if at is not None:
            self.t = at
        else:
            self.t = round(self.t + 0.01, 6)
        return self.t

    def add(self, record: dict[str, Any]) -> "History":
        self.records.append(record)
        return self

    def user(self, name: str, *, identity: str | None = None, engine: str | None = "main",
             conn: str | None = None, at: float | None = None, welcome: bool = True) -> "History":
        t = self._at(at)
        identity = identity or f"id-{name}-0000-4000-8000-{abs(hash(name)) % 10**12:012d}"
        self.identities[name] = identity
        self.threads.setdefault(name, f"thread_{name}")
        self.add({"kind": "login", "t": t, "user": name, "identity": identity})
        self.open(name, conn=conn or f"{name}-c1", engine=engine, welcome=welcome)
        return self

    def open(self, name: str, *, conn: str, engine: str | None = "main", at: float | None = None,
             welcome: bool = True, welcome_id: str | None = None) -> "History":
        t = self._at(at)
        self.conns.setdefault(name, conn)
        self.add({"kind": "open", "t": t, "user": name, "conn": conn, "engine": engine, "url": "ws://127.0.0.1/ws"})
        if welcome:
            shown = welcome_id if welcome_id is not None else self.identities.get(name, "x" * 8)[:8] + "..."
            self.recv(name, {"type": "connection_established",
                             "data": {"mode": engine or "main", "user_id": shown, "connection_id": f"c_{conn}"}},
                      conn=conn)
        return self

    def recv(self, name: str, frame: Any, *, conn: str | None = None, at: float | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "recv", "t": t, "user": name, "conn": conn or self.conns[name], "frame": frame})

    def raw(self, name: str, text: str, *, at: float | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "recv", "t": t, "user": name, "conn": self.conns[name], "raw": text})

    def close(self, name: str, *, by: str = "server", code: int = 1011, at: float | None = None,
              conn: str | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "close", "t": t, "user": name, "conn": conn or self.conns[name], "code": code,
                         "reason": "", "by": by})

    def end(self, *, at: float | None = None, drain: float = 0.0) -> "History":
        t = self._at(at)
        return self.add({"kind": "end", "t": t, "drain": drain})

    # ---- requests and answers -----------------------------------------------------------

    def ask(self, name: str, *, at: float | None = None, text: str | None = None, conn: str | None = None,
            verb: str = "start_agent", marker: str | None = None, script: str | None = None) -> Ask:
        t = self._at(at)
        self.counter += 1
        n = self.counter
        marker = marker or f"xtm-{n:016x}"
        body = f"{text or f'Summarise spend for {name}'} [{marker}]"
        payload: dict[str, Any] = {"user_request": body, "thread_id": self.threads[name],
                                   "context": {"source": "message_input"}, "settings": {}}
        frame: dict[str, Any] = {"type": verb, "payload": payload}
        if script is not None:
            frame["script"] = script
        conn = conn or self.conns[name]
        ask = Ask(name, conn, f"{name}-r{n}", marker, self.threads[name], f"run_{n:04d}", t, body)
        self.add({"kind": "send", "t": t, "user": name, "conn": conn, "req": ask.req, "thread": ask.thread,
                  "marker": marker, "frame": frame})
        return ask

    def frames(self, ask: Ask, *, family: str = "bridge", user_id: str | None = None,
               run: str | None = None, tool: bool = True) -> list[dict[str, Any]]:
        """The events of a clean run with a sub-agent, in order."""
        uid = user_id or self.identities[ask.user]
        run = run or ask.run
        steps: list[tuple[str, dict[str, Any]]] = [
            ("agent_started", {"agent_name": "supervisor"}),
            ("agent_thinking", {"agent_name": "supervisor", "thought": f"Reading: {ask.text}"}),
            ("agent_started", {"agent_name": "analyst"}),
        ]
        if tool:
            steps += [
                ("tool_executing", {"agent_name": "analyst", "tool_name": "search", "execution_id": f"exec_{run}",
                                    "args": {"q": ask.text}}),
                ("tool_completed", {"agent_name": "analyst", "tool_name": "search", "execution_id": f"exec_{run}",
                                    "results": {"echo": ask.text}}),
            ]
        steps += [
            ("agent_completed", {"agent_name": "analyst"}),
            ("agent_completed", {"agent_name": "supervisor", "final_response": f"Done: {ask.text}"}),
        ]
        frames = []
        for i, (type_name, details) in enumerate(steps):
            if family == "bridge":
                frame = {"type": type_name, "run_id": run, "user_id": uid, "thread_id": ask.thread,
                         "agent_name": details.get("agent_name"), "timestamp": f"2026-11-22T00:00:{i:02d}Z",
                         "data": {k: v for k, v in details.items() if k != "agent_name"}}
            elif family == "emitter":
                frame = {"type": type_name, "critical": True, "run_id": run, "user_id": uid,
                         "thread_id": ask.thread, "request_id": f"ws_req_{run}",
                         "timestamp": f"2026-11-22T00:00:{i:02d}Z", **details}
            else:
                raise ValueError(family)
            frames.append(frame)
        return frames

    def answer(self, ask: Ask, *, at: float | None = None, gap: float = 0.01, to: str | None = None,
               **kwargs: Any) -> list[dict[str, Any]]:
        frames = self.frames(ask, **kwargs)
        start = at if at is not None else self.t + gap
        for i, frame in enumerate(frames):
            self.recv(to or ask.user, frame, at=round(start + i * gap, 6))
        return frames

    # ---- checking -----------------------------------------------------------------------

    def ordered(self) -> list[dict[str, Any]]:
        """The records in time order (a stable sort: records at one time keep their order)."""
        return sorted(self.records, key=lambda r: r.get("t", float("-inf")) if r["kind"] != "end" else float("inf"))

    def lines(self) -> list[bytes]:
        return [orjson.dumps(r) for r in self.ordered()]

    def check(self, **config: Any) -> Verdict:
        return check_lines(self.lines(), CheckConfig(profile=NETRA, **config))

    def line_of(self, predicate: Any) -> int:
        """1-based history line of the first record matching ``predicate(record)``."""
        for i, record in enumerate(self.ordered(), start=1):
            if predicate(record):
                return i
        raise LookupError("no such record")


def two_users_overlapping() -> tuple[History, Ask, Ask]:
    """alice and bob each ask once, in flight at the same time; nobody answered yet."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    return h, a, b
