"""A bare ASGI app, no Django (chapter 09): the lab's I/O endpoint with nothing around it.

    uvicorn trips.lab_asgi:app --port 8002        (from sandbox_project/)

GET /lab/io/async/ makes the same upstream call as Django's `/lab/io/async/` (aiohttp, one
session for the app) and answers its JSON; /health/ answers at once. No middleware, no
signals, no thread per request: what an async server costs when nothing else is added.
"""
import json
import os

import aiohttp

UPSTREAM = os.environ.get("UPSTREAM_BASE_URL", "http://127.0.0.1:8011").rstrip("/")
_state = {"session": None}


def _session():
    if _state["session"] is None or _state["session"].closed:
        _state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    return _state["session"]


async def _answer(send, status, data):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _state["session"] is not None:
                    await _state["session"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/health/":
        await _answer(send, 200, {"status": "ok"})
    elif scope["path"] == "/lab/io/async/":
        async with _session().get(f"{UPSTREAM}/weather/kyoto") as response:
            await _answer(send, response.status, await response.json())
    else:
        await _answer(send, 404, {"error": "not found"})
