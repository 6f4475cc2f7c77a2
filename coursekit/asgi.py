"""Push requests through Django's ASGI application in-process, with raw ASGI messages.

    from coursekit.asgi import fresh_handler, request, hammer, capture_log

    with override_settings(MIDDLEWARE=[...]):
        app = fresh_handler()                 # an ASGIHandler built for these settings
    response = await request(app, "/health/")
    response.status, response.headers["server-timing"], response.json()
    seconds = await hammer(app, "/orm/ping/", n=400)   # 400 requests, one after another

No server and no socket: the scope/receive/send messages are the ones uvicorn or
daphne would send, so everything Django does per request (middleware, thread hops,
signals) happens for real. `capture_log("django.request")` collects that logger's
records (at DEBUG) inside a `with` block.
"""
import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from . import learner_slots


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


def dotted(obj, name=None):
    """Give a notebook-defined object a dotted path (for MIDDLEWARE and friends)."""
    name = name or obj.__name__
    setattr(learner_slots, name, obj)
    return f"{learner_slots.__name__}.{name}"


class capture_log:
    """Collect a logger's records at `level` inside a with block: `.messages` afterwards.

    The logger's own handlers are set aside meanwhile, so nothing prints under the cell.
    """

    def __init__(self, name="django.request", level=logging.DEBUG):
        self.logger = logging.getLogger(name)
        self.level = level
        self.records = []

    def __enter__(self):
        outer = self

        class Collect(logging.Handler):
            def emit(self, record):
                outer.records.append(record)

        self._handler = Collect(level=self.level)
        self._old_level = self.logger.level
        # Keep the logger's own handlers (the console) quiet meanwhile: the records go to `.records`.
        self._old_handlers, self.logger.handlers = self.logger.handlers, []
        self.logger.setLevel(self.level)
        self.logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self._handler)
        self.logger.handlers = self._old_handlers
        self.logger.setLevel(self._old_level)
        return False

    @property
    def messages(self):
        return [record.getMessage() for record in self.records]
