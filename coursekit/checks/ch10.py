"""Chapter 10: deploying async Django, Channels across processes.

Every check here starts real processes (a server from the learner's command, Django with the
learner's settings, two servers on the learner's channel layer) and judges what they do, after
cheap readings of the answer that reject the common mistakes without starting anything.
"""
import ast
import asyncio
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from ..exercises import TIMED_OUT, Chapter, Fail, Kind
from .common import require_callable

chapter = Chapter("10", "Deploying async Django, Channels across processes")

# A URL for the servers' settings: nothing the checks request calls the upstream API.
NO_UPSTREAM = "http://127.0.0.1:9"

# --- nudges ---------------------------------------------------------------------------------
NOT_A_LIST = chapter.nudge("W001", "not a list of strings",
                           "Return the command as a list of strings, one per argument, like the lesson's "
                           "`deploy.SERVERS` (numbers too: `str(workers)`).")
NOT_THIS_PYTHON = chapter.nudge("W002", "not {python} -m ...",
                                "Start the command with \"{python}\", \"-m\" and the server's module: `{python}` "
                                "becomes this kernel's Python, the one with the servers and Tripboard installed "
                                "(a bare `python` or `uvicorn` may be another).")
NOT_ASGI_APP = chapter.nudge("W003", "not Tripboard's ASGI application",
                             "WebSockets need the ASGI application, \"tripboard.asgi:application\" "
                             "(tripboard.wsgi speaks WSGI: plain HTTP requests only).")
NO_START = chapter.nudge("W004", "the server did not serve",
                         "The check started your command and it never answered GET /health/ (its last lines are "
                         "under Got). Check the server's options (`python -m SERVER --help`), and that it binds "
                         "127.0.0.1 on {port}.")
NOT_LOCAL = chapter.nudge("W005", "listening beyond 127.0.0.1",
                          "Bind 127.0.0.1 only (`--host 127.0.0.1`, `--bind 127.0.0.1:{port}`): 0.0.0.0 opens "
                          "the server to every network this machine is on. In a container, bind what the "
                          "platform tells you to.")
WORKERS = chapter.nudge("W006", "not that many worker processes",
                        "The check counts the processes that serve requests (psutil): it asked for {wanted} and "
                        "found {found}. Pass the number of workers to the server (`--workers`); daphne and a "
                        "plain uvicorn run one process.")
WORKERS_IGNORED = chapter.nudge("W007", "the number of workers is ignored",
                                "`server_command(2)` and `server_command(5)` gave the same command: put `workers` "
                                "into it (`str(workers)`).")
NO_HTTP2 = chapter.nudge("W008", "no HTTP/2 without TLS",
                         "A client speaking HTTP/2 over plain TCP (h2c) was refused. Section 1 of the lesson found "
                         "which servers answer it; uvicorn (and gunicorn's uvicorn workers) have no HTTP/2, "
                         "daphne only over TLS.")
NO_WEBSOCKET = chapter.nudge("W009", "no WebSocket",
                             "A logged-in client could not join a trip's room through your server ({got}). Serve "
                             "tripboard.asgi:application with a server and interface that speak ASGI WebSockets "
                             "(granian: `--interface asgi`).")

NOT_TEXT = chapter.nudge("W010", "not a module's source",
                         "DEPLOY_SETTINGS is the text of a settings module: a string (triple quotes), starting with "
                         "`from tripboard.settings import *`.")
SYNTAX = chapter.nudge("W011", "not valid Python",
                       "The settings module does not compile (the error is under Got). A settings module is plain "
                       "Python: NAME = value, one per line.")
NOT_LOADED = chapter.nudge("W012", "Django could not start with it",
                           "Django failed to set up with your module (the error is under Got). Start from "
                           "`from tripboard.settings import *` and change only what differs in production; the "
                           "secret key is in the environment variable DJANGO_SECRET_KEY.")
NOT_TRIPBOARD = chapter.nudge("W013", "not Tripboard's settings",
                              "Your module does not build on Tripboard's settings (no `trips` app). Begin with "
                              "`from tripboard.settings import *`, then override.")
SILENCED = chapter.nudge("W014", "warnings silenced, not fixed",
                         "SILENCED_SYSTEM_CHECKS hides a warning; the setting it is about is still wrong. Remove "
                         "{ids} from it and set what each warning names.")
DEBUG_TEXT = chapter.nudge("W015", "DEBUG is a string",
                           "DEBUG = {debug} is a non-empty string, and every non-empty string is true: Django runs "
                           "in debug mode. Use the boolean: `DEBUG = False`.")
