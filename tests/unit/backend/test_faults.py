"""Every named fault does what FAULTS says, only when its mechanism can act, and says so in the
ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from backend.driver import FakeSocket, Harness, User, fast_config, run
from xtalk.backend.config import BackendConfig, parse_fault
from xtalk.backend.faults import FAULTS
from xtalk.core.anomaly import ANOMALY_KINDS
from xtalk.errors import UsageError

SPEC_KINDS = {"cross_user_event", "cross_user_content", "identity_mismatch", "phantom_event",
              "dropped_response", "incomplete_run", "duplicate_event", "out_of_order",
              "event_after_completion", "mixed_engine_run", "engine_divergence", "protocol_error",
              "connection_lost"}


def harness(*faults: tuple[str, float], **kw: Any) -> Harness:
    return Harness(fast_config(faults=faults, reasoning_alias=0.0, **kw))


async def pair(h: Harness, mode: str = "main") -> tuple[User, FakeSocket, User, FakeSocket]:
    a, b = await h.user("a@x.io"), await h.user("b@x.io")
    return a, await h.connect(a, mode), b, await h.connect(b, mode)


async def overlap(h: Harness, mode: str = "main") -> tuple[User, FakeSocket, User, FakeSocket]:
    """A asks, then B asks while A's run is in flight."""
    a, sa, b, sb = await pair(h, mode)
    await sa.ask("alpha text from A", a.thread)
    await sb.ask("bravo text from B", b.thread)
    await h.settle()
    return a, sa, b, sb


def acts(h: Harness, fault: str) -> list[dict[str, Any]]:
    return [act for act in h.app.plan.acts if act["fault"] == fault]


def runs_of(sock: FakeSocket) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in sock.events():
        out.setdefault(event["run_id"], []).append(event)
    return out


# the table


def test_every_fault_names_only_kinds_the_checker_reports() -> None:
    kinds = SPEC_KINDS | {"probe_violation"}  # SPEC's thirteen and xtalk's addition
    assert kinds == set(ANOMALY_KINDS)
    for name, info in FAULTS.items():
        assert set(info.expected_kinds) <= kinds, name
        assert set(info.incidental_kinds) <= kinds, name
        assert set(info.any_of) <= kinds, name
        assert 0.0 < info.default_rate <= 1.0, name


def test_every_netra_mechanism_and_plain_fault_is_in_the_table() -> None:
    assert set(FAULTS) == {
        "demo_mode", "relaxed_identity", "global_router", "shared_factory", "bridge_fallback",
        "stale_emitter", "last_writer_map", "thread_as_user", "retry_duplicates", "manager_push",
        "drop_run", "reorder_tools", "event_after_completion", "mixed_emitters", "content_bleed",
        "garbage_frames", "abrupt_close", "login_401", "login_500", "slow_handshake", "refuse_1008",
        "trust_client_ids", "accept_bad_tokens", "content_bleed_inflight"}


def test_fault_flags_parse_with_and_without_a_rate() -> None:
    assert parse_fault("drop_run=0.25") == ("drop_run", 0.25)
    assert parse_fault("shared_factory") == ("shared_factory", FAULTS["shared_factory"].default_rate)
    with pytest.raises(UsageError, match="fault=gremlins|--fault gremlins"):
        parse_fault("gremlins")
    with pytest.raises(UsageError):
        parse_fault("drop_run=often")
    with pytest.raises(UsageError, match="between 0 and 1"):
        BackendConfig(faults=(("drop_run", 1.5),)).validate()


