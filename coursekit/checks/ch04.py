"""Chapter 04: middleware in an async world.

What decides a thread hop is a layer's capability flags (sync_capable, async_capable):
Django's BaseHandler.load_middleware reads nothing else. `markcoroutinefunction(self)` decides
how Django wraps the layer for exceptions (convert_exception_to_response) and silences asgiref's
"non-async-marked callable" warning. Django logs "... handler adapted for middleware X" only
when settings.DEBUG is True: every handler this module builds to read those lines is built
under override_settings(DEBUG=True), whatever the sandbox's default.
"""
import asyncio
import contextlib
import inspect
import random
import threading
import time
import traceback
from inspect import markcoroutinefunction

from django.utils.decorators import async_only_middleware, sync_and_async_middleware, sync_only_middleware
from django.utils.deprecation import MiddlewareMixin

from ..exercises import UNAWAITED_RESULT, Busy, Chapter, Fail, Kind
from ..learner_slots import dotted
from ..logs import capture_log
from .common import close_coroutines, require_callable

chapter = Chapter("04", "Middleware in an async world")

# --- nudges ---------------------------------------------------------------------------------
# hybrid
NOT_ASYNC_CAPABLE = chapter.nudge(
    "W001", "Django sees a sync-only middleware",
    "Without async_capable = True Django treats the middleware as sync-only and adapts around it in an async "
    "stack. Decorate the factory with @sync_and_async_middleware (from django.utils.decorators).")
NOT_SYNC_CAPABLE = chapter.nudge(
    "W002", "not usable in a sync stack",
    "sync_capable is False, so this is async-only now: a WSGI stack would have to adapt it. A hybrid keeps both "
    "flags True (@sync_and_async_middleware sets them for you).")
FACTORY_NONE = chapter.nudge(
    "W003", "the factory returns nothing",
    "Django calls the factory once with get_response and uses what it returns for every request; returning "
    "None makes Django raise ImproperlyConfigured ('Middleware factory ... returned None'). End the factory with "
    "`return middleware`.")
ALWAYS_SYNC = chapter.nudge(
    "W004", "a sync layer for an async get_response",
    "Given an async get_response, the factory must return an `async def` function that awaits it. A plain `def` "
    "there (or one that calls async_to_sync itself) is exactly the thread hop a hybrid is meant to avoid. Check "
    "`inspect.iscoroutinefunction(get_response)` in the factory and return the matching kind.")
ALWAYS_ASYNC = chapter.nudge(
    "W005", "an async layer for a sync get_response",
    "Given a sync get_response (a WSGI stack), the factory must return a plain `def` function: an `async def` "
    "one there makes Django adapt it with async_to_sync, a new event loop per request. Check "
    "`inspect.iscoroutinefunction(get_response)` and return the matching kind.")
MARKER = chapter.nudge(
    "W006", "markcoroutinefunction(self) missing",
    "An instance whose __call__ is `async def` is not a coroutine function to inspect.iscoroutinefunction, and "
    "that is what Django asks when it wraps each layer for exceptions (convert_exception_to_response): without "
    "the marker it wraps yours as sync, an exception can escape the handler, and asgiref warns about a "
    "'non-async-marked callable'. Call markcoroutinefunction(self) in __init__ (from inspect or asgiref.sync){when}.")
NO_RETURN = chapter.nudge(
    "W007", "the middleware returns None",
    "The per-request function ends without `return response`, so Django gets None instead of a response: under "
    "ASGI the handler then fails with AttributeError ('NoneType' object has no attribute '_resource_closers'), "
    "under WSGI with ValueError (didn't return an HttpResponse object). Return the response you got from "
    "get_response.")
HEADER_MISSING = chapter.nudge(
    "W008", "the header is missing in one mode",
    "The {branch} branch returns the response without X-Tripboard-Version: 6.1. Both branches add the same "
    "header; only `await` differs.")
SHARED_STATE = chapter.nudge(
    "W009", "requests got each other's responses",
    "Requests served at the same time got another request's response back. Keep per-request values (the "
    "response) in local variables of the per-request function, never on `self` or in the factory's variables, "
    "which every request shares.")
NOT_THE_RESPONSE = chapter.nudge(
    "W010", "not the view's response",
    "Return the response that get_response(request) gave you, with the header added: a response you build "
    "yourself throws the view's answer away.")
ADAPTED = chapter.nudge(
    "W011", "Django adapted the middleware",
    "Django had to wrap your middleware with a thread hop ({lines}). Its flags and the kind of function it "
    "returns must agree with the stack it is in.")
SYNC_TO_ASYNC_ON_ASYNC = chapter.nudge(
    "W012", "sync_to_async around something async",
    "sync_to_async wraps *sync* functions; get_response here is already async (asgiref raises TypeError). "
    "Just `await get_response(request)`.")
ASYNC_TO_SYNC_ON_SYNC = chapter.nudge(
    "W013", "async_to_sync around something sync",
    "async_to_sync wraps *async* functions; get_response here is sync, so its result (a response) was awaited "
    "and failed. In the sync branch call it directly: `response = get_response(request)`.")
