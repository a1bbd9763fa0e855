"""``report.html``: one self-contained page, from a verdict dict and trend rows only.

This module turns the verdict into plain values (strings, numbers, lists, dicts) for the Jinja2
templates in ``templates/`` (``report.html`` and the partials it includes), which print them
through autoescape (``xtalk.report.templating``). Invariants:

- Self-contained: CSS and the small script are inlined, charts are inline SVG; a
  Content-Security-Policy meta tag (``default-src 'none'``) forbids every network fetch, and allows
  only the page's own script, by hash.
- Untrusted text (everything from the verdict) reaches the page only through autoescaped template
  expressions; data for the script sits in a ``<script type="application/json">`` block written by
  Jinja's ``tojson``; the script touches the page with ``textContent`` only. Injected markup stays
  text even if one of those failed, because the CSP runs no script but the one whose hash it names.
- The essentials (verdict, why, counts, matrix, incidents, the first failure's frames, findings)
  need no script: findings are ``<details>``, charts are SVG.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from xtalk import __version__
from xtalk.report import charts, findings, matrix, origin, templating, view

SECTIONS = (("verdict", "Verdict"), ("coverage", "Coverage"), ("anomalies", "Anomalies"),
            ("first-failure", "First failure"), ("matrix", "Who received whose"), ("incidents", "Incidents"),
            ("swimlanes", "Swimlanes"), ("latency", "Latency"), ("engines", "Engine paths"),
            ("findings", "Findings"), ("unknowns", "Unknowns"), ("trend", "Trend"), ("recheck", "Re-check"))


def _without_userinfo(url: str) -> str:
    """A host URL without ``user:password@`` (no secret in a report)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _workers(run: dict[str, Any]) -> str | None:
    """How the load was generated: one Locust process, or K workers under a master."""
    workers = view.as_int(run.get("workers"))
    if workers is None:
        return None
    if run.get("distributed") is True or (run.get("distributed") is None and workers > 1):
        return f"{workers} worker{'s' if workers != 1 else ''}"
    return "one Locust process"


def header(verdict: dict[str, Any]) -> dict[str, Any]:
    run = view.run_info(verdict)
    facts = []
    for label, key in (("run", "id"), ("started", "started_at"), ("profile", "profile"), ("seed", "seed")):
        value = view.as_str(run.get(key))
        if value:
            facts.append(f"{label} {value}")
    workers = _workers(run)
    if workers:
        facts.append(workers)
    duration = view.as_float(run.get("duration"))
    if duration is not None:
        facts.append(f"duration {view.fmt_seconds(duration)}")
    host = view.as_str(run.get("host"))
    if run.get("backend") == "embedded":
        facts.append("embedded reference backend" + (f" ({_without_userinfo(host)})" if host else ""))
    else:
        facts.append(f"host {_without_userinfo(host)}" if host else "embedded reference backend")
    if run.get("interrupted"):
        facts.append(f"interrupted ({view.as_str(run.get('interrupted')) or 'by a signal'})")
    return {"scenario": view.scenario_name(verdict) or "unnamed scenario", "facts": " · ".join(facts),
            "origin": origin.origin_info(verdict)}


def banner(verdict: dict[str, Any]) -> dict[str, Any]:
    word = view.verdict_word(verdict)
    total = view.anomaly_total(verdict)
    req = view.requests(verdict)
    lines: list[str] = list(view.reasons(verdict))
    advice = None
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
    else:
        headline = "This verdict holds no result: the run may have died before it was checked."
    summary = (f'{total:,} anomal{"y" if total == 1 else "ies"}' if total else "no anomalies")
    return {"word": word, "headline": headline, "summary": summary, "lines": lines, "advice": advice}


def coverage(verdict: dict[str, Any]) -> dict[str, Any]:
    cover = view.as_dict(verdict.get("coverage"))
    req = view.requests(verdict)
    cards = [
        (view.fmt_num(verdict.get("users", cover.get("users"))), "users"),
        (view.fmt_num(cover.get("connections")), "connections"),
        (view.fmt_num(cover.get("overlapping_user_pairs")), "overlapping user pairs"),
        (view.fmt_num(cover.get("max_concurrent_requests")), "max concurrent requests"),
        (view.fmt_num(verdict.get("events")), "events"),
        *((view.fmt_num(req[k]), f"requests {k}") for k in ("sent", "completed", "failed", "dropped", "unknown")),
        (view.fmt_ratio(view.completion_ratio(verdict)), "completion (unknowns excluded)"),
    ]
    engines = cover.get("engines")
    if isinstance(engines, dict):
        names = [f"{k} ({view.fmt_num(v)})" if view.as_int(v) is not None else str(k) for k, v in engines.items()]
    else:
        names = [n for n in (view.as_str(e) for e in view.as_list(engines)) if n]
    client_errors = {str(k): view.as_int(v) for k, v in view.as_dict(verdict.get("client_errors")).items()}
    broken = [b for b in (view.as_str(x) for x in view.as_list(verdict.get("broken_assumptions"))) if b]
    return {"cards": cards, "engines": ", ".join(names),
            "errors": ", ".join(f"{phase} {count:,}" for phase, count in client_errors.items() if count),
            "broken": broken[:20], "more_broken": max(0, len(broken) - 20)}


