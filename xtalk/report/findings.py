"""The evidence sections: the first failure's witness, all findings (grouped, capped, searchable)
and the requests whose outcome is unknown.

A finding renders as its explanation (Let / Then / Likely causes, as the checker wrote it) and the
witness records exactly as recorded, each headed by its history line. The records come from the
server and the wire; they are shown as indented JSON through ``esc``, never interpreted.
Findings are ``<details>`` elements, so they open and close without JavaScript; the search box
only hides non-matching ones (and is itself hidden when scripts do not run).
"""

from __future__ import annotations

from typing import Any

from xtalk.report import view
from xtalk.report.text import esc, pretty_json

MAX_FINDINGS = 500
MAX_FRAMES = 8
MAX_FRAME_CHARS = 8_000
MAX_UNKNOWNS = 500
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


def _frame(item: object) -> str:
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
    return (f'<div class="frame"><div class="frame-head">{esc(" · ".join(head))}</div>'
            f'<pre class="raw">{esc(text)}</pre></div>')


def render_finding(finding: dict[str, Any], *, open_: bool = False, number: int | None = None,
                   budget: Budget | None = None) -> str:
    kind = view.as_str(finding.get("kind")) or "finding"
    facts = _facts(finding)
    summary = " · ".join(f"{label} {value}" for label, value in facts[:5])
    label = f"{kind} #{number}" if number is not None else kind
    explanation = view.as_str(finding.get("explanation"))
    body = [f'<pre class="explanation">{esc(explanation)}</pre>' if explanation
            else '<p class="muted">No explanation recorded.</p>']
    if facts:
        body.append('<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
                    + "</dl>")
    frames = view.as_list(finding.get("frames"))
    if frames and budget is not None and budget.left <= 0:
        body.append('<p class="muted">Witness records omitted to keep this page small: they are in verdict.json '
                    "and in the history at the lines above.</p>")
    elif frames:
        rendered = "".join(_frame(f) for f in frames[:MAX_FRAMES])
        if budget is not None:
            budget.left -= len(rendered)
        body.append(f'<div class="frames"><h4>Witness records, as recorded</h4>{rendered}</div>')
        if len(frames) > MAX_FRAMES:
            body.append(f'<p class="muted">{len(frames) - MAX_FRAMES} more records in the history.</p>')
    elif view.as_list(finding.get("witness")):
        body.append('<p class="muted">The verdict holds no frames for this finding; see the history lines above.'
                    "</p>")
    return (f'<details class="finding"{" open" if open_ else ""} data-kind="{esc(kind)}"><summary>'
            f'<span class="badge kind">{esc(label)}</span> <span class="muted">{esc(summary)}</span></summary>'
            f'{"".join(body)}</details>')


def first_failure_section(verdict: dict[str, Any]) -> str:
    first = next(iter(view.findings(verdict)), None)
    if first is None:
        return ""
    return ('<section id="first-failure"><h2>First failure</h2>'
            '<p class="muted">The earliest finding, with the records that prove it.</p>'
            f"{render_finding(first, open_=True)}</section>")


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


def findings_section(verdict: dict[str, Any]) -> str:
    findings = view.findings(verdict)
    groups = finding_groups(verdict)
    if not findings and not groups:
        return '<p class="ok-text">No findings.</p>'
    anchors = {kind: f"group-{n}" for n, kind in enumerate(dict.fromkeys(
        [k for k, _, _ in groups] + [view.as_str(f.get("kind")) or "finding" for f in findings]))}
    rows = "".join(
        f'<tr><td><a href="#{anchors[kind]}"><span class="badge kind">{esc(kind)}</span></a></td>'
        f'<td class="num">{view.fmt_num(count)}</td><td class="num">{view.fmt_num(shown)}</td></tr>'
        for kind, count, shown in groups
    )
    table = ('<table class="data"><thead><tr><th>kind</th><th class="num">count (exact)</th>'
             f'<th class="num">with evidence below</th></tr></thead><tbody>{rows}</tbody></table>')
    search = ('<div class="filter" id="finding-filter-box" hidden><label>Filter findings '
              '<input id="finding-filter" type="search" placeholder="user, kind, run id, text…"></label> '
              '<span id="finding-filter-count" class="muted"></span></div>')
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for finding in findings[:MAX_FINDINGS]:
        by_kind.setdefault(view.as_str(finding.get("kind")) or "finding", []).append(finding)
    exact = {kind: count for kind, count, _ in groups}
    budget = Budget()
    blocks = []
    for kind, members in by_kind.items():
        items = "".join(render_finding(f, number=n, budget=budget) for n, f in enumerate(members, start=1))
        total = exact.get(kind)
        of = f" of {view.fmt_num(total)}" if total is not None and total != len(members) else ""
        blocks.append(f'<div class="finding-group" id="{anchors[kind]}"><h3><span class="badge kind">{esc(kind)}'
                      f'</span> <span class="muted">{len(members):,}{of} shown, earliest first</span></h3>'
                      f"{items}</div>")
    more = (f'<p class="muted">{len(findings) - MAX_FINDINGS:,} more findings in verdict.json are not shown here.</p>'
            if len(findings) > MAX_FINDINGS else "")
    return f'{table}{search}<div id="findings-list">{"".join(blocks)}</div>{more}'


def unknowns_section(verdict: dict[str, Any]) -> str:
    unknowns = [view.as_dict(u) for u in view.as_list(verdict.get("unknowns"))]
    total = view.requests(verdict)["unknown"]
    if not unknowns:
        if total:
            return f'<p>{total:,} request(s) ended unknown; the verdict lists none of them.</p>'
        return '<p class="muted">No request ended with an unknown outcome.</p>'
    rows = "".join(
        f"<tr><td>{esc(u.get('req'))}</td><td>{esc(u.get('user'))}</td><td>{esc(u.get('reason'))}</td></tr>"
        for u in unknowns[:MAX_UNKNOWNS]
    )
    shown = min(len(unknowns), MAX_UNKNOWNS)
    note = (f'<p class="muted">Showing {shown:,} of {view.fmt_num(total if total is not None else len(unknowns))}. '
            "Unknown is neither success nor failure: the request was in flight at the end, or the harness "
            "closed its connection.</p>")
    return (f'{note}<table class="data"><thead><tr><th>request</th><th>user</th><th>reason</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")
