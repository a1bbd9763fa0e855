"""The session client: auth strategies, the sans-I/O WebSocket connection, request pacing, the
history recorder and the Locust user.

Importing this package imports nothing heavy; ``xtalk.client.user`` is the module that imports
Locust (and so gevent's monkey-patching): import it only inside a Locust process.
"""
