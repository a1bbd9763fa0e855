"""A wire profile as the harness uses it: the checker core's ``Profile`` plus the client's part.

The checker reads only ``WireProfile.core`` (``xtalk.core.profile.Profile``: event types, phase
rules, id paths, noise, refusal). The client, the probes and scenario validation read the rest:
how to reach the socket (``Transport``), how to log in and present the credential (``AuthSpec``),
how a conversation exists before the first request (``ThreadSpec``) and the request frames
(``RequestKind``). Profiles are built from files by ``xtalk.profiles.load``; nothing here names a
backend.

Templates are JSON values (tables, lists, strings) in which a string that is exactly
``"{name}"`` is replaced by the value itself (``"{thread}"`` may become ``null``) and ``{name}``
inside a longer string by its text. The names are in ``PLACEHOLDERS``; ``{token}`` is the
credential and is replaced by ``<redacted>`` in every frame that is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xtalk.core.profile import Path, Profile
from xtalk.profiles.template import names_in

#: Every placeholder a template may use, and what it stands for.
PLACEHOLDERS: dict[str, str] = {
    "text": "the request's text: the journey step's prompt, then a space and the content marker",
    "marker": "the request's content marker alone (xtm- and 16 hex digits)",
    "thread": "the user's thread id (null when there is none)",
    "message_id": "a fresh UUID4 per request: the client message id a backend may echo",
    "user": "the harness user's name (u0001)",
    "account": "the account name the user logged in with (auth email template)",
    "session": "the connection's session id: a fresh UUID4 per connection (the takeover probe reuses another user's)",
    "now": "the wall-clock time, ISO 8601 UTC with microseconds and Z",
    "token": "the credential (access token or cookie value); recorded as <redacted>",
    "account_name": "the account name up to any @ (minted tokens' sub)",
    "password": "the account password (login bodies only; never recorded)",
    "refresh_token": "the refresh token a login answer gave (refresh bodies only; never recorded)",
    "issuer": "mint_jwt: the scenario's jwt_issuer (else the profile's)",
    "audience": "mint_jwt: the scenario's jwt_audience (else the profile's)",
}

REDACTED = "<redacted>"

TransportKind = Literal["json", "socketio"]
TokenSource = Literal["json", "cookie"]
BodyKind = Literal["json", "form"]


@dataclass(frozen=True, slots=True)
class Transport:
    """How frames travel. ``json``: one JSON object per WebSocket text message. ``socketio``:
    Socket.IO v5 over Engine.IO v4 on a WebSocket; frames are ``{"event", "data", "args"}``."""

    kind: TransportKind = "json"
    path: str = "/ws"  # the WebSocket path on the host
    query: tuple[tuple[str, str], ...] = ()  # fixed query parameters (templates allowed)
    engine_param: str | None = None  # the query parameter that names an engine path
    engines: tuple[str, ...] = ()  # engine paths a scenario may name
    default_engines: tuple[str, ...] = ()  # what run.engines is when a scenario does not say
    subprotocols: tuple[str, ...] = ()  # offered in the handshake (templates allowed)
    headers: tuple[tuple[str, str], ...] = ()  # extra handshake headers (templates allowed)
    namespace: str = "/"  # socketio: the namespace connected to
    connect: Any = None  # socketio: the CONNECT packet's payload (a template); None: no payload
    after_connect: tuple[Any, ...] = ()  # frames sent once the connection is ready (templates)
    before_close: tuple[Any, ...] = ()  # frames sent before the client closes (templates)

    @property
    def names_sessions(self) -> bool:
        """Whether a connection names a session the server may resume (``{session}`` used)."""
        return "session" in names_in((self.query, self.headers, self.connect, self.subprotocols))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One HTTP call of the auth service: ``POST path`` with a JSON or form body."""

    path: str
    body: BodyKind = "json"
    fields: Any = None  # the body (a template table)
    header: str | None = None  # e2e bypass: the header that carries the key


@dataclass(frozen=True, slots=True)
class FirstMessage:
    """Auth by a first frame on the socket: ``frame`` is sent once the connection is open; a
    frame for which all ``accepted`` conditions hold lets the connection be used, one for which
    all ``refused`` hold (or the server closing) refuses it."""

    frame: Any
    accepted: tuple[Any, ...] = ()  # core Conditions
    refused: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthSpec:
    strategies: tuple[str, ...] = ("register",)  # the scenario strategies this backend supports; first is the default
    login: Endpoint | None = None
    register: Endpoint | None = None
    bypass: Endpoint | None = None
    refresh: Endpoint | None = None
    token_from: TokenSource = "json"  # where a login answer carries the credential
    token_field: str = "access_token"  # the JSON field, or the cookie's name
    refresh_field: str | None = None  # the JSON field with a refresh token
    expires_field: str | None = None  # the JSON field with the token's lifetime in seconds
    identity_claim: str | None = "sub"  # the token's claim naming the user (read without verifying)
    identity_json: tuple[Path, ...] = ()  # else: where the login answer names the user
    cookie: bool = False  # the socket and HTTP calls carry the cookies the login set
    first_message: FirstMessage | None = None
    mint_claims: Any = None  # mint_jwt: the claim set (a template); exp/iat/jti are added
    mint_audience: str | None = None  # defaults for the scenario's jwt_audience / jwt_issuer
    mint_issuer: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadSpec:
    """A conversation created over HTTP before the first request (``POST path``)."""

    path: str
    body: Any = None
    id: tuple[Path, ...] = (("id",),)


@dataclass(frozen=True, slots=True)
class RequestKind:
    name: str
    frame: Any  # the template
    thread: Path | None = None  # where the frame carries the thread (where "{thread}" stands)
    echo: Path | None = None  # where the frame carries "{message_id}"


@dataclass(frozen=True, slots=True)
class WireProfile:
    name: str
    core: Profile
    source: str  # the file it was read from
    description: str = ""
    transport: Transport = Transport()
    auth: AuthSpec = AuthSpec()
    thread: ThreadSpec | None = None
    requests: tuple[RequestKind, ...] = ()
    spoof_user_id: Path | None = None  # where the spoofed_user_id probe writes the victim's identity
    reference_backend: bool = False  # `xtalk run` without a host may start the reference backend

    @property
    def default_request(self) -> str:
        return self.requests[0].name

    def request(self, name: str) -> RequestKind:
        for kind in self.requests:
            if kind.name == name:
                return kind
        return self.requests[0]
