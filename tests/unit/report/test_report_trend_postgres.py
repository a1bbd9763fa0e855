"""The trend store on PostgreSQL (``XTALK_TREND_DB=postgresql://...``): the same rows, the same
like-with-like regressions, the same migration. Runs only when a server is available: set
``XTALK_TEST_POSTGRES_URL`` to a database it may create tables in (and drop them again)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from xtalk.report import outputs, samples, trend

URL = os.environ.get("XTALK_TEST_POSTGRES_URL", "")
psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed") if URL else None
pytestmark = pytest.mark.skipif(not URL, reason="no PostgreSQL server: set XTALK_TEST_POSTGRES_URL")


@pytest.fixture
def store() -> Iterator[str]:
    """A fresh schema of the server's database, as the store's search path."""
    schema = f"xtalk_test_{uuid.uuid4().hex[:10]}"
    assert psycopg is not None
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in URL else "?"
    yield f"{URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _run(run_id: str, *, host: str | None = None, cross: int = 0) -> dict:
    v = samples.clean(run_id=run_id, scenario="nightly")
    v["run"].update({"backend": "embedded"} if host is None else {"host": host})
    if cross:
        v["verdict"] = "fail"
        v["anomalies"]["cross_user_event"] = cross
    return v


def test_rows_append_replace_and_compare_like_with_like_on_postgres(store: str) -> None:
    assert trend.store(store) == store and trend.exists(store)
    trend.append_run(store, _run("e1"))
    trend.append_run(store, _run("s1", host="https://leaky.example.com", cross=4))
    trend.append_run(store, _run("e2"))
    trend.append_run(store, _run("e2", cross=1))  # a re-check of e2 replaces its row
    rows = {r["run_id"]: r for r in trend.read_runs(store, "nightly")}
    assert list(rows) == ["e1", "s1", "e2"]
    assert rows["s1"]["regressions"] == [] and rows["s1"]["host"] == "https://leaky.example.com"
    assert rows["e2"]["previous"] == "e1" and rows["e2"]["regressions"] == [
        "verdict pass → fail", "cross_user_event 0 → 1"]
    assert trend.read_scenarios(store) == ["nightly"]


def test_a_run_folder_written_with_a_postgres_store_has_the_trend_in_its_report(store: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(trend.ENV_DB, store)
    outputs.write_run_outputs(tmp_path / "r1", _run("r1"))
    outputs.write_run_outputs(tmp_path / "r2", _run("r2"))
    assert "the last 2 run(s) of this scenario" in (tmp_path / "r2" / "report.html").read_text()


def test_an_unreachable_postgres_store_costs_the_trend_never_the_run(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(trend.ENV_DB, "postgresql://nobody:secret@127.0.0.1:1/none")
    outputs.write_run_outputs(tmp_path / "r", _run("r"))
    assert (tmp_path / "r" / "report.html").is_file()
    err = capsys.readouterr().err
    assert "could not be written" in err and "secret" not in err
