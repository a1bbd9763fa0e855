"""Where a run came from, when ``xtalk shrink`` made it: a line under the report's header.

``xtalk shrink`` writes ``run.shrunk_from`` into the minimal run's verdict: the original run's
id and folder, a link to its report (a path relative to the minimal run's folder), the anomaly
kind that was kept, and the original's users and run time. This module renders that one line
and nothing else; a verdict without it renders nothing. Everything in it is escaped, and only a
relative path becomes a link (never a URL with a scheme, so no ``javascript:`` survives).
"""

from __future__ import annotations

import re
from typing import Any

from xtalk.report import view
from xtalk.report.text import esc

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _relative_path(text: str) -> bool:
    return bool(text) and not _SCHEME.match(text) and not text.startswith(("/", "\\")) and "\\" not in text


def origin_html(verdict: dict[str, Any]) -> str:
    origin = view.as_dict(view.run_info(verdict).get("shrunk_from"))
    if not origin:
        return ""
    run_id = view.as_str(origin.get("run_id")) or "the original run"
    report = view.as_str(origin.get("report")) or ""
    link = f'<a href="{esc(report)}">{esc(run_id)}</a>' if _relative_path(report) else esc(run_id)
    facts = []
    users = view.as_int(origin.get("users"))
    run_time = view.as_float(origin.get("run_time"))
    if users is not None:
        facts.append(f"{users:,} users")
    if run_time is not None:
        facts.append(f"{run_time:g} s of load")
    folder = view.as_str(origin.get("run_dir"))
    if folder:
        facts.append(f"folder {folder}")
    kind = view.as_str(origin.get("kind"))
    what = f"Minimal reproducer of <code>{esc(kind)}</code>" if kind else "Minimal reproducer"
    tail = f" ({esc(', '.join(facts))})" if facts else ""
    return (f'<p class="origin" id="shrunk-from">{what}, shrunk by <code>xtalk shrink</code> '
            f"from run {link}{tail}.</p>")
