"""Agent runs: the event sequence, the ids on it, the envelope family of each engine path."""

from __future__ import annotations

from typing import Any

import pytest

from backend.driver import Harness, fast_config, run

SEQUENCE = ["agent_started", "agent_thinking", "agent_started", "tool_executing",
            "tool_completed", "agent_completed", "agent_completed"]


async def one_run(mode: str, text: str = "hello xtm-00aa11bb22cc33dd", **ask: Any
                  ) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    h = Harness(fast_config(reasoning_alias=0.0))
    user = await h.user("a@x.io")
    sock = await h.connect(user, mode)
    await sock.ask(text, user.thread, **ask)
    await h.settle()
    return user, sock.events(), sock.frames


@pytest.mark.parametrize("mode", ["main", "isolated", "factory", "legacy"])
def test_a_request_gets_the_seven_events_in_order_with_its_ids(mode: str) -> None:
    async def go() -> None:
        user, events, _ = await one_run(mode)
        assert [e["type"] for e in events] == SEQUENCE
        assert {e["run_id"] for e in events} == {events[0]["run_id"]}
        assert {e["user_id"] for e in events} == {user.id}
        assert {e["thread_id"] for e in events} == {user.thread}
        assert events[0]["agent_name"] == events[-1]["agent_name"]  # the supervisor
        assert events[2]["agent_name"] == events[5]["agent_name"] != events[0]["agent_name"]
    run(go)


@pytest.mark.parametrize("mode", ["main", "isolated", "factory", "legacy"])
def test_thinking_tool_arguments_results_and_answer_echo_the_request_text(mode: str) -> None:
    async def go() -> None:
        _, events, frames = await one_run(mode, "spend for team xtm-00aa11bb22cc33dd")
        by_type = {e["type"]: e for e in events}
        marker = "xtm-00aa11bb22cc33dd"
        assert marker in str(by_type["agent_thinking"])
        assert marker in str(by_type["tool_executing"])
        assert marker in str(by_type["tool_completed"])
        assert marker in str(events[-1])
        assert marker not in str(events[0])  # the start says nothing about the text
    run(go)


def test_main_path_uses_the_flat_critical_emitter_family() -> None:
    async def go() -> None:
        _, _, frames = await one_run("main")
        events = [f for f in frames if f["type"].startswith(("agent", "tool"))]
        assert all(f["critical"] is True and f["request_id"].startswith("ws_req_") for f in events)
        assert all("data" not in f and "payload" not in f for f in events)
    run(go)


def test_isolated_path_uses_the_bridge_family_with_a_user_engine_fingerprint() -> None:
    async def go() -> None:
        user, _, frames = await one_run("isolated")
        events = [f for f in frames if f["type"].startswith(("agent", "tool"))]
        assert all("data" in f and "critical" not in f for f in events)
        context = events[0]["data"]["context"]
        assert context["engine_id"].startswith("user_engine_") and context["user_isolated"] is True
    run(go)


def test_factory_path_nests_under_payload_with_a_request_scoped_fingerprint() -> None:
    async def go() -> None:
        _, _, frames = await one_run("factory")
        events = [f for f in frames if f["type"].startswith(("agent", "tool"))]
        assert all("payload" in f and "data" not in f for f in events)
        context = events[0]["payload"]["context"]
        assert context["isolated"] is True and not context["engine_id"].startswith("user_engine_")
    run(go)


def test_main_path_may_send_thinking_as_reasoning() -> None:
    async def go() -> None:
        h = Harness(fast_config(reasoning_alias=1.0))
        user = await h.user("a@x.io")
        sock = await h.connect(user, "main")
        await sock.ask("why")
        await h.settle()
        assert [f["type"] for f in sock.frames].count("reasoning") == 1
    run(go)


@pytest.mark.parametrize("kind", ["user_message", "chat", "chat_message", "agent_request",
                                  "execute_agent"])
def test_follow_ups_and_aliases_start_a_run(kind: str) -> None:
    async def go() -> None:
        _, events, _ = await one_run("main", kind=kind)
        assert [e["type"] for e in events] == SEQUENCE
    run(go)


def test_a_flat_message_without_payload_starts_a_run() -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user)
        await sock.send({"type": "start_agent", "user_request": "flat one", "thread_id": user.thread})
        await h.settle()
        assert len(sock.events()) == 7
    run(go)


def test_a_request_without_text_gets_an_error_frame_and_no_run() -> None:
    async def go() -> None:
        h = Harness()
        sock = await h.connect(await h.user("a@x.io"))
        await sock.send({"type": "start_agent", "payload": {"user_request": ""}})
        await h.settle()
        assert sock.events() == [] and sock.frames[-1]["type"] == "error"
    run(go)


def test_overlapping_requests_on_one_connection_each_get_their_own_run() -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user)
        for n in range(3):
            await sock.ask(f"request {n}", user.thread)
        await h.settle()
        runs: dict[str, list[str]] = {}
        for event in sock.events():
            runs.setdefault(event["run_id"], []).append(event["type"])
        assert len(runs) == 3 and all(types == SEQUENCE for types in runs.values())
        order = [e["run_id"] for e in sock.events()]
        assert order != sorted(order, key=order.index)  # they interleaved
    run(go)


def test_run_ids_are_unique_and_do_not_contain_the_user_id() -> None:
    async def go() -> None:
        h = Harness()
        user = await h.user("a@x.io")
        sock = await h.connect(user)
        for n in range(20):
            await sock.ask(f"r{n}")
        await h.settle()
        run_ids = {e["run_id"] for e in sock.events()}
        assert len(run_ids) == 20
        assert not any(user.id[:8] in r for r in run_ids)
    run(go)


def test_a_foreign_thread_id_falls_back_to_the_callers_own_thread() -> None:
    async def go() -> None:
        h = Harness()
        alice, bob = await h.user("a@x.io"), await h.user("b@x.io")
        sock = await h.connect(bob)
        await sock.ask("let me see alice's thread", alice.thread)
        await sock.ask("and a made-up one", "thread_doesnotexist")
        await h.settle()
        assert {e["thread_id"] for e in sock.events()} == {bob.thread}
    run(go)
