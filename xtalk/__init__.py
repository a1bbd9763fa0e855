"""xtalk: a concurrent multi-user isolation load harness for AI-agent chat backends.

Locust users log in, open WebSocket sessions and send agent requests concurrently; the history of
every frame sent and received is checked by a pure checker core (``xtalk.core``) that ties each
agent event back to the user who triggered it.
"""

__version__ = "0.1.0"
