"""Clean histories with tricky but legal patterns: each must pass with zero anomalies."""

from __future__ import annotations

import orjson

from tests.histories import History, clean_pair, identity_of, only, two_users_overlapping
from xtalk.core.verdict import CheckConfig
from xtalk.history import check_lines
from xtalk.profiles.netra import NETRA


def _passes(h: History, **config: object) -> None:
    v = h.check(**config)
    assert only(v) == {}, [f["explanation"] for f in v.to_dict()["findings"]]
    assert v.verdict == "pass", v.to_dict()["reasons"]


def test_many_interleaved_users_with_sub_agents_pass() -> None:
    h = History()
    users = [f"u{i:04d}" for i in range(8)]
    for i, u in enumerate(users):
        h.user(u, at=0.1 + i * 0.01)
    asks = [h.ask(u, at=1.0 + i * 0.001) for i, u in enumerate(users)]
    # every user's events interleave with every other's, 1 ms apart in round robin
    streams = [h.frames(a, family="emitter" if i % 2 else "bridge") for i, a in enumerate(asks)]
    t = 1.1
    for step in range(max(len(s) for s in streams)):
        for ask, stream in zip(asks, streams):
            if step < len(stream):
                h.recv(ask.user, stream[step], at=round(t, 6))
                t += 0.001
    h.end(at=10.0)
    _passes(h)
    assert h.check().to_dict()["coverage"]["overlapping_user_pairs"] == 28


def test_a_single_agent_run_without_tools_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, sub=False, tool=False)
    h.answer(b, at=1.12, sub=False)
    _passes(h.end(at=10.0))


def test_runs_whose_events_echo_no_marker_pass() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, echo=False)
    h.answer(b, at=1.11, echo=False)
    _passes(h.end(at=10.0))


def test_an_agent_error_outcome_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.recv("bob", h.frames(b)[0], at=1.2)
    h.recv("bob", {"type": "agent_error", "run_id": b.run, "agent_name": "supervisor",
                   "timestamp": "2026-11-22T00:00:02Z", "data": {"error_message": "x", "error_context": {}}})
    _passes(h.end(at=10.0))


def test_late_but_legal_events_pass() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, gap=4.0)  # 4 s between events: slow, not wrong
    h.answer(b, at=20.0, gap=1.5)  # finished at 29 s, deadline 31.05 s
    _passes(h.end(at=40.0, drain=9.0))


def test_requests_in_flight_at_the_end_before_their_deadline_pass_as_unknown() -> None:
    h, a, b = clean_pair()
    a2 = h.ask("alice", at=5.0)
    h.recv("alice", h.frames(a2)[0], at=5.1)
    h.ask("bob", at=5.2)
    h.end(at=6.0, drain=0.5)
    _passes(h)
    assert h.check().to_dict()["requests"]["unknown"] == 2


def test_batched_thinking_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(2, {"type": "event_batch", "batch_id": "batch_1", "events": {"agent_thinking": [
        {"run_id": b.run, "user_id": identity_of("bob"), "reasoning": "step 1"},
        {"run_id": b.run, "user_id": identity_of("bob"), "reasoning": "step 2"}]}})
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    _passes(h.end(at=10.0))


def test_a_batch_carrying_a_whole_run_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter", sub=False)
    h.recv("bob", {"type": "event_batch", "batch_id": "b9", "events": frames}, at=1.2)
    _passes(h.end(at=10.0))


def test_the_reasoning_alias_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    frames[1] = {**{k: v for k, v in frames[1].items() if k != "thought"}, "type": "reasoning",
                 "reasoning": "Looking at the spend tables"}
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.to_dict()["latency"]["phases"]["agent_thinking"]["n"] == 2


def test_progress_updates_without_user_id_and_heartbeats_everywhere_pass() -> None:
    h, a, b = two_users_overlapping()
    for i, (fa, fb) in enumerate(zip(h.frames(a), h.frames(b))):
        t = 1.1 + i * 0.05
        h.recv("alice", fa, at=round(t, 6))
        h.recv("alice", {"type": "progress_update", "run_id": a.run, "agent_name": "supervisor",
                         "timestamp": "2026-11-22T00:00:01Z", "data": {"progress": i / 7}}, at=round(t + 0.01, 6))
        h.recv("bob", {"type": "heartbeat", "data": {"connection_id": "c", "timestamp": 1.0, "stats": {}}},
               at=round(t + 0.02, 6))
        h.recv("bob", fb, at=round(t + 0.03, 6))
        h.ping("bob", at=round(t + 0.035, 6))
        h.recv("bob", {"type": "pong", "data": {"timestamp": 1.0, "user_id": identity_of("bob")},
                       "timestamp": 1.0, "server_id": None, "correlation_id": None}, at=round(t + 0.04, 6))
    h.recv("alice", {"type": "heartbeat_ack"}, at=2.0)
    h.recv("alice", {"type": "ack", "received_type": "typing", "user_id": identity_of("alice"),
                     "status": "acknowledged"}, at=2.01)
    _passes(h.end(at=10.0))


def test_a_user_with_two_tabs_asking_on_both_passes() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.open("alice", conn="alice-c2", at=0.12)
    h.user("bob", at=0.2)
    a1 = h.ask("alice", at=1.0, conn="alice-c1")
    a2 = h.ask("alice", at=1.01, conn="alice-c2")
    b = h.ask("bob", at=1.02)
    h.answer(a1, at=1.1, conn="alice-c1")
    h.answer(a2, at=1.105, conn="alice-c2")
    h.answer(b, at=1.11)
    _passes(h.end(at=10.0))