FACTORY_ASYNC = chapter.nudge(
    "W014", "the factory itself is async",
    "Django calls the factory once, without await, to build the stack: `async def tripboard_version` gives it a "
    "coroutine instead of a middleware. Keep the factory a plain `def`; only the per-request function it "
    "returns may be `async def`.")
NOT_A_RESPONSE = chapter.nudge(
    "W015", "not a response",
    "Middleware returns an HttpResponse (the one get_response gave you), not {kind}.")
SERVER_ERROR = chapter.nudge(
    "W016", "the request failed inside Django",
    "Django answered {status} for a request through your middleware. Look at the error under Got.")
HOP_IN_ASYNC = chapter.nudge(
    "W017", "a hidden thread hop in async mode",
    "In async mode part of your middleware ran on a worker thread, not on the event loop: something in it goes "
    "through sync_to_async (MiddlewareMixin's __acall__ does that for process_request and process_response). "
    "That is a thread hop per request, one Django does not even log. Write the async branch as plain "
    "`async def` code that awaits get_response and sets the header itself.")

# server-timing
NOT_A_CLASS = chapter.nudge(
    "W020", "not a class",
    "`AsyncServerTiming` should be the class itself (Django instantiates it with get_response), not {kind}.")
FLAGS = chapter.nudge(
    "W021", "not async-only flags",
    "Set both as class attributes: async_capable = True, sync_capable = False. Without them Django treats a "
    "middleware as sync-only and adapts around it; with sync_capable True it may hand it a sync get_response.")
SIGNATURE = chapter.nudge(
    "W022", "the circulating wrong signature",
    "Django calls each layer with the request only: `async def __call__(self, request)`. get_response arrives "
    "once, in __init__: keep it as self.get_response and await that.")
CALL_ARGS = chapter.nudge(
    "W023", "__call__ takes the request only",
    "Django calls each layer with exactly one argument, the request: `async def __call__(self, request)`.")
CALL_NOT_ASYNC = chapter.nudge(
    "W024", "__call__ is not async def",
    "An async-only middleware awaits get_response, so it needs `async def __call__(self, request)`.")
NO_TIMING_HEADER = chapter.nudge(
    "W025", "no Server-Timing header",
    "Set it on the response you got from get_response: response['Server-Timing'] = f'app;dur={{ms:.1f}}'.")
TIMING_FORMAT = chapter.nudge(
    "W026", "not name;dur=milliseconds",
    "The syntax is name;dur=<number>, here a metric named app: f'app;dur={{ms:.1f}}' (no unit after the number).")
SECONDS = chapter.nudge(
    "W027", "seconds, not milliseconds",
    "That looks like seconds: a 0.1 s view should show about dur=100. time.perf_counter() counts seconds; "
    "multiply the difference by 1000.")
TOO_BIG_UNIT = chapter.nudge(
    "W028", "a thousand times too big",
    "The number is about 1000 (or a million) times what the request took, as if the unit were microseconds "
    "(or nanoseconds): time.perf_counter() counts seconds, so seconds * 1000 gives milliseconds; a "
    "perf_counter_ns() difference needs / 1e6.")
CLOCK_ONCE = chapter.nudge(
    "W029", "the clock starts once, not per request",
    "The durations grow from request to request, each longer than the request itself: the start time is taken "
    "once (in __init__ or at class level). Take `started = time.perf_counter()` inside __call__, right before "
    "`await self.get_response(request)`.")
LONGER_THAN_CALL = chapter.nudge(
    "W030", "longer than the whole request",
    "The duration reported is longer than the whole request took, measured from outside: measure around "
    "`await self.get_response(request)` in this request, with the clock's own difference (no fixed number).")
TOO_SHORT = chapter.nudge(
    "W031", "the view's time is not inside the measurement",
    "A view that sleeps 0.1 s must show at least that: take the start time before `await "
    "self.get_response(request)` and the end time after it.")
TIMING_SHARED = chapter.nudge(
    "W032", "the start time is shared between requests",
    "A request that overlapped another one reported too short a time: the start time is kept on `self`, so the "
    "next request overwrote it. Keep it in a local variable of __call__ (`started = time.perf_counter()`).")

# find-culprits
NOT_A_LIST = chapter.nudge(
    "W040", "not a list",
    "Return a list of entries of `stack` (dotted paths, as strings), not {kind}.")
A_SET = chapter.nudge(
    "W041", "a set has no order",
    "A set loses the stack's order (and Python may print it in any order). Return a list, in stack order "
    "(outermost first): `[m for m in stack if m in culprits]`.")
CLASS_NAMES = chapter.nudge(
    "W042", "names instead of dotted paths",
    "Return the entries of `stack` themselves (full dotted paths like 'package.module.Name'), not bare names.")
NOT_FROM_STACK = chapter.nudge(
    "W043", "not entries of the stack",
    "Every item must be an entry of `stack`, exactly as written there. Got {odd}: when you cut the path out of a "
    "log line, remove the line's final '.' too (`.rstrip('.')`, or `removesuffix('.')`).")
NO_LINES = chapter.nudge(
    "W044", "nothing found",
    "No culprit found in a stack that has some. Django writes its 'adapted' lines only when settings.DEBUG is "
    "True: the check runs your function with DEBUG off, as in production. Build the handler inside "
    "`with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:`, then read log.messages.")
