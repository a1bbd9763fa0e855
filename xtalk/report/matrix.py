"""The who-received-whose matrix: owners (rows) × receivers (columns), cross-user cells red.

A cell (owner A, receiver B) counts the events of A's requests delivered to B. The diagonal is the
normal case; any other non-zero cell is a leak. A cell listed in ``matrix.content`` also carries a
content leak (A's content marker reached B: ``cross_user_content``) and is marked as such. Up to ``FULL_LIMIT`` users the full matrix is drawn.
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


def read_content(verdict: dict[str, Any]) -> dict[tuple[str, str], int]:
    """``{(owner, receiver): n}`` of the content leaks among the cells (``matrix.content``)."""
    content: dict[tuple[str, str], int] = {}
    for cell in view.as_list(view.dig(verdict, "matrix", "content")):
        if not isinstance(cell, list) or len(cell) < 3:
            continue
        owner, receiver, count = view.as_str(cell[0]), view.as_str(cell[1]), view.as_int(cell[2])
        if owner is None or receiver is None or not count or owner == receiver:
            continue
        content[(owner, receiver)] = content.get((owner, receiver), 0) + count
    return content


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


def _cell_title(owner: str, receiver: str, count: int, content: int) -> str:
    what = f"{receiver} received {count} event(s) of {owner}'s requests"
    if content:
        what += f", {content} of them carrying {owner}'s content (a content leak)"
    return what


def _full_table(users: list[str], cells: dict[tuple[str, str], int],
                content: dict[tuple[str, str], int]) -> dict[str, Any]:
    rows = []
    for owner in users:
        tds: list[dict[str, Any] | None] = []
        for receiver in users:
            count = cells.get((owner, receiver), 0)
            if not count:
                tds.append(None)
                continue
            leaked = content.get((owner, receiver), 0)
            kind = "own" if owner == receiver else ("leak content" if leaked else "leak")
            tds.append({"cls": kind, "count": count, "title": _cell_title(owner, receiver, count, leaked),
                        "content": bool(leaked)})
        rows.append({"owner": owner, "cells": tds})
    return {"users": users, "rows": rows}


def _leak_list(groups: list[tuple[str, list[str]]], cells: dict[tuple[str, str], int],
               content: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    index = {user: g for g, (_, members) in enumerate(groups) for user in members}
    blocks: dict[tuple[int, int], list[tuple[str, str, int]]] = {}
    for (owner, receiver), count in cells.items():
        if owner != receiver:
            blocks.setdefault((index[owner], index[receiver]), []).append((owner, receiver, count))
    out = []
    for (i, j), pairs in sorted(blocks.items(), key=lambda kv: -sum(c for *_, c in kv[1])):
        pairs.sort(key=lambda p: -p[2])
        out.append({
            "id": f"drill-{i}-{j}", "from": groups[i][0], "to": groups[j][0],
            "total": sum(c for *_, c in pairs), "count": len(pairs),
            "pairs": [{"owner": o, "receiver": r, "events": c, "content": content.get((o, r), 0)}
                      for o, r, c in pairs[:MAX_LEAK_ROWS]],
            "more": max(0, len(pairs) - MAX_LEAK_ROWS),
        })
    return out


def _group_table(groups: list[tuple[str, list[str]]], cells: dict[tuple[str, str], int],
                 content: dict[tuple[str, str], int]) -> dict[str, Any]:
    index = {user: g for g, (_, members) in enumerate(groups) for user in members}
    own: dict[tuple[int, int], int] = {}
    leak: dict[tuple[int, int], int] = {}
    leaked_content: dict[tuple[int, int], int] = {}
    for (owner, receiver), count in cells.items():
        key = (index[owner], index[receiver])
        target = own if owner == receiver else leak
        target[key] = target.get(key, 0) + count
    for (owner, receiver), count in content.items():
        if owner in index and receiver in index:
            key = (index[owner], index[receiver])
            leaked_content[key] = leaked_content.get(key, 0) + count
    rows = []
    for i, (name, members) in enumerate(groups):
        tds: list[dict[str, Any] | None] = []
        for j in range(len(groups)):
            leaked, normal, text = leak.get((i, j), 0), own.get((i, j), 0), leaked_content.get((i, j), 0)
            if leaked:
                title = f"{leaked} event(s) of group {name}'s users delivered to other users in group {groups[j][0]}"
                if text:
                    title += f", {text} of them carrying their owners' content (content leaks)"
                tds.append({"cls": "leak content" if text else "leak", "count": leaked, "title": title,
                            "block": f"{i},{j}", "link": f"#drill-{i}-{j}", "content": bool(text)})
            elif normal:
                tds.append({"cls": "own", "count": normal, "title": f"{normal} own events", "block": f"{i},{j}",
                            "link": None, "content": False})
            else:
                tds.append(None)
        rows.append({"name": name, "size": len(members), "cells": tds})
    return {"groups": [name for name, _ in groups], "rows": rows}


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


def matrix_section(verdict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The section's values for ``matrix.html`` and, for a grouped matrix, the data its drill-down
    script reads."""
    users, cells = read_matrix(verdict)
    if not users:
        return {"empty": True}, None
    content = read_content(verdict)
    leaks = sum(c for (o, r), c in cells.items() if o != r)
    context: dict[str, Any] = {"empty": False, "users": len(users), "leaks": leaks,
                               "content_cells": len(content), "content_events": sum(content.values())}
    if len(users) <= FULL_LIMIT:
        groups = [(u, [u]) for u in users]
        context.update(full=_full_table(users, cells, content), grouped=None,
                       leak_list=_leak_list(groups, cells, content) if leaks else [])
        return context, None
    groups = group_users(verdict, users)
    context.update(full=None, grouped=_group_table(groups, cells, content),
                   leak_list=_leak_list(groups, cells, content))
    return context, matrix_data(groups, cells)