def test_a_follow_up_user_message_on_the_same_thread_passes() -> None:
    h, a, b = clean_pair()
    a2 = h.ask("alice", at=2.0, verb="user_message", text="And by team?")
    b2 = h.ask("bob", at=2.01, verb="user_message", text="And by team?")
    h.answer(a2, at=2.1)
    h.answer(b2, at=2.11)
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.to_dict()["requests"]["completed"] == 4


def test_a_request_with_a_null_thread_and_events_on_a_server_made_thread_pass() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.records[h.records.index(b.record)]["thread"] = None
    h.answer(b, at=1.12, family="emitter")
    _passes(h.end(at=10.0))


def test_a_user_answered_after_the_others_finished_still_counts_the_overlap() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=8.0)
    _passes(h.end(at=10.0))


def test_the_misc_echo_and_misc_thinking_without_run_ids_pass() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(2, {"type": "agent_thinking", "data": {"thought": "Checking the tables"},
                      "timestamp": "2026-11-22T00:00:01Z", "thread_id": b.thread, "user_id": identity_of("bob"),
                      "message_id": "msg_1758196800400"})
    frames.append({"type": "agent_completed", "payload": {"response": "Done", "thread_id": b.thread}})
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    _passes(h.end(at=10.0))


def test_a_run_with_several_sub_agents_one_after_another_passes() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    uid = identity_of("bob")
    frames = [{"type": "agent_started", "run_id": b.run, "user_id": uid, "agent_name": "supervisor", "data": {}}]
    for sub in ("triage", "data", "optimizer", "reporter"):
        frames += [
            {"type": "agent_started", "run_id": b.run, "user_id": uid, "agent_name": sub, "data": {}},
            {"type": "agent_thinking", "run_id": b.run, "user_id": uid, "agent_name": sub,
             "data": {"thought": f"{sub} thinking about {b.marker}"}},
            {"type": "tool_executing", "run_id": b.run, "user_id": uid, "agent_name": sub, "tool_name": "q",
             "data": {"args": sub}},
            {"type": "tool_completed", "run_id": b.run, "user_id": uid, "agent_name": sub, "tool_name": "q",
             "results": {"ok": sub}, "data": {"result": {"ok": sub}}},
            {"type": "agent_completed", "run_id": b.run, "user_id": uid, "agent_name": sub, "data": {}},
        ]
    frames.append({"type": "agent_completed", "run_id": b.run, "user_id": uid, "agent_name": "supervisor",
                   "data": {"final_response": "done"}})
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    _passes(h.end(at=10.0))


def test_connections_closed_by_the_client_after_the_end_pass() -> None:
    h, a, b = clean_pair()
    h.end(at=10.0)
    late_close = {"kind": "close", "t": 10.5, "user": "alice", "conn": "alice-c1", "code": 1000, "reason": "",
                  "by": "client"}
    v = check_lines(h.lines() + [orjson.dumps(late_close)], CheckConfig(profile=NETRA))
    assert only(v) == {} and v.verdict == "pass", v.to_dict()["reasons"]


def test_unknown_record_kinds_and_extra_fields_are_ignored() -> None:
    h, a, b = clean_pair()
    h.add({"kind": "annotation", "t": 2.0, "note": "operator pressed a key"})
    h.records[1]["extra"] = {"anything": True}
    _passes(h.end(at=10.0))


def test_a_login_error_record_of_the_harness_is_not_an_anomaly() -> None:
    h, a, b = clean_pair()
    h.add({"kind": "error", "t": 0.3, "user": "carol", "conn": None, "phase": "login", "detail": "HTTP 503"})
    _passes(h.end(at=10.0))


def test_an_answer_delivered_on_the_users_other_tab_passes() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.open("alice", conn="alice-c2", at=0.12)
    h.user("bob", at=0.2)
    a = h.ask("alice", at=1.0, conn="alice-c2")
    b = h.ask("bob", at=1.02)
    h.answer(a, at=1.1, conn="alice-c1")  # the server routes by user, to her first connection
    h.answer(b, at=1.11)
    _passes(h.end(at=10.0))


def test_two_requests_of_one_user_in_flight_together_and_answered_interleaved_pass() -> None:
    h, a, b = two_users_overlapping()
    a2 = h.ask("alice", at=1.01, text="And the week before?")
    for i, (f1, f2) in enumerate(zip(h.frames(a2), h.frames(a))):  # the second request answered first
        h.recv("alice", f1, at=round(1.1 + i * 0.02, 6))
        h.recv("alice", f2, at=round(1.11 + i * 0.02, 6))
    h.answer(b, at=1.12)
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.to_dict()["requests"]["completed"] == 3


def test_a_user_who_reconnects_and_asks_again_passes() -> None:
    h, a, b = clean_pair()
    h.close("alice", by="client", code=1000, at=2.0)
    h.open("alice", conn="alice-c2", at=2.1)
    a2 = h.ask("alice", at=2.2, conn="alice-c2")
    b2 = h.ask("bob", at=2.21)
    h.answer(a2, at=2.3, conn="alice-c2")
    h.answer(b2, at=2.31)
    _passes(h.end(at=10.0))
