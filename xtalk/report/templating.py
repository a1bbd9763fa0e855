"""The report's Jinja2 environment: autoescape everywhere, control characters dropped.

Every value a template prints goes through ``finalize`` (control characters and lone surrogates
become U+FFFD, ``None`` prints nothing) and then through Jinja's autoescape (``&``, ``<``, ``>``,
``"`` and ``'`` escaped): safe in element content and in quoted attribute values alike. Data for the
page's script goes through Jinja's ``tojson`` (``<``, ``>``, ``&`` and ``'`` as ``\\u`` escapes), so
nothing in it can end or bend its ``<script type="application/json">`` block. No template marks
data as safe: ``tests/unit/report/test_report_escaping.py`` checks that, statically and by
rendering a verdict whose every string is a payload.

The page's CSS and script are files of this package included verbatim (``{% include %}`` of a
template without template syntax: a test checks that including them changes no byte), so the
script's hash in the Content-Security-Policy is the file's hash.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from xtalk.report.text import clean

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
ASSETS = ("report.css", "report.js")


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):  # a macro's or tojson's own output: already escaped
        return value
    if isinstance(value, str):
        return clean(value)
    return value


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(TEMPLATES), str(HERE)]),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # an included asset renders byte for byte
    )
    return env


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def script_hash() -> str:
    """The CSP hash of the script exactly as the page includes it."""
    text = environment().get_template("report.js").render()
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
