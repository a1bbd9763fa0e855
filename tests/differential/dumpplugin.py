"""pytest plugin: collect every history checked through ``xtalk.history.check_lines`` into the
bundle at ``$DUMP_BUNDLE`` (see ``tests/differential/corpus.py``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xtalk.history as history
from tests.differential.corpus import write_bundle

_seen: dict[str, bytes] = {}
_check_lines = history.check_lines


def _dumping(lines: Iterable[bytes], config: Any) -> Any:
    kept = list(lines)
    data = b"\n".join(kept) + b"\n"
    _seen[hashlib.sha256(data).hexdigest()[:16]] = data
    return _check_lines(kept, config)


history.check_lines = _dumping  # type: ignore[assignment]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    write_bundle(Path(os.environ["DUMP_BUNDLE"]), _seen)
