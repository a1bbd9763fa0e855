"""Review of issue 10 by an independent reading of SPEC: "whose user id" and welcome shapes.

SPEC: "the server's idea of a connection's user (welcome message, event user ids) differs from
the user that logged in"; "the welcome's user_id (full, or its first 8 characters and ...)";
"collapse is judged on full ids". NETRA_PROTOCOL §2 lists four welcome types and two shapes
(newer short id under ``data``, older full id in a ``system_message``), and e2e identities
``e2e-<local part>`` that may be shorter than 8 characters.
"""

from __future__ import annotations

import pytest

from tests.histories import History, findings, identity_of, only, requests_of, witnesses


def _welcome(user_id: str | None, type_: str = "connection_established") -> dict[str, object]:
    data: dict[str, object] = {"mode": "main", "connection_id": "c_x"}
    if user_id is not None:
        data["user_id"] = user_id
    return {"type": type_, "data": data, "timestamp": 1758196800.0}


def _pair(h: History) -> History:
    """alice and bob ask, overlapping, and are answered cleanly; the end written."""
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    return h.end(at=10.0)


def test_a_second_welcome_on_alices_connection_naming_bob_is_an_identity_mismatch() -> None:
    """Planted: alice's connection was welcomed as alice, then welcomed again as bob (a session
    re-pointed at another user's manager, NETRA_PROTOCOL §5)."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    h.recv("alice", _welcome(identity_of("bob")[:8] + "..."), at=0.5)
    again = h.line(h.last)
    v = _pair(h).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[again]]
    assert findings(v, "identity_mismatch")[0]["user"] == "alice"


def test_repeated_welcomes_naming_the_demo_user_count_once_per_connection() -> None:
    """Planted: demo mode welcomes each connection as demo-user-001, twice each: one finding per
    connection (the server's idea of that connection's user is wrong once, however often said)."""
    h = History()
    h.user("alice", at=0.1, welcome_id="demo-user-001").user("bob", at=0.2, welcome_id="demo-user-001")
    h.recv("alice", _welcome("demo-user-001"), at=0.5)
    h.recv("bob", _welcome("demo-user-001"), at=0.6)
    v = _pair(h).check()
    assert only(v) == {"identity_mismatch": 2}
    assert sorted(f["user"] for f in findings(v, "identity_mismatch")) == ["alice", "bob"]


@pytest.mark.parametrize("shape", ["same", "older_full", "factory_top_level"])
def test_a_second_welcome_naming_the_same_user_in_another_shape_is_clean(shape: str) -> None:
    """Near miss: a reconnect-less re-welcome of alice as alice: the same short id, the older
    full-id shape, or a factory welcome with its user id at the top level."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    ident = identity_of("alice")
    frame: dict[str, object]
    if shape == "same":
        frame = _welcome(ident[:8] + "...")
    elif shape == "older_full":
        frame = {"type": "system_message", "data": {"event": "connection_established", "connection_id": "c",
                                                    "user_id": ident, "connection_ready": True}}
    else:
        frame = {"type": "factory_connection_established", "user_id": ident[:8] + "...", "mode": "factory"}
    h.recv("alice", frame, at=0.5)
    v = _pair(h).check()
    assert only(v) == {}
    assert v.verdict == "pass"


def test_a_welcome_without_a_user_id_says_nothing_of_identity() -> None:
    h = History()
    h.user("alice", at=0.1, welcome=False).user("bob", at=0.2)
    h.recv("alice", _welcome(None), at=0.15)
    assert only(_pair(h).check()) == {}


@pytest.mark.parametrize(("alice", "bob"), [("e2e-alice", "e2e-bob"), ("e2e-alice1", "e2e-alice2")])
def test_e2e_identities_shorter_than_or_sharing_8_characters_are_clean(alice: str, bob: str) -> None:
    """Near miss: NETRA's e2e test users ``e2e-<local part>``: ``e2e-bob`` has 7 characters (its
    short welcome id is the whole id and ``...``); ``e2e-alice1``/``e2e-alice2`` share 8
    characters, so their short welcome ids are equal, which is no collapse."""
    h = History()
    h.user("alice", identity=alice, at=0.1, welcome_id=alice[:8] + "...")
    h.user("bob", identity=bob, at=0.2, welcome_id=bob[:8] + "...")
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {}
    assert requests_of(v)["completed"] == 2


def test_a_leak_between_e2e_users_sharing_8_characters_is_a_cross_user_event() -> None:
    """Planted: with full ids in the events, e2e-alice1's event reaching e2e-alice2 is a leak."""
    h = History()
    h.user("alice", identity="e2e-alice1", at=0.1, welcome_id="e2e-alic...")
    h.user("bob", identity="e2e-alice2", at=0.2, welcome_id="e2e-alic...")
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", {**frames[1], "timestamp": "2026-11-22T00:00:40Z"}, at=1.5)
    leak = h.line(h.last)
    v = h.end(at=10.0).check()
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]


def test_an_event_stamped_with_another_users_short_id_form_is_an_identity_mismatch() -> None:
    """Reading (SPEC is open here): an agent event stamped ``abcd1234...`` (the welcome's short
    form) of alice's id, on bob's connection, in bob's run. Events carry full ids; a short form
    names no identity exactly, so it is an id that is nobody's in the run (identity_mismatch),
    not a cross_user_event. The alternative reading would take a unique prefix as alice's."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    b = h.ask("bob", at=1.05)
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = {**frames[1], "user_id": identity_of("alice")[:8] + "..."}
    lines = h.deliver("bob", frames, at=1.2)
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[lines[1]]]
