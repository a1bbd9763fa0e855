"""SPEC's "a torn history": a cut last line and a missing end record make a run inconclusive
unless an anomaly was found; the checker never raises on any input; lines end with ``\\n``
only, and U+2028, U+2029 and U+0085 inside JSON strings are content.

These go through files and ``xtalk.history.check_files``, as ``xtalk check`` reads them.
Already in the corpus: a history without an end record, and time running backwards
(test_quality_verdict.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.histories import History, clean_pair, findings, only, requests_of, saying, two_users_overlapping, witnesses

SPEC_KINDS = {
    "cross_user_event", "cross_user_content", "identity_mismatch", "phantom_event", "dropped_response",
    "incomplete_run", "duplicate_event", "out_of_order", "event_after_completion", "mixed_engine_run",
    "engine_divergence", "protocol_error", "connection_lost",
}


def _sound(v: Any) -> dict[str, Any]:
    """What every verdict must be, whatever the input: one of the three verdicts with its exit
    code, every anomaly kind of SPEC listed, and JSON as it stands."""
    data: dict[str, Any] = v.to_dict()
    assert data["verdict"] in ("pass", "fail", "inconclusive") and v.verdict == data["verdict"]
    assert v.exit_code == {"pass": 0, "fail": 1, "inconclusive": 2}[data["verdict"]]
    assert SPEC_KINDS <= set(data["anomalies"])
    assert orjson.loads(orjson.dumps(data)) == data
    return data


def _cut_mid_run() -> tuple[History, int]:
    """alice and bob answered; alice's follow-up in flight, its last event the last record."""
    h, a, b = clean_pair()
    a2 = h.ask("alice", at=2.0, verb="user_message", text="And by team?")
    h.deliver("alice", h.frames(a2)[:3], at=2.1)
    return h, a2.t


# ---- a torn history ----------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97])
def test_a_history_whose_last_line_is_cut_mid_record_is_inconclusive(tmp_path: Path, keep: float) -> None:
    h, _ = _cut_mid_run()
    data = h.torn_text(keep)
    assert not data.endswith(b"\n")
    v = h.check_file(tmp_path / "history.jsonl", data)
    d = _sound(v)
    assert v.verdict == "inconclusive" and v.exit_code == 2
    assert only(v) == {}  # a cut history line is no frame of the server's: not a protocol_error
    assert d["inconclusive"]["reason"] and d["inconclusive"]["advice"]
    assert requests_of(v)["unknown"] == 1  # the follow-up, still in flight when the file stops


def test_a_history_cut_inside_a_multibyte_character_is_inconclusive(tmp_path: Path) -> None:
    h, a, b = clean_pair()
    h.recv("bob", {"type": "heartbeat", "data": {"note": "Überweisung € 10"}}, at=2.0)
    whole = h.text().rstrip(b"\n")
    cut = whole.index("€".encode()) + 1  # one byte into the three of the euro sign
    v = h.check_file(tmp_path / "history.jsonl", whole[:cut])
    _sound(v)
    assert v.verdict == "inconclusive" and only(v) == {}


def test_a_leak_in_a_torn_history_fails_the_run(tmp_path: Path) -> None:
    """A leak beats inconclusive: the run is failed although its history is torn."""
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[1], at=1.5)
    leak = h.line(h.last)
    h.ask("alice", at=2.0)
    h.recv("alice", {"type": "heartbeat", "data": {}}, at=2.5)
    v = h.check_file(tmp_path / "history.jsonl", h.torn_text(0.5))
    _sound(v)
    assert v.verdict == "fail" and v.exit_code == 1
    assert only(v) == {"cross_user_event": 1}
    assert witnesses(v, "cross_user_event") == [[h.line(a.record), leak]]


def test_without_an_end_record_a_request_past_its_deadline_is_unknown_not_dropped(tmp_path: Path) -> None:
    """The history stops at 50 s, well past bob's second request's deadline, but with no end
    record: the run did not finish cleanly, so nothing is concluded about that request."""
    h, a, b = clean_pair()
    h.ask("bob", at=2.0)
    h.recv("alice", {"type": "heartbeat", "data": {}}, at=50.0)
    v = h.check_file(tmp_path / "history.jsonl")
    _sound(v)
    assert v.verdict == "inconclusive"
    assert only(v) == {}
    r = requests_of(v)
    assert (r["completed"], r["unknown"], r["dropped"]) == (2, 1, 0)


