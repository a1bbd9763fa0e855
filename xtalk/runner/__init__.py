"""``xtalk run``'s machinery: the embedded backend and Locust as child processes, the run folder,
and the sequence load → check → report. The command module (``xtalk.commands.run``) only parses
arguments; ``xtalk.runner.run.run`` does the rest."""
