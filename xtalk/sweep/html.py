"""``sweep.html``: the leak rate against concurrency, with 95 % intervals, on one offline page.

Invariants (as ``report.html``'s): self-contained (CSS inline, the plot inline SVG, no script at
all), a Content-Security-Policy that forbids every fetch, and every text from outside (scenario
name and description, host, folder names) through ``esc``. The plot needs no script: points,
interval bars and the curve are SVG elements, each point with a ``<title>`` saying its figures.

The x axis is the number of users on a log2 scale (sweeps double: 1, 2, 4, 8, ...), with a tick
at each level; the y axis is the share of requests whose events leaked, 0 to 100 %. A level
with no request sent has no point (nothing was measured) and says so in the table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from xtalk import __version__
from xtalk.report.text import esc
from xtalk.sweep.levels import Level, onset, onset_line
from xtalk.sweep.outputs import HEADERS, percent, row

WIDTH, HEIGHT = 760, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 20, 52

CSS = """
body { margin: 0; background: #f7f8fa; color: #1f2933;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #fff; border-bottom: 1px solid #e3e7ec; padding: 16px 24px; }
h1 { margin: 0; font-size: 20px; font-weight: 600; }
.meta, .muted { color: #66727f; font-size: 13px; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 24px 48px; }
section { background: #fff; border: 1px solid #e3e7ec; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
h2 { margin: 0 0 10px; font-size: 17px; font-weight: 600; }
.onset { font-size: 18px; font-weight: 600; }
.onset.leak { color: #b42318; } .onset.none { color: #1e7b4f; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { border-bottom: 1px solid #e3e7ec; padding: 5px 8px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.leak td { background: #fdecea; }
svg { max-width: 100%; height: auto; font-size: 12px; }
svg .axis { stroke: #66727f; stroke-width: 1; }
svg .grid { stroke: #e3e7ec; stroke-width: 1; }
svg .curve { fill: none; stroke: #d1495b; stroke-width: 2.5; }
svg .ci { stroke: #2f5d8a; stroke-width: 2; }
svg .point { fill: #d1495b; stroke: #fff; stroke-width: 1.5; }
svg .point.none { fill: #1e7b4f; }
svg .onset-line { stroke: #b42318; stroke-width: 1; stroke-dasharray: 4 3; }
svg text { fill: #1f2933; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _x_positions(levels: Sequence[Level]) -> dict[int, float]:
    users = [level.users for level in levels]
    logs = [math.log2(u) for u in users]
    low, high = min(logs, default=0.0), max(logs, default=0.0)
    span = WIDTH - LEFT - RIGHT
    pad = 0.06 * span
    if high == low:
        return {u: LEFT + span / 2 for u in users}
    return {u: LEFT + pad + (math.log2(u) - low) / (high - low) * (span - 2 * pad) for u in users}


def _y(rate: float) -> float:
    return TOP + (1 - rate) * (HEIGHT - TOP - BOTTOM)


def plot_svg(levels: Sequence[Level]) -> str:
    xs = _x_positions(levels)
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<svg id="sweep-plot" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             'xmlns="http://www.w3.org/2000/svg"><title>Leak rate against concurrency, with 95 % Wilson '
             'intervals</title>']
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _y(share)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{int(share * 100)} %</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>')
    for level in levels:
        x = xs[level.users]
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 5}"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{level.users}</text>')
    parts.append(f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                 'concurrent users (log scale)</text>')
    parts.append(f'<text transform="translate(16 {(TOP + bottom) / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 'requests whose events leaked</text>')
    first = onset(levels)
    if first is not None:
        x = xs[first]
        parts.append(f'<line class="onset-line" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(f'<text x="{x + 4:.1f}" y="{TOP + 12}" class="onset-label">onset</text>')
    measured = [level for level in levels if level.sent]
    points = " ".join(f"{xs[lv.users]:.1f},{_y(lv.rate or 0.0):.1f}" for lv in measured)
    if len(measured) > 1:
        parts.append(f'<polyline class="curve" points="{points}"/>')
    for level in measured:
        x, rate = xs[level.users], level.rate or 0.0
        low, high = level.interval
        y_low, y_high = _y(low), _y(high)
        parts.append(f'<g class="level" data-users="{level.users}">')
        parts.append(f'<line class="ci" x1="{x:.1f}" y1="{y_low:.1f}" x2="{x:.1f}" y2="{y_high:.1f}"/>')
        for y in (y_low, y_high):
            parts.append(f'<line class="ci" x1="{x - 6:.1f}" y1="{y:.1f}" x2="{x + 6:.1f}" y2="{y:.1f}"/>')
        leaked = f"{'' if level.exact else 'at least '}{level.leaked}"
        title = (f"{level.users} users: {leaked} of {level.sent} requests leaked ({percent(rate)}; 95 % interval "
                 f"{percent(low)} to {percent(high)}) over {len(level.runs)} run(s)")
        klass = "point" if level.leaked else "point none"
        parts.append(f'<circle class="{klass}" cx="{x:.1f}" cy="{_y(rate):.1f}" r="5"><title>{esc(title)}</title>'
                     "</circle></g>")
    parts.append("</svg>")
    return "".join(parts)


def _table(levels: Sequence[Level], base: str | None) -> str:
    numeric = {"users", "runs", "requests", "leaked", "leak rate"}
    head = "".join(f'<th class="{"num" if h in numeric else ""}">{esc(h)}</th>' for h in HEADERS) + "<th>run folders</th>"
    body = []
    for level in levels:
        cells = row(level)
        tds = "".join(f'<td class="{"num" if h in numeric else ""}">{esc(c)}</td>' for h, c in zip(HEADERS, cells))
        folders = ", ".join(
            f'<a href="{esc(_href(str(r.run_dir), base))}/report.html">{esc(os.path.basename(str(r.run_dir)))}</a>'
            for r in level.runs)
        body.append(f'<tr class="{"leak" if level.leaked else ""}">{tds}<td>{folders}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _href(path: str, base: str | None) -> str:
    if base is None:
        return path
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return path


def render_sweep(levels: Sequence[Level], info: dict[str, Any], *, base: str | None = None) -> str:
    """The page. ``info``: ``scenario``, ``description``, ``host``, ``run_time``, ``repeat``;
    ``base``: the page's folder (run folders are linked relative to it)."""
    line = onset_line(levels)
    facts = [str(info[k]) for k in ("host", "run_time", "repeat") if info.get(k) not in (None, "")]
    scenario = info.get("scenario") or "scenario"
    errors = [f"{lv.users} users: {e}" for lv in levels for e in lv.errors]
    notes = "".join(f"<li>{esc(e)}</li>" for e in errors)
    inexact = any(not lv.exact for lv in levels)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>xtalk sweep · {esc(scenario)} · {esc(line)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>xtalk sweep · {esc(scenario)}</h1><div class=\"meta\">{esc(' · '.join(facts))}</div>"
        f"<div class=\"meta\">{esc(info.get('description') or '')}</div></header><main>"
        f'<section id="onset"><p class="onset {"leak" if onset(levels) is not None else "none"}">{esc(line)}</p>'
        '<p class="muted">The onset is the smallest number of concurrent users at which any request\'s events '
        "(or its content) reached another user. A leak rate is leaked requests / requests sent at that level; "
        "the bars are 95 % Wilson intervals (no leak seen is not proof of none).</p></section>"
        f'<section id="plot"><h2>Leak rate against concurrency</h2>{plot_svg(levels)}</section>'
        f'<section id="levels"><h2>Levels</h2>{_table(levels, base)}'
        + ('<p class="muted">≥: a lower bound; the run\'s history could not be re-checked to count every leaked '
           "request.</p>" if inexact else "")
        + (f"<p>Runs that gave no verdict:</p><ul>{notes}</ul>" if notes else "")
        + "</section></main>"
        f'<footer class="muted" style="padding:0 24px 24px">xtalk {esc(__version__)} · this page loads nothing '
        "from the network</footer></body></html>\n"
    )
