"""Inline SVG charts: latency percentiles over time per phase, and per-user swimlanes.

Pure functions from verdict data to SVG text; no JavaScript is needed to read them, and every
label or tooltip passes through ``esc``. The charts are the one part of the report built as code
rather than from a template (geometry reads better in Python): ``latency_section`` and
``swimlanes`` are the only places in xtalk.report that hand the templates ready markup
(``Markup``), and every value from the verdict inside it went through ``esc`` first (a test checks
both: no other ``Markup`` anywhere, and a hostile verdict's charts carry no element of its own).
Sizes are capped here (points, lanes, events per lane) so
that a huge run still yields a page a browser opens quickly; what was cut is said under the chart.

Latency: the verdict carries a sampled series of ``[t, phase, seconds]`` for successful requests
only. Each phase's chart shows the samples as faint dots and, per time bin, the p50/p95/p99 of the
samples in it as lines; the times of findings are marked as red ticks on the time axis, so a
latency spike and a leak that coincide are seen together.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from markupsafe import Markup

from xtalk.report import view
from xtalk.report.text import esc

WIDTH, HEIGHT = 900, 210
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 30
BINS = 30
MAX_POINTS_PER_PHASE = 2_500
MAX_MARKS = 300
MAX_LANES = 25
MAX_LANE_EVENTS = 300
LANE_HEIGHT = 26
LANE_LABEL = 110

# Percentile lines: colour and dash, darkest for the tail a reviewer cares about most.
_LINES = (("p50", "#6b8fb5", ""), ("p95", "#2f5d8a", ""), ("p99", "#1b2f45", "4 3"))
# Owners other than the lane's user get a colour from this palette (warm first: leaks stand out).
_PALETTE = ("#d1495b", "#edae49", "#8e44ad", "#e07a1f", "#c2185b", "#00798c", "#6a4c93", "#b5651d",
            "#2e8b57", "#d64161", "#7b3f00", "#5f0f40")
OWN_COLOUR = "#7d8fa3"
UNKNOWN_COLOUR = "#b8b8b8"
FINDING_COLOUR = "#b42318"


def owner_colour(owner: str | None, lane_user: str) -> str:
    if owner is None or owner == "":
        return UNKNOWN_COLOUR
    if owner == lane_user:
        return OWN_COLOUR
    return _PALETTE[zlib.crc32(owner.encode("utf-8", "replace")) % len(_PALETTE)]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _ticks(top: float, count: int = 4) -> list[float]:
    return [top * i / count for i in range(count + 1)]


def _nice_step(span: float, count: int) -> float:
    raw = max(span, 1e-9) / count
    exponent = math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10**exponent >= raw:
            return float(step * 10**exponent)
    return float(10 ** (exponent + 1))


def _time_ticks(t0: float, t1: float, count: int = 8) -> list[float]:
    """Round-numbered times between t0 and t1 (about ``count`` of them)."""
    step = _nice_step(t1 - t0, count)
    first = math.ceil(t0 / step) * step
    return [first + i * step for i in range(int((t1 - first) / step + 1e-9) + 1)]


def _fmt_tick_seconds(value: float) -> str:
    if value == 0:
        return "0"
    if value < 1:
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g} s"


def latency_series(verdict: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """``{phase: [(t, seconds), ...]}`` from the verdict's sampled series, sorted by time."""
    out: dict[str, list[tuple[float, float]]] = {}
    for item in view.as_list(view.dig(verdict, "latency", "series")):
        if not isinstance(item, list) or len(item) < 3:
            continue
        t, phase, seconds = view.as_float(item[0]), view.as_str(item[1]), view.as_float(item[2])
        if t is None or phase is None or seconds is None or seconds < 0:
            continue
        out.setdefault(phase, []).append((t, seconds))
    for points in out.values():
        points.sort()
    ordered = [p for p in view.PHASES if p in out] + sorted(p for p in out if p not in view.PHASES)
    return {phase: out[phase] for phase in ordered}


def finding_times(verdict: dict[str, Any]) -> list[tuple[float, str]]:
    times = []
    for finding in view.findings(verdict):
        t = view.as_float(finding.get("t"))
        if t is not None:
            times.append((t, view.as_str(finding.get("kind")) or "finding"))
    return sorted(times)


def binned_percentiles(points: list[tuple[float, float]], t0: float, t1: float, bins: int = BINS
                       ) -> list[tuple[float, dict[str, float]]]:
    """Per time bin with at least 3 samples: (bin centre, {"p50", "p95", "p99"})."""
    span = max(t1 - t0, 1e-9)
    buckets: list[list[float]] = [[] for _ in range(bins)]
    for t, seconds in points:
        index = min(bins - 1, max(0, int((t - t0) / span * bins)))
        buckets[index].append(seconds)
    out = []
    for index, bucket in enumerate(buckets):
        if len(bucket) >= 3:
            bucket.sort()
            centre = t0 + (index + 0.5) * span / bins
            out.append((centre, {name: percentile(bucket, q) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}))
    return out


