"""Deploying Tripboard (chapters 10, 11): the real ASGI servers, started from a notebook and stopped again.

    from coursekit.servers import deploy

    server = await deploy.start("uvicorn", upstream=upstream)            # a name from SERVERS
    server = await deploy.start(["{python}", "-m", "hypercorn", ...], upstream=upstream, name="mine")
    deploy.processes(server)           # psutil.Process of the server and of every worker it forked
    deploy.serving_processes(server)   # how many of them serve requests
    deploy.lifespan_lines(server)      # what its log says about ASGI lifespan
    await deploy.speaks_http2(server.url)                 # "HTTP/2" or why not (h2c, prior knowledge)
    await deploy.websocket_join(server, cookie, trip_id)  # a real WebSocket client in a trip's room
    await deploy.stop_during_a_stream(server)             # SIGTERM with a response half sent
    await server.stop()                # or coursekit.shutdown()

Every server runs from sandbox_project/ on this kernel's sandbox database and secret key, with
DEBUG off (`coursekit.lab.server_env`), binds 127.0.0.1 on a free port (`{port}`), and dies with
the kernel that started it (PR_SET_PDEATHSIG). `env` adds variables: e.g.
`{"TRIPBOARD_CHANNEL_LAYER": valkey.redis_url}` puts the server on channels_redis (see valkey.py).

A Procfile is a deployment written down as data: each line a process type and its command, the
way Heroku-style platforms, honcho and foreman read it. `Process` is one line, `procfile()` the
text, `start_procfile()` starts every line (some scaled to several instances) and returns a
Deployment to stop in one call.
"""
import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass, field

from ..lab import LabServer, sandbox_dir, server_env

ASGI_APP = "tripboard.asgi:application"

# `{python}`: this kernel's interpreter; `{port}`: a free port on 127.0.0.1. Production-like flags
# only where a default would get in the way here (gunicorn's control socket is one path per machine).
SERVERS = {
    "uvicorn": ["{python}", "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", ASGI_APP],
    "daphne": ["{python}", "-m", "daphne", "--bind", "127.0.0.1", "--port", "{port}", ASGI_APP],
    "hypercorn": ["{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}", ASGI_APP],
    "granian": ["{python}", "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}",
                ASGI_APP],
    "gunicorn + uvicorn workers": ["{python}", "-m", "gunicorn", "--worker-class", "uvicorn_worker.UvicornWorker",
                                   "--workers", "2", "--bind", "127.0.0.1:{port}", "--no-control-socket", ASGI_APP],
}


def server(command, *, upstream, env=None, name=None, ready_timeout=60.0):
    """A Tripboard server, not started yet (`await ....start()`). command: a name from SERVERS or a list."""
    if isinstance(command, str):
        name, command = name or command, SERVERS[command]
    url = getattr(upstream, "url", upstream)
    return LabServer(list(command), probe="/health/", env={**server_env(url), **(env or {})},
                     cwd=str(sandbox_dir()), name=name, ready_timeout=ready_timeout)


async def start(command, *, upstream, env=None, name=None, ready_timeout=60.0):
    return await server(command, upstream=upstream, env=env, name=name, ready_timeout=ready_timeout).start()


