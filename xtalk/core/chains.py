"""Parent chains: which request a step answers, when the server echoes the client's message id.

Some backends (Chainlit) put every step of a run under a parent: the run's first step names the
client's own message id as its parent, and each further step (a model call, a tool, the streamed
answer) names the step it hangs under; a streamed token names only its message's id. The root of
a chain that equals a request's client message id is the strongest evidence of which request an
event answers: the server said so itself.

``Chains`` learns client message ids from sends (the profile's ``request_echo``), and steps from
the events as they arrive (``resolve``): a step whose parent is a client message id, or a step
already resolved, resolves to that request, and so does the step itself from then on. Memory is
bounded by the requests remembered: ``forget`` drops a request's steps with it.
"""

from __future__ import annotations

from xtalk.core.ids import ReqId


class Chains:
    def __init__(self) -> None:
        self._echo: dict[str, ReqId] = {}  # client message id → request
        self._root: dict[str, ReqId] = {}  # step id → the request its chain roots at
        self._steps: dict[ReqId, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._echo)

    def sent(self, message_id: str, req: ReqId) -> None:
        self._echo.setdefault(message_id, req)
        self._steps.setdefault(req, []).append(message_id)

    def resolve(self, step: str | None, parent: str | None) -> ReqId | None:
        """The request whose client message id roots this step's chain, if known."""
        req: ReqId | None = None
        if parent is not None:
            req = self._echo.get(parent) or self._root.get(parent)
        if req is None and step is not None:
            req = self._echo.get(step) or self._root.get(step)
        if req is not None and step is not None and step not in self._root and step not in self._echo:
            self._root[step] = req
            self._steps.setdefault(req, []).append(step)
        return req

    def forget(self, req: ReqId) -> None:
        for step in self._steps.pop(req, ()):
            self._root.pop(step, None)
            if self._echo.get(step) == req:
                del self._echo[step]
