"""Real servers a notebook can start on 127.0.0.1 and stop again.

WorkerPoolServer is a WSGI server with a fixed number of worker threads, each
serving one request at a time: the model behind gunicorn's sync workers or
mod_wsgi's processes. A request that arrives while every worker is busy waits
in the queue. Each request's arrival, start and end are logged for timelines.
"""
import queue
import threading
import time
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .. import cleanup

@dataclass
class Served:
    path: str
    arrived: float   # accepted by the server
    started: float   # a worker picked it up
    finished: float
    worker: str

    @property
    def waited(self):
        return self.started - self.arrived


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep server logs out of notebook cells
        pass


class _PooledWSGIServer(WSGIServer):
    request_queue_size = 128

    def __init__(self, pool, *args, **kwargs):
        self.pool = pool
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        # The accepting thread only queues the connection; a worker serves it.
        self.pool._queue.put((request, client_address, time.perf_counter()))


class WorkerPoolServer:
    def __init__(self, app, workers=4):
        if workers < 1:
            raise ValueError("a server needs at least one worker")
        self.app, self.workers = app, workers
        self.served: list[Served] = []
        self._queue = queue.Queue()
        self._threads = []
        self._server = None
        self._token = None
        self.url = None

    def start(self):
        self._server = _PooledWSGIServer(self, ("127.0.0.1", 0), _QuietHandler)
        self._server.set_app(self.app)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._threads = [threading.Thread(target=self._work, name=f"wsgi-worker-{n + 1}", daemon=True)
                         for n in range(self.workers)]
        self._threads.append(threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                              name="wsgi-acceptor", daemon=True))
        for thread in self._threads:
            thread.start()
        self._token = cleanup.register(repr(self), self.astop)
        return self

    def _work(self):
        name = threading.current_thread().name
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, client_address, arrived = item
            started = time.perf_counter()
            path = "?"
            try:
                handler = _QuietHandler(request, client_address, self._server)
                path = getattr(handler, "path", "?")
            except Exception:
                pass
            finally:
                self._server.shutdown_request(request)
                self.served.append(Served(path, arrived, started, time.perf_counter(), name))

    def stop(self):
        """Stop accepting, let the workers finish what they hold, close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        for _ in range(self.workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._server.server_close()
        self._server = None
        cleanup.unregister(self._token)

    def timeline(self, title=None):
        from ..timing import Timeline

        timeline = Timeline(title or f"{self.workers} workers, {len(self.served)} requests")
        for n, s in enumerate(sorted(self.served, key=lambda s: s.arrived), start=1):
            row = f"request {n:>2}"
            if s.waited > 0.001:
                timeline.add(row, s.arrived, s.started, kind="wait", row=row)
            timeline.add(row, s.started, s.finished, kind="run", row=row)
        return timeline

    async def astop(self):
        """stop() from a cell: wait on a thread, so the kernel's loop keeps serving
        whatever the last requests still need (the upstream API runs on it)."""
        import asyncio

        await asyncio.to_thread(self.stop)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    async def __aenter__(self):
        return self.start()

    async def __aexit__(self, *exc):
        await self.astop()

    def __repr__(self):
        state = f"at {self.url}" if self._server else "stopped"
        return f"<WorkerPoolServer {state}, {self.workers} workers>"
