"""Auth strategies: how a simulated user gets a token (NETRA_PROTOCOL.md §1).

- ``register``: ``POST /auth/register``; when the account exists already, ``POST /auth/login``.
  The password comes from the environment variable ``auth.password_env``, or is random per process.
- ``csv``: ``POST /auth/login`` with the account on row ``index % rows`` of ``auth.accounts_csv``
  (columns ``email,password``).
- ``e2e_bypass``: ``POST /auth/e2e/test-auth`` with the header ``X-E2E-Bypass-Key`` read from the
  environment variable ``auth.bypass_key_env``.
- ``mint_jwt``: a local HS256 token, the full claim set (``sub iat exp token_type=access iss aud
  jti email``), secret from the environment variable ``auth.jwt_secret_env``.

Invariants: secrets are read (through ``xtalk.scenario.secrets``, from the environment or a file)
only here, once per process, and never leave this module except as the ``Credentials.token`` the session puts in the handshake headers;
``Credentials`` hides the token from ``repr``; error details carry status codes and a short,
secret-free description, never a request body. The identity a run records is the token's ``sub``
(read without verifying: the harness is not the auth service).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from xtalk.scenario.model import Auth
from xtalk.scenario.secrets import read_accounts, read_secret

_PROCESS_PASSWORD = "xt-" + secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    identity: str | None
    token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    #: seconds the token lives, as the token says (``exp - iat``) or the service (``expires_in``);
    #: None when neither says. The session refreshes before the shorter of this and the
    #: scenario's ``token_lifetime``.
    lifetime: float | None = None


class AuthError(Exception):
    """Logging in failed; ``detail`` is safe to record."""

    def __init__(self, phase: str, detail: str, status: int | None = None) -> None:
        self.phase = phase
        self.detail = detail
        self.status = status
        super().__init__(detail)


def email_for(auth: Auth, run_id: str, user: str) -> str:
    return auth.email.replace("{run}", run_id).replace("{user}", user)


def _claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False,
                                            "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def identity_of(token: str) -> str | None:
    """The token's ``sub``, read without verification; None when it is not a JWT."""
    sub = _claims(token).get("sub")
    return str(sub) if sub is not None else None


def lifetime_of(token: str, expires_in: Any = None) -> float | None:
    """How long the token lives: ``exp - iat`` of its claims (read without verification), else
    the service's ``expires_in``; None when neither is a positive number."""
    claims = _claims(token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, (int, float)) and isinstance(iat, (int, float)) and exp > iat:
        return float(exp - iat)
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        return float(expires_in)
    return None


def obtain(
    http: httpx.Client, base_url: str, auth: Auth, *, user: str, index: int, run_id: str,
    environ: Mapping[str, str],
) -> Credentials:
    """A token for ``user`` by the scenario's strategy; raises ``AuthError``. The auth service is
    ``auth.auth_host`` when set, else the run's host. Secrets were checked at load time
    (``xtalk.scenario.secrets.check_auth``); they are read here, where they are used."""
    base = (auth.auth_host or base_url).rstrip("/")
    if auth.strategy == "mint_jwt":
        return _mint(auth, email_for(auth, run_id, user), _secret(auth, environ))
    if auth.strategy == "e2e_bypass":
        email = email_for(auth, run_id, user)
        key = _secret(auth, environ)
        body = {"email": email, "name": user, "permissions": ["read", "write"]}
        return _token_call(http, f"{base}/auth/e2e/test-auth", body, email, "login", {"X-E2E-Bypass-Key": key})
    if auth.strategy == "csv":
        rows = _accounts(auth.accounts_csv or "")
        if not rows:
            raise AuthError("login", "the accounts CSV has no rows")
        email, password = rows[index % len(rows)]
        return _token_call(http, f"{base}/auth/login", {"email": email, "password": password}, email, "login")
    email = email_for(auth, run_id, user)
    password = _secret(auth, environ) or _PROCESS_PASSWORD
    try:
        return _token_call(http, f"{base}/auth/register",
                           {"email": email, "password": password, "name": user}, email, "register")
    except AuthError as error:
        if error.status not in (400, 409, 422):  # anything but "exists already" is a real failure
            raise
    return _token_call(http, f"{base}/auth/login", {"email": email, "password": password}, email, "login")


