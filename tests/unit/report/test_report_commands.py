"""The `xtalk report` and `xtalk trend` commands, through the CLI entry point."""

import orjson

from xtalk.cli import main
from xtalk.report import outputs, samples


def test_report_rerenders_html_and_junit_from_verdict_json(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "verdict.json").write_bytes(orjson.dumps(samples.failing()))
    assert main(["report", str(run_dir), "--trend-db", str(tmp_path / "t.sqlite")]) == 0
    assert "FAIL" in (run_dir / "report.html").read_text()
    assert (run_dir / "junit.xml").is_file()
    assert not (tmp_path / "t.sqlite").exists()  # re-rendering never appends to the trend
    assert "report.html" in capsys.readouterr().out


def test_report_without_verdict_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "expected a verdict.json in RUN_DIR" in err and "xtalk check" in err


def test_report_of_a_file_that_is_not_a_verdict_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "verdict.json").write_text('{"schema": "something/1"}')
    assert main(["report", str(tmp_path)]) == 3
    assert "schema='something/1'" in capsys.readouterr().err
    (tmp_path / "verdict.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 3
    assert "expected verdict.json to hold JSON" in capsys.readouterr().err


def test_report_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 3
    assert "no such folder" in capsys.readouterr().err


def test_trend_prints_runs_and_flags_regressions(tmp_path, capsys):
    db = tmp_path / "t.sqlite"
    outputs.write_run_outputs(tmp_path / "a", samples.clean(run_id="a"), trend_db=db)
    outputs.write_run_outputs(tmp_path / "b", samples.clean(run_id="b"), trend_db=db)
    outputs.write_run_outputs(tmp_path / "c", samples.failing(run_id="c"), trend_db=db)
    capsys.readouterr()
    assert main(["trend", "--db", str(db), "--scenario", "nightly_isolation"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "scenario nightly_isolation: last 3 run(s), oldest first"
    assert [line.split()[0] for line in out[2:5]] == ["a", "b", "c"]
    assert out[4].endswith("▲ regression") and not out[3].endswith("regression")
    assert "  ▲ c (against b): cross_user_event 0 → 3" in out


def test_trend_last_limits_the_rows(tmp_path, capsys):
    db = tmp_path / "t.sqlite"
    for name in "abcd":
        outputs.write_run_outputs(tmp_path / name, samples.clean(run_id=name), trend_db=db)
    capsys.readouterr()
    assert main(["trend", "--db", str(db), "--last", "2"]) == 0
    assert "last 2 run(s)" in capsys.readouterr().out


def test_trend_without_database_or_with_unknown_scenario_is_a_usage_error(tmp_path, capsys):
    assert main(["trend", "--db", str(tmp_path / "none.sqlite")]) == 3
    assert "no such file" in capsys.readouterr().err
    db = tmp_path / "t.sqlite"
    outputs.write_run_outputs(tmp_path / "a", samples.clean(run_id="a"), trend_db=db)
    capsys.readouterr()
    assert main(["trend", "--db", str(db), "--scenario", "other"]) == 3
    assert "scenarios recorded: nightly_isolation" in capsys.readouterr().err
