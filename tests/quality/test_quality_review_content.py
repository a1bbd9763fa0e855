"""Review of issue 10 by an independent reading of SPEC: ``cross_user_content`` and markers.

SPEC: "user B received content carrying a marker minted for a request of user A, whatever ids
the event carries"; "A's marker in it is cross_user_content (A's content reached B)". Cases the
first corpus did not write: a quote of a request that already finished, a marker repeated,
split or embedded in a URL, markers in other formats than the harness's, and a user whose own
request text carries another user's minted marker (that user's own content, heard back).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.histories import History, findings, only, requests_of, saying, two_users_overlapping, witnesses


def _bob_says(text: str, *, echo: bool = True) -> tuple[History, int, list[int]]:
    """alice asks and is answered; bob's run then says ``text(alice's ask)`` in its thinking.
    Returns the history, alice's request line and the lines of bob's run."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b, echo=echo)
    frames[1] = saying(frames[1], text.format(text=a.text, marker=a.marker))
    lines = h.deliver("bob", frames, at=1.3)
    h.end(at=10.0)
    return h, h.line(a.record), lines


# ---- quoting requests that are no longer in flight ----------------------------------------


@pytest.mark.parametrize("echo", [True, False])
def test_bobs_run_quoting_alices_finished_request_is_cross_user_content_and_bobs_request_is_ok(echo: bool) -> None:
    """Planted: alice's request finished before bob's run quotes it (a cache of last prompts).
    SPEC sets no window: content of another user's request reached bob. With or without bob's
    own marker in his run, the ids say the run is bob's, so bob's request is answered."""
    h, asked, lines = _bob_says("Earlier someone asked: {text}", echo=echo)
    v = h.check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[asked, lines[1]]]
    assert [(f["user"], f["owner"]) for f in findings(v, "cross_user_content")] == [("bob", "alice")]
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"]) == (2, 0, 0)


def test_a_marker_repeated_three_times_in_one_event_is_one_finding() -> None:
    """Planted: one event, one finding, however often the marker appears in it."""
    h, asked, lines = _bob_says("{marker} {marker} {marker}")
    v = h.check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[asked, lines[1]]]


@pytest.mark.parametrize("shape", ["see https://cache.local/{marker}?q=1", "({marker}).", "x\u2028{marker}\u2029y\u0085",
                                   "line1\\n{marker}\\tend", "marker={marker};"])
def test_a_marker_embedded_in_punctuation_urls_or_line_separators_is_found(shape: str) -> None:
    h, asked, lines = _bob_says(shape)
    v = h.check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[asked, lines[1]]]


def test_a_marker_split_across_two_events_is_in_neither() -> None:
    """Near miss: each event carries half of alice's marker; no event carries a marker."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    half = len(a.marker) // 2
    first = saying(frames[1], f"part {a.marker[:half]}")
    second = {**saying(frames[1], f"rest {a.marker[half:]}"), "timestamp": "2026-11-22T00:00:30Z"}
    h.deliver("bob", frames[:2] + [first, second] + frames[2:], at=1.3)
    assert only(h.end(at=10.0).check()) == {}


def test_a_marker_extended_by_more_token_characters_is_another_token() -> None:
    """Near miss: alice's marker followed at once by more hex digits is a longer token, not her
    marker (markers are matched as whole tokens)."""
    h, _, _ = _bob_says("{marker}0f")
    assert only(h.check()) == {}


@pytest.mark.parametrize(("marker", "bobs"), [
    ("MARK_alice_1", "MARK_bob_1"), ("m-1", "m-2"), ("req:42:xyz", "req:43:xyz"), ("#42", "#43"),
    ("<<m-7>>", "<<m-8>>"), ("alice/r1", "bob/r1"), ("\u27e6a1\u27e7", "\u27e6b1\u27e7"), ("mark a1", "mark b1"),
])
def test_markers_in_other_formats_than_the_harness_are_learned_from_the_send(marker: str, bobs: str) -> None:
    """Planted: the checker learns markers from ``send`` records, whatever their format (a
    private history need not use ``xtm-`` + hex): token-like ones and ones with brackets,
    slashes, non-ASCII characters or a space in them."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0, marker=marker)
    b = h.ask("bob", at=1.05, marker=bobs)
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    assert requests_of(v)["completed"] == 2


