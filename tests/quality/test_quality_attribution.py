"""SPEC "Attribution: whose event is it": planted cases and near misses for each rule, and the
three patterns of issue 10 that an independent backend showed.

Each rule has a planted case (the anomaly is found, with exact counts of every non-zero kind and
the witness lines) and a near miss (tricky but legal: zero anomalies, or exactly the stated
ones). Cases that already live elsewhere in the corpus are named in comments, not repeated.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import (
    Ask,
    History,
    batch,
    bare,
    findings,
    identity_of,
    only,
    requests_of,
    saying,
    two_users_overlapping,
    witnesses,
)


def _all_ok(v: Any, n: int) -> None:
    """Every one of the ``n`` requests ended ok: none failed, none lost track of."""
    r = requests_of(v)
    assert (r["sent"], r["completed"], r["failed"], r["unknown"]) == (n, n, 0, 0), r


def _alice_to_bob(v: Any, kind: str) -> None:
    assert {(f["user"], f["owner"]) for f in findings(v, kind)} == {("bob", "alice")}


# ---- issue 10, pattern 1: a run that quotes another user's in-flight request ---------------


@pytest.mark.parametrize("family", ["bridge", "emitter"])
def test_bobs_run_quoting_alices_pending_request_is_content_and_both_requests_end_ok(family: str) -> None:
    """Pattern 1 exactly: bob's run (bob's connection, user id and thread, bob's own text in the
    tool call) also carries alice's text, marker included, in its thinking and final answer,
    while alice's request is still waiting; alice's own run arrives afterwards."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b, family=family)
    frames[1] = saying(frames[1], f"Reading: {a.text}")  # alice's marker, the run's first marker
    frames[6] = saying(frames[6], f"Done: {a.text}")
    assert b.marker in str(frames[3]) and b.marker in str(frames[4])  # bob's own, in the tool call
    lines = h.deliver("bob", frames, at=1.1)
    h.answer(a, at=1.3, family=family)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 2}
    assert sorted(witnesses(v, "cross_user_content")) == [[h.line(a.record), lines[1]], [h.line(a.record), lines[6]]]
    _alice_to_bob(v, "cross_user_content")
    _all_ok(v, 2)


def test_alices_own_run_arriving_long_after_bobs_quoting_run_is_not_a_phantom() -> None:
    """"Such a run never claims A's request": alice's own answer, seconds after bob's run quoted
    her request, is the answer her request was waiting for."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    lines = h.deliver("bob", frames, at=1.1)
    h.answer(a, at=6.0, gap=0.5)
    v = h.end(at=20.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    _all_ok(v, 2)


def test_many_users_whose_runs_quote_each_others_pending_requests_lose_no_request() -> None:
    """Pattern 1 under load: 12 users in flight together, every third run quoting the next
    user's pending request in its thinking and answer, all runs interleaved 1 ms apart."""
    h = History()
    users = [f"u{i:04d}" for i in range(12)]
    for i, u in enumerate(users):
        h.user(u, at=round(0.1 + i * 0.01, 6))
    asks = [h.ask(u, at=round(1.0 + i * 0.001, 6)) for i, u in enumerate(users)]
    streams = []
    bleeders = {}
    for i, ask in enumerate(asks):
        frames = h.frames(ask, family="emitter" if i % 2 else "bridge")
        if i % 3 == 0:
            quoted = asks[(i + 1) % len(asks)]
            frames[1] = saying(frames[1], f"Reading: {quoted.text}")
            frames[6] = saying(frames[6], f"Done: {quoted.text}")
            bleeders[ask.user] = quoted.user
        streams.append(frames)
    t = 1.1
    for step in range(7):  # round robin: every thinking before any answer, so the quoted are pending
        for ask, frames in zip(asks, streams):
            h.recv(ask.user, frames[step], at=round(t, 6))
            t += 0.001
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 2 * len(bleeders)}
    assert sorted((f["user"], f["owner"]) for f in findings(v, "cross_user_content")) == sorted(
        [(u, o) for u, o in bleeders.items()] * 2)
    _all_ok(v, len(users))


