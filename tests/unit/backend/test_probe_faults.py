"""The faults only active probes can reveal (``trust_client_ids``, ``accept_bad_tokens``), the
per-user connection limit, and the token lifetime: what each does to the probe's request or
connection, what it leaves alone, and the ground truth it writes."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import jwt
import pytest

from backend.driver import FakeSocket, Harness, User, fast_config, run
from xtalk.backend.config import BackendConfig
from xtalk.backend.tokens import TokenIssuer
from xtalk.commands.serve import add_arguments, config_from_args
from xtalk.errors import UsageError


def harness(*faults: tuple[str, float], **kw: Any) -> Harness:
    return Harness(fast_config(faults=faults, reasoning_alias=0.0, **kw))


def acts(h: Harness, fault: str) -> list[dict[str, Any]]:
    return [act for act in h.app.plan.acts if act["fault"] == fault]


async def settled(sock: FakeSocket) -> FakeSocket:
    for _ in range(10):
        await asyncio.sleep(0)
    return sock


async def ask_with(sock: FakeSocket, text: str, thread_id: str | None, **payload: Any) -> None:
    await sock.send({"type": "start_agent", "payload": {
        "user_request": text, "thread_id": thread_id, "context": {"source": "message_input"},
        "settings": {}, **payload}})


async def two_users(h: Harness) -> tuple[User, FakeSocket, User, FakeSocket]:
    a, b = await h.user("a@x.io"), await h.user("b@x.io")
    return a, await h.connect(a), b, await h.connect(b)


# trust_client_ids


def test_trust_client_ids_runs_a_spoofed_user_id_as_that_user_and_routes_it_to_them() -> None:
    async def go() -> None:
        h = harness(("trust_client_ids", 1.0))
        a, sa, b, sb = await two_users(h)
        await ask_with(sa, "who am I?", a.thread, user_id=b.id)
        await h.settle()
        assert sa.events() == []  # the prober hears nothing ...
        leaked = sb.events()  # ... the victim gets the prober's run, stamped as the victim
        assert len(leaked) == 7 and {e["user_id"] for e in leaked} == {b.id}
        truth = acts(h, "trust_client_ids")
        assert len(truth) == 7 and {(t["owner"], t["victim"]) for t in truth} == {(a.id, b.id)}
    run(go)


def test_trust_client_ids_runs_a_request_in_the_foreign_thread_it_names() -> None:
    async def go() -> None:
        h = harness(("trust_client_ids", 1.0))
        a, sa, b, sb = await two_users(h)
        await ask_with(sa, "summarise this thread", b.thread)
        await h.settle()
        events = sa.events()
        assert len(events) == 7 and {e["thread_id"] for e in events} == {b.thread}
        assert {e["user_id"] for e in events} == {a.id} and sb.events() == []
        truth = acts(h, "trust_client_ids")  # nothing crossed a socket: one line for the run
        assert len(truth) == 1 and truth[0]["owner"] == a.id and truth[0]["victim"] == b.id
        assert truth[0]["detail"]["thread_id"] == b.thread and truth[0]["run_id"] == events[0]["run_id"]
    run(go)


def test_trust_client_ids_leaves_requests_that_name_only_their_own_ids_alone() -> None:
    async def go() -> None:
        h = harness(("trust_client_ids", 1.0))
        a, sa, b, sb = await two_users(h)
        await ask_with(sa, "mine", a.thread, user_id=a.id)
        await sb.ask("also mine", b.thread)
        await h.settle()
        assert {e["user_id"] for e in sa.events()} == {a.id}
        assert {e["thread_id"] for e in sa.events()} == {a.thread}
        assert {e["user_id"] for e in sb.events()} == {b.id}
        assert h.app.plan.acts == []
    run(go)


def test_without_the_fault_the_payloads_ids_are_ignored() -> None:
    async def go() -> None:
        h = harness()
        a, sa, b, sb = await two_users(h)
        await ask_with(sa, "spoofed", b.thread, user_id=b.id)
        await h.settle()
        events = sa.events()
        assert len(events) == 7 and sb.events() == []
        assert {e["user_id"] for e in events} == {a.id}
        assert {e["thread_id"] for e in events} == {a.thread}  # the foreign thread falls back
    run(go)


# accept_bad_tokens


def forged(user: User) -> str:
    return TokenIssuer("not-the-servers-secret-0123456789abcdef").mint(user.id, user.email)


def expired(h: Harness, user: User) -> str:
    return TokenIssuer(h.app.config.jwt_secret, access_lifetime=-60).mint(user.id, user.email)


@pytest.mark.parametrize("kind", ["forged", "expired"])
def test_accept_bad_tokens_serves_a_forged_or_expired_token_as_the_user_it_names(kind: str) -> None:
    async def go() -> None:
        h = harness(("accept_bad_tokens", 1.0))
        a = await h.user("a@x.io")
        token = forged(a) if kind == "forged" else expired(h, a)
        sock = await settled(FakeSocket(h.app, subprotocols=("jwt-auth", f"jwt.{token}")))
        assert sock.close_code is None and sock.frames[0]["type"] == "connection_established"
        await sock.ask("stale", a.thread)
        await h.settle()
        assert {e["user_id"] for e in sock.events()} == {a.id}
        truth = acts(h, "accept_bad_tokens")
        assert len(truth) == 1 and truth[0]["owner"] == truth[0]["victim"] == a.id
        why = "InvalidSignatureError" if kind == "forged" else "expired"
        assert why in truth[0]["detail"]["refused_for"]
    run(go)


@pytest.mark.parametrize("kind", ["forged", "expired"])
def test_without_the_fault_a_forged_or_expired_token_is_refused(kind: str) -> None:
    async def go() -> None:
        h = harness()
        a = await h.user("a@x.io")
        token = forged(a) if kind == "forged" else expired(h, a)
        sock = await settled(FakeSocket(h.app, subprotocols=("jwt-auth", f"jwt.{token}")))
        assert sock.close_code == 1008 and sock.frames[0]["error_code"] == "AUTH_FAILED"
    run(go)


def test_accept_bad_tokens_still_refuses_what_is_not_a_token() -> None:
    async def go() -> None:
        h = harness(("accept_bad_tokens", 1.0))
        sock = await settled(FakeSocket(h.app, subprotocols=("jwt-auth", "jwt.not-a-jwt")))
        assert sock.close_code == 1008 and acts(h, "accept_bad_tokens") == []
    run(go)


def test_accept_bad_tokens_leaves_good_tokens_and_the_ground_truth_alone() -> None:
    async def go() -> None:
        h = harness(("accept_bad_tokens", 1.0))
        a = await h.user("a@x.io")
        sock = await h.connect(a)
        assert sock.frames[0]["type"] == "connection_established" and h.app.plan.acts == []
    run(go)


# the per-user connection limit


def test_a_connection_past_the_per_user_limit_is_refused_with_1013() -> None:
    async def go() -> None:
        h = harness(max_connections_per_user=2)
        a, b = await h.user("a@x.io"), await h.user("b@x.io")
        first, second, third = [await h.connect(a) for _ in range(3)]
        assert first.close_code is None and second.close_code is None
        assert third.accepted is not None and third.close_code == 1013  # accepted, then refused
        assert third.frames == [third.frames[0]]  # no welcome, just the refusal
        assert third.frames[0]["error_code"] == "CONNECTION_LIMIT_EXCEEDED"
        assert third.frames[0]["details"] == {"limit": 2}
        other = await h.connect(b)  # the limit is per user
        assert other.close_code is None
        await first.disconnect()
        again = await h.connect(a)  # a closed connection frees its place
        assert again.close_code is None and again.frames[0]["type"] == "connection_established"
        assert h.app.websocket.connections_refused == 1
    run(go)


def test_without_a_limit_one_user_may_hold_many_connections() -> None:
    async def go() -> None:
        h = harness()
        a = await h.user("a@x.io")
        socks = [await h.connect(a) for _ in range(12)]
        assert all(s.close_code is None for s in socks) and h.app.registry.held_by(a.id) == 12
        for sock in socks:
            await sock.disconnect()
        assert h.app.registry.held_by(a.id) == 0
    run(go)


# flags


def serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_serve_flags_set_the_token_lifetime_and_the_connection_limit() -> None:
    config = config_from_args(serve_args("--token-lifetime", "2m", "--max-connections-per-user", "5"))
    assert config.token_lifetime == 120.0 and config.max_connections_per_user == 5
    defaults = config_from_args(serve_args())
    assert defaults.token_lifetime == 900.0 and defaults.max_connections_per_user == 0


@pytest.mark.parametrize(("argv", "found"), [
    (("--token-lifetime", "soon"), "--token-lifetime soon"),
    (("--token-lifetime", "0"), "token_lifetime=0"),
    (("--max-connections-per-user", "-1"), "max_connections_per_user=-1"),
])
def test_bad_serve_flags_are_usage_errors(argv: tuple[str, ...], found: str) -> None:
    with pytest.raises(UsageError) as caught:
        config_from_args(serve_args(*argv))
    assert found in str(caught.value.found)


def test_logins_issue_tokens_of_the_configured_lifetime() -> None:
    async def go() -> None:
        h = harness(token_lifetime=120.0)
        status, body = await h.http("POST", "/auth/register", {"email": "a@x.io", "password": "pw"})
        assert status == 200 and body["expires_in"] == 120
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 120
    run(go)


def test_a_config_with_a_zero_lifetime_is_refused() -> None:
    with pytest.raises(UsageError):
        BackendConfig(token_lifetime=0).validate()
