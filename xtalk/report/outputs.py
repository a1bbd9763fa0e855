"""Writing a run folder's outputs: ``verdict.json``, ``report.html``, ``junit.xml``, the trend row.

Each file is written atomically (a temporary file in the same folder, then ``os.replace``), so a
CI job or a browser never reads half a report, and a crash mid-write leaves the previous version.
The trend row is appended (to the one store, ``trend.default_db()``: never a file chosen by the run
folder's location) before the report is rendered, so the report's trend section includes the run
itself. A trend database that cannot be written (read-only, locked for too long) costs the
trend, never the verdict: the error is reported on stderr and the other files are still written.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from xtalk.report import trend as trend_db_module
from xtalk.report import view
from xtalk.report.html import render_report
from xtalk.report.junit import render_junit

TREND_ROWS = 10


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _text_bytes(text: str) -> bytes:
    # A lone surrogate from a server must not stop the report from being written.
    return text.encode("utf-8", "replace")


def dump_verdict(verdict: dict[str, Any]) -> bytes:
    return orjson.dumps(verdict, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"


def read_trend(db: trend_db_module.Store, verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The last runs of the verdict's scenario, or none when the database cannot be read."""
    try:
        return trend_db_module.read_runs(db, view.scenario_name(verdict) or "adhoc", TREND_ROWS)
    except trend_db_module.STORE_ERRORS as error:
        print(f"xtalk: the trend database {_shown(db)} could not be read ({error}); the report has no trend", file=sys.stderr)
        return []


def write_reports(run_dir: Path, verdict: dict[str, Any], trend: list[dict[str, Any]]) -> None:
    """``report.html`` and ``junit.xml`` only (what ``xtalk report`` re-renders)."""
    write_atomic(run_dir / "report.html", _text_bytes(render_report(verdict, trend)))
    write_atomic(run_dir / "junit.xml", _text_bytes(render_junit(verdict)))


def append_trend_row(verdict: dict[str, Any], run_dir: Path | None,
                     trend_db: trend_db_module.Store | None = None) -> trend_db_module.Store:
    """Append the verdict's row to the trend store; returns the store. A store that cannot be
    written costs the trend, never the run: the error is reported on stderr."""
    db = trend_db if trend_db is not None else trend_db_module.default_db()
    try:
        trend_db_module.append_run(db, verdict, run_dir)
    except trend_db_module.STORE_ERRORS as error:
        print(f"xtalk: the trend database {_shown(db)} could not be written ({error}); the run folder is complete",
              file=sys.stderr)
    return db


def _shown(db: trend_db_module.Store) -> str:
    """A store's name for a message: a URL without its password."""
    from xtalk.report.html import _without_userinfo

    return _without_userinfo(str(db))


def write_run_outputs(run_dir: Path, verdict: dict[str, Any], *, trend_db: trend_db_module.Store | None = None) -> None:
    """Write every output of a checked run into ``run_dir`` and append its row to the trend."""
    run_dir = Path(run_dir)
    write_atomic(run_dir / "verdict.json", dump_verdict(verdict))
    db = append_trend_row(verdict, run_dir.resolve(), trend_db)
    write_reports(run_dir, verdict, read_trend(db, verdict))