def refresh(http: httpx.Client, base_url: str, auth: Auth, creds: Credentials, *, user: str, index: int,
            run_id: str, environ: Mapping[str, str]) -> Credentials:
    """A fresh token before the old one expires: ``POST /auth/refresh`` when the service gave a
    refresh token, else the strategy again (minted tokens are simply minted anew)."""
    if creds.refresh_token and auth.strategy != "mint_jwt":
        base = (auth.auth_host or base_url).rstrip("/")
        try:
            return _token_call(http, f"{base}/auth/refresh", {"refresh_token": creds.refresh_token},
                               creds.email, "refresh")
        except AuthError:
            pass  # an expired or revoked refresh token: log in again
    return obtain(http, base_url, auth, user=user, index=index, run_id=run_id, environ=environ)


def _token_call(
    http: httpx.Client, url: str, body: dict[str, Any], email: str, phase: str,
    headers: dict[str, str] | None = None,
) -> Credentials:
    try:
        response = http.post(url, json=body, headers=headers)
    except httpx.HTTPError as error:
        raise AuthError(phase, f"{phase} request failed: {type(error).__name__}: {error}") from None
    path = httpx.URL(url).path
    if response.status_code >= 300:
        raise AuthError(phase, f"POST {path} answered {response.status_code}", response.status_code)
    try:
        data = response.json()
    except ValueError:
        raise AuthError(phase, f"POST {path} answered {response.status_code} with a body that is not JSON",
                        response.status_code) from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise AuthError(phase, f"POST {path} answered without an access_token", response.status_code)
    identity = identity_of(token)
    if identity is None:
        user = data.get("user")
        if isinstance(user, dict) and user.get("id") is not None:
            identity = str(user["id"])
    refresh = data.get("refresh_token")
    return Credentials(email, identity, token, refresh if isinstance(refresh, str) else None,
                       lifetime_of(token, data.get("expires_in")))


_SECRETS: dict[Auth, str | None] = {}
_ACCOUNTS: dict[str, list[tuple[str, str]]] = {}


def _secret(auth: Auth, environ: Mapping[str, str]) -> str:
    """The strategy's secret, read once per process; '' when the strategy leaves it unset."""
    if auth not in _SECRETS:
        try:
            _SECRETS[auth] = read_secret(auth, environ)
        except Exception as error:  # UsageError / OSError: recorded as a login error, no value
            raise AuthError("login", f"the {auth.strategy} secret could not be read: {type(error).__name__}") from None
    return _SECRETS[auth] or ""


def _accounts(path: str) -> list[tuple[str, str]]:
    if path not in _ACCOUNTS:
        try:
            _ACCOUNTS[path] = read_accounts(path)
        except (OSError, KeyError, ValueError) as error:
            raise AuthError("login", f"the accounts CSV could not be read: {type(error).__name__}") from None
    return _ACCOUNTS[path]


def _mint(auth: Auth, email: str, secret: str) -> Credentials:
    if not secret:
        raise AuthError("login", f"no signing secret for mint_jwt ({auth.jwt_secret_env or auth.jwt_secret_file})")
    now = int(time.time())
    sub = email.split("@", 1)[0]
    claims = {
        "sub": sub, "iat": now, "exp": now + int(auth.token_lifetime), "token_type": "access",
        "iss": auth.jwt_issuer, "aud": auth.jwt_audience, "jti": uuid.uuid4().hex, "email": email,
    }
    return Credentials(email, sub, jwt.encode(claims, secret, algorithm="HS256"), None, float(int(auth.token_lifetime)))
