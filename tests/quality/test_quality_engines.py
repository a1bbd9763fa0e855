"""mixed_engine_run and engine_divergence: fingerprints of engine and emitter paths."""

from __future__ import annotations

from typing import Any

from tests.histories import History, identity_of, only, two_users_overlapping, witnesses


def _deliver(h: History, user: str, frames: list[dict[str, Any]], at: float, gap: float = 0.01) -> list[int]:
    lines = []
    for i, frame in enumerate(frames):
        h.recv(user, frame, at=round(at + i * gap, 6))
        lines.append(h.line(h.last))
    return lines


# ---- mixed_engine_run --------------------------------------------------------------------


def test_bridge_and_emitter_envelopes_in_one_run_are_a_mixed_engine_run() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)[:3] + h.frames(b, family="emitter")[3:]
    lines = _deliver(h, "bob", frames, 1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"mixed_engine_run": 1}
    w = witnesses(v, "mixed_engine_run")[0]
    assert lines[3] in w and lines[0] in w


def test_older_and_newer_bridge_nesting_in_one_run_are_a_mixed_engine_run() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="bridge_payload")[:2] + h.frames(b)[2:]
    _deliver(h, "bob", frames, 1.2)
    assert only(h.end(at=10.0).check()) == {"mixed_engine_run": 1}


def test_two_engines_in_one_run_are_a_mixed_engine_run() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="bridge_payload")
    frames[0]["payload"]["context"] = {"engine_id": f"user_engine_{identity_of('bob')[:8]}_{b.run}_1",
                                       "user_isolated": True}
    frames[2]["payload"]["context"] = {"engine_id": f"{identity_of('bob')[:8]}_{b.run}_2", "isolated": True}
    lines = _deliver(h, "bob", frames, 1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"mixed_engine_run": 1}
    assert {lines[0], lines[2]} <= set(witnesses(v, "mixed_engine_run")[0])


def test_a_mixed_run_is_counted_once_however_often_the_families_alternate() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    bridge, emitter = h.frames(b), h.frames(b, family="emitter")
    frames = [bridge[i] if i % 2 == 0 else emitter[i] for i in range(len(bridge))]
    _deliver(h, "bob", frames, 1.2)
    assert only(h.end(at=10.0).check()) == {"mixed_engine_run": 1}


def test_noise_frames_of_other_shapes_inside_a_run_do_not_mix_it() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    noise = [
        {"type": "heartbeat", "data": {"connection_id": "c", "timestamp": 1.0, "stats": {}}},
        {"type": "pong", "data": {"timestamp": 1.0, "user_id": identity_of("bob")}, "timestamp": 1.0},
        {"type": "progress_update", "run_id": b.run, "agent_name": "supervisor", "critical": True,
         "data": {"progress": 0.5}},
        {"type": "ack", "received_type": "typing", "user_id": identity_of("bob"), "status": "acknowledged"},
        {"type": "thread_created", "payload": {"thread_id": b.thread}, "critical": True},
    ]
    mixed = [f for pair in zip(frames, noise + [None] * len(frames)) for f in pair if f is not None]
    _deliver(h, "bob", mixed, 1.2)
    assert only(h.end(at=10.0).check()) == {}


def test_a_batch_and_the_misc_echo_inside_a_bridge_run_do_not_mix_it() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames.insert(2, {"type": "event_batch", "batch_id": "batch_3", "events": {"agent_thinking": [
        {"run_id": b.run, "user_id": identity_of("bob"), "reasoning": "step 1"},
        {"run_id": b.run, "user_id": identity_of("bob"), "reasoning": "step 2"}]}})
    frames.append({"type": "agent_completed", "payload": {"response": "Done", "thread_id": b.thread}})
    _deliver(h, "bob", frames, 1.2)
    assert only(h.end(at=10.0).check()) == {}


def test_the_reasoning_alias_inside_an_emitter_run_does_not_mix_it() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    frames[1] = {k: v for k, v in frames[1].items() if k != "thought"} | {"type": "reasoning", "reasoning": "hmm"}
    _deliver(h, "bob", frames, 1.2)
    assert only(h.end(at=10.0).check()) == {}


def test_both_envelope_families_on_different_requests_are_clean() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family="emitter")
    h.answer(b, at=1.12, family="bridge")
    a2 = h.ask("alice", at=2.0)
    h.answer(a2, at=2.1, family="bridge_payload")
    assert only(h.end(at=10.0).check()) == {}


# ---- engine_divergence -------------------------------------------------------------------


def _matrix(seq_main: dict[str, Any], seq_factory: dict[str, Any], *, text: str = "Summarise GPU spend",
            script: str | None = None, texts: tuple[str, str] | None = None) -> tuple[History, list[int]]:
    h = History()
    h.user("alice", at=0.1, engine="main")
    h.user("bob", at=0.2, engine="factory")
    a = h.ask("alice", at=1.0, text=texts[0] if texts else text, script=script)
    b = h.ask("bob", at=1.05, text=texts[1] if texts else text, script=script)
    h.answer(a, at=1.1, **seq_main)
    h.answer(b, at=1.12, **seq_factory)
    return h, [h.line(a.record), h.line(b.record)]


