"""The nightly trend: one row per run in one store, and regressions between comparable runs.

One store for every command: ``$XTALK_TREND_DB`` when set, else ``reports/history.sqlite`` of the
current folder, whatever ``--out`` says (``default_db``). ``xtalk run`` and ``xtalk check`` append
a row each (``append_run``); ``xtalk report`` and ``xtalk trend`` read the same store. A row holds
only what a trend needs, taken from the verdict: the run id (the history's), the scenario, the
host and the profile, counts, anomalies per kind, p95 per phase, completion. Re-checking a run
with the same run id replaces its row rather than adding a second one.

Like with like: a row's *key* is (scenario, host, profile), the host being ``embedded`` for the
embedded reference backend (whose loopback port changes every run) and the URL's scheme, host and
port otherwise. ``compare(previous, current)`` names the regressions of a run against the run
before it with the same key: a worse verdict, more anomalies of a kind, a p95 that grew by more
than 20 % and 50 ms, a completion ratio 2 points lower. A run against a leaky staging host is never
a regression of the embedded runs. The thresholds are deliberately coarse: a nightly alarm must not
cry wolf over jitter.

A file written before rows had a host and a profile is migrated in place when opened (the columns
are added; its old rows read as host and profile ``unknown``, comparable among themselves).

``XTALK_TREND_DB`` may also be a ``postgresql://`` URL: a team's shared store, through the same
statements (``xtalk.report.trend_postgres``, psycopg as an optional extra).

Rows are plain dicts (``TrendRow`` keys), so the report and ``xtalk trend`` share one shape.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from xtalk.report import trend_postgres, view

SCHEMA = "xtalk.trend/2"  # /2: rows carry host and profile (a /1 file is migrated when opened)
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
    run_dir TEXT,
    host TEXT NOT NULL DEFAULT 'unknown',
    profile TEXT NOT NULL DEFAULT 'unknown'
);
CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs (scenario, seq);
"""
# Columns added since xtalk.trend/1, with their DDL for a file that lacks them.
_ADDED = {"host": "TEXT NOT NULL DEFAULT 'unknown'", "profile": "TEXT NOT NULL DEFAULT 'unknown'"}

_COLUMNS = ("seq", "run_id", "scenario", "started_at", "recorded_at", "verdict", "users", "events", "sent",
            "completed", "failed", "dropped", "unknown", "completion", "anomalies_total", "anomalies", "p95",
            "run_dir", "host", "profile")
KEY = ("scenario", "host", "profile")  # rows compared with each other share these
EMBEDDED = "embedded"


Store = Path | str  # a SQLite file, or a postgresql:// URL


def store(text: str | Path) -> Store:
    """A ``--db`` value or ``$XTALK_TREND_DB`` as a store: a URL stays a URL, anything else a path."""
    return str(text) if trend_postgres.is_url(str(text)) else Path(text)


def default_db() -> Store:
    """The one trend store: ``$XTALK_TREND_DB``, else ``reports/history.sqlite`` of the current
    folder (absolute, so a later ``chdir`` cannot split it)."""
    env = os.environ.get(ENV_DB)
    if env:
        return store(env)
    return Path.cwd() / "reports" / DEFAULT_NAME


def exists(db: Store) -> bool:
    """Whether there is a store to read (a URL is always worth asking)."""
    return trend_postgres.is_url(db) or Path(db).is_file()


#: What a store that cannot be read or written raises: the trend is skipped, never the run.
STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, *trend_postgres.errors())


def host_key(run: dict[str, Any]) -> str:
    """The host a trend row is compared on: ``embedded`` for the embedded reference backend, else
    ``scheme://host:port`` of the URL (no user, password, path or query)."""
    if run.get("backend") == EMBEDDED:
        return EMBEDDED
    host = view.as_str(run.get("host"))
    if not host:
        return "unknown"
    try:
        parts = urlsplit(host)
        netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    except ValueError:
        return host[:200]
    if not parts.scheme or not netloc:
        return host[:200]
    return f"{parts.scheme.lower()}://{netloc}"


def _migrate(connection: Any) -> None:
    if isinstance(connection, trend_postgres.PgConnection):
        have = connection.columns("runs")
    else:
        have = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    for name, ddl in _ADDED.items():
        if name not in have:
            connection.execute(f"ALTER TABLE runs ADD COLUMN {name} {ddl}")
    connection.execute("CREATE INDEX IF NOT EXISTS runs_by_key ON runs (scenario, host, profile, seq)")
    connection.execute("INSERT INTO meta (key, value) VALUES ('schema', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (SCHEMA,))
    connection.commit()


def _connect(db: Store) -> Any:
    """A ``sqlite3.Connection``, or its PostgreSQL stand-in for a URL."""
    if trend_postgres.is_url(db):
        pg = trend_postgres.PgConnection(str(db), _DDL)
        _migrate(pg)
        return pg
    # A generous busy timeout: parallel CI jobs may finish at the same moment.
    connection = sqlite3.connect(db, timeout=30.0)
    connection.executescript(_DDL)
    _migrate(connection)
    return connection


def row_from_verdict(verdict: dict[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """The trend row of a verdict (without ``seq``, which the database assigns)."""
    run = view.run_info(verdict)
    run_id = view.as_str(run.get("id"))
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
        "host": host_key(run),
        "profile": view.as_str(run.get("profile")) or "unknown",
    }


def append_run(db: Store, verdict: dict[str, Any], run_dir: Path | None = None) -> dict[str, Any]:
    """Add (or replace, for the same run id) the verdict's row; returns the row written."""
    row = row_from_verdict(verdict, run_dir)
    if not trend_postgres.is_url(db):
        Path(db).parent.mkdir(parents=True, exist_ok=True)
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


def read_runs(db: Store, scenario: str | None = None, last: int = 10) -> list[dict[str, Any]]:
    """The last ``last`` rows (of ``scenario``, or of all), oldest first, each with ``regressions``
    against the run before it with the same key (scenario, host, profile) and ``previous``, that
    run's id (None when it is the first of its key)."""
    if not exists(db) or last <= 0:
        return []
    names = ", ".join(_COLUMNS)
    with _connect(db) as connection:
        where, params = ("WHERE scenario = ?", [scenario]) if scenario is not None else ("", [])
        cursor = connection.execute(f"SELECT {names} FROM runs {where} ORDER BY seq DESC LIMIT ?", [*params, last])
        rows = [_decode(r) for r in cursor.fetchall()][::-1]
        for row in rows:
            before = connection.execute(
                f"SELECT {names} FROM runs WHERE scenario = ? AND host = ? AND profile = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT 1", [row["scenario"], row["host"], row["profile"], row["seq"]]
            ).fetchone()
            previous = _decode(before) if before is not None else None
            row["regressions"] = compare(previous, row) if previous is not None else []
            row["previous"] = previous["run_id"] if previous is not None else None
    connection.close()
    return rows


def read_scenarios(db: Store) -> list[str]:
    """Scenario names in the database, most recently run first."""
    if not exists(db):
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
