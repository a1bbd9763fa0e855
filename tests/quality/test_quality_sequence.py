"""duplicate_event, out_of_order, event_after_completion: one run's events against its legal
sequence."""

from __future__ import annotations

from typing import Any

from tests.histories import Ask, History, clean_pair, identity_of, only, two_users_overlapping, witnesses


def _deliver(h: History, user: str, frames: list[dict[str, Any]], at: float, gap: float = 0.01) -> list[int]:
    lines = []
    for i, frame in enumerate(frames):
        h.recv(user, frame, at=round(at + i * gap, 6))
        lines.append(h.line(h.last))
    return lines


def _bob_with(h: History, b: Ask, frames: list[dict[str, Any]], at: float = 1.2) -> list[int]:
    return _deliver(h, "bob", frames, at)


# ---- duplicate_event ---------------------------------------------------------------------


def test_the_same_frame_twice_on_one_connection_is_a_duplicate_event() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(2, frames[1])
    lines = _bob_with(h, b, frames)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[1], lines[2]]]


def test_a_retry_with_attempt_2_seconds_later_is_a_duplicate_event() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    lines = _bob_with(h, b, frames)
    h.recv("bob", {**frames[-1], "attempt": 2}, at=2.3)  # the final event, retried 1 s later
    retry1 = h.line(h.last)
    h.recv("bob", {**frames[-1], "attempt": 3}, at=4.3)  # and again 2 s after that
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 2}
    assert [lines[-1], retry1] in witnesses(v, "duplicate_event")


def test_a_retried_mid_run_event_arriving_after_later_events_is_a_duplicate_not_out_of_order() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    frames.insert(5, {**frames[1], "attempt": 2})  # thinking again, after the tool events
    _bob_with(h, b, frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}


def test_a_duplicated_started_event_does_not_disturb_the_sub_agent_nesting() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(1, frames[0])
    _bob_with(h, b, frames)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}


def test_one_event_delivered_to_two_users_is_cross_user_not_duplicate() -> None:
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[2], at=1.5)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}


def test_a_user_with_two_tabs_receiving_each_event_on_both_is_clean() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.open("alice", conn="alice-c2", at=0.15)
    h.user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    for i, frame in enumerate(h.frames(a)):
        h.recv("alice", frame, at=round(1.1 + i * 0.01, 6), conn="alice-c1")
        h.recv("alice", frame, at=round(1.101 + i * 0.01, 6), conn="alice-c2")
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"


def test_a_second_tab_that_hears_the_run_first_is_still_clean() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.open("alice", conn="alice-c2", at=0.15)
    h.user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    for i, frame in enumerate(h.frames(a)):
        h.recv("alice", frame, at=round(1.1 + i * 0.01, 6), conn="alice-c2")
        h.recv("alice", frame, at=round(1.101 + i * 0.01, 6), conn="alice-c1")
    h.answer(b, at=1.2)
    assert only(h.end(at=10.0).check()) == {}


def test_two_thinking_steps_with_different_texts_are_not_duplicates() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    second = {**frames[1], "data": {"thought": "second step"}}
    frames.insert(2, second)
    _bob_with(h, b, frames)
    assert only(h.end(at=10.0).check()) == {}


# ---- out_of_order ------------------------------------------------------------------------


def test_a_tool_completed_before_its_tool_executing_is_out_of_order() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[3], frames[4] = frames[4], frames[3]
    lines = _bob_with(h, b, frames)
    v = h.end(at=10.0).check()
    assert only(v) == {"out_of_order": 1}
    assert witnesses(v, "out_of_order") == [[lines[3], lines[4]]]


def test_thinking_before_agent_started_is_out_of_order() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[0], frames[1] = frames[1], frames[0]
    lines = _bob_with(h, b, frames)
    v = h.end(at=10.0).check()
    assert only(v) == {"out_of_order": 1}
    assert witnesses(v, "out_of_order") == [[lines[0], lines[1]]]


def test_swapped_tool_events_in_the_emitter_family_are_out_of_order() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family="emitter")
    frames = h.frames(b, family="emitter")
    frames[3], frames[4] = frames[4], frames[3]
    _bob_with(h, b, frames)
    assert only(h.end(at=10.0).check()) == {"out_of_order": 1}


