"""The reference backend: a Netra-protocol agent chat server with switchable isolation bugs.

``build_app(config)`` (``xtalk.backend.app``) is the ASGI app; ``xtalk serve`` runs it on uvicorn
(``xtalk.backend.server``); ``xtalk.backend.faults.FAULTS`` lists the faults it can inject and the
anomaly kinds each must produce; ``xtalk.backend.proof`` judges ``xtalk selftest`` runs.

Module map: ``config`` (settings), ``tokens`` (JWTs), ``directory`` (accounts, threads),
``http_api`` (auth and threads routes), ``websocket`` (handshake, auth, dispatch), ``session``
(connections, registry), ``agent`` (the stub agent's steps, plain faults), ``envelopes`` (event
families), ``engines`` (runs, engine paths, delivery), ``mechanisms`` (Netra's shared-state bugs),
``faults`` (the table, draws, ground truth), ``proof`` (selftest judgment).
"""
