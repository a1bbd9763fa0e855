"""A small builder for histories in tests, so that a test reads like the story it tells.

    h = History()
    h.user("alice").user("bob")                 # login + open (+ welcome), one connection each
    a = h.ask("alice", at=1.0)                  # send start_agent with a fresh marker
    h.answer(a, at=1.1)                         # the full clean run, events 10 ms apart
    h.end(at=40.0)
    verdict = h.check()
    assert only(verdict) == {}                  # the non-zero anomaly counts

``answer`` sends the events of a run (by default: a supervisor and a sub-agent with one tool
call), echoing the request's marker in thinking, tool and completion texts. ``frames(...)``
builds the events without sending them, so a test can reorder, drop, copy or redirect them with
``recv``. Every record-adding call leaves the record in ``h.last``; ``h.line(record)`` is that
record's 1-based line in the history as checked (records are written in time order).

Identities are deterministic UUID-shaped strings (``identity_of(name)``), so two users never
share their first 8 characters unless a test asks for it.

Beyond whole runs: ``batch(items)`` wraps event frames in one ``event_batch`` (each item keeps its
own ids and contents), ``bare(frame)`` drops a frame's run id (or any other keys), ``retried``
re-sends a frame with a new time stamp and an attempt counter, ``deliver`` receives a list of
frames and returns their lines, ``history_line(bytes)`` puts a raw line (garbage, a torn record)
into the history, and ``torn_text``/``write`` give the history as a file's bytes, with its last
line cut if asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from xtalk.core.checker import CheckConfig  # the documented place (docs/ARCHITECTURE.md, "The core API")
from xtalk.history import check_files, check_lines
from xtalk.profiles.netra import NETRA

if TYPE_CHECKING:
    from xtalk.core.verdict import Verdict

RAW_LINE = "(raw line)"  # the kind of a builder entry that is a raw history line, not a record


def identity_of(name: str) -> str:
    """A stable UUID-shaped user id for a harness user name (the token's ``sub``)."""
    h = hashlib.sha256(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def only(verdict: Verdict) -> dict[str, int]:
    """The anomaly kinds with a non-zero count."""
    return {k: n for k, n in verdict.to_dict()["anomalies"].items() if n}


def witnesses(verdict: Verdict, kind: str) -> list[list[int]]:
    return [f["witness"] for f in verdict.to_dict()["findings"] if f["kind"] == kind]


def findings(verdict: Verdict, kind: str | None = None) -> list[dict[str, Any]]:
    """The verdict's findings (of one kind), as in verdict.json."""
    return [f for f in verdict.to_dict()["findings"] if kind is None or f["kind"] == kind]


def requests_of(verdict: Verdict) -> dict[str, int]:
    """verdict.json's ``requests`` counts (sent, completed, failed, unknown, dropped)."""
    return dict(verdict.to_dict()["requests"])


def bare(frame: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A copy of ``frame`` without ``keys`` (default: its ``run_id``), wherever they are nested
    (top level, ``data``, ``payload``)."""
    keys = keys or ("run_id",)
    out = {k: v for k, v in frame.items() if k not in keys}
    for nest in ("data", "payload"):
        if isinstance(out.get(nest), dict):
            out[nest] = {k: v for k, v in out[nest].items() if k not in keys}
    return out


def retried(frame: dict[str, Any], attempt: int = 2, stamp: str | None = None) -> dict[str, Any]:
    """``frame`` re-sent as a retry (NETRA_PROTOCOL §5): the same event with a higher ``attempt``
    counter and, if given, a new time stamp."""
    out = {**frame, "attempt": attempt}
    if stamp is not None:
        out["timestamp"] = stamp
    return out


TEXT_KEYS = ("thought", "reasoning", "final_response", "response", "task_description")


def saying(frame: dict[str, Any], text: str) -> dict[str, Any]:
    """A copy of ``frame`` whose own text (thinking, answer, task) is ``text``, wherever its
    envelope keeps it (top level, ``data``, ``payload``); the ids stay as they are."""
    out = orjson.loads(orjson.dumps(frame))
    for body in (out, out.get("data"), out.get("payload")):
        if isinstance(body, dict):
            for key in TEXT_KEYS:
                if key in body:
                    body[key] = text
                    return out
    raise LookupError(f"no text field in {frame.get('type')} frame")


def batch(items: list[dict[str, Any]], *, form: str = "dict", batch_id: str = "batch_1") -> dict[str, Any]:
    """One ``event_batch`` frame carrying ``items`` (event frames, each with its own ids and text).
    ``form="dict"``: ``{"events": {type: [item without its type, ...]}}``, grouped by type in order of
    first appearance; ``form="list"``: ``{"events": [whole frames]}``."""
    if form == "list":
        return {"type": "event_batch", "batch_id": batch_id, "events": [dict(i) for i in items]}
    if form != "dict":
        raise ValueError(form)
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item["type"], []).append({k: v for k, v in item.items() if k != "type"})
    return {"type": "event_batch", "batch_id": batch_id, "events": groups}


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
    record: dict[str, Any]


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
        self.last: dict[str, Any] = self.records[0]

    # ---- plain records ------------------------------------------------------------------

    def _at(self, at: float | None) -> float:
        if at is not None:
            self.t = at
        else:
            self.t = round(self.t + 0.01, 6)
        return self.t

    def add(self, record: dict[str, Any]) -> "History":
        self.records.append(record)
        self.last = record
        return self

    def login(self, name: str, *, identity: str | None = None, at: float | None = None) -> "History":
        t = self._at(at)
        identity = identity or identity_of(name)
        self.identities[name] = identity
        self.threads.setdefault(name, f"thread_{name}")
        return self.add({"kind": "login", "t": t, "user": name, "identity": identity})

    def user(self, name: str, *, identity: str | None = None, engine: str | None = "main",
             conn: str | None = None, at: float | None = None, welcome: bool = True,
             welcome_id: str | None = None) -> "History":
        self.login(name, identity=identity, at=at)
        self.open(name, conn=conn or f"{name}-c1", engine=engine, welcome=welcome, welcome_id=welcome_id)
        return self

    def open(self, name: str, *, conn: str, engine: str | None = "main", at: float | None = None,
             welcome: bool = True, welcome_id: str | None = None, old_welcome: bool = False) -> "History":
        t = self._at(at)
        self.conns.setdefault(name, conn)
        self.add({"kind": "open", "t": t, "user": name, "conn": conn, "engine": engine, "url": "ws://127.0.0.1/ws"})
        if welcome:
            if old_welcome:
                shown = welcome_id if welcome_id is not None else self.identities.get(name, "x" * 36)
                frame: dict[str, Any] = {"type": "system_message",
                                         "data": {"event": "connection_established", "connection_id": f"c_{conn}",
                                                  "user_id": shown, "connection_ready": True}}
            else:
                shown = welcome_id if welcome_id is not None else self.identities.get(name, "x" * 8)[:8] + "..."
                frame = {"type": "connection_established",
                         "data": {"mode": engine or "main", "user_id": shown, "connection_id": f"c_{conn}"},
                         "timestamp": 1758196800.0}
            self.recv(name, frame, conn=conn)
        return self

    def recv(self, name: str, frame: Any, *, conn: str | None = None, at: float | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "recv", "t": t, "user": name, "conn": conn or self.conns[name], "frame": frame})

    def raw(self, name: str, text: str, *, at: float | None = None, conn: str | None = None,
            binary: bool = False) -> "History":
        t = self._at(at)
        record: dict[str, Any] = {"kind": "recv", "t": t, "user": name, "conn": conn or self.conns[name], "raw": text}
        if binary:
            record["binary"] = True
        return self.add(record)

    def ping(self, name: str, *, at: float | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "send", "t": t, "user": name, "conn": self.conns[name], "req": None,
                         "thread": None, "marker": None, "frame": {"type": "ping"}})

    def close(self, name: str, *, by: str = "server", code: int = 1011, at: float | None = None,
              conn: str | None = None) -> "History":
        t = self._at(at)
        return self.add({"kind": "close", "t": t, "user": name, "conn": conn or self.conns[name], "code": code,
                         "reason": "", "by": by})

    def end(self, *, at: float | None = None, drain: float = 0.0) -> "History":
        t = self._at(at)
        return self.add({"kind": "end", "t": t, "drain": drain})

    def history_line(self, data: bytes, *, at: float | None = None) -> "History":
        """A raw line of the history file itself (not a record the harness wrote: garbage, a cut
        record, a NUL byte), placed at time ``at`` among the records."""
        t = self._at(at)
        return self.add({"kind": RAW_LINE, "t": t, "bytes": data})

    # ---- requests and answers -----------------------------------------------------------

    def ask(self, name: str, *, at: float | None = None, text: str | None = None, conn: str | None = None,
            verb: str = "start_agent", marker: str | None = None, script: str | None = None,
            thread: str | None = None, with_marker: bool = True) -> Ask:
        t = self._at(at)
        self.counter += 1
        n = self.counter
        marker = (marker or f"xtm-{n:016x}") if with_marker else ""
        base = text or f"Summarise spend for {name}"
        body = f"{base} [{marker}]" if with_marker else base
        thread = thread or self.threads[name]
        frame: dict[str, Any]
        if verb == "user_message":
            frame = {"type": verb, "payload": {"content": body, "references": [], "thread_id": thread}}
        else:
            frame = {"type": verb, "payload": {"user_request": body, "thread_id": thread,
                                               "context": {"source": "message_input"}, "settings": {}}}
        if script is not None:
            frame["script"] = script
        conn = conn or self.conns[name]
        record = {"kind": "send", "t": t, "user": name, "conn": conn, "req": f"{name}-r{n}", "thread": thread,
                  "marker": marker or None, "frame": frame}
        self.add(record)
        return Ask(name, conn, f"{name}-r{n}", marker, thread, f"run_{n:04d}", t, body, record)

    def frames(self, ask: Ask, *, family: str = "bridge", user_id: str | None = None,
               run: str | None = None, tool: bool = True, sub: bool = True,
               echo: bool = True) -> list[dict[str, Any]]:
        """The events of a clean run, in order. ``sub``: a sub-agent runs inside the supervisor;
        ``echo``: the request's text (with its marker) is echoed in thinking, tools and the answer."""
        uid = user_id or self.identities[ask.user]
        run = run or ask.run
        said = ask.text if echo else "the request"
        inner = "analyst" if sub else "supervisor"
        steps: list[tuple[str, dict[str, Any]]] = [
            ("agent_started", {"agent_name": "supervisor"}),
            ("agent_thinking", {"agent_name": "supervisor", "thought": f"Reading: {said}"}),
        ]
        if sub:
            steps.append(("agent_started", {"agent_name": "analyst"}))
        if tool:
            steps += [
                ("tool_executing", {"agent_name": inner, "tool_name": "search", "execution_id": f"exec_{run}",
                                    "parameters": {"q": said}}),
                ("tool_completed", {"agent_name": inner, "tool_name": "search", "execution_id": f"exec_{run}",
                                    "results": {"echo": said}}),
            ]
        if sub:
            steps.append(("agent_completed", {"agent_name": "analyst"}))
        steps.append(("agent_completed", {"agent_name": "supervisor", "final_response": f"Done: {said}"}))
        frames = []
        for i, (type_name, details) in enumerate(steps):
            if family in ("bridge", "bridge_payload"):
                nest = "data" if family == "bridge" else "payload"
                frame = {"type": type_name, "run_id": run, "user_id": uid,
                         "agent_name": details.get("agent_name"), "timestamp": f"2026-11-22T00:00:{i:02d}Z",
                         nest: {k: v for k, v in details.items() if k != "agent_name"}}
                if "tool_name" in details:
                    frame["tool_name"] = details["tool_name"]
            elif family == "emitter":
                frame = {"type": type_name, "critical": True, "run_id": run, "user_id": uid,
                         "thread_id": ask.thread, "request_id": f"ws_req_{run}",
                         "timestamp": f"2026-11-22T00:00:{i:02d}Z", **details}
            else:
                raise ValueError(family)
            frames.append(frame)
        return frames

    def deliver(self, user: str, frames: list[dict[str, Any]], *, at: float, gap: float = 0.01,
                conn: str | None = None) -> list[int]:
        """Receive ``frames`` on ``user``'s connection, ``gap`` apart from ``at``; their lines (as
        the history stands now: a record added later at an earlier time moves them)."""
        records = []
        for i, frame in enumerate(frames):
            self.recv(user, frame, at=round(at + i * gap, 6), conn=conn)
            records.append(self.last)
        return [self.line(r) for r in records]

    def answer(self, ask: Ask, *, at: float | None = None, gap: float = 0.01, to: str | None = None,
               conn: str | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        frames = self.frames(ask, **kwargs)
        start = at if at is not None else self.t + gap
        for i, frame in enumerate(frames):
            self.recv(to or ask.user, frame, at=round(start + i * gap, 6), conn=conn)
        return frames

    # ---- checking -----------------------------------------------------------------------

    def ordered(self) -> list[dict[str, Any]]:
        """The records in time order (a stable sort: records at one time keep their order)."""
        return sorted(self.records, key=lambda r: r.get("t", float("-inf")) if r["kind"] != "end" else float("inf"))

    def lines(self) -> list[bytes]:
        return [r["bytes"] if r["kind"] == RAW_LINE else orjson.dumps(r) for r in self.ordered()]

    def text(self) -> bytes:
        return b"".join(line + b"\n" for line in self.lines())

    def torn_text(self, keep: float = 0.5) -> bytes:
        """The history file as a crash leaves it: the last line cut after ``keep`` of its bytes,
        with no line end after it."""
        lines = self.lines()
        last = lines[-1]
        return b"".join(line + b"\n" for line in lines[:-1]) + last[: max(1, int(len(last) * keep))]

    def write(self, path: Path, data: bytes | None = None) -> Path:
        """Write the history (or ``data``) to ``path``; returns the path."""
        path.write_bytes(self.text() if data is None else data)
        return path

    def check_file(self, path: Path, data: bytes | None = None) -> Verdict:
        """Write the history to ``path`` and check it as ``xtalk check`` does (``check_files``)."""
        return check_files([self.write(path, data)])

    def check(self, **config: Any) -> Verdict:
        return check_lines(self.lines(), CheckConfig(profile=NETRA, **config))

    def line(self, record: dict[str, Any]) -> int:
        """1-based history line of this very record."""
        for i, r in enumerate(self.ordered(), start=1):
            if r is record:
                return i
        raise LookupError("record not in the history")

    def line_of(self, predicate: Any) -> int:
        """1-based history line of the first record matching ``predicate(record)``."""
        for i, record in enumerate(self.ordered(), start=1):
            if predicate(record):
                return i
        raise LookupError("no such record")

    def recv_line(self, user: str, frame: Any) -> int:
        """Line of the first recv by ``user`` of a frame equal to ``frame``."""
        return self.line_of(lambda r: r["kind"] == "recv" and r["user"] == user and r.get("frame") == frame)


def two_users_overlapping() -> tuple[History, Ask, Ask]:
    """alice and bob each ask once, in flight at the same time; nobody answered yet."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    return h, a, b


def clean_pair(**answer: Any) -> tuple[History, Ask, Ask]:
    """alice and bob, overlapping, both answered cleanly; the end not yet written."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, **answer)
    h.answer(b, at=1.12, **answer)
    return h, a, b
