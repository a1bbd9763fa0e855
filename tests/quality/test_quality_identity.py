"""identity_mismatch: the server's idea of a connection's user against the login."""

from __future__ import annotations

from tests.histories import History, clean_pair, identity_of, only, two_users_overlapping, witnesses


def _answered(h: History, *asks_at: tuple[str, float]) -> None:
    for user, t in asks_at:
        h.answer(h.ask(user, at=t), at=t + 0.1)


def test_a_newer_welcome_whose_short_id_is_not_the_logins_is_an_identity_mismatch() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.user("bob", at=0.2, welcome_id="deadbeef...")
    line = h.line(h.last)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[line]]
    assert v.to_dict()["findings"][0]["user"] == "bob"


def test_an_older_welcome_with_another_full_user_id_is_an_identity_mismatch() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.login("bob", at=0.2)
    h.open("bob", conn="bob-c1", old_welcome=True, welcome_id="5e2b7a10-0000-4000-8000-000000000001")
    line = h.line(h.last)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[line]]


def test_demo_mode_welcomes_every_user_as_demo_user_001() -> None:
    h = History()
    for i, u in enumerate(("alice", "bob", "carol")):
        h.user(u, at=0.1 + i / 10, welcome_id="demo-user-001")
    _answered(h, ("alice", 1.0), ("bob", 1.01), ("carol", 1.02))
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 3}


def test_relaxed_mode_hashed_ids_in_welcomes_are_an_identity_mismatch() -> None:
    h = History()
    h.user("alice", at=0.1, welcome_id="relaxed_1234")
    h.user("bob", at=0.2)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}


def test_events_stamped_demo_user_001_are_an_identity_mismatch_each() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.answer(b, at=1.2, user_id="demo-user-001")
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 7}
    assert all(f["user"] == "bob" for f in v.to_dict()["findings"])


def test_one_event_stamped_with_a_user_id_that_is_nobodys_is_an_identity_mismatch() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1]["user_id"] = "relaxed_4821"
    for i, f in enumerate(frames):
        h.recv("bob", f, at=round(1.2 + i * 0.01, 6))
    line = h.recv_line("bob", frames[1])
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[line]]


def test_two_logins_vouched_for_one_identity_collapse_into_one_user() -> None:
    h = History()
    h.user("alice", at=0.1)
    h.login("bob", at=0.2, identity=identity_of("alice"))
    line = h.line(h.last)
    h.open("bob", conn="bob-c1")
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v).get("identity_mismatch", 0) >= 1
    assert set(only(v)) == {"identity_mismatch"}
    assert [line] in witnesses(v, "identity_mismatch")


def test_two_connections_welcomed_with_the_same_full_id_is_a_collapse() -> None:
    # bob's welcome names alice's full id: the server thinks bob is alice.
    h = History()
    h.user("alice", at=0.1)
    h.login("bob", at=0.2)
    h.open("bob", conn="bob-c1", old_welcome=True, welcome_id=identity_of("alice"))
    line = h.line(h.last)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v) == {"identity_mismatch": 1}
    assert witnesses(v, "identity_mismatch") == [[line]]


# ---- near misses -------------------------------------------------------------------------


def test_a_short_welcome_id_matching_the_logins_first_8_characters_is_clean() -> None:
    h, a, b = clean_pair()
    assert h.records[3]["frame"]["data"]["user_id"].endswith("...")  # the builder's default welcome
    assert only(h.end(at=10.0).check()) == {}


def test_a_full_older_welcome_matching_the_login_is_clean() -> None:
    h = History()
    h.login("alice", at=0.1)
    h.open("alice", conn="alice-c1", old_welcome=True)
    h.login("bob", at=0.2)
    h.open("bob", conn="bob-c1", old_welcome=True)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    assert only(h.end(at=10.0).check()) == {}


def test_two_users_whose_ids_share_8_characters_are_not_one_identity() -> None:
    h = History()
    h.user("alice", at=0.1, identity="abcd1234-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
    h.user("bob", at=0.2, identity="abcd1234-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
    assert h.records[3]["frame"]["data"]["user_id"] == "abcd1234..."
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"


def test_two_users_whose_ids_share_8_characters_with_full_welcomes_are_clean() -> None:
    h = History()
    for name, ident in (("alice", "abcd1234-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
                        ("bob", "abcd1234-bbbb-4bbb-8bbb-bbbbbbbbbbbb")):
        h.login(name, identity=ident)
        h.open(name, conn=f"{name}-c1", old_welcome=True)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    assert only(h.end(at=10.0).check()) == {}


def test_a_user_with_two_tabs_welcomed_twice_is_not_a_collapse() -> None:
    h = History()
    h.login("alice", at=0.1)
    h.open("alice", conn="alice-c1", old_welcome=True)
    h.open("alice", conn="alice-c2", old_welcome=True)
    h.user("bob", at=0.3)
    _answered(h, ("alice", 1.0), ("bob", 1.05))
    assert only(h.end(at=10.0).check()) == {}


def test_bridge_errors_and_progress_without_a_user_id_are_clean() -> None:
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    h.recv("bob", {"type": "agent_started", "run_id": b.run, "user_id": identity_of("bob"), "agent_name": "sup",
                   "data": {}}, at=1.2)
    h.recv("bob", {"type": "progress_update", "run_id": b.run, "agent_name": "sup", "data": {"progress": 0.5}})
    h.recv("bob", {"type": "agent_error", "run_id": b.run, "agent_name": "sup",
                   "data": {"error_message": "tool timed out", "error_context": {}}})
    v = h.end(at=10.0).check()
    assert only(v) == {} and v.verdict == "pass"
    assert v.to_dict()["requests"]["failed"] == 1
