"""Content markers: every known marker found in one pass, whatever surrounds it."""

from __future__ import annotations

import orjson

from xtalk.core.ids import Marker, ReqId
from xtalk.core.markers import MarkerIndex


def _index(*pairs: tuple[str, str]) -> MarkerIndex:
    index = MarkerIndex()
    for marker, req in pairs:
        index.add(Marker(marker), ReqId(req))
    return index


A = "xtm-0123456789abcdef"
B = "xtm-fedcba9876543210"


def test_an_empty_index_finds_nothing() -> None:
    assert list(MarkerIndex().find(f"text {A}")) == []


def test_every_known_marker_is_found_in_order_with_its_request() -> None:
    index = _index((A, "u1-r1"), (B, "u2-r1"))
    assert list(index.find(f"x {B} y {A} z {B}")) == [(B, "u2-r1"), (A, "u1-r1"), (B, "u2-r1")]


def test_an_unknown_token_with_a_known_prefix_is_not_a_marker() -> None:
    index = _index((A, "u1-r1"))
    assert list(index.find("xtm-0000000000000000 and xtm-")) == []


def test_a_marker_after_a_json_newline_escape_is_found() -> None:
    index = _index((A, "u1-r1"))
    line = orjson.dumps({"frame": {"data": {"thought": f"first line\n{A}\nlast"}}}).decode()
    assert "\\n" + A in line
    assert list(index.find(line)) == [(A, "u1-r1")]


def test_a_marker_after_other_json_escapes_is_found() -> None:
    index = _index((A, "u1-r1"))
    for text in (f"\t{A}", f'"{A}"', f"\\{A}", f"\u2028{A}"):
        line = orjson.dumps({"t": text}).decode()
        assert list(index.find(line)) == [(A, "u1-r1")], line


def test_a_marker_followed_by_sentence_punctuation_is_found() -> None:
    index = _index((A, "u1-r1"))
    for text in (f"see {A}.", f"see {A}:", f"({A})", f"[{A}]", f"{A}, then", f"{A}-"):
        assert list(index.find(text)) == [(A, "u1-r1")], text


def test_a_marker_glued_to_more_token_characters_is_a_different_token() -> None:
    index = _index((A, "u1-r1"))
    assert list(index.find(f"{A}ff")) == []


def test_markers_with_different_prefixes_are_all_found() -> None:
    index = _index(("m-07-0042", "u7-r42"), (A, "u1-r1"), ("REQ:9", "u9-r9"))
    found = list(index.find(f"{A} / m-07-0042 / REQ:9"))
    assert found == [(A, "u1-r1"), ("m-07-0042", "u7-r42"), ("REQ:9", "u9-r9")]


def test_a_discarded_marker_is_no_longer_found() -> None:
    index = _index((A, "u1-r1"), (B, "u2-r1"))
    index.discard(Marker(A))
    assert list(index.find(f"{A} {B}")) == [(B, "u2-r1")]
    assert index.owner(A) is None and index.owner(B) == "u2-r1"


def test_the_first_request_to_mint_a_marker_keeps_it() -> None:
    index = _index((A, "u1-r1"), (A, "u2-r1"))
    assert index.owner(A) == "u1-r1" and len(index) == 1


def test_thousands_of_markers_are_found_in_one_text() -> None:
    pairs = [(f"xtm-{n:016x}", f"u{n}-r1") for n in range(5000)]
    index = _index(*pairs)
    text = " ".join(m for m, _ in pairs[::100])
    assert [req for _, req in index.find(text)] == [r for _, r in pairs[::100]]


def test_odd_markers_are_found_literally_in_order_among_token_markers() -> None:
    index = _index((A, "u1-r1"), ("<<m-7>>", "u2-r1"), ("alice/r1", "u3-r1"))
    text = f"x alice/r1 y {A} z <<m-7>>"
    assert list(index.find(text)) == [("alice/r1", "u3-r1"), (A, "u1-r1"), ("<<m-7>>", "u2-r1")]
    assert index.scan(text.encode()) == (("alice/r1", "u3-r1"), (A, "u1-r1"), ("<<m-7>>", "u2-r1"))
    assert len(index) == 3


def test_an_odd_marker_is_found_in_its_json_escaped_forms() -> None:
    index = _index(("\u27e6a1\u27e7", "u1-r1"), ('say "hi"', "u2-r1"))
    line = orjson.dumps({"t": "\u27e6a1\u27e7"}).decode()
    assert index.scan(line) == (("\u27e6a1\u27e7", "u1-r1"),)
    assert index.scan('{"t": "\\u27e6a1\\u27e7"}') == (("\u27e6a1\u27e7", "u1-r1"),)
    assert index.scan(orjson.dumps({"t": 'say "hi"'})) == (('say "hi"', "u2-r1"),)


def test_an_odd_marker_glued_to_more_token_characters_is_another_string_and_a_discarded_one_is_gone() -> None:
    index = _index(("alice/r1", "u1-r1"))
    assert list(index.find("alice/r12")) == []
    assert list(index.find("(alice/r1).")) == [("alice/r1", "u1-r1")]
    index.discard(Marker("alice/r1"))
    assert list(index.find("alice/r1")) == [] and len(index) == 0
