"""Content markers: recognise every known marker in a text with one pass over it.

Markers are learned from ``send`` records, whatever their format. They are matched as tokens
that start with a known marker prefix (runs of letters, digits, ``_``, ``-``, ``.`` and ``:``); one regular expression built from
the markers' distinct prefixes finds the candidate tokens, and a dictionary lookup names the
request. The expression is rebuilt only when a marker with a new prefix appears, so a run whose
markers share a prefix (the harness's ``xtm-``) compiles it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from xtalk.core.ids import Marker, ReqId

_TOKEN_CHARS = r"A-Za-z0-9_\-.:"
_PREFIX_LEN = 3


class MarkerIndex:
    def __init__(self) -> None:
        self._owner: dict[str, ReqId] = {}
        self._prefixes: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def __len__(self) -> int:
        return len(self._owner)

    def add(self, marker: Marker, req: ReqId) -> None:
        if marker in self._owner:
            return
        self._owner[marker] = req
        prefix = marker[:_PREFIX_LEN]
        if prefix not in self._prefixes:
            self._prefixes.add(prefix)
            alternatives = "|".join(sorted((re.escape(p) for p in self._prefixes), key=len, reverse=True))
            # No look-behind: in a JSON line a marker may follow an escape such as ``\\n``.
            self._pattern = re.compile(f"(?:{alternatives})[{_TOKEN_CHARS}]*")

    def discard(self, marker: Marker) -> None:
        self._owner.pop(marker, None)

    def owner(self, marker: str) -> ReqId | None:
        return self._owner.get(marker)

    def find(self, text: str) -> Iterator[tuple[Marker, ReqId]]:
        """Every known marker in ``text``, in order of appearance (repeats included)."""
        if self._pattern is None:
            return
        owner = self._owner
        for token in self._pattern.findall(text):
            req = owner.get(token)
            if req is None:
                # A marker followed by punctuation that also counts as a token character
                # ("... xtm-1234.") or a JSON escape: trim and try again.
                trimmed = token.rstrip(".:-_")
                req = owner.get(trimmed)
                if req is None:
                    continue
                token = trimmed
            yield Marker(token), req
