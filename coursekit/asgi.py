"""Push requests through Django's ASGI application in-process, with raw ASGI messages.

    from coursekit.asgi import fresh_handler, request, stream, hammer

    with override_settings(MIDDLEWARE=[...]):
        app = fresh_handler()                 # an ASGIHandler built for these settings
    response = await request(app, "/health/")
    response.status, response.headers["server-timing"], response.json()
    seconds = await hammer(app, "/orm/ping/", n=400)   # 400 requests, one after another

    chunks = await stream(app, "/async/countdown/")     # [(seconds after the start, body bytes), ...]

No server and no socket: the scope/receive/send messages are the ones uvicorn or
daphne would send, so everything Django does per request (middleware, thread hops,
signals) happens for real.
"""
import asyncio
import json
import time
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)  # lower-case names; the last value wins
    body: bytes = b""

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status}, {len(self.body)} bytes>"


def fresh_handler():
    """A new ASGIHandler: it builds its middleware chain from the settings in force now."""
    from django.core.handlers.asgi import ASGIHandler

    return ASGIHandler()


def scope_for(path, method="GET", headers=(), query_string=b""):
    if "?" in path:
        path, query = path.split("?", 1)
        query_string = query.encode()
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"127.0.0.1")] + [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


async def request(app, path, method="GET", *, headers=(), body=b""):
    """One request through `app`; returns a Response."""
    sent_body = False
    finished = asyncio.Event()

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    response = Response(0)
    chunks = []

    async def send(message):
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = {k.decode().lower(): v.decode("latin1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope_for(path, method, headers), receive, send)
    finally:
        finished.set()
    response.body = b"".join(chunks)
    return response


async def stream(app, path, *, disconnect_after=None):
    """One request; its body messages as (seconds since the request started, bytes).

    For the status and headers as well, use stream_response(). disconnect_after: the client
    hangs up after that many seconds (an `http.disconnect`).
    """
    response = await stream_response(app, path, disconnect_after=disconnect_after)
    return response.chunks


@dataclass
class StreamedResponse(Response):
    chunks: list = field(default_factory=list)  # (seconds since the request started, bytes)


async def stream_response(app, path, *, disconnect_after=None):
    """Like request(), keeping every body message with the time it arrived."""
    started, finished = time.perf_counter(), asyncio.Event()
    response = StreamedResponse(0)
    sent_request = False

    async def receive():
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect_after is None:
            await finished.wait()
        else:
            try:
                await asyncio.wait_for(finished.wait(), disconnect_after)
            except TimeoutError:
                pass
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = {k.decode().lower(): v.decode("latin1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                response.chunks.append((time.perf_counter() - started, message["body"]))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope_for(path), receive, send)
    finally:
        finished.set()
    response.body = b"".join(body for _, body in response.chunks)
    return response


async def hammer(app, path, n, *, concurrency=1):
    """Send `n` requests to `path` (`concurrency` at a time); return the wall time in seconds."""
    queue = iter(range(n))

    async def client():
        for _ in queue:
            response = await request(app, path)
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {response.body[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started
