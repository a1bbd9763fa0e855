"""The auth service and threads API, driven in process."""

from __future__ import annotations

import uuid

from backend.driver import Harness, fast_config, run


def test_register_answers_like_login_with_a_uuid4_user_id() -> None:
    async def go() -> None:
        h = Harness()
        status, body = await h.http("POST", "/auth/register", {"email": "a@x.io", "password": "pw"})
        assert status == 200
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        assert uuid.UUID(body["user"]["id"]).version == 4
        assert h.app.issuer.verify(body["access_token"]).sub == body["user"]["id"]
    run(go)


def test_registering_a_taken_email_is_a_conflict() -> None:
    async def go() -> None:
        h = Harness()
        await h.http("POST", "/auth/register", {"email": "a@x.io", "password": "pw"})
        status, _ = await h.http("POST", "/auth/register", {"email": "A@x.io", "password": "pw"})
        assert status == 409
    run(go)


def test_login_with_the_right_password_gets_the_same_user() -> None:
    async def go() -> None:
        h = Harness()
        _, reg = await h.http("POST", "/api/v1/auth/register", {"email": "a@x.io", "password": "pw"})
        status, body = await h.http("POST", "/api/v1/auth/login", {"email": "a@x.io", "password": "pw"})
        assert status == 200 and body["user"]["id"] == reg["user"]["id"]
        status, _ = await h.http("POST", "/auth/login", {"email": "a@x.io", "password": "nope"})
        assert status == 401
        status, _ = await h.http("POST", "/auth/login", {"email": "b@x.io", "password": "pw"})
        assert status == 401
    run(go)


def test_refresh_gives_a_new_access_token_for_the_same_user() -> None:
    async def go() -> None:
        h = Harness()
        _, reg = await h.http("POST", "/auth/register", {"email": "a@x.io", "password": "pw"})
        status, body = await h.http("POST", "/auth/refresh", {"refresh_token": reg["refresh_token"]})
        assert status == 200
        assert h.app.issuer.verify(body["access_token"]).sub == reg["user"]["id"]
        status, _ = await h.http("POST", "/auth/refresh", {"refresh_token": reg["access_token"]})
        assert status == 401
    run(go)


def test_e2e_login_needs_the_configured_bypass_key() -> None:
    async def go() -> None:
        h = Harness(fast_config(bypass_key="k-123"))
        body = {"email": "alice@x.io", "name": "Alice", "permissions": []}
        status, _ = await h.http("POST", "/auth/e2e/test-auth", body, (("X-E2E-Bypass-Key", "bad"),))
        assert status == 403
        status, ok = await h.http("POST", "/auth/e2e/test-auth", body, (("X-E2E-Bypass-Key", "k-123"),))
        assert status == 200 and ok["user"]["id"] == "e2e-alice"
    run(go)


def test_e2e_login_is_refused_when_no_bypass_key_is_configured() -> None:
    async def go() -> None:
        h = Harness(fast_config(bypass_key=""))
        status, _ = await h.http("POST", "/auth/e2e/test-auth", {"email": "a@x.io"},
                                 (("X-E2E-Bypass-Key", ""),))
        assert status == 403
    run(go)


def test_thread_creation_needs_a_valid_bearer_token() -> None:
    async def go() -> None:
        h = Harness()
        status, _ = await h.http("POST", "/api/threads", {})
        assert status == 401
        status, _ = await h.http("POST", "/api/threads", {}, (("Authorization", "Bearer junk"),))
        assert status == 401
        user = await h.user("a@x.io")
        assert user.thread.startswith("thread_")
        assert h.app.directory.owner_of(user.thread) == user.id
    run(go)


def test_unknown_route_is_404_and_wrong_method_is_405() -> None:
    async def go() -> None:
        h = Harness()
        assert (await h.http("POST", "/nope", {}))[0] == 404
        assert (await h.http("GET", "/auth/login"))[0] == 405
    run(go)
