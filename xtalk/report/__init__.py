"""The outputs of a run: ``verdict.json``, ``report.html``, ``junit.xml``, the terminal summary and
the trend database.

Everything here renders a finished verdict dict (the ``verdict.json`` object) and nothing else: it
never reaches into Locust, the history or the checker. Every value of a verdict may be absent or of
the wrong type (an older verdict, a run that died half-way, a hand-edited file); the renderers show
what is there and never raise for what is missing. Every string in a verdict may come from the
server under test and is untrusted: it is escaped wherever it lands (HTML, XML, JSON in a page).
"""
