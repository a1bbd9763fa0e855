"""``python -m xtalk`` is the ``xtalk`` console script."""

from xtalk.cli import main

raise SystemExit(main())