def test_a_non_ascii_marker_in_a_history_written_with_ascii_escapes_is_found(tmp_path: Path) -> None:
    """Planted: a history written by Python's json module (non-ASCII as \\uXXXX escapes)."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0, marker="\u27e6a1\u27e7")
    b = h.ask("bob", at=1.05, marker="\u27e6b1\u27e7")
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {a.text}")
    lines = h.deliver("bob", frames, at=1.2)
    h.end(at=10.0)
    text = "".join(json.dumps(r) + "\n" for r in h.ordered()).encode("ascii")
    assert b"\\u27e6a1" in text
    v = h.check_file(tmp_path / "history.jsonl", text)
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]


@pytest.mark.parametrize("said", ["<<m-7>>", "alice/r1x", "mark a1b"])
def test_an_odd_marker_differing_or_glued_to_more_token_characters_is_not_found(said: str) -> None:
    """Near miss: ``<<m-7>>`` is not alice's ``<<m-1>>``; ``alice/r1x`` and ``mark a1b`` are
    her markers glued to more token characters: other strings."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0, marker={"<<m-7>>": "<<m-1>>", "alice/r1x": "alice/r1", "mark a1b": "mark a1"}[said])
    b = h.ask("bob", at=1.05, marker="bob-marker-1")
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Reading: {said}")
    h.deliver("bob", frames, at=1.2)
    assert only(h.end(at=10.0).check()) == {}


# ---- a user's own text carrying another user's marker --------------------------------------


def test_alices_own_request_quoting_bobs_marker_heard_back_in_her_run_is_her_own_content() -> None:
    """Near miss: alice pastes bob's (minted, finished) marker into her own request, and her run
    echoes her text. What reached alice is what alice sent, not bob's content reaching her."""
    h, a, b = two_users_overlapping()
    h.answer(b, at=1.1)
    c = h.ask("alice", at=1.5, text=f"What does {b.marker} mean?")
    d = h.ask("bob", at=1.51)
    h.answer(a, at=1.6)
    h.answer(c, at=1.7)
    h.answer(d, at=1.8)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert requests_of(v)["completed"] == 4


def test_bobs_content_reaching_alice_before_she_quoted_his_marker_is_still_a_leak() -> None:
    """Planted: the leak comes first (bob's marker in alice's run), then alice pastes it into a
    request of her own; only what came before her own text carried it is a leak."""
    h, a, b = two_users_overlapping()
    h.answer(b, at=1.1)
    frames = h.frames(a)
    frames[1] = saying(frames[1], f"Reading: {b.text}")
    lines = h.deliver("alice", frames, at=1.2)
    c = h.ask("alice", at=1.5, text=f"What does {b.marker} mean?")
    d = h.ask("bob", at=1.51)
    h.answer(c, at=1.7)
    h.answer(d, at=1.8)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(b.record), lines[1]]]


def test_a_third_users_run_carrying_the_marker_alice_quoted_is_a_leak_to_that_user() -> None:
    """Planted: alice's own quote of bob's marker exempts alice only; carol's run carrying bob's
    marker is bob's content reaching carol."""
    h, a, b = two_users_overlapping()
    h.user("carol", at=0.3)
    h.answer(b, at=1.1)
    c = h.ask("alice", at=1.5, text=f"What does {b.marker} mean?")
    k = h.ask("carol", at=1.51)
    h.answer(a, at=1.6)
    h.answer(c, at=1.7)
    frames = h.frames(k)
    frames[1] = saying(frames[1], f"Reading: {b.text}")
    lines = h.deliver("carol", frames, at=1.8)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(b.record), lines[1]]]
    assert [(f["user"], f["owner"]) for f in findings(v, "cross_user_content")] == [("carol", "bob")]


# ---- a run judged as a whole: whose marker reached whom ------------------------------------


