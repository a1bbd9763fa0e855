"""The histories the differential test checks twice: bundles of whole history files.

A bundle (``tests/data/corpus/*.jsonl.gz``) holds one history a line, ``{"name": ..., "text": ...}``
(the history file as text) or ``{"name": ..., "b64": ...}`` (its bytes, base64, when they are not
UTF-8: quality histories include garbage and torn lines):

- ``quality.jsonl.gz``: every history the quality corpus checks, dumped by wrapping
  ``xtalk.history.check_lines`` (``tests/differential/dumpplugin.py``; refresh with
  ``DUMP_BUNDLE=tests/data/corpus/quality.jsonl.gz pytest -p tests.differential.dumpplugin tests/quality``);
- ``recorded.jsonl.gz``: the shards of ``xtalk selftest`` runs against the reference backend,
  one run per fault and a clean run (refresh with ``python -m tests.differential.record``).

``tests/data/chainlit/*.jsonl`` (recorded Chainlit sessions, where present) are read as they are.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson

DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLES = DATA / "corpus"


def read_bundle(path: Path) -> Iterator[tuple[str, bytes]]:
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                entry = orjson.loads(line)
                text = entry.get("text")
                yield entry["name"], text.encode() if text is not None else base64.b64decode(entry["b64"])


def write_bundle(path: Path, histories: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as handle:
        for name in sorted(histories):  # the same histories give the same bytes (no time stamp)
            data = histories[name]
            try:
                entry = {"name": name, "text": data.decode()}
                if entry["text"].encode() != data:
                    raise UnicodeError
            except UnicodeError:
                entry = {"name": name, "b64": base64.b64encode(data).decode()}
            handle.write(orjson.dumps(entry) + b"\n")


def bundle(name: str) -> list[tuple[str, bytes]]:
    path = BUNDLES / name
    return list(read_bundle(path)) if path.exists() else []


def chainlit() -> list[tuple[str, bytes]]:
    folder = DATA / "chainlit"
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
