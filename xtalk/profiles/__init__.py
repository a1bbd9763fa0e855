"""Wire profiles as data: TOML files (``*.toml`` beside this module ship with xtalk).

``load_profile(ref)`` gives the validated ``WireProfile`` for a shipped profile's name
(``"netra"``) or a profile file's path, read once per process. ``get_profile(ref)`` gives its
checker part (``xtalk.core.profile.Profile``). ``shipped()`` lists the shipped names;
``resolve(ref, base_dir)`` turns a scenario's ``profile`` value into what a run folder keeps (a
shipped name, or an absolute path).
"""

from __future__ import annotations

import difflib
import os

from xtalk.core.profile import Profile
from xtalk.errors import UsageError
from xtalk.profiles.load import profile_dir, read_profile
from xtalk.profiles.model import WireProfile

DEFAULT = "netra"

_CACHE: dict[str, WireProfile] = {}


def shipped() -> list[str]:
    """The names of the profiles that ship with xtalk."""
    return sorted(name[:-5] for name in os.listdir(profile_dir()) if name.endswith(".toml"))


def _is_path(ref: str) -> bool:
    return ref.endswith((".toml", ".json")) or os.sep in ref or "/" in ref


def resolve(ref: str, base_dir: str | None = None) -> str:
    """A shipped name as it is; a path made absolute against ``base_dir`` (the scenario's folder)."""
    if not _is_path(ref):
        names = shipped()
        if ref not in names:
            guess = difflib.get_close_matches(ref, names, n=1, cutoff=0.6)
            raise UsageError("a shipped profile's name or the path of a profile file (.toml)",
                             f"profile={ref!r}", (f'did you mean "{guess[0]}"? ' if guess else "")
                             + f"shipped: {', '.join(names)}; or a path such as \"profiles/mybackend.toml\" "
                             "(docs/PROFILES.md says how to write one)")
        return ref
    return os.path.normpath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(ref)))


def load_profile(ref: str = DEFAULT) -> WireProfile:
    """The validated profile named ``ref`` (a shipped name or a file's path); cached."""
    path = os.path.join(profile_dir(), resolve(ref) + ".toml") if not _is_path(ref) else resolve(ref)
    try:
        key = f"{path}:{os.stat(path).st_mtime_ns}"  # an edited file is read again
    except OSError:
        key = path
    profile = _CACHE.get(key)
    if profile is None:
        profile = _CACHE[key] = read_profile(path)
    return profile


def get_profile(ref: str = DEFAULT) -> Profile:
    """The checker's part of the profile named ``ref``."""
    return load_profile(ref).core


__all__ = ["DEFAULT", "WireProfile", "get_profile", "load_profile", "resolve", "shipped"]
