"""``Chains``: a step's parent chain rooted at a client message id names the request."""

from __future__ import annotations

from xtalk.core.chains import Chains
from xtalk.core.ids import ReqId

R = ReqId("alice-r1")


def test_a_chain_rooted_at_a_client_message_id_resolves_to_its_request_step_by_step() -> None:
    chains = Chains()
    chains.sent("msg-1", R)
    assert chains.resolve("run-step", "msg-1") == R
    assert chains.resolve("tool-step", "run-step") == R
    assert chains.resolve("stream-1", None) is None  # an unknown id alone resolves nothing
    assert chains.resolve("answer", "run-step") == R
    assert chains.resolve("answer", None) == R  # a token naming only its message id


def test_steps_of_unknown_parents_and_forgotten_requests_resolve_to_nothing() -> None:
    chains = Chains()
    chains.sent("msg-1", R)
    assert chains.resolve("on-chat-start", None) is None
    chains.resolve("run-step", "msg-1")
    chains.forget(R)
    assert chains.resolve("tool-step", "run-step") is None and not chains
