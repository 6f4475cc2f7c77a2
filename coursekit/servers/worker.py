"""A background worker as a subprocess: started, ready when its log says so, stopped, never left behind.

    worker = await WorkerProcess(["{python}", "manage.py", "db_worker", "--no-reload"],
                                 ready="Starting worker", cwd=SANDBOX).start()
    await worker.wait_for("state=SUCCESSFUL", timeout=10)    # a line in its log
    await worker.stop()            # SIGTERM, then SIGKILL if it does not go; also on shutdown()
    worker.returncode, worker.log  # how it ended, what it printed

A worker has no port to probe, so it is ready when a line of its log contains `ready` (a
worker prints one when it starts polling its queue). It inherits this kernel's environment
(plus `env`), runs in its own process group (Kernel > Interrupt is not sent to it), and writes
to a temporary log file, never into the notebook's cells; stop() keeps the text in `.log` and
removes the file.

`db_worker()` starts django-tasks-db's worker (`manage.py db_worker`) on the sandbox's own
database, with the database task backend, this kernel's secret key and upstream API.
"""
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from .. import cleanup

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox_project"


class WorkerProcess:
    def __init__(self, command, *, ready=None, env=None, cwd=None, ready_timeout=30.0, name=None):
        self.command = [sys.executable if part == "{python}" else part for part in command]
        self.ready, self.ready_timeout = ready, ready_timeout
        # Unbuffered: a worker's output goes to a file, and its readiness line must arrive now.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.name = name or os.path.basename(self.command[-1] if len(self.command) > 1 else self.command[0])
        self.process = None
        self.pid = None
        self.returncode = None
        self.started_in = None  # seconds from launch to the readiness line
        self.log = ""           # the whole log, once stopped
        self._log_file = None
        self._token = None

    async def start(self):
        self._log_file = tempfile.NamedTemporaryFile(prefix=f"coursekit-{os.getpid()}-{self.name}-",
                                                     suffix=".log", delete=False)
        launched = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, cwd=self.cwd, stdout=self._log_file, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        self.pid = self.process.pid
        self._token = cleanup.register(f"{self.name} (pid {self.pid})", self.stop)
        try:
            if self.ready is not None:
                await self.wait_for(self.ready, timeout=self.ready_timeout)
        except BaseException:
            await self.stop()
            raise
        self.started_in = time.perf_counter() - launched
        return self

    @property
    def running(self):
        return self.process is not None and self.process.returncode is None

    async def wait_for(self, text, timeout=10.0):
        """Wait until a line of the log contains `text`; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if text in line:
                    return line
            if self.process is None or self.process.returncode is not None:
                code = self.returncode if self.process is None else self.process.returncode
                raise RuntimeError(f"{self.name} exited (code {code}) before printing {text!r}:\n"
                                   f"{self.log_text()[-1500:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not print {text!r} within {timeout:g} s:\n"
                                   f"{self.log_text()[-1500:]}")
            await asyncio.sleep(0.02)

    def log_text(self):
        if self._log_file is None:
            return self.log
        try:
            with open(self._log_file.name, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return self.log

    async def stop(self, grace=5.0):
        """SIGTERM its process group (a worker finishes the task in hand), SIGKILL after `grace` s."""
        if self.process is None:
            return self.returncode
        process, self.process = self.process, None
        cleanup.unregister(self._token)
        try:
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), grace)
                except TimeoutError:
                    _signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
            self.returncode = process.returncode
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self.log = self.log_text()
                try:
                    os.unlink(self._log_file.name)
                except FileNotFoundError:
                    pass
                self._log_file = None
        return self.returncode

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    def __repr__(self):
        state = "running" if self.running else f"stopped (exit code {self.returncode})"
        return f"<WorkerProcess {self.name} {state}>"


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def db_worker(*, interval=0.05, queue="default", extra=(), env=None):
    """django-tasks-db's worker on the sandbox's database: `manage.py db_worker`, started and ready.

    interval: seconds it sleeps when the queue is empty before it looks again.
    """
    from django.conf import settings

    from ..sandbox import database_path

    if database_path() is None:
        raise RuntimeError("Run coursekit.setup() first: the worker needs the sandbox's database.")
    worker_env = {
        "DJANGO_SETTINGS_MODULE": "tripboard.settings",
        "TRIPBOARD_DB_PATH": str(database_path()),
        "TRIPBOARD_TASKS_BACKEND": "database",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "UPSTREAM_BASE_URL": settings.UPSTREAM_BASE_URL,
        **(env or {}),
    }
    command = ["{python}", "manage.py", "db_worker", "--no-reload", "--no-startup-delay",
               "--interval", str(interval), "--queue-name", queue, *extra]
    return await WorkerProcess(command, ready="Starting worker", env=worker_env, cwd=SANDBOX,
                               name="db_worker").start()
