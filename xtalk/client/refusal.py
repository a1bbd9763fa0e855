"""Is a received frame the server refusing the credentials? Read from the profile, not decided here.

The profile names what a refusal looks like (``Profile.refusal``: conditions on an error frame,
as the profile file's ``refusal`` key states them). The session client records such a frame,
beside the ``recv`` record, as an ``error`` record of phase ``auth``: a refused token is the
harness's (or the configuration's) problem, a client error, not an isolation anomaly. The preflight of
``xtalk run`` reads the same test to stop a run whose credentials the backend refuses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from xtalk.core.profile import Profile, first_str

#: Close codes with which a server refuses a connection's credentials (1008: policy violation).
REFUSAL_CLOSES = frozenset({1008})
#: HTTP answers to the WebSocket upgrade that refuse the credentials.
REFUSAL_STATUSES = frozenset({401, 403})


@lru_cache(maxsize=8)
def profile_named(name: str) -> Profile | None:
    try:
        from xtalk.profiles import get_profile

        return get_profile(name)
    except Exception:  # an unknown profile: nothing is a refusal
        return None


def refusal_detail(profile: Profile | None, frame: Any) -> str | None:
    """A short, secret-free description of the refusal ``frame`` states, or None when it is none."""
    if profile is None or not profile.refusal or not isinstance(frame, dict):
        return None
    try:
        if not all(condition.holds(frame) for condition in profile.refusal):
            return None
    except Exception:
        return None
    parts = []
    for paths in (profile.refusal[0].paths, (("error_message",), ("message",), ("data", "message"),
                                             ("payload", "message"), ("detail",))):
        value = first_str(frame, paths)
        if value and value not in parts:
            parts.append(value[:200])
    kind = first_str(frame, profile.type_path) or "frame"
    return f"{kind} " + ": ".join(parts) if parts else kind


def refusal_needle(profile: Profile | None) -> bytes | None:
    """Bytes that the JSON text of every refusal frame holds unless it has an escape (``\\``):
    the quoted value of an ``eq`` condition on a string. A received text without the needle and
    without a backslash cannot be a refusal, so most frames skip ``refusal_detail`` (a per-event
    cost). None when no condition gives one (then every frame is tested)."""
    if profile is None or not profile.refusal:
        return None
    for condition in profile.refusal:
        if condition.op == "eq" and isinstance(condition.value, str):
            quoted = orjson.dumps(condition.value)
            if b"\\" not in quoted:
                return quoted
    return None


def may_refuse(needle: bytes | None, data: bytes) -> bool:
    """False only when the text ``data`` cannot be a refusal (see ``refusal_needle``)."""
    return needle is None or needle in data or b"\\" in data