ASYNC_BLAMED = chapter.nudge(
    "W045", "an async-only middleware blamed",
    "{names} is async-only (async_capable True, sync_capable False). 'Synchronous handler adapted for "
    "middleware X' names an async X whose layer *below* is sync: the culprit is that sync layer, not X. "
    "Only 'Asynchronous handler adapted for middleware X' names a sync X.")
HYBRID_BLAMED = chapter.nudge(
    "W046", "a hybrid middleware blamed",
    "{names} is hybrid (both flags True, as MiddlewareMixin and @sync_and_async_middleware set them): it runs in "
    "whichever mode its neighbours give it and never forces a hop by itself. Only sync-only middleware "
    "(sync_capable True, async_capable False) is a culprit.")
ONLY_FIRST = chapter.nudge(
    "W047", "stopped too early",
    "Django logged more than one culprit here and your answer left {names} out: collect every 'Asynchronous "
    "handler adapted for middleware ...' line, not just the first.")
UNLOGGED_MISSED = chapter.nudge(
    "W048", "a sync layer Django did not log",
    "{names} is sync-only, yet no line names it: a sync middleware whose layer below already runs sync (a sync "
    "one, or a hybrid pushed into sync mode) needs no adapting, so Django logs nothing for it. Remove the "
    "culprits you found, build the handler again and read the log again, until no culprit is left (or read "
    "each middleware's flags).")
ORDER = chapter.nudge(
    "W049", "not in stack order, once each",
    "Right culprits, but return each one once, in the order of `stack` (outermost first), not in the log's "
    "order (Django builds the stack from the inside out) or sorted: `[m for m in stack if m in culprits]`.")
WRONG_CULPRITS = chapter.nudge(
    "W050", "not the sync-only middleware",
    "Return exactly the sync-only middleware of `stack` (sync_capable True, async_capable False), in stack order.")


@chapter.explainer
def _explain(exc, what):
    """asgiref's adapters applied to the wrong kind of get_response."""
    got = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TypeError) and "sync_to_async can only be applied to sync functions" in str(exc):
        return Fail(f"{what} to run without an error", got, SYNC_TO_ASYNC_ON_ASYNC, kind=Kind.ERROR, cause=exc)
    if isinstance(exc, TypeError) and "can't be used in 'await' expression" in str(exc):
        frames = traceback.extract_tb(exc.__traceback__)
        if any(frame.filename.endswith(("asgiref/sync.py", "asgiref\\sync.py")) for frame in frames):
            return Fail(f"{what} to run without an error", got, ASYNC_TO_SYNC_ON_SYNC, kind=Kind.ERROR, cause=exc)
    return None


# --- shared helpers ---------------------------------------------------------------------------
def _flags(obj):
    return getattr(obj, "sync_capable", True), getattr(obj, "async_capable", False)


def _kind(value):
    return "None" if value is None else f"a {type(value).__name__}"


def _request(path):
    from django.test import RequestFactory

    return RequestFactory().get(path)


def _first_error(log):
    """The exception Django logged while it turned an error into a 500 (django.request, exc_info)."""
    for record in log.records:
        if record.exc_info and record.exc_info[1] is not None:
            return record.exc_info[1]
    return None


def _judge_status(status, error, what):
    if status == 200:
        return
    if error is not None:
        raise chapter.explain(error, what)
    raise Fail(f"status 200 from {what}", f"status {status}", SERVER_ERROR.format(status=status))


async def _through_asgi(path_in_slots, paths):
    """A fresh ASGIHandler whose stack is the learner's middleware alone; requests one after another.

    Returns (adapted lines, [(response, wall seconds, exception Django logged or None)])."""
    from django.test.utils import override_settings

    from ..asgi import fresh_handler, request

    with override_settings(DEBUG=True, MIDDLEWARE=[path_in_slots]), capture_log() as log:
        app = fresh_handler()
    results = []
    for path in paths:
        with capture_log() as errors:
            started = time.perf_counter()
            response = await request(app, path)
            seconds = time.perf_counter() - started
        results.append((response, seconds, _first_error(errors)))
    return log.messages, results


