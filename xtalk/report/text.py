"""Making untrusted text safe for the place it lands: HTML, JSON inside a page, XML, a terminal.

Every string in a verdict may have come from the server under test (frames, agent names, user ids,
explanations quoting them). The invariants:

- ``esc`` is how the SVG chart code (the one part of report.html not built from autoescaped
  templates) writes text: ``html.escape(quote=True)`` after dropping control characters, so it is
  safe in element content and in quoted attribute values alike. Templates use ``clean`` through
  the environment's ``finalize`` and Jinja's autoescape (``xtalk.report.templating``).
- ``xml_text`` keeps only characters XML 1.0 allows (JUnit consumers reject the others).
- ``plain`` keeps terminal output free of escape sequences (an ESC from a server could repaint a
  CI log).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

# C0 controls except tab, newline and carriage return; DEL and C1 controls; lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What XML 1.0 forbids outright (its Char production), beyond the controls above.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(value: object) -> str:
    """Any value as text without control characters (tab and newlines kept)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return _CONTROL.sub("\ufffd", text)


def esc(value: object) -> str:
    """Text for HTML element content or a double- or single-quoted attribute value."""
    return html.escape(clean(value), quote=True)


def plain(value: object, limit: int | None = None) -> str:
    """Text for a terminal: no control characters (so no ANSI escapes), optionally shortened."""
    text = clean(value).replace("\ufffd", "?")
    if limit is not None and len(text) > limit:
        return text[: max(0, limit - 1)] + "…"
    return text


def xml_text(value: object) -> str:
    """Text that XML 1.0 accepts (escaping itself is the serialiser's job)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return _XML_FORBIDDEN.sub("\ufffd", text)


def pretty_json(data: Any) -> str:
    """A record or frame as indented JSON for a ``<pre>`` (escape it with ``esc`` afterwards)."""
    try:
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str)
    except (TypeError, ValueError):
        return repr(data)
