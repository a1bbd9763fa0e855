"""``Identities.judge``: every identity_mismatch is decided here (logins, welcomes, event ids)."""

from __future__ import annotations

from xtalk.core.identity import Identities, Source, same_identity
from xtalk.core.ids import Identity, UserName

A, B = UserName("alice"), UserName("bob")
ID_A = Identity("abcd1234-0000-4000-8000-000000000001")
ID_A2 = Identity("abcd1234-0000-4000-8000-000000000002")  # shares 8 characters with ID_A


def logged_in() -> Identities:
    ids = Identities("...")
    assert ids.login(A, ID_A, 0.1, 1) is None
    return ids


def test_two_ids_sharing_eight_characters_are_two_identities() -> None:
    ids = logged_in()
    assert ids.login(B, ID_A2, 0.2, 2) is None
    assert ids.named(ID_A) == A and ids.named(ID_A2) == B


def test_two_users_vouched_for_with_one_identity_collapse_and_the_id_names_nobody_after() -> None:
    ids = logged_in()
    finding = ids.login(B, ID_A, 0.2, 2)
    assert finding is not None and finding.kind.value == "identity_mismatch" and finding.owner == A
    assert ids.named(ID_A) is None


def test_a_welcome_showing_the_short_form_of_the_users_id_agrees() -> None:
    ids = logged_in()
    assert ids.judge(Source.WELCOME, A, "abcd1234...") is None
    assert ids.judge(Source.WELCOME, A, ID_A) is None
    assert ids.judge(Source.WELCOME, A, "ffff0000...") is not None


def test_a_full_welcome_id_already_shown_to_another_user_is_a_collapse() -> None:
    ids = logged_in()
    ids.login(B, Identity("bbbb0000-0000-4000-8000-000000000009"), 0.2, 2)
    assert ids.welcome(A, "alice-c1", ID_A, "connection_established", 0.3, 3, {}) is None  # type: ignore[arg-type]
    assert ids.judge(Source.WELCOME, B, ID_A) is not None


def test_an_event_id_that_is_nobodys_contradicts_the_receiver_but_a_harness_users_id_is_not_identity() -> None:
    ids = logged_in()
    ids.login(B, Identity("bbbb0000-0000-4000-8000-000000000009"), 0.2, 2)
    assert ids.judge(Source.EVENT, A, "demo-user-001") is not None
    assert ids.judge(Source.EVENT, A, "bbbb0000-0000-4000-8000-000000000009") is None  # a cross-user kind instead
    assert ids.judge(Source.EVENT, A, ID_A) is None


def test_same_identity_reads_the_profiles_short_form() -> None:
    assert same_identity("abcd1234...", ID_A, "...") and not same_identity("abcd...", "xbcd1234", "...")
