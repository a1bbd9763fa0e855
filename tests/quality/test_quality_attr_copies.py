"""SPEC's "retries and copies", "the same event twice" and "one finding, one kind": planted
copies and near misses that only look like copies.

Already in the corpus (test_quality_sequence.py): the same frame twice, a retry with attempt 2
and a new time stamp (emitter), retries of the final event, a retried mid-run event arriving
after later events, two thinking steps with different texts or times, and one event delivered
to two users (cross-user, not a duplicate).
"""

from __future__ import annotations

import pytest

from tests.histories import (
    batch,
    findings,
    identity_of,
    only,
    requests_of,
    retried,
    saying,
    two_users_overlapping,
    witnesses,
)

# ---- retries and copies ------------------------------------------------------------------


@pytest.mark.parametrize("family", ["bridge", "bridge_payload", "emitter"])
def test_a_retry_with_a_new_time_stamp_and_a_higher_attempt_is_a_duplicate_in_every_family(family: str) -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family=family)
    frames = h.frames(b, family=family)
    again = retried(frames[3], attempt=2, stamp="2026-11-22T00:00:41Z")  # tool_executing, 1 s later
    lines = h.deliver("bob", frames[:5] + [again] + frames[5:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[3], lines[5]]]
    assert findings(v, "duplicate_event")[0]["user"] == "bob"


def test_a_third_attempt_of_a_step_is_a_second_duplicate() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family="emitter")
    frames = h.frames(b, family="emitter")
    lines = h.deliver("bob", frames, at=1.2)
    h.recv("bob", retried(frames[1], 2, "2026-11-22T00:00:31Z"), at=2.2)
    second = h.line(h.last)
    h.recv("bob", retried(frames[1], 3, "2026-11-22T00:00:33Z"), at=4.2)
    third = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 2}
    assert all(w[0] in (lines[1], second) for w in witnesses(v, "duplicate_event"))
    assert {w[-1] for w in witnesses(v, "duplicate_event")} == {second, third}


def test_a_byte_identical_copy_of_a_run_id_less_event_is_a_duplicate() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    misc = {"type": "agent_thinking", "data": {"thought": "Checking the tables"}, "timestamp": "2026-11-22T00:00:03Z",
            "thread_id": b.thread, "user_id": identity_of("bob"), "message_id": "msg_1758196800400"}
    lines = h.deliver("bob", frames[:3] + [misc, misc] + frames[3:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[3], lines[4]]]


def test_an_event_delivered_alone_and_again_inside_a_batch_is_a_duplicate() -> None:
    """Reading: an item of a batch that repeats, byte for byte, an event already delivered on
    the connection is the same event twice (per item: the item is the event)."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    lines = h.deliver("bob", frames[:2] + [batch([frames[1]], form="list")] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[1], lines[2]]]


def test_a_retry_counter_on_an_event_with_another_text_is_a_different_event() -> None:
    """Near miss: attempt 2, but the thought differs: a different text is a different event."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family="emitter")
    frames = h.frames(b, family="emitter")
    other = retried(saying(frames[1], "Second thought"), 2)
    h.deliver("bob", frames[:2] + [other] + frames[2:], at=1.2)
    assert only(h.end(at=10.0).check()) == {}


@pytest.mark.parametrize("stamp", ["same", "new"])
def test_two_events_differing_only_in_their_step_number_are_not_duplicates(stamp: str) -> None:
    """Near miss: two thinking steps alike field for field but their step number, even with the
    same time stamp: a different step number is a different event."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    first = {**frames[1], "data": {"thought": "Reading the tables", "step": 1}}
    second = {**frames[1], "data": {"thought": "Reading the tables", "step": 2}}
    if stamp == "new":
        second["timestamp"] = "2026-11-22T00:00:30Z"
    h.deliver("bob", frames[:1] + [first, second] + frames[2:], at=1.2)
    assert only(h.end(at=10.0).check()) == {}


def test_a_retried_final_event_after_a_follow_up_was_sent_is_a_duplicate_of_the_first_run() -> None:
    """bob's follow-up goes out at once; the retry of his first run's final event comes a second
    later, while the follow-up is in flight: a duplicate of the first run, and the follow-up is
    still answered by its own run."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family="emitter")
    frames = h.frames(b, family="emitter")
    lines = h.deliver("bob", frames, at=1.2)
    b2 = h.ask("bob", at=1.3, verb="user_message", text="And by team?")
    h.answer(b2, at=1.4, family="emitter")
    h.recv("bob", retried(frames[-1], 2, "2026-11-22T00:00:59Z"), at=2.26)
    retry = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[-1], retry]]
    assert requests_of(v)["completed"] == 3


