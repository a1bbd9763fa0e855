"""Closed-loop pacing: which request a frame answers, and when a request is finished."""

from __future__ import annotations

from xtalk.client.tracker import ConnTracker, Finished, Outcome, Phase, PhaseReached
from xtalk.profiles.netra import NETRA


def ev(kind: str, run: str | None = "run_1", **extra: object) -> dict[str, object]:
    frame: dict[str, object] = {"type": kind, **extra}
    if run is not None:
        frame["run_id"] = run
    return frame


def finished(notices: list) -> list[Finished]:
    return [n for n in notices if isinstance(n, Finished)]


def test_request_is_answered_when_the_outermost_agent_completes_not_a_sub_agent() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("u0001-r1", 1.0)
    assert tr.frame(ev("agent_started", agent_name="supervisor"), 1.1)[0] == PhaseReached("u0001-r1", Phase.STARTED, 1.1, tr_latency := 1.1 - 1.0)
    assert tr_latency > 0
    tr.frame(ev("agent_thinking"), 1.2)
    tr.frame(ev("agent_started", agent_name="triage"), 1.3)
    assert finished(tr.frame(ev("agent_completed", agent_name="triage"), 1.4)) == []
    done = finished(tr.frame(ev("agent_completed", agent_name="supervisor"), 1.5))
    assert [(d.req, d.outcome) for d in done] == [("u0001-r1", Outcome.OK)]
    assert tr.in_flight == 0


def test_each_phase_is_reported_once_per_request_not_per_event() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    notices = []
    for kind in ("agent_started", "agent_thinking", "agent_thinking", "reasoning", "tool_executing",
                 "tool_completed", "agent_completed"):
        notices += tr.frame(ev(kind), 1.0)
    phases = [n.phase for n in notices if isinstance(n, PhaseReached)]
    assert phases == [Phase.STARTED, Phase.THINKING]
    assert len(finished(notices)) == 1


def test_first_new_run_id_after_a_send_belongs_to_that_request() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    tr.frame(ev("agent_started", "run_a"), 0.1)
    tr.sent("r2", 0.2)  # r1 still in flight
    tr.frame(ev("agent_started", "run_b"), 0.3)
    done = finished(tr.frame(ev("agent_completed", "run_b"), 0.4))
    assert [d.req for d in done] == ["r2"]
    done = finished(tr.frame(ev("agent_completed", "run_a"), 0.5))
    assert [d.req for d in done] == ["r1"]


def test_events_of_a_finished_request_do_not_answer_the_next_one() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    tr.frame(ev("agent_started", "run_a"), 0.1)
    tr.frame(ev("agent_completed", "run_a"), 0.2)
    tr.sent("r2", 0.3)
    assert tr.frame(ev("agent_completed", "run_a"), 0.4) == []  # a duplicate of r1's final event
    assert tr.in_flight == 1


def test_an_expired_request_keeps_its_run_so_late_events_are_not_taken_for_the_next() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    tr.frame(ev("agent_started", "run_a"), 0.1)
    late = tr.expire("r1", 30.0)
    assert isinstance(late, Finished) and late.outcome is Outcome.DEADLINE
    tr.sent("r2", 30.1)
    assert tr.frame(ev("agent_completed", "run_a"), 30.2) == []
    assert tr.in_flight == 1


def test_agent_error_and_death_finish_the_request_as_failed() -> None:
    for kind in ("agent_error", "agent_death"):
        tr = ConnTracker(NETRA)
        tr.sent("r1", 0.0)
        done = finished(tr.frame(ev(kind), 0.5))
        assert [(d.outcome, d.detail) for d in done] == [(Outcome.FAILED, kind)]


def test_an_error_frame_fails_the_oldest_request_still_waiting_for_its_run() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    done = finished(tr.frame({"type": "error", "message": "rate limited"}, 0.1))
    assert [(d.req, d.outcome) for d in done] == [("r1", Outcome.FAILED)]


def test_noise_and_idless_frames_never_bind_a_run() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    assert tr.frame({"type": "heartbeat"}, 0.1) == []
    assert tr.frame({"type": "agent_completed", "payload": {"response": "x"}}, 0.2) == []
    assert tr.in_flight == 1


