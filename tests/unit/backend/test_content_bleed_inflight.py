"""content_bleed_inflight: a shared prompt buffer makes a run quote another user's request that is
still waiting for its answer, under the run's own ids; the quoted request is answered by its own
run all the same. Ground truth names each quoting event, and the selftest case asks for
cross_user_content and for no phantom and no request lost track of."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from backend.driver import Harness, User, fast_config, flatten, run
from xtalk.backend.faults import FAULTS
from xtalk.backend.mechanisms import PromptBuffer
from xtalk.backend.proof import CASES, judge
from xtalk.backend.session import Connection
from xtalk.commands.selftest import render_table
from xtalk.core.checker import CheckConfig
from xtalk.history import check_lines
from xtalk.profiles.netra import NETRA

FAULT = "content_bleed_inflight"
TEXTS = ("alpha text from A [xtm-00000000000000a1]", "bravo text from B [xtm-00000000000000b2]",
         "charlie text from C [xtm-00000000000000c3]")


def harness(rate: float = 1.0, seed: int = 1) -> Harness:
    return Harness(fast_config(faults=((FAULT, rate),), reasoning_alias=0.0, seed=seed))


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON frame the backend sends, in the order it sends them: (account, frame)."""
    sent: list[tuple[str, dict[str, Any]]] = []
    original = Connection.send_text

    async def send_text(self: Connection, text: str) -> bool:
        ok = await original(self, text)
        if ok:
            sent.append((self.token_sub, orjson.loads(text)))
        return ok

    monkeypatch.setattr(Connection, "send_text", send_text)
    return sent


async def _users(h: Harness, n: int) -> list[tuple[User, Any]]:
    out = []
    for i in range(n):
        user = await h.user(f"u{i}@x.io")
        out.append((user, await h.connect(user, "main")))
    return out


async def _ask_all(h: Harness, users: list[tuple[User, Any]]) -> None:
    for (user, sock), text in zip(users, TEXTS):
        await sock.ask(text, user.thread)
    await h.settle()


async def _ask_together(h: Harness, users: list[tuple[User, Any]]) -> None:
    """Every user's request reaches the server before any run takes its second step: each run's
    thinking then finds the others' prompts in the buffer, their own runs not yet past their start
    (the order real delays make likely)."""
    for (user, sock), text in zip(users, TEXTS):
        sock.inbox.put_nowait({"type": "websocket.receive", "text": orjson.dumps({"type": "start_agent", "payload": {
            "user_request": text, "thread_id": user.thread}}).decode()})
    await h.settle()


def acts(h: Harness) -> list[dict[str, Any]]:
    return [act for act in h.app.plan.acts if act["fault"] == FAULT]


# ---- the mechanism -----------------------------------------------------------------------


def test_the_prompt_buffer_gives_the_latest_pending_prompt_of_another_account() -> None:
    buffer = PromptBuffer()
    assert buffer.other_than("a") is None
    buffer.add("run_1", "text of a", "a")
    assert buffer.other_than("a") is None  # one's own prompt is never "another's"
    buffer.add("run_2", "text of b", "b")
    buffer.add("run_3", "text of c", "c")
    assert buffer.other_than("a") == ("run_3", "text of c", "c")
    buffer.discard("run_3")  # answered: no longer pending
    assert buffer.other_than("a") == ("run_2", "text of b", "b")
    assert buffer.other_than("b") == ("run_1", "text of a", "a")


def test_the_fault_is_in_the_table_as_a_race_that_must_show_only_as_content() -> None:
    info = FAULTS[FAULT]
    assert info.expected_kinds == ("cross_user_content",) and info.incidental_kinds == ()
    assert info.mechanism == "race" and 0 < info.default_rate <= 1


# ---- what the backend sends ---------------------------------------------------------------


