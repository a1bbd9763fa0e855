"""Auth strategies: how a simulated user gets its credential, at the endpoints the profile names.

The scenario picks the strategy (``[auth] strategy``) and names where secrets live; the profile
(``[auth]``: ``xtalk.profiles.model.AuthSpec``) says which endpoints exist, their bodies, where
the answer carries the credential (a JSON field or a cookie) and whose name it vouches for:

- ``register``: the register endpoint; when the account exists already, the login endpoint.
  The password comes from ``auth.password_env`` / ``password_file``, or is random per process.
- ``login``: the login endpoint with the account from the ``email`` template and the password
  from ``auth.password_env`` / ``password_file`` (a form login may answer with a cookie).
- ``csv``: the login endpoint with the account on row ``index % rows`` of ``auth.accounts_csv``.
- ``e2e_bypass``: the bypass endpoint with the key (``auth.bypass_key_env``) in the header the
  profile names.
- ``mint_jwt``: a local HS256 token with the profile's claim set (plus ``iat exp jti``), secret
  from ``auth.jwt_secret_env``.

Invariants: secrets are read (through ``xtalk.scenario.secrets``, from the environment or a
file) only here, once per process, and never leave this module except as the
``Credentials.token``/``cookies`` the session puts in the handshake headers; ``Credentials``
hides them from ``repr``; error details carry status codes and a short, secret-free description,
never a request body. The identity a run records is the claim the profile names (read without
verifying: the harness is not the auth service), else the field of the answer it names.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

import httpx
import jwt

from xtalk.client.channel import now_iso
from xtalk.core.profile import first_value
from xtalk.profiles.model import AuthSpec, Endpoint
from xtalk.profiles.template import render
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
    #: the cookies the login set (sent back as a Cookie header when the profile says so)
    cookies: dict[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)


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


def identity_of(token: str, claim: str = "sub") -> str | None:
    """The token's ``claim`` (``sub``), read without verification; None when it is not a JWT."""
    value = _claims(token).get(claim)
    return str(value) if value is not None else None


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


def _values(account: str, user: str, password: str = "", refresh_token: str = "") -> dict[str, Any]:
    return {"account": account, "account_name": account.split("@", 1)[0], "user": user, "password": password,
            "refresh_token": refresh_token, "now": now_iso()}


def obtain(
    http: httpx.Client, base_url: str, auth: Auth, spec: AuthSpec, *, user: str, index: int, run_id: str,
    environ: Mapping[str, str],
) -> Credentials:
    """A credential for ``user`` by the scenario's strategy at the profile's endpoints; raises
    ``AuthError``. The auth service is ``auth.auth_host`` when set, else the run's host. Secrets
    were checked at load time (``xtalk.scenario.secrets.check_auth``); they are read here."""
    base = (auth.auth_host or base_url).rstrip("/")
    if auth.strategy == "mint_jwt":
        return _mint(auth, spec, email_for(auth, run_id, user), user, _secret(auth, environ))
    if auth.strategy == "e2e_bypass":
        account = email_for(auth, run_id, user)
        endpoint = _need(spec.bypass, "bypass")
        headers = {endpoint.header or "X-E2E-Bypass-Key": _secret(auth, environ)}
        return _call(http, base, endpoint, _values(account, user), account, "login", spec, headers)
    login = _need(spec.login, "login")
    if auth.strategy == "csv":
        rows = _accounts(auth.accounts_csv or "")
        if not rows:
            raise AuthError("login", "the accounts CSV has no rows")
        account, password = rows[index % len(rows)]
        return _call(http, base, login, _values(account, user, password), account, "login", spec)
    account = email_for(auth, run_id, user)
    if auth.strategy == "login":
        return _call(http, base, login, _values(account, user, _secret(auth, environ)), account, "login", spec)
    password = _secret(auth, environ) or _PROCESS_PASSWORD
    try:
        return _call(http, base, _need(spec.register, "register"), _values(account, user, password), account,
                     "register", spec)
    except AuthError as error:
        if error.status not in (400, 409, 422):  # anything but "exists already" is a real failure
            raise
    return _call(http, base, login, _values(account, user, password), account, "login", spec)


