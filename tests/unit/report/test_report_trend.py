"""The trend database: rows appended per run, read per scenario, regressions against the previous."""

import sqlite3

from xtalk.report import samples, trend


def _run(run_id, *, verdict="pass", cross=0, p95=2.0, completed=238, scenario="nightly", host=None,
         profile="netra"):
    v = samples.clean(run_id=run_id, scenario=scenario)
    v["run"].update({"backend": "embedded"} if host is None else {"host": host})
    v["run"]["profile"] = profile
    v["verdict"] = verdict
    v["anomalies"]["cross_user_event"] = cross
    v["latency"]["phases"]["agent_completed"]["p95"] = p95
    v["requests"]["completed"] = completed
    return v


def test_append_then_read_returns_rows_oldest_first(tmp_path):
    db = tmp_path / "t.sqlite"
    for n in range(3):
        trend.append_run(db, _run(f"r{n}"))
    rows = trend.read_runs(db, "nightly")
    assert [r["run_id"] for r in rows] == ["r0", "r1", "r2"]
    assert rows[0]["anomalies"]["cross_user_event"] == 0
    assert rows[0]["p95"]["agent_completed"] == 2.0
    assert rows[0]["sent"] == 240 and abs(rows[0]["completion"] - 238 / 238) < 1e-9


def test_appending_the_same_run_id_replaces_its_row(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, _run("r0"))
    trend.append_run(db, _run("r0", cross=2, verdict="fail"))
    rows = trend.read_runs(db, "nightly")
    assert len(rows) == 1 and rows[0]["anomalies_total"] == 2


def test_runs_of_other_scenarios_are_kept_apart(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, _run("a1", scenario="a"))
    trend.append_run(db, _run("b1", scenario="b", cross=5, verdict="fail"))
    trend.append_run(db, _run("a2", scenario="a"))
    assert [r["run_id"] for r in trend.read_runs(db, "a")] == ["a1", "a2"]
    assert trend.read_runs(db, "a")[-1]["regressions"] == []
    assert trend.read_scenarios(db) == ["a", "b"]


def test_last_limits_rows_but_still_flags_the_oldest_shown_against_its_predecessor(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, _run("r0"))
    trend.append_run(db, _run("r1", cross=1, verdict="fail"))
    trend.append_run(db, _run("r2", cross=1, verdict="fail"))
    rows = trend.read_runs(db, "nightly", last=2)
    assert [r["run_id"] for r in rows] == ["r1", "r2"]
    assert rows[0]["regressions"] == ["verdict pass → fail", "cross_user_event 0 → 1"]
    assert rows[1]["regressions"] == []


def test_p95_growth_beyond_20_percent_and_50_ms_is_a_regression():
    before = trend.row_from_verdict(_run("a", p95=2.0))
    assert trend.compare(before, trend.row_from_verdict(_run("b", p95=2.5))) == [
        "p95 agent_completed 2.00 s → 2.50 s (+25 %)"]
    assert trend.compare(before, trend.row_from_verdict(_run("b", p95=2.3))) == []


def test_small_absolute_p95_growth_is_not_a_regression():
    started_before = trend.row_from_verdict(_run("a"))
    after = trend.row_from_verdict(_run("b"))
    started_before["p95"]["agent_started"] = 0.010
    after["p95"]["agent_started"] = 0.030  # +200 % but only 20 ms
    assert trend.compare(started_before, after) == []


def test_completion_drop_of_two_points_is_a_regression():
    before = trend.row_from_verdict(_run("a", completed=238))
    after = trend.row_from_verdict(_run("b", completed=230))
    assert trend.compare(before, after) == ["completion 100.0 % → 96.6 %"]


def test_better_run_has_no_regressions():
    before = trend.row_from_verdict(_run("a", cross=3, verdict="fail", p95=3.0))
    assert trend.compare(before, trend.row_from_verdict(_run("b"))) == []


def test_reading_a_missing_database_gives_no_rows(tmp_path):
    assert trend.read_runs(tmp_path / "none.sqlite", "x") == []