# ---- event_after_completion --------------------------------------------------------------


def test_thinking_after_the_outermost_agent_completed_is_event_after_completion() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    lines = _bob_with(h, b, h.frames(b))
    h.recv("bob", {"type": "agent_thinking", "run_id": b.run, "user_id": identity_of("bob"),
                   "agent_name": "supervisor", "data": {"thought": "one more thing"}}, at=1.5)
    late = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": 1}
    assert witnesses(v, "event_after_completion") == [[lines[-1], late]]


def test_an_event_after_an_agent_error_is_event_after_completion() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, sub=False, tool=False)[:2]
    frames.append({"type": "agent_error", "run_id": b.run, "agent_name": "supervisor", "data": {}})
    frames.append({"type": "agent_thinking", "run_id": b.run, "user_id": identity_of("bob"),
                   "agent_name": "supervisor", "data": {"thought": "still going"}})
    _bob_with(h, b, frames)
    assert only(h.end(at=10.0).check()) == {"event_after_completion": 1}


def test_a_late_tool_completed_after_the_final_event_is_event_after_completion_only() -> None:
    # The tool's completion is not missing, it is late: one offending event, one kind.
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, sub=False)
    frames.append(frames.pop(3))  # tool_completed after agent_completed
    _bob_with(h, b, frames)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": 1}


def test_supervisor_events_after_a_sub_agent_completed_are_legal() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(-1, {"type": "agent_thinking", "run_id": b.run, "user_id": identity_of("bob"),
                       "agent_name": "supervisor", "data": {"thought": "the analyst is done; summing up"}})
    frames.insert(-1, {"type": "agent_started", "run_id": b.run, "user_id": identity_of("bob"),
                       "agent_name": "reporter", "data": {}})
    frames.insert(-1, {"type": "agent_completed", "run_id": b.run, "user_id": identity_of("bob"),
                       "agent_name": "reporter", "data": {}})
    _bob_with(h, b, frames)
    assert only(h.end(at=10.0).check()) == {}


def test_the_run_id_less_completion_echo_right_after_the_final_one_is_legal() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    _bob_with(h, b, h.frames(b))
    h.recv("bob", {"type": "agent_completed", "payload": {"response": f"Done: {b.text}", "thread_id": b.thread}},
           at=1.3)
    assert only(h.end(at=10.0).check()) == {}


def test_the_completion_echo_after_a_quick_follow_up_was_sent_is_legal() -> None:
    # bob's follow-up goes out the moment the final event arrives, before the misc echo of that
    # final event: the echo (bob's first request's marker, no run id) is not the follow-up's.
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    lines = _bob_with(h, b, h.frames(b))
    assert lines
    b2 = h.ask("bob", at=1.265, verb="user_message", text="And by team?")
    h.recv("bob", {"type": "agent_completed", "payload": {"response": f"Done: {b.text}", "thread_id": b.thread}},
           at=1.27)
    a2 = h.ask("alice", at=1.28)
    h.answer(b2, at=1.3)
    h.answer(a2, at=1.31)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert v.to_dict()["requests"]["completed"] == 4


def test_a_retried_agent_started_does_not_keep_the_run_open_across_a_follow_up() -> None:
    # A duplicate start counts once as a duplicate; the run still finishes with its outermost
    # completion, and the follow-up's run answers the follow-up.
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, echo=False)
    frames.insert(2, frames[0])
    _bob_with(h, b, frames)
    b2 = h.ask("bob", at=2.0, verb="user_message", text="And by team?")
    h.answer(b2, at=2.1, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert v.to_dict()["requests"]["completed"] == 3


def test_a_retry_with_a_new_time_stamp_and_attempt_2_is_a_duplicate_event() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    lines = _bob_with(h, b, frames)
    h.recv("bob", {**frames[3], "attempt": 2, "timestamp": "2026-11-22T00:00:59Z"}, at=2.2)
    retry = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[3], retry]]


def test_two_thinking_steps_with_the_same_text_at_different_times_are_not_duplicates() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    frames.insert(2, {**frames[1], "timestamp": "2026-11-22T00:00:30Z"})
    _bob_with(h, b, frames)
    assert only(h.end(at=10.0).check()) == {}