def _through_wsgi(path_in_slots, path):
    """The same through a WSGIHandler (the sync code path), on a thread with no event loop."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from .. import wsgi

    with override_settings(DEBUG=True, MIDDLEWARE=[path_in_slots]), capture_log() as log:
        handler = WSGIHandler()
    with capture_log() as errors:
        status, headers, body = wsgi.call(handler, path)
    return log.messages, status, headers, body, _first_error(errors)


class _Coroutines:
    """The coroutines a check's own async get_response hands to learner code. Wrong code drops some
    unawaited; closing them all afterwards keeps Python's "never awaited" warning (collected by the
    framework at some later moment, maybe during a later check) out of every verdict."""

    def __init__(self):
        self.made = []

    def track(self, async_fn):
        def get_response(request):
            coroutine = async_fn(request)
            self.made.append(coroutine)
            return coroutine

        markcoroutinefunction(get_response)
        get_response.__name__ = get_response.__qualname__ = "get_response"
        return get_response

    def close(self):
        for coroutine in self.made:
            with contextlib.suppress(Exception):
                coroutine.close()  # a finished one is left as it is; an unstarted one closes silently
        self.made.clear()


# --- 1. make a sync middleware hybrid -----------------------------------------------------------
VERSION = "6.1"
CROWD = 6  # requests sent at the same time through one layer


def _tracked(response, delay=0.0):
    """Give a response headers that note the thread that sets each one, and (delay) take a while to
    set: a request that keeps its response in shared state (on self, in the factory) is then
    overtaken by another one between setting the header and returning."""
    from django.http.response import ResponseHeaders

    class TrackedHeaders(ResponseHeaders):
        armed = False

        def __setitem__(self, key, value):
            if self.armed:
                if delay:
                    time.sleep(delay)
                self.__dict__.setdefault("threads", []).append(threading.get_ident())
            super().__setitem__(key, value)

    response.headers = TrackedHeaders(dict(response.headers.items()))
    response.headers.armed = True
    return response


class _Crowd:
    """n requests at once through one layer, each with its own response from get_response.

    Sync: from threads, as a threaded WSGI server sends them; every request is inside the
    middleware before any returns, they return in staggered order, and setting a header takes a
    while, so a response kept in shared state (on self, in the factory) is overtaken by another.
    Async: on one event loop; each get_response awaits a different time."""

    def __init__(self, n=CROWD):
        self.n = n
        self.barrier = threading.Barrier(n, timeout=5)

    def sync_get_response(self, request):
        from django.http import HttpResponse

        i = int(request.GET["i"])
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            pass
        time.sleep(0.015 * (self.n - i))
        return _tracked(HttpResponse(f"ck04-{i}"), delay=0.02)

    async def async_get_response(self, request):
        from django.http import HttpResponse

        i = int(request.GET["i"])
        await asyncio.sleep(0.01 * (self.n - i))
        return _tracked(HttpResponse(f"ck04-{i}"))

    def drive_sync(self, mw):
        """Returns [(marker, result)]."""
        results, errors = [None] * self.n, []

        def one(i):
            try:
                results[i] = mw(_request(f"/ck04/?i={i}"))
            except BaseException as exc:  # noqa: BLE001 - handed to the chapter's explainer
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=one, args=(i,), name=f"ck04-request-{i}") for i in range(self.n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [(f"ck04-{i}", result) for i, result in enumerate(results)]

    async def drive_async(self, mw):
        """Returns [(marker, result)] and the loop's thread; a result that is not awaitable is
        returned as it is."""
        async def one(i):
            result = mw(_request(f"/ck04/?i={i}"))
            return await result if inspect.isawaitable(result) else result

        results = await asyncio.gather(*(one(i) for i in range(self.n)))
        return [(f"ck04-{i}", result) for i, result in enumerate(results)], threading.get_ident()


def _judge_responses(pairs, branch, loop_thread=None):
    """Each request must get back its own response from get_response, with the header set."""
    from django.http import HttpResponseBase

    for marker, result in pairs:
        if inspect.iscoroutine(result) or inspect.isawaitable(result):
            close_coroutines([r for _, r in pairs])
            raise Fail(f"the {branch} middleware to return a response", "a coroutine object, never awaited",
                       UNAWAITED_RESULT, kind=Kind.UNAWAITED)
        if result is None:
            raise Fail(f"the {branch} middleware to return the response", "None", NO_RETURN)
        if not isinstance(result, HttpResponseBase):
            raise Fail("an HttpResponse", f"{type(result).__name__}: {result!r}",
                       NOT_A_RESPONSE.format(kind=_kind(result)))
    for marker, result in pairs:
        body = getattr(result, "content", b"").decode(errors="replace")
        if body != marker:
            if body.startswith("ck04-"):
                raise Fail(f"{len(pairs)} requests at the same time, each getting its own response back",
                           f"the request for {marker} got the response for {body}", SHARED_STATE)
            raise Fail("the response get_response returned (the view's own body)", f"body {body!r}",
                       NOT_THE_RESPONSE)
        name, value = "X-Tripboard-Version", VERSION
        if result.get(name) != value:
            raise Fail(f"{name}: {value} on every response ({branch} branch)",
                       f"{name}: {result.get(name)!r}", HEADER_MISSING.format(branch=branch))
        threads = getattr(result.headers, "threads", [])
        if loop_thread is not None and any(t != loop_thread for t in threads):
            raise Fail("the async branch to run on the event loop's thread, start to end",
                       "the header was set on another thread (a sync_to_async hop)", HOP_IN_ASYNC)


def _has_async_method(obj):
    """A class instance with an async method: a class hybrid that forgot markcoroutinefunction."""
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return False
    return any(inspect.iscoroutinefunction(getattr(type(obj), name, None)) for name in dir(type(obj)))


async def _judge_modes(ctx, tripboard_version, crowd, async_get_response):
    """What the factory gives for each kind of get_response, then requests at the same time."""
    for branch, get_response in (("async", async_get_response), ("sync", crowd.sync_get_response)):
        mw = await ctx.call(tripboard_version, get_response,
                            what=f"`tripboard_version(get_response)` with a {branch} get_response")
        if mw is None:
            raise Fail("the factory to return the per-request function", "None", FACTORY_NONE)
        require_callable(mw, "what tripboard_version returns")
        if branch == "async" and not inspect.iscoroutinefunction(mw):
            if _has_async_method(mw):
                raise Fail("inspect.iscoroutinefunction(instance) to be True when get_response is async",
                           "False: Django would wrap your middleware as if it were sync",
                           MARKER.format(when=" when get_response is async"))
            raise Fail("given an async get_response, an `async def` middleware back",
                       f"a plain {'function' if inspect.isfunction(mw) else type(mw).__name__}", ALWAYS_SYNC)
        if branch == "sync" and inspect.iscoroutinefunction(mw):
            raise Fail("given a sync get_response, a plain `def` middleware back", "an `async def` function",
                       ALWAYS_ASYNC)
        what = f"{CROWD} requests at once through your {branch} middleware"
        if branch == "async":
            pairs, loop_thread = await ctx.call(crowd.drive_async, mw, what=what)
            _judge_responses(pairs, branch, loop_thread)
        else:
            _judge_responses(await ctx.call(crowd.drive_sync, mw, what=what), branch)


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
    # A class with both flags, markcoroutinefunction(self) when get_response is async and a __call__ that
    # answers in kind is accepted too: Django builds function and class middleware the same way, and the
    # lesson's takeaways name both forms of a hybrid.
    require_callable(tripboard_version, "tripboard_version")
    if inspect.iscoroutinefunction(tripboard_version):
        raise Fail("a plain `def` factory that returns the per-request function", "`async def tripboard_version`",
                   FACTORY_ASYNC)
    can_sync, can_async = _flags(tripboard_version)
    ctx.expect(can_async, expected="a middleware Django may run in async mode (async_capable = True)",
               got="async_capable is not set, so Django treats it as sync-only", nudge=NOT_ASYNC_CAPABLE)
    ctx.expect(can_sync, expected="a middleware that still works in a sync stack (sync_capable = True)",
               got="sync_capable = False: it is async-only", nudge=NOT_SYNC_CAPABLE)

    crowd, coroutines = _Crowd(), _Coroutines()
    try:
        await _judge_modes(ctx, tripboard_version, crowd, coroutines.track(crowd.async_get_response))
    finally:
        coroutines.close()

    # And for real: Django builds each stack and must adapt nothing.
    path = dotted(tripboard_version, "tripboard_version")
    adapted, [(response, _, error)] = await ctx.call(_through_asgi, path, ["/orm/ping/"],
                                                     what="a request through your middleware under ASGI")
    _judge_status(response.status, error, "/orm/ping/ under ASGI")
    ctx.expect(not adapted, expected="no adaptation under ASGI", got="; ".join(adapted),
               nudge=ADAPTED.format(lines="; ".join(adapted)))
    ctx.expect(response.headers.get("x-tripboard-version") == VERSION,
               expected="X-Tripboard-Version: 6.1 on the ASGI response",
               got=repr(response.headers.get("x-tripboard-version")), nudge=HEADER_MISSING.format(branch="async"))
    adapted, status, headers, _, error = await ctx.call(_through_wsgi, path, "/health/",
                                                        what="a request through your middleware under WSGI")
    _judge_status(status, error, "/health/ under WSGI")
    ctx.expect(not adapted, expected="no adaptation under WSGI", got="; ".join(adapted),
               nudge=ADAPTED.format(lines="; ".join(adapted)))
    ctx.expect(headers.get("x-tripboard-version") == VERSION, expected="X-Tripboard-Version: 6.1 under WSGI",
               got=repr(headers.get("x-tripboard-version")), nudge=HEADER_MISSING.format(branch="sync"))
    return "It runs async under ASGI and sync under WSGI, and Django never has to adapt it."


# --- 2. an async Server-Timing middleware -------------------------------------------------------
NAP = 0.1          # seconds the slow request takes (the sandbox's /orm/nap/ view, or the check's own)
NAP_FLOOR = 80.0   # ms: a right answer reports at least NAP; load only ever adds time
SLACK = 1.0        # ms: rounding of the reported number (f"{ms:.1f}", round(), int())


def _duration_ms(value):
    """The dur of the `app` metric in a Server-Timing header value, or a Fail."""
    if value is None:
        raise Fail("a Server-Timing header on the response", "no such header", NO_TIMING_HEADER)
    for metric in str(value).split(","):
        name, _, params = metric.strip().partition(";")
        if name.strip() != "app":
            continue
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key.strip() == "dur":
                try:
                    return float(number.strip().strip('"'))
                except ValueError:
                    raise Fail("dur=<a number of milliseconds>", f"Server-Timing: {value}", TIMING_FORMAT) from None
    raise Fail("a metric named app with a duration: `app;dur=12.3`", f"Server-Timing: {value}", TIMING_FORMAT)


def _judge_durations(slow, quick, where):
    """slow and quick: (reported ms, wall ms measured around the whole call); quick ran after slow.

    Only load-proof judgements: a layer's own time is part of the call's, so it can never be
    longer than the call (load adds to both); the slow call sleeps NAP, so it is never shorter."""
    (slow_ms, slow_wall), (quick_ms, quick_wall) = slow, quick
    if 0.05 <= slow_ms < 1:  # no millisecond count of a 0.1 s call is that small; seconds are
        raise Fail(f"about {NAP * 1000:.0f} for a call that takes {NAP:g} s {where} (milliseconds)",
                   f"dur={slow_ms:g}", SECONDS)
    if slow_ms > slow_wall + SLACK or quick_ms > quick_wall + SLACK:
        got = (f"dur={slow_ms:g} for a call that took {slow_wall:.1f} ms in all, then dur={quick_ms:g} for one that "
               f"took {quick_wall:.1f} ms")
        expected = f"durations no longer than the calls themselves {where}"
        if any(NAP_FLOOR <= slow_ms / factor <= slow_wall + SLACK for factor in (1e3, 1e6)):
            raise Fail(expected, got, TOO_BIG_UNIT)
        if quick_ms > slow_ms:
            raise Fail(expected, got, CLOCK_ONCE)
        raise Fail(expected, got, LONGER_THAN_CALL)
    if slow_ms < NAP_FLOOR:
        raise Fail(f"at least {NAP * 1000:.0f} ms for a call that sleeps {NAP:g} s {where}", f"dur={slow_ms:g}",
                   TOO_SHORT)


async def _timing_direct(cls):
    """One instance, as Django would make it: a slow request (NAP), then a quick one.

    Returns [(result, wall ms)] for the two; a clock started in __init__ shows as time the
    requests never took (the instance is a while old when the first request arrives)."""
    from django.http import HttpResponse

    async def get_response(request):
        if request.path == "/ck04/slow/":
            await asyncio.sleep(NAP)
        return HttpResponse(request.path)

    coroutines = _Coroutines()
    try:
        mw = cls(coroutines.track(get_response))
        await asyncio.sleep(0.03)
        out = []
        for path in ("/ck04/slow/", "/ck04/quick/"):
            started = time.perf_counter()
            result = mw(_request(path))
            if inspect.isawaitable(result):
                result = await result
            out.append((result, (time.perf_counter() - started) * 1000))
        return out
    finally:
        coroutines.close()


async def _timing_overlap(cls):
    """Two requests through one instance: B starts while A is inside get_response, after A has
    slept NAP, and A returns only once B is inside. A right answer reports at least NAP for A;
    one that keeps its start time on self reports A's time from B's start: almost nothing."""
    from django.http import HttpResponse

    a_slept, b_inside = asyncio.Event(), asyncio.Event()

    async def get_response(request):
        if request.path == "/ck04/a/":
            await asyncio.sleep(NAP)
            a_slept.set()
            try:
                await asyncio.wait_for(b_inside.wait(), 5)
            except TimeoutError:
                pass
        else:
            b_inside.set()
        return HttpResponse(request.path)

    coroutines = _Coroutines()
    mw = cls(coroutines.track(get_response))

    async def a():
        return await mw(_request("/ck04/a/"))

    async def b():
        await a_slept.wait()
        return await mw(_request("/ck04/b/"))

    try:
        return await asyncio.gather(a(), b())
    finally:
        coroutines.close()


def _judge_timing_response(result, path):
    from django.http import HttpResponseBase

    if inspect.iscoroutine(result):
        result.close()
        raise Fail("__call__ to return the response", "a coroutine object, never awaited", UNAWAITED_RESULT,
                   kind=Kind.UNAWAITED)
    if result is None:
        raise Fail("__call__ to return the response", "None", NO_RETURN)
    if not isinstance(result, HttpResponseBase):
        raise Fail("an HttpResponse", f"{type(result).__name__}: {result!r}",
                   NOT_A_RESPONSE.format(kind=_kind(result)))
    if getattr(result, "content", b"") != path.encode():
        raise Fail("the response get_response returned", f"body {getattr(result, 'content', b'')[:60]!r}",
                   NOT_THE_RESPONSE)
    return _duration_ms(result.get("Server-Timing"))


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
    cls = AsyncServerTiming
    if not inspect.isclass(cls):
        raise Fail("`AsyncServerTiming` to be a class", f"{type(cls).__name__}: {cls!r}",
                   NOT_A_CLASS.format(kind=_kind(cls)))
    can_sync, can_async = _flags(cls)
    ctx.expect(can_async and not can_sync, expected="async-only flags: async_capable = True, sync_capable = False",
               got=f"async_capable = {can_async}, sync_capable = {can_sync}", nudge=FLAGS)
    try:
        signature = inspect.signature(cls.__call__)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(None, object())
        except TypeError:
            names = list(signature.parameters)
            raise Fail("`async def __call__(self, request)`", f"__call__({', '.join(names)})",
                       SIGNATURE if "get_response" in names else CALL_ARGS) from None
    ctx.expect(inspect.iscoroutinefunction(cls.__call__), expected="`__call__` defined with async def",
               got="a plain def", nudge=CALL_NOT_ASYNC)

    async def _noop(request):
        return None

    instance = await ctx.call(cls, _noop, what="`AsyncServerTiming(get_response)`")
    ctx.expect(inspect.iscoroutinefunction(instance), expected="inspect.iscoroutinefunction(instance) to be True",
               got="False: Django would wrap your middleware as if it were sync", nudge=MARKER.format(when=""))

    # Called directly, as Django calls it: a slow request, then a quick one.
    (slow, slow_wall), (quick, quick_wall) = await ctx.call(_timing_direct, cls, what="your middleware")
    slow_ms, quick_ms = _judge_timing_response(slow, "/ck04/slow/"), _judge_timing_response(quick, "/ck04/quick/")
    _judge_durations((slow_ms, slow_wall), (quick_ms, quick_wall), "through your middleware")

    # Two requests that overlap: the start time must be each request's own.
    first, second = await ctx.call(_timing_overlap, cls, what="two overlapping requests through your middleware")
    first_ms = _judge_timing_response(first, "/ck04/a/")
    _judge_timing_response(second, "/ck04/b/")
    ctx.expect(first_ms >= NAP_FLOOR,
               expected=f"at least {NAP * 1000:.0f} ms for a request that took {NAP:g} s while another one came in",
               got=f"dur={first_ms:g}", nudge=TIMING_SHARED)

    # Through Django's ASGI handler: the sandbox's views, no adaptation.
    path = dotted(cls, "AsyncServerTiming")
    adapted, results = await ctx.call(_through_asgi, path, ["/orm/ping/", f"/orm/nap/?s={NAP}", "/orm/ping/"],
                                      what="requests through your middleware under ASGI")
    ctx.expect(not adapted, expected="no adaptation in an async stack", got="; ".join(adapted),
               nudge=ADAPTED.format(lines="; ".join(adapted)))
    measured = []
    for (response, seconds, error), view in zip(results, ("/orm/ping/", "/orm/nap/", "/orm/ping/")):
        _judge_status(response.status, error, f"{view} under ASGI")
        measured.append((_duration_ms(response.headers.get("server-timing")), seconds * 1000))
    _, nap, quick = measured
    _judge_durations(nap, quick, "for /orm/nap/ under ASGI")
    if quick[0] >= nap[0]:  # both within their own calls (judged above): only a stalled machine does that
        raise Busy(f"a quick view ({quick[0]:g} ms) measured no faster than a {NAP:g} s one ({nap[0]:g} ms)")
    return "An async layer, no hops, and a header your browser's dev tools can show."


# --- 3. which middleware forces adaptation? -------------------------------------------------------
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


class VisitStats(MiddlewareMixin):
    """A mystery middleware: built on MiddlewareMixin, and opted out of async."""

    async_capable = False

    def process_request(self, request):
        request.visit_number = 1


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


@sync_only_middleware
def rate_limit(get_response):
    """A mystery middleware: says it is sync-only."""
    def middleware(request):
        return get_response(request)
    return middleware


@async_only_middleware
def edge_cache(get_response):
    """A mystery middleware: an async-only function."""
    async def middleware(request):
        return await get_response(request)
    return middleware


@sync_and_async_middleware
def trace_id(get_response):
    """A mystery middleware: a hybrid function."""
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            return await get_response(request)
    else:
        def middleware(request):
            return get_response(request)
    return middleware


_M = f"{__name__}."
AUDIT, LOCALE, STATS, GEO, LEGACY, LIMIT, EDGE, TRACE = (
    _M + n for n in ("RequestAudit", "LocaleHint", "VisitStats", "GeoTag", "legacy_auth", "rate_limit",
                     "edge_cache", "trace_id"))
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
XFRAME = "django.middleware.clickjacking.XFrameOptionsMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
GZIP = "django.middleware.gzip.GZipMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
MYSTERY_STACK = [LOCALE, AUDIT, GEO, SESSION, STATS, LEGACY, XFRAME]

# What each kind is, for building stacks; which ones are culprits is read from the flags at run time.
_SYNC_ONLY = (AUDIT, STATS, LEGACY, LIMIT)
_ASYNC_ONLY = (GEO, EDGE)
_HYBRID = (LOCALE, TRACE, SESSION, XFRAME, COMMON, GZIP, SECURITY)


def _sync_only(path):
    """Django's own rule: a layer is sync (and forces a hop in an async stack) when it cannot run async."""
    from django.utils.module_loading import import_string

    can_sync, can_async = _flags(import_string(path))
    return can_sync and not can_async