# ---- the same event twice; one event to two users ---------------------------------------


def test_the_same_event_twice_to_its_owner_and_once_to_another_user_is_one_duplicate_and_one_leak() -> None:
    h, a, b = two_users_overlapping()
    frames = h.frames(a)
    alice_lines = h.deliver("alice", frames[:2] + [frames[1]] + frames[2:], at=1.1)
    h.recv("bob", frames[1], at=1.19)
    leak = h.line(h.last)
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1, "cross_user_event": 1}
    assert witnesses(v, "duplicate_event") == [[alice_lines[1], alice_lines[2]]]
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]


def test_one_event_delivered_twice_to_another_user_is_two_cross_user_events_not_a_duplicate() -> None:
    """Reading: each delivery of alice's event to bob is an offending event, and
    cross_user_event is the first kind that fits the second copy too."""
    h, a, b = two_users_overlapping()
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", frames[3], at=1.5)
    first = h.line(h.last)
    h.recv("bob", frames[3], at=1.6)
    second = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 2}
    assert sorted(witnesses(v, "cross_user_event")) == [[h.line(a.record), first], [h.line(a.record), second]]


def test_a_content_leak_delivered_twice_is_two_content_leaks_not_a_duplicate() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    quoting = saying(frames[1], f"Earlier someone asked: {a.text}")
    lines = h.deliver("bob", frames[:1] + [quoting, quoting] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 2}
    assert sorted(witnesses(v, "cross_user_content")) == [[h.line(a.record), lines[1]], [h.line(a.record), lines[2]]]


# ---- one finding, one kind ---------------------------------------------------------------


def test_alices_final_event_reaching_bob_after_her_request_finished_is_a_cross_user_event_only() -> None:
    """cross_user_event first: not also event_after_completion of alice's finished request."""
    h, a, b = two_users_overlapping()
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", frames[-1], at=2.0)
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]


def test_a_content_leak_that_is_also_thinking_before_the_start_counts_once_as_content() -> None:
    """Reading: the offending event of "thinking before the start" is the thinking; when that
    thinking already counts as cross_user_content (bob's ids, alice's marker), it is not
    counted again as out_of_order."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    quoting = saying(frames[1], f"Someone asked: {a.text}")
    lines = h.deliver("bob", [quoting, frames[0]] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[0]]]


def test_a_leak_stamped_with_alices_user_id_and_carrying_her_marker_inside_bobs_run_is_an_event_leak_only() -> None:
    """cross_user_event before cross_user_content, inside the receiver's own run: bob's run id,
    alice's user id and alice's marker."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = {**saying(frames[1], f"Someone asked: {a.text}"), "user_id": identity_of("alice")}
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[1] in witnesses(v, "cross_user_event")[0]
    assert requests_of(v)["completed"] == 2


def test_a_tool_call_missing_its_completion_in_a_run_that_also_leaked_content_is_still_incomplete() -> None:
    """Near miss for precedence: kinds of different events do not swallow each other. bob's
    thinking quotes alice (content), and his run later lacks a tool_completed (incomplete)."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Someone asked: {a.text}")
    del frames[4]  # tool_completed
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1, "incomplete_run": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    assert lines[3] in witnesses(v, "incomplete_run")[0]
