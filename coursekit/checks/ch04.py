"""Chapter 04: middleware in an async world."""
import inspect
import io
import wsgiref.util
from inspect import markcoroutinefunction

from django.utils.deprecation import MiddlewareMixin

from ..asgi import fresh_handler, request
from ..learner_slots import dotted
from ..logs import capture_log
from ..exercises import Chapter, Fail

chapter = Chapter("04", "Middleware in an async world")


# --- shared helpers --------------------------------------------------------------
def _flags(obj):
    return getattr(obj, "sync_capable", True), getattr(obj, "async_capable", False)


async def _async_get_response(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def _sync_get_response(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


async def _through_asgi(path_in_slots, path):
    """Build a fresh ASGIHandler whose stack is the learner's middleware alone; one request."""
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=[path_in_slots]), capture_log() as log:
        app = fresh_handler()
    response = await request(app, path)
    return response, log.messages


def _through_wsgi(path_in_slots, path):
    """The same through a WSGIHandler (the sync code path), called like a WSGI server would."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=[path_in_slots]), capture_log() as log:
        handler = WSGIHandler()
    environ = {"PATH_INFO": path, "wsgi.input": io.BytesIO(b""), "HTTP_HOST": "127.0.0.1"}
    wsgiref.util.setup_testing_defaults(environ)
    seen = {}
    body = b"".join(handler(environ, lambda s, h, e=None: seen.update(status=s, headers=dict(h))))
    return int(seen["status"].split()[0]), {k.lower(): v for k, v in seen["headers"].items()}, body, log.messages


def _explain_500(body):
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    for line in text.splitlines():
        if "Error" in line and len(line) < 300:
            return line.strip()
    return text[:160]


# --- 1. make a sync middleware hybrid --------------------------------------------
@chapter.exercise(
    "hybrid", "Turn a sync middleware into a hybrid one",
    needs=["tripboard_version"],
    hints=[
        "A hybrid function middleware is decorated with @sync_and_async_middleware and looks at get_response "
        "once, in the factory.",
        "if inspect.iscoroutinefunction(get_response): define and return an `async def middleware(request)` "
        "that awaits get_response; else define and return the plain `def` version.",
        "Both inner functions do the same: response = (await) get_response(request); "
        "response['X-Tripboard-Version'] = '6.1'; return response.",
    ],
)
async def check_hybrid(ctx, tripboard_version):
    ctx.expect(callable(tripboard_version), expected="`tripboard_version` to be a middleware factory",
               got=repr(tripboard_version)[:80])
    can_sync, can_async = _flags(tripboard_version)
    ctx.expect(can_async, expected="a middleware Django may call in async mode (async_capable = True)",
               got="async_capable is not set, so Django treats it as sync-only",
               nudge="Decorate the factory with @sync_and_async_middleware (from django.utils.decorators).")
    ctx.expect(can_sync, expected="a middleware that still works in a sync stack (sync_capable = True)",
               got="sync_capable = False: it is async-only now",
               nudge="A hybrid keeps both flags True: @sync_and_async_middleware sets them for you.")
    for label, get_response, want_async in (("an async", _async_get_response, True),
                                            ("a sync", _sync_get_response, False)):
        layer = await ctx.call(tripboard_version, get_response, what="`tripboard_version(get_response)`")
        ctx.expect(layer is not None and callable(layer), expected="the factory to return the per-request callable",
                   got=repr(layer)[:80], nudge="End the factory with `return middleware`.")
        ctx.expect(inspect.iscoroutinefunction(layer) == want_async,
                   expected=f"given {label} get_response, a{'n async' if want_async else ' sync'} middleware back",
                   got=f"a {'coroutine' if not want_async else 'plain'} function",
                   nudge="Check `inspect.iscoroutinefunction(get_response)` in the factory and return the matching "
                         "kind: `async def` when it is async, plain `def` otherwise.")
    path = dotted(tripboard_version, "tripboard_version")
    response, adapted = await ctx.call(_through_asgi, path, "/orm/ping/", what="a request through your middleware")
    ctx.expect(response.status == 200, expected="status 200 from /orm/ping/ under ASGI",
               got=f"{response.status}: {_explain_500(response.body)}")
    ctx.expect(response.headers.get("x-tripboard-version") == "6.1",
               expected="X-Tripboard-Version: 6.1 on the ASGI response",
               got=f"{response.headers.get('x-tripboard-version')!r}",
               nudge="Set the header in the async branch too.")
    ctx.expect(not adapted, expected="no adaptation under ASGI", got="; ".join(adapted))
    status, headers, body, adapted = await ctx.call(_through_wsgi, path, "/health/", what="a request through WSGI")
    ctx.expect(status == 200, expected="status 200 from /health/ under WSGI", got=f"{status}: {_explain_500(body)}")
    ctx.expect(headers.get("x-tripboard-version") == "6.1", expected="X-Tripboard-Version: 6.1 under WSGI",
               got=f"{headers.get('x-tripboard-version')!r}", nudge="Set the header in the sync branch too.")
    ctx.expect(not adapted, expected="no adaptation under WSGI", got="; ".join(adapted))
    return "It runs async under ASGI and sync under WSGI, and Django never has to adapt it."


# --- 2. an async Server-Timing middleware -----------------------------------------
async def _timed_requests(path_in_slots):
    from django.test import AsyncClient
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=[path_in_slots]), capture_log() as log:
        client = AsyncClient()
        nap = await client.get("/orm/nap/?s=0.1")
        quick = await client.get("/orm/ping/")
    return nap, quick, log.messages


def _duration_ms(value):
    if value is None:
        raise Fail("a Server-Timing header on the response", "no such header",
                   "Set it on the response you got from get_response: response['Server-Timing'] = ...")
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        if name.strip() == "app":
            for param in params.split(";"):
                key, _, number = param.strip().partition("=")
                if key == "dur":
                    try:
                        return float(number)
                    except ValueError:
                        raise Fail("dur=<a number of milliseconds>", f"{value!r}") from None
    raise Fail("a metric named app with a duration: `app;dur=12.3`", f"{value!r}",
               "The syntax is name;dur=milliseconds, for example f'app;dur={ms:.1f}'.")


@chapter.exercise(
    "server-timing", "An async middleware that adds Server-Timing",
    needs=["AsyncServerTiming"],
    hints=[
        "Start from AsyncPassThrough in trips/middleware.py: two flags, markcoroutinefunction(self) in __init__, "
        "`async def __call__(self, request)`.",
        "Take time.perf_counter() before `await self.get_response(request)` and after it; the header wants "
        "milliseconds.",
        "response['Server-Timing'] = f'app;dur={(time.perf_counter() - started) * 1000:.1f}'",
    ],
)
async def check_server_timing(ctx, AsyncServerTiming):
    ctx.expect(inspect.isclass(AsyncServerTiming), expected="`AsyncServerTiming` to be a class",
               got=repr(AsyncServerTiming)[:80])
    can_sync, can_async = _flags(AsyncServerTiming)
    ctx.expect(can_async and not can_sync, expected="async-only flags: async_capable = True, sync_capable = False",
               got=f"async_capable = {can_async}, sync_capable = {can_sync}",
               nudge="Set both as class attributes; without them Django treats a middleware as sync-only.")
    params = list(inspect.signature(AsyncServerTiming.__call__).parameters)
    ctx.expect(params[1:] == ["request"], expected="`async def __call__(self, request)`",
               got=f"__call__({', '.join(params)})",
               nudge="That is the circulating wrong signature. Django calls each layer with the request only; "
                     "get_response arrives once, in __init__: keep it as self.get_response." if "get_response"
                     in params else "Django calls each layer with exactly one argument: the request.")
    ctx.expect(inspect.iscoroutinefunction(AsyncServerTiming.__call__), expected="`__call__` defined with async def",
               got="a plain def", nudge="It awaits get_response, so it must be `async def __call__`.")
    instance = await ctx.call(AsyncServerTiming, _async_get_response, what="`AsyncServerTiming(get_response)`")
    ctx.expect(inspect.iscoroutinefunction(instance), expected="inspect.iscoroutinefunction(instance) to be True",
               got="False: Django would wrap your middleware as if it were sync",
               nudge="Call markcoroutinefunction(self) in __init__ (from inspect or asgiref.sync).")
    path = dotted(AsyncServerTiming, "AsyncServerTiming")
    nap, quick, adapted = await ctx.call(_timed_requests, path, what="requests through your middleware")
    ctx.expect(nap.status_code == 200, expected="status 200", got=str(nap.status_code),
               nudge="Return the response that get_response gave you.")
    ctx.expect(not adapted, expected="no adaptation in an async stack", got="; ".join(adapted))
    slow_ms, quick_ms = _duration_ms(nap.get("Server-Timing")), _duration_ms(quick.get("Server-Timing"))
    if slow_ms < 1:
        raise Fail("about 100 for a view that takes 0.1 s (the unit is milliseconds)", f"dur={slow_ms}",
                   "That looks like seconds: multiply by 1000.")
    ctx.expect(80 <= slow_ms <= 5000, expected="about 100 ms for a view that sleeps 0.1 s",
               got=f"dur={slow_ms}", nudge="Measure around `await self.get_response(request)` only, in milliseconds.")
    ctx.expect(quick_ms < slow_ms, expected="a smaller duration for a quick view than for the 0.1 s one",
               got=f"{quick_ms} vs {slow_ms}", nudge="Start the clock per request, inside __call__, not in __init__.")
    return "An async layer, no hops, and a header your browser's dev tools can show."


# --- 3. which middleware forces adaptation? ----------------------------------------
class RequestAudit:
    """A mystery middleware: sync-only (the default)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class LocaleHint(MiddlewareMixin):
    """A mystery middleware: hybrid, like Django's own."""

    def process_response(self, request, response):
        response["X-Locale-Hint"] = "en"
        return response


class GeoTag:
    """A mystery middleware: async-only."""

    async_capable, sync_capable = True, False

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)


