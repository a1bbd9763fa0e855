"""``xtalk check`` without a scenario reads a history with the profile its meta record names."""

from __future__ import annotations

from pathlib import Path

from xtalk.history import check_files

DATA = Path(__file__).parent.parent / "data" / "chainlit"


def test_a_chainlit_history_is_checked_with_the_chainlit_profile_without_a_scenario() -> None:
    verdict = check_files([DATA / "history-takeover-2.10.0.jsonl"]).to_dict()
    assert verdict["run"]["profile"] == "chainlit"
    assert verdict["anomalies"]["cross_user_event"] > 0 and verdict["anomalies"]["phantom_event"] == 0


def test_a_history_naming_an_unknown_profile_falls_back_to_the_default(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"kind":"meta","schema":"xtalk.history/1","profile":"no-such-profile"}\n'
                       '{"kind":"end","t":1.0,"drain":0.0}\n')
    assert check_files([history]).to_dict()["run"]["profile"] == "netra"
