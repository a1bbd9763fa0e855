"""Trials: many bounded runs of one scenario, for ``xtalk shrink`` and ``xtalk sweep``.

``execute.run_trial`` runs one scenario value into one folder through the runner
(``xtalk.runner.run.run_resolved``: the very path of ``xtalk run``, no second way of starting
Locust or the backend), with the run's own output (Locust's, the backend's, the summary) sent
to ``run.log`` in that folder, and hands back its exit status and verdict. ``progress`` shows
the trials going: Rich progress bars on a terminal, Locust-like time-stamped lines otherwise.
"""