STILL_WARNS = chapter.nudge("W016", "check --deploy still warns",
                            "Each warning names the setting to fix: {ids}. The lesson's section 3 shows a value "
                            "for each.")
REDIRECT_LOOP = chapter.nudge("W017", "HTTPS requests are redirected too",
                              "Behind the proxy every request arrives as plain HTTP, with `X-Forwarded-Proto: "
                              "https` when the browser used HTTPS. Without `SECURE_PROXY_SSL_HEADER = "
                              "(\"HTTP_X_FORWARDED_PROTO\", \"https\")` Django cannot tell, and SECURE_SSL_REDIRECT "
                              "sends the browser back to HTTPS forever. (Django reads headers as HTTP_ + the name "
                              "in capitals, dashes as underscores.)")
HOST_REFUSED = chapter.nudge("W018", "the site's own host is refused",
                             "A request for trips.example.com got {status}. ALLOWED_HOSTS must list the site's host "
                             "name (without scheme or port): \"trips.example.com\".")
ANY_HOST = chapter.nudge("W019", "any host is accepted",
                         "A request with `Host: evil.example` was served ({status}). ALLOWED_HOSTS = [\"*\"] turns the "
                         "Host check off (forged links in password-reset mails, cache poisoning): list only the "
                         "site's own names.")
PLAIN_HTTP_SERVED = chapter.nudge("W020", "plain HTTP served",
                                  "A request that came over plain HTTP was answered {status} instead of being "
                                  "redirected to https://: SECURE_SSL_REDIRECT = True.")

NOT_LAYERS = chapter.nudge("W030", "not a CHANNEL_LAYERS setting",
                           "Return the whole setting: a dict with a \"default\" layer, itself a dict with a "
                           "\"BACKEND\" (the class's import path) and a \"CONFIG\".")
IN_MEMORY = chapter.nudge("W031", "the in-memory layer",
                          "InMemoryChannelLayer keeps its groups inside one process: the lesson's section 4 showed "
                          "the other server's client hearing nothing. Use channels_redis "
                          "(\"channels_redis.core.RedisChannelLayer\").")
URL_IGNORED = chapter.nudge("W032", "the URL it was given is not used",
                            "channel_layers({url!r}) does not contain that URL: the servers would look for Redis "
                            "elsewhere. Put `redis_url` into CONFIG's \"hosts\" list.")
NOT_PLAIN_DATA = chapter.nudge("W033", "not plain data",
                               "A setting is written into a settings module: use plain dicts, lists, strings and "
                               "numbers (no objects, no functions).")
NO_LAYER = chapter.nudge("W034", "the consumers could not use the layer",
                         "The servers started, but a consumer failed when it joined its group ({got}): the layer "
                         "could not be built or could not reach Valkey. Check BACKEND's import path and that "
                         "\"hosts\" is a list: `\"hosts\": [redis_url]`.")
LOST = chapter.nudge("W035", "the message stayed in one process",
                     "Alice's note never reached Bob, whose socket is on the other server process. Both processes "
                     "must share one layer server: channels_redis with the same Redis URL.")
SERVERS_DOWN = chapter.nudge("W036", "the servers did not start",
                             "Two uvicorn processes with your setting did not answer (their last lines are under "
                             "Got). Django reads the setting when it starts: check it imports nothing that is not "
                             "installed.")


# --- shared pieces -------------------------------------------------------------------------------
def _is_command(value):
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(p, str) for p in value)


def _log_tail(text, lines=3):
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(it printed nothing)"


@contextlib.contextmanager
def _module_dir():
    """A temporary folder on the servers' PYTHONPATH, for a settings module; removed afterwards."""
    folder = tempfile.mkdtemp(prefix=f"coursekit-{os.getpid()}-ch10-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _module_env(folder, module):
    path = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"DJANGO_SETTINGS_MODULE": module, "PYTHONPATH": path}


async def _cookie(username):
    from ..sandbox import run_sync
    from ..servers import deploy

    return await run_sync(deploy.session_cookie, username)


async def _trip_id():
    from trips.models import Trip

    trip = await Trip.objects.filter(owner__username="alice").order_by("?").afirst()
    return trip.pk


# --- 1. a server command for a set of requirements -------------------------------------------------
async def _command(ctx, server_command, workers):
    what = f"`server_command({workers})`"
    command = await ctx.call(server_command, workers, what=what, timeout=10)
    if not _is_command(command):
        shown = command if not isinstance(command, (list, tuple)) else [type(p).__name__ for p in command]
        raise Fail(f"{what} to be a list of strings", f"{type(command).__name__}: {shown!r}", NOT_A_LIST)
    return list(command)


