"""The live isolation view in Locust's web UI (on the master, or a standalone process).

Two ways in, both fed by ``LiveBoard.summary()``:

- Two tabs inside Locust's own UI, "Isolation (live)" (counts per anomaly kind, requests in flight,
  per worker and summed) and "Isolation findings" (the latest findings and their explanations),
  through Locust's documented extension points: ``extended_tabs``/``extended_tables`` in the
  template arguments and ``extended_stats`` added to the ``/stats/requests`` JSON the UI polls
  every 2 s. Locust's React UI renders those cells as text (escaped).
- A page of its own, ``/xtalk``, with its script at ``/xtalk/live.js`` polling ``/xtalk/live.json``
  every 2 s. The script puts every server-provided string in the DOM with ``textContent`` (never
  ``innerHTML``), and the page is served with a Content-Security-Policy that allows only its own
  script: finding explanations quote frames from the server under test, which are untrusted.

Nothing here raises into Flask's request handling for the UI's own routes: the ``after_request``
hook returns the response unchanged when anything goes wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from xtalk.live.board import NOTE, REQUEST_FIELDS, LiveBoard

log = logging.getLogger("xtalk")

TAB_COUNTS = "xtalk-isolation"
TAB_FINDINGS = "xtalk-findings"
EXTENDED_TABS = [{"title": "Isolation (live)", "key": TAB_COUNTS},
                 {"title": "Isolation findings", "key": TAB_FINDINGS}]
EXTENDED_TABLES = [
    {"key": TAB_COUNTS, "structure": [{"key": "what", "title": "What"}, {"key": "total", "title": "All workers"},
                                      {"key": "per_worker", "title": "Per worker"}]},
    {"key": TAB_FINDINGS, "structure": [{"key": "t", "title": "t (s)"}, {"key": "kind", "title": "Kind"},
                                        {"key": "user", "title": "Received by"}, {"key": "owner", "title": "Owner"},
                                        {"key": "worker", "title": "Worker"},
                                        {"key": "explanation", "title": "Explanation"}]},
]
CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'"


def _per_worker(summary: dict[str, Any], section: str | None, name: str) -> str:
    """``0: 3 · 1: 0``: one figure per worker (``section`` is ``requests``, ``counts`` or None)."""
    parts = []
    for w in summary["workers"]:
        value = w[section].get(name, 0) if section else w[name]
        parts.append(f"{w['worker']}: {round(value, 2) if isinstance(value, float) else value}")
    return " · ".join(parts)


def count_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The "Isolation (live)" table: requests and events first, then every anomaly kind."""
    total = summary["total"]
    rows: list[dict[str, Any]] = [{"what": "note", "total": NOTE, "per_worker": ""}]
    for name in REQUEST_FIELDS:
        rows.append({"what": f"requests {name.replace('_', ' ')}", "total": total["requests"][name],
                     "per_worker": _per_worker(summary, "requests", name)})
    rows.append({"what": "events", "total": total["events"], "per_worker": _per_worker(summary, None, "events")})
    for kind, n in total["counts"].items():
        rows.append({"what": kind, "total": n, "per_worker": _per_worker(summary, "counts", kind)})
    rows.append({"what": "live checker CPU (s)", "total": total["cost"], "per_worker": _per_worker(summary, None, "cost")})
    return rows


def finding_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"t": f"{f['t']:.3f}", "kind": f["kind"], "user": f["user"] or "", "owner": f["owner"] or "",
             "worker": f["worker"], "explanation": f["explanation"]} for f in summary["latest"]]


