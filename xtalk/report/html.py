"""``report.html``: one self-contained page, built from a verdict dict and trend rows only.

Invariants:
- Self-contained: CSS and the small script are inlined, charts are inline SVG; a
  Content-Security-Policy meta tag (``default-src 'none'``) forbids every network fetch, and allows
  only the page's own script, by hash.
- Untrusted text (everything from the verdict) goes through ``esc``; data for the script sits in a
  ``<script type="application/json">`` block written by ``json_for_script``; the script touches the
  page with ``textContent`` only. Injected markup stays text even if one of those failed, because
  the CSP runs no script but the one whose hash it names.
- The essentials (verdict, why, counts, matrix, the first failure's frames, findings) need no
  script: findings are ``<details>``, charts are SVG.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from xtalk import __version__
from xtalk.report import charts, findings, matrix, origin, view
from xtalk.report.text import esc, json_for_script

_SECTIONS = (("verdict", "Verdict"), ("coverage", "Coverage"), ("anomalies", "Anomalies"),
             ("first-failure", "First failure"), ("matrix", "Who received whose"), ("swimlanes", "Swimlanes"),
             ("latency", "Latency"), ("engines", "Engine paths"), ("findings", "Findings"),
             ("unknowns", "Unknowns"), ("trend", "Trend"), ("recheck", "Re-check"))


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("xtalk.report").joinpath(name).read_text(encoding="utf-8")


def _without_userinfo(url: str) -> str:
    """A host URL without ``user:password@`` (no secret in a report)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _section(anchor: str, title: str, body: str, extra: str = "") -> str:
    return f'<section id="{anchor}"{extra}><h2>{esc(title)}</h2>{body}</section>'


def _header(verdict: dict[str, Any]) -> str:
    run = view.run_info(verdict)
    scenario = view.scenario_name(verdict) or "unnamed scenario"
    facts = []
    for label, key in (("run", "id"), ("started", "started_at"), ("profile", "profile"), ("seed", "seed"),
                       ("workers", "workers")):
        value = view.as_str(run.get(key))
        if value:
            facts.append(f"{label} {value}")
    duration = view.as_float(run.get("duration"))
    if duration is not None:
        facts.append(f"duration {view.fmt_seconds(duration)}")
    host = view.as_str(run.get("host"))
    facts.append(f"host {_without_userinfo(host)}" if host else "embedded reference backend")
    return (f'<header class="top"><h1>xtalk report · {esc(scenario)}</h1>'
            f'<div class="meta">{esc(" · ".join(facts))}</div>{origin.origin_html(verdict)}</header>')


def _banner(verdict: dict[str, Any]) -> str:
    word = view.verdict_word(verdict)
    total = view.anomaly_total(verdict)
    req = view.requests(verdict)
    lines: list[str] = list(view.reasons(verdict))
    advice_html = ""
    if word == "pass":
        headline = "Users stayed isolated."
        if not lines:
            lines.append(f"No anomaly and no failed threshold over {view.fmt_num(req['completed'])} completed "
                         f"requests of {view.fmt_num(verdict.get('users'))} users.")
    elif word == "fail":
        headline = "Isolation or a threshold failed."
        if not lines:
            nonzero = [f"{k} {c:,}" for k, c in view.anomaly_counts(verdict).items() if c]
            failed = [t.name for t in view.thresholds(verdict) if t.ok is False]
            if nonzero:
                lines.append("anomalies: " + ", ".join(nonzero))
            if failed:
                lines.append("failed thresholds: " + ", ".join(failed))
        for threshold in view.thresholds(verdict):
            if threshold.ok is False and not any(threshold.name in line for line in lines):
                lines.append(f"threshold {threshold.name} failed: observed {threshold.observed}, "
                             f"limit {threshold.limit}")
    elif word == "inconclusive":
        headline = "Nothing could be concluded from this run."
        reason, advice = view.inconclusive(verdict)
        if reason and reason not in lines:
            lines.insert(0, reason)
        if advice:
            advice_html = f'<p class="advice"><strong>To make it conclusive:</strong> {esc(advice)}</p>'
    else:
        headline = "This verdict holds no result: the run may have died before it was checked."
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    summary = (f'{total:,} anomal{"y" if total == 1 else "ies"}' if total else "no anomalies")
    return _section(
        "verdict", "Verdict",
        f'<div class="word">{esc(word.upper())}</div><p><strong>{esc(headline)}</strong> '
        f'<span class="muted">({esc(summary)})</span></p>{f"<ul>{items}</ul>" if items else ""}{advice_html}',
        f' class="banner {esc(word)}"',
    )


def _card(value: str, label: str) -> str:
    return f'<div class="card"><div class="v">{esc(value)}</div><div class="k">{esc(label)}</div></div>'


