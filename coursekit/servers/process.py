"""A server (or worker) as a subprocess: started, probed until ready, stopped, never left behind.

    server = await ServerProcess(["uvicorn", "tripboard.asgi:application", "--port", "{port}"],
                                 probe="/health/").start()
    server.url                     # http://127.0.0.1:PORT
    await server.stop()            # SIGTERM, then SIGKILL if it does not go; also on shutdown()

`{port}` in the command is replaced by a free port on 127.0.0.1. The process inherits this
kernel's environment (plus `env`), so it sees the sandbox's database and secret key. Its output
goes to a log file (`server.log_text()`), never into the notebook's cells.
"""
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time

from .. import cleanup


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, command, *, probe="/", env=None, cwd=None, ready_timeout=20.0, name=None):
        self.port = free_port()
        self.command = [sys.executable if part == "{python}" else part.replace("{port}", str(self.port))
                        for part in command]
        self.probe, self.ready_timeout = probe, ready_timeout
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.name = name or os.path.basename(self.command[0])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.started_in = None  # seconds from launch to the first answer of the probe
        self._log = None
        self._token = None

    async def start(self):
        self._log = tempfile.NamedTemporaryFile(prefix=f"coursekit-{os.getpid()}-{self.name}-", suffix=".log",
                                                delete=False)
        launched = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, cwd=self.cwd, stdout=self._log, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)  # its own process group: Kernel > Interrupt is not sent to it
        self._token = cleanup.register(f"{self.name} (pid {self.process.pid})", self.stop)
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise
        self.started_in = time.perf_counter() - launched
        return self

    async def _wait_until_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_text()[-1500:]}")
            if await self._answers():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not answer on port {self.port} within {self.ready_timeout:g} s:\n"
                           f"{self.log_text()[-1500:]}")

    async def _answers(self):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            if self.probe is None:  # a TCP connection is enough
                return True
            writer.write(f"GET {self.probe} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 5)
            return line.startswith(b"HTTP/")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def stop(self, grace=5.0):
        """SIGTERM the process group; SIGKILL whatever is left after `grace` seconds."""
        if self.process is None:
            return
        process, self.process = self.process, None
        cleanup.unregister(self._token)
        if process.returncode is None:
            with _suppress_gone():
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with _suppress_gone():
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if self._log is not None:
            self._log.close()

    def log_text(self):
        if self._log is None:
            return ""
        with open(self._log.name, errors="replace") as f:
            return f.read()

    def remove_log(self):
        if self._log is not None:
            with _suppress_gone():
                os.unlink(self._log.name)

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()
        self.remove_log()

    def __repr__(self):
        state = f"at {self.url}" if self.process else "stopped"
        return f"<ServerProcess {self.name} {state}>"


class _suppress_gone:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, (ProcessLookupError, FileNotFoundError))