def test_database_records_its_schema(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, _run("r0"))
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("xtalk.trend/2",)
    connection.close()


def test_default_db_is_reports_history_sqlite_of_the_current_folder_whatever_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(trend.ENV_DB, raising=False)
    monkeypatch.chdir(tmp_path)
    assert trend.default_db() == tmp_path / "reports" / "history.sqlite"
    monkeypatch.setenv(trend.ENV_DB, str(tmp_path / "elsewhere.sqlite"))
    assert trend.default_db() == tmp_path / "elsewhere.sqlite"


def test_a_verdict_without_run_info_still_gets_a_row_named_by_the_time_not_by_its_folder(tmp_path):
    row = trend.append_run(tmp_path / "t.sqlite", {}, tmp_path / "run-x")
    assert row["run_id"].startswith("run-2") and row["scenario"] == "adhoc" and row["verdict"] == "unknown"
    assert row["host"] == "unknown" and row["profile"] == "unknown"


def test_rows_carry_host_and_profile_and_the_embedded_backend_is_one_host_whatever_its_port(tmp_path):
    db = tmp_path / "t.sqlite"
    embedded = _run("e1")
    embedded["run"]["host"] = "http://127.0.0.1:41234"  # the embedded backend's port of that run
    trend.append_run(db, embedded)
    trend.append_run(db, _run("s1", host="https://User:pw@Staging.example.com/api?x=1"))
    rows = {r["run_id"]: r for r in trend.read_runs(db, "nightly")}
    assert rows["e1"]["host"] == "embedded" and rows["e1"]["profile"] == "netra"
    assert rows["s1"]["host"] == "https://staging.example.com"  # no password, path or query


def test_regressions_compare_like_with_like_same_scenario_host_and_profile(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, _run("e1"))
    trend.append_run(db, _run("leaky1", host="https://leaky.example.com", cross=9, verdict="fail"))
    trend.append_run(db, _run("e2"))  # embedded again, clean: no regression against e1
    trend.append_run(db, _run("leaky2", host="https://leaky.example.com", cross=9, verdict="fail"))
    trend.append_run(db, _run("c1", profile="chainlit", cross=1, verdict="fail"))  # first of its profile
    rows = {r["run_id"]: r for r in trend.read_runs(db, "nightly")}
    assert rows["leaky1"]["regressions"] == [] and rows["leaky1"]["previous"] is None
    assert rows["e2"]["regressions"] == [] and rows["e2"]["previous"] == "e1"
    assert rows["leaky2"]["regressions"] == [] and rows["leaky2"]["previous"] == "leaky1"
    assert rows["c1"]["regressions"] == [] and rows["c1"]["previous"] is None
    trend.append_run(db, _run("e3", cross=1, verdict="fail"))
    assert trend.read_runs(db, "nightly")[-1]["regressions"] == ["verdict pass → fail", "cross_user_event 0 → 1"]


def test_an_old_trend_file_without_host_and_profile_is_migrated_in_place(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as connection:  # the xtalk.trend/1 layout
        connection.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema', 'xtalk.trend/1');
            CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,
                scenario TEXT NOT NULL, started_at TEXT, recorded_at TEXT NOT NULL, verdict TEXT NOT NULL,
                users INTEGER, events INTEGER, sent INTEGER, completed INTEGER, failed INTEGER,
                dropped INTEGER, unknown INTEGER, completion REAL, anomalies_total INTEGER NOT NULL,
                anomalies TEXT NOT NULL, p95 TEXT NOT NULL, run_dir TEXT);
            INSERT INTO runs (run_id, scenario, recorded_at, verdict, anomalies_total, anomalies, p95)
                VALUES ('old1', 'nightly', '2025-01-01T00:00:00+00:00', 'pass', 0, '{}', '{}');
        """)
    connection.close()
    trend.append_run(db, _run("new1"))
    rows = trend.read_runs(db, "nightly")
    assert [(r["run_id"], r["host"], r["profile"]) for r in rows] == [
        ("old1", "unknown", "unknown"), ("new1", "embedded", "netra")]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("xtalk.trend/2",)
    connection.close()
