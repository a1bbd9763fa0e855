"""History lines → typed records; a line the checker cannot use never raises."""

from __future__ import annotations

from typing import Any

import pytest

from xtalk.core.records import Close, End, Login, Malformed, Meta, Open, Other, Recv, Send, parse_record


def test_each_kind_of_the_spec_parses_to_its_record() -> None:
    assert isinstance(parse_record({"kind": "meta", "schema": "xtalk.history/1", "profile": "netra"}, 1), Meta)
    assert parse_record({"kind": "login", "t": 0.1, "user": "u1", "identity": "id1"}, 2) == Login(2, 0.1, "u1", "id1")
    opened = parse_record({"kind": "open", "t": 0.2, "user": "u1", "conn": "u1-c1", "engine": "main",
                           "url": "ws://x/ws"}, 3)
    assert isinstance(opened, Open) and opened.engine == "main"
    sent = parse_record({"kind": "send", "t": 1, "user": "u1", "conn": "u1-c1", "req": "u1-r1", "thread": None,
                         "marker": "xtm-1", "frame": {"type": "start_agent"}}, 4)
    assert isinstance(sent, Send) and sent.req == "u1-r1" and sent.thread is None and sent.marker == "xtm-1"
    got = parse_record({"kind": "recv", "t": 1.5, "user": "u1", "conn": "u1-c1", "frame": {"type": "pong"}}, 5, "T")
    assert isinstance(got, Recv) and got.frame == {"type": "pong"} and got.text == "T"
    raw = parse_record({"kind": "recv", "t": 1.6, "user": "u1", "conn": "u1-c1", "raw": "{oops"}, 6)
    assert isinstance(raw, Recv) and raw.frame is None and raw.raw == "{oops"
    closed = parse_record({"kind": "close", "t": 2, "user": "u1", "conn": "u1-c1", "code": 1011, "reason": "",
                           "by": "server"}, 7)
    assert isinstance(closed, Close) and closed.code == 1011 and closed.by == "server"
    assert parse_record({"kind": "end", "t": 9, "drain": 3}, 8) == End(8, 9.0, 3.0)


def test_a_ping_is_a_send_without_a_request() -> None:
    sent = parse_record({"kind": "send", "t": 1, "user": "u1", "conn": "c", "req": None, "frame": {"type": "ping"}}, 1)
    assert isinstance(sent, Send) and sent.req is None


def test_a_recv_of_json_null_is_a_frame_not_raw_text() -> None:
    got = parse_record({"kind": "recv", "t": 1, "user": "u1", "conn": "c", "frame": None}, 1)
    assert isinstance(got, Recv) and got.raw is None


def test_records_of_unknown_kinds_are_ignored() -> None:
    assert isinstance(parse_record({"kind": "annotation", "t": 1, "note": "hi"}, 1), Other)


@pytest.mark.parametrize("obj", [
    [1, 2], "text", None,
    {"kind": "login", "user": "u1", "identity": "x"},  # no t
    {"kind": "login", "t": "soon", "user": "u1", "identity": "x"},
    {"kind": "login", "t": True, "user": "u1", "identity": "x"},
    {"kind": "login", "t": 1, "identity": "x"},  # no user
    {"kind": "login", "t": 1, "user": "u1"},  # no identity
    {"kind": "open", "t": 1, "user": "u1"},  # no conn
    {"kind": "end"},
])
def test_a_line_the_checker_cannot_use_is_malformed_and_never_raises(obj: Any) -> None:
    assert isinstance(parse_record(obj, 1), Malformed)