def test_batched_events_are_each_followed() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    frame = {"type": "event_batch", "events": {"agent_started": [{"run_id": "run_a"}],
                                                "reasoning": [{"run_id": "run_a"}],
                                                "agent_completed": [{"run_id": "run_a"}]}}
    notices = tr.frame(frame, 0.1)
    assert [type(n).__name__ for n in notices] == ["PhaseReached", "PhaseReached", "Finished"]


def test_connection_close_finishes_every_request_in_flight_as_closed() -> None:
    tr = ConnTracker(NETRA)
    tr.sent("r1", 0.0)
    tr.sent("r2", 0.1)
    done = tr.connection_closed(0.5, "closed by server (1011)")
    assert sorted((d.req, d.outcome) for d in done) == [("r1", Outcome.CLOSED), ("r2", Outcome.CLOSED)]
    assert tr.in_flight == 0


def test_run_ids_are_read_from_every_envelope_family_the_profile_names() -> None:
    for frame in ({"type": "system_message", "data": {"event": "agent_started", "run_id": "a"}},
                  {"type": "agent_started", "payload": {"run_id": "a"}},
                  {"type": "agent_started", "data": {"context": {"run_id": "a"}}},
                  {"type": "reasoning", "run_id": "a"}):
        tr = ConnTracker(NETRA)
        tr.sent("r1", 0.0)
        notices = tr.frame(frame, 0.1)
        assert notices and notices[0].req == "r1", frame


def test_the_short_way_for_direct_types_paces_as_the_whole_normaliser_does() -> None:
    """A tracker whose profile chains nothing takes the short way; forcing the long way (the
    normaliser's events) must give the same notices for the same frames."""
    from xtalk.client.tracker import ConnTracker
    from xtalk.profiles.netra import NETRA

    frames = [
        {"type": "agent_started", "run_id": "r1", "agent_name": "a"},
        {"type": "agent_thinking", "run_id": "r1"},
        {"type": "agent_thinking", "run_id": "r1"},
        {"type": "tool_completed", "run_id": "r1"},
        {"type": "tool_executing", "run_id": "r9"},
        {"type": "agent_thinking", "run_id": "r9"},
        {"type": "agent_started", "run_id": 7},
        {"type": "tool_executing", "run_id": "r1"},
        {"type": "agent_completed", "run_id": 7},
        {"type": "heartbeat"},
        {"type": "error", "message": "boom"},
        {"type": "agent_completed", "run_id": "r1"},
        {"type": "agent_completed"},
        {"type": ""},
        {"type": 3},
    ]
    short, long = ConnTracker(NETRA), ConnTracker(NETRA)
    long._direct = {}  # every frame through the normaliser
    for tracker in (short, long):
        tracker.sent("u-r1", 1.0)
        tracker.sent("u-r2", 1.5)
        tracker.sent("u-r3", 1.6)
    for n, frame in enumerate(frames):
        assert short.frame(dict(frame), 2.0 + n) == long.frame(dict(frame), 2.0 + n), frame
    assert short.open_requests() == long.open_requests()


def test_a_long_connection_keeps_few_finished_ids_and_recent_late_events_still_belong_to_nobody() -> None:
    from xtalk.client.tracker import RETAIN, ConnTracker
    from xtalk.profiles.netra import NETRA

    tracker = ConnTracker(NETRA)
    for n in range(200):
        tracker.sent(f"u-r{n}", float(n))
        tracker.frame({"type": "agent_started", "run_id": f"run{n}"}, n + 0.1)
        assert [type(x).__name__ for x in tracker.frame({"type": "agent_completed", "run_id": f"run{n}"}, n + 0.2)] \
            == ["Finished"]
    assert len(tracker._by_run) <= RETAIN + 1
    tracker.sent("u-next", 300.0)
    # A late event of a request that finished a moment ago is not taken for the next one's.
    assert tracker.frame({"type": "agent_thinking", "run_id": "run199"}, 300.1) == []
    notices = tracker.frame({"type": "agent_started", "run_id": "run-next"}, 300.2)
    assert [n.req for n in notices] == ["u-next"]