def _culprits(stack):
    return [p for p in stack if _sync_only(p)]


def _stacks(rng):
    """Stacks made up for this run, outermost first. Fixed shapes, random members and padding:
    1. two culprits, an async-only layer between them (both logged; a 'Synchronous ... adapted' line);
    2. two culprits next to each other (the outer one is never logged);
    3. a culprit above a hybrid above a culprit (the hybrid runs sync: the outer one is not logged);
    4. no culprit at all;
    5. anything: a random pick of every kind, shuffled."""
    def others(k, exclude=(), pool=_ASYNC_ONLY + _HYBRID):
        return rng.sample([p for p in pool if p not in exclude], k)

    def pad(core, pool=_ASYNC_ONLY + _HYBRID):
        rest = others(rng.randint(0, 3), core, pool)
        cut = rng.randint(0, len(rest))
        return rest[:cut] + core + rest[cut:] if rng.random() < 0.5 else core + rest

    s1, s2 = rng.sample(_SYNC_ONLY, 2)
    stacks = [pad([s1, rng.choice(_ASYNC_ONLY), s2] + others(rng.randint(0, 1), (), _HYBRID))]
    s1, s2 = sorted(rng.sample(_SYNC_ONLY, 2), reverse=True)  # not alphabetical, whatever was picked
    stacks.append(pad([s1, s2], _HYBRID))
    s1, s2 = rng.sample(_SYNC_ONLY, 2)
    stacks.append(pad([s1, rng.choice(_HYBRID), s2], _HYBRID))
    stacks.append(others(rng.randint(3, 6)))
    mixed = rng.sample(_SYNC_ONLY, rng.randint(1, 3)) + others(rng.randint(2, 5))
    rng.shuffle(mixed)
    stacks.append(mixed)
    return stacks


