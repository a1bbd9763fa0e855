"""A sweep's levels: per run and per level, the requests, the leaked requests, the overlapping pairs.

A request *leaked* when at least one of its events, or its content marker, reached another user:
the checker found a ``cross_user_event`` or a ``cross_user_content`` whose ``req`` is that
request (the owner's request, which the finding names). Findings without a ``req`` (an event
tied to its owner only by a user or thread id, with no request of the owner to bind it to) are
counted once per (owner, run id), a run being one request's answer. Counted from the verdict's
findings; when they are capped (100 kept per kind) and so cannot name every leaked request, the
run's history is checked again offline with the cap raised to the exact number of leak findings
(``recount``), so that the count stays exact; only if that fails is the figure a lower bound,
shown as "≥". A run can never leak more requests than it sent: the count is capped at ``sent``.

The leak rate of a level is leaked / sent over all its runs, with a 95 % Wilson interval. The
*onset* is the smallest level with any leaked request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xtalk.sweep.wilson import wilson_interval

LEAK_KINDS: tuple[str, ...] = ("cross_user_event", "cross_user_content")


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def leak_keys(findings: Iterable[Any]) -> set[str]:
    """One key per leaked request among these findings."""
    keys: set[str] = set()
    for finding in findings:
        if not isinstance(finding, dict) or finding.get("kind") not in LEAK_KINDS:
            continue
        req = finding.get("req")
        if isinstance(req, str) and req:
            keys.add(f"req {req}")
        elif finding.get("run_id"):
            keys.add(f"run {finding.get('owner')} {finding.get('run_id')}")
        else:
            keys.add(f"event {finding.get('owner')} {finding.get('witness')}")
    return keys


def leak_findings(verdict: dict[str, Any]) -> int:
    """The exact number of leak findings (the verdict's counts never cap)."""
    anomalies = verdict.get("anomalies")
    return sum(_int(anomalies.get(k)) for k in LEAK_KINDS) if isinstance(anomalies, dict) else 0


def leaked_requests(verdict: dict[str, Any]) -> tuple[int, bool]:
    """(leaked requests, exact?) from a verdict's findings alone."""
    findings = verdict.get("findings")
    findings = findings if isinstance(findings, list) else []
    kept = sum(1 for f in findings if isinstance(f, dict) and f.get("kind") in LEAK_KINDS)
    return len(leak_keys(findings)), kept >= leak_findings(verdict)


def recount(run_dir: Path, verdict: dict[str, Any]) -> int | None:
    """Leaked requests re-counted from the run's history with every leak finding kept, or None
    when the history or the scenario cannot be re-checked."""
    try:
        from xtalk.history import check_lines, config_for, merged_lines
        from xtalk.scenario.load import load_scenario

        histories = sorted(run_dir.glob("history*.jsonl"))
        if not histories:
            return None
        scenario = load_scenario(str(run_dir / "scenario.json"), check_env=False)
        config = dataclasses.replace(config_for(scenario), findings_cap=max(leak_findings(verdict), 1))
        again = check_lines(merged_lines(histories), config).to_dict()
    except Exception:  # a recount that cannot run leaves a lower bound, never a crash
        return None
    count, exact = leaked_requests(again)
    return count if exact else None


@dataclass(frozen=True, slots=True)
class LevelRun:
    """One run of a level."""

    users: int
    repeat: int
    run_dir: Path
    code: int
    seconds: float
    verdict: str  # pass / fail / inconclusive, or "error"
    sent: int = 0
    leaked: int = 0
    exact: bool = True
    overlapping_pairs: int = 0
    error: str | None = None


def level_run(users: int, repeat: int, run_dir: Path, code: int, seconds: float,
              verdict: dict[str, Any] | None, error: str | None = None) -> LevelRun:
    if verdict is None:
        return LevelRun(users, repeat, run_dir, code, seconds, "error", error=error or "no verdict")
    requests = verdict.get("requests")
    sent = _int(requests.get("sent")) if isinstance(requests, dict) else 0
    coverage = verdict.get("coverage")
    pairs = _int(coverage.get("overlapping_user_pairs")) if isinstance(coverage, dict) else 0
    leaked, exact = leaked_requests(verdict)
    if not exact:
        again = recount(run_dir, verdict)
        if again is not None:
            leaked, exact = again, True
    return LevelRun(users, repeat, run_dir, code, seconds, str(verdict.get("verdict")), sent, min(leaked, sent),
                    exact, pairs)


@dataclass(frozen=True, slots=True)
class Level:
    users: int
    runs: tuple[LevelRun, ...] = field(default_factory=tuple)

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.runs)

    @property
    def leaked(self) -> int:
        return sum(r.leaked for r in self.runs)

    @property
    def exact(self) -> bool:
        return all(r.exact for r in self.runs)

    @property
    def rate(self) -> float | None:
        return self.leaked / self.sent if self.sent else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.leaked, self.sent)

    @property
    def pairs(self) -> tuple[int, int]:
        values = [r.overlapping_pairs for r in self.runs if r.verdict != "error"] or [0]
        return min(values), max(values)

    @property
    def verdicts(self) -> list[str]:
        return [r.verdict for r in self.runs]

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.runs if r.error]


def group(runs: Iterable[LevelRun]) -> list[Level]:
    by_users: dict[int, list[LevelRun]] = {}
    for run in runs:
        by_users.setdefault(run.users, []).append(run)
    return [Level(users, tuple(sorted(rs, key=lambda r: r.repeat))) for users, rs in sorted(by_users.items())]


def onset(levels: Sequence[Level]) -> int | None:
    """The smallest level with any leaked request."""
    return next((level.users for level in levels if level.leaked > 0), None)


def onset_line(levels: Sequence[Level]) -> str:
    found = onset(levels)
    if found is not None:
        return f"onset: {found} users"
    top = max((level.users for level in levels), default=0)
    return f"onset: none up to {top} users"