def test_the_same_request_on_two_engine_paths_with_different_sequences_is_engine_divergence() -> None:
    h, sends = _matrix({}, {"tool": False})
    v = h.end(at=10.0).check()
    assert only(v) == {"engine_divergence": 1}
    assert set(sends) <= set(witnesses(v, "engine_divergence")[0])
    assert "event" in v.to_dict()["findings"][0]["explanation"]


def test_the_same_script_key_with_different_texts_on_two_paths_is_engine_divergence() -> None:
    h, _ = _matrix({}, {"sub": False}, script="gpu-spend-1", texts=("Summarise GPU spend", "GPU spend, please"))
    assert only(h.end(at=10.0).check()) == {"engine_divergence": 1}


def test_the_same_request_on_two_paths_with_the_same_sequence_is_clean_though_server_ids_differ() -> None:
    # Run ids, execution ids and request ids are minted by the server per run: they are not part
    # of the normalised sequence.
    h, _ = _matrix({}, {})
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"


def test_the_same_request_on_two_paths_in_different_envelope_families_is_clean() -> None:
    h, _ = _matrix({"family": "bridge"}, {"family": "emitter"})
    assert only(h.end(at=10.0).check()) == {}


def test_different_requests_on_two_paths_with_different_sequences_are_clean() -> None:
    h, _ = _matrix({}, {"tool": False}, texts=("Summarise GPU spend", "What is the weather?"))
    assert only(h.end(at=10.0).check()) == {}


def test_a_path_that_answers_the_same_script_two_ways_is_nondeterministic_not_divergent() -> None:
    h, _ = _matrix({}, {"tool": False})
    a2 = h.ask("alice", at=2.0, text="Summarise GPU spend")
    h.answer(a2, at=2.1, tool=False)  # main itself answers both ways
    assert only(h.end(at=10.0).check()) == {}


def test_the_same_script_on_one_path_with_different_sequences_is_not_divergence() -> None:
    h = History()
    h.user("alice", at=0.1, engine="main")
    h.user("bob", at=0.2, engine="main")
    a = h.ask("alice", at=1.0, text="Summarise GPU spend")
    b = h.ask("bob", at=1.05, text="Summarise GPU spend")
    h.answer(a, at=1.1)
    h.answer(b, at=1.12, tool=False)
    assert only(h.end(at=10.0).check()) == {}


def test_the_engine_path_comes_from_the_welcome_mode_when_the_open_names_none() -> None:
    h = History()
    h.user("alice", at=0.1, engine=None)
    h.records[-1]["frame"]["data"]["mode"] = "main"
    h.user("bob", at=0.2, engine=None)
    h.records[-1]["frame"]["data"]["mode"] = "isolated"
    a = h.ask("alice", at=1.0, text="Summarise GPU spend")
    b = h.ask("bob", at=1.05, text="Summarise GPU spend")
    h.answer(a, at=1.1)
    h.answer(b, at=1.12, tool=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"engine_divergence": 1}
    assert set(v.to_dict()["coverage"]["engines"]) == {"main", "isolated"}


# ---- a matrix group names the same request on every path ---------------------------------


def _matrix_pair(tool_on_isolated: bool = True, other_tool_name: bool = False) -> History:
    h = History()
    h.user("alice", engine="main", at=0.1).user("bob", engine="main", at=0.2)
    h.open("alice", conn="alice-c2", engine="isolated", at=0.3)
    a1 = h.ask("alice", at=1.0, text="one", conn="alice-c1")
    a1.record["group"] = "alice-g1"
    a2 = h.ask("alice", at=1.0, text="two", conn="alice-c2")  # other text: only the group ties them
    a2.record["group"] = "alice-g1"
    b = h.ask("bob", at=1.01)
    h.answer(a1, at=1.1)
    frames = h.frames(a2, tool=tool_on_isolated)
    if other_tool_name:
        for frame in frames:
            if frame.get("tool_name"):
                frame["tool_name"] = "lookup"
    for i, frame in enumerate(frames):
        h.recv("alice", frame, conn="alice-c2", at=round(1.12 + i * 0.01, 6))
    h.answer(b, at=1.15)
    return h.end(at=10.0)


def test_a_matrix_group_answered_without_the_tool_step_on_one_path_is_engine_divergence() -> None:
    assert only(_matrix_pair(tool_on_isolated=False).check()) == {"engine_divergence": 1}


def test_a_matrix_group_whose_paths_name_their_tools_differently_is_not_divergence() -> None:
    assert only(_matrix_pair(other_tool_name=True).check()) == {}
