"""``xtalk shrink``: from a failing run folder to a minimal scenario that fails the same way.

``search`` is the pure search (halving and ddmin over a configuration, tries, the budget);
``candidates`` says what a configuration of a run is and how to make it smaller, and turns one
back into a scenario through the same validation as ``xtalk run``; ``scenario_file`` writes the
minimal scenario as TOML; ``log`` renders the shrink log. The command (``xtalk.commands.shrink``)
runs candidates through ``xtalk.trials`` (the runner, quietly, one folder per run).
"""