@chapter.exercise(
    "server-command", "Choose the server for a set of requirements",
    needs=["server_command"],
    hints=[
        "Section 1's table: which servers answered HTTP/2 without TLS? Both of them also run worker processes.",
        "hypercorn: `--workers N` and `--bind 127.0.0.1:{port}`; granian: `--interface asgi`, `--workers N`, "
        "`--host 127.0.0.1 --port {port}`.",
        "return [\"{python}\", \"-m\", \"hypercorn\", \"--bind\", \"127.0.0.1:{port}\", \"--workers\", "
        "str(workers), \"tripboard.asgi:application\"]",
    ],
    timeout=150,
)
async def check_server_command(ctx, server_command):
    from ..servers import deploy

    require_callable(server_command, "server_command")
    commands = {n: await _command(ctx, server_command, n) for n in (2, 5)}
    command = commands[2]
    shown = " ".join(command)
    if command[0] not in ("{python}", sys.executable) or command[1:2] != ["-m"] or len(command) < 3:
        raise Fail("the command to start with {python} -m SERVER", shown, NOT_THIS_PYTHON)
    if not any("{port}" in part for part in command):
        raise Fail("the command to bind 127.0.0.1 on {port}", shown, NO_START)
    if any("tripboard.wsgi" in part for part in command) or not any("tripboard.asgi" in part for part in command):
        raise Fail("the command to serve tripboard.asgi:application", shown, NOT_ASGI_APP)
    if commands[2] == commands[5]:
        raise Fail("server_command(2) and server_command(5) to differ", shown, WORKERS_IGNORED)

    workers = random.choice((2, 3))
    command = await _command(ctx, server_command, workers)
    server = deploy.server(command, upstream=NO_UPSTREAM, name="server-command", ready_timeout=90.0)
    try:
        try:
            await server.start()
        except (RuntimeError, TimeoutError) as exc:
            raise Fail("your command to start a server that answers GET /health/", _log_tail(str(exc)),
                       NO_START) from None
        exposed = [address for address, _ in deploy.listening(server) if address != "127.0.0.1"]
        if exposed:
            raise Fail("the server to listen on 127.0.0.1 only", f"listening on {', '.join(sorted(set(exposed)))}",
                       NOT_LOCAL)
        found = deploy.serving_processes(server)
        if found != workers:
            raise Fail(f"server_command({workers}): {workers} processes serving requests", f"{found}",
                       WORKERS.format(wanted=workers, found=found))
        http2 = await deploy.speaks_http2(server.url, timeout=20.0)
        if http2 != "HTTP/2":
            raise Fail("an answer over HTTP/2 without TLS (h2c)", http2, NO_HTTP2)
        joined = await deploy.websocket_join(server, await _cookie("alice"), await _trip_id(), timeout=20.0)
        if joined != "joined":
            raise Fail("a logged-in WebSocket client to join a trip's room", joined, NO_WEBSOCKET.format(got=joined))
    finally:
        await server.stop()
    return "A server with HTTP/2, WebSockets and the workers asked for, on 127.0.0.1 only."


# --- 2. a settings module that check --deploy accepts ------------------------------------------------
SELECTED = ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016",
            "security.W018", "security.W020")
SITE = "trips.example.com"

# Run with the learner's module: Django set up, the deployment checks, and three requests.
PROBE = r'''
import json, logging, sys
logging.disable(logging.CRITICAL)        # the DisallowedHost log: the status says it
out = {}
try:
    import django
    django.setup()
except BaseException as exc:
    out["setup"] = f"{type(exc).__name__}: {exc}"
    try:
        from django.conf import settings
        out["trips"] = "trips" in settings.INSTALLED_APPS
    except BaseException:
        pass
    print(json.dumps(out))
    sys.exit(0)
from django.conf import settings
out["trips"] = "trips" in settings.INSTALLED_APPS
def get(client, host, proto):
    extra = {"HTTP_X_FORWARDED_PROTO": proto} if proto else {}
    try:
        response = client.get("/health/", HTTP_HOST=host, **extra)
        return [response.status_code, response.get("Location", "")]
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}", ""]
try:
    from django.core import checks
    from django.test import Client
    out["silenced"] = list(getattr(settings, "SILENCED_SYSTEM_CHECKS", []))
    out["debug"] = repr(settings.DEBUG)
    out["ids"] = sorted({issue.id for issue in checks.run_checks(include_deployment_checks=True) if issue.id})
    client = Client()
    out["https"] = get(client, sys.argv[1], "https")
    out["http"] = get(client, sys.argv[1], None)
    out["evil"] = get(client, "evil.example", "https")
except BaseException as exc:
    out["setup"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
'''


