"""protocol_error: frames that cannot be parsed or normalised, and error frames."""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import History, clean_pair, only, two_users_overlapping, witnesses


def _planted(kind: str, value: Any) -> tuple[History, int]:
    h, a, b = clean_pair()
    if kind == "raw":
        h.raw("bob", value, at=1.15)
    elif kind == "binary":
        h.raw("bob", value, at=1.15, binary=True)
    else:
        h.recv("bob", value, at=1.15)
    line = h.line(h.last)
    h.end(at=10.0)
    return h, line


@pytest.mark.parametrize(("kind", "value"), [
    ("raw", "not json at all"),
    ("raw", '{"type": "agent_thinking", "run_id": "run_00'),  # truncated mid-frame
    ("raw", ""),
    ("binary", "AAECAwQ="),
    ("frame", [1, 2, 3]),
    ("frame", ["agent_thinking", {"run_id": "run_0002"}]),
    ("frame", "agent_thinking"),
    ("frame", 42),
    ("frame", None),
    ("frame", {"run_id": "run_0002", "data": {"thought": "no type"}}),
    ("frame", {"type": None, "run_id": "run_0002"}),
    ("frame", {"type": "event_batch", "events": "garbage"}),
    ("frame", {"type": "error", "message": "internal error", "code": 500}),
    ("frame", {"type": "error_message", "error_code": "RATE_LIMITED", "error_message": "30 messages a minute"}),
], ids=["text", "truncated", "empty", "binary", "array", "array-of-event", "string", "number", "null", "no-type",
        "null-type", "bad-batch", "error", "error-message"])
def test_an_unparseable_frame_or_an_error_frame_is_a_protocol_error(kind: str, value: Any) -> None:
    h, line = _planted(kind, value)
    v = h.check()
    assert only(v) == {"protocol_error": 1}
    assert witnesses(v, "protocol_error") == [[line]]
    assert v.to_dict()["findings"][0]["user"] == "bob"


def test_frames_of_unknown_types_are_not_protocol_errors() -> None:
    h, a, b = clean_pair()
    h.recv("bob", {"type": "typing_indicator", "data": {}}, at=1.15)
    h.recv("bob", {"type": "user_presence", "users": 3}, at=1.16)
    assert only(h.end(at=10.0).check()) == {}


def test_an_error_frame_on_a_connection_a_probe_opened_is_its_answer_not_a_protocol_error() -> None:
    # The connection_limit probe opens extra connections; a server enforcing its limit refuses
    # them with an error frame. That is the answer a probe hopes for.
    h, a, b = two_users_overlapping()
    h.add({"kind": "open", "t": 1.02, "user": "alice", "conn": "alice-c9", "engine": "main",
           "url": "ws://127.0.0.1/ws", "probe": "connection_limit"})
    h.recv("alice", {"type": "error_message", "error_code": "CONNECTION_LIMIT_EXCEEDED", "details": {"limit": 3}},
           conn="alice-c9", at=1.03)
    h.close("alice", conn="alice-c9", code=1013, at=1.04)
    h.answer(a, at=1.1)
    h.answer(b, at=1.12)
    assert only(h.end(at=10.0).check()) == {}