def test_ground_truth_lines_are_jsonl_with_the_agreed_fields(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"

    async def go() -> None:
        h = harness(("drop_run", 1.0), ground_truth=str(truth))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        await sock.ask("x", a.thread)
        await h.settle()
        h.app.stop()

    run(go)
    lines = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    assert len(lines) == 1
    assert set(lines[0]) == {"fault", "run_id", "owner", "victim", "t", "detail"}
    assert lines[0]["fault"] == "drop_run" and lines[0]["run_id"].startswith("run_")


def test_the_same_seed_makes_the_same_draws() -> None:
    from xtalk.backend.faults import FaultPlan

    def draws(seed: int) -> list[bool]:
        plan = FaultPlan(BackendConfig(faults=(("drop_run", 0.5), ("reorder_tools", 0.5)), seed=seed))
        return [plan.fires("drop_run") for _ in range(40)]

    assert draws(7) == draws(7) and draws(7) != draws(8)


# NETRA_PROTOCOL §5 mechanisms


def test_demo_mode_collapses_every_user_into_demo_user_and_routes_them_together() -> None:
    async def go() -> None:
        h = harness(("demo_mode", 1.0))
        a, sa, b, sb = await overlap(h)
        assert sa.frames[0]["data"]["user_id"] == "demo-use..."
        assert {e["user_id"] for e in sa.events()} == {"demo-user-001"}
        assert len(runs_of(sa)) == 2 and len(runs_of(sb)) == 2  # each sees both runs
        leaks = acts(h, "demo_mode")
        assert {(x["owner"], x["victim"]) for x in leaks if x["run_id"]} == {(a.id, b.id), (b.id, a.id)}
    run(go)


def test_demo_mode_alone_shows_only_the_identity_mismatch() -> None:
    async def go() -> None:
        h = harness(("demo_mode", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        await sock.ask("x", a.thread)
        await h.settle()
        assert len(runs_of(sock)) == 1
        assert [x["run_id"] for x in acts(h, "demo_mode")] == [None]  # the identity act only
    run(go)


def test_relaxed_identity_ids_collide_and_collapse_two_users() -> None:
    async def go() -> None:
        h = harness(("relaxed_identity", 1.0), relaxed_modulus=1)  # every hash collides
        a, sa, b, sb = await overlap(h)
        assert sa.frames[0]["data"]["user_id"] == "relaxed_..."
        assert {e["user_id"] for e in sb.events()} == {"relaxed_0"}
        assert len(runs_of(sb)) == 2
        assert any(x["victim"] == b.id and x["owner"] == a.id for x in acts(h, "relaxed_identity"))
    run(go)


def test_global_router_serves_a_later_users_request_through_the_first_users_handler() -> None:
    async def go() -> None:
        h = harness(("global_router", 1.0))
        a, sa, b, sb = await pair(h)
        await sb.ask("bravo secret", b.thread)
        await h.settle()
        assert sb.events() == []  # B's answer never comes
        got = sa.events()
        assert len(got) == 7 and {e["user_id"] for e in got} == {a.id}  # as if A asked
        assert "bravo secret" in str(got[-1])
        assert {(x["owner"], x["victim"]) for x in acts(h, "global_router")} == {(b.id, a.id)}
    run(go)


def test_global_router_keeps_a_closed_connections_handler_and_drops_everything() -> None:
    async def go() -> None:
        h = harness(("global_router", 1.0))
        a, sa, b, sb = await pair(h)
        await sa.disconnect()
        await sb.ask("anyone there", b.thread)
        await h.settle()
        assert sb.events() == [] and all(x["victim"] is None for x in acts(h, "global_router"))
    run(go)


def test_global_router_with_one_user_alone_is_harmless() -> None:
    async def go() -> None:
        h = harness(("global_router", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        await sock.ask("x", a.thread)
        await h.settle()
        assert len(sock.events()) == 7 and acts(h, "global_router") == []
    run(go)


@pytest.mark.parametrize("mode", ["main", "isolated"])
def test_shared_factory_on_a_correct_path_leaks_under_overlap(mode: str) -> None:
    async def go() -> None:
        h = harness(("shared_factory", 1.0))
        a, sa, b, sb = await overlap(h, mode)
        a_run = sa.events()[0]["run_id"]
        stolen = [e for e in sb.events() if e["run_id"] == a_run]
        assert stolen and all(e["user_id"] == b.id for e in stolen)
        assert {(x["owner"], x["victim"]) for x in acts(h, "shared_factory")} == {(a.id, b.id)}
    run(go)


def test_shared_factory_never_leaks_without_overlap() -> None:
    async def go() -> None:
        h = harness(("shared_factory", 1.0))
        a, sa, b, sb = await pair(h)
        await sa.ask("first", a.thread)
        await h.settle()
        await sb.ask("second", b.thread)
        await h.settle()
        assert len(sa.events()) == 7 and len(sb.events()) == 7 and acts(h, "shared_factory") == []
    run(go)


def test_bridge_fallback_sends_a_reused_bridges_events_to_the_user_it_was_made_for() -> None:
    async def go() -> None:
        h = harness(("bridge_fallback", 1.0))
        a, sa, b, sb = await pair(h)
        await sa.ask("first", a.thread)
        await h.settle()  # A's bridge goes back to the pool
        await sb.ask("second", b.thread)
        await h.settle()
        b_run = sb.events()[0]["run_id"]
        assert [e["type"] for e in sb.events()] == ["agent_started"]  # only the one with context
        fallen = [e for e in sa.events() if e["run_id"] == b_run]
        assert len(fallen) == 6 and {e["user_id"] for e in fallen} == {a.id}
        assert {(x["owner"], x["victim"]) for x in acts(h, "bridge_fallback")} == {(b.id, a.id)}
    run(go)


def test_bridge_fallback_with_one_user_alone_is_harmless() -> None:
    async def go() -> None:
        h = harness(("bridge_fallback", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        for n in range(3):
            await sock.ask(f"r{n}", a.thread)
            await h.settle()
        assert len(sock.events()) == 21 and acts(h, "bridge_fallback") == []
    run(go)


def test_stale_emitter_stamps_a_later_run_with_an_earlier_runs_ids() -> None:
    async def go() -> None:
        h = harness(("stale_emitter", 1.0))
        a, sa, b, sb = await pair(h)
        await sa.ask("first", a.thread)
        await h.settle()  # A's emitter goes back to the pool, still holding A's ids
        await sb.ask("second", b.thread)
        await h.settle()
        a_run = sa.events()[0]["run_id"]
        got = sb.events()
        assert len(got) == 7
        assert {e["run_id"] for e in got} == {a_run} and {e["thread_id"] for e in got} == {a.thread}
        assert {e["user_id"] for e in got} == {b.id}
        assert {(x["owner"], x["victim"]) for x in acts(h, "stale_emitter")} == {(a.id, b.id)}
    run(go)


def test_last_writer_map_routes_a_run_to_the_thread_written_last() -> None:
    async def go() -> None:
        h = harness(("last_writer_map", 1.0))
        a, sa, b, sb = await overlap(h)
        a_run = sa.events()[0]["run_id"]
        misrouted = [e for e in sb.events() if e["run_id"] == a_run]
        assert misrouted and {e["user_id"] for e in misrouted} == {a.id}
        assert {e["thread_id"] for e in misrouted} == {b.thread}
        assert {(x["owner"], x["victim"]) for x in acts(h, "last_writer_map")} == {(a.id, b.id)}
    run(go)


def test_thread_as_user_drops_the_whole_run_silently() -> None:
    async def go() -> None:
        h = harness(("thread_as_user", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        await sock.ask("x", a.thread)
        await h.settle()
        assert sock.events() == [] and sock.close_code is None
        assert acts(h, "thread_as_user")[0]["detail"]["thread_id"] == a.thread
    run(go)


@pytest.mark.parametrize(("mode", "has_attempt"), [("main", True), ("isolated", False)])
def test_retry_duplicates_sends_each_event_three_times(mode: str, has_attempt: bool) -> None:
    async def go() -> None:
        h = harness(("retry_duplicates", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a, mode)
        await sock.ask("x", a.thread)
        await h.settle()
        events = sock.events()
        assert len(events) == 21
        assert [e["type"] for e in events[:3]] == ["agent_started"] * 3
        if has_attempt:
            assert [e.get("attempt") for e in events[:3]] == [None, 2, 3]
        assert len(acts(h, "retry_duplicates")) == 14
    run(go)


def test_manager_push_repoints_a_session_at_the_latest_callers_manager() -> None:
    async def go() -> None:
        h = harness(("manager_push", 1.0))
        a, sa, b, sb = await overlap(h)
        a_run = sa.events()[0]["run_id"]
        moved = [e for e in sb.events() if e["run_id"] == a_run]
        assert moved and {e["user_id"] for e in moved} == {b.id}
        assert {(x["owner"], x["victim"]) for x in acts(h, "manager_push")} == {(a.id, b.id)}
    run(go)


def test_manager_push_with_one_user_alone_is_harmless() -> None:
    async def go() -> None:
        h = harness(("manager_push", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        for n in range(3):
            await sock.ask(f"r{n}", a.thread)
        await h.settle()
        assert len(sock.events()) == 21 and acts(h, "manager_push") == []
    run(go)


# plain faults


async def one_run(h: Harness, mode: str = "main") -> FakeSocket:
    a = await h.user("a@x.io")
    sock = await h.connect(a, mode)
    await sock.ask("some text", a.thread)
    await h.settle()
    return sock


def test_drop_run_stops_after_the_supervisor_started() -> None:
    async def go() -> None:
        h = harness(("drop_run", 1.0))
        sock = await one_run(h)
        assert [e["type"] for e in sock.events()] == ["agent_started"]
        assert len(acts(h, "drop_run")) == 1
    run(go)


def test_reorder_tools_sends_the_completion_before_the_start_of_the_tool() -> None:
    async def go() -> None:
        h = harness(("reorder_tools", 1.0))
        types = [e["type"] for e in (await one_run(h)).events()]
        assert types.index("tool_completed") < types.index("tool_executing")
        assert len(acts(h, "reorder_tools")) == 1
    run(go)


def test_event_after_completion_adds_an_event_after_the_final_completion() -> None:
    async def go() -> None:
        h = harness(("event_after_completion", 1.0))
        events = (await one_run(h)).events()
        assert [e["type"] for e in events[-2:]] == ["agent_completed", "agent_thinking"]
        assert events[-1]["run_id"] == events[0]["run_id"]
    run(go)


def test_mixed_emitters_sends_one_event_of_a_run_in_another_family() -> None:
    async def go() -> None:
        h = harness(("mixed_emitters", 1.0))
        frames = [f for f in (await one_run(h)).frames if f["type"].startswith(("agent", "tool"))]
        flat = [f for f in frames if f.get("critical")]
        bridged = [f for f in frames if "data" in f]
        assert len(flat) == 6 and len(bridged) == 1
        assert bridged[0]["run_id"] == flat[0]["run_id"]
    run(go)


def test_content_bleed_puts_the_latest_prompt_into_another_users_answer() -> None:
    async def go() -> None:
        h = harness(("content_bleed", 1.0))
        a, sa, b, sb = await overlap(h)
        a_events = sa.events()
        assert {e["user_id"] for e in a_events} == {a.id}  # the ids are right ...
        assert "bravo text from B" in str(a_events[-1])  # ... the content is B's
        assert all(x["owner"] == b.id and x["victim"] == a.id for x in acts(h, "content_bleed"))
        assert acts(h, "content_bleed")
    run(go)


def test_content_bleed_with_one_request_at_a_time_is_harmless() -> None:
    async def go() -> None:
        h = harness(("content_bleed", 1.0))
        sock = await one_run(h)
        assert "some text" in str(sock.events()[-1]) and acts(h, "content_bleed") == []
    run(go)


@pytest.mark.parametrize("seed", range(8))
def test_garbage_frames_sends_a_frame_that_is_not_a_json_event(seed: int) -> None:
    async def go() -> None:
        h = harness(("garbage_frames", 1.0), seed=seed)
        sock = await one_run(h)
        variant = acts(h, "garbage_frames")[0]["detail"]["variant"]
        bad = [m for m in sock.messages if "bytes" in m or not _is_json(m.get("text", ""))]
        assert len(bad) == 1 and len(sock.events()) == 7
        if variant == "binary":
            assert "bytes" in bad[0]
        if variant == "oversized":
            assert len(bad[0]["text"]) > 8192
    run(go)


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def test_abrupt_close_closes_the_socket_with_1011_mid_run() -> None:
    async def go() -> None:
        h = harness(("abrupt_close", 1.0))
        sock = await one_run(h)
        assert sock.close_code == 1011
        assert 1 <= len(sock.events()) < 7
    run(go)


@pytest.mark.parametrize(("fault", "status"), [("login_401", 401), ("login_500", 500)])
def test_login_faults_answer_valid_credentials_with_their_status(fault: str, status: int) -> None:
    async def go() -> None:
        h = harness((fault, 1.0))
        await h.http("POST", "/auth/register", {"email": "a@x.io", "password": "pw"})
        got, _ = await h.http("POST", "/auth/login", {"email": "a@x.io", "password": "pw"})
        assert got == status and len(acts(h, fault)) == 1
    run(go)


def test_slow_handshake_still_accepts_and_records_the_wait() -> None:
    async def go() -> None:
        h = harness(("slow_handshake", 1.0))
        sock = await one_run(h)
        assert len(sock.events()) == 7 and len(acts(h, "slow_handshake")) == 1
    run(go)


def test_refuse_1008_refuses_a_valid_token_after_accept() -> None:
    async def go() -> None:
        h = harness(("refuse_1008", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        assert sock.accepted is not None and sock.close_code == 1008
        assert sock.frames[0]["error_code"] == "AUTH_FAILED"
        assert acts(h, "refuse_1008")[0]["owner"] == a.id
    run(go)


def test_a_fault_at_rate_zero_never_acts() -> None:
    async def go() -> None:
        h = harness(("drop_run", 0.0), ("shared_factory", 0.0))
        a, sa, b, sb = await overlap(h)
        assert len(sa.events()) == 7 and len(sb.events()) == 7 and h.app.plan.acts == []
    run(go)
