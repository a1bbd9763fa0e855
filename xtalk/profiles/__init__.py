"""Wire profiles as data. ``get_profile(name)`` finds one by name."""

from __future__ import annotations

from xtalk.core.profile import Profile
from xtalk.profiles.netra import NETRA

PROFILES: dict[str, Profile] = {NETRA.name: NETRA}


def get_profile(name: str) -> Profile:
    from xtalk.errors import UsageError

    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(
            "a known wire profile", f"profile={name!r}", f"use one of: {', '.join(sorted(PROFILES))}"
        ) from None
