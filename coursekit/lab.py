"""The performance lab's set-up (chapter 09): Tripboard under real servers, each in its own process.

    upstream = await lab.start_upstream_process(latency=0.1)   # the slow upstream, not in the kernel
    server = await lab.django_server(lab.GUNICORN + ["tripboard.wsgi:application", "--workers", "4"],
                                     upstream=upstream).start()
    server.url, server.process.pid
    await server.stop()                                        # or coursekit.shutdown()

Every server runs from sandbox_project/ with this kernel's sandbox database and secret key
(`server_env`), calls `upstream`, and has DEBUG off (as in production: no query log growing
under load). Its output goes to a log file that is deleted when it stops. A server also stops
when the kernel that started it dies (Kernel > Restart, a crash): on Linux it asks for SIGTERM
when its parent goes (prctl's PR_SET_PDEATHSIG), so no lab server outlives its notebook.

The theory lines the lesson draws beside its measurements:

    pool_theory(pool=4, latency=0.1)(clients)   # min(clients, pool) / latency: a fixed pool's cap
    async_theory(latency=0.1)(clients)          # clients / latency: no cap but the clients'
"""
import os
from pathlib import Path

from .servers.process import ServerProcess

# `{python}` is this kernel's interpreter, `{port}` a free port (see ServerProcess).
# gunicorn 25+ opens a control socket in ~/.gunicorn by default: one path shared by every gunicorn on the
# machine. The lab's servers do without it.
GUNICORN = ["{python}", "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--log-level", "warning",
            "--no-control-socket"]
UVICORN = ["{python}", "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
           "--no-access-log", "--lifespan", "off"]


def sandbox_dir():
    import trips

    return Path(trips.__file__).resolve().parent.parent


def server_env(upstream_url):
    """What a Tripboard server process needs to share this kernel's sandbox."""
    from django.conf import settings

    from .sandbox import database_path

    if database_path() is None:
        raise RuntimeError("Run coursekit.setup() first: the servers share its database.")
    return {"DJANGO_SETTINGS_MODULE": "tripboard.settings", "TRIPBOARD_DB_PATH": str(database_path()),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY, "DJANGO_DEBUG": "0",
            "UPSTREAM_BASE_URL": str(upstream_url).rstrip("/"), "PYTHONUNBUFFERED": "1"}


# Run as `{python} -c DIE_WITH_PARENT <parent pid> <command...>`: asks the kernel (Linux) for SIGTERM
# when the parent process dies, then becomes the command (the request survives exec).
DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
libc = ctypes.CDLL(None)
if hasattr(libc, "prctl"):
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit("the notebook's kernel is gone")
os.execvp(sys.argv[2], sys.argv[2:])
"""


class LabServer(ServerProcess):
    """A ServerProcess that dies with the kernel that started it, and whose log file goes when it
    stops (nothing left running, nothing left in the temp directory)."""

    def __init__(self, command, **kwargs):
        super().__init__(["{python}", "-c", DIE_WITH_PARENT, str(os.getpid()), *command], **kwargs)
        if kwargs.get("name") is None:
            self.name = os.path.basename(self.command[4])

    async def stop(self, grace=5.0):
        await super().stop(grace)
        self.remove_log()


def django_server(command, *, upstream, name=None, ready_timeout=40.0):
    """A Tripboard server (not started yet: `await ....start()`). upstream: a URL or a server."""
    url = getattr(upstream, "url", upstream)
    return LabServer(command, probe="/health/", env=server_env(url), cwd=str(sandbox_dir()), name=name,
                     ready_timeout=ready_timeout)


async def start_upstream_process(latency=0.1):
    """The slow upstream API in a process of its own: every service answers after `latency` s."""
    return await LabServer(["{python}", "-m", "coursekit.upstream", "--port", "{port}", "--latency", str(latency)],
                           probe="/", name="upstream").start()


def pool_theory(pool, latency):
    """A fixed pool of `pool` workers (or threads): min(clients, pool) / latency requests per second."""
    return lambda clients: min(clients, pool) / latency


def async_theory(latency):
    """No pool: every client waits at once, clients / latency requests per second."""
    return lambda clients: clients / latency


def flat(rate):
    """A ceiling that does not depend on the clients (a lock, one core)."""
    return lambda clients: rate
