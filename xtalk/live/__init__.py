"""Live isolation checking during a run (issue 7).

- ``xtalk.live.snapshot``: the worker side: a ``LiveChecker`` feeds each record the recorder
  writes to a ``Checker`` and condenses its state into a small snapshot (counts per anomaly
  kind, the latest findings, requests sent/completed/in flight, events).
- ``xtalk.live.worker``: the greenlet that sends a worker's snapshot to the master every 2 s.
- ``xtalk.live.board``: the master side: the latest snapshot of each worker, summed.
- ``xtalk.live.web``: the isolation tab in Locust's web UI and its JSON endpoint.
- ``xtalk.live.progress``: the same counts as one terminal line, for headless runs.
- ``xtalk.live.plugin``: the Locust glue (messages, greenlets, listeners).

A worker sees only its own users, so its live counts are a lower bound and a leak between users
of two workers may show live under another kind (an event of an unknown run is a
``phantom_event`` to the receiver's worker). The verdict is always the offline merge of all
shards (``xtalk.history.check_files``), never these counts.
"""
