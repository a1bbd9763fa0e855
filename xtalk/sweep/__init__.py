"""``xtalk sweep``: one scenario at rising concurrency, and the level at which leaks start.

``wilson`` is the 95 % Wilson score interval of a leak rate; ``levels`` counts, per level, the
requests, the requests whose events leaked and the overlapping user pairs, and names the onset;
``outputs`` prints the table and writes ``sweep.csv``; ``html`` writes ``sweep.html``, the leak
rate against concurrency as inline SVG. The command (``xtalk.commands.sweep``) runs each level
through ``xtalk.trials`` (the runner, one folder per run).
"""
