"""A real ASGI server (uvicorn) on 127.0.0.1, running on this kernel's own event loop.

    server = await InKernelServer("tripboard.asgi:application").start()
    server.url                     # http://127.0.0.1:PORT
    server.ws_url("/ws/trips/1/")  # ws://127.0.0.1:PORT/ws/trips/1/
    server.errors                  # what the server logged at ERROR (kept out of the cells)
    await server.stop()            # also done by coursekit.shutdown()

Real sockets, real HTTP and WebSocket protocol, in this process: the server shares the kernel's
settings, database and in-memory channel layer, so a cell can send to a group and a client
connected through the server receives it. (A server in a subprocess would have a layer of its
own: see ServerProcess.)

Two things make uvicorn fit a kernel: its signal handling is switched off (uvicorn's
capture_signals() would take over SIGINT and leave Kernel > Interrupt broken), and it serves a
socket bound here to a free port, so the port is known before the server starts.
"""
import asyncio
import contextlib
import logging
import socket

from .. import cleanup

_LOGGERS = ("uvicorn.error", "uvicorn.asgi")


def _quiet_server_class():
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn.Server that leaves the process's signal handlers alone."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

    return QuietServer


class _Collect(logging.Handler):
    def __init__(self, into):
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record):
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message.strip()}: {type(exc).__name__}: {exc}"
        self.into.append(message)


class InKernelServer:
    def __init__(self, app="tripboard.asgi:application", *, ws="websockets-sansio", grace=1.0, name="uvicorn in the kernel"):
        self.app, self.ws, self.grace, self.name = app, ws, grace, name
        self.server = None
        self.port = None
        self.errors = []
        self._task = None
        self._token = None
        self._handler = None
        self._saved = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def connections(self):
        """How many connections (HTTP or WebSocket) the server holds open right now."""
        return len(self.server.server_state.connections) if self.server else 0

    async def start(self, timeout=10.0):
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                                ws=self.ws, timeout_graceful_shutdown=self.grace)
        self.server = _quiet_server_class()(config)
        self._keep_logs_out_of_cells()
        self._task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]),
                                                            name="coursekit-inkernel-server")
        self._token = cleanup.register(f"{self.name} on port {self.port}", self.stop)
        try:
            async with asyncio.timeout(timeout):
                while not self.server.started:
                    if self._task.done():
                        self._task.result()  # raises what stopped it
                        raise RuntimeError(f"{self.name} stopped while starting: {self.errors}")
                    await asyncio.sleep(0.005)
        except BaseException:
            await self.stop()
            sock.close()
            raise
        return self

    async def stop(self):
        """Ask the server to exit; after `grace` seconds, close what is still open; wait for it."""
        if self._task is None:
            return
        task, self._task = self._task, None
        cleanup.unregister(self._token)
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), self.grace + 2)
        except TimeoutError:
            self.server.force_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 2)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        except SystemExit:  # uvicorn exits on a failed startup
            pass
        finally:
            self._restore_logs()

    def _keep_logs_out_of_cells(self):
        self._handler = _Collect(self.errors)
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.propagate))
            logger.addHandler(self._handler)
            logger.propagate = False

    def _restore_logs(self):
        for logger, propagate in self._saved:
            logger.removeHandler(self._handler)
            logger.propagate = propagate
        self._saved = []

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    def __repr__(self):
        state = f"at {self.url}" if self._task else "stopped"
        return f"<InKernelServer {self.name} {state}>"
