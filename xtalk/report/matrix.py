"""The who-received-whose matrix: owners (rows) × receivers (columns), cross-user cells red.

A cell (owner A, receiver B) counts the events of A's requests delivered to B. The diagonal is the
normal case; any other non-zero cell is a leak. Up to ``FULL_LIMIT`` users the full matrix is drawn.
Beyond, users are grouped (by the verdict's ``matrix.groups`` when the checker provides them, e.g.
per engine path, else in blocks of consecutive user names) and the matrix shows groups × groups;
a block with leaks links to its user-level cells. The list of leaking pairs is plain HTML, so the
drill-down works without JavaScript; with it, clicking any block shows its user-level sub-matrix,
built from the JSON data block with ``textContent`` only.
"""

from __future__ import annotations

import math
from typing import Any

from xtalk.report import view
from xtalk.report.text import esc

FULL_LIMIT = 50
MAX_GROUPS = 40
MAX_LEAK_ROWS = 200  # per block in the no-JS drill-down list
MAX_DATA_CELLS = 200_000  # user-level cells handed to JS


def read_matrix(verdict: dict[str, Any]) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Users (the verdict's order, then any only seen in cells) and ``{(owner, receiver): count}``."""
    raw = view.as_dict(verdict.get("matrix"))
    users: list[str] = []
    seen: set[str] = set()
    for user in view.as_list(raw.get("users")):
        name = view.as_str(user)
        if name is not None and name not in seen:
            seen.add(name)
            users.append(name)
    cells: dict[tuple[str, str], int] = {}
    for cell in view.as_list(raw.get("cells")):
        if not isinstance(cell, list) or len(cell) < 3:
            continue
        owner, receiver, count = view.as_str(cell[0]), view.as_str(cell[1]), view.as_int(cell[2])
        if owner is None or receiver is None or not count:
            continue
        cells[(owner, receiver)] = cells.get((owner, receiver), 0) + count
        for name in (owner, receiver):
            if name not in seen:
                seen.add(name)
                users.append(name)
    return users, cells


def group_users(verdict: dict[str, Any], users: list[str]) -> list[tuple[str, list[str]]]:
    """Groups of users: the verdict's ``matrix.groups`` if any (the rest in "other"), else blocks."""
    given = view.as_dict(view.dig(verdict, "matrix", "groups"))
    known = set(users)
    if given:
        groups: list[tuple[str, list[str]]] = []
        placed: set[str] = set()
        for name, members in given.items():
            chosen = [m for m in (view.as_str(x) for x in view.as_list(members)) if m in known and m not in placed]
            placed.update(chosen)
            if chosen:
                groups.append((str(name), chosen))
        rest = [u for u in users if u not in placed]
        if rest:
            groups.append(("other", rest))
        return groups
    ordered = sorted(users)
    size = max(1, math.ceil(len(ordered) / MAX_GROUPS))
    blocks = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    return [(f"{block[0]}–{block[-1]}" if len(block) > 1 else block[0], block) for block in blocks]


def _full_table(users: list[str], cells: dict[tuple[str, str], int]) -> str:
    head = "".join(f'<th scope="col" class="rot"><span>{esc(u)}</span></th>' for u in users)
    rows = []
    for owner in users:
        tds = []
        for receiver in users:
            count = cells.get((owner, receiver), 0)
            if not count:
                tds.append("<td></td>")
                continue
            kind = "own" if owner == receiver else "leak"
            what = f"{receiver} received {count} event(s) of {owner}'s requests"
            tds.append(f'<td class="{kind}" title="{esc(what)}">{count}</td>')
        rows.append(f'<tr><th scope="row">{esc(owner)}</th>{"".join(tds)}</tr>')
    return (f'<div class="scroll"><table class="matrix"><thead><tr><th class="corner">owner ↓ receiver →</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _leak_list(groups: list[tuple[str, list[str]]], cells: dict[tuple[str, str], int]) -> str:
    index = {user: g for g, (_, members) in enumerate(groups) for user in members}
    blocks: dict[tuple[int, int], list[tuple[str, str, int]]] = {}
    for (owner, receiver), count in cells.items():
        if owner != receiver:
            blocks.setdefault((index[owner], index[receiver]), []).append((owner, receiver, count))
    if not blocks:
        return '<p class="ok-text">No event was delivered to a user other than its owner.</p>'
    out = ['<div class="drill-list"><h4>Leaking pairs by group</h4>']
    for (i, j), pairs in sorted(blocks.items(), key=lambda kv: -sum(c for *_, c in kv[1])):
        pairs.sort(key=lambda p: -p[2])
        rows = "".join(f"<tr><td>{esc(o)}</td><td>{esc(r)}</td><td class=\"num leak-text\">{c:,}</td></tr>"
                       for o, r, c in pairs[:MAX_LEAK_ROWS])
        more = (f'<p class="muted">{len(pairs) - MAX_LEAK_ROWS:,} more pairs not shown</p>'
                if len(pairs) > MAX_LEAK_ROWS else "")
        total = sum(c for *_, c in pairs)
        out.append(f'<details id="drill-{i}-{j}"><summary>{esc(groups[i][0])} → {esc(groups[j][0])}: '
                   f"{total:,} event(s), {len(pairs):,} pair(s)</summary>"
                   f'<table class="data"><thead><tr><th>owner</th><th>receiver</th><th>events</th></tr></thead>'
                   f"<tbody>{rows}</tbody></table>{more}</details>")
    out.append("</div>")
    return "".join(out)


def _group_table(groups: list[tuple[str, list[str]]], cells: dict[tuple[str, str], int]) -> str:
    index = {user: g for g, (_, members) in enumerate(groups) for user in members}
    own: dict[tuple[int, int], int] = {}
    leak: dict[tuple[int, int], int] = {}
    for (owner, receiver), count in cells.items():
        key = (index[owner], index[receiver])
        target = own if owner == receiver else leak
        target[key] = target.get(key, 0) + count
    head = "".join(f'<th scope="col" class="rot"><span>{esc(name)}</span></th>' for name, _ in groups)
    rows = []
    for i, (name, members) in enumerate(groups):
        tds = []
        for j in range(len(groups)):
            leaked, normal = leak.get((i, j), 0), own.get((i, j), 0)
            if leaked:
                what = f"{leaked} event(s) of group {name}'s users delivered to other users in group {groups[j][0]}"
                tds.append(f'<td class="leak" title="{esc(what)}"><a href="#drill-{i}-{j}" data-block="{i},{j}">'
                           f"{leaked:,}</a></td>")
            elif normal:
                tds.append(f'<td class="own" title="{esc(f"{normal} own events")}" data-block="{i},{j}">'
                           f"{normal:,}</td>")
            else:
                tds.append("<td></td>")
        rows.append(f'<tr><th scope="row">{esc(name)} <span class="muted">({len(members)})</span></th>'
                    f'{"".join(tds)}</tr>')
    return (f'<div class="scroll"><table class="matrix grouped"><thead><tr><th class="corner">owner group ↓ '
            f'receiver group →</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def matrix_data(groups: list[tuple[str, list[str]]], cells: dict[tuple[str, str], int]) -> dict[str, Any]:
    """The grouped matrix for the JS drill-down: users by index, groups as index lists, cells."""
    users = [u for _, members in groups for u in members]
    position = {u: k for k, u in enumerate(users)}
    start, membership = 0, []
    for _, members in groups:
        membership.append(list(range(start, start + len(members))))
        start += len(members)
    # Leaks first, so that a capped list still holds every leak.
    ordered = sorted(cells.items(), key=lambda kv: kv[0][0] == kv[0][1])[:MAX_DATA_CELLS]
    return {
        "users": users,
        "groups": [{"name": name, "members": m} for (name, _), m in zip(groups, membership)],
        "cells": [[position[o], position[r], c] for (o, r), c in ordered],
    }


def matrix_section(verdict: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The section's HTML and, for a grouped matrix, the data its drill-down script reads."""
    users, cells = read_matrix(verdict)
    if not users:
        return '<p class="muted">The verdict has no matrix.</p>', None
    leaks = sum(c for (o, r), c in cells.items() if o != r)
    summary = (f'<p>{len(users):,} users; <strong class="leak-text">{leaks:,} event(s) delivered to a user other '
               f"than their owner</strong>.</p>" if leaks else
               f'<p>{len(users):,} users; every event went to its owner only.</p>')
    if len(users) <= FULL_LIMIT:
        groups = [(u, [u]) for u in users]
        return summary + _full_table(users, cells) + (_leak_list(groups, cells) if leaks else ""), None
    groups = group_users(verdict, users)
    note = (f'<p class="muted">Grouped into {len(groups)} groups of users. Click a block to see its users '
            "(needs JavaScript); the leaking pairs are listed below the matrix.</p>")
    panel = '<div id="drill-panel" class="drill-panel" hidden></div>'
    return (summary + note + _group_table(groups, cells) + panel + _leak_list(groups, cells),
            matrix_data(groups, cells))
