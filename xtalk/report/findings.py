"""The evidence sections: the first failure's witness, all findings (grouped, capped, searchable),
the incidents and the requests whose outcome is unknown, as plain values for the templates.

A finding renders as its explanation (Let / Then / Likely causes, as the checker wrote it) and the
witness records exactly as recorded, each headed by its history line. The records come from the
server and the wire; they are shown as indented JSON text (``findings.html`` prints them through
autoescape), never interpreted. Findings are ``<details>`` elements, so they open and close
without JavaScript; the search box only hides non-matching ones (and is itself hidden when
scripts do not run).
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from xtalk.report import view
from xtalk.report.text import pretty_json

MAX_FINDINGS = 500
MAX_FRAMES = 8
MAX_FRAME_CHARS = 8_000
MAX_UNKNOWNS = 500
MAX_INCIDENTS = 500
MAX_WITNESS_LINES = 12
# Raw frames are most of a big report's size: past this many characters of frames, further
# findings show their explanation and history lines only (the report stays under 10 MB).
FRAME_BUDGET = 5_000_000


class Budget:
    """Characters of raw frames the page may still hold."""

    def __init__(self, chars: int = FRAME_BUDGET) -> None:
        self.left = chars


def _facts(finding: dict[str, Any]) -> list[tuple[str, str]]:
    facts = []
    for label, key in (("receiver", "user"), ("owner", "owner")):
        value = view.as_str(finding.get(key))
        if value:
            facts.append((label, value))
    t = view.as_float(finding.get("t"))
    if t is not None:
        facts.append(("at", f"{t:.3f} s"))
    for label, key in (("engine", "engine"), ("request", "req"), ("run", "run_id"), ("connection", "conn")):
        value = view.as_str(finding.get(key))
        if value:
            facts.append((label, value))
    lines = [str(n) for n in (view.as_int(x) for x in view.as_list(finding.get("witness"))) if n is not None]
    if lines:
        facts.append(("history lines", ", ".join(lines[:20]) + (" …" if len(lines) > 20 else "")))
    return facts


def _frame(item: object) -> dict[str, str]:
    item = view.as_dict(item)
    record = item.get("record")
    line = view.as_int(item.get("line"))
    head = [f"line {line}" if line is not None else "line ?"]
    if isinstance(record, dict):
        for key in ("kind", "user", "conn", "by"):
            value = view.as_str(record.get(key))
            if value:
                head.append(value)
        t = view.as_float(record.get("t"))
        if t is not None:
            head.append(f"{t:.3f} s")
    text = pretty_json(record)
    if len(text) > MAX_FRAME_CHARS:
        text = text[:MAX_FRAME_CHARS] + f"\n… ({len(text) - MAX_FRAME_CHARS:,} more characters)"
    return {"head": " · ".join(head), "text": text}


def finding_view(finding: dict[str, Any], *, open_: bool = False, number: int | None = None,
                 budget: Budget | None = None) -> dict[str, Any]:
    """What ``findings.html``'s ``finding`` macro shows of one finding."""
    kind = view.as_str(finding.get("kind")) or "finding"
    facts = _facts(finding)
    frames = view.as_list(finding.get("frames"))
    shown: list[dict[str, str]] = []
    omitted = False
    if frames and budget is not None and budget.left <= 0:
        omitted = True
    elif frames:
        shown = [_frame(f) for f in frames[:MAX_FRAMES]]
        if budget is not None:
            budget.left -= sum(len(escape(f["text"])) + len(f["head"]) for f in shown)  # as the page holds it
    return {
        "kind": kind,
        "label": f"{kind} #{number}" if number is not None else kind,
        "summary": " · ".join(f"{label} {value}" for label, value in facts[:5]),
        "explanation": view.as_str(finding.get("explanation")),
        "facts": facts,
        "frames": shown,
        "omitted": omitted,
        "more_frames": max(0, len(frames) - MAX_FRAMES) if shown else 0,
        "lines_only": not frames and bool(view.as_list(finding.get("witness"))),
        "open": open_,
    }


def first_failure(verdict: dict[str, Any]) -> dict[str, Any] | None:
    first = next(iter(view.findings(verdict)), None)
    return None if first is None else finding_view(first, open_=True)


