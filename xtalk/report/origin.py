"""Where a run came from, when ``xtalk shrink`` made it: a line under the report's header.

``xtalk shrink`` writes ``run.shrunk_from`` into the minimal run's verdict: the original run's
id and folder, a link to its report (a path relative to the minimal run's folder), the anomaly
kind that was kept, and the original's users and run time. This module says what that one line
shows (``templates/report.html`` renders it, autoescaped); a verdict without it shows nothing. Only a
relative path becomes a link (never a URL with a scheme, so no ``javascript:`` survives).
"""

from __future__ import annotations

import re
from typing import Any

from xtalk.report import view

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _relative_path(text: str) -> bool:
    return bool(text) and not _SCHEME.match(text) and not text.startswith(("/", "\\")) and "\\" not in text


def origin_info(verdict: dict[str, Any]) -> dict[str, Any] | None:
    """What the header's origin line shows (the template escapes it), or None when the run was
    not shrunk. ``href`` is set only for a relative path."""
    origin = view.as_dict(view.run_info(verdict).get("shrunk_from"))
    if not origin:
        return None
    report = view.as_str(origin.get("report")) or ""
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
    return {
        "run_id": view.as_str(origin.get("run_id")) or "the original run",
        "href": report if _relative_path(report) else None,
        "kind": view.as_str(origin.get("kind")),
        "facts": ", ".join(facts),
    }
