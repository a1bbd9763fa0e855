"""Line soups: a correct server's history (``model.models()``) with lines dropped and others
inserted anywhere: repeated or mutated records, record-shaped objects whose fields hold
plausible ids or arbitrary JSON, arbitrary JSON values, and (``garbage=True``) arbitrary bytes
and records cut short. Every soup shrinks to the plain correct history, so a failing example
shrinks to the few inserted lines that matter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.histories import identity_of
from tests.property.model import Model, models

Draw = Callable[[st.SearchStrategy[Any]], Any]

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=4,
)
KINDS = ("meta", "login", "open", "send", "recv", "close", "end", "error", "annotation")
TYPES = ("agent_started", "agent_thinking", "reasoning", "tool_executing", "tool_completed", "agent_completed",
         "agent_error", "agent_death", "progress_update", "heartbeat", "pong", "ack", "connection_established",
         "system_message", "event_batch", "error", "error_message", "stream_chunk", "typing_indicator", "")


def _pools(model: Model) -> dict[str, st.SearchStrategy[Any]]:
    """Plausible values for each field (the model's own ids), or arbitrary JSON."""
    def either(values: list[Any]) -> st.SearchStrategy[Any]:
        return st.sampled_from(values) | JSON

    users = list(model.users) + ["zed"]
    return {
        "user": either(users),
        "conn": either([f"{u}-c1" for u in users]),
        "identity": either([identity_of(u) for u in users] + ["demo-user-001"]),
        "req": either([r.req_id for r in model.reqs] + ["zed-r1"]),
        "marker": either([r.marker for r in model.reqs] + ["", "xtm-"]),
        "thread": either([r.thread for r in model.reqs]),
        "run": either([r.run for r in model.reqs] + ["run_ghost"]),
        "t": st.floats(0.0, model.end_t + 1.0) | JSON,
        "text": either([r.text for r in model.reqs]),
    }


def _frames(p: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    body = st.fixed_dictionaries({}, optional={"thought": p["text"], "run_id": p["run"], "user_id": p["identity"],
                                               "thread_id": p["thread"], "event": st.sampled_from(TYPES)})
    frame = st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES) | JSON},
        optional={"run_id": p["run"], "user_id": p["identity"], "thread_id": p["thread"], "data": body | JSON,
                  "agent_name": st.sampled_from(["supervisor", "analyst"]) | JSON, "attempt": st.integers(0, 4),
                  "timestamp": JSON, "critical": st.booleans()},
    )
    return st.one_of(frame, st.fixed_dictionaries({"type": st.just("event_batch"),
                                                   "events": st.lists(frame, max_size=3) | JSON}), JSON)


def _records(p: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"kind": st.sampled_from(KINDS) | JSON},
        optional={"t": p["t"], "user": p["user"], "conn": p["conn"], "req": p["req"], "marker": p["marker"],
                  "frame": _frames(p), "raw": p["text"], "identity": p["identity"],
                  "by": st.sampled_from(["client", "server"]) | JSON, "drain": JSON, "schema": JSON},
    )


@st.composite
def _mutated(draw: Draw, base: list[bytes]) -> bytes:
    """A record of the history with one field replaced by arbitrary JSON, or removed."""
    record = orjson.loads(draw(st.sampled_from(base)))
    target = record
    if isinstance(record.get("frame"), dict) and draw(st.booleans()):
        target = record["frame"]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(JSON)
    return orjson.dumps(record)


@st.composite
def _cut(draw: Draw, base: list[bytes]) -> bytes:
    line = draw(st.sampled_from(base))
    return line[: draw(st.integers(0, max(0, len(line) - 1)))]


@st.composite
def line_soups(draw: Draw, *, garbage: bool = True) -> list[bytes]:
    model = draw(models(max_users=3))
    base = model.lines()
    p = _pools(model)
    extra = [st.sampled_from(base), _mutated(base), _records(p).map(orjson.dumps), JSON.map(orjson.dumps)]
    if garbage:
        extra += [st.binary(max_size=64).map(lambda b: b.replace(b"\n", b"")), _cut(base)]
    dropped = draw(st.sets(st.integers(0, len(base) - 1), max_size=4))
    lines = [line for i, line in enumerate(base) if i not in dropped]
    inserts = draw(st.lists(st.tuples(st.integers(0, len(lines)), st.one_of(extra)), max_size=6))
    for at, line in sorted(inserts, key=lambda x: -x[0]):
        lines.insert(at, line)
    return lines