def extended_stats(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": TAB_COUNTS, "data": count_rows(summary)}, {"key": TAB_FINDINGS, "data": finding_rows(summary)}]


def install(web_ui: Any, board: LiveBoard) -> None:
    """Add the tabs and the ``/xtalk`` routes to a Locust ``WebUI``."""
    from flask import Response, request

    app = web_ui.app
    guard = getattr(web_ui, "auth_required_if_enabled", None)

    def protect(view: Callable[[], Response]) -> Callable[[], Response]:
        return guard(view) if callable(guard) else view

    def live_json() -> Response:
        response = Response(orjson.dumps(board.summary()), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    def live_page() -> Response:
        response = Response(PAGE, mimetype="text/html")
        response.headers["Content-Security-Policy"] = CSP
        return response

    def live_script() -> Response:
        return Response(SCRIPT, mimetype="application/javascript")

    live_json.__name__, live_page.__name__, live_script.__name__ = "xtalk_live_json", "xtalk_live_page", "xtalk_live_js"
    app.add_url_rule("/xtalk/live.json", "xtalk_live_json", protect(live_json))
    app.add_url_rule("/xtalk", "xtalk_live_page", protect(live_page))
    app.add_url_rule("/xtalk/live.js", "xtalk_live_js", protect(live_script))

    @app.after_request
    def add_extended_stats(response: Any) -> Any:
        try:
            if not request.path.endswith("/stats/requests") or response.status_code != 200:
                return response
            data = response.get_json(silent=True)
            if isinstance(data, dict):
                data["extended_stats"] = [*(data.get("extended_stats") or []), *extended_stats(board.summary())]
                response.set_data(orjson.dumps(data))
        except Exception as error:  # the UI's own poll must keep working
            log.debug("xtalk: live stats not added: %s", error)
        return response

    web_ui.template_args["extended_tabs"] = [*web_ui.template_args.get("extended_tabs", []), *EXTENDED_TABS]
    web_ui.template_args["extended_tables"] = [*web_ui.template_args.get("extended_tables", []), *EXTENDED_TABLES]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xtalk: live isolation view</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.hot{background:#fdd;font-weight:bold}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border-left:3px solid #c33;margin:.3em 0 1em}
.note{color:#555;max-width:60em}
</style></head><body>
<h1>Live isolation view</h1>
<p class="note" id="note"></p>
<p id="status">waiting for the first snapshot...</p>
<h2>Counts</h2><table id="counts"></table>
<h2>Latest findings</h2><div id="findings"></div>
<p><a href="./">Back to Locust</a> · <a href="xtalk/live.json">JSON</a></p>
<script src="xtalk/live.js"></script>
</body></html>
"""

# Every server value goes through text() (textContent): never innerHTML.
SCRIPT = r"""
(function () {
  "use strict";
  var base = location.pathname.replace(/\/xtalk\/?$/, "");
  function el(tag, value, cls) {
    var node = document.createElement(tag);
    if (value !== undefined && value !== null) { node.textContent = String(value); }
    if (cls) { node.className = cls; }
    return node;
  }
  function row(cells, header) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) { tr.appendChild(el(header ? "th" : "td", c)); });
    return tr;
  }
  function render(s) {
    document.getElementById("note").textContent = s.note;
    var ws = s.workers || [];
    document.getElementById("status").textContent = ws.length + " worker(s) reporting; " +
      (s.ended ? "the run has ended: the verdict is the offline check of all histories" : "running");
    var table = document.getElementById("counts");
    table.replaceChildren();
    table.appendChild(row(["", "all workers"].concat(ws.map(function (w) { return "worker " + w.worker; })), true));
    var t = s.total;
    ["sent", "completed", "failed", "unknown", "in_flight"].forEach(function (k) {
      table.appendChild(row(["requests " + k.replace("_", " "), t.requests[k]].concat(ws.map(function (w) { return w.requests[k]; }))));
    });
    table.appendChild(row(["events", t.events].concat(ws.map(function (w) { return w.events; }))));
    Object.keys(t.counts).forEach(function (k) {
      var tr = row([k, t.counts[k]].concat(ws.map(function (w) { return w.counts[k] || 0; })));
      if (t.counts[k] > 0) { tr.className = "hot"; }
      table.appendChild(tr);
    });
    var box = document.getElementById("findings");
    box.replaceChildren();
    if (!s.latest.length) { box.appendChild(el("p", "none so far")); }
    s.latest.forEach(function (f) {
      box.appendChild(el("div", f.kind + " at " + f.t + " s: received by " + (f.user || "?") + ", owner " +
        (f.owner || "?") + " (worker " + f.worker + ", its history lines " + f.witness.join(", ") + ")"));
      box.appendChild(el("pre", f.explanation));
    });
  }
  function poll() {
    fetch(base + "/xtalk/live.json", {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(render).catch(function (e) { document.getElementById("status").textContent = "no data: " + e; });
  }
  poll();
  setInterval(poll, 2000);
})();
"""
