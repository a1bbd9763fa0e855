"""History records (``xtalk.history/1``) as typed values.

``parse_record`` turns one decoded JSON line into a record. It never raises: a line that is not a
record the checker understands becomes ``Malformed`` (the checker reports it as a broken
assumption), and a record of an unknown kind becomes ``Other`` (ignored, as SPEC allows).
Every record keeps its history line number; ``Recv`` also keeps the line's text so that content
markers are found with one pass over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from xtalk.core.ids import ConnId, Identity, Marker, ReqId, ThreadId, UserName

SCHEMA = "xtalk.history/1"


@dataclass(frozen=True, slots=True)
class Meta:
    line: int
    schema: str
    profile: str
    scenario: str | None
    worker: str | None
    started_at: str | None = None


@dataclass(frozen=True, slots=True)
class Login:
    line: int
    t: float
    user: UserName
    identity: Identity


@dataclass(frozen=True, slots=True)
class Open:
    line: int
    t: float
    user: UserName
    conn: ConnId
    engine: str | None
    probe: str | None = None  # an active probe opened this connection
    expect: str | None = None  # "refusal": the server must refuse it (expired token, over the limit)


@dataclass(frozen=True, slots=True)
class Send:
    line: int
    t: float
    user: UserName
    conn: ConnId
    req: ReqId | None  # None: a control message (ping), not an agent request
    thread: ThreadId | None
    marker: Marker | None
    frame: Any
    probe: str | None = None  # an active probe: an error answer is expected, silence acceptable
    script: str | None = None  # requests with one script (or matrix group) ask the same thing


@dataclass(frozen=True, slots=True)
class Recv:
    line: int
    t: float
    user: UserName
    conn: ConnId
    frame: Any  # the decoded JSON frame, or None when the server sent text that is not JSON
    raw: str | None
    text: str  # the history line, for one-pass marker scanning


@dataclass(frozen=True, slots=True)
class Close:
    line: int
    t: float
    user: UserName
    conn: ConnId
    code: int | None
    reason: str
    by: str  # "client" or "server"


@dataclass(frozen=True, slots=True)
class ClientError:
    """A harness-side failure the recorder noted (login refused, handshake failed, ...)."""

    line: int
    t: float
    user: UserName | None
    conn: ConnId | None
    phase: str
    detail: str


@dataclass(frozen=True, slots=True)
class End:
    line: int
    t: float
    drain: float
    interrupted: str | None = None  # the run was cut short (a signal): how, as its writer said


@dataclass(frozen=True, slots=True)
class Other:
    line: int
    kind: str


@dataclass(frozen=True, slots=True)
class Malformed:
    line: int
    reason: str


Record = Union[Meta, Login, Open, Send, Recv, Close, ClientError, End, Other, Malformed]


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _num(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def parse_record(obj: Any, line: int, text: str = "") -> Record:
    """One decoded history line → one record. Never raises."""
    if not isinstance(obj, dict):
        return Malformed(line, "a history line must be a JSON object")
    kind = obj.get("kind")
    if kind == "recv":  # the common case, first and without detours
        t, user, conn = obj.get("t"), obj.get("user"), obj.get("conn")
        if t.__class__ is float and user.__class__ is str and conn.__class__ is str and "frame" in obj:
            return Recv(line, t, UserName(user), ConnId(conn), obj["frame"], None, text)
    if kind == "meta":
        return Meta(
            line,
            _str(obj, "schema") or "",
            _str(obj, "profile") or "netra",
            _str(obj, "scenario"),
            _str(obj, "worker"),
            _str(obj, "started_at"),
        )
    if kind == "end":
        t = _num(obj, "t")
        if t is None:
            return Malformed(line, "an end record needs a numeric t")
        stop = obj.get("interrupted")
        interrupted = None if stop in (None, False) else stop if isinstance(stop, str) else "(its history's end record says so)"
        return End(line, t, _num(obj, "drain") or 0.0, interrupted)
    if kind not in ("login", "open", "send", "recv", "close", "error"):
        return Other(line, str(kind))
    t = _num(obj, "t")
    if t is None:
        return Malformed(line, f"a {kind} record needs a numeric t")
    user = _str(obj, "user")
    conn = _str(obj, "conn")
    if kind == "error":
        return ClientError(
            line,
            t,
            UserName(user) if user else None,
            ConnId(conn) if conn else None,
            _str(obj, "phase") or "unknown",
            _str(obj, "detail") or "",
        )
    if user is None:
        return Malformed(line, f"a {kind} record needs a user")
    if kind == "login":
        identity = _str(obj, "identity")
        if identity is None:
            return Malformed(line, "a login record needs an identity")
        return Login(line, t, UserName(user), Identity(identity))
    if conn is None:
        return Malformed(line, f"a {kind} record needs a conn")
    if kind == "open":
        return Open(line, t, UserName(user), ConnId(conn), _str(obj, "engine"), _str(obj, "probe"),
                    _str(obj, "expect"))
    if kind == "send":
        req = _str(obj, "req")
        thread = _str(obj, "thread")
        marker = _str(obj, "marker")
        return Send(
            line,
            t,
            UserName(user),
            ConnId(conn),
            ReqId(req) if req else None,
            ThreadId(thread) if thread else None,
            Marker(marker) if marker else None,
            obj.get("frame"),
            _str(obj, "probe"),
            _str(obj, "script") or _str(obj, "group"),
        )
    if kind == "recv":
        if "frame" in obj:
            return Recv(line, t, UserName(user), ConnId(conn), obj["frame"], None, text)
        raw = obj.get("raw")
        return Recv(line, t, UserName(user), ConnId(conn), None, "" if raw is None else str(raw), text)
    code = obj.get("code")
    return Close(
        line,
        t,
        UserName(user),
        ConnId(conn),
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        _str(obj, "reason") or "",
        _str(obj, "by") or "server",
    )
