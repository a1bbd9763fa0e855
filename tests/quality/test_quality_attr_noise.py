"""SPEC's "noise" and "deadline and drain": heartbeats, pongs, acks and welcomes never count
toward ordering or fingerprints; ``reasoning`` is ``agent_thinking`` in every envelope family;
a request without its final event is dropped, unknown or connection_lost by its deadline and
its connection.

Already in the corpus: noise of every shape inside runs (test_quality_clean.py,
test_quality_engines.py), the reasoning alias in the emitter, and the plain deadline cases
(test_quality_delivery.py: dropped, unknown before the deadline, client close, server close).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import batch, findings, identity_of, only, requests_of, two_users_overlapping, witnesses


def _noise(b_user: str, run: str | None = None) -> list[dict[str, Any]]:
    extra = {"run_id": run} if run else {}
    return [
        {"type": "heartbeat", "data": {"connection_id": "c", "timestamp": 1.0, "stats": {}}, **extra},
        {"type": "pong", "data": {"timestamp": 1.0, "user_id": identity_of(b_user)}, "timestamp": 1.0, **extra},
        {"type": "ack", "received_type": "typing", "user_id": identity_of(b_user), "status": "acknowledged", **extra},
        {"type": "heartbeat_ack", **extra},
    ]


# ---- noise -------------------------------------------------------------------------------


def test_noise_and_a_repeated_welcome_before_and_inside_a_run_neither_order_nor_mix_it() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    welcome = {"type": "connection_established", "data": {"mode": "main", "user_id": identity_of("bob")[:8] + "...",
                                                          "connection_id": "c_bob-c1"}, "timestamp": 1758196800.0}
    stream = _noise("bob") + [frames[0]] + _noise("bob") + frames[1:3] + [welcome] + frames[3:]
    h.deliver("bob", stream, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"
    assert v.to_dict()["events"] == 14  # agent events only


def test_noise_between_two_copies_of_an_event_does_not_hide_the_duplicate() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    lines = h.deliver("bob", frames[:2] + _noise("bob") + [frames[1]] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"duplicate_event": 1}
    assert witnesses(v, "duplicate_event") == [[lines[1], lines[6]]]


def test_noise_carrying_the_runs_id_after_its_final_event_is_not_an_event_after_completion() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.deliver("bob", _noise("bob", run=b.run) + [{"type": "progress_update", "run_id": b.run, "agent_name": "supervisor",
                                                  "data": {"progress": 1.0}}], at=1.5)
    v = h.end(at=10.0).check()
    assert only(v) == {}


@pytest.mark.parametrize("family", ["bridge", "bridge_payload", "emitter"])
def test_reasoning_before_agent_started_is_out_of_order_as_thinking_is_in_every_family(family: str) -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family=family)
    frames = h.frames(b, family=family)
    frames[1] = {**frames[1], "type": "reasoning"}
    lines = h.deliver("bob", [frames[1], frames[0]] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"out_of_order": 1}
    assert witnesses(v, "out_of_order") == [[lines[0], lines[1]]]


@pytest.mark.parametrize("family", ["bridge", "bridge_payload"])
def test_reasoning_in_a_bridge_envelope_is_thinking_and_does_not_mix_the_run(family: str) -> None:
    """Near miss: the alias is not an emitter fingerprint; the envelope's shape is."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1, family=family)
    frames = h.frames(b, family=family)
    frames[1] = {**frames[1], "type": "reasoning"}
    h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert v.to_dict()["latency"]["phases"]["agent_thinking"]["n"] == 2


def test_reasoning_items_of_a_batch_before_agent_started_are_out_of_order() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    early = batch([{"type": "reasoning", "run_id": b.run, "user_id": identity_of("bob"), "reasoning": "step 1"}])
    lines = h.deliver("bob", [early] + h.frames(b), at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"out_of_order": 1}
    assert witnesses(v, "out_of_order") == [[lines[0], lines[1]]]


# ---- deadline and drain ------------------------------------------------------------------


def test_a_request_whose_deadline_passed_before_the_harness_closed_its_connection_is_dropped() -> None:
    """The deadline (31.05 s) passed while bob's connection stayed open; the client's close at
    35 s comes after it: dropped, not unknown."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.close("bob", by="client", code=1000, at=35.0)
    v = h.end(at=40.0).check()
    assert only(v) == {"dropped_response": 1}
    assert witnesses(v, "dropped_response") == [[h.line(b.record)]]
    assert requests_of(v)["unknown"] == 0


def test_a_request_whose_deadline_passed_before_the_server_closed_its_connection_is_dropped_not_lost() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.close("bob", by="server", code=1011, at=35.0)
    v = h.end(at=40.0).check()
    assert only(v) == {"dropped_response": 1}
    assert findings(v)[0]["user"] == "bob"


def test_a_request_sent_late_whose_deadline_is_after_the_end_is_unknown_however_long_the_drain() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    late = h.ask("bob", at=20.0)
    h.recv("bob", h.frames(late)[0], at=20.1)
    v = h.end(at=45.0, drain=25.0).check()  # deadline 50.0, after the end
    assert only(v) == {}
    r = requests_of(v)
    assert (r["completed"], r["unknown"], r["dropped"]) == (2, 1, 0)


def test_a_request_answered_partly_whose_connection_the_server_closed_before_its_deadline_is_connection_lost() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.deliver("bob", h.frames(b)[:3], at=1.2)
    h.close("bob", by="server", code=1011, at=2.0)
    close = h.line(h.last)
    v = h.end(at=40.0).check()
    assert only(v) == {"connection_lost": 1}
    assert set(witnesses(v, "connection_lost")[0]) == {h.line(b.record), close}
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"], r["dropped"]) == (1, 1, 0, 0)
