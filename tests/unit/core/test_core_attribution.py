"""``attribute``: one delivery, its run's binding and what its ids name → one decision (tested alone)."""

from __future__ import annotations

from typing import Any

from xtalk.core.anomaly import AnomalyKind
from xtalk.core.attribution import OWN, attribute
from xtalk.core.delivery import Delivery
from xtalk.core.ids import ConnId, Identity, Marker, ReqId, RunId, ThreadId, UserName
from xtalk.core.normalise import Event
from xtalk.core.profile import EventKind
from xtalk.core.requests import Request
from xtalk.core.runs import Binding, Evidence

ALICE, BOB = UserName("alice"), UserName("bob")


def request(user: UserName, line: int = 5) -> Request:
    return Request(ReqId(f"{user}-r1"), user, ConnId(f"{user}-c1"), 1.0, line, ThreadId(f"t_{user}"),
                   Marker(f"xtm-{user}"), "main", None, "start_agent", {}, 31.0)


def delivery(to: UserName, *, run: str | None = "run_1", uid: str | None = None, thread: str | None = None,
             kind: EventKind = EventKind.THINKING) -> Delivery:
    event = Event(kind, kind.value, RunId(run) if run else None, Identity(uid) if uid else None,
                  ThreadId(thread) if thread else None, None, None, None, (), 0)
    return Delivery(event, to, ConnId(f"{to}-c1"), 1.5, 20, {"type": kind.value}, ())


def decide(d: Delivery, binding: Binding | None, **lookups: Any) -> Any:
    args: dict[str, Any] = {"uid_user": None, "thread_user": None, "marked": [], "stranger": None}
    args.update(lookups)
    return attribute(d, binding, **args)


def test_the_receivers_own_run_with_its_own_ids_is_the_fast_path() -> None:
    r = request(BOB)
    assert decide(delivery(BOB), Binding(r, Evidence.CONNECTION, True), uid_user=BOB, thread_user=BOB) is OWN


def test_a_copy_of_a_run_its_owner_received_is_a_cross_user_event_owned_by_the_owner() -> None:
    r = request(ALICE)
    decision = decide(delivery(BOB), Binding(r, Evidence.CONTENT, owner_received=True))
    assert decision.kind is AnomalyKind.CROSS_USER_EVENT
    assert (decision.owner, decision.source, decision.leaked, decision.advances) == (ALICE, ALICE, r, False)
    assert decision.finding.witness == (5, 20)


def test_a_run_tied_to_another_user_only_by_content_is_a_content_leak() -> None:
    r = request(ALICE)
    decision = decide(delivery(BOB), Binding(r, Evidence.CONTENT))
    assert decision.kind is AnomalyKind.CROSS_USER_CONTENT and decision.content and not decision.advances
    assert decision.leaked is r


def test_another_users_id_on_the_receivers_own_run_is_counted_and_the_run_goes_on() -> None:
    decision = decide(delivery(BOB, uid="alice-id"), Binding(request(BOB), Evidence.CONNECTION, True),
                      uid_user=ALICE)
    assert decision.kind is AnomalyKind.CROSS_USER_EVENT
    assert decision.advances and decision.owner == BOB and decision.source == ALICE and decision.leaked is None


def test_another_users_marker_in_the_receivers_own_run_is_content_and_the_run_goes_on() -> None:
    a = request(ALICE)
    decision = decide(delivery(BOB), Binding(request(BOB), Evidence.CONNECTION, True), marked=[(a.marker, a)])
    assert decision.kind is AnomalyKind.CROSS_USER_CONTENT and decision.advances and decision.source == ALICE
    assert decision.leaked is None  # quoting A's text does not answer A's request elsewhere


def test_the_receivers_own_marker_beside_its_run_is_no_finding() -> None:
    b = request(BOB)
    assert decide(delivery(BOB), Binding(b, Evidence.CONNECTION, True), marked=[(b.marker, b)]) is OWN


def test_a_user_id_that_is_nobodys_is_an_identity_mismatch_after_the_cross_user_kinds() -> None:
    decision = decide(delivery(BOB, uid="demo-user-001"), Binding(request(BOB), Evidence.CONNECTION, True),
                      stranger="nobody's")
    assert decision.kind is AnomalyKind.IDENTITY_MISMATCH and decision.advances
    leak = decide(delivery(BOB, uid="demo-user-001"), Binding(request(ALICE), Evidence.IDS), stranger="nobody's")
    assert leak.kind is AnomalyKind.CROSS_USER_EVENT


def test_an_event_of_no_request_is_a_phantom_unless_it_already_showed_another_kind() -> None:
    assert decide(delivery(BOB), None).kind is AnomalyKind.PHANTOM_EVENT
    assert decide(delivery(BOB), Binding(None, Evidence.CONNECTION)).kind is AnomalyKind.PHANTOM_EVENT
    assert decide(delivery(BOB, uid="x"), None, stranger="nobody's").kind is AnomalyKind.IDENTITY_MISMATCH


def test_a_run_id_less_event_naming_another_users_thread_is_that_users_and_advances_nothing() -> None:
    a = request(ALICE)
    decision = decide(delivery(BOB, run=None, thread="t_alice", kind=EventKind.COMPLETED), Binding(a, Evidence.IDS),
                      thread_user=ALICE)
    assert decision.kind is AnomalyKind.CROSS_USER_EVENT and not decision.advances and decision.owner == ALICE