def _adapted(stack):
    """Django's 'adapted' lines for an ASGI handler built for `stack` (DEBUG on, as they need)."""
    from django.test.utils import override_settings

    from ..asgi import fresh_handler

    with override_settings(DEBUG=True, MIDDLEWARE=list(stack)), capture_log() as log:
        fresh_handler()
    logged = [m.removeprefix("Asynchronous handler adapted for middleware ").rstrip(".")
              for m in log.messages if m.startswith("Asynchronous handler adapted for middleware ")]
    return log.messages, logged


def _call_quietly(fn, stack):
    """The learner's function, with DEBUG off as a production settings file has it (an async one
    on an event loop, a plain one on a thread without one)."""
    from django.test.utils import override_settings

    if inspect.iscoroutinefunction(fn):
        async def run():
            with override_settings(DEBUG=False):
                return await fn(list(stack))
    else:
        def run():
            with override_settings(DEBUG=False):
                return fn(list(stack))
    return run


def _names(paths):
    return ", ".join(str(p).rsplit(".", 1)[-1] for p in paths)


def _short(paths):
    return "[" + _names(paths) + "]"


def _judge_culprits(stack, want, got):
    if isinstance(got, (set, frozenset)):
        raise Fail(f"a list, in stack order: {_short(want)}", f"a set: {_short(sorted(map(str, got)))}", A_SET)
    if not isinstance(got, (list, tuple)):
        close_coroutines(got)
        raise Fail("a list of dotted paths", f"{_kind(got)}: {got!r}", NOT_A_LIST.format(kind=_kind(got)))
    got = list(got)
    if got == want:
        return
    if any(not isinstance(p, str) for p in got):
        odd = next(p for p in got if not isinstance(p, str))
        raise Fail("entries of `stack` (strings)", repr(odd),
                   NOT_A_LIST.format(kind=f"a list of {type(odd).__name__} objects"))
    if got and all("." not in p for p in got):
        raise Fail(f"dotted paths as in the stack, like {want[0] if want else stack[0]!r}", repr(got), CLASS_NAMES)
    odd = [p for p in got if p not in stack]
    if odd:
        raise Fail("entries of `stack`, exactly as written there", repr(odd[0]),
                   NOT_FROM_STACK.format(odd=repr(odd[0])))
    expected, shown = f"find_culprits({_short(stack)}) == {_short(want)}", _short(got)
    if not got and want:
        raise Fail(expected, "[]", NO_LINES)
    extra = [p for p in got if p not in want]
    asyncs = [p for p in extra if _flags_of(p) == (False, True)]
    if asyncs:
        raise Fail(expected, shown, ASYNC_BLAMED.format(names=_names(asyncs)))
    if extra:
        raise Fail(expected, shown, HYBRID_BLAMED.format(names=_names(extra)))
    missing = [p for p in want if p not in got]
    if missing:
        _, logged = _adapted(stack)
        logged_missing = [p for p in missing if p in logged]
        if logged_missing:
            raise Fail(expected, shown, ONLY_FIRST.format(names=_names(logged_missing)))
        raise Fail(expected, shown, UNLOGGED_MISSED.format(names=_names(missing)))
    if sorted(set(got)) == sorted(want):
        raise Fail(expected, shown, ORDER)
    raise Fail(expected, shown, WRONG_CULPRITS)