def _coverage(verdict: dict[str, Any]) -> str:
    coverage = view.as_dict(verdict.get("coverage"))
    req = view.requests(verdict)
    cards = [
        _card(view.fmt_num(verdict.get("users", coverage.get("users"))), "users"),
        _card(view.fmt_num(coverage.get("connections")), "connections"),
        _card(view.fmt_num(coverage.get("overlapping_user_pairs")), "overlapping user pairs"),
        _card(view.fmt_num(coverage.get("max_concurrent_requests")), "max concurrent requests"),
        _card(view.fmt_num(verdict.get("events")), "events"),
        *(_card(view.fmt_num(req[k]), f"requests {k}") for k in ("sent", "completed", "failed", "dropped", "unknown")),
        _card(view.fmt_ratio(view.completion_ratio(verdict)), "completion (unknowns excluded)"),
    ]
    engines = coverage.get("engines")
    if isinstance(engines, dict):
        names = [f"{k} ({view.fmt_num(v)})" if view.as_int(v) is not None else str(k) for k, v in engines.items()]
    else:
        names = [n for n in (view.as_str(e) for e in view.as_list(engines)) if n]
    engine_line = (f'<p>Engine paths exercised: {esc(", ".join(names))}</p>' if names
                   else '<p class="muted">Engine paths: not recorded.</p>')
    notes = []
    client_errors = {str(k): view.as_int(v) for k, v in view.as_dict(verdict.get("client_errors")).items()}
    errors = [f"{phase} {count:,}" for phase, count in client_errors.items() if count]
    if errors:
        notes.append(f'<p>Client-side errors (the harness could not log in, connect or send): '
                     f'{esc(", ".join(errors))}</p>')
    broken = [b for b in (view.as_str(x) for x in view.as_list(verdict.get("broken_assumptions"))) if b]
    if broken:
        items = "".join(f"<li>{esc(b)}</li>" for b in broken[:20])
        more = f"<li>… {len(broken) - 20:,} more</li>" if len(broken) > 20 else ""
        notes.append(f"<p>The history breaks the checker's assumptions:</p><ul>{items}{more}</ul>")
    return _section("coverage", "Coverage",
                    f'<div class="cards">{"".join(cards)}</div>{engine_line}{"".join(notes)}')


