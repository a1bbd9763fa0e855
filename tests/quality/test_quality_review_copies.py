"""Review of issue 10 by an independent reading of SPEC: "retries and copies" and the misc
echo, on envelope shapes the first corpus did not use.

NETRA_PROTOCOL §4 has the older emitter nest its fields under ``data`` with a time stamp both
there and at the top level; a retry (§5: re-sent with a new time stamp and a higher attempt
counter) of such a frame re-stamps both. The misc emitter's run-id-less ``agent_completed`` is
"a second" completion, but two emitters race: it may arrive before the bridge's own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import History, Ask, identity_of, only, requests_of, two_users_overlapping, witnesses


def _older_emitter(b: Ask, text: str, stamp: str, *, nested_stamp: str | None = None,
                   attempt: int | None = None, where: str = "top") -> dict[str, Any]:
    """bob's thinking in the older emitter envelope (nested ``data``, a stamp in both places)."""
    frame: dict[str, Any] = {
        "type": "agent_thinking",
        "data": {"reasoning": text, "run_id": b.run, "thread_id": b.thread, "user_id": identity_of(b.user),
                 "timestamp": nested_stamp or stamp},
        "timestamp": stamp, "critical": True,
    }
    if attempt is not None:
        (frame if where == "top" else frame["data"])["attempt"] = attempt
    return frame


def _bobs_run_with(h: History, b: Ask, extra: list[dict[str, Any]]) -> list[int]:
    """bob's emitter run with ``extra`` frames in place of its thinking; the lines delivered."""
    frames = h.frames(b, family="emitter")
    return h.deliver("bob", [frames[0], *extra, *frames[2:]], at=1.2)


# ---- retries re-stamping a nested time stamp -----------------------------------------------


@pytest.mark.parametrize("where", ["top", "data"])
def test_a_retry_of_an_older_emitter_frame_restamping_both_time_stamps_is_a_duplicate(where: str) -> None:
    """Planted: the retry carries a new top-level and a new ``data.timestamp`` and attempt 2
    (at the top level, or inside ``data`` beside the other fields)."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    first = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:01Z")
    again = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:03Z", attempt=2, where=where)
    lines = _bobs_run_with(h, b, [first, again])
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[1], lines[2]]]
    r = requests_of(v)
    assert (r["completed"], r["unknown"]) == (2, 0)


def test_a_bridge_retry_whose_attempt_counter_sits_in_data_is_a_duplicate() -> None:
    """Planted: the newer bridge keeps details under ``data``; its retry counter sits there."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    again = {**frames[1], "timestamp": "2026-11-22T00:00:09Z", "data": {**frames[1]["data"], "attempt": 2}}
    lines = h.deliver("bob", frames[:2] + [again] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[1], lines[2]]]


def test_two_older_emitter_thinking_steps_with_one_text_and_new_stamps_but_no_attempt_are_two_events() -> None:
    """Near miss: the same text re-stamped in both places without an attempt counter is a new
    event (SPEC: a retry says so by its counter; a copy repeats its stamps)."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    one = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:01Z")
    two = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:03Z")
    _bobs_run_with(h, b, [one, two])
    v = h.end(at=10.0).check()
    assert only(v) == {}


def test_an_older_emitter_copy_repeating_the_top_stamp_but_not_the_nested_one_is_another_event() -> None:
    """Near miss: equal top-level stamps, different ``data.timestamp``, no attempt: not the same
    bytes, not a retry."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    one = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:01Z")
    two = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:01Z", nested_stamp="2026-11-22T00:00:02Z")
    _bobs_run_with(h, b, [one, two])
    assert only(h.end(at=10.0).check()) == {}


def test_a_retried_older_emitter_step_with_another_text_is_a_different_event() -> None:
    """Near miss: attempt 2 and new stamps, but another text: SPEC "a different step number or
    text is a different event"."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    one = _older_emitter(b, f"Looking at {b.text}", "2026-11-22T00:00:01Z")
    two = _older_emitter(b, "Looking at the week before", "2026-11-22T00:00:03Z", attempt=2)
    _bobs_run_with(h, b, [one, two])
    assert only(h.end(at=10.0).check()) == {}


# ---- the misc echo, before or after the run's own completion -----------------------------


def _echo(b: Ask, with_marker: bool = True) -> dict[str, Any]:
    """The misc emitter's completion: payload only, no run id (netra_frames.jsonl)."""
    return {"type": "agent_completed",
            "payload": {"response": f"Done: {b.text}" if with_marker else "Done.", "thread_id": b.thread}}


@pytest.mark.parametrize("with_marker", [True, False])
def test_the_misc_completion_echo_arriving_just_before_the_runs_own_completion_is_legal(with_marker: bool) -> None:
    """Near miss: the echo and the bridge's completion race; the echo wins by 10 ms. Neither is
    an event after completion, and the request is answered once."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    h.deliver("bob", frames[:-1] + [_echo(b, with_marker), frames[-1]], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    r = requests_of(v)
    assert (r["sent"], r["completed"], r["unknown"]) == (2, 2, 0)


def test_an_event_after_the_echo_and_the_completion_it_echoes_is_after_completion() -> None:
    """Planted: echo first, then the run's completion (the pair, legal), then a thinking of the
    run: after its final event."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    late = {**frames[1], "timestamp": "2026-11-22T00:00:30Z", "data": {"thought": "one more thing"}}
    lines = h.deliver("bob", frames[:-1] + [_echo(b), frames[-1], late], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": 1}
    assert witnesses(v, "event_after_completion") == [[lines[-3], lines[-1]]]


def test_a_second_completion_of_the_run_after_the_echo_pair_is_after_completion() -> None:
    """Planted: the echo pairs with one completion only; another completion of the run (another
    agent name, not a copy) after the pair is an event after completion."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    extra = {**frames[-1], "agent_name": "reporter", "timestamp": "2026-11-22T00:00:31Z"}
    lines = h.deliver("bob", frames[:-1] + [_echo(b), frames[-1], extra], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": 1}
    assert witnesses(v, "event_after_completion") == [[lines[-3], lines[-1]]]


def test_a_run_of_misc_frames_only_finishes_on_its_run_id_less_completion() -> None:
    """Near miss: a run whose events all lack run ids (misc envelope, the receiver's own thread)
    finishes on its completion; no echo pairing applies."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    uid = identity_of("bob")
    misc = [
        {"type": "agent_started", "data": {"agent_name": "supervisor"}, "thread_id": b.thread, "user_id": uid,
         "message_id": "msg_1", "timestamp": "2026-11-22T00:00:01Z"},
        {"type": "agent_thinking", "data": {"thought": f"Reading {b.text}"}, "thread_id": b.thread, "user_id": uid,
         "message_id": "msg_2", "timestamp": "2026-11-22T00:00:02Z"},
        {"type": "agent_completed", "data": {"response": f"Done: {b.text}"}, "thread_id": b.thread, "user_id": uid,
         "message_id": "msg_3", "timestamp": "2026-11-22T00:00:03Z"},
    ]
    h.deliver("bob", misc, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert requests_of(v)["completed"] == 2
