"""A made-up backend, "Parrot", exactly as docs/PROFILES.md's worked example describes it: JSON
on /chat/ws with ?token=, a JSON login, steps chained by parent id. xtalk has no code for it:
the profile in the docs is all it gets.

    python server.py PORT READY_FILE
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SECRET = "parrot-secret-0123456789-0123456789"
PASSWORD = "polly"


async def login(request: Request) -> JSONResponse:
    body = await request.json()
    if body.get("pass") != PASSWORD:
        return JSONResponse({"error": "nope"}, status_code=401)
    user_id = "p-" + body["user"]
    return JSONResponse({"token": jwt.encode({"uid": user_id}, SECRET), "user": {"id": user_id}})


async def chat(ws: WebSocket) -> None:
    try:
        claims = jwt.decode(ws.query_params.get("token", ""), SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        await ws.accept()
        await ws.send_json({"op": "err", "code": "UNAUTHENTICATED"})
        await ws.close(1008)
        return
    await ws.accept()
    await ws.send_json({"op": "hello", "who": {"id": claims["uid"]}})
    conv = str(uuid.uuid4())
    try:
        while True:
            ask = await ws.receive_json()
            if ask.get("op") != "ask":
                continue
            parent = ask["msg"]["id"]
            root = str(uuid.uuid4())
            tool = str(uuid.uuid4())
            for kind, step_id, parent_id, extra in (
                    ("start", root, parent, {}), ("think", str(uuid.uuid4()), root, {}),
                    ("tool", tool, root, {}), ("tool_done", tool, root, {}),
                    ("token", str(uuid.uuid4()), root, {"text": ask["msg"]["body"]}), ("done", root, parent, {})):
                await ws.send_json({"op": "step", "step": {"id": step_id, "parent": parent_id, "kind": kind,
                                                           "conv": conv, **extra}})
                await asyncio.sleep(0.01)
    except WebSocketDisconnect:
        return


app = Starlette(routes=[Route("/api/login", login, methods=["POST"]), WebSocketRoute("/chat/ws", chat)])

if __name__ == "__main__":
    port, ready = int(sys.argv[1]), Path(sys.argv[2])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")

    class Server(uvicorn.Server):
        async def startup(self, sockets: object = None) -> None:
            await super().startup(sockets)  # type: ignore[arg-type]
            ready.write_text("ready")

    Server(config).run()
