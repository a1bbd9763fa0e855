"""Review of issue 10 by an independent reading of SPEC: "requests are not lost track of",
deadlines, tabs and reconnects.

NETRA_PROTOCOL §5: "an emitter reused across runs overwrites run_id/thread_id with its old ones:
events stamped with a previous run's ids". A request answered completely under such a stale run
id was answered: SPEC "never unknown because the checker bound its run elsewhere". What its
events count as follows their ids (the previous run's), as the kind table says.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.histories import Ask, History, findings, identity_of, only, requests_of, two_users_overlapping, witnesses


def _restamped(frames: list[dict[str, Any]], minute: int) -> list[dict[str, Any]]:
    """``frames`` with time stamps of another minute (a later run never repeats a stamp)."""
    return [{**f, "timestamp": f["timestamp"].replace("T00:00:", f"T00:{minute:02d}:")} for f in frames]


def _counts(v: Any) -> tuple[int, int, int, int]:
    r = requests_of(v)
    return r["sent"], r["completed"], r["failed"], r["unknown"]


def _second_round(h: History) -> tuple[Ask, Ask]:
    """alice and bob ask again, overlapping, after both first requests finished."""
    return h.ask("alice", at=2.0), h.ask("bob", at=2.01)


# ---- a stale run id --------------------------------------------------------------------------


def test_bobs_second_run_stamped_with_his_first_runs_id_answers_his_second_request() -> None:
    """Planted: bob's second run carries bob's first run's id (a reused emitter) and bob's
    second marker. By their ids its events belong to the first request, after its final event;
    the second request was answered all the same: ok, not unknown."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    a2, b2 = _second_round(h)
    h.answer(a2, at=2.1)
    lines = h.deliver("bob", _restamped(h.frames(b2, run=b.run), 1), at=2.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": len(lines)}
    assert all(w[-1] in lines for w in witnesses(v, "event_after_completion"))
    assert _counts(v) == (4, 4, 0, 0)


def test_bobs_run_stamped_with_alices_finished_runs_id_is_cross_user_and_answers_bobs_request() -> None:
    """Planted: bob's run carries alice's earlier (finished) run id, bob's user id and marker.
    By its run id each event belongs to alice's request (cross_user_event, alice → bob); bob's
    request was answered (its final event, with its marker, reached bob): ok."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    a2, b2 = _second_round(h)
    h.answer(a2, at=2.1)
    lines = h.deliver("bob", _restamped(h.frames(b2, run=a.run), 1), at=2.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(lines)}
    assert {(f["user"], f["owner"]) for f in findings(v, "cross_user_event")} == {("bob", "alice")}
    assert _counts(v) == (4, 4, 0, 0)


def test_a_stale_run_id_on_a_run_that_ends_in_agent_error_fails_the_request_not_unknown() -> None:
    """Planted: the stale-id run ends with agent_error carrying bob's marker: bob's request
    failed (answered with an error), not unknown."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    a2, b2 = _second_round(h)
    h.answer(a2, at=2.1)
    frames = _restamped(h.frames(b2, run=b.run, tool=False, sub=False), 1)
    frames[-1] = {"type": "agent_error", "run_id": b.run, "agent_name": "supervisor",
                  "timestamp": "2026-11-22T00:01:09Z", "data": {"error_message": f"failed: {b2.text}"}}
    lines = h.deliver("bob", frames, at=2.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": len(lines)}
    assert _counts(v) == (4, 3, 1, 0)


def test_a_stale_run_id_final_event_without_the_new_requests_marker_leaves_it_unknown() -> None:
    """Near miss: nothing in the stale-id run names bob's second request (no marker echoed):
    nothing says it was answered; in flight at the end before its deadline, it is unknown."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    a2, b2 = _second_round(h)
    h.answer(a2, at=2.1)
    lines = h.deliver("bob", _restamped(h.frames(b2, run=b.run, echo=False), 1), at=2.3)
    v = h.end(at=10.0).check()
    assert only(v) == {"event_after_completion": len(lines)}
    assert _counts(v) == (4, 3, 0, 1)


def test_a_run_answering_bobs_first_request_that_quotes_his_pending_second_one_does_not_answer_it() -> None:
    """Near miss: bob sent two requests; the first one's own run (its own id, still in flight)
    ends with a text quoting the second one. The second request is still waiting for its own
    run, which answers it later: both ok, nothing found."""
    h, a, b = two_users_overlapping()
    b2 = h.ask("bob", at=1.06, text="And the week before?")
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[-1] = {**frames[-1], "data": {"final_response": f"Done; next: {b2.text}"}}
    h.deliver("bob", frames, at=1.2)
    h.answer(b2, at=1.5)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (3, 3, 0, 0)


# ---- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize("echo", [True, False])
def test_a_request_answered_after_a_long_but_legal_delay_is_ok(echo: bool) -> None:
    """Near miss: bob's run starts 19 s after his send and ends before his deadline (31.05 s),
    with or without his marker; heartbeats in between."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    for t in range(3, 20, 4):
        h.recv("bob", {"type": "heartbeat", "data": {"connection_id": "c", "timestamp": 1.0 * t}}, at=float(t))
    h.answer(b, at=20.0, gap=1.2, echo=echo)
    v = h.end(at=40.0).check()
    assert only(v) == {}
    assert _counts(v) == (2, 2, 0, 0)


def test_a_request_with_no_final_event_by_the_end_of_a_long_drain_is_dropped() -> None:
    """Planted: bob's run stops after its thinking; the drain waited 30 s past the load; the
    end comes after the deadline: dropped_response."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.deliver("bob", h.frames(b)[:2], at=1.2)
    v = h.end(at=45.0, drain=30.0).check()
    assert only(v) == {"dropped_response": 1}
    assert witnesses(v, "dropped_response") == [[h.line(b.record)]]


# ---- tabs and reconnects -----------------------------------------------------------------


def test_alices_event_reaching_bobs_idle_second_tab_is_a_cross_user_event() -> None:
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.open("bob", conn="bob-c2", at=0.3)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", frames[1], at=1.5, conn="bob-c2")
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]
    assert findings(v, "cross_user_event")[0]["conn"] == "bob-c2"


@pytest.mark.parametrize("echo", [True, False])
def test_bobs_two_tabs_whose_runs_arrive_on_each_others_tab_are_clean(echo: bool) -> None:
    """Near miss: one user, two tabs, one request each; each run arrives on the other tab."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.open("bob", conn="bob-c2", at=0.3)
    a = h.ask("alice", at=1.0)
    b1 = h.ask("bob", at=1.05)
    b2 = h.ask("bob", at=1.06, conn="bob-c2")
    h.answer(a, at=1.1)
    h.answer(b1, at=1.2, conn="bob-c2", echo=echo)
    h.answer(b2, at=1.3, conn="bob-c1", echo=echo)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (3, 3, 0, 0)


def test_a_run_cut_by_a_server_close_and_finished_on_the_reconnected_tab_is_one_connection_lost() -> None:
    """Planted: the server closes alice's connection mid-run (1011); she reconnects and the rest
    of the run arrives on the new connection. The request was in flight when the server closed
    its connection: connection_lost, once; the rest of its run is not a phantom."""
    h, a, b = two_users_overlapping()
    frames = h.frames(a)
    h.deliver("alice", frames[:3], at=1.1)
    h.close("alice", at=1.2, code=1011)
    closed = h.line(h.last)
    h.open("alice", conn="alice-c2", at=1.3)
    h.deliver("alice", frames[3:], at=1.4, conn="alice-c2")
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"connection_lost": 1}
    assert witnesses(v, "connection_lost") == [[h.line(a.record), closed]]
    assert _counts(v) == (2, 1, 1, 0)


def test_a_user_reconnecting_after_a_server_close_between_requests_is_clean() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.close("alice", at=2.0, code=1011)
    h.open("alice", conn="alice-c2", at=2.1)
    a2 = h.ask("alice", at=2.5, conn="alice-c2")
    b2 = h.ask("bob", at=2.51)
    h.answer(a2, at=2.6, conn="alice-c2")
    h.answer(b2, at=2.7)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (4, 4, 0, 0)


def test_events_stamped_with_integer_ids_match_their_string_forms() -> None:
    """Near miss: a backend that sends numeric run and user ids (sometimes as strings, sometimes
    as numbers) for users whose identities are numeric strings."""
    h = History()
    h.user("alice", identity="1001", at=0.1).user("bob", identity="1002", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    fa, fb = h.frames(a), h.frames(b)
    for i, f in enumerate(fa):
        f["run_id"], f["user_id"] = (101, 1001) if i % 2 else ("101", "1001")
    for f in fb:
        f["run_id"], f["user_id"] = 202, 1002
    h.deliver("alice", fa, at=1.1)
    h.deliver("bob", fb, at=1.2)
    h.recv("bob", {**fa[1], "timestamp": "2026-11-22T00:00:50Z"}, at=2.0)
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]
    assert identity_of("alice") != "1001"  # the builder's ids were replaced, not used
    assert _counts(v) == (2, 2, 0, 0)


# ---- a reply stamped a little before its send record -------------------------------------


def _early_reply(offset: float, *, swap: bool) -> tuple[History, Ask, list[bytes]]:
    """alice and bob ask; bob's run (no marker echoed: only ids and connection tell) has its
    first event stamped ``offset`` s before bob's send record; ``swap``: the writer also wrote
    that event's line before the send's."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.01)
    h.deliver("alice", h.frames(a, echo=False), at=1.1)
    frames = h.frames(b, echo=False)
    h.recv("bob", frames[0], at=round(1.01 - offset, 6))
    first = h.last
    h.deliver("bob", frames[1:], at=1.2)
    h.end(at=10.0)
    lines = h.lines()
    if swap:
        order = h.ordered()
        i, j = order.index(b.record), order.index(first)
        lines[i], lines[j] = lines[j], lines[i]
    return h, b, lines


@pytest.mark.parametrize("swap", [False, True])
def test_a_fast_reply_stamped_2_ms_before_its_send_record_answers_it(swap: bool) -> None:
    """Near miss: clock reads race the writer (the checker allows records 50 ms out of time
    order): the reply is the run answering bob's request, not a phantom."""
    from xtalk.core.checker import CheckConfig
    from xtalk.history import check_lines
    from xtalk.profiles.netra import NETRA

    _, _, lines = _early_reply(0.002, swap=swap)
    v = check_lines(lines, CheckConfig(profile=NETRA))
    assert only(v) == {} and v.verdict == "pass"
    assert _counts(v) == (2, 2, 0, 0)


@pytest.mark.parametrize("offset", [0.03, 0.3])
def test_a_run_starting_well_before_the_send_is_a_phantom(offset: float) -> None:
    """Planted: the same run starting 30 ms or 0.3 s before bob asked (more than a send and a
    reply racing for the clock: a few milliseconds) answers no request sent in the run when it
    arrived: its events are phantoms."""
    h, _, lines = _early_reply(offset, swap=False)
    v = h.check()
    assert only(v) == {"phantom_event": 7}
    assert _counts(v) == (2, 1, 0, 1)


# ---- a run whose first event went to another user ----------------------------------------


def _misrouted_start(h: History, a: Ask, to: list[str], *, echo_after: bool) -> list[int]:
    """alice's run (her user id, no marker echoed): its first ``len(to)`` events go to the
    users in ``to``, the rest to alice, then (``echo_after``) the misc completion echo; the lines
    of the misrouted events."""
    frames = h.frames(a, echo=False)
    lines = []
    t = 1.1
    for i, frame in enumerate(frames):
        h.recv(to[i] if i < len(to) else "alice", frame, at=round(t, 6))
        if i < len(to):
            lines.append(h.line(h.last))
        t += 0.01
    if echo_after:
        h.recv("alice", {"type": "agent_completed", "payload": {"response": "Done.", "thread_id": a.thread}},
               at=round(t, 6))
    return lines


@pytest.mark.parametrize("to", [["bob"], ["bob", "carol"], ["carol", "bob", "carol"]])
@pytest.mark.parametrize("echo_after", [False, True])
def test_a_run_whose_first_events_reached_other_users_is_still_the_run_its_ids_name(
        to: list[str], echo_after: bool) -> None:
    """Planted: "a run is judged as a whole": alice's run arrives first on bob's (and carol's)
    connection, stamped with alice's user id, then goes on to alice. Its ids name alice and
    alice received it: it answers alice's request. Each misrouted event is a cross_user_event;
    no phantom, nothing missing, every request ok (was: 5 phantoms and an incomplete_run)."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2).user("carol", at=0.3)
    a, b, c = h.ask("alice", at=1.0), h.ask("bob", at=1.01), h.ask("carol", at=1.02)
    lines = _misrouted_start(h, a, to, echo_after=echo_after)
    h.answer(b, at=1.3, echo=False)
    h.answer(c, at=1.4, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": len(to)}
    assert sorted(w[-1] for w in witnesses(v, "cross_user_event")) == lines
    assert {f["owner"] for f in findings(v, "cross_user_event")} == {"alice"}
    assert _counts(v) == (3, 3, 0, 0)


def test_a_misrouted_first_event_naming_another_user_does_not_take_the_receivers_request() -> None:
    """Planted: dave's run's first event reaches carol's connection (dave's user id) before
    carol's own run starts; the rest reaches dave. The misrouted event is no evidence that
    carol's request was answered there: carol's own run answers carol's request."""
    h = History()
    for i, name in enumerate(["alice", "bob", "carol", "dave"]):
        h.user(name, at=round(0.1 + 0.01 * i, 6))
    asks = {name: h.ask(name, at=round(1.0 + 0.001 * i, 6)) for i, name in enumerate(["alice", "bob", "carol", "dave"])}
    h.answer(asks["alice"], at=1.05, echo=False)
    h.answer(asks["bob"], at=1.06, echo=False)
    dave = h.frames(asks["dave"], echo=False)
    h.recv("carol", dave[0], at=1.2)
    leak = h.line(h.last)
    h.deliver("dave", dave[1:], at=1.21, gap=0.02)
    h.answer(asks["carol"], at=1.22, gap=0.02, echo=False)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(asks["dave"].record), leak]]
    assert _counts(v) == (4, 4, 0, 0)


