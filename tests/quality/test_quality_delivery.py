"""phantom_event, dropped_response, incomplete_run, connection_lost: requests without their
answer, answers without their request."""

from __future__ import annotations

from tests.histories import History, clean_pair, identity_of, only, two_users_overlapping, witnesses


def _ghost(run: str, user: str, kind: str = "agent_thinking") -> dict[str, object]:
    return {"type": kind, "run_id": run, "user_id": identity_of(user), "agent_name": "supervisor",
            "timestamp": "2026-11-22T00:00:09Z", "data": {"thought": "a run nobody asked for"}}


# ---- phantom_event -----------------------------------------------------------------------


def test_an_event_of_a_run_nobody_asked_for_is_a_phantom_event() -> None:
    h, a, b = clean_pair()
    h.recv("bob", _ghost("run_ghost", "bob"), at=3.0)  # bob's request finished at 1.18
    line = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"phantom_event": 1}
    assert witnesses(v, "phantom_event") == [[line]]


def test_a_whole_run_arriving_before_any_request_is_phantom() -> None:
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.recv("bob", {"type": "agent_started", "run_id": "run_x", "user_id": identity_of("bob"),
                   "agent_name": "supervisor", "data": {}}, at=0.5)
    h.recv("bob", {"type": "agent_completed", "run_id": "run_x", "user_id": identity_of("bob"),
                   "agent_name": "supervisor", "data": {}}, at=0.6)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    h.answer(b, at=1.12)
    v = h.end(at=10.0).check()
    assert only(v) == {"phantom_event": 2}


def test_a_phantom_run_interleaved_with_the_real_answer_is_the_phantom_not_the_answer() -> None:
    # bob asks; a run nobody asked for (no marker) starts and finishes while bob's real run, whose
    # thinking echoes bob's marker, is under way. The marker names bob's run; the other is phantom.
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    real = h.frames(b, sub=False, tool=False)  # started, thinking (marker), completed
    h.recv("bob", real[0], at=1.20)
    ghost_lines = []
    for i, kind in enumerate(("agent_started", "agent_thinking", "agent_completed")):
        h.recv("bob", _ghost("run_ghost", "bob", kind), at=round(1.21 + i * 0.01, 6))
        ghost_lines.append(h.line(h.last))
    h.recv("bob", real[1], at=1.30)
    h.recv("bob", real[2], at=1.31)
    v = h.end(at=10.0).check()
    assert only(v) == {"phantom_event": 3}
    assert sorted(w for ws in witnesses(v, "phantom_event") for w in ws) == ghost_lines


# ---- dropped_response --------------------------------------------------------------------


def test_a_request_without_a_final_event_by_its_deadline_on_an_open_connection_is_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    for frame in h.frames(b)[:3]:
        h.recv("bob", frame)
    v = h.end(at=40.0, drain=9.0).check()  # bob's deadline: 31.05
    assert only(v) == {"dropped_response": 1}
    assert witnesses(v, "dropped_response") == [[h.line(b.record)]]
    assert v.to_dict()["findings"][0]["user"] == "bob"


def test_a_request_with_no_event_at_all_past_its_deadline_is_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    v = h.end(at=40.0).check()
    assert only(v) == {"dropped_response": 1}


def test_the_scenarios_deadline_decides_what_is_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.end(at=10.0)
    assert only(h.check(deadline=5.0)) == {"dropped_response": 1}
    assert only(h.check(deadline=30.0)) == {}


def test_a_request_in_flight_at_the_end_before_its_deadline_is_unknown_not_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.recv("bob", h.frames(b)[0], at=1.2)
    v = h.end(at=20.0).check()
    assert only(v) == {}
    assert v.to_dict()["requests"]["unknown"] == 1 and v.verdict == "pass"


def test_a_request_whose_connection_the_client_closed_is_unknown_not_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.close("bob", by="client", code=1000, at=2.0)
    v = h.end(at=40.0).check()
    assert only(v) == {}
    assert v.to_dict()["requests"]["unknown"] == 1


def test_a_request_whose_connection_the_server_closed_is_connection_lost_not_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.close("bob", by="server", code=1011, at=2.0)
    v = h.end(at=40.0).check()
    assert only(v) == {"connection_lost": 1}


def test_a_late_but_legal_completion_before_the_deadline_is_not_dropped() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=25.0, gap=1.0)  # the last event at 31.0, deadline 31.05
    v = h.end(at=40.0).check()
    assert only(v) == {} and v.to_dict()["requests"]["completed"] == 2


# ---- incomplete_run ----------------------------------------------------------------------


def test_a_finished_run_without_agent_started_is_an_incomplete_run() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = [f for f in h.frames(b, sub=False) if f["type"] != "agent_started"]
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    final = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"incomplete_run": 1}
    w = witnesses(v, "incomplete_run")[0]
    assert h.line(b.record) in w and final in w