def test_a_run_quotes_another_users_pending_request_in_its_thinking_under_its_own_ids() -> None:
    async def go() -> None:
        h = harness()
        (a, sa), (b, sb) = await _users(h, 2)
        await _ask_all(h, [(a, sa), (b, sb)])
        events = sb.events()
        assert {e["user_id"] for e in events} == {b.id} and {e["thread_id"] for e in events} == {b.thread}
        assert len({e["run_id"] for e in events}) == 1 and len(events) == 7
        by_type = {e["type"]: e for e in events if e["agent_name"] == "supervisor"}
        assert TEXTS[0] in str(by_type["agent_thinking"]) and TEXTS[1] not in str(by_type["agent_thinking"])
        tool = next(e for e in events if e["type"] == "tool_executing")
        assert TEXTS[1] in str(tool) and TEXTS[0] not in str(tool)  # the tool call echoes B's own text
        final = [e for e in events if e["type"] == "agent_completed"][-1]
        assert TEXTS[1] in str(final)  # A was answered before B's answer went out: B's own text only
        assert TEXTS[0] not in str(final)
    run(go)


def test_a_runs_answer_quotes_the_latest_pending_request_of_another_user() -> None:
    """A asks, B asks, and A asks again while B's run is under way: B's answer, written from the
    buffer, quotes A's follow-up (pending then) beside B's own text."""
    async def go() -> None:
        h = harness()
        (a, sa), (b, sb) = await _users(h, 2)
        await sa.ask(TEXTS[0], a.thread)
        await sb.ask(TEXTS[1], b.thread)
        await sa.ask(TEXTS[2], a.thread, kind="user_message")
        await h.settle()
        final = [e for e in sb.events() if e["type"] == "agent_completed"][-1]
        assert TEXTS[1] in str(final) and TEXTS[2] in str(final)
        assert {e["user_id"] for e in sb.events()} == {b.id}
        assert len([e for e in sa.events() if e["type"] == "agent_completed" and e["agent_name"] == "supervisor"]) == 2
    run(go)


def test_the_quoted_request_is_still_waiting_for_its_answer_whenever_it_is_quoted(
        wire: list[tuple[str, dict[str, Any]]]) -> None:
    async def go() -> None:
        h = harness()
        users = await _users(h, 3)
        await _ask_all(h, users)
        quoted = acts(h)
        assert quoted
        for act in quoted:
            quoting = next(i for i, (who, f) in enumerate(wire) if who == act["victim"]
                           and flatten(f).get("run_id") == act["run_id"] and flatten(f)["type"] == act["detail"]["type"]
                           and f.get("agent_name") == "supervisor")
            answer = next(i for i, (who, f) in enumerate(wire) if who == act["owner"]
                          and flatten(f).get("run_id") == act["detail"]["quoted_run_id"]
                          and f["type"] == "agent_completed" and f.get("agent_name") == "supervisor")
            assert quoting < answer  # quoted before its own answer went out
    run(go)


def test_every_request_is_still_answered_by_its_own_complete_run() -> None:
    async def go() -> None:
        h = harness()
        users = await _users(h, 3)
        await _ask_all(h, users)
        for (user, sock), text in zip(users, TEXTS):
            events = sock.events()
            assert len(events) == 7 and {e["user_id"] for e in events} == {user.id}
            assert [e["type"] for e in events][-1] == "agent_completed"
            assert text in str(next(e for e in events if e["type"] == "tool_executing"))
    run(go)


def test_ground_truth_names_the_quoted_owner_the_receiving_victim_and_the_quoted_run() -> None:
    async def go() -> None:
        h = harness()
        (a, sa), (b, sb) = await _users(h, 2)
        await _ask_all(h, [(a, sa), (b, sb)])
        runs = {user.id: {e["run_id"] for e in sock.events()} for user, sock in ((a, sa), (b, sb))}
        found = acts(h)
        assert any(x["owner"] == a.id and x["victim"] == b.id for x in found)
        for act in found:
            assert act["owner"] != act["victim"]
            assert act["run_id"] in runs[act["victim"]] and act["detail"]["quoted_run_id"] in runs[act["owner"]]
            assert act["detail"]["type"] in ("agent_thinking", "agent_completed")
    run(go)


def test_with_one_request_at_a_time_nothing_is_quoted() -> None:
    async def go() -> None:
        h = harness()
        ((a, sa),) = await _users(h, 1)
        await _ask_all(h, [(a, sa)])
        assert acts(h) == [] and TEXTS[0] in str(sa.events()[1])
    run(go)


def test_at_a_rate_below_1_only_some_runs_quote() -> None:
    async def go() -> None:
        h = harness(rate=0.3, seed=3)
        users = await _users(h, 3)
        for _ in range(4):
            await _ask_all(h, users)
        quoting_runs = {act["run_id"] for act in acts(h)}
        all_runs = {e["run_id"] for _, sock in users for e in sock.events()}
        assert 0 < len(quoting_runs) < len(all_runs)
    run(go)


