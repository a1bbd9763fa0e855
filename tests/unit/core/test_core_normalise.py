"""Normalisation of every frame variant in netra_frames.jsonl, and of the shapes around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from xtalk.core.normalise import Event, Problem, normalise
from xtalk.core.profile import EventKind
from xtalk.profiles.netra import NETRA

FRAMES_FILE = Path(__file__).resolve().parents[2] / "data" / "netra_frames.jsonl"  # copy of shared/netra_frames.jsonl
FULL_ID = "7f3a9c21-4b6e-4c0a-9d1e-2f8b5a6c7d90"


def _variants() -> dict[str, dict[str, Any]]:
    if not FRAMES_FILE.exists():  # pragma: no cover - the shared folder is part of the workspace
        return {}
    out = {}
    for line in FRAMES_FILE.read_text().splitlines():
        if line.strip():
            obj = orjson.loads(line)
            out[obj["variant"]] = obj["frame"]
    return out


VARIANTS = _variants()


def _one(frame: Any) -> Event:
    events = normalise(frame, NETRA)
    assert not isinstance(events, Problem), events
    assert len(events) == 1, events
    return events[0]


def _variant(prefix: str) -> dict[str, Any]:
    matches = [frame for name, frame in VARIANTS.items() if name.startswith(prefix)]
    if not matches:
        pytest.skip(f"no variant {prefix!r} in {FRAMES_FILE}")
    assert len(matches) == 1, prefix
    return matches[0]


# (variant name prefix, kind, canonical type, run_id, user_id, fingerprints that must be present)
AGENT_VARIANTS = [
    ("bridge family, newer", EventKind.STARTED, "agent_started", "run_ws_4d2a", FULL_ID, {("envelope", "bridge_data")}),
    ("bridge family, older", EventKind.THINKING, "agent_thinking", "run_ws_4d2a", FULL_ID,
     {("envelope", "bridge_payload")}),
    ("bridge family, tool event", EventKind.TOOL_COMPLETED, "tool_completed", "run_ws_4d2a", FULL_ID,
     {("envelope", "bridge_data")}),
    ("bridge family, error", EventKind.FAILED, "agent_error", "run_ws_4d2a", None, {("envelope", "bridge_data")}),
    ("emitter family, newer: flat", EventKind.STARTED, "agent_started", "run_ws_4d2a", FULL_ID,
     {("envelope", "emitter")}),
    ("emitter family, newer: tool_executing", EventKind.TOOL_EXECUTING, "tool_executing", "run_ws_4d2a", FULL_ID,
     {("envelope", "emitter")}),
    ("emitter family, thinking sent with type reasoning", EventKind.THINKING, "agent_thinking", "run_ws_4d2a",
     FULL_ID, {("envelope", "emitter")}),
    ("emitter family, a retry", EventKind.COMPLETED, "agent_completed", "run_ws_4d2a", FULL_ID,
     {("envelope", "emitter")}),
    ("emitter family, older: nested data", EventKind.TOOL_EXECUTING, "tool_executing", "run_ws_4d2a", FULL_ID,
     {("envelope", "emitter")}),
    ("misc: completion with payload only", EventKind.COMPLETED, "agent_completed", None, None, set()),
    ("misc: emit_event shape", EventKind.THINKING, "agent_thinking", None, FULL_ID, set()),
    ("engine fingerprint: UserExecutionEngine", EventKind.STARTED, "agent_started", "run_ws_4d2a", FULL_ID,
     {("engine", "user_execution_engine"), ("envelope", "bridge_payload")}),
    ("engine fingerprint: request-scoped", EventKind.STARTED, "agent_started", "run_ws_4d2a", FULL_ID,
     {("engine", "request_scoped_engine"), ("envelope", "bridge_payload")}),
]


@pytest.mark.parametrize(("prefix", "kind", "type_name", "run_id", "user_id", "prints"), AGENT_VARIANTS,
                         ids=[v[0] for v in AGENT_VARIANTS])
def test_every_agent_event_variant_normalises_to_its_kind_type_and_ids(
    prefix: str, kind: EventKind, type_name: str, run_id: str | None, user_id: str | None,
    prints: set[tuple[str, str]],
) -> None:
    event = _one(_variant(prefix))
    assert event.kind is kind
    assert event.type == type_name
    assert event.run_id == run_id
    assert event.user_id == user_id
    assert prints <= set(event.fingerprints)


def test_every_variant_in_the_shared_file_is_covered_by_a_test() -> None:
    covered = [v[0] for v in AGENT_VARIANTS] + [
        "welcome, newer", "welcome, older", "auth failure", "client request", "misc: batched",
        "noise: progress", "noise: server heartbeat", "noise: pong", "noise: ack",
    ]
    missing = [name for name in VARIANTS if not any(name.startswith(p) for p in covered)]
    assert missing == []


def test_the_emitter_thread_id_and_tool_call_key_come_from_the_frame() -> None:
    event = _one(_variant("emitter family, newer: tool_executing"))
    assert event.thread_id == "thread_8c1f"
    assert event.tool == "exec_71"  # the execution id pairs executing with completed


def test_the_older_emitter_finds_its_ids_under_data() -> None:
    event = _one(_variant("emitter family, older: nested data"))
    assert (event.run_id, event.thread_id, event.tool_name) == ("run_ws_4d2a", "thread_8c1f", "search")


def test_the_misc_completion_finds_its_thread_under_payload() -> None:
    event = _one(_variant("misc: completion with payload only"))
    assert event.thread_id == "thread_8c1f"


def test_the_bridge_agent_name_is_read_from_the_top_level() -> None:
    assert _one(_variant("bridge family, older")).agent == "triage"


def test_a_newer_welcome_is_a_welcome_with_the_short_user_id_and_mode() -> None:
    event = _one(_variant("welcome, newer"))
    assert event.kind is EventKind.WELCOME
    assert event.user_id == "7f3a9c21..."
    assert event.mode == "main"


def test_an_older_welcome_wrapped_in_system_message_is_a_welcome_with_the_full_user_id() -> None:
    event = _one(_variant("welcome, older"))
    assert event.kind is EventKind.WELCOME
    assert event.user_id == FULL_ID


@pytest.mark.parametrize("type_name", ["factory_connection_established", "isolated_connection_established",
                                       "legacy_connection_established"])
def test_welcomes_of_other_modes_are_welcomes(type_name: str) -> None:
    event = _one({"type": type_name, "data": {"mode": "factory", "user_id": "abcd1234..."}})
    assert event.kind is EventKind.WELCOME
    assert event.user_id == "abcd1234..."


def test_a_system_message_carries_its_real_type_in_data_event() -> None:
    frame = {"type": "system_message", "data": {"event": "agent_started", "run_id": "r1", "user_id": "u"}}
    event = _one(frame)
    assert (event.kind, event.run_id, event.user_id) == (EventKind.STARTED, "r1", "u")


def test_an_agent_progress_wrapper_carries_its_real_type_in_data_event() -> None:
    event = _one({"type": "agent_progress", "data": {"event": "agent_thinking", "run_id": "r1"}})
    assert event.kind is EventKind.THINKING


def test_a_system_message_without_a_known_event_is_noise() -> None:
    assert _one({"type": "system_message", "data": {"event": "maintenance"}}).kind is EventKind.NOISE


def test_an_event_batch_is_unpacked_into_one_event_per_item() -> None:
    events = normalise(_variant("misc: batched"), NETRA)
    assert not isinstance(events, Problem)
    assert [(e.kind, e.run_id, e.user_id) for e in events] == [(EventKind.THINKING, "run_ws_4d2a", FULL_ID)] * 2
    assert events[0].dedup != events[1].dedup  # two steps, not one step twice


def test_an_event_batch_holding_a_list_of_whole_frames_is_unpacked() -> None:
    frame = {"type": "event_batch", "events": [{"type": "agent_started", "run_id": "r"},
                                               {"type": "reasoning", "run_id": "r"}]}
    events = normalise(frame, NETRA)
    assert not isinstance(events, Problem)
    assert [e.type for e in events] == ["agent_started", "agent_thinking"]


@pytest.mark.parametrize("events", ["x", 3, {"agent_thinking": "not a list"}, {"agent_thinking": [1, 2]}])
def test_a_malformed_event_batch_is_a_problem(events: Any) -> None:
    assert isinstance(normalise({"type": "event_batch", "events": events}, NETRA), Problem)


@pytest.mark.parametrize("prefix", ["noise: progress", "noise: server heartbeat", "noise: pong", "noise: ack"])
def test_progress_heartbeat_pong_and_ack_are_noise(prefix: str) -> None:
    event = _one(_variant(prefix))
    assert event.kind is EventKind.NOISE
    assert event.fingerprints == ()  # noise never fingerprints an engine


@pytest.mark.parametrize("type_name", ["heartbeat_ack", "thread_created", "ping"])
def test_other_housekeeping_frames_are_noise(type_name: str) -> None:
    assert _one({"type": type_name}).kind is EventKind.NOISE


@pytest.mark.parametrize("frame", [
    {"type": "error_message", "error_code": "AUTH_FAILED", "error_message": "Authentication failed"},
    {"type": "error", "message": "rate limited"},
])
def test_error_frames_are_server_errors(frame: dict[str, Any]) -> None:
    assert _one(frame).kind is EventKind.SERVER_ERROR


def test_the_auth_failure_variant_is_a_server_error() -> None:
    assert _one(_variant("auth failure")).kind is EventKind.SERVER_ERROR


@pytest.mark.parametrize("type_name", ["partial_result", "final_report", "agent_fallback", "stream_chunk",
                                       "tool_error"])
def test_rarely_sent_run_events_belong_to_a_run_but_not_to_its_lifecycle(type_name: str) -> None:
    event = _one({"type": type_name, "run_id": "r1"})
    assert event.kind is EventKind.RUN_OTHER
    assert event.run_id == "r1"


def test_agent_death_is_a_final_failure() -> None:
    assert _one({"type": "agent_death", "run_id": "r1"}).kind is EventKind.FAILED


def test_an_unknown_type_yields_no_event() -> None:
    assert normalise({"type": "typing_indicator", "run_id": "r1"}, NETRA) == []


@pytest.mark.parametrize("frame", [[1, 2], "text", 3, None, {"no": "type"}, {"type": ""}, {"type": 7}])
def test_a_frame_that_is_not_an_object_with_a_type_is_a_problem(frame: Any) -> None:
    assert isinstance(normalise(frame, NETRA), Problem)


def test_reasoning_and_agent_thinking_read_the_same_type_in_every_family() -> None:
    for frame in ({"type": "reasoning", "run_id": "r", "critical": True},
                  {"type": "reasoning", "run_id": "r", "data": {}},
                  {"type": "reasoning", "run_id": "r", "payload": {}}):
        assert _one(frame).type == "agent_thinking"


def test_fingerprints_come_from_the_envelope_shape_not_the_type_alias() -> None:
    bridge = _one({"type": "reasoning", "run_id": "r", "data": {"thought": "x"}})
    emitter = _one({"type": "agent_thinking", "run_id": "r", "critical": True})
    assert ("envelope", "bridge_data") in bridge.fingerprints
    assert ("envelope", "emitter") in emitter.fingerprints


def test_ids_are_looked_up_at_the_top_level_first_then_under_data_then_payload() -> None:
    top = _one({"type": "agent_thinking", "run_id": "top", "data": {"run_id": "data"}})
    data = _one({"type": "agent_thinking", "data": {"run_id": "data"}, "payload": {"run_id": "payload"}})
    payload = _one({"type": "agent_thinking", "payload": {"run_id": "payload"}})
    context = _one({"type": "agent_thinking", "data": {"context": {"run_id": "ctx"}}})
    result = _one({"type": "agent_thinking", "data": {"result": {"run_id": "res"}}})
    assert [e.run_id for e in (top, data, payload, context, result)] == ["top", "data", "payload", "ctx", "res"]


def test_a_retry_with_attempt_shares_the_dedup_key_of_the_first_delivery() -> None:
    frame = dict(_variant("emitter family, a retry"))
    first = {k: v for k, v in frame.items() if k != "attempt"}
    assert _one(first).dedup == _one(frame).dedup == _one({**frame, "attempt": 3}).dedup


def test_two_different_events_have_different_dedup_keys() -> None:
    a = _one({"type": "agent_thinking", "run_id": "r", "data": {"thought": "a"}})
    b = _one({"type": "agent_thinking", "run_id": "r", "data": {"thought": "b"}})
    assert a.dedup != b.dedup


def test_a_huge_integer_in_a_frame_does_not_break_normalisation() -> None:
    event = _one({"type": "agent_thinking", "run_id": "r", "data": {"n": 2**70}})
    assert event.kind is EventKind.THINKING
