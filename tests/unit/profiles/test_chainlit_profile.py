"""The chainlit profile read against frames captured from Chainlit 2.10: every received frame,
decoded by the Socket.IO transport, gets the phase the profile promises from the core's
normaliser; ids sit where the profile says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xtalk.core.normalise import Normaliser
from xtalk.core.profile import EventKind, first_str
from xtalk.profiles import load_profile
from xtalk.transport import SocketIOCodec

DATA = Path(__file__).resolve().parents[2] / "data" / "chainlit"
CHAINLIT = load_profile("chainlit")
K = EventKind


def received(name: str, who: str | None = None) -> list[dict[str, Any]]:
    codec = SocketIOCodec()
    frames = []
    for record in json.loads((DATA / name).read_text()):
        if record["dir"] != "<" or (who is not None and record["who"] != who):
            continue
        for item in codec.decode(record["frame"].encode()):
            if item.frame is not None:
                frames.append(item.frame)
    return frames


def kinds(frames: list[dict[str, Any]]) -> list[EventKind]:
    normalise = Normaliser(CHAINLIT.core)
    out: list[EventKind] = []
    for frame in frames:
        events = normalise(frame)
        assert isinstance(events, list) and len(events) == 1, frame
        out.append(events[0].kind)
    return out


def test_one_request_reads_as_started_thinking_tool_and_completed_with_noise_around_it() -> None:
    assert kinds(received("frames-single.json")) == [
        K.NOISE, K.WELCOME,  # eio.open, sio.connect
        K.NOISE, K.NOISE, K.NOISE,  # task_end, clear_ask, clear_call_fn
        K.NOISE, K.NOISE, K.NOISE, K.NOISE,  # on_chat_start's task_start, its run step upserted twice, task_end
        K.NOISE, K.NOISE,  # the request's task_start, first_interaction
        K.STARTED,  # the on_message run step, parent = the client message id
        K.STARTED,  # the agent (LangGraph) run
        K.RUN_OTHER, K.THINKING, K.THINKING, K.RUN_OTHER,  # model node: llm step new and ended
        K.RUN_OTHER, K.TOOL_EXECUTING, K.TOOL_COMPLETED, K.RUN_OTHER,  # tools node: the tool step
        K.RUN_OTHER, K.THINKING, K.THINKING, K.RUN_OTHER,  # model node again
        K.COMPLETED,  # the agent run ended
        K.RUN_OTHER, *[K.RUN_OTHER] * 7, K.RUN_OTHER,  # stream_start, 7 tokens, the streamed message
        K.COMPLETED,  # on_message ended: the request's final event
        K.NOISE,  # task_end
    ]


def test_phases_are_named_as_the_checker_reports_them() -> None:
    normalise = Normaliser(CHAINLIT.core)
    shown = {}
    for frame in received("frames-single.json"):
        event = normalise(frame)[0]  # type: ignore[index]
        shown.setdefault(event.kind, set()).add(event.type)
    assert shown[K.STARTED] == {"agent_started"} and shown[K.COMPLETED] == {"agent_completed"}
    assert shown[K.TOOL_EXECUTING] == {"tool_executing"} and shown[K.TOOL_COMPLETED] == {"tool_completed"}
    assert shown[K.THINKING] == {"agent_thinking"}


def test_every_step_of_a_run_chains_by_parent_id_to_the_echoed_client_message_id() -> None:
    records = json.loads((DATA / "frames-single.json").read_text())
    sent = next(r["frame"] for r in records if r["dir"] == ">" and "client_message" in r["frame"])
    message = SocketIOCodec().decode(sent.encode())[0].frame
    echo = first_str(message, CHAINLIT.core.request_echo)
    assert echo is not None
    owner: dict[str, str] = {echo: "request"}
    normalise = Normaliser(CHAINLIT.core)
    for frame in received("frames-single.json"):
        if normalise(frame)[0].kind in (K.NOISE, K.WELCOME):  # type: ignore[index]
            continue
        step = first_str(frame, CHAINLIT.core.step_id)
        parent = first_str(frame, CHAINLIT.core.parent_id)
        assert step is not None, frame
        assert parent in owner or step in owner, frame  # a token names its message's id only
        owner.setdefault(step, "request")


def test_threads_are_read_from_steps_and_from_the_first_interaction() -> None:
    frames = received("frames-single.json")
    thread = CHAINLIT.core.thread_id
    threads = {first_str(f, thread) for f in frames} - {None}
    assert len(threads) == 1


def test_a_refused_takeover_is_a_server_error_that_refuses_the_credentials() -> None:
    frames = received("frames-hijack-2101.json", who="bob")
    refusal = frames[-1]
    assert refusal["event"] == "sio.connect_error"
    assert kinds([refusal]) == [K.SERVER_ERROR]
    assert all(condition.holds(refusal) for condition in CHAINLIT.core.refusal)


def test_the_hijacked_run_reaches_the_prober_as_agent_events_of_the_victims_chain() -> None:
    alice = received("frames-hijack-2100.json", who="alice")
    bob = received("frames-hijack-2100.json", who="bob")
    alice_steps = {first_str(f, CHAINLIT.core.step_id) for f in alice} - {None}
    stolen = [f for f in bob if first_str(f, CHAINLIT.core.parent_id) in alice_steps]
    assert stolen, "bob receives steps whose parents only alice saw"
    assert K.COMPLETED in kinds(stolen)