def test_a_tool_executing_without_its_tool_completed_is_an_incomplete_run() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = [f for f in h.frames(b) if f["type"] != "tool_completed"]
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    tool_line = h.recv_line("bob", frames[3])
    v = h.end(at=10.0).check()
    assert only(v) == {"incomplete_run": 1}
    assert tool_line in witnesses(v, "incomplete_run")[0]


def test_a_tool_completed_without_its_tool_executing_is_an_incomplete_run_only() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = [f for f in h.frames(b) if f["type"] != "tool_executing"]
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {"incomplete_run": 1}


def test_a_run_ending_in_agent_error_lacks_nothing() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)[:4]  # started, thinking, sub-agent started, tool executing...
    frames.append({"type": "agent_error", "run_id": b.run, "agent_name": "analyst",
                   "data": {"error_message": "tool timed out", "error_context": {}}})
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.to_dict()["requests"]["failed"] == 1


def test_a_run_ending_in_agent_death_lacks_nothing() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.recv("bob", h.frames(b)[0], at=1.2)
    h.recv("bob", {"type": "agent_death", "run_id": b.run, "agent_name": "supervisor", "data": {}}, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.to_dict()["requests"]["failed"] == 1


# ---- connection_lost ---------------------------------------------------------------------


def test_a_server_close_1011_mid_request_is_connection_lost() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    for frame in h.frames(b)[:2]:
        h.recv("bob", frame)
    h.close("bob", by="server", code=1011, at=1.5)
    close = h.line(h.last)
    v = h.end(at=40.0).check()
    assert only(v) == {"connection_lost": 1}
    assert set(witnesses(v, "connection_lost")[0]) == {h.line(b.record), close}


def test_a_server_close_after_every_request_finished_is_clean() -> None:
    h, a, b = clean_pair()
    h.close("bob", by="server", code=1011, at=3.0)
    assert only(h.end(at=10.0).check()) == {}


def test_a_server_close_with_two_requests_in_flight_is_one_connection_lost() -> None:
    h, a, b = two_users_overlapping()
    b2 = h.ask("bob", at=1.06)
    h.answer(a, at=1.1)
    h.close("bob", by="server", code=1011, at=1.5)
    v = h.end(at=40.0).check()
    assert only(v) == {"connection_lost": 1}
    assert h.line(b2.record) in witnesses(v, "connection_lost")[0]


def test_a_refused_token_then_close_1008_is_a_client_error_not_an_anomaly() -> None:
    # Issue 12: a refused credential is the harness's problem (a rotated secret), not an isolation
    # regression; the profile's refusal conditions say which error frames refuse credentials.
    h, a, b = clean_pair()
    h.open("carol", conn="carol-c1", welcome=False, at=2.0)
    h.recv("carol", {"type": "error_message", "error_code": "AUTH_FAILED", "error_message": "Authentication failed",
                     "details": {}, "timestamp": 1758196800.1}, at=2.01, conn="carol-c1")
    h.close("carol", by="server", code=1008, at=2.02, conn="carol-c1")
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert v.to_dict()["coverage"]["refused_connections"] == 1


def test_other_error_frames_are_still_protocol_errors() -> None:
    h, a, b = clean_pair()
    h.open("carol", conn="carol-c1", welcome=False, at=2.0)
    h.recv("carol", {"type": "error_message", "error_code": "INTERNAL", "error_message": "boom",
                     "timestamp": 1758196800.1}, at=2.01, conn="carol-c1")
    v = h.end(at=10.0).check()
    assert only(v) == {"protocol_error": 1}


def test_requests_in_flight_on_a_connection_whose_token_is_refused_end_unknown_not_lost() -> None:
    h, a, b = clean_pair()
    c = h.ask("bob", at=2.0)
    h.recv("bob", {"type": "error_message", "error_code": "AUTH_FAILED", "error_message": "token expired",
                   "timestamp": 1758196800.1}, at=2.05)
    h.close("bob", by="server", code=1008, at=2.06)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert v.to_dict()["requests"]["unknown"] == 1
    assert any("refused the credentials" in u["reason"] for u in v.to_dict()["unknowns"])


def test_a_phantom_event_does_not_swallow_the_completion_echo_of_a_later_real_run() -> None:
    # The phantom's run never finishes; the user's real run later ends with the misc echo (no
    # run id). The echo belongs to the real run that just finished, not to the phantom.
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.recv("bob", _ghost("run_ghost", "bob"), at=0.5)
    ghost = h.line(h.last)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    h.answer(b, at=1.12)
    h.recv("bob", {"type": "agent_completed", "payload": {"response": f"Done: {b.text}", "thread_id": b.thread}},
           at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"phantom_event": 1}
    assert witnesses(v, "phantom_event") == [[ghost]]