def finding_groups(verdict: dict[str, Any]) -> list[tuple[str, int | None, int | None]]:
    """``(kind, exact count, shown)``: the verdict's groups, else derived from counts and findings."""
    groups = []
    for item in view.as_list(verdict.get("finding_groups")):
        item = view.as_dict(item)
        kind = view.as_str(item.get("kind"))
        if kind:
            groups.append((kind, view.as_int(item.get("count")), view.as_int(item.get("shown"))))
    if groups:
        return groups
    shown: dict[str, int] = {}
    for finding in view.findings(verdict):
        kind = view.as_str(finding.get("kind")) or "finding"
        shown[kind] = shown.get(kind, 0) + 1
    counts = view.anomaly_counts(verdict)
    kinds = [k for k, c in counts.items() if c] + [k for k in shown if not counts.get(k)]
    return [(k, counts.get(k), shown.get(k, 0)) for k in kinds]


def findings_context(verdict: dict[str, Any]) -> dict[str, Any]:
    """The findings section: the table of kinds (exact counts) and the findings grouped by kind."""
    findings = view.findings(verdict)
    groups = finding_groups(verdict)
    anchors = {kind: f"group-{n}" for n, kind in enumerate(dict.fromkeys(
        [k for k, _, _ in groups] + [view.as_str(f.get("kind")) or "finding" for f in findings]))}
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for finding in findings[:MAX_FINDINGS]:
        by_kind.setdefault(view.as_str(finding.get("kind")) or "finding", []).append(finding)
    exact = {kind: count for kind, count, _ in groups}
    budget = Budget()
    blocks = []
    for kind, members in by_kind.items():
        total = exact.get(kind)
        blocks.append({
            "anchor": anchors[kind], "kind": kind, "shown": len(members),
            "of": view.fmt_num(total) if total is not None and total != len(members) else None,
            "items": [finding_view(f, number=n, budget=budget) for n, f in enumerate(members, start=1)],
        })
    return {
        "empty": not findings and not groups,
        "groups": [{"anchor": anchors[kind], "kind": kind, "count": view.fmt_num(count), "shown": view.fmt_num(shown)}
                   for kind, count, shown in groups],
        "blocks": blocks,
        "more": max(0, len(findings) - MAX_FINDINGS),
    }


def incidents_context(verdict: dict[str, Any]) -> dict[str, Any] | None:
    """The incidents table (one row per leaked run or affected request), or None when the verdict
    has no ``incidents`` (older checkers): then the section is not drawn at all."""
    raw = verdict.get("incidents")
    if not isinstance(raw, list):
        return None
    rows = []
    for item in (view.as_dict(x) for x in raw[:MAX_INCIDENTS]):
        kinds = view.as_dict(item.get("kinds"))
        others = [f"{k} {view.fmt_num(n)}" for k, n in kinds.items() if k != item.get("kind")]
        witness = [n for n in (view.as_int(x) for x in view.as_list(item.get("first_witness"))) if n is not None]
        t = view.as_float(item.get("t"))
        rows.append({
            "kind": view.as_str(item.get("kind")) or "?",
            "others": ", ".join(others),
            "owner": view.as_str(item.get("owner")) or "?",
            "receiver": view.as_str(item.get("receiver")) or "?",
            "run_id": view.as_str(item.get("run_id")) or "—",
            "req": view.as_str(item.get("req")) or "—",
            "engine": view.as_str(item.get("engine")) or "—",
            "events": view.fmt_num(item.get("events")),
            "t": "—" if t is None else f"{t:.3f} s",
            "witness": ", ".join(str(n) for n in witness[:MAX_WITNESS_LINES])
                       + (" …" if len(witness) > MAX_WITNESS_LINES else ""),
        })
    count = view.as_int(verdict.get("incident_count"))
    return {"rows": rows, "count": count if count is not None else len(raw), "listed": len(raw)}


def unknowns_context(verdict: dict[str, Any]) -> dict[str, Any]:
    unknowns = [view.as_dict(u) for u in view.as_list(verdict.get("unknowns"))]
    total = view.requests(verdict)["unknown"]
    return {
        "rows": [{"req": view.as_str(u.get("req")), "user": view.as_str(u.get("user")),
                  "reason": view.as_str(u.get("reason"))} for u in unknowns[:MAX_UNKNOWNS]],
        "shown": min(len(unknowns), MAX_UNKNOWNS),
        "total": total,
        "of": view.fmt_num(total if total is not None else len(unknowns)),
    }
