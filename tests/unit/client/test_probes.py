"""Active probes: what they send and record (the checker judges the answers)."""

from __future__ import annotations

from pathlib import Path

import jwt
import orjson

from xtalk.client.probes import altered_token, run_probes, wanted
from xtalk.scenario.model import Journey, Probes

from .test_session import SECRET, attach_tab, history, make, token_for
from xtalk.client.session import Session


def test_an_altered_token_keeps_its_claims_but_fails_verification() -> None:
    # Many tokens: a signature that is merely reversed is often not valid base64url any more,
    # which a lax server would reject as garbage; the probe's token must parse and only fail
    # the signature check.
    for n in range(64):
        token = token_for(f"id-{n}")
        bad = altered_token(token)
        assert bad != token and bad.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
        assert jwt.decode(bad, options={"verify_signature": False})["sub"] == f"id-{n}"
        try:
            jwt.decode(bad, SECRET, algorithms=["HS256"])
        except jwt.InvalidSignatureError:
            pass
        else:
            raise AssertionError("the altered token still verifies")


def test_only_the_probes_a_scenario_asks_for_run() -> None:
    assert wanted(Probes()) == []
    assert wanted(Probes(foreign_thread=True, reconnect_storm=3)) == ["foreign_thread", "reconnect_storm"]


def test_probes_without_two_connected_users_are_recorded_as_an_error(tmp_path: Path) -> None:
    harness, _ = make(tmp_path)
    lone = Session(harness, "u0001", 1, Journey())
    lone.login()
    attach_tab(lone)
    run_probes(harness, [lone], Probes(foreign_thread=True), sleep=lambda s: None)
    harness.recorder.close()
    error = [r for r in history(tmp_path) if r["kind"] == "error"]
    assert error and error[0]["phase"] == "probe" and "two connected users" in error[0]["detail"]


def test_foreign_thread_and_spoofed_user_probes_name_their_victim(tmp_path: Path) -> None:
    harness, _ = make(tmp_path)
    prober, victim = Session(harness, "u0001", 1, Journey()), Session(harness, "u0002", 2, Journey())
    for s in (prober, victim):
        s.login()
        s.create_thread()
        attach_tab(s)
    victim.thread = "th_victim"
    run_probes(harness, [prober, victim], Probes(foreign_thread=True, spoofed_user_id=True), sleep=lambda s: None)
    harness.recorder.close()
    sends = [r for r in history(tmp_path) if r["kind"] == "send"]
    foreign, spoofed = sends
    assert foreign["probe"] == "foreign_thread" and foreign["victim"] == "u0002"
    assert foreign["thread"] == "th_victim" and foreign["frame"]["payload"]["thread_id"] == "th_victim"
    assert spoofed["probe"] == "spoofed_user_id"
    assert victim.creds is not None
    assert spoofed["frame"]["payload"]["user_id"] == victim.creds.identity == spoofed["spoofed"]
    probe_marks = [r["probe"] for r in history(tmp_path) if r["kind"] == "probe"]
    assert probe_marks == ["start", "end"]
    assert orjson.dumps(sends)  # records stay JSON