def test_a_history_line_that_is_not_json_is_inconclusive_not_a_protocol_error(tmp_path: Path) -> None:
    """Reading: a line of the history file that is no record (an editor's stray text, a
    half-written line mid-file) breaks the checker's assumptions; it is not a frame the server
    sent, so it is not a protocol_error."""
    h, a, b = clean_pair()
    h.history_line(b"### this line is not a record", at=1.5)
    v = h.end(at=10.0).check_file(tmp_path / "history.jsonl")
    _sound(v)
    assert v.verdict == "inconclusive" and only(v) == {}


@pytest.mark.parametrize("data", [b"", b"\n\n\n", b"\x00" * 64, b"\xff\xfe\xfd\n{", b"[" * 5000],
                         ids=["empty", "blank-lines", "nul-bytes", "not-utf8", "too-deep"])
def test_a_history_file_of_nothing_usable_gives_an_inconclusive_verdict(tmp_path: Path, data: bytes) -> None:
    v = History().check_file(tmp_path / "history.jsonl", data)
    _sound(v)
    assert v.verdict == "inconclusive" and only(v) == {}


# ---- the checker never raises --------------------------------------------------------------

_R = '{"kind":"recv","t":1.5,"user":"bob","conn":"bob-c1",'
NASTY = [
    b"not json", b"{", b"}", b"[1,2,3]", b"null", b"42", b'"text"', b"true", b"[" * 3000 + b"]" * 3000,
    b"\x00\xff\xfe", b'{"kind":"recv"}', b'{"kind":null}', b'{"kind":["recv"]}', b'{"kind":"nonsense","t":1.5}',
    b'{"kind":"recv","t":"soon","user":"bob","conn":"bob-c1","frame":{}}',
    b'{"kind":"recv","t":true,"user":"bob","conn":"bob-c1","frame":{"type":"agent_thinking"}}',
    b'{"kind":"recv","t":1.5,"user":null,"conn":null,"frame":{"type":"agent_thinking"}}',
    b'{"kind":"recv","t":1.5,"user":7,"conn":["x"],"frame":{"type":"agent_thinking"}}',
    b'{"kind":"recv","t":1e308,"user":"bob","conn":"bob-c1","frame":{"type":"heartbeat"}}',
    b'{"kind":"recv","t":-5,"user":"bob","conn":"bob-c1","frame":{"type":"heartbeat"}}',
    (_R + '"frame":{"type":"agent_thinking","run_id":{"x":1},"user_id":[1],"thread_id":7,"agent_name":{}}}').encode(),
    (_R + '"frame":{"type":"agent_started","run_id":123456789012345678901234567890}}').encode(),
    (_R + '"frame":{"type":"tool_executing","run_id":18446744073709551615,"execution_id":[],"tool_name":5}}').encode(),
    (_R + '"frame":{"type":"event_batch","events":{"agent_thinking":[1,2]}}}').encode(),
    (_R + '"frame":{"type":"event_batch","events":[{"type":"event_batch","events":[]}]}}').encode(),
    (_R + '"frame":{"type":"event_batch","events":{"agent_thinking":{"run_id":"r"}}}}').encode(),
    (_R + '"frame":{"type":"system_message","data":{"event":["agent_started"]}}}').encode(),
    (_R + '"frame":{"type":"system_message","data":"agent_started"}}').encode(),
    (_R + '"frame":{"type":"connection_established","data":{"user_id":{"a":1},"mode":[]}}}').encode(),
    (_R + '"frame":{"type":"agent_completed","attempt":{"n":2},"timestamp":[]}}').encode(),
    (_R + '"raw":5}').encode(),
    (_R + '"raw":"\\u0000\\ud800","binary":true}').encode(),
    b'{"kind":"recv","t":1.5,"user":"bob","conn":"nobody-c9","frame":{"type":"agent_completed","run_id":"r"}}',
    b'{"kind":"send","t":1.5,"user":"bob","conn":"bob-c1","req":{"a":1},"marker":5,"frame":"x"}',
    b'{"kind":"send","t":1.5,"user":"bob","conn":"bob-c1","req":"bob-r90","marker":"","frame":null}',
    b'{"kind":"send","t":1.5,"user":"bob","conn":"bob-c1","req":"bob-r91","marker":"a.*(","frame":{"type":"start_agent"}}',
    b'{"kind":"send","t":1.5,"user":"bob","conn":"bob-c1","req":"bob-r92","marker":"x","thread":["t"],"frame":{}}',
    b'{"kind":"send","t":1.5,"user":"bob","conn":"new-c7","req":"bob-r93","marker":"\xc3\xbc-mark","frame":{}}',
    b'{"kind":"login","t":1.5,"user":"zed","identity":null}',
    b'{"kind":"login","t":1.5,"user":"zed","identity":{"sub":"x"}}',
    b'{"kind":"open","t":1.5,"user":"zed","conn":null,"engine":5}',
    b'{"kind":"close","t":1.5,"user":"bob","conn":"bob-c1","code":"x","by":5}',
    b'{"kind":"error","t":1.5,"phase":{"x":1}}',
    b'{"kind":"meta","schema":"xtalk.history/9"}',
    b'{"kind":"end","t":"late","drain":"x"}',
]


