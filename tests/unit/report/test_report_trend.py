"""The trend database: rows appended per run, read per scenario, regressions against the previous."""

import sqlite3

from xtalk.report import samples, trend


def _run(run_id, *, verdict="pass", cross=0, p95=2.0, completed=238, scenario="nightly"):
    v = samples.clean(run_id=run_id, scenario=scenario)
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
        assert connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("xtalk.trend/1",)
    connection.close()


def test_default_db_is_beside_the_run_folder_unless_the_environment_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv(trend.ENV_DB, raising=False)
    assert trend.default_db(tmp_path / "reports" / "run1") == (tmp_path / "reports" / "history.sqlite").resolve()
    monkeypatch.setenv(trend.ENV_DB, str(tmp_path / "elsewhere.sqlite"))
    assert trend.default_db(tmp_path / "reports" / "run1") == tmp_path / "elsewhere.sqlite"


def test_a_verdict_without_run_info_still_gets_a_row(tmp_path):
    row = trend.append_run(tmp_path / "t.sqlite", {}, tmp_path / "run-x")
    assert row["run_id"] == "run-x" and row["scenario"] == "adhoc" and row["verdict"] == "unknown"