def _flags_of(path):
    from django.utils.module_loading import import_string

    return _flags(import_string(path))


@chapter.exercise(
    "find-culprits", "Which middleware forces a thread hop?",
    needs=["find_culprits"],
    hints=[
        "Build a fresh handler under override_settings(DEBUG=True, MIDDLEWARE=stack) inside capture_log(), then "
        "read log.messages: Django writes those lines only when DEBUG is True. Which kind of line names the sync "
        "layer?",
        "'Asynchronous handler adapted for middleware X' means X is sync and got an async handler below it. "
        "'Synchronous handler adapted for middleware X' names an async X sitting on a sync layer: not a culprit.",
        "A sync middleware whose layer below already runs sync is never logged. Remove the logged culprits, "
        "rebuild, and repeat until no culprit is logged (or check each middleware's flags: sync_capable True and "
        "async_capable False).",
    ],
)
async def check_find_culprits(ctx, find_culprits):
    require_callable(find_culprits, "find_culprits")
    for stack in _stacks(random.Random()):
        want = _culprits(stack)
        got = await ctx.call(_call_quietly(find_culprits, stack), what="`find_culprits(stack)`")
        _judge_culprits(stack, want, got)
    return "One sync layer costs a hop down and one up; make it hybrid, or move it outwards."
