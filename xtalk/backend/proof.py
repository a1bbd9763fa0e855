"""Proof that the checker finds what the backend's faults do: the cases and their judgment.

``xtalk selftest`` runs one short load per ``Case`` against ``xtalk serve --fault NAME=RATE`` and
hands the run's ``verdict.json``, ground truth and history to ``judge``. A case holds when

- the fault acted (its ground truth is not empty: otherwise the run proved nothing),
- every kind in ``FAULTS[name].expected_kinds`` was reported, and one of ``any_of`` (recall),
- no kind outside the expected and incidental kinds was reported (precision), and
- for faults no checker kind describes (login answers, a slow handshake), the harness recorded
  what happened (login errors) and the run still passed, and
- for cases that turn active probes on (``probes``: the faults only a probe can reveal), the
  probes ran to their end in the history, and
- every count a case names in ``zero`` (a dotted path into verdict.json, such as
  ``requests.unknown``) is 0: what the fault must not cost (a quoted request is not lost).

The clean case is the converse: many users, no fault, and not one anomaly of any kind; the clean
probes case is the same with every probe on against a correct server (no false alarms).
Pure: no I/O here beyond what the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xtalk.backend.faults import FAULTS


@dataclass(frozen=True, slots=True)
class Case:
    fault: str | None  # None: the clean run
    rate: float = 1.0
    engine: str = "main"
    users: int = 12
    run_time: float = 4.0
    deadline: float = 4.0
    login_again: bool = False  # accounts exist before the run, so users log in (login faults)
    serve_flags: tuple[str, ...] = ()
    # [probes] settings of the run, e.g. ("expired_token = true",); () for no probes
    probes: tuple[str, ...] = ()
    # verdict.json counts that must be 0, as dotted paths ("requests.unknown")
    zero: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.fault or ("clean_probes" if self.probes else "clean")


#: Every probe, for the clean probes case: a correct server must give none of them a finding.
ALL_PROBES = ("foreign_thread = true", "spoofed_user_id = true", "connection_limit = 4",
              "expired_token = true", "reconnect_storm = 10")


# Rates are set so that the fault acts many times in a few seconds, yet most requests still
# complete (a run where nothing completes is inconclusive, not a proof).
CASES: tuple[Case, ...] = (
    Case("demo_mode", 0.3),
    Case("relaxed_identity", 1.0, "isolated"),
    Case("global_router", 0.3, "isolated"),
    Case("shared_factory", 0.3, "factory"),
    Case("bridge_fallback", 0.2, "isolated"),
    Case("stale_emitter", 0.2),
    Case("last_writer_map", 0.3),
    Case("thread_as_user", 0.15, deadline=3.0),
    Case("retry_duplicates", 0.03, deadline=5.0, serve_flags=("--retry-delays", "0.3,0.6")),
    Case("manager_push", 0.3),
    Case("drop_run", 0.15, "factory", deadline=3.0),
    Case("reorder_tools", 0.2, "isolated"),
    Case("event_after_completion", 0.2),
    Case("mixed_emitters", 0.2, "factory"),
    Case("content_bleed", 0.5, "factory"),
    # A run quoting a pending request must not cost that request its answer, nor make its own
    # run a phantom: every request answered, none lost track of.
    Case("content_bleed_inflight", 0.3, "main",
         zero=("anomalies.phantom_event", "requests.unknown", "requests.failed")),
    Case("garbage_frames", 0.15),
    Case("abrupt_close", 0.05),
    Case("login_401", 0.5, login_again=True),
    Case("login_500", 0.5, login_again=True),
    Case("slow_handshake", 0.3, serve_flags=("--slow-handshake", "1")),
    Case("refuse_1008", 0.4),
    # Only probes send what these act on: a foreign thread or user id, a forged token. The
    # spoofed request goes unanswered to its prober, who waits out the deadline: hence 6 s.
    Case("trust_client_ids", 1.0, users=8, run_time=6.0, deadline=3.0,
         probes=("foreign_thread = true", "spoofed_user_id = true")),
    # A served probe connection stays open: the probe waits 5 s for a refusal before it asks.
    Case("accept_bad_tokens", 1.0, users=8, run_time=10.0, probes=("expired_token = true",)),
)


def clean_case(users: int = 200, run_time: float = 8.0) -> Case:
    return Case(None, 0.0, "main", users, run_time, 10.0)


def clean_probes_case(users: int = 8, run_time: float = 6.0) -> Case:
    """Every probe against a correct server with no per-user limit: nothing may be reported."""
    return Case(None, 0.0, "main", users, run_time, 4.0, probes=ALL_PROBES)


@dataclass(slots=True)
class Judgment:
    case: Case
    acts: int = 0
    expected: tuple[str, ...] = ()  # all of these; "a|b" for an any-of group
    found: dict[str, int] = field(default_factory=dict)
    incidental: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    witnessed: int | None = None  # harness records that show a fault no anomaly kind names
    probes_ran: bool | None = None  # None: the case has no probes
    verdict: str = ""
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.notes

    @property
    def recall(self) -> str:
        if not self.expected:
            return "-"
        return f"{len(self.expected) - len(self.missing)}/{len(self.expected)}"


def judge(case: Case, verdict: dict[str, Any] | None, truth: list[dict[str, Any]],
          history_errors: list[dict[str, Any]], exit_code: int | None,
          probe_records: list[dict[str, Any]] | None = None) -> Judgment:
    result = Judgment(case, exit_code=exit_code)
    if verdict is None:
        result.notes.append(f"no verdict.json (xtalk run exited {exit_code})")
        return result
    if case.probes:
        result.probes_ran = any(r.get("probe") == "end" for r in probe_records or ())
        if not result.probes_ran:
            result.notes.append("the probes did not run to their end (see the run's history)")
    result.verdict = str(verdict.get("verdict", ""))
    anomalies: dict[str, int] = {k: int(v) for k, v in verdict.get("anomalies", {}).items()}
    result.found = {kind: n for kind, n in anomalies.items() if n}
    if case.fault is None:
        result.unexpected = dict(result.found)
        if result.found:
            result.notes.append("the clean run reported anomalies")
        if result.verdict != "pass":
            result.notes.append(f"the clean run's verdict is {result.verdict}, not pass")
        return result
    info = FAULTS[case.fault]
    result.acts = len(truth)
    result.expected = info.expected_kinds + (("|".join(info.any_of),) if info.any_of else ())
    wanted = set(info.expected_kinds) | set(info.any_of)
    allowed = wanted | set(info.incidental_kinds)
    result.unexpected = {k: n for k, n in result.found.items() if k not in allowed}
    result.incidental = {k: n for k, n in result.found.items() if k in allowed - wanted}
    missing = [k for k in info.expected_kinds if k not in result.found]
    if info.any_of and not any(k in result.found for k in info.any_of):
        missing.append(" or ".join(info.any_of))
    result.missing = tuple(missing)
    if not truth:
        result.notes.append("the fault never acted: run longer or raise the rate")
    if result.missing:
        result.notes.append(f"missed: {', '.join(result.missing)}")
    if result.unexpected:
        result.notes.append("unexpected: " + ", ".join(f"{k}={n}" for k, n in result.unexpected.items()))
    if case.fault in ("login_401", "login_500"):
        status = int(case.fault[-3:])
        seen = [e for e in history_errors if e.get("phase") == "login" and e.get("status") == status]
        result.witnessed = len(seen)
        if truth and not seen:
            result.notes.append(f"the harness recorded no login answered {status}")
    if case.fault == "refuse_1008":
        refused = (verdict.get("coverage") or {}).get("refused_connections", 0)
        result.witnessed = int(refused)
        if truth and not refused:
            result.notes.append("the checker counted no refused connection")
    if not wanted and result.verdict not in ("pass", "inconclusive"):
        result.notes.append(f"verdict {result.verdict} for a fault the run should absorb")
    for path in case.zero:
        count = _count(verdict, path)
        if count != 0:
            result.notes.append(f"{path} = {count}, must be 0")
    return result


def _count(verdict: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of verdict.json ("requests.unknown"); None when absent."""
    node: Any = verdict
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node