def _alice_quotes_bob_and_leaks(copies_to_bob: tuple[int, ...], copy_to_alice: bool) -> tuple[History, dict[str, int]]:
    """alice's run (her ids, no marker of hers) quotes bob's pending request in its thinking;
    events ``copies_to_bob`` of it are also delivered to bob (alice's ids, new stamps); bob's own
    run echoes his marker, and (``copy_to_alice``) its tool call also reaches alice."""
    h, a, b = two_users_overlapping()
    theirs = h.frames(a, echo=False)
    theirs[1] = saying(theirs[1], f"Quote: {b.text}")
    mine = h.frames(b)
    lines: dict[str, int] = {}
    t = 1.1
    for i, frame in enumerate(theirs):
        h.recv("alice", frame, at=round(t, 6))
        if i == 1:
            lines["quote"] = h.line(h.last)
        t += 0.01
        if i in copies_to_bob:
            h.recv("bob", {**frame, "timestamp": f"2026-11-22T00:01:{i:02d}Z"}, at=round(t, 6))
            t += 0.01
    for i, frame in enumerate(mine):
        h.recv("bob", frame, at=round(t, 6))
        t += 0.01
        if copy_to_alice and i == 3:
            h.recv("alice", {**frame, "timestamp": "2026-11-22T00:02:00Z"}, at=round(t, 6))
            t += 0.01
    h.end(at=10.0)
    lines["bob_asked"] = h.line(b.record)
    return h, lines


@pytest.mark.parametrize(("copies", "back"), [((2,), False), ((2, 5), False), ((2, 5), True), ((0, 3, 6), True)])
def test_a_run_whose_copies_reached_bob_is_still_alices_when_bobs_marker_is_only_in_alices_part(
        copies: tuple[int, ...], back: bool) -> None:
    """Planted: "the receiver's own marker" is a marker in a delivery to its own user. bob's
    marker in alice's run is only in the thinking alice heard: content of bob's that reached
    alice, not a sign that alice's run (whose ids are all alice's) answers bob because bob also
    received copies of some of its events. Each copy is a cross_user_event; both requests ok."""
    h, lines = _alice_quotes_bob_and_leaks(copies, back)
    v = h.check()
    assert only(v) == {"cross_user_content": 1, "cross_user_event": len(copies) + int(back)}
    assert witnesses(v, "cross_user_content") == [[lines["bob_asked"], lines["quote"]]]
    assert [(f["user"], f["owner"]) for f in findings(v, "cross_user_content")] == [("alice", "bob")]
    assert sorted(f["owner"] for f in findings(v, "cross_user_event")) == sorted(
        ["alice"] * len(copies) + ["bob"] * int(back))
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"]) == (2, 0, 0)


@pytest.mark.parametrize("first_to", ["alice", "bob"])
def test_a_run_without_user_ids_split_between_two_users_is_the_user_whose_marker_it_carries(first_to: str) -> None:
    """Planted: alice's run carries no user id; its thinking (with alice's marker) went to bob
    only, its other events to alice (the first one to ``first_to``). The marker is alice's and
    alice received the run: it answers alice's request; the event bob got is a cross-user event."""
    h, a, b = two_users_overlapping()
    frames = [{k: v for k, v in f.items() if k != "user_id"} for f in h.frames(a)]
    frames[3] = saying(frames[3], "searching") if "thought" in str(frames[3]) else frames[3]
    to = ["bob" if (i == 1 or (i == 0 and first_to == "bob")) else "alice" for i in range(len(frames))]
    lines = [0] * len(frames)
    for i, (frame, user) in enumerate(zip(frames, to)):
        h.recv(user, frame, at=round(1.1 + i * 0.01, 6))
        lines[i] = h.line(h.last)
    h.answer(b, at=1.3)
    v = h.end(at=10.0).check()
    leaked = [i for i, u in enumerate(to) if u == "bob"]
    kinds = only(v)
    assert sum(kinds.values()) == len(leaked)
    assert set(kinds) <= {"cross_user_event", "cross_user_content"}
    assert sorted(w[-1] for k in kinds for w in witnesses(v, k)) == [lines[i] for i in leaked]
    assert {f["owner"] for k in kinds for f in findings(v, k)} == {"alice"}
