"""The byte needle only ever skips frames that cannot be refusals: every refusal, however it is
written, still reaches ``refusal_detail``."""

from __future__ import annotations

import json

import orjson
import pytest

from xtalk.client.refusal import may_refuse, refusal_detail, refusal_needle
from xtalk.profiles import get_profile

NETRA = get_profile("netra")
CHAINLIT = get_profile("chainlit")

TEXTS = [
    b'{"type":"error","error_code":"AUTH_FAILED","message":"expired"}',
    b'{"type":"error","data":{"error_code":"AUTH_FAILED"}}',
    b'{"type":"error","payload":{"error_code":"AUTH_\\u0046AILED"}}',  # an escape: tested in full
    json.dumps({"type": "error", "error_code": "AUTH_FAILED"}, indent=2).encode(),
    b'{"type":"agent_thinking","run_id":"r1","reasoning":"AUTH_FAILED is a word here"}',
    b'{"type":"agent_thinking","run_id":"r1","reasoning":"nothing to see"}',
    b'{"type":"error","error_code":"RATE_LIMITED"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_text_the_needle_skips_is_never_a_refusal(text: bytes) -> None:
    frame = orjson.loads(text)
    if refusal_detail(NETRA, frame) is not None:
        assert may_refuse(refusal_needle(NETRA), text)


def test_netra_has_a_needle_and_skips_plain_agent_events() -> None:
    needle = refusal_needle(NETRA)
    assert needle == b'"AUTH_FAILED"'
    assert not may_refuse(needle, TEXTS[5])
    assert all(may_refuse(needle, text) for text in TEXTS[:4])


def test_without_a_needle_every_frame_is_tested() -> None:
    assert may_refuse(None, b"{}")
    assert refusal_needle(CHAINLIT) == b'"sio.connect_error"'