def refresh(http: httpx.Client, base_url: str, auth: Auth, spec: AuthSpec, creds: Credentials, *, user: str,
            index: int, run_id: str, environ: Mapping[str, str]) -> Credentials:
    """A fresh credential before the old one expires: the refresh endpoint when the service gave
    a refresh token and the profile has one, else the strategy again (minted tokens are minted anew)."""
    if creds.refresh_token and spec.refresh is not None and auth.strategy != "mint_jwt":
        base = (auth.auth_host or base_url).rstrip("/")
        try:
            return _call(http, base, spec.refresh, _values(creds.email, user, refresh_token=creds.refresh_token),
                         creds.email, "refresh", spec)
        except AuthError:
            pass  # an expired or revoked refresh token: log in again
    return obtain(http, base_url, auth, spec, user=user, index=index, run_id=run_id, environ=environ)


def _need(endpoint: Endpoint | None, name: str) -> Endpoint:
    if endpoint is None:  # the scenario validation refuses such a strategy: a bug if reached
        raise AuthError("login", f"the profile has no [auth.{name}] endpoint")
    return endpoint


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """The cookies a response sets (name -> value), read from its Set-Cookie headers."""
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        for name, morsel in jar.items():
            cookies[name] = morsel.value
    return cookies


def _call(
    http: httpx.Client, base: str, endpoint: Endpoint, values: dict[str, Any], account: str, phase: str,
    spec: AuthSpec, headers: dict[str, str] | None = None,
) -> Credentials:
    body = render(endpoint.fields, values) if endpoint.fields is not None else {}
    url = base + endpoint.path
    try:
        if endpoint.body == "form":
            response = http.post(url, data=body, headers=headers)
        else:
            response = http.post(url, json=body, headers=headers)
    except httpx.HTTPError as error:
        raise AuthError(phase, f"{phase} request failed: {type(error).__name__}: {error}") from None
    path = endpoint.path
    if response.status_code >= 300:
        raise AuthError(phase, f"POST {path} answered {response.status_code}", response.status_code)
    data: Any = None
    try:
        data = response.json()
    except ValueError:
        if spec.token_from == "json":
            raise AuthError(phase, f"POST {path} answered {response.status_code} with a body that is not JSON",
                            response.status_code) from None
    cookies = set_cookies(response) if spec.cookie or spec.token_from == "cookie" else {}
    if spec.token_from == "cookie":
        token = cookies.get(spec.token_field)
        if not token:
            raise AuthError(phase, f"POST {path} answered {response.status_code} without the cookie "
                            f"{spec.token_field}", response.status_code)
    else:
        token = data.get(spec.token_field) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(phase, f"POST {path} answered without {spec.token_field}", response.status_code)
    identity = identity_of(token, spec.identity_claim) if spec.identity_claim else None
    if identity is None and isinstance(data, dict):
        value = first_value(data, spec.identity_json)
        identity = str(value) if value is not None and not isinstance(value, (dict, list)) else None
    refresh_token = data.get(spec.refresh_field) if spec.refresh_field and isinstance(data, dict) else None
    expires = data.get(spec.expires_field) if spec.expires_field and isinstance(data, dict) else None
    return Credentials(account, identity, token, refresh_token if isinstance(refresh_token, str) else None,
                       lifetime_of(token, expires), cookies)


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


def _mint(auth: Auth, spec: AuthSpec, email: str, user: str, secret: str) -> Credentials:
    if not secret:
        raise AuthError("login", f"no signing secret for mint_jwt ({auth.jwt_secret_env or auth.jwt_secret_file})")
    claims = minted_claims(auth, spec, email, user, lifetime=auth.token_lifetime)
    token = jwt.encode(claims, secret, algorithm="HS256")
    identity = claims.get(spec.identity_claim or "sub")
    return Credentials(email, str(identity) if identity is not None else None, token, None,
                       float(int(auth.token_lifetime)))


def minted_claims(auth: Auth, spec: AuthSpec, email: str, user: str, *, lifetime: float,
                  issued: int | None = None) -> dict[str, Any]:
    """The claims of a minted token: the profile's claim template, then ``iat``, ``exp`` and a
    fresh ``jti``. ``issued`` (Unix time) lets the expired-token probe mint one in the past."""
    now = int(time.time()) if issued is None else issued
    values = {**_values(email, user), "issuer": auth.jwt_issuer or spec.mint_issuer or "",
              "audience": auth.jwt_audience or spec.mint_audience or ""}
    claims = render(spec.mint_claims or {"sub": "{account_name}"}, values)
    claims.update({"iat": now, "exp": now + int(lifetime), "jti": uuid.uuid4().hex})
    return claims
