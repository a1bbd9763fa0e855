"""Active probes (``scenarios/probes.toml``) end to end: a correct server passes them, a server
that gives a probe the wrong answer is found.

The reference backend runs in this process (``BackendThread``) so that a test can make it
misbehave the way a probe targets, by replacing one of its methods for the test's duration:
a server that takes a token's claims without checking the signature; one that runs a request
in whatever thread the client names; one that takes
``user_id`` from the request payload (NETRA_PROTOCOL §5: "one engine path takes user_id and
thread_id from the client"; the reference backend has no such path, so the test makes one).
Locust runs as ``xtalk run --host`` in a subprocess, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from xtalk.backend.config import BackendConfig
from xtalk.backend.directory import Directory
from xtalk.backend.engines import AgentService
from xtalk.backend.server import BackendThread
from xtalk.backend.tokens import Claims, TokenIssuer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROBES = ROOT / "scenarios" / "probes.toml"
SECRET = "probe-test-secret-0123456789abcdef0123"


@pytest.fixture
def backend() -> Iterator[BackendThread]:
    with BackendThread(BackendConfig(jwt_secret=SECRET)) as running:
        yield running


def run_probes(tmp_path: Path, host: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any],
                                                    list[dict[str, Any]]]:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(PROBES), "--host", host, "--users", "4",
                           "--run-time", "3s", "--out", str(out)],
                          capture_output=True, text=True, timeout=150, cwd=tmp_path,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert (out / "verdict.json").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    return proc, verdict, history


def why(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"


def test_a_correct_server_passes_every_probe_and_its_refusals_are_expected(tmp_path: Path,
                                                                          backend: BackendThread) -> None:
    proc, verdict, history = run_probes(tmp_path, backend.url)
    assert proc.returncode == 0 and verdict["verdict"] == "pass", why(proc)
    assert verdict["anomalies"]["probe_violation"] == 0 and verdict["anomalies"]["protocol_error"] == 0

    start = next(r for r in history if r["kind"] == "probe" and r["probe"] == "start")
    assert start["probes"] == ["foreign_thread", "spoofed_user_id", "connection_limit", "expired_token",
                               "reconnect_storm"]
    assert any(r["kind"] == "probe" and r["probe"] == "end" for r in history)
    probe_sends = {r["probe"] for r in history if r["kind"] == "send" and r.get("probe")}
    assert {"foreign_thread", "spoofed_user_id", "connection_limit"} <= probe_sends
    spoof = next(r for r in history if r["kind"] == "send" and r.get("probe") == "spoofed_user_id")
    victim_identity = next(r["identity"] for r in history if r["kind"] == "login" and r["user"] == start["victim"])
    assert spoof["frame"]["payload"]["user_id"] == victim_identity

    # The expired (here: re-signed) token: accepted, then AUTH_FAILED and a 1008 close by the
    # server; the open record carries expect="refusal", so that answer is no protocol_error.
    expired = next(r for r in history if r["kind"] == "open" and r.get("probe") == "expired_token")
    assert expired["expect"] == "refusal"
    on_it = [r for r in history if r.get("conn") == expired["conn"] and r["kind"] in ("recv", "close")]
    assert on_it[0]["frame"]["error_code"] == "AUTH_FAILED"
    assert (on_it[-1]["kind"], on_it[-1]["code"], on_it[-1]["by"]) == ("close", 1008, "server")
    storm = [r for r in history if r["kind"] == "open" and r.get("probe") == "reconnect_storm"]
    assert len(storm) == 20


def test_a_server_that_serves_a_token_it_cannot_verify_is_a_probe_violation(
        tmp_path: Path, backend: BackendThread, monkeypatch: pytest.MonkeyPatch) -> None:
    def lax_verify(self: TokenIssuer, token: str, token_type: str = "access") -> Claims:
        claims = jwt.decode(token, options={"verify_signature": False})  # the bug: no signature check
        return Claims(sub=str(claims["sub"]), email=str(claims.get("email", "")),
                      token_type=str(claims.get("token_type", "access")), exp=float(claims.get("exp", 0)))

    monkeypatch.setattr(TokenIssuer, "verify", lax_verify)
    proc, verdict, history = run_probes(tmp_path, backend.url)
    assert proc.returncode == 1 and verdict["verdict"] == "fail", why(proc)
    assert verdict["anomalies"]["probe_violation"] >= 1, why(proc)
    finding = next(f for f in verdict["findings"] if f["kind"] == "probe_violation")
    expired = next(r for r in history if r["kind"] == "open" and r.get("probe") == "expired_token")
    assert finding["conn"] == expired["conn"] and "expired_token" in finding["explanation"]


def test_a_server_that_takes_user_id_from_the_payload_is_caught_by_the_spoofed_user_id_probe(
        tmp_path: Path, backend: BackendThread, monkeypatch: pytest.MonkeyPatch) -> None:
    original = AgentService.start

    async def trusting_start(self: AgentService, conn: Any, message: dict[str, Any]) -> Any:
        payload = message.get("payload") if isinstance(message.get("payload"), dict) else message
        spoofed = payload.get("user_id")
        if not isinstance(spoofed, str) or spoofed == conn.user_id:
            return await original(self, conn, message)
        real, conn.user_id = conn.user_id, spoofed  # the bug: the client says who it is
        try:
            return await original(self, conn, message)
        finally:
            conn.user_id = real

    monkeypatch.setattr(AgentService, "start", trusting_start)
    proc, verdict, history = run_probes(tmp_path, backend.url)
    assert proc.returncode == 1 and verdict["verdict"] == "fail", why(proc)
    spoof = next(r for r in history if r["kind"] == "send" and r.get("probe") == "spoofed_user_id")
    # The probe's own answer carries the victim's identity: found as another user's event.
    caught = [f for f in verdict["findings"]
              if f["kind"] in ("cross_user_event", "identity_mismatch") and f.get("conn") == spoof["conn"]]
    assert caught, why(proc)
    assert verdict["anomalies"]["probe_violation"] == 0  # the expired token was still refused


def test_a_server_that_runs_a_request_in_another_users_thread_is_caught_by_the_foreign_thread_probe(
        tmp_path: Path, backend: BackendThread, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Directory.resolve_thread

    def any_thread(self: Directory, user_id: str, requested: str | None) -> str:
        if requested and requested in self._thread_owner:  # the bug: no ownership check
            return requested
        return original(self, user_id, requested)

    monkeypatch.setattr(Directory, "resolve_thread", any_thread)
    proc, verdict, history = run_probes(tmp_path, backend.url)
    assert proc.returncode == 1 and verdict["verdict"] == "fail", why(proc)
    probe = next(r for r in history if r["kind"] == "send" and r.get("probe") == "foreign_thread")
    caught = [f for f in verdict["findings"] if f["kind"] == "cross_user_event" and f.get("conn") == probe["conn"]]
    assert caught, why(proc)
    assert probe["thread"] in caught[0]["explanation"]
