"""Content markers: recognise every known marker in a text with one pass over it.

Markers are learned from ``send`` records, whatever their format. They are matched as tokens
that start with a known marker prefix (runs of letters, digits, ``_``, ``-``, ``.`` and ``:``); one regular expression built from
the markers' distinct prefixes finds the candidate tokens, and a dictionary lookup names the
request. The expression is rebuilt only when a marker with a new prefix appears, so a run whose
markers share a prefix (the harness's ``xtm-``) compiles it once.

A history line may be scanned as text or as the bytes it was read as (``scan``): when every
prefix is ASCII, the same expression over the UTF-8 bytes finds the same tokens (token
characters are ASCII, and no byte of a multi-byte character is one), so the line need not be
decoded; otherwise the bytes are decoded first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from xtalk.core.ids import Marker, ReqId

_TOKEN_CHARS = r"A-Za-z0-9_\-.:"
_PREFIX_LEN = 3
_TRIM = ".:-_"


class MarkerIndex:
    def __init__(self) -> None:
        # No ``prefix in line`` test before the expression: measured on the bench's history it
        # costs as much as the expression itself (0.6-0.9 us a line) and most agent lines carry
        # a marker, so it only pays on lines without one.
        self._owner: dict[str, ReqId] = {}
        self._owner_bytes: dict[bytes, ReqId] = {}
        self._prefixes: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._pattern_bytes: re.Pattern[bytes] | None = None  # None while a prefix is not ASCII

    def __len__(self) -> int:
        return len(self._owner)

    def add(self, marker: Marker, req: ReqId) -> None:
        if marker in self._owner:
            return
        self._owner[marker] = req
        self._owner_bytes[marker.encode("utf-8", "surrogatepass")] = req
        prefix = marker[:_PREFIX_LEN]
        if prefix not in self._prefixes:
            self._prefixes.add(prefix)
            alternatives = "|".join(sorted((re.escape(p) for p in self._prefixes), key=len, reverse=True))
            # No look-behind: in a JSON line a marker may follow an escape such as ``\\n``.
            self._pattern = re.compile(f"(?:{alternatives})[{_TOKEN_CHARS}]*")
            ascii_only = all(p.isascii() for p in self._prefixes)
            self._pattern_bytes = re.compile(self._pattern.pattern.encode("ascii")) if ascii_only else None

    def discard(self, marker: Marker) -> None:
        if self._owner.pop(marker, None) is not None:
            self._owner_bytes.pop(marker.encode("utf-8", "surrogatepass"), None)

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
                trimmed = token.rstrip(_TRIM)
                req = owner.get(trimmed)
                if req is None:
                    continue
                token = trimmed
            yield Marker(token), req

    def scan(self, text: str | bytes) -> tuple[tuple[Marker, ReqId], ...]:
        """The distinct known markers in a line (as text or as UTF-8 bytes), in order of first
        appearance; () while no marker is known. (Repeats add nothing: whoever reads them looks
        for the first marker that fits.)"""
        if not self._owner:
            return ()
        if isinstance(text, str):
            return tuple(dict.fromkeys(self.find(text)))
        pattern = self._pattern_bytes
        if pattern is None:
            return tuple(dict.fromkeys(self.find(text.decode("utf-8", "replace"))))
        tokens = pattern.findall(text)
        if not tokens:
            return ()
        owner = self._owner_bytes
        if len(tokens) == 1:  # one token, as the loop below would take it
            token = tokens[0]
            req = owner.get(token)
            if req is None:
                token = token.rstrip(b".:-_")
                req = owner.get(token)
                if req is None:
                    return ()
            return ((Marker(token.decode("ascii")), req),)
        found: dict[tuple[Marker, ReqId], None] = {}
        for token in dict.fromkeys(tokens) if len(tokens) > 1 else tokens:
            req = owner.get(token)
            if req is None:
                token = token.rstrip(b".:-_")
                req = owner.get(token)
                if req is None:
                    continue
            found[(Marker(token.decode("ascii")), req)] = None
        return tuple(found)
