"""The terminal summary printed at the end of ``xtalk run`` and ``xtalk check``.

Short and plain: one verdict line, the counts a reader checks first, the non-zero anomaly counts,
the failed thresholds, the first finding's explanation and, for an inconclusive run, why and what
would make it conclusive. Server text is stripped of control characters (no escape sequences reach
a CI log) and long lines are cut.
"""

from __future__ import annotations

from typing import Any

from xtalk.report import view
from xtalk.report.text import plain

_EXPLANATION_LINES = 12
_LINE = 160


def _verdict_line(verdict: dict[str, Any]) -> str:
    word = view.verdict_word(verdict)
    total = view.anomaly_total(verdict)
    failed = [t for t in view.thresholds(verdict) if t.ok is False]
    parts = []
    if total:
        parts.append(f"{total:,} anomal{'y' if total == 1 else 'ies'}")
    if failed:
        parts.append(f"{len(failed)} threshold{'s' if len(failed) != 1 else ''} failed")
    if word == "inconclusive":
        reason, _ = view.inconclusive(verdict)
        parts.append(plain(reason or "nothing could be concluded", _LINE))
    elif word == "pass":
        parts.append("users stayed isolated")
    tail = f": {'; '.join(parts)}" if parts else ""
    return f"xtalk verdict: {word.upper()}{tail}"


def format_summary(verdict: dict[str, Any]) -> str:
    """The summary as text (no trailing newline)."""
    lines = [_verdict_line(verdict)]
    req = view.requests(verdict)
    counts = [f"{key} {view.fmt_num(req[key])}" for key in ("sent", "completed", "failed", "dropped", "unknown")
              if req[key] is not None]
    if counts:
        lines.append("  requests   " + " · ".join(counts))
    coverage = view.as_dict(verdict.get("coverage"))
    facts = [f"users {view.fmt_num(verdict.get('users'))}", f"events {view.fmt_num(verdict.get('events'))}"]
    if view.as_int(coverage.get("overlapping_user_pairs")) is not None:
        facts.append(f"overlapping user pairs {view.fmt_num(coverage.get('overlapping_user_pairs'))}")
    lines.append("  coverage   " + " · ".join(facts))
    nonzero = [f"{kind} {count:,}" for kind, count in view.anomaly_counts(verdict).items() if count]
    if nonzero:
        lines.append("  anomalies  " + " · ".join(plain(n, 60) for n in nonzero))
    for threshold in view.thresholds(verdict):
        if threshold.ok is False:
            lines.append(
                f"  threshold  {plain(threshold.name, 60)} failed: observed {plain(threshold.observed, 30)},"
                f" limit {plain(threshold.limit, 30)}"
            )
    if view.verdict_word(verdict) == "inconclusive":
        reason, advice = view.inconclusive(verdict)
        if reason:
            lines.append("  why        " + plain(reason, _LINE))
        if advice:
            lines.append("  to fix     " + plain(advice, _LINE))
    elif view.verdict_word(verdict) == "fail":
        for reason in view.reasons(verdict)[:3]:
            lines.append("  why        " + plain(reason, _LINE))
    first = next(iter(view.findings(verdict)), None)
    if first is not None:
        explanation = plain(first.get("explanation") or "").strip().splitlines()
        if explanation:
            lines.append("  first finding:")
            lines.extend("    " + plain(line, _LINE) for line in explanation[:_EXPLANATION_LINES])
            if len(explanation) > _EXPLANATION_LINES:
                lines.append("    …")
        else:
            lines.append(f"  first finding: {plain(first.get('kind'), 40)} (no explanation recorded)")
    return "\n".join(lines)