def test_receivers_own_marker_outweighs_another_users_marker_in_its_run() -> None:
    """The receiver's own marker anywhere in a run outweighs another user's: here alice's marker
    comes first, in bob's run's very first event (the task it describes), bob's own after it."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b, family="emitter")
    frames[0] = {**frames[0], "task_description": f"Continue: {a.text}"}
    lines = h.deliver("bob", frames, at=1.1)
    h.answer(a, at=1.3, family="emitter")
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[0]]]
    _all_ok(v, 2)


def test_a_run_that_only_quotes_a_pending_request_does_not_answer_it() -> None:
    """Reading: a quote is not an answer. Alice's request, quoted in bob's run and never
    answered otherwise, has no final event by its deadline on an open connection: dropped
    (SPEC's definition), besides the content leak; bob's request is ok."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    lines = h.deliver("bob", frames, at=1.1)
    v = h.end(at=40.0).check()
    assert only(v) == {"cross_user_content": 1, "dropped_response": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    assert witnesses(v, "dropped_response") == [[h.line(a.record)]]
    assert findings(v, "dropped_response")[0]["user"] == "alice"
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["dropped"], r["unknown"]) == (1, 1, 1, 0)


def test_a_run_with_the_receivers_ids_and_no_marker_of_its_own_is_still_the_receivers_run() -> None:
    """Near miss (reading): bob's run echoes no text of bob's, but its ids are all bob's (first
    new run id on bob's connection after bob's send, bob's user id and thread), and its thinking
    quotes alice's pending request. The ids say whose run it is; alice's marker is content.
    Alice's own run comes later: both requests were answered completely."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b, family="emitter", echo=False)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    lines = h.deliver("bob", frames, at=1.1)
    h.answer(a, at=1.3, family="emitter")
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    _all_ok(v, 2)


# Near misses elsewhere: bob's run quoting alice's marker before his own in one frame
# (test_quality_cross_user.py::test_bobs_run_quoting_alices_pending_request_before_his_own_is_cross_user_content)
# and a final event quoting a finished request
# (test_bobs_final_event_quoting_alices_marker_is_cross_user_content_and_still_finishes_his_request).


# ---- issue 10, pattern 2, and "per item": an event_batch's items are judged one by one -----


def _with_batch(h: History, b: Ask, items: list[dict[str, Any]], form: str) -> list[int]:
    """bob's run with one batch of ``items`` in place of its thinking; the lines of its frames."""
    frames = h.frames(b)
    return h.deliver("bob", [frames[0], batch(items, form=form)] + frames[2:], at=1.2)


@pytest.mark.parametrize("form", ["dict", "list"])
@pytest.mark.parametrize(("leak", "kind"), [
    ("alices_ids", "cross_user_event"),  # alice's run id, user id and marker
    ("no_ids", "cross_user_content"),  # no ids at all, alice's marker
    ("bobs_ids", "cross_user_content"),  # bob's run id and user id, alice's marker
])
def test_a_batch_with_one_leaked_item_counts_that_item_once_and_the_receivers_own_items_nothing(
        form: str, leak: str, kind: str) -> None:
    """Pattern 2 exactly: one event_batch on bob's connection holds two of bob's own thinking
    items (bob's ids and marker) around one item of alice's; markers belong to items, not lines."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    theirs = h.frames(a)[1]
    if leak == "no_ids":
        theirs = bare(theirs, "run_id", "user_id")
    elif leak == "bobs_ids":
        theirs = saying(h.frames(b)[1], f"Someone asked: {a.text}")
    mine = h.frames(b)[1]
    mine_again = saying(mine, f"Looking again at {b.text}")
    lines = _with_batch(h, b, [mine, theirs, mine_again], form)
    v = h.end(at=10.0).check()
    assert only(v) == {kind: 1}
    assert witnesses(v, kind) == [[h.line(a.record), lines[1]]]
    _alice_to_bob(v, kind)
    _all_ok(v, 2)


def test_a_batch_mixing_items_of_two_runs_of_the_receiver_gives_each_item_to_its_own_run() -> None:
    """Near miss: bob has two requests in flight; one batch carries a thinking item of each run,
    the first item without a marker, the second with its own request's marker. Each item goes to
    the run its ids name; nothing is reported."""
    h, a, b = two_users_overlapping()
    b2 = h.ask("bob", at=1.06, text="And the week before?")
    h.answer(a, at=1.1)
    one, two = h.frames(b, family="emitter"), h.frames(b2, family="emitter")
    h.deliver("bob", [one[0], two[0]], at=1.2)
    h.recv("bob", batch([saying(one[1], "Thinking about it"), two[1]], form="list"), at=1.23)
    h.deliver("bob", [f for pair in zip(one[2:], two[2:]) for f in pair], at=1.24)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _all_ok(v, 3)


# Near misses elsewhere: a batch of the receiver's own thinking
# (test_quality_clean.py::test_batched_thinking_passes) and a batch carrying a whole run
# (test_a_batch_carrying_a_whole_run_passes).


# ---- issue 10, pattern 3, and "foreign events never advance the receiver's run" -----------


def _foreign(a: Any, evidence: str, type_: str = "agent_completed") -> dict[str, Any]:
    """alice's event without a run id, naming alice only by ``evidence``."""
    body: dict[str, Any] = {"response": f"Done: {a.text}" if "marker" in evidence else "Done."}
    frame: dict[str, Any] = {"type": type_, "payload": body}
    if "thread" in evidence:
        body["thread_id"] = a.thread
    if "user_id" in evidence:
        frame["user_id"] = identity_of(a.user)
    return frame


@pytest.mark.parametrize(("evidence", "kind"), [
    ("thread+marker", "cross_user_event"),  # the frame: alice's thread id and marker only
    ("thread", "cross_user_event"),
    ("user_id", "cross_user_event"),
    ("marker", "cross_user_content"),
])
def test_a_run_id_less_final_event_naming_alice_mid_run_does_not_finish_bobs_request(
        evidence: str, kind: str) -> None:
    """Pattern 3 exactly: mid-way through bob's run, a final event with no run id that names
    alice arrives on bob's connection. It is alice's event delivered to bob (one cross-user
    finding); bob's later, legal events are not event_after_completion, out_of_order or
    duplicates, and bob's own final event completes bob's request. Alice's own run, after it,
    is legal too."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b)
    foreign = _foreign(a, evidence)
    lines = h.deliver("bob", frames[:4] + [foreign] + frames[4:], at=1.1)
    h.answer(a, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {kind: 1}
    (w,) = witnesses(v, kind)
    assert lines[4] in w and set(w) <= {lines[4], h.line(a.record)}
    _alice_to_bob(v, kind)
    _all_ok(v, 2)


def test_a_run_id_less_tool_completed_naming_alice_does_not_leave_bobs_run_incomplete() -> None:
    """A foreign tool_completed (alice's thread id, no run id) between bob's own tool events
    changes nothing in bob's run: no early or missing tool half."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, sub=False)
    foreign = {"type": "tool_completed", "tool_name": "search", "payload": {"thread_id": a.thread, "results": {}}}
    lines = h.deliver("bob", frames[:2] + [foreign] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[2] in witnesses(v, "cross_user_event")[0]
    _all_ok(v, 2)


def test_a_run_id_less_thinking_naming_alice_before_bobs_run_starts_is_not_out_of_order() -> None:
    """A foreign thinking (alice's user id, no run id) right after bob's send, before bob's
    agent_started: a cross-user event, and bob's run is not made to start out of order."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    foreign = {"type": "agent_thinking", "user_id": identity_of("alice"), "message_id": "msg_1",
               "data": {"thought": "Checking the tables"}}
    lines = h.deliver("bob", [foreign] + h.frames(b), at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[0] in witnesses(v, "cross_user_event")[0]
    _all_ok(v, 2)


def test_a_run_id_less_event_without_any_ids_or_marker_mid_run_is_the_receivers() -> None:
    """Near miss: a thinking frame with neither run id nor any id or marker, mid-way through
    bob's run on bob's connection, is bob's (nothing names anyone else): clean."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    plain = {"type": "agent_thinking", "data": {"thought": "Checking the tables"}, "message_id": "msg_9"}
    h.deliver("bob", frames[:3] + [plain] + frames[3:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _all_ok(v, 2)


# Near misses elsewhere: the run-id-less completion echo right after the final event
# (test_quality_sequence.py::test_the_run_id_less_completion_echo_right_after_the_final_one_is_legal),
# after a quick follow-up (test_the_completion_echo_after_a_quick_follow_up_was_sent_is_legal), and
# misc thinking with the receiver's own thread id
# (test_quality_clean.py::test_the_misc_echo_and_misc_thinking_without_run_ids_pass).


# ---- "requests are not lost track of" ----------------------------------------------------


def test_a_request_whose_whole_answer_reached_only_another_user_fails_and_is_not_unknown() -> None:
    """Reading: alice's request is answered completely, but to bob only (alice's ids; alice
    hears nothing): its outcome is failed as soon as its final event went to another user, not
    unknown, even though the run ends before alice's deadline."""
    h, a, b = two_users_overlapping()
    frames = h.answer(a, at=1.1, to="bob", echo=False)
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(frames)}
    r = requests_of(v)
    assert (r["sent"], r["completed"], r["failed"], r["unknown"], r["dropped"]) == (2, 1, 1, 0, 0)


def test_a_run_delivered_to_both_users_with_no_telling_marker_leaves_both_requests_ok() -> None:
    """Near miss for the bookkeeping: a run reaching both users, stamped with each receiver's
    user id and carrying no marker, is the asker's (alice's); bob's own run answers bob. Both
    requests end ok (test_quality_cross_user.py checks the counts of the same history)."""
    h, a, b = two_users_overlapping()
    for i, (fb, fa) in enumerate(zip(h.frames(a, user_id=identity_of("bob"), echo=False), h.frames(a, echo=False))):
        h.recv("bob", fb, at=round(1.1 + i * 0.01, 6))
        h.recv("alice", fa, at=round(1.101 + i * 0.01, 6))
    h.answer(b, at=1.3, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 7}
    _all_ok(v, 2)


def test_a_request_answered_on_the_users_other_tab_is_ok_not_unknown() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.open("alice", conn="alice-c2", at=0.12)
    h.user("bob", at=0.2)
    a = h.ask("alice", at=1.0, conn="alice-c2")
    b = h.ask("bob", at=1.02)
    h.answer(a, at=1.1, conn="alice-c1")
    h.answer(b, at=1.11)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _all_ok(v, 2)


def test_two_requests_of_one_user_answered_in_reverse_order_with_late_markers_are_both_ok() -> None:
    """bob's second request is answered first; its first event carries no marker (so it lands
    on bob's connection as the first new run after his sends), its thinking carries the second
    request's marker. Each request still gets its own run."""
    h, a, b = two_users_overlapping()
    b2 = h.ask("bob", at=1.06, text="And the week before?")
    h.answer(a, at=1.1)
    h.answer(b2, at=1.2)
    h.answer(b, at=1.4)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _all_ok(v, 3)


def test_a_request_in_flight_at_the_end_after_a_quoting_run_is_unknown_not_lost() -> None:
    """unknown only for a request in flight at the end before its deadline: alice's request,
    quoted by bob's run and not yet answered when the run ends (before its deadline), is unknown;
    bob's is ok."""
    h, a, b = two_users_overlapping()
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    h.deliver("bob", frames, at=1.1)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"]) == (1, 0, 1)
    assert [u["req"] for u in v.to_dict()["unknowns"]] == [a.req]