def legacy_auth(get_response):
    """A mystery middleware: a sync function factory."""
    def middleware(request):
        return get_response(request)
    return middleware


_M = f"{__name__}."
AUDIT, LOCALE, GEO, LEGACY = (_M + n for n in ("RequestAudit", "LocaleHint", "GeoTag", "legacy_auth"))
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
XFRAME = "django.middleware.clickjacking.XFrameOptionsMiddleware"
MYSTERY_STACK = [LOCALE, AUDIT, GEO, SESSION, LEGACY, XFRAME]
_CASES = [
    (MYSTERY_STACK, [AUDIT, LEGACY]),
    ([AUDIT, LEGACY, LOCALE], [AUDIT, LEGACY]),
    ([LOCALE, GEO, SESSION], []),
    ([GEO, LOCALE, AUDIT], [AUDIT]),
]


def _short(paths):
    return "[" + ", ".join(p.rsplit(".", 1)[-1] for p in paths) + "]"


@chapter.exercise(
    "find-culprits", "Which middleware forces a thread hop?",
    needs=["find_culprits"],
    hints=[
        "Build a fresh handler under override_settings(MIDDLEWARE=stack) inside capture_log(), then read "
        "log.messages. Which kind of line names the sync layer?",
        "'Asynchronous handler adapted for middleware X' means X is sync and got an async handler below it. "
        "'Synchronous handler adapted for middleware X' names an async X sitting on a sync layer: not a culprit.",
        "A sync middleware right above another sync one is never logged. Confirm each suspect: remove the logged "
        "culprits, rebuild, and repeat until the log is empty (or check each middleware's async_capable flag).",
    ],
)
async def check_find_culprits(ctx, find_culprits):
    ctx.expect(callable(find_culprits), expected="`find_culprits` to be a function", got=repr(find_culprits)[:80])
    for stack, want in _CASES:
        got = await ctx.call(find_culprits, list(stack), what="`find_culprits`")
        ctx.expect(isinstance(got, (list, tuple)), expected="a list of dotted paths", got=repr(got)[:80])
        got = list(got)
        if got == want:
            continue
        if got and all("." not in str(p) for p in got):
            raise Fail(f"dotted paths as in the stack, e.g. {want[:1]}", repr(got)[:120],
                       "Return the entries of `stack` themselves, not class names.")
        extra, missing = [p for p in got if p not in want], [p for p in want if p not in got]
        nudge = "Return the sync-only middleware of `stack`, in stack order."
        if GEO in extra:
            nudge = ("GeoTag is async-only. 'Synchronous handler adapted for middleware GeoTag' means the layer "
                     "*below* it is sync; the culprit is that sync layer.")
        elif extra and all(p in (LOCALE, SESSION, XFRAME) for p in extra):
            nudge = ("Hybrid middleware (both flags True, as MiddlewareMixin sets them) follows its neighbours: "
                     "it never forces a hop by itself.")
        elif missing and AUDIT in missing and LEGACY in got:
            nudge = ("RequestAudit sits right above another sync layer, so Django logs no adaptation for it, "
                     "yet it is sync-only: remove the logged culprit, rebuild, and look again.")
        elif not got and want:
            nudge = "Build the handler inside capture_log() (and override_settings), then read log.messages."
        elif sorted(got) == sorted(want):
            nudge = "Right members, wrong order: keep the order of `stack`."
        raise Fail(f"find_culprits({_short(stack)}) == {_short(want)}", _short(got), nudge)
    return "One sync layer costs a hop down and one up; make it hybrid, or move it outwards."
