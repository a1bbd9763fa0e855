"""Planted cross-user leaks (by ids, and by content) and their near misses."""

from __future__ import annotations

from tests.histories import History, clean_pair, identity_of, only, two_users_overlapping, witnesses


def test_an_event_of_alices_run_delivered_to_bob_is_a_cross_user_event() -> None:
    h, a, b = clean_pair()
    leaked = h.frames(a)[3]  # alice's tool_executing, her ids and her marker
    h.recv("bob", leaked, at=1.3)
    late = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert v.verdict == "fail" and v.exit_code == 1
    finding = v.to_dict()["findings"][0]
    assert finding["user"] == "bob" and finding["owner"] == "alice" and finding["run_id"] == a.run
    assert set(finding["witness"]) == {h.line(a.record), late}


def test_an_event_stamped_with_alices_user_id_on_bobs_connection_is_a_cross_user_event() -> None:
    h, a, b = clean_pair()
    h.recv("bob", {"type": "agent_thinking", "data": {"thought": "Checking the tables"},
                   "timestamp": "2026-11-22T00:00:03Z", "user_id": identity_of("alice"), "message_id": "msg_1"},
           at=1.3)
    line = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert line in witnesses(v, "cross_user_event")[0]


def test_an_event_carrying_alices_thread_id_on_bobs_connection_is_a_cross_user_event() -> None:
    h, a, b = clean_pair()
    h.recv("bob", {"type": "agent_thinking", "critical": True, "run_id": b.run, "user_id": identity_of("bob"),
                   "thread_id": a.thread, "reasoning": "step"}, at=1.13)
    line = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert line in witnesses(v, "cross_user_event")[0]


def test_alices_run_reaching_bob_stamped_with_bobs_user_id_is_found_by_its_marker() -> None:
    # The shared agent factory: alice's run is delivered through bob's bridge, with bob's user id
    # and alice's run id, and alice hears nothing. Its ids look like bob's; only the content
    # marker ties it to alice's request: SPEC's cross_user_content ("whatever ids the event carries").
    h, a, b = two_users_overlapping()
    h.answer(b, at=1.1)
    h.answer(a, at=1.2, to="bob", user_id=identity_of("bob"))
    v = h.end(at=40.0).check()
    assert set(only(v)) == {"cross_user_content"}
    f = v.to_dict()["findings"][0]
    assert (f["user"], f["owner"]) == ("bob", "alice")


def test_a_run_seen_by_both_users_belongs_to_the_one_who_asked_even_when_the_leak_arrives_first() -> None:
    h, a, b = two_users_overlapping()
    frames = h.frames(a)
    for i, frame in enumerate(frames):  # bob gets each of alice's events 1 ms before alice does
        h.recv("bob", frame, at=round(1.1 + i * 0.01, 6))
        h.recv("alice", frame, at=round(1.101 + i * 0.01, 6))
    h.answer(b, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(frames)}
    assert {(f["user"], f["owner"]) for f in v.to_dict()["findings"]} == {("bob", "alice")}


def test_a_run_seen_by_both_users_stamped_with_each_receivers_id_and_no_marker_is_resolved_to_the_asker() -> None:
    # No marker, no telling user id: the conflict is resolved by the requests themselves. Bob's
    # own run arrives later; alice has no other run; so the shared run is alice's.
    h, a, b = two_users_overlapping()
    to_bob = h.frames(a, user_id=identity_of("bob"), echo=False)
    to_alice = h.frames(a, echo=False)
    for i, (fb, fa) in enumerate(zip(to_bob, to_alice)):
        h.recv("bob", fb, at=round(1.1 + i * 0.01, 6))
        h.recv("alice", fa, at=round(1.101 + i * 0.01, 6))
    h.answer(b, at=1.3, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(to_bob)}
    assert {(f["user"], f["owner"]) for f in v.to_dict()["findings"]} == {("bob", "alice")}


def test_one_leaked_event_among_many_clean_requests_is_counted_once() -> None:
    h = History()
    users = [f"u{i:04d}" for i in range(6)]
    for i, u in enumerate(users):
        h.user(u, at=0.1 + i * 0.01)
    asks = [h.ask(u, at=1.0 + i * 0.01) for i, u in enumerate(users)]
    for i, ask in enumerate(asks):
        h.answer(ask, at=1.1 + i * 0.003, gap=0.02)
    h.recv("u0003", h.frames(asks[1])[1], at=1.5)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert v.to_dict()["matrix"]["cells"].count(["u0001", "u0003", 1]) == 1


