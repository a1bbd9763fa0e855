"""SPEC's "whose user id": an event's user id is the receiver's, another harness user's
(cross_user_event) or nobody's (identity_mismatch); welcomes show the full id or its first 8
characters and "..."; collapse is judged on full ids.

Already in the corpus (test_quality_identity.py, test_quality_cross_user.py): welcomes with
another short or full id, demo-user-001 and relaxed ids in welcomes and events, two logins for
one identity, the receiver's short and full welcome, two users sharing 8 characters with short
and with full welcomes, and an event of the receiver's run stamped with another user's id.
"""

from __future__ import annotations

from tests.histories import Ask, History, findings, identity_of, only, requests_of, witnesses

ALICE = "abcd1234-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
BOB = "abcd1234-bbbb-4bbb-8bbb-bbbbbbbbbbbb"  # the same first 8 characters as alice's


def _twins(*, old_welcome: bool = False, bob_welcome: str | None = None) -> tuple[History, Ask, Ask]:
    """alice and bob, whose ids share their first 8 characters, asking at the same time."""
    h = History()
    for name, ident, at in (("alice", ALICE, 0.1), ("bob", BOB, 0.2)):
        h.login(name, identity=ident, at=at)
        h.open(name, conn=f"{name}-c1", old_welcome=old_welcome, welcome_id=bob_welcome if name == "bob" else None)
    return h, h.ask("alice", at=1.0), h.ask("bob", at=1.05)


def test_an_event_stamped_with_another_users_full_id_sharing_the_receivers_8_characters_is_a_cross_user_event() -> None:
    h, a, b = _twins()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[2]["user_id"] = ALICE
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[2] in witnesses(v, "cross_user_event")[0]
    assert (findings(v)[0]["user"], findings(v)[0]["owner"]) == ("bob", "alice")


def test_an_event_stamped_with_a_full_id_sharing_the_receivers_8_characters_but_nobodys_is_an_identity_mismatch() -> None:
    h, a, b = _twins()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[2]["user_id"] = "abcd1234-zzzz-4zzz-8zzz-zzzzzzzzzzzz"
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[lines[2]]]


def test_an_event_stamped_with_the_receivers_short_id_form_is_the_receivers() -> None:
    """Near miss: the welcome's short form ("abcd1234...") on an event is bob's own identity as
    shown, even though alice's id begins with the same 8 characters."""
    h, a, b = _twins()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2, user_id=BOB[:8] + "...")
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert requests_of(v)["completed"] == 2


def test_a_full_welcome_id_sharing_the_logins_8_characters_but_not_equal_is_an_identity_mismatch() -> None:
    h, a, b = _twins(old_welcome=True, bob_welcome="abcd1234-zzzz-4zzz-8zzz-zzzzzzzzzzzz")
    welcome = h.line_of(lambda r: r["kind"] == "recv" and r["user"] == "bob")
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[welcome]]
    assert findings(v)[0]["user"] == "bob"


def test_a_full_welcome_naming_a_twin_users_id_is_an_identity_mismatch() -> None:
    """bob's older welcome names alice's full id (which shares bob's first 8 characters): the
    server thinks bob is alice."""
    h, a, b = _twins(old_welcome=True, bob_welcome=ALICE)
    welcome = h.line_of(lambda r: r["kind"] == "recv" and r["user"] == "bob")
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[welcome]]


def test_a_leak_between_two_users_sharing_8_characters_is_a_cross_user_event_not_a_collapse() -> None:
    h, a, b = _twins()
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", frames[1], at=1.5)
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]
    assert (findings(v)[0]["user"], findings(v)[0]["owner"]) == ("bob", "alice")


def test_an_event_stamped_with_a_harness_user_who_never_connected_is_a_cross_user_event() -> None:
    """carol logged in (the auth service vouched for her id) but opened no connection: her id is
    a harness user's, so an event on bob's connection stamped with it is cross-user."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.login("carol", at=0.3)
    a, b = h.ask("alice", at=1.0), h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1]["user_id"] = identity_of("carol")
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert lines[1] in witnesses(v, "cross_user_event")[0]
    assert findings(v)[0]["owner"] == "carol"


def test_twins_each_receiving_their_own_runs_stamped_with_full_ids_interleaved_are_clean() -> None:
    h, a, b = _twins()
    for i, (fa, fb) in enumerate(zip(h.frames(a, family="emitter"), h.frames(b, family="emitter"))):
        h.recv("alice", fa, at=round(1.1 + i * 0.01, 6))
        h.recv("bob", fb, at=round(1.105 + i * 0.01, 6))
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"
    assert requests_of(v)["completed"] == 2
