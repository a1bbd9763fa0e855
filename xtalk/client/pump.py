"""One greenlet reads every plain WebSocket connection of a process: the read pump.

With one reader greenlet per connection, every read costs a wake-up of that greenlet, a second
``recv`` that finds nothing, a pause (so that a busy socket cannot starve the others) and a park
on its own watcher: switches and system calls per read, thousands of greenlets and their stacks
per worker. ``ReadPump`` keeps one libev io watcher per connection instead; the watchers'
callbacks (in gevent's hub) only put ready connections in a list, and one greenlet, woken once
per loop iteration, does one non-blocking ``recv`` on each and feeds it to the connection
(``WsConnection.pump_read``): the same ``feed`` the reader greenlet calls, so close handling,
pings, pongs and close replies, fragments and ``on_closed`` are the connection's own, unchanged.

Which connections: plain TCP sockets of gevent (``accepts``). A TLS socket keeps its own reader
greenlet: its records buffer inside OpenSSL, where a readiness watcher on the descriptor cannot
see them. A connection leaves the pump (its watcher stopped) before its socket is closed.

Fairness: the pump goes back to the hub after every batch, so users' greenlets run between
batches as they ran between reads before; a socket still holding data is ready again at the next
iteration (libev watchers are level-triggered). Nothing the pump reads can stop it: an error in
one connection's feed aborts that connection and is counted.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("xtalk")


class ReadPump:
    def __init__(self) -> None:
        import gevent
        from gevent.hub import get_hub

        self.hub = get_hub()
        self.loop = self.hub.loop
        self.ready: list[Any] = []
        self.watchers: dict[Any, Any] = {}  # connection -> its io watcher
        self.errors = 0
        self.reads = 0
        self._parked = False
        self._wake_due = False
        self.greenlet = gevent.spawn(self._run)

    def __len__(self) -> int:
        return len(self.watchers)

    @staticmethod
    def accepts(ws: Any) -> bool:
        """A plain gevent socket, non-blocking underneath (``wsconn.raw_socket``)."""
        return ws.raw_sock is not None and ws.sock is not None

    def add(self, ws: Any) -> None:
        """Read ``ws`` from now on (its frames that came with the handshake are settled first)."""
        ws.settle_early()
        if ws.sock is None or ws._closed_reported:
            return
        watcher = self.loop.io(ws.raw_sock.fileno(), 1)
        ws.pump = self
        ws.queued = False
        self.watchers[ws] = watcher
        watcher.start(self._readable, ws)

    def remove(self, ws: Any) -> None:
        """Stop watching ``ws`` (before its socket closes). Idempotent."""
        watcher = self.watchers.pop(ws, None)
        if watcher is not None:
            watcher.stop()
            close = getattr(watcher, "close", None)
            if callable(close):
                close()
        ws.pump = None

    # ---- in the hub ----------------------------------------------------------------------------

    def _readable(self, ws: Any) -> None:
        if not ws.queued:
            ws.queued = True
            self.ready.append(ws)
        if self._parked and not self._wake_due:
            # Woken after this iteration's io callbacks, not at the first: one batch per iteration.
            self._wake_due = True
            self.loop.run_callback(self._wake)

    def _wake(self) -> None:
        self._wake_due = False
        if self._parked:
            self._parked = False
            self.greenlet.switch()

    # ---- the pump's greenlet -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._parked = True
            if self.ready and not self._wake_due:  # ready already: yield once, then read them
                self._wake_due = True
                self.loop.run_callback(self._wake)
            self.hub.switch()
            batch, self.ready = self.ready, []
            for ws in batch:
                ws.queued = False
                if ws.pump is not self:
                    continue  # closed since it was ready
                try:
                    ws.pump_read()
                    self.reads += 1
                except Exception as error:  # one connection's bug must not stop the others
                    self.errors += 1
                    if self.errors <= 3:
                        log.warning("xtalk: read pump: %s: %s", type(error).__name__, error)
                    try:
                        ws.abort(f"read failed: {type(error).__name__}")
                    except Exception:
                        self.remove(ws)

    def stop(self) -> None:
        for ws in list(self.watchers):
            self.remove(ws)
        self.greenlet.kill(block=False)