# ---- what the checker must make of it ----------------------------------------------------


def _history(users: list[tuple[User, Any]], wire: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """The harness's view of the run: logins, opens, sends, then every frame in the order sent."""
    names = {user.id: f"u{i:04d}" for i, (user, _) in enumerate(users)}
    records: list[dict[str, Any]] = [{"kind": "meta", "schema": "xtalk.history/1", "profile": "netra",
                                      "started_at": "2026-11-22T00:00:00Z", "scenario": "unit", "seed": 1,
                                      "worker": "local"}]
    t = 0.1
    for user, _ in users:
        name = names[user.id]
        records.append({"kind": "login", "t": t, "user": name, "identity": user.id})
        records.append({"kind": "open", "t": t + 0.001, "user": name, "conn": f"{name}-c1", "engine": "main",
                        "url": "ws://127.0.0.1/ws?mode=main"})
        t += 0.01
    for n, ((user, _), text) in enumerate(zip(users, TEXTS), start=1):
        name = names[user.id]
        records.append({"kind": "send", "t": round(1.0 + n * 0.0001, 6), "user": name, "conn": f"{name}-c1",
                        "req": f"{name}-r1", "thread": user.thread, "marker": text[-21:-1],
                        "frame": {"type": "start_agent", "payload": {"user_request": text, "thread_id": user.thread}}})
    for i, (account, frame) in enumerate(wire):
        name = names[account]
        records.append({"kind": "recv", "t": round(1.01 + i * 0.001, 6), "user": name, "conn": f"{name}-c1",
                        "frame": frame})
    records.append({"kind": "end", "t": 5.0, "drain": 1.0})
    records.sort(key=lambda r: r.get("t", 0.0) if r["kind"] != "end" else float("inf"))
    return [orjson.dumps(r) for r in records]


def test_a_history_of_the_fault_shows_content_leaks_only_and_every_request_answered(
        wire: list[tuple[str, dict[str, Any]]]) -> None:
    """The selftest case in miniature: every run's thinking quotes a request whose own run has
    only just started. A checker that binds a run to the first marker it carries binds it to the
    quoted request, and phantoms and unknown requests follow."""
    async def go() -> tuple[list[tuple[User, Any]], int]:
        h = harness()
        users = await _users(h, 3)
        await _ask_together(h, users)
        return users, len(acts(h))

    users, quoting_events = run(go)
    assert quoting_events > 0
    verdict = check_lines(_history(users, wire), CheckConfig(profile=NETRA)).to_dict()
    found = {k: n for k, n in verdict["anomalies"].items() if n}
    assert found == {"cross_user_content": quoting_events}  # one per event that quotes, nothing else
    assert (verdict["requests"]["sent"], verdict["requests"]["completed"], verdict["requests"]["unknown"]) == (3, 3, 0)


# ---- the selftest case -------------------------------------------------------------------


def _verdict(**counts: int) -> dict[str, Any]:
    anomalies = {"cross_user_content": counts.pop("content", 5), "phantom_event": counts.pop("phantom", 0)}
    requests = {"sent": 40, "completed": 40 - counts.get("unknown", 0) - counts.get("failed", 0),
                "failed": counts.get("failed", 0), "unknown": counts.get("unknown", 0)}
    return {"verdict": "fail", "anomalies": anomalies, "requests": requests}


def test_the_selftest_case_holds_only_with_no_phantom_and_no_request_lost_track_of() -> None:
    case = next(c for c in CASES if c.fault == FAULT)
    truth = [{"fault": FAULT}]
    assert judge(case, _verdict(), truth, [], 1).ok
    lost = judge(case, _verdict(unknown=3), truth, [], 1)
    assert not lost.ok and "requests.unknown = 3, must be 0" in lost.notes
    phantom = judge(case, _verdict(phantom=7), truth, [], 1)
    assert not phantom.ok and "anomalies.phantom_event = 7, must be 0" in phantom.notes
    assert not judge(case, _verdict(content=0), truth, [], 1).ok  # and the leak must be found
    assert "must be 0" in render_table([lost])