def latency_chart(phase: str, points: list[tuple[float, float]], marks: list[tuple[float, str]],
                  t_range: tuple[float, float]) -> str:
    """One phase's chart as an ``<svg>`` element."""
    t0, t1 = t_range
    span = max(t1 - t0, 1e-9)
    # Few samples, few bins: every bin needs a handful of samples for its percentiles to mean much.
    # Bins span the samples (not the axis), so that a short burst of requests still gets its lines.
    first_t, last_t = (points[0][0], points[-1][0]) if points else (t0, t1)
    bins = binned_percentiles(points, first_t, last_t, max(3, min(BINS, len(points) // 10)))
    peak = max([s for _, s in points] + [0.0])
    y_top = _nice_ceiling(peak * 1.05)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - t0) / span * plot_w

    def y(seconds: float) -> float:
        return TOP + plot_h - min(seconds, y_top) / y_top * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{esc(phase)} latency over time">',
             f"<title>{esc(phase)}: latency of successful requests over the run</title>"]
    for tick in _ticks(y_top):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" class="tick" text-anchor="end">'
                     f"{esc(_fmt_tick_seconds(tick))}</text>")
    for tick in _time_ticks(t0, t1):
        anchor = "end" if x(tick) > WIDTH - RIGHT - 20 else "middle"
        parts.append(f'<text x="{x(tick):.1f}" y="{HEIGHT - 10}" class="tick" text-anchor="{anchor}">'
                     f"{tick:g} s</text>")
    step = max(1, math.ceil(len(points) / MAX_POINTS_PER_PHASE))
    radius = 1.6 if len(points) > 500 else 2.4
    dots = "".join(f'<circle cx="{x(t):.1f}" cy="{y(s):.1f}" r="{radius}"/>' for t, s in points[::step])
    parts.append(f'<g class="dots">{dots}</g>')
    for name, colour, dash in _LINES:
        coordinates = " ".join(f"{x(c):.1f},{y(v[name]):.1f}" for c, v in bins)
        if len(bins) == 1:  # one bin: a short dash, since a one-point line draws nothing
            (c, v), = bins
            coordinates = f"{x(c) - 6:.1f},{y(v[name]):.1f} {x(c) + 6:.1f},{y(v[name]):.1f}"
        if coordinates:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="1.8"'
                         f'{dash_attr}><title>{name}</title></polyline>')
    seen_px: set[int] = set()
    for t, kind in marks:
        px = round(x(min(max(t, t0), t1)))
        if px in seen_px or len(seen_px) >= MAX_MARKS:
            continue
        seen_px.add(px)
        parts.append(f'<line x1="{px}" x2="{px}" y1="{TOP}" y2="{TOP + plot_h}" class="mark">'
                     f"<title>{esc(kind)} at {t:.3f} s</title></line>")
    parts.append("</svg>")
    return "".join(parts)


def latency_section(verdict: dict[str, Any]) -> Markup:
    """All phases' charts (empty when the verdict has no series)."""
    series = latency_series(verdict)
    if not series:
        return Markup("")
    marks = finding_times(verdict)
    all_t = [t for points in series.values() for t, _ in points]
    duration = view.as_float(view.run_info(verdict).get("duration"))
    t_range = (min(0.0, min(all_t)), max(max(all_t), duration or 0.0))
    legend = ('<p class="legend"><span class="key" style="background:#6b8fb5"></span>p50 '
              '<span class="key" style="background:#2f5d8a"></span>p95 '
              '<span class="key" style="background:#1b2f45"></span>p99 (dashed) · dots: sampled requests · '
              '<span class="key" style="background:#d1495b"></span>findings</p>')
    blocks = [legend]
    for phase, points in series.items():
        blocks.append(f'<figure><figcaption>{esc(phase)} <span class="muted">({len(points):,} samples)'
                      f"</span></figcaption>{latency_chart(phase, points, marks, t_range)}</figure>")
    return Markup("".join(blocks))  # every verdict value above went through esc


def _read_lanes(verdict: dict[str, Any]) -> dict[str, list[tuple[float, str, str | None, str, int | None]]]:
    lanes: dict[str, list[tuple[float, str, str | None, str, int | None]]] = {}
    for user, events in view.as_dict(verdict.get("swimlanes")).items():
        parsed = []
        for item in view.as_list(events):
            if not isinstance(item, list) or not item:
                continue
            t = view.as_float(item[0])
            if t is None:
                continue
            cells = (item + [None] * 5)[:5]
            parsed.append((t, view.as_str(cells[1]) or "?", view.as_str(cells[2]), view.as_str(cells[3]) or "",
                           view.as_int(cells[4])))
        parsed.sort(key=lambda e: e[0])
        lanes[str(user)] = parsed[:MAX_LANE_EVENTS]
    return lanes