async def _probe_settings(source):
    """Run PROBE in a process of its own with `source` as its settings module: the JSON it printed."""
    from django.conf import settings

    from ..lab import sandbox_dir, server_env

    with _module_dir() as folder:
        module = f"learner_deploy_{random.randrange(10**6)}"
        (folder / f"{module}.py").write_text(source)
        env = {**os.environ, **server_env(NO_UPSTREAM), **_module_env(folder, module),
               "DJANGO_SECRET_KEY": settings.SECRET_KEY}
        env.pop("DJANGO_DEBUG", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROBE, SITE, cwd=str(sandbox_dir()), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        try:
            out, err = await asyncio.wait_for(process.communicate(), 25)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise Fail("Django to set up with your settings within 25 s", "it was still running, so the check "
                       "stopped it", TIMED_OUT, kind=Kind.TIMEOUT) from None
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise Fail("Django to set up with your settings", _log_tail(err.decode(errors="replace")),
                   NOT_LOADED) from None


@chapter.exercise(
    "deploy-settings", "Fix a settings module until check --deploy is satisfied",
    needs=["DEPLOY_SETTINGS"],
    hints=[
        "Start from `from tripboard.settings import *`; run the check and fix one warning at a time: each names "
        "its setting.",
        "Behind the TLS proxy: SECURE_PROXY_SSL_HEADER = (\"HTTP_X_FORWARDED_PROTO\", \"https\") with "
        "SECURE_SSL_REDIRECT = True; ALLOWED_HOSTS = [\"trips.example.com\"].",
        "The lesson's tripboard/settings_deploy.py does all of it (read SECRET_KEY from os.environ there, or keep "
        "the one tripboard.settings reads).",
    ],
    timeout=90,
)
async def check_deploy_settings(ctx, DEPLOY_SETTINGS):  # noqa: N803 (the learner's name)
    source = DEPLOY_SETTINGS
    if not isinstance(source, str) or not source.strip():
        raise Fail("DEPLOY_SETTINGS: the text of a settings module", f"{type(source).__name__}: {source!r}",
                   NOT_TEXT)
    try:
        compile(source, "DEPLOY_SETTINGS", "exec")
    except SyntaxError as exc:
        raise Fail("a settings module that compiles", f"SyntaxError: {exc.msg} (line {exc.lineno})", SYNTAX) from None
    found = await _probe_settings(source)
    if found.get("trips") is False:
        raise Fail("Tripboard's settings, changed for production", "INSTALLED_APPS without `trips`", NOT_TRIPBOARD)
    if "setup" in found:
        raise Fail("Django to set up with your settings", found["setup"], NOT_LOADED)
    silenced = sorted(set(found["silenced"]) & set(SELECTED))
    if silenced:
        raise Fail("no deployment warning silenced", f"SILENCED_SYSTEM_CHECKS = {found['silenced']}",
                   SILENCED.format(ids=", ".join(silenced)))
    if found["debug"].startswith(("'", '"')):
        raise Fail("DEBUG = False (a boolean)", f"DEBUG = {found['debug']}", DEBUG_TEXT.format(debug=found["debug"]))
    left = [issue for issue in SELECTED if issue in found["ids"]]
    if left:
        raise Fail(f"none of {', '.join(SELECTED)}", f"check --deploy: {', '.join(left)}",
                   STILL_WARNS.format(ids=", ".join(left)))
    status, location = found["https"]
    if status == 301 and location.startswith(f"https://{SITE}"):
        raise Fail(f"GET https://{SITE}/health/ (through the proxy) answered 200", f"301 to {location}",
                   REDIRECT_LOOP)
    if status != 200:
        raise Fail(f"GET https://{SITE}/health/ (through the proxy) answered 200", f"{status}",
                   HOST_REFUSED.format(status=status))
    status, location = found["http"]
    if not (status in (301, 302) and location.startswith(f"https://{SITE}")):
        raise Fail(f"GET http://{SITE}/health/ redirected to https://", f"{status} {location}".strip(),
                   PLAIN_HTTP_SERVED.format(status=status))
    status, _ = found["evil"]
    if status != 400:
        raise Fail("GET /health/ with Host: evil.example answered 400", f"{status}", ANY_HOST.format(status=status))
    return ("check --deploy has none of the selected warnings; behind the proxy HTTPS is served, plain HTTP "
            "redirected, and a foreign Host refused.")


# --- 3. a broadcast that reaches clients on two processes ---------------------------------------------
def _mentions(value, text):
    return text in repr(value)


async def _layers(ctx, channel_layers, url):
    what = f"`channel_layers({url!r})`"
    layers = await ctx.call(channel_layers, url, what=what, timeout=10)
    if isinstance(layers, dict):
        try:
            if ast.literal_eval(repr(layers)) != layers:
                raise ValueError
        except (ValueError, SyntaxError):
            raise Fail(f"{what}: plain data", repr(layers), NOT_PLAIN_DATA) from None
    default = layers.get("default") if isinstance(layers, dict) else None
    if not isinstance(default, dict) or not isinstance(default.get("BACKEND"), str):
        raise Fail(f"{what}: {{\"default\": {{\"BACKEND\": ..., \"CONFIG\": ...}}}}", repr(layers), NOT_LAYERS)
    if "InMemoryChannelLayer" in default["BACKEND"]:
        raise Fail(f"{what}: a layer shared between processes", default["BACKEND"], IN_MEMORY)
    if not _mentions(layers, url):
        raise Fail(f"{what} to use {url}", repr(layers), URL_IGNORED.format(url=url))
    return layers


@chapter.exercise(
    "layer-across-processes", "Make a broadcast reach clients on two processes",
    needs=["channel_layers"],
    hints=[
        "The lesson's section 4 used channels_redis: BACKEND \"channels_redis.core.RedisChannelLayer\".",
        "Its CONFIG takes \"hosts\": a list of Redis URLs (or of {\"address\": url} dicts).",
        "return {\"default\": {\"BACKEND\": \"channels_redis.core.RedisChannelLayer\", "
        "\"CONFIG\": {\"hosts\": [redis_url]}}}",
    ],
    timeout=150,
)
async def check_layer_across_processes(ctx, channel_layers):
    import aiohttp

    from ..servers import deploy
    from ..servers.valkey import start_valkey

    require_callable(channel_layers, "channel_layers")
    for port in random.sample(range(20000, 30000), 2):
        await _layers(ctx, channel_layers, f"redis://127.0.0.1:{port}/0")
    valkey = await start_valkey()
    try:
        layers = await _layers(ctx, channel_layers, valkey.redis_url)
        with _module_dir() as folder:
            module = f"learner_layers_{random.randrange(10**6)}"
            (folder / f"{module}.py").write_text(f"from tripboard.settings import *  # noqa\n\n"
                                                 f"CHANNEL_LAYERS = {layers!r}\n")
            env = _module_env(folder, module)
            servers = [deploy.server("uvicorn", upstream=NO_UPSTREAM, env=env, name=f"layer-{n}", ready_timeout=90.0)
                       for n in (1, 2)]
            try:
                started = await asyncio.gather(*(s.start() for s in servers), return_exceptions=True)
                failed = [r for r in started if isinstance(r, BaseException)]
                if failed:
                    raise Fail("two uvicorn processes with your CHANNEL_LAYERS", _log_tail(str(failed[0])),
                               SERVERS_DOWN)
                await _across(servers, await _cookie("alice"), await _cookie("bob"), await _trip_id(), aiohttp,
                              deploy)
            finally:
                await asyncio.gather(*(s.stop() for s in servers))
    finally:
        await valkey.stop()
    return "A note sent through one server process reached a client on the other, through Valkey."


async def _across(servers, alice_cookie, bob_cookie, trip_id, aiohttp, deploy):
    first, second = servers
    note = f"note {random.randrange(10**6)}"
    async with aiohttp.ClientSession() as http:
        sockets = []
        try:
            for server, cookie in ((first, alice_cookie), (second, bob_cookie)):
                try:
                    sockets.append(await deploy.open_room(http, server, cookie, trip_id, timeout=20.0))
                except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                    errors = [line for line in server.log_text().splitlines()
                              if "Error" in line or "Exception" in line]
                    got = errors[-1].strip() if errors else type(exc).__name__
                    raise Fail("a logged-in client to join the room on each server", got,
                               NO_LAYER.format(got=type(exc).__name__)) from None
            alice, bob = sockets
            await alice.send_json({"text": note})
            try:
                async with asyncio.timeout(10):
                    while (await bob.receive_json()).get("text") != note:
                        pass
            except (TimeoutError, aiohttp.ClientError, TypeError, ValueError):
                raise Fail("bob (on the second server) to hear alice's note", "nothing within 10 s", LOST) from None
        finally:
            for socket in sockets:
                await socket.close()
