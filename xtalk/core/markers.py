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

A marker with a character outside the token characters (``<<m-7>>``, ``alice/r1``, ``⟦a1⟧``, a
space) cannot be matched as a token: such *odd* markers are found literally instead, where one
of their prefixes occurs (a second expression over the odd markers' distinct prefixes), in the
forms a JSON line may show them (as written, and escaped as JSON does: ``\u27e6`` for a writer
that escapes non-ASCII). A history with odd markers is scanned as text. The harness's markers
are never odd, so its histories take the token path alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from xtalk.core.ids import Marker, ReqId

_TOKEN_CHARS = r"A-Za-z0-9_\-.:"
_PREFIX_LEN = 3
_TRIM = ".:-_"
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")


def _forms(marker: str) -> tuple[str, ...]:
    """How an odd marker may appear in a JSON line: as written, and JSON-escaped (with and
    without ASCII escapes for the characters beyond ASCII)."""
    return tuple(dict.fromkeys((marker, json.dumps(marker)[1:-1], json.dumps(marker, ensure_ascii=False)[1:-1])))


def _known(owner: dict[str, ReqId], token: str) -> tuple[Marker, ReqId] | None:
    """The known marker a matched token is, if any: a marker followed by punctuation that also
    counts as a token character ("... xtm-1234.") or a JSON escape is tried again trimmed."""
    req = owner.get(token)
    if req is None:
        token = token.rstrip(_TRIM)
        req = owner.get(token)
        if req is None:
            return None
    return Marker(token), req


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
        # Odd markers: prefix -> {form as it may appear: (marker, request)}, longest forms first.
        self._odd: dict[str, dict[str, tuple[Marker, ReqId]]] = {}
        self._odd_markers: dict[str, ReqId] = {}
        self._odd_pattern: re.Pattern[str] | None = None

    def __len__(self) -> int:
        return len(self._owner) + len(self._odd_markers)

    def add(self, marker: Marker, req: ReqId) -> None:
        if marker in self._owner or marker in self._odd_markers or not marker:
            return
        if not _TOKEN.fullmatch(marker):
            self._add_odd(marker, req)
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

    def _add_odd(self, marker: Marker, req: ReqId) -> None:
        self._odd_markers[marker] = req
        fresh = False
        for form in _forms(marker):
            prefix = form[:_PREFIX_LEN]
            forms = self._odd.get(prefix)
            if forms is None:
                forms = self._odd[prefix] = {}
                fresh = True
            forms[form] = (marker, req)
            self._odd[prefix] = dict(sorted(forms.items(), key=lambda kv: -len(kv[0])))
        if fresh:
            alternatives = "|".join(sorted((re.escape(p) for p in self._odd), key=len, reverse=True))
            self._odd_pattern = re.compile(f"(?:{alternatives})")

    def discard(self, marker: Marker) -> None:
        if self._owner.pop(marker, None) is not None:
            self._owner_bytes.pop(marker.encode("utf-8", "surrogatepass"), None)
        elif self._odd_markers.pop(marker, None) is not None:
            for form in _forms(marker):
                forms = self._odd.get(form[:_PREFIX_LEN])
                if forms is not None:
                    forms.pop(form, None)  # the prefix stays in the expression: it finds nothing more

    def owner(self, marker: str) -> ReqId | None:
        found = self._owner.get(marker)
        return found if found is not None else self._odd_markers.get(marker)

    def find(self, text: str) -> Iterator[tuple[Marker, ReqId]]:
        """Every known marker in ``text``, in order of appearance (repeats included)."""
        if self._odd_markers:
            yield from self._find_with_odd(text)
            return
        yield from self._find_tokens(text)

    def _find_with_odd(self, text: str) -> Iterator[tuple[Marker, ReqId]]:
        """Token markers and odd ones, merged in order of appearance."""
        found: list[tuple[int, Marker, ReqId]] = []
        if self._pattern is not None:
            owner = self._owner
            for match in self._pattern.finditer(text):
                known = _known(owner, match.group())
                if known is not None:
                    found.append((match.start(), *known))
        if self._odd_pattern is not None:
            odd = self._odd
            for match in self._odd_pattern.finditer(text):
                start = match.start()
                for form, (marker, req) in odd.get(match.group(), {}).items():
                    end = start + len(form)
                    # As for tokens: a marker glued to more token characters is another string.
                    if text.startswith(form, start) and not (
                        end < len(text) and _TOKEN.match(text, end) and _TOKEN.match(form, len(form) - 1)
                    ):
                        found.append((start, marker, req))
                        break
        found.sort(key=lambda f: f[0])
        for _, marker, req in found:
            yield marker, req

    def _find_tokens(self, text: str) -> Iterator[tuple[Marker, ReqId]]:
        if self._pattern is None:
            return
        owner = self._owner
        for token in self._pattern.findall(text):
            known = _known(owner, token)
            if known is not None:
                yield known

    def scan(self, text: str | bytes) -> tuple[tuple[Marker, ReqId], ...]:
        """The distinct known markers in a line (as text or as UTF-8 bytes), in order of first
        appearance; () while no marker is known. (Repeats add nothing: whoever reads them looks
        for the first marker that fits.)"""
        if not self._owner and not self._odd_markers:
            return ()
        if isinstance(text, str):
            return tuple(dict.fromkeys(self.find(text)))
        pattern = self._pattern_bytes if not self._odd_markers else None
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