def _anomalies(verdict: dict[str, Any]) -> str:
    rows = []
    for kind, count in view.anomaly_counts(verdict).items():
        limit = view.anomaly_limit(verdict, kind)
        bad = count is not None and count > limit
        rows.append(f'<tr{" class=bad" if bad else ""}><td><code>{esc(kind)}</code></td>'
                    f'<td class="num">{view.fmt_num(count)}</td><td class="num">{limit:,}</td>'
                    f'<td>{"fail" if bad else ("—" if count is None else "ok")}</td></tr>')
    table = ('<table class="data"><thead><tr><th>kind</th><th class="num">count</th><th class="num">allowed</th>'
             f'<th></th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    thresholds = view.thresholds(verdict)
    if thresholds:
        trows = "".join(
            f'<tr{" class=bad" if t.ok is False else ""}><td>{esc(t.name)}</td><td class="num">{esc(t.limit)}</td>'
            f'<td class="num">{esc(t.observed)}</td><td>{"ok" if t.ok else ("fail" if t.ok is False else "—")}</td></tr>'
            for t in thresholds
        )
        table += ('<h4>Thresholds</h4><table class="data"><thead><tr><th>threshold</th><th class="num">limit</th>'
                  f'<th class="num">observed</th><th></th></tr></thead><tbody>{trows}</tbody></table>')
    return _section("anomalies", "Anomalies and thresholds", table)


def _latency(verdict: dict[str, Any]) -> str:
    stats = view.phase_stats(verdict)
    if not stats:
        return _section("latency", "Latency", '<p class="muted">No latency recorded.</p>')
    columns = ("mean", "p50", "p95", "p99", "max")
    rows = "".join(
        f'<tr><td><code>{esc(phase)}</code></td><td class="num">{view.fmt_num(s["n"])}</td>'
        + "".join(f'<td class="num">{view.fmt_seconds(s[q])}</td>' for q in columns) + "</tr>"
        for phase, s in stats.items()
    )
    head = "".join(f'<th class="num">{q}</th>' for q in columns)
    table = ('<table class="data"><thead><tr><th>phase (time from request to …)</th><th class="num">n</th>'
             f"{head}</tr></thead><tbody>{rows}</tbody></table>")
    return _section("latency", "Latency (successful requests only)", table + charts.latency_section(verdict))


def _engines(verdict: dict[str, Any]) -> str:
    engines = view.as_dict(verdict.get("engines"))
    if not engines:
        return _section("engines", "Engine paths", '<p class="muted">No per-engine figures recorded.</p>')
    keys = ("requests", "completed", "failed", "unknown")
    rows = []
    for name, raw in engines.items():
        data = view.as_dict(raw)
        anomalies = data.get("anomalies")
        if isinstance(anomalies, dict):
            anomalies = sum(view.as_int(v) or 0 for v in anomalies.values())
        bad = bool(view.as_int(anomalies))
        rows.append(f'<tr{" class=bad" if bad else ""}><td><code>{esc(name)}</code></td>'
                    + "".join(f'<td class="num">{view.fmt_num(data.get(k))}</td>' for k in keys)
                    + f'<td class="num">{view.fmt_num(anomalies)}</td>'
                    + f'<td class="num">{view.fmt_seconds(data.get("p95_completed"))}</td></tr>')
    head = "".join(f'<th class="num">{k}</th>' for k in keys)
    return _section("engines", "Engine paths",
                    f'<table class="data"><thead><tr><th>engine path</th>{head}<th class="num">anomalies</th>'
                    f'<th class="num">p95 completed</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _trend(verdict: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    if not trend:
        return _section("trend", "Trend", '<p class="muted">No earlier runs of this scenario in the trend database.'
                        "</p>")
    current = view.as_str(view.run_info(verdict).get("id"))
    phases = [p for p in view.PHASES if any(p in view.as_dict(r.get("p95")) for r in trend)]
    head = "".join(f'<th class="num">p95 {esc(p.removeprefix("agent_"))}</th>' for p in phases)
    rows = []
    for row in reversed(trend):
        regressions = [str(r) for r in view.as_list(row.get("regressions"))]
        p95 = view.as_dict(row.get("p95"))
        word = view.as_str(row.get("verdict")) or "unknown"
        flag = (f'<td class="regress">▲ {esc("; ".join(regressions))}</td>' if regressions
                else '<td class="muted">—</td>')
        rows.append(
            f'<tr{" class=current" if current and row.get("run_id") == current else ""}>'
            f'<td>{esc(row.get("run_id"))}</td><td>{esc(row.get("started_at") or row.get("recorded_at"))}</td>'
            f'<td><span class="badge {esc(word)}">{esc(word)}</span></td>'
            f'<td class="num">{view.fmt_num(row.get("anomalies_total"))}</td>'
            + "".join(f'<td class="num">{view.fmt_seconds(p95.get(p))}</td>' for p in phases)
            + f'<td class="num">{view.fmt_ratio(view.as_float(row.get("completion")))}</td>{flag}</tr>'
        )
    flagged = sum(1 for r in trend if r.get("regressions"))
    note = (f'<p class="leak-text">{flagged} run(s) regressed against the run before.</p>' if flagged
            else '<p class="muted">No regression against the previous run.</p>')
    return _section("trend", f"Trend: the last {len(trend)} run(s) of this scenario",
                    note + '<table class="data"><thead><tr><th>run</th><th>started</th><th>verdict</th>'
                    f'<th class="num">anomalies</th>{head}<th class="num">completion</th><th>regressions vs '
                    f'previous</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _recheck(verdict: dict[str, Any]) -> str:
    command = view.as_str(verdict.get("recheck"))
    if not command:
        return _section("recheck", "Re-check", '<p class="muted">The verdict records no re-check command; run '
                        "<code>xtalk check RUN_DIR/history*.jsonl</code>.</p>")
    return _section("recheck", "Re-check this run offline",
                    f'<div class="cmd"><pre id="recheck-cmd">{esc(command)}</pre>'
                    '<button id="copy-recheck" type="button" hidden>copy</button></div>')


def render_report(verdict: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    """The whole page as text. ``trend``: rows of ``xtalk.report.trend.read_runs``, oldest first."""
    verdict = view.as_dict(verdict)
    script = _asset("report.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'; "
           "base-uri 'none'; form-action 'none'")
    matrix_html, matrix_data = matrix.matrix_section(verdict)
    lanes = charts.swimlanes(verdict)
    word = view.verdict_word(verdict)
    body = [
        _header(verdict),
        '<nav class="toc">' + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in _SECTIONS) + "</nav>",
        "<main>",
        _banner(verdict),
        _coverage(verdict),
        _anomalies(verdict),
        findings.first_failure_section(verdict),
        _section("matrix", "Who received whose events", matrix_html),
        _section("swimlanes", "Swimlanes of the users in findings", lanes) if lanes else "",
        _latency(verdict),
        _engines(verdict),
        _section("findings", "Findings", findings.findings_section(verdict)),
        _section("unknowns", "Unknown outcomes", findings.unknowns_section(verdict)),
        _trend(verdict, trend),
        _recheck(verdict),
        "</main>",
        f'<footer>xtalk {esc(__version__)} · {esc(view.as_str(verdict.get("schema")) or "no schema")} · this page '
        "loads nothing from the network</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>xtalk {esc(word.upper())} · {esc(view.scenario_name(verdict) or 'report')}</title>"
        f"<style>{_asset('report.css')}</style></head><body>"
        + "".join(body)
        + f'<script type="application/json" id="xtalk-data">{json_for_script({"matrix": matrix_data})}</script>'
        + f"<script>{script}</script></body></html>\n"
    )
