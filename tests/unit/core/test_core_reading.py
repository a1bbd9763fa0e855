"""Reading histories in blocks, and scanning markers in bytes, agree with the plain ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from xtalk import history
from xtalk.core.ids import Marker, ReqId
from xtalk.core.markers import MarkerIndex


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_lines_split_across_read_blocks_come_back_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         ending: bytes) -> None:
    monkeypatch.setattr(history, "BLOCK", 7)  # every line straddles a block, and so does "\r\n"
    lines = [b'{"kind":"meta"}', b"", b'{"kind":"end","t":1.5,"drain":0}', b"x" * 20]
    path = tmp_path / "h.jsonl"
    path.write_bytes(ending.join(lines) + ending)
    assert list(history.read_lines(path)) == lines


def test_scanning_bytes_finds_the_same_markers_as_scanning_text() -> None:
    index = MarkerIndex()
    index.add(Marker("xtm-00000000000000aa"), ReqId("a-r1"))
    index.add(Marker("m-07-0042"), ReqId("b-r1"))
    line = '{"frame":{"thought":"Reading:\\nxtm-00000000000000aa. and m-07-0042, again xtm-00000000000000aa"}}'
    assert index.scan(line.encode()) == index.scan(line) == (
        (Marker("xtm-00000000000000aa"), ReqId("a-r1")), (Marker("m-07-0042"), ReqId("b-r1")))


def test_an_unknown_marker_shaped_token_is_no_marker() -> None:
    index = MarkerIndex()
    index.add(Marker("xtm-00000000000000aa"), ReqId("a-r1"))
    assert index.scan(b'{"text":"xtm-00000000000000ab"}') == ()