def _lane_findings(verdict: dict[str, Any]) -> dict[str, list[tuple[float, str, str | None, int | None]]]:
    """Findings by receiver: (t, kind, owner, last witness line). Drawn on the lanes even when the
    checker's lane window no longer holds the offending event."""
    marks: dict[str, list[tuple[float, str, str | None, int | None]]] = {}
    for finding in view.findings(verdict):
        user, t = view.as_str(finding.get("user")), view.as_float(finding.get("t"))
        if user is None or t is None:
            continue
        lines = [n for n in (view.as_int(x) for x in view.as_list(finding.get("witness"))) if n is not None]
        marks.setdefault(user, []).append((t, view.as_str(finding.get("kind")) or "finding",
                                           view.as_str(finding.get("owner")), lines[-1] if lines else None))
    return marks


def swimlanes(verdict: dict[str, Any]) -> Markup:
    """One lane per user involved in findings; each event a tick coloured by its owner, each finding
    a triangle above the lane in the owner's colour."""
    lanes = _read_lanes(verdict)
    marks = _lane_findings(verdict)
    users = list(lanes) + [u for u in marks if u not in lanes]
    if not users:
        return Markup("")
    shown = users[:MAX_LANES]
    times = [e[0] for u in shown for e in lanes.get(u, [])] + [m[0] for u in shown for m in marks.get(u, [])]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    span = max(t1 - t0, 1e-9)
    plot_w = WIDTH - LANE_LABEL - RIGHT
    height = TOP + LANE_HEIGHT * len(shown) + BOTTOM
    parts = [f'<svg class="chart lanes" viewBox="0 0 {WIDTH} {height}" role="img" '
             'aria-label="events per user over time, coloured by owner">']
    owners: dict[str, str] = {}
    for index, user in enumerate(shown):
        y = TOP + index * LANE_HEIGHT
        middle = y + LANE_HEIGHT / 2
        parts.append(f'<text x="{LANE_LABEL - 8}" y="{middle + 4:.1f}" class="lane-label" '
                     f'text-anchor="end">{esc(user[:16])}</text>'
                     f'<line x1="{LANE_LABEL}" x2="{WIDTH - RIGHT}" y1="{middle:.1f}" y2="{middle:.1f}" class="grid"/>')
        for t, kind, owner, run_id, line in lanes.get(user, []):
            colour = owner_colour(owner, user)
            if owner and owner != user:
                owners.setdefault(owner, colour)
            x = LANE_LABEL + (t - t0) / span * plot_w
            who = "own" if owner == user else (f"owner {owner}" if owner else "owner unknown")
            where = f" · line {line}" if line is not None else ""
            tall = 16 if owner and owner != user else 10
            parts.append(f'<rect x="{x - 1.5:.1f}" y="{y + (LANE_HEIGHT - tall) / 2:.1f}" width="3" '
                         f'height="{tall}" fill="{colour}"><title>{esc(f"{t:.3f} s · {kind} · {who} · run {run_id}{where}")}'
                         "</title></rect>")
        for t, kind, owner, line in marks.get(user, [])[:MAX_LANE_EVENTS]:
            colour = owner_colour(owner, user) if owner and owner != user else FINDING_COLOUR
            if owner and owner != user:
                owners.setdefault(owner, colour)
            x = LANE_LABEL + (t - t0) / span * plot_w
            where = f" · line {line}" if line is not None else ""
            label = f"{kind} at {t:.3f} s · owner {owner or 'unknown'}{where}"
            parts.append(f'<path class="finding-mark" d="M{x - 5:.1f},{y + 1:.1f} h10 l-5,7 z" fill="{colour}" '
                         f'stroke="#5a0d18" stroke-width="0.8"><title>{esc(label)}</title></path>')
    for tick in _time_ticks(t0, t1):
        x = LANE_LABEL + (tick - t0) / span * plot_w
        anchor = "end" if x > WIDTH - RIGHT - 20 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" class="tick" text-anchor="{anchor}">{tick:g} s</text>')
    parts.append("</svg>")
    legend = [f'<span class="key" style="background:{OWN_COLOUR}"></span>the lane user\'s own events',
              f'<span class="key" style="background:{UNKNOWN_COLOUR}"></span>owner unknown',
              "▼ a finding (coloured by the owner of the event)"]
    for owner, colour in list(owners.items())[:12]:
        legend.append(f'<span class="key" style="background:{colour}"></span>{esc(owner[:24])}\'s events')
    notes = []
    if len(users) > len(shown):
        notes.append(f"showing {len(shown)} of {len(users)} users")
    if any(len(events) >= MAX_LANE_EVENTS for events in lanes.values()):
        notes.append(f"at most {MAX_LANE_EVENTS} events per user")
    note = f'<p class="muted">{esc("; ".join(notes))}</p>' if notes else ""
    return Markup(f'<p class="legend">{" ".join(legend)}</p>{"".join(parts)}{note}')  # values went through esc
