"""What a connection looks like on the wire, from the profile: URL, handshake, frames to send.

``ConnectionPlan`` renders the profile's ``[transport]`` for one connection of one user: the
WebSocket URL (path, fixed query, the engine parameter), the offered subprotocols and handshake
headers (with the credential, and the login's cookies when the profile says the socket carries
them), and the frames of the opening and closing sequences. ``recorded`` gives any rendered
frame as the history may keep it: the credential replaced by ``<redacted>``.

Pure: no I/O; the session owns the socket and the clock.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from xtalk.profiles.model import REDACTED, WireProfile
from xtalk.profiles.template import render


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_session_id() -> str:
    return str(uuid.uuid4())


def ws_url(base_url: str, profile: WireProfile, engine: str | None, values: dict[str, Any] | None = None) -> str:
    """The WebSocket URL for ``base_url`` (http → ws, https → wss) by the profile's transport."""
    transport = profile.transport
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    path = parts.path.rstrip("/") + transport.path
    query = [(name, str(render(value, values or {}))) for name, value in transport.query]
    if engine and transport.engine_param:
        query.append((transport.engine_param, engine))
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


@dataclass
class ConnectionPlan:
    """One connection's rendered transport (``values`` hold the credential: never print them)."""

    profile: WireProfile
    values: dict[str, Any] = field(repr=False)
    cookies: dict[str, str] = field(default_factory=dict, repr=False)

    def subprotocols(self) -> list[str]:
        return [str(render(item, self.values)) for item in self.profile.transport.subprotocols]

    def headers(self) -> dict[str, str]:
        headers = {name: str(render(value, self.values)) for name, value in self.profile.transport.headers}
        if self.profile.auth.cookie and self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return headers

    def render(self, template: Any) -> Any:
        return render(template, self.values)

    def recorded(self, template: Any) -> Any:
        """``template`` rendered as the history keeps it: no credential in it."""
        return render(template, {**self.values, "token": REDACTED})

    def recorded_subprotocol(self, chosen: str | None) -> str | None:
        """The subprotocol the server picked, with the credential redacted if it echoed one."""
        if chosen is None:
            return None
        for template, rendered in zip(self.profile.transport.subprotocols, self.subprotocols()):
            if rendered == chosen:
                return str(self.recorded(template))
        return chosen
