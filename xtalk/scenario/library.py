"""Where scenario names are found: the current folder's ``scenarios/`` first, then the package.

``xtalk run golden_path`` means ``./scenarios/golden_path.toml`` when the current folder has one
(a team's own copy wins), else the scenario shipped with xtalk. In a wheel the shipped scenarios
are package data (``xtalk/scenarios/*.toml``, copied at build time from the repository's top-level
``scenarios/``, the one copy of each file); in a checkout or an editable install they are that
top-level folder itself.

Each file's comment block says when to use it (``# When to use it: ...``); ``describe`` reads
that line for ``xtalk scenarios``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LOCAL_DIR = "scenarios"
_WHEN = re.compile(r"^#\s*When to use it:\s*(.*)$", re.IGNORECASE)


def packaged_dir() -> Path | None:
    """The folder of the scenarios shipped with xtalk, or None when this install has none."""
    try:
        inside = Path(str(resources.files("xtalk").joinpath("scenarios")))
    except (ModuleNotFoundError, TypeError):
        inside = None
    if inside is not None and inside.is_dir():
        return inside
    checkout = Path(__file__).resolve().parents[2] / LOCAL_DIR  # a checkout or an editable install
    if checkout.is_dir() and (checkout.parent / "xtalk" / "__init__.py").is_file():
        return checkout
    return None


def find_named(name: str) -> str | None:
    """The file a bare scenario name (``golden_path``) stands for, or None."""
    if not name or os.sep in name or "/" in name or name.endswith((".toml", ".json")):
        return None
    local = Path(LOCAL_DIR) / f"{name}.toml"
    if local.is_file():
        return str(local)
    shipped = packaged_dir()
    if shipped is not None and (shipped / f"{name}.toml").is_file():
        return str(shipped / f"{name}.toml")
    return None


def first_sentence(text: str) -> str:
    """The paragraph up to its first full stop (``e.g.`` and ``1.5`` do not end it)."""
    match = re.search(r"(?<!e\.g)(?<!i\.e)\.(\s|$)", text)
    return text[: match.start() + 1] if match else text


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    path: Path
    source: str  # "here" (./scenarios) or "xtalk" (shipped)
    when: str  # the first sentence of the file's "When to use it" paragraph ("" when it has none)


def describe(path: Path) -> str:
    """The "When to use it" paragraph of a scenario file, as one line."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for index, line in enumerate(lines):
        match = _WHEN.match(line.strip())
        if not match:
            continue
        parts = [match.group(1).strip()]
        for more in lines[index + 1:]:
            text = more.strip()
            if not text.startswith("#") or not text.lstrip("#").strip():
                break
            parts.append(text.lstrip("#").strip())
        return " ".join(p for p in parts if p)
    return ""


def entries() -> list[Entry]:
    """Every scenario a bare name can reach; a local file hides the shipped one of its name."""
    found: dict[str, Entry] = {}
    shipped = packaged_dir()
    local = Path(LOCAL_DIR)
    for folder, source in ((local, "here"), (shipped, "xtalk")):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            if path.stem not in found:
                found[path.stem] = Entry(path.stem, path, source, first_sentence(describe(path)))
        if folder is local and shipped is not None and local.resolve() == shipped.resolve():
            break
    return sorted(found.values(), key=lambda e: e.name)
