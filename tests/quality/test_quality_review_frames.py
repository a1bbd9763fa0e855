"""Review of issue 10 by an independent reading of SPEC: unusual but legal frame shapes, "per
item", "foreign events never advance the receiver's run" and sub-agent nesting.

NETRA_PROTOCOL §4: ids "from the top level, then data, then payload, then data.context /
data.result"; a batch ``{"type": "event_batch", "events": {type: [...]}}`` (and SPEC's list
forms); several agent_started/agent_completed pairs per run, the request answered when the
outermost (first-started) agent completes or with agent_error/agent_death.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import (
    History,
    batch,
    findings,
    identity_of,
    only,
    requests_of,
    saying,
    two_users_overlapping,
    witnesses,
)


def _nested(frames: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """``frames`` with their run and user ids moved from the top level to ``where``
    (``data.context``, ``payload.context`` or ``data.result``)."""
    outer, inner = where.split(".")
    out = []
    for f in frames:
        g = {k: v for k, v in f.items() if k not in ("run_id", "user_id", "data", "payload")}
        body = dict(f.get("data") or f.get("payload") or {})
        body[inner] = {"run_id": f["run_id"], "user_id": f["user_id"]}
        g[outer] = body
        out.append(g)
    return out


def _ok(v: Any, n: int) -> None:
    r = requests_of(v)
    assert (r["sent"], r["completed"], r["failed"], r["unknown"]) == (n, n, 0, 0), r


# ---- ids in nested paths -------------------------------------------------------------------


@pytest.mark.parametrize("where", ["data.context", "payload.context", "data.result"])
def test_runs_whose_ids_sit_only_in_a_nested_path_are_clean(where: str) -> None:
    h, a, b = two_users_overlapping()
    h.deliver("alice", _nested(h.frames(a), where), at=1.1)
    h.deliver("bob", _nested(h.frames(b), where), at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


@pytest.mark.parametrize("where", ["data.context", "payload.context"])
def test_an_event_of_alices_run_with_nested_ids_reaching_bob_is_a_cross_user_event(where: str) -> None:
    h, a, b = two_users_overlapping()
    theirs = _nested(h.frames(a), where)
    h.deliver("alice", theirs, at=1.1)
    h.deliver("bob", _nested(h.frames(b), where), at=1.2)
    h.recv("bob", {**theirs[1], "timestamp": "2026-11-22T00:00:40Z"}, at=1.5)
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]
    _ok(v, 2)


# ---- batches, per item -------------------------------------------------------------------


def test_a_list_batch_item_of_alices_with_its_ids_nested_in_data_is_one_cross_user_event() -> None:
    h, a, b = two_users_overlapping()
    h.deliver("alice", h.frames(a), at=1.1)
    frames = h.frames(b)
    theirs = {"type": "agent_thinking", "data": {"run_id": a.run, "user_id": identity_of("alice"),
                                                 "thought": f"hm {a.text}"}}
    lines = h.deliver("bob", [frames[0], batch([frames[1], theirs], form="list")] + frames[2:], at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), lines[1]]]
    _ok(v, 2)


def test_a_batch_item_without_a_run_id_naming_alices_thread_in_data_is_hers_and_bobs_item_is_his() -> None:
    """Planted: a list batch holds bob's own sub-agent start and a run-id-less thinking item whose
    ``data.thread_id`` is alice's: the item is alice's event; bob's run is not disturbed."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    foreign = {"type": "agent_thinking", "data": {"thought": "hmm", "thread_id": a.thread}}
    lines = h.deliver("bob", frames[:2] + [batch([frames[2], foreign], form="list")] + frames[3:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[2] in witnesses(v, "cross_user_event")[0]
    _ok(v, 2)


def test_a_dict_batch_with_alices_run_id_less_completion_beside_bobs_tool_call_finishes_nothing_of_bobs() -> None:
    """Planted: per item and foreign: alice's completion (her user id, no run id) grouped in one
    dict batch with bob's tool_executing; bob's run goes on to its own completion."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    foreign = {"type": "agent_completed", "user_id": identity_of("alice"), "payload": {"response": "Done."}}
    lines = h.deliver("bob", frames[:3] + [batch([foreign, frames[3]], form="dict")] + frames[4:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[3] in witnesses(v, "cross_user_event")[0]
    assert findings(v, "cross_user_event")[0]["owner"] == "alice"
    _ok(v, 2)


def test_a_dict_batch_item_spelled_reasoning_is_thinking() -> None:
    """Near miss: an item of the ``agent_thinking`` group that carries its own type ``reasoning``."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, family="emitter")
    item = {k: v for k, v in frames[1].items() if k != "thought"}
    item.update(type="reasoning", reasoning=f"Reading {b.text}")
    h.deliver("bob", [frames[0], {"type": "event_batch", "events": {"agent_thinking": [item]}}] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_a_whole_run_in_one_batch_passes(form: str) -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.recv("bob", batch(h.frames(b), form=form), at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


@pytest.mark.parametrize("frame", [
    {"type": "event_batch", "events": {}},
    {"type": "event_batch", "events": []},
    {"type": "event_batch", "batch_id": "b", "events": {"agent_thinking": []}},
    {"type": "event_batch", "events": {"custom_metric": [{"x": 1}]}},
])
def test_empty_batches_and_groups_of_unknown_types_are_nothing(frame: dict[str, Any]) -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", frame, at=2.0)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


def test_one_event_quoting_two_other_users_is_one_finding() -> None:
    """Planted: "each offending event counts once": bob's thinking quotes alice's and carol's
    pending requests; one cross_user_content, owned by the first marker's user."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2).user("carol", at=0.3)
    a, b, c = h.ask("alice", at=1.0), h.ask("bob", at=1.01), h.ask("carol", at=1.02)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text} and {c.text}")
    lines = h.deliver("bob", frames, at=1.1)
    h.answer(a, at=1.3)
    h.answer(c, at=1.4)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    _ok(v, 3)


# ---- sub-agent nesting ---------------------------------------------------------------------


def test_sub_agents_named_like_the_supervisor_nest_by_order() -> None:
    """Near miss: every agent of the run is called ``supervisor``; the request is answered when
    the first-started one completes, not at the inner completion."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    for f in frames:
        f["agent_name"] = "supervisor"
    h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


def test_three_levels_of_agents_and_a_supervisor_step_after_them_pass() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    inner_start = {**frames[2], "agent_name": "researcher", "timestamp": "2026-11-22T00:01:02Z"}
    inner_done = {**frames[5], "agent_name": "researcher", "timestamp": "2026-11-22T00:01:05Z"}
    summing = {**frames[1], "timestamp": "2026-11-22T00:01:06Z", "data": {"thought": "summing up"}}
    h.deliver("bob", frames[:3] + [inner_start] + frames[3:5] + [inner_done, frames[5], summing, frames[6]], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


def test_a_renamed_or_unnamed_completion_of_the_outermost_agent_still_answers_the_request() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[5] = {**frames[5], "agent_name": None}
    frames[6] = {**frames[6], "agent_name": "SupervisorAgent"}
    h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)


def test_a_sub_agents_error_answers_the_request_and_the_supervisors_completion_after_it_is_late() -> None:
    """Reading (NETRA_PROTOCOL §4: "answered ... with agent_error/agent_death", whichever agent
    sent it): the analyst's agent_error ends bob's request (failed); the supervisor's completion
    after it is an event after completion. The alternative reading (a sub-agent's error that
    its supervisor survives) would pass the run as ok."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    error = {"type": "agent_error", "run_id": b.run, "agent_name": "analyst", "timestamp": "2026-11-22T00:00:30Z",
             "data": {"error_message": "tool timed out"}}
    lines = h.deliver("bob", frames[:5] + [error, frames[6]], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": 1}
    assert witnesses(v, "event_after_completion") == [[lines[5], lines[6]]]
    r = requests_of(v)
    assert (r["completed"], r["failed"]) == (1, 1)


def _split(h: History, a: Any, to_bob: set[int], *, copy: frozenset[int] | set[int] = frozenset()) -> tuple[
        list[int], list[int]]:
    """alice's run, each event to alice, except those in ``to_bob`` (to bob only) and those in
    ``copy`` (to alice, then to bob with a new time stamp); the lines alice and bob got."""
    mine, leaked = [], []
    t = 1.1
    for i, frame in enumerate(h.frames(a)):
        if i not in to_bob:
            h.recv("alice", frame, at=round(t, 6))
            mine.append(h.line(h.last))
            t += 0.01
        if i in to_bob or i in copy:
            h.recv("bob", frame if i in to_bob else {**frame, "timestamp": f"2026-11-22T00:03:{i:02d}Z"}, at=round(t, 6))
            leaked.append(h.line(h.last))
            t += 0.01
    return mine, leaked


def test_a_sub_agents_start_delivered_only_to_bob_still_nests_alices_run() -> None:
    """Planted: a bridge falling back to the wrong user sends alice's sub-agent start to bob. It
    is a cross_user_event; alice's run is judged as a whole: the sub-agent's completion she hears
    closes the sub-agent, not her supervisor, so her supervisor's completion is her final event,
    not an event after completion (the reference backend's bridge_fallback run showed 4)."""
    h, a, b = two_users_overlapping()
    _, leaked = _split(h, a, {2})
    h.answer(b, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leaked[0]]]
    _ok(v, 2)


def test_when_the_sub_agents_start_and_the_final_completion_both_went_to_bob_alices_request_failed() -> None:
    """Planted: alice heard her sub-agent's completion but not her supervisor's, which bob got:
    "when another user received its answer, failed" (the sub-agent's completion is no answer)."""
    h, a, b = two_users_overlapping()
    _, leaked = _split(h, a, {2, 6})
    h.answer(b, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 2}
    assert sorted(w[-1] for w in witnesses(v, "cross_user_event")) == leaked
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"]) == (1, 1, 0)


@pytest.mark.parametrize("copy", [{0}, {2}, {0, 2}])
def test_copies_of_agent_starts_to_bob_after_alice_heard_them_nest_nothing_twice(copy: set[int]) -> None:
    """Near miss for the nesting: the starts alice heard are also copied to bob (new stamps):
    each copy is a cross_user_event, and alice's run finishes on her supervisor's completion."""
    h, a, b = two_users_overlapping()
    _, leaked = _split(h, a, set(), copy=copy)
    h.answer(b, at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(copy)}
    assert sorted(w[-1] for w in witnesses(v, "cross_user_event")) == leaked
    _ok(v, 2)


def test_a_sub_agents_completion_whose_start_was_never_sent_does_not_end_the_run_early() -> None:
    """Reading (SPEC: "a finished run's missing event is incomplete_run only"): the analyst's
    start never came to anyone; its completion closes the outermost agent for want of any other,
    and the supervisor's own completion after it pairs with that, not event_after_completion.
    (agent_started of the run was seen, so nothing is reported missing.)"""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    h.deliver("bob", frames[:2] + frames[3:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    _ok(v, 2)