# ---- the misc echo with tabs and two requests in flight ------------------------------------


def _echo(a: Ask, *, marker: bool, stamp: str) -> dict[str, Any]:
    return {"type": "agent_completed", "timestamp": stamp,
            "payload": {"response": f"Done: {a.text}" if marker else "Done.", "thread_id": a.thread}}


@pytest.mark.parametrize("before_final", [True, False])
@pytest.mark.parametrize("marker", [True, False])
def test_the_misc_echo_on_the_tab_that_heard_the_run_of_a_request_sent_on_the_other_tab_is_legal(
        before_final: bool, marker: bool) -> None:
    """Near miss: bob asks on tab 1, his run (no marker echoed) arrives on tab 2, and so does
    the misc completion echo, before or after the run's own completion (was: a phantom)."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.open("bob", conn="bob-c2", at=0.3)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    frames = h.frames(b, echo=False)
    echo = _echo(b, marker=marker, stamp="2026-11-22T00:00:09Z")
    stream = frames[:-1] + [echo, frames[-1]] if before_final else frames + [echo]
    h.deliver("bob", stream, at=1.2, conn="bob-c2")
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (2, 2, 0, 0)


def test_a_marked_echo_goes_to_the_run_carrying_its_marker_not_to_the_run_reserved_for_its_request() -> None:
    """Near miss: bob's two requests are answered in reverse order of asking (each run echoes
    its own marker); the misc echo of the second run (its marker) arrives while the first run is
    still going. It belongs to the run that carries its marker."""
    h, a, b1 = two_users_overlapping()
    b2 = h.ask("bob", at=1.06, text="And the week before?", thread="thread_bob_2")
    h.answer(a, at=1.1)
    one, two = h.frames(b1, family="emitter"), h.frames(b2, family="emitter")
    h.deliver("bob", two[:1] + one[:1], at=1.2)  # b2's run arrives first: it reserves b1 by order
    h.deliver("bob", two[1:] + [_echo(b2, marker=True, stamp="2026-11-22T00:00:09Z")] + one[1:], at=1.3)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (3, 3, 0, 0)


def test_one_runs_echo_after_its_final_does_not_use_up_the_pairing_of_anothers_echo() -> None:
    """Near miss: bob's two runs (on two threads, each echoing its marker); run 2's echo comes
    before its own completion, run 1's echo after run 1's; the run-id-less, markerless echo of
    run 1 lands after run 2's early echo. Each completion pairs with its echo."""
    h, a, b1 = two_users_overlapping()
    b2 = h.ask("bob", at=1.06, text="And the week before?", thread="thread_bob_2")
    h.answer(a, at=1.1)
    one, two = h.frames(b1), h.frames(b2)
    h.deliver("bob", one[:1] + two[:-1], at=1.2)
    h.recv("bob", _echo(b2, marker=False, stamp="2026-11-22T00:00:08Z"), at=1.3)  # two's, early
    h.deliver("bob", one[1:], at=1.31)
    h.recv("bob", _echo(b1, marker=False, stamp="2026-11-22T00:00:09Z"), at=1.4)  # one's, after
    h.recv("bob", two[-1], at=1.41)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert _counts(v) == (3, 3, 0, 0)


