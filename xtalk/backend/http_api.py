"""The HTTP side of the reference backend: the auth service and the threads API, as plain ASGI.

Routes (NETRA_PROTOCOL §1): ``POST /auth/register``, ``/auth/login``, ``/auth/refresh``,
``/auth/e2e/test-auth`` (header ``X-E2E-Bypass-Key`` must equal ``XTALK_E2E_BYPASS_KEY``; with
none configured the endpoint refuses everyone), ``/auth/dev/login`` (always ``dev-user-001``),
the proxies ``/api/v1/auth/{register,login}``, ``POST /api/threads`` (Bearer) and
``GET /health``. Answers are JSON; errors carry ``{"detail": ...}`` as FastAPI's do.

Faults here: ``login_401`` and ``login_500`` answer a login with that status.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from xtalk.backend.config import BackendConfig
from xtalk.backend.directory import Account, Directory
from xtalk.backend.faults import FaultPlan
from xtalk.backend.tokens import TokenError, TokenIssuer

Answer = tuple[int, dict[str, Any]]
Handler = Callable[[dict[str, Any], dict[str, str]], Answer]


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


async def read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(send: Callable[[dict[str, Any]], Awaitable[None]], status: int,
                  body: dict[str, Any]) -> None:
    data = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


class HttpApi:
    def __init__(self, config: BackendConfig, plan: FaultPlan, directory: Directory,
                 issuer: TokenIssuer) -> None:
        self.config = config
        self.plan = plan
        self.directory = directory
        self.issuer = issuer
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "/auth/register"): self.register,
            ("POST", "/api/v1/auth/register"): self.register,
            ("POST", "/auth/login"): self.login,
            ("POST", "/api/v1/auth/login"): self.login,
            ("POST", "/auth/refresh"): self.refresh,
            ("POST", "/auth/e2e/test-auth"): self.e2e_login,
            ("POST", "/auth/dev/login"): self.dev_login,
            ("POST", "/api/threads"): self.create_thread,
            ("GET", "/health"): lambda body, headers: (200, {"status": "healthy"}),
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        handler = self.routes.get((method, path))
        raw = await read_body(receive)
        if handler is None:
            known = any(p == path for _, p in self.routes)
            await respond(send, 405 if known else 404,
                          {"detail": "Method Not Allowed" if known else "Not Found"})
            return
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            await respond(send, 422, {"detail": "body is not JSON"})
            return
        if not isinstance(body, dict):
            await respond(send, 422, {"detail": "body must be a JSON object"})
            return
        status, answer = handler(body, _headers(scope))
        await respond(send, status, answer)

    # auth

    def _session(self, account: Account) -> dict[str, Any]:
        return {**self.issuer.pair(account.id, account.email),
                "user": {"id": account.id, "email": account.email, "name": account.name}}

    def register(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or "@" not in email or not isinstance(password, str) \
                or not password:
            return 422, {"detail": "email and password are required"}
        account = self.directory.register(email, password, str(body.get("name") or ""))
        if account is None:
            return 409, {"detail": "User already exists"}
        return 200, self._session(account)

    def login(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            return 422, {"detail": "email and password are required"}
        known = self.directory.find(email)
        owner = known.id if known else None
        if self.plan.fires("login_500"):
            self.plan.record("login_500", None, owner, owner)
            return 500, {"detail": "Internal Server Error"}
        if self.plan.fires("login_401"):
            self.plan.record("login_401", None, owner, owner)
            return 401, {"detail": "Invalid credentials"}
        account = self.directory.login(email, password)
        if account is None:
            return 401, {"detail": "Invalid credentials"}
        return 200, self._session(account)

    def refresh(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        token = body.get("refresh_token")
        if not isinstance(token, str):
            return 422, {"detail": "refresh_token is required"}
        try:
            claims = self.issuer.verify(token, "refresh")
        except TokenError as error:
            return 401, {"detail": str(error)}
        return 200, self.issuer.pair(claims.sub, claims.email)

    def e2e_login(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        key = self.config.bypass_key
        given = headers.get("x-e2e-bypass-key", "")
        if not key or not hmac.compare_digest(given.encode(), key.encode()):
            return 403, {"detail": "E2E bypass key required"}
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            return 422, {"detail": "email is required"}
        user_id = "e2e-" + email.split("@", 1)[0]
        account = self.directory.account_with_id(email, user_id, str(body.get("name") or ""))
        return 200, self._session(account)

    def dev_login(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        account = self.directory.account_with_id("dev@example.com", "dev-user-001", "dev")
        return 200, self._session(account)

    # threads

    def create_thread(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return 401, {"detail": "Not authenticated"}
        try:
            claims = self.issuer.verify(auth[7:].strip())
        except TokenError as error:
            return 401, {"detail": str(error)}
        thread_id = self.directory.create_thread(claims.sub)
        return 200, {"id": thread_id, "object": "thread", "created_at": int(time.time()),
                     "title": body.get("title"), "metadata": {"user_id": claims.sub}}
