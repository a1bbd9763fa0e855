"""write_run_outputs: the run folder's files, written atomically, and the trend row appended."""

import xml.etree.ElementTree as ET

import orjson
import pytest

from xtalk.report import outputs, samples, trend


def test_writes_verdict_report_junit_and_appends_a_trend_row(tmp_path, monkeypatch):
    monkeypatch.delenv(trend.ENV_DB, raising=False)
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "elsewhere" / "run1"  # --out anywhere: the row still goes to ./reports/
    verdict = samples.failing(run_id="run1")
    outputs.write_run_outputs(run_dir, verdict)
    assert orjson.loads((run_dir / "verdict.json").read_bytes()) == verdict
    assert (run_dir / "verdict.json").read_text().startswith('{\n  "schema"')  # indented
    assert "FAIL" in (run_dir / "report.html").read_text()
    ET.parse(run_dir / "junit.xml")
    rows = trend.read_runs(tmp_path / "reports" / "history.sqlite", "nightly_isolation")
    assert [r["run_id"] for r in rows] == ["run1"]
    assert sorted(p.name for p in run_dir.iterdir()) == ["junit.xml", "report.html", "verdict.json"]


def test_report_trend_section_includes_the_run_itself_and_earlier_runs(tmp_path):
    db = tmp_path / "t.sqlite"
    for n in range(3):
        outputs.write_run_outputs(tmp_path / f"r{n}", samples.clean(run_id=f"r{n}"), trend_db=db)
    text = (tmp_path / "r2" / "report.html").read_text()
    assert "the last 3 run(s) of this scenario" in text
    assert all(f">r{n}<" in text for n in range(3))


def test_environment_overrides_the_trend_database(tmp_path, monkeypatch):
    monkeypatch.setenv(trend.ENV_DB, str(tmp_path / "env.sqlite"))
    outputs.write_run_outputs(tmp_path / "reports" / "r", samples.clean(run_id="r"))
    assert (tmp_path / "env.sqlite").is_file()
    assert not (tmp_path / "reports" / "history.sqlite").exists()


def test_an_unwritable_trend_database_costs_the_trend_not_the_outputs(tmp_path, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    outputs.write_run_outputs(tmp_path / "r", samples.clean(), trend_db=blocker / "t.sqlite")
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "junit.xml").is_file()
    assert "could not be written" in capsys.readouterr().err


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "verdict.json"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(outputs.os, "replace", broken_replace)
    with pytest.raises(OSError):
        outputs.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]


def test_lone_surrogates_from_a_server_do_not_stop_the_report(tmp_path):
    verdict = samples.failing()
    verdict["findings"][0]["explanation"] = "bad \ud800 text"
    verdict["findings"][0]["frames"][1]["record"]["frame"]["agent_name"] = "x\udfff"
    outputs.write_reports(tmp_path, verdict, [])
    assert (tmp_path / "report.html").stat().st_size > 0