def anomalies(verdict: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for kind, count in view.anomaly_counts(verdict).items():
        limit = view.anomaly_limit(verdict, kind)
        bad = count is not None and count > limit
        rows.append({"kind": kind, "count": view.fmt_num(count), "limit": f"{limit:,}", "bad": bad,
                     "status": "fail" if bad else ("—" if count is None else "ok")})
    thresholds = [{"name": t.name, "limit": t.limit, "observed": t.observed, "bad": t.ok is False,
                   "status": "ok" if t.ok else ("fail" if t.ok is False else "—")} for t in view.thresholds(verdict)]
    return {"rows": rows, "thresholds": thresholds}


def latency(verdict: dict[str, Any]) -> dict[str, Any]:
    columns = ("mean", "p50", "p95", "p99", "max")
    rows = [{"phase": phase, "n": view.fmt_num(s["n"]), "values": [view.fmt_seconds(s[q]) for q in columns]}
            for phase, s in view.phase_stats(verdict).items()]
    return {"columns": columns, "rows": rows, "charts": charts.latency_section(verdict) if rows else ""}


def engines(verdict: dict[str, Any]) -> dict[str, Any]:
    keys = ("requests", "completed", "failed", "unknown")
    rows = []
    for name, raw in view.as_dict(verdict.get("engines")).items():
        data = view.as_dict(raw)
        found = data.get("anomalies")
        if isinstance(found, dict):
            found = sum(view.as_int(v) or 0 for v in found.values())
        rows.append({"name": name, "values": [view.fmt_num(data.get(k)) for k in keys],
                     "anomalies": view.fmt_num(found), "bad": bool(view.as_int(found)),
                     "p95": view.fmt_seconds(data.get("p95_completed"))})
    return {"keys": keys, "rows": rows}


def trend(verdict: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    current = view.as_str(view.run_info(verdict).get("id"))
    phases = [p for p in view.PHASES if any(p in view.as_dict(r.get("p95")) for r in rows)]
    out = []
    for row in reversed(rows):
        p95 = view.as_dict(row.get("p95"))
        out.append({
            "current": bool(current) and row.get("run_id") == current,
            "run_id": row.get("run_id"), "started": row.get("started_at") or row.get("recorded_at"),
            "word": view.as_str(row.get("verdict")) or "unknown",
            "host": row.get("host"), "profile": row.get("profile"),
            "anomalies": view.fmt_num(row.get("anomalies_total")),
            "p95": [view.fmt_seconds(p95.get(p)) for p in phases],
            "completion": view.fmt_ratio(view.as_float(row.get("completion"))),
            "regressions": "; ".join(str(r) for r in view.as_list(row.get("regressions"))),
        })
    return {"rows": out, "phases": [p.removeprefix("agent_") for p in phases],
            "flagged": sum(1 for r in rows if r.get("regressions"))}


def context(verdict: dict[str, Any], trend_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every value the page shows (the templates add markup only)."""
    verdict = view.as_dict(verdict)
    matrix_view, matrix_data = matrix.matrix_section(verdict)
    lanes = charts.swimlanes(verdict)
    script_hash = templating.script_hash()
    return {
        "csp": (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'; "
                "base-uri 'none'; form-action 'none'"),
        "title": f"xtalk {view.verdict_word(verdict).upper()} · {view.scenario_name(verdict) or 'report'}",
        "sections": SECTIONS,
        "header": header(verdict),
        "banner": banner(verdict),
        "coverage": coverage(verdict),
        "anomalies": anomalies(verdict),
        "first": findings.first_failure(verdict),
        "matrix": matrix_view,
        "incidents": findings.incidents_context(verdict),
        "lanes": lanes,
        "latency": latency(verdict),
        "engines": engines(verdict),
        "findings": findings.findings_context(verdict),
        "unknowns": findings.unknowns_context(verdict),
        "trend": trend(verdict, trend_rows),
        "recheck": view.as_str(verdict.get("recheck")),
        "version": __version__,
        "schema": view.as_str(verdict.get("schema")) or "no schema",
        "data": {"matrix": matrix_data},
    }


def render_report(verdict: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    """The whole page as text. ``trend``: rows of ``xtalk.report.trend.read_runs``, oldest first."""
    return templating.render("report.html", **context(verdict, trend))
