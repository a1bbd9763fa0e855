"""Distinct id types, so the type checker refuses to mix one user's id with another kind of id.

``UserName`` is the harness's name for a simulated user (``u0007``); ``Identity`` is the user id
the server vouched for (a token's ``sub``); the rest are the ids of connections, client requests,
server runs and threads.
"""

from typing import NewType

UserName = NewType("UserName", str)
Identity = NewType("Identity", str)
ConnId = NewType("ConnId", str)
ReqId = NewType("ReqId", str)
RunId = NewType("RunId", str)
ThreadId = NewType("ThreadId", str)
Marker = NewType("Marker", str)