# ---- readings where SPEC is open ---------------------------------------------------------


def test_a_final_event_after_the_deadline_but_before_the_end_is_ok_not_dropped() -> None:
    """Reading: SPEC's rule reads "a request with no final event whose deadline passed before
    the end record ... is dropped_response"; this request has its final event (35 s after its
    send, deadline 30 s), so it is ok: slowness is the latency thresholds' business. The
    alternative reading (the kind table's "no final event within its deadline") would make it
    dropped_response."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    for t in range(5, 36, 5):
        h.recv("bob", {"type": "heartbeat", "data": {"connection_id": "c", "timestamp": 1.0 * t}}, at=float(t))
    h.answer(b, at=36.0)
    v = h.end(at=40.0).check()
    assert only(v) == {}
    assert _counts(v) == (2, 2, 0, 0)


def test_a_misc_retry_with_a_new_message_id_is_another_event() -> None:
    """Reading: the misc envelope's ``message_id`` is ``msg_<time stamp>``; a re-send with
    attempt 2 and a new stamp but also a new message id differs in more than the retry counter
    and the stamp, so it is not "the same event re-sent". The alternative would also leave
    ``message_id`` out of the comparison."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    first = {"type": "agent_thinking", "data": {"thought": f"Checking {b.text}"}, "thread_id": b.thread,
             "user_id": identity_of("bob"), "timestamp": "2026-11-22T00:00:01.400Z", "message_id": "msg_1758196800400"}
    again = {**first, "timestamp": "2026-11-22T00:00:02.400Z", "message_id": "msg_1758196801400", "attempt": 2}
    h.deliver("bob", frames[:2] + [first, again] + frames[2:], at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
