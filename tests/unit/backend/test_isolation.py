"""Isolation: the correct engine paths never leak; ``legacy`` leaks only when users overlap."""

from __future__ import annotations

from typing import Any

import pytest

from backend.driver import FakeSocket, Harness, User, fast_config, run


async def crowd(h: Harness, mode: str, users: int, requests: int
                ) -> list[tuple[User, FakeSocket]]:
    """``users`` users, each sending ``requests`` overlapping requests, all at once."""
    people = [(await h.user(f"u{n}@x.io")) for n in range(users)]
    socks = [(u, await h.connect(u, mode)) for u in people]
    for r in range(requests):
        for user, sock in socks:
            await sock.ask(f"{user.email} request {r}", user.thread)
    await h.settle()
    return socks


def foreign_events(socks: list[tuple[User, FakeSocket]]) -> list[tuple[str, dict[str, Any]]]:
    """Events a user received for a run another user asked for (runs learned by their start)."""
    requester: dict[str, str] = {}
    for user, sock in socks:
        for text_frame in sock.events():
            if text_frame["type"] == "agent_started" and text_frame.get("agent_name") == "supervisor":
                requester.setdefault(text_frame["run_id"], user.id)
    out = []
    for user, sock in socks:
        for event in sock.events():
            if requester.get(event["run_id"], user.id) != user.id:
                out.append((user.id, event))
    return out


def test_legacy_leaks_a_run_to_another_user_stamped_with_the_receivers_user_id() -> None:
    async def go() -> None:
        h = Harness()
        socks = await crowd(h, "legacy", users=2, requests=2)
        leaks = foreign_events(socks)
        assert leaks, "two overlapping users on the legacy path must leak"
        receiver, event = leaks[0]
        assert event["user_id"] == receiver  # stamped as the receiver's ...
        assert event["run_id"] in {a["run_id"] for a in h.app.plan.acts}  # ... with A's run id
        assert {a["fault"] for a in h.app.plan.acts} == {"shared_factory"}
        assert all(a["owner"] != a["victim"] for a in h.app.plan.acts)
    run(go)


def test_legacy_never_leaks_with_one_user_alone_however_many_requests_overlap() -> None:
    async def go() -> None:
        h = Harness()
        socks = await crowd(h, "legacy", users=1, requests=10)
        user, sock = socks[0]
        runs: dict[str, int] = {}
        for event in sock.events():
            assert event["user_id"] == user.id and event["thread_id"] == user.thread
            runs[event["run_id"]] = runs.get(event["run_id"], 0) + 1
        assert len(runs) == 10 and set(runs.values()) == {7}
        assert h.app.plan.acts == []
    run(go)


@pytest.mark.parametrize("mode", ["main", "isolated", "factory"])
def test_correct_paths_never_leak_between_overlapping_users(mode: str) -> None:
    async def go() -> None:
        h = Harness(fast_config(delay_min=0.0, delay_max=0.0))
        socks = await crowd(h, mode, users=6, requests=3)
        assert foreign_events(socks) == []
        for user, sock in socks:
            events = sock.events()
            assert len(events) == 21
            assert {e["user_id"] for e in events} == {user.id}
            assert all(user.email in str(e) for e in events if e["type"] == "tool_completed")
    run(go)