@pytest.mark.parametrize("line", NASTY, ids=[f"line{i}" for i in range(len(NASTY))])
def test_no_history_line_makes_the_checker_raise(tmp_path: Path, line: bytes) -> None:
    h, a, b = clean_pair()
    h.history_line(line, at=1.5)
    h.end(at=10.0)
    _sound(h.check_file(tmp_path / "history.jsonl"))
    _sound(h.check())


def test_every_nasty_line_at_once_still_gives_a_verdict(tmp_path: Path) -> None:
    h, a, b = clean_pair()
    for i, line in enumerate(NASTY):
        h.history_line(line, at=round(1.15 + i * 0.001, 6))
    _sound(h.end(at=10.0).check_file(tmp_path / "history.jsonl"))


# ---- lines end with \n only ----------------------------------------------------------------

SEPARATORS = "\u2028\u2029\u0085"


def test_unicode_line_separators_inside_json_strings_are_content_not_line_breaks(tmp_path: Path) -> None:
    """A history whose texts hold U+2028, U+2029 and U+0085 (written raw, as orjson writes
    them): each record is still one line, so the leak's witness lines are the file's own
    ``\\n``-counted lines, and the marker right after a separator is still found."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"line one{SEPARATORS}{a.marker}{SEPARATORS}line three")
    frames[6] = saying(frames[6], f"Done:{SEPARATORS}{b.text}{SEPARATORS}")
    lines = h.deliver("bob", frames, at=1.2)
    h.end(at=10.0)
    data = h.text()
    assert "\u2028".encode() in data and "\u0085".encode() in data  # raw in the file, not escaped
    v = h.check_file(tmp_path / "history.jsonl", data)
    _sound(v)
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
    assert data.split(b"\n")[lines[1] - 1] == orjson.dumps(h.ordered()[lines[1] - 1])


def test_line_separators_in_every_text_of_a_clean_run_pass(tmp_path: Path) -> None:
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0, text=f"Spend{SEPARATORS}by team")
    b = h.ask("bob", at=1.05, text=f"Costs\u2028last week")
    h.answer(a, at=1.1)
    h.answer(b, at=1.12, family="emitter")
    v = h.end(at=10.0).check_file(tmp_path / "history.jsonl")
    _sound(v)
    assert only(v) == {} and v.verdict == "pass"
    assert v.to_dict()["events"] == 14 and requests_of(v)["completed"] == 2


def test_a_raw_frame_holding_a_line_separator_is_one_protocol_error_on_its_own_line(tmp_path: Path) -> None:
    h, a, b = clean_pair()
    h.raw("bob", f"Internal error{SEPARATORS}<html>", at=1.5)
    line = h.line(h.last)
    v = h.end(at=10.0).check_file(tmp_path / "history.jsonl")
    assert only(v) == {"protocol_error": 1}
    assert witnesses(v, "protocol_error") == [[line]]
    assert findings(v)[0]["user"] == "bob"


def test_a_carriage_return_between_json_tokens_does_not_end_a_line(tmp_path: Path) -> None:
    """JSON allows \\r as whitespace between tokens; only \\n ends a history line."""
    h, a, b = two_users_overlapping()
    h.answer(a, at=1.1)
    frames = h.frames(b)
    frames[1] = saying(frames[1], f"Someone asked: {a.text}")
    lines = h.deliver("bob", frames, at=1.2)
    h.end(at=10.0)
    records = h.lines()
    records[lines[1] - 1] = records[lines[1] - 1].replace(b',"t":', b',\r"t":', 1)
    v = h.check_file(tmp_path / "history.jsonl", b"".join(r + b"\n" for r in records))
    assert only(v) == {"cross_user_content": 1}
    assert witnesses(v, "cross_user_content") == [[h.line(a.record), lines[1]]]
