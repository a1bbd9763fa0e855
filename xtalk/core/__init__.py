"""The checker core: pure, typed, sans-I/O.

Records in (``records.parse_record``), one at a time, into ``checker.Checker``; a ``Verdict`` out.
Nothing here imports a network library, a clock, a random source or the operating system: time
arrives on the records, and the end of the run is the ``end`` record. A test enforces this.
"""