def processes(server):
    """The server's process and every process below it (workers, helpers), as psutil.Process objects."""
    import psutil

    try:
        main = psutil.Process(server.process.pid)
        return [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def role(process, main):
    """What a process in a server's tree does: "main", "worker", or multiprocessing's resource tracker."""
    try:
        command = " ".join(process.cmdline())
    except Exception:
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    return "main" if process.pid == main.pid else "worker"


def serving_processes(server):
    """How many processes serve requests: the only process, or the workers under a main one."""
    tree = processes(server)
    serving = [p for p in tree if role(p, tree[0]) != "resource tracker"] if tree else []
    return len(serving) if len(serving) <= 1 else len(serving) - 1


def listening(server):
    """(address, port) pairs the server's processes listen on."""
    found = set()
    for process in processes(server):
        try:
            for conn in process.net_connections(kind="tcp"):
                if conn.status == "LISTEN":
                    found.add((conn.laddr.ip, conn.laddr.port))
        except Exception:
            continue
    return sorted(found)


def lifespan_lines(server):
    """The lines of the server's log that mention ASGI lifespan (none: it never sent the startup event)."""
    return [line.strip() for line in server.log_text().splitlines() if "lifespan" in line.lower()]


async def speaks_http2(url, timeout=20.0):
    """Ask for /health/ over HTTP/2 without TLS (h2c with prior knowledge): "HTTP/2" or what went wrong."""
    import httpx

    try:
        async with httpx.AsyncClient(http1=False, http2=True, timeout=timeout) as client:
            response = await client.get(url + "/health/")
            return response.http_version
    except httpx.HTTPError as error:
        return f"refused ({type(error).__name__})"


def session_cookie(username):
    """Log `username` in as the login view would; the Cookie header a browser would send (sync: ORM)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def ws_url(server, path):
    return server.url.replace("http://", "ws://", 1) + path


async def open_room(http, server, cookie, trip_id, timeout=10.0):
    """A WebSocket client in a trip's room through `server` (aiohttp session `http`), its own join read."""
    socket = await http.ws_connect(ws_url(server, f"/ws/trips/{trip_id}/"), origin=server.url,
                                   headers={"Cookie": cookie}, timeout=timeout)
    first = await socket.receive_json(timeout=timeout)
    if first.get("event") != "join":
        await socket.close()
        raise RuntimeError(f"expected the join event, got {first}")
    return socket


async def websocket_join(server, cookie, trip_id, timeout=10.0):
    """Open a real WebSocket to a trip's room, read the join event, close: the event, or why not."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        try:
            socket = await open_room(http, server, cookie, trip_id, timeout)
        except aiohttp.WSServerHandshakeError as error:
            return f"handshake refused: HTTP {error.status}"
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as error:
            return f"failed: {type(error).__name__}"
        await socket.close()
        return "joined"


@dataclass
class InFlight:
    """What a client streaming a response saw when its server was told to stop."""
    server: str
    lines_before: int     # lines it had when SIGTERM was sent
    lines_after: int      # lines it had in the end
    complete: bool        # the response ended with its last line
    ended_by: str         # how it ended: "the end of the response", or the error
    stopped_in: float     # seconds from SIGTERM until the server process was gone


async def stop_during_a_stream(server, *, lines=8, pause=0.25, grace=10.0):
    """Stream /async/countdown/ (one line every `pause` s), send SIGTERM to the server's main process
    after the first line, read on; then wait for the process to go (SIGKILL after `grace`)."""
    import aiohttp

    got, ended_by = [], "the end of the response"
    timeout = aiohttp.ClientTimeout(total=lines * pause + grace + 10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        stopped = None
        try:
            async with http.get(f"{server.url}/async/countdown/?n={lines}&pause={pause}") as response:
                async for line in response.content:
                    got.append(line.decode().strip())
                    if stopped is None:
                        before, sigterm_at = len(got), time.perf_counter()
                        os.kill(server.process.pid, signal.SIGTERM)  # as a platform stops one container
                        stopped = asyncio.ensure_future(server.process.wait())
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as error:
            ended_by = type(error).__name__
        if stopped is None:
            raise RuntimeError(f"{server.name} sent nothing before the request ended ({ended_by})")
        try:
            await asyncio.wait_for(asyncio.shield(stopped), grace)
        except TimeoutError:
            pass
        gone_in = time.perf_counter() - sigterm_at
        await server.stop(grace=0.1)  # whatever is left of its process group, and its log
    return InFlight(server.name, before, len(got), bool(got) and got[-1] == "lift-off", ended_by, gone_in)


# --- a whole deployment as data -----------------------------------------------------------------
@dataclass
class Process:
    """One line of a Procfile: a process type, its command, how to tell it is up."""
    kind: str
    command: list
    probe: str | None = "/health/"    # HTTP path answered when ready; None: a TCP connection is enough
    ready_line: str | None = None     # or: a line its log prints when ready (a worker has no port)
    env: dict = field(default_factory=dict)

    def line(self):
        shown = " ".join("$PORT" if part == "{port}" else ("python" if part == "{python}" else part)
                         for part in self.command)
        return f"{self.kind}: {shown}"


def procfile(processes):
    """The Procfile text for a list of Process."""
    return "\n".join(p.line() for p in processes) + "\n"


class Deployment:
    """Started processes by kind ({"web": [web.1, web.2], "worker": [worker.1]}); stop() stops them all."""

    def __init__(self, started):
        self.started = started

    def __getitem__(self, kind):
        return self.started[kind]

    def all(self):
        return [p for group in self.started.values() for p in group]

    async def stop(self):
        await asyncio.gather(*(p.stop() for p in reversed(self.all())))


async def start_procfile(lines, *, upstream, scale=None, env=None):
    """Start every line of a Procfile (a list of Process), `scale[kind]` instances each (default 1),
    all at once, with this kernel's sandbox (server_env) plus `env`. Returns a Deployment."""
    from ..lab import DIE_WITH_PARENT
    from .worker import WorkerProcess

    url = getattr(upstream, "url", upstream)
    shared = {**server_env(url), **(env or {})}
    pending = []
    for line in lines:
        for n in range(1, (scale or {}).get(line.kind, 1) + 1):
            name = f"{line.kind}.{n}"
            if line.ready_line is not None:  # no port: ready when its log says so
                command = ["{python}", "-c", DIE_WITH_PARENT, str(os.getpid()), *line.command]
                pending.append(WorkerProcess(command, ready=line.ready_line, env={**shared, **line.env},
                                             cwd=str(sandbox_dir()), name=name))
            else:
                pending.append(LabServer(list(line.command), probe=line.probe, env={**shared, **line.env},
                                         cwd=str(sandbox_dir()), name=name, ready_timeout=60.0))
    results = await asyncio.gather(*(p.start() for p in pending), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        await asyncio.gather(*(p.stop() for p in pending))
        raise failed[0]
    started = {}
    for line, process in zip([l for l in lines for _ in range((scale or {}).get(l.kind, 1))], pending):
        started.setdefault(line.kind, []).append(process)
    return Deployment(started)


async def health(server, path="/health/", timeout=5.0):
    """GET the server's health check: (status, JSON body)."""
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async with http.get(server.url + path) as response:
            return response.status, json.loads(await response.text())
