"""The nightly trend: one row per run in a SQLite file, and regressions between consecutive runs.

Every run appends a row (``append_run``) to ``reports/history.sqlite`` by default (the run
folder's parent; ``XTALK_TREND_DB`` or an explicit path overrides). A row holds only what a trend
needs, taken from the verdict: counts, anomalies per kind, p95 per phase, completion. Re-checking a
run with the same run id replaces its row rather than adding a second one.

``compare(previous, current)`` names the regressions of a run against the one before it of the
same scenario: a worse verdict, more anomalies of a kind, a p95 that grew by more than 20 % and
50 ms, a completion ratio 2 points lower. The thresholds are deliberately coarse: a nightly alarm
must not cry wolf over jitter.

Rows are plain dicts (``TrendRow`` keys), so the report and ``xtalk trend`` share one shape.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xtalk.report import view

SCHEMA = "xtalk.trend/1"
ENV_DB = "XTALK_TREND_DB"
DEFAULT_NAME = "history.sqlite"

P95_GROWTH = 0.20  # relative growth of a phase's p95 that counts as a regression ...
P95_MIN_DELTA = 0.050  # ... when it is also at least this many seconds
COMPLETION_DROP = 0.02  # absolute drop of the completion ratio
_VERDICT_RANK = {"pass": 0, "inconclusive": 1, "unknown": 1, "fail": 2}

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    started_at TEXT,
    recorded_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    users INTEGER, events INTEGER,
    sent INTEGER, completed INTEGER, failed INTEGER, dropped INTEGER, unknown INTEGER,
    completion REAL,
    anomalies_total INTEGER NOT NULL,
    anomalies TEXT NOT NULL,
    p95 TEXT NOT NULL,
    run_dir TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs (scenario, seq);
"""

_COLUMNS = ("seq", "run_id", "scenario", "started_at", "recorded_at", "verdict", "users", "events", "sent",
            "completed", "failed", "dropped", "unknown", "completion", "anomalies_total", "anomalies", "p95",
            "run_dir")


def default_db(run_dir: Path | None = None) -> Path:
    """``$XTALK_TREND_DB``, else ``history.sqlite`` beside the run folder (``reports/``)."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    return (run_dir.resolve().parent if run_dir is not None else Path("reports")) / DEFAULT_NAME


def _connect(db: Path) -> sqlite3.Connection:
    # A generous busy timeout: parallel CI jobs may finish at the same moment.
    connection = sqlite3.connect(db, timeout=30.0)
    connection.executescript(_DDL)
    connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA,))
    return connection


def row_from_verdict(verdict: dict[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """The trend row of a verdict (without ``seq``, which the database assigns)."""
    run = view.run_info(verdict)
    run_id = view.as_str(run.get("id")) or (run_dir.name if run_dir is not None else None)
    req = view.requests(verdict)
    return {
        "run_id": run_id or datetime.now(timezone.utc).strftime("run-%Y%m%dT%H%M%S.%fZ"),
        "scenario": view.scenario_name(verdict) or "adhoc",
        "started_at": view.as_str(run.get("started_at")),
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "verdict": view.verdict_word(verdict),
        "users": view.as_int(verdict.get("users")),
        "events": view.as_int(verdict.get("events")),
        **req,
        "completion": view.completion_ratio(verdict),
        "anomalies_total": view.anomaly_total(verdict),
        "anomalies": {k: v for k, v in view.anomaly_counts(verdict).items() if v is not None},
        "p95": {phase: stats["p95"] for phase, stats in view.phase_stats(verdict).items() if stats["p95"] is not None},
        "run_dir": str(run_dir) if run_dir is not None else None,
    }


def append_run(db: Path, verdict: dict[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """Add (or replace, for the same run id) the verdict's row; returns the row written."""
    row = row_from_verdict(verdict, run_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    values = {**row, "anomalies": json.dumps(row["anomalies"]), "p95": json.dumps(row["p95"])}
    names = [c for c in _COLUMNS if c != "seq"]
    with _connect(db) as connection:
        connection.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
            f" ON CONFLICT(run_id) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names if n != 'run_id')}",
            [values[n] for n in names],
        )
    connection.close()
    return row


def _decode(raw: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(_COLUMNS, raw))
    for key in ("anomalies", "p95"):
        try:
            row[key] = view.as_dict(json.loads(row[key] or "{}"))
        except ValueError:
            row[key] = {}
    return row


def read_runs(db: Path, scenario: str | None = None, last: int = 10) -> list[dict[str, Any]]:
    """The last ``last`` rows (of ``scenario``, or of all), oldest first, each with ``regressions``."""
    if not db.is_file():
        return []
    with _connect(db) as connection:
        # One more than asked, so that the oldest shown row is compared with its predecessor too.
        where, params = ("WHERE scenario = ?", [scenario]) if scenario is not None else ("", [])
        cursor = connection.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM runs {where} ORDER BY seq DESC LIMIT ?", [*params, last + 1]
        )
        rows = [_decode(r) for r in cursor.fetchall()][::-1]
    connection.close()
    previous_by_scenario: dict[str, dict[str, Any]] = {}
    for row in rows:
        before = previous_by_scenario.get(row["scenario"])
        row["regressions"] = compare(before, row) if before is not None else []
        previous_by_scenario[row["scenario"]] = row
    return rows[-last:] if last > 0 else []


def read_scenarios(db: Path) -> list[str]:
    """Scenario names in the database, most recently run first."""
    if not db.is_file():
        return []
    with _connect(db) as connection:
        names = [r[0] for r in connection.execute("SELECT scenario FROM runs GROUP BY scenario ORDER BY MAX(seq) DESC")]
    connection.close()
    return names


def compare(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable regressions of ``current`` against ``previous`` (empty: none)."""
    out: list[str] = []
    before_word, now_word = str(previous.get("verdict")), str(current.get("verdict"))
    if _VERDICT_RANK.get(now_word, 1) > _VERDICT_RANK.get(before_word, 1):
        out.append(f"verdict {before_word} → {now_word}")
    before_anomalies = view.as_dict(previous.get("anomalies"))
    for kind, count in view.as_dict(current.get("anomalies")).items():
        was = view.as_int(before_anomalies.get(kind)) or 0
        now = view.as_int(count) or 0
        if now > was:
            out.append(f"{kind} {was} → {now}")
    before_p95 = view.as_dict(previous.get("p95"))
    for phase, seconds in view.as_dict(current.get("p95")).items():
        was_s, now_s = view.as_float(before_p95.get(phase)), view.as_float(seconds)
        if was_s is None or now_s is None:
            continue
        if now_s - was_s >= P95_MIN_DELTA and now_s > was_s * (1 + P95_GROWTH):
            growth = f" (+{(now_s / was_s - 1) * 100:.0f} %)" if was_s > 0 else ""
            out.append(f"p95 {phase} {view.fmt_seconds(was_s)} → {view.fmt_seconds(now_s)}{growth}")
    was_c, now_c = view.as_float(previous.get("completion")), view.as_float(current.get("completion"))
    if was_c is not None and now_c is not None and was_c - now_c >= COMPLETION_DROP:
        out.append(f"completion {view.fmt_ratio(was_c)} → {view.fmt_ratio(now_c)}")
    return out