def test_bobs_own_run_carrying_alices_marker_is_cross_user_content() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1]["data"]["thought"] = f"Earlier someone asked: {a.text}"  # bob's ids, alice's marker
    for i, frame in enumerate(frames):
        h.recv("bob", frame, at=round(1.2 + i * 0.01, 6))
    line = h.recv_line("bob", frames[1])
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    f = v.to_dict()["findings"][0]
    assert (f["user"], f["owner"]) == ("bob", "alice")
    assert set(f["witness"]) == {h.line(a.record), line}


def test_a_frame_without_ids_carrying_alices_marker_on_bobs_connection_is_cross_user_content() -> None:
    h, a, b = clean_pair()
    h.recv("bob", {"type": "agent_completed", "payload": {"response": f"Done: {a.text}"}}, at=1.4)
    line = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert line in witnesses(v, "cross_user_content")[0]


def test_a_marker_inside_an_escaped_multiline_text_is_still_recognised() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, echo=False)
    frames[1]["data"]["thought"] = f"line one\n{a.marker}\n\tline three"
    for i, frame in enumerate(frames):
        h.recv("bob", frame, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}


def test_a_leak_stamped_with_alices_ids_and_carrying_her_marker_counts_as_a_cross_user_event_only() -> None:
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[1], at=1.4)  # alice's thinking: her run id, her user id, her marker
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}


# ---- near misses -------------------------------------------------------------------------


def test_each_user_receiving_only_their_own_runs_is_clean() -> None:
    h, a, b = clean_pair()
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"
    assert sorted(map(tuple, v.to_dict()["matrix"]["cells"])) == [("alice", "alice", 7), ("bob", "bob", 7)]


def test_a_token_that_looks_like_a_marker_but_was_never_minted_is_not_content_leak() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1]["data"]["thought"] = "see xtm-ffffffffffffffff and xtm-"
    for i, frame in enumerate(frames):
        h.recv("bob", frame, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {}


def test_alice_quoting_her_own_earlier_marker_in_a_follow_up_is_clean() -> None:
    h, a, b = clean_pair()
    a2 = h.ask("alice", at=2.0, verb="user_message", text=f"About {a.marker}: and by team?")
    h.answer(a2, at=2.1)
    b2 = h.ask("bob", at=2.05)
    h.answer(b2, at=2.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}


def test_a_leaked_agent_started_does_not_keep_the_owners_run_open_across_a_follow_up() -> None:
    # alice's supervisor start is also delivered to bob. Alice's run still finishes on alice's
    # connection, and her follow-up is answered by its own run: one leak, nothing else.
    h, a, b = two_users_overlapping()
    frames = h.frames(a, echo=False)
    h.recv("alice", frames[0], at=1.1)
    h.recv("bob", frames[0], at=1.101)
    for i, f in enumerate(frames[1:]):
        h.recv("alice", f, at=round(1.11 + i * 0.01, 6))
    h.answer(b, at=1.2, echo=False)
    a2 = h.ask("alice", at=2.0, verb="user_message", text="And by team?")
    h.answer(a2, at=2.1, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert v.to_dict()["requests"]["completed"] == 3


def test_alices_whole_run_delivered_only_to_bob_with_her_ids_is_a_cross_user_event_each() -> None:
    h, a, b = two_users_overlapping()
    frames = h.answer(a, at=1.1, to="bob", echo=False)  # alice's ids, no marker; alice hears nothing
    h.answer(b, at=1.2)
    v = h.end(at=40.0).check()
    assert only(v) == {"cross_user_event": len(frames)}
    assert {(f["user"], f["owner"]) for f in v.to_dict()["findings"]} == {("bob", "alice")}


def test_an_event_of_bobs_own_run_stamped_with_alices_user_id_is_a_cross_user_event() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[4]["user_id"] = identity_of("alice")
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    line = h.recv_line("bob", frames[4])
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert line in witnesses(v, "cross_user_event")[0]


def test_bobs_run_quoting_alices_pending_request_before_his_own_is_cross_user_content() -> None:
    # bob's thinking carries alice's marker first and bob's own after it, with bob's ids, while
    # alice's request is still waiting for its run: the ids and bob's marker say it is bob's run.
    h, a, b = two_users_overlapping()
    frames = h.frames(b)
    frames[1]["data"]["thought"] = f"Someone asked: {a.text}. Reading: {b.text}"
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.1 + i * 0.01, 6))
    line = h.recv_line("bob", frames[1])
    h.answer(a, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [sorted([h.line(a.record), line])]


def test_bobs_final_event_quoting_alices_marker_is_cross_user_content_and_still_finishes_his_request() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, echo=False)
    frames[-1]["data"]["final_response"] = f"Done. By the way: {a.text}"
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=40.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert v.to_dict()["requests"]["completed"] == 2
