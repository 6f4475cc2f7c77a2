"""Chapter 03: async views.

Every check calls the learner's view on a guarded thread with an event loop of its own (as
a server would), against the notebook's upstream API, with cities no example mentions. The
evidence is structural wherever it can be: the upstream's call log (which calls overlapped,
which were still running after the response), the tasks still pending in the view's loop
when it returned, the ASGI body messages of a stream and their order. Wall time is judged
only as "too early" (load only adds time) or as "too late" beyond what the machine's stalls
explain (those of a control thread and of the view's own loop); a stall of the loop counts
as blocking only if the loop thread was seen running code meanwhile. Everything the check
builds for the first time (requests, the ASGI handler, URL resolvers, an aiohttp client) is
built before learner code runs, so no first-time cost of the check's own lands in a judged
window.
"""
import asyncio
import contextlib
import inspect
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field

from ..errors import describe
from ..lag import Gaps, LoopLag
from ..exercises import NOT_CALLABLE, NOT_WRITTEN, UNAWAITED_RESULT, UNAWAITED_USED, Busy, Chapter, Fail, Kind
from .common import calls_for, fresh_upstream, overlap_report, peak, require_async, settle

chapter = Chapter("03", "Async views")

SERVICES = ("weather", "flights", "hotels")
# Cities no example or lesson uses: upstream.payload() is deterministic per city, so what each
# must get is derived at run time, and an answer written for the examples cannot match.
CITY_POOL = ("tartu", "hobart", "arequipa", "nakuru", "ushuaia", "gdansk", "tromso", "leuven", "oaxaca", "kochi",
             "bergen", "cusco", "salta", "tbilisi", "ghent", "kotor", "nantes", "sucre", "windhoek", "luang-prabang")
HANG = 2.5            # seconds a hanging service takes: far beyond every budget
FAST = {"weather": 0.1, "flights": 0.15, "hotels": 0.12}   # far under every budget, and quick to check
LOOP_ALLOWANCE = 0.05  # the longest the view may hold its loop in one go

# --- nudges: what every view gets wrong alike ----------------------------------------
NOT_A_RESPONSE = chapter.nudge("W001", "a view returns a response",
                               "A view returns an HttpResponse: `return JsonResponse({{...}})`, not {kind}.")
NOT_JSON = chapter.nudge("W002", "not JSON", "Answer with JsonResponse, which serialises a dict for you.")
KEYS = chapter.nudge("W003", "keys missing",
                     "Add {missing}: the task lists every key the page must have (each service's answer under the "
                     "service's own name).")
OTHER_CITY = chapter.nudge("W004", "another city's data",
                           "That is the data for {city!r}, not for the city in the URL. Pass the view's `slug` on "
                           "to every fetch (and under 'city'): the check asks for cities no example uses.")
MIXED_UP = chapter.nudge("W005", "answers under the wrong names",
                         "'{key}' holds the {service} answer. gather returns its results in the order the calls "
                         "were passed in: pair each result with the service it came from (zip with the same "
                         "tuple you built the calls from).")
WRONG_DATA = chapter.nudge("W006", "not the service's answer",
                           "Put each service's answer under its name exactly as `fetch` returns it (the whole dict), "
                           "for the city in the URL.")
CALLS = chapter.nudge("W007", "not one call to each service",
                      "Fetch each of the three services once per request (a second call to a service costs another "
                      "full latency; a missing one leaves a gap on the page).")
SEQUENTIAL = chapter.nudge("W008", "one call after another",
                           "`await` on each call in turn waits for one answer before asking the next question. Start "
                           "all three and await them together: `await asyncio.gather(...)`.")
NOT_ALL_AT_ONCE = chapter.nudge("W009", "not all three at once",
                                "Some calls overlapped, but not all three: one waited for another. Put all three "
                                "calls in one gather (or one TaskGroup).")
LEFT_RUNNING = chapter.nudge("W010", "a call still running after the response",
                             "The view answered while a call it started was still running ({what}). Nobody will "
                             "read that answer, and in a server it holds a connection and the upstream's time. Cancel "
                             "what you give up on: asyncio.timeout (or wait_for) cancels for you; after "
                             "asyncio.wait(..., timeout=...), call .cancel() on every pending task.")
WAITED = chapter.nudge("W011", "waited after the last answer",
                       "Every answer was in, and the view still waited before answering (a fixed sleep, or a wait "
                       "for a deadline). Await the calls themselves (gather), inside the budget: the page then "
                       "comes as soon as the last answer does.")
CLASS_GIVEN = chapter.nudge("W012", "a class where a view function was asked",
                            "`{name}` is a class; the task asks for a view function, "
                            "`async def {name}(request, ...):` (a class-based view would be "
                            "`{name} = YourView.as_view()`).")
STATUS_200 = chapter.nudge("W013", "status not 200",
                           "When everything the page needs is there (the city, every service's answer in time), "
                           "it is a plain 200: JsonResponse's default status.")

# --- trip-summary --------------------------------------------------------------------
NO_BUDGET = chapter.nudge("W020", "no budget: waited for the hanging service",
                          "The view waited for the slow service to the end. Wrap the gather in "
                          "`async with asyncio.timeout(1.0):` so the page gives up after 1 s.")
TIMEOUT_ESCAPED = chapter.nudge("W021", "TimeoutError escaped from the view",
                                "Catch it: `except TimeoutError:` around the `async with asyncio.timeout(1.0):` "
                                "block, and return JsonResponse({'city': slug, 'error': 'upstream timeout'}, "
                                "status=504).")
TOO_EARLY = chapter.nudge("W023", "gave up too early",
                          "The page has 1.0 s for its upstream calls together: {detail}")
TOO_LATE = chapter.nudge("W024", "gave up too late",
                         "The 504 came well after the 1.0 s budget. One `asyncio.timeout(1.0)` around all three calls "
                         "(not a longer one, and not one per call in turn) ends the wait at 1 s.")
NOT_504 = chapter.nudge("W025", "not the timeout answer",
                        "When the budget runs out, answer exactly "
                        "`JsonResponse({'city': slug, 'error': 'upstream timeout'}, status=504)`.")
SWALLOWED = chapter.nudge("W026", "a failure reported as success",
                          "The page answered 200 although a service never answered: an `except` turned the failure "
                          "into a normal-looking page. Catch only TimeoutError, and answer it with the 504.")

# --- graceful ------------------------------------------------------------------------
ONE_BREAKS_ALL = chapter.nudge("W030", "one service took the page down",
                               "One failing or slow service must not break the page. Use "
                               "`asyncio.gather(..., return_exceptions=True)` (or catch the error inside each call) "
                               "and list the service under 'missing'.")
MISSING_LIST = chapter.nudge("W031", "'missing' is not the failed services",
                             "'missing' lists exactly the services that failed or ran out of their 0.5 s: the "
                             "others answered and belong on the page.")
UNSORTED = chapter.nudge("W032", "'missing' not sorted",
                         "Sort 'missing' by name: `sorted(missing)`.")
STATUS_WORD = chapter.nudge("W033", "the wrong status word",
                            "'status' is 'ok' when nothing is missing, 'failed' when every service is missing, and "
                            "'partial' in between.")
HTTP_CODE = chapter.nudge("W034", "the wrong HTTP status",
                          "503 only when no service answered (status 'failed'); a partial page is still a 200.")
SWALLOWED_ALL = chapter.nudge("W035", "a failure reported as success",
                              "A service failed, and the page says {said}: an `except` (or a default) turned the "
                              "failure into a normal-looking answer. Report what failed under 'missing', and answer "
                              "503 with status 'failed' when nothing answered.")
KEY_FOR_MISSING = chapter.nudge("W036", "a key for a missing service",
                                "A service that failed has no key of its own on the page (not None, not the error): "
                                "it is listed under 'missing' instead.")
TOTAL_BUDGET = chapter.nudge("W037", "one budget for all three",
                             "One slow service cost the page the answers that did arrive: the budget covered the "
                             "whole gather. Give each service its own 0.5 s (asyncio.timeout inside a helper that "
                             "makes one call), so a slow one only costs its own panel.")
NO_SERVICE_BUDGET = chapter.nudge("W038", "no 0.5 s limit per service",
                                  "The page waited for the hanging service far longer than 0.5 s. Give each call its "
                                  "own budget: `async with asyncio.timeout(0.5): return await fetch(...)` in a "
                                  "helper.")
SERVICE_BUDGET_SHORT = chapter.nudge("W039", "gave a service less than 0.5 s",
                                     "Each service gets 0.5 s on its own: {detail}")

# --- launch-events -------------------------------------------------------------------
CONTENT_TYPE = chapter.nudge("W040", "not an event stream",
                             "Server-sent events need `StreamingHttpResponse(..., content_type='text/event-stream')`.")
NOT_STREAMED = chapter.nudge("W041", "everything sent at once",
                             "The whole body was built first and sent in one piece ({kind}). Return a "
                             "StreamingHttpResponse over an async generator, so each event leaves when it is yielded.")
SYNC_ITERATOR = chapter.nudge("W042", "a sync iterator: Django collects it first",
                              "Under ASGI, Django collects a synchronous iterator (a plain generator, a list) "
                              "completely before it sends anything, so every event came out at the end. Write the "
                              "generator with `async def` and pause with `await asyncio.sleep(0.1)`.")
EVENT_FORMAT = chapter.nudge("W043", "not server-sent events",
                             "Each event is `event: NAME` and `data: JSON` on lines of their own, and a blank line "
                             "ends it: f\"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n\".")
NO_DATA = chapter.nudge("W044", "an event without data",
                        "A server-sent event without a `data:` line is never delivered to the browser: send "
                        "`data: {}` with liftoff (and `data: {\"remaining\": k}` with each tick).")
N_IGNORED = chapter.nudge("W045", "n from the query string ignored",
                          "Read n from the query string: `n = int(request.GET.get('n', 3))`.")
N_DEFAULT = chapter.nudge("W046", "no default for n",
                          "Without `?n=`, the countdown starts at 3: `int(request.GET.get('n', 3))` "
                          "(`request.GET['n']` raises when the parameter is missing).")
COUNTDOWN = chapter.nudge("W047", "not a countdown from n",
                          "Tick from n down to 1, one event each: `for k in range(n, 0, -1):`.")
LIFTOFF = chapter.nudge("W048", "liftoff missing",
                        "After the last tick comes one event `liftoff` with `data: {}`, and then the stream ends.")
DATA_JSON = chapter.nudge("W049", "data is not the JSON asked for",
                          "Each tick's data is JSON: `json.dumps({'remaining': k})`; liftoff's is `{}`.")
NO_PAUSE = chapter.nudge("W050", "no pause between events",
                         "The events came out with no pause between them. `asyncio.sleep(0.1)` pauses only when it "
                         "is awaited: `await asyncio.sleep(0.1)` after each tick, the last one too.")
FIRST_LATE = chapter.nudge("W051", "the first event waited",
                           "Yield first, then pause: the first tick leaves at once, each pause comes after a tick, "
                           "and liftoff follows 0.1 s after the last tick.")
TOO_SLOW = chapter.nudge("W052", "pauses longer than 0.1 s",
                         "Pause 0.1 s after each tick: `await asyncio.sleep(0.1)`, nothing longer.")
STREAM_BROKE = chapter.nudge("W053", "the stream broke after it started",
                             "The response had started, and then the generator raised the error shown under Got "
                             "(after {events} event(s)). The fault is inside the generator: each yield must be a "
                             "str (or bytes), and json.dumps takes dicts, lists, numbers and strings.")
STREAM_STATUS = chapter.nudge("W054", "status not 200", "A stream that starts normally is a 200.")

# --- city-card -----------------------------------------------------------------------
NOT_A_CLASS = chapter.nudge("W060", "a function where a class was asked",
                            "This exercise asks for a class-based view: `class CityCard(View):` with "
                            "`async def get(self, request, slug):`.")
NOT_A_VIEW = chapter.nudge("W061", "not a View", "Subclass Django's View: `class CityCard(View):`.")
MIXED_HANDLERS = chapter.nudge("W062", "sync and async handlers mixed",
                               "Django refuses a class whose handlers are partly sync, partly async: make every "
                               "handler you define `async def` (or define only `get`).")
SYNC_GET = chapter.nudge("W063", "a sync get",
                         "`def get` makes CityCard a sync view: write `async def get(self, request, slug):`, and "
                         "await the ORM and the fetch inside it.")
NO_GET = chapter.nudge("W064", "no get handler", "Define `async def get(self, request, slug):` on CityCard.")
NOT_FOUND = chapter.nudge("W065", "an unknown city is not a 404",
                          "For a slug that is not in the database, answer "
                          "`JsonResponse({{'error': ...}}, status=404)`: {detail}")
DOES_NOT_EXIST = chapter.nudge("W066", "DoesNotExist escaped",
                               "An unknown slug is normal input: use `.afirst()` and check for None (or catch "
                               "City.DoesNotExist, or `aget_object_or_404`), and answer 404.")
METHOD_NOT_ALLOWED = chapter.nudge("W067", "POST not refused",
                                   "Define only `get`: View answers every other method with 405 by itself.")
CARD_FROM_DB = chapter.nudge("W068", "name and country not from the database",
                             "Take 'city' and 'country' from the City row for the slug (city.name, city.country): "
                             "the check adds a city of its own that nobody could know in advance.")
CARD_WEATHER = chapter.nudge("W069", "not this city's weather",
                             "'weather' is the upstream answer for the slug in the URL: "
                             "`await fetch(session, 'weather', slug)`.")
FOUND_404 = chapter.nudge("W071", "a known city answered 404",
                          "That city is in the database, and the view answered 404: look it up by its slug, "
                          "`City.objects.filter(slug=slug).afirst()`.")
SHARED_STATE = chapter.nudge("W070", "requests share state",
                             "Two requests at the same time got each other's data: something per request is kept "
                             "on the class (or in a global). Keep it in local variables inside `get`.")


# --- reading learner errors ------------------------------------------------------------
@chapter.explainer
def _explain(exc, what):
    """A coroutine, task or future used as a value: a missing await, whatever the error's type
    (JsonResponse cannot serialise it; iterating a gather's future raises RuntimeError)."""
    _close_unstarted(exc)
    text = str(exc)
    if isinstance(exc, TypeError) and "is not JSON serializable" in text and any(
            sign in text for sign in ("type coroutine", "type Task", "Future")):
        return Fail(f"{what} to run without an error", describe(exc, width=88), UNAWAITED_USED,
                    kind=Kind.UNAWAITED, cause=exc)
    if isinstance(exc, RuntimeError) and "await wasn't used with future" in text:
        return Fail(f"{what} to run without an error", describe(exc, width=88), UNAWAITED_USED,
                    kind=Kind.UNAWAITED, cause=exc)
    return None


def _close_unstarted(exc, depth=0):
    """Close the never-started coroutines that the error's frames still hold (a fetch handed to
    JsonResponse, an afirst() never awaited), and mark a never-awaited gather's error as seen.
    The verdict names the missing await; left alone, they would report "never awaited" (or
    "exception was never retrieved") at some later garbage collection, under another check."""
    if exc is None or depth > 3:
        return
    tb = exc.__traceback__
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            _close_found(value)
        tb = tb.tb_next
    _close_unstarted(exc.__context__, depth + 1)
    for inner in getattr(exc, "exceptions", ()):
        _close_unstarted(inner, depth + 1)


def _close_found(value, depth=0):
    if inspect.iscoroutine(value):
        if inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
            value.close()
        return
    if isinstance(value, asyncio.Future):  # a gather never awaited: its error counts as seen
        if value.done() and not value.cancelled():
            value.exception()
        return
    if depth > 3:
        return
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    else:
        return
    for item in items[:50]:
        _close_found(item, depth + 1)


def _causes(exc):
    """The exception and, for an exception group, every exception inside it."""
    if isinstance(exc, BaseExceptionGroup):
        found = []
        for inner in exc.exceptions:
            found += _causes(inner)
        return found
    return [exc] if exc is not None else []


def _caused_by(fail, *types):
    return fail.kind is Kind.ERROR and any(isinstance(c, types) for c in _causes(fail.cause))


# --- running a view in its own loop ------------------------------------------------------
class _LoopWatch:
    """The loop's stalls (a LoopLag), each checked against what the loop thread was doing meanwhile.

    A sampler thread looks at the loop thread's innermost frame every few milliseconds. A stall
    during which every sample found the thread in the selector's select() was no code holding
    the loop: the loop was waiting, and the machine did not run its thread on time (with far more
    busy threads than cores, the scheduler can starve one thread while the control thread runs).
    Blocking code shows in the samples (the view's own frame under time.sleep, urllib's socket
    read, a database call), so only stalls not proven idle are judged."""

    def __init__(self):
        self.lag = LoopLag()
        self.samples = []  # (perf_counter, idle)
        self._stop = threading.Event()
        self._thread = None

    def _sample(self, ident):
        while not self._stop.wait(0.004):
            frame = sys._current_frames().get(ident)
            idle = frame is not None and frame.f_code.co_name == "select" \
                and frame.f_code.co_filename.endswith("selectors.py")
            del frame
            self.samples.append((time.perf_counter(), idle))

    async def __aenter__(self):
        await self.lag.__aenter__()
        self._thread = threading.Thread(target=self._sample, args=(threading.get_ident(),),
                                        name="coursekit-ck03-sampler", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc):
        self._stop.set()
        self._thread.join()
        await self.lag.__aexit__(*exc)
        return False

    def gaps(self):
        kept = Gaps()
        for start, end in self.lag.gaps.spans:
            seen = [idle for at, idle in self.samples if start <= at <= end]
            if seen and all(seen):
                continue  # waiting in select() all along: the machine's stall, not the code's
            kept.spans.append((start, end))
        return kept


@dataclass
class _Visit:
    started: float
    response: object = None
    returned: float = 0.0
    left: list = field(default_factory=list)  # what was still running when the view returned
    gaps: Gaps = field(default_factory=Gaps)  # the loop's stalls not proven idle (judged as blocking)
    lag: Gaps = field(default_factory=Gaps)   # every stall of the loop (an excuse for a late timing)

    @property
    def seconds(self):
        return self.returned - self.started


def _task_name(task):
    coro = task.get_coro()
    return f"{getattr(coro, '__qualname__', None) or task.get_name()}(...)"


async def _stop_leftovers():
    """Tasks still pending in this loop that nobody cancelled: note them, then cancel and settle
    them (so nothing reports itself later under another cell)."""
    me = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()
               and not t.get_name().startswith("coursekit-")]
    running = [_task_name(t) for t in pending if not t.cancelling()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
        for task in pending:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" later
    return running


async def _visit(view, request, *args, **kwargs):
    """Runs on the learner's loop: the view, its timing, what it left running, the loop's stalls."""
    watch = _LoopWatch()
    async with watch:
        visit = _Visit(time.perf_counter())
        try:
            visit.response = await view(request, *args, **kwargs)
        finally:
            visit.returned = time.perf_counter()
            visit.left = await _stop_leftovers()
    visit.gaps, visit.lag = watch.gaps(), watch.lag.gaps
    return visit


def _require_view_function(fn, name):
    from django.views import View

    if inspect.isclass(fn) and issubclass(fn, View):
        raise Fail(f"`{name}` to be a view function", f"the class {fn.__name__}", CLASS_GIVEN.format(name=name))
    require_async(fn, name)


_client_warm = {"done": False}


async def _warm_client(api):
    """Make one aiohttp request in this process before any judged window: the first request
    imports and builds things (lazily) that no learner's view should be blamed for."""
    if _client_warm["done"]:
        return
    import aiohttp

    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(api.url + "/") as response:
                await response.read()
    except Exception:
        pass
    _client_warm["done"] = True


async def _warm_asgi(app):
    """One request through the ASGI handler on the check's own loop, once per process: the first
    request imports what the middleware loads lazily (message storage, ...)."""
    if _client_warm.get("asgi"):
        return
    from django.http import HttpResponse
    from django.urls import path

    from ..asgi import request
    from ..routes import mounted

    async def warm(request):
        return HttpResponse("ok")

    try:
        with mounted(path("ck03/warm/", warm)):
            await request(app, "/ck03/warm/")
    except Exception:
        pass
    _client_warm["asgi"] = True


def _requests(*paths, method="get"):
    from django.test import RequestFactory

    factory = RequestFactory()
    return [getattr(factory, method)(path) for path in paths]


def _json_of(response, what):
    from django.http import HttpResponseBase

    if inspect.isawaitable(response):
        if inspect.iscoroutine(response):
            response.close()
        raise Fail(f"{what} to return a response", "a coroutine object, never awaited", UNAWAITED_RESULT,
                   kind=Kind.UNAWAITED)
    if not isinstance(response, HttpResponseBase):
        raise Fail(f"{what} to return an HttpResponse (a JsonResponse)", f"{type(response).__name__}: {response!r}",
                   NOT_A_RESPONSE.format(kind=f"a {type(response).__name__}"))
    if getattr(response, "streaming", False):
        raise Fail(f"{what} to answer with JSON", "a streaming response", NOT_JSON)
    try:
        return json.loads(response.content)
    except ValueError:
        raise Fail(f"{what} to answer with JSON", response.content[:80].decode(errors="replace"), NOT_JSON) from None


def _keys(data):
    return f"keys {sorted(data)}" if isinstance(data, dict) else f"{type(data).__name__}: {data!r}"


def _judge_service(data, key, slug, what):
    """data[key] must be the upstream's answer of service `key` for `slug`."""
    from ..upstream import payload

    got, want = data.get(key), payload(key, slug)
    if got == want:
        return
    expected = f"{what}: '{key}' = the {key} answer for {slug!r}"
    if isinstance(got, dict) and got.get("service") in SERVICES and got.get("service") != key:
        raise Fail(expected, f"'{key}': {got}", MIXED_UP.format(key=key, service=got["service"]))
    if isinstance(got, dict) and got.get("service") == key and got.get("city") != slug:
        raise Fail(expected, f"'{key}': {got}", OTHER_CITY.format(city=got.get("city")))
    raise Fail(expected, f"'{key}': {got!r}", WRONG_DATA)


def _judge_city(data, slug, what):
    if data.get("city") != slug:
        city = data.get("city")
        raise Fail(f"{what}: 'city' = {slug!r}", f"'city': {city!r}",
                   OTHER_CITY.format(city=city) if isinstance(city, str) else WRONG_DATA)


def _judge_concurrency(ctx, later, calls, visit, what):
    """The upstream's log: all three calls in flight together, and the page right after the last."""
    services = sorted(c.service for c in calls)
    ctx.expect(services == sorted(SERVICES), expected=f"{what}: one call to each of the three services",
               got=f"calls to {services}", nudge=CALLS)
    overlap = peak(calls)
    if overlap < 3:
        # Calls gathered together start within milliseconds; only a machine stalled for about as
        # long as a call could pull them apart.
        if ctx.control.gaps.longest_within(visit.started, visit.returned) > 0.08:
            raise Busy(f"{what}: the three calls' overlap (the machine stalled meanwhile)")
        raise Fail(f"{what}: all three calls in flight together", f"{overlap_report(calls)}",
                   SEQUENTIAL if overlap == 1 else NOT_ALL_AT_ONCE)
    _judge_left(visit, calls, what)
    last = max(c.end for c in calls)
    with later.timing():
        if _exceeds(ctx, visit.returned - last, 0.15, last, visit.returned, visit.lag):
            raise Fail(f"{what}: the page as soon as the last answer is in",
                       f"it came {visit.returned - last:.2f} s after the last answer", WAITED)


def _judge_left(visit, calls, what):
    """Nothing the view started may outlive its response (pending tasks, or calls that the
    upstream finished after the response: work on another thread)."""
    if visit.left:
        raise Fail(f"{what}: nothing still running when the view answers",
                   f"still running: {', '.join(visit.left)}", LEFT_RUNNING.format(what=", ".join(visit.left)))
    late = [c for c in calls if c.status == 200 and c.end > visit.returned + 0.02]
    if late:
        names = ", ".join(f"{c.service} (answered {c.end - visit.returned:.1f} s later)" for c in late)
        raise Fail(f"{what}: nothing still running when the view answers", f"the upstream kept working: {names}",
                   LEFT_RUNNING.format(what=f"the {late[0].service} call"))


def _exceeds(ctx, measured, limit, start, end, lag):
    """ctx.exceeds(), with the view's own loop's stalls counted as the machine's too: a loop thread
    the scheduler did not run on time delays the view without the control thread noticing."""
    if measured <= limit:
        return False
    spans = sorted([(max(s, start), min(e, end)) for s, e in ctx.control.gaps.spans + lag.spans
                    if s < end and e > start])
    machine, reach = 0.0, start
    for s, e in spans:  # the union of both threads' stalls: overlapping stretches count once
        if e > reach:
            machine += e - max(s, reach)
            reach = e
    if measured - machine > limit:
        return True
    raise Busy(f"{measured:.2f} s against a limit of {limit:g} s, with the machine stalled {machine:.2f} s")


class _Later:
    """Timings that could not be judged (Busy), held back to the end of the check: a definite
    failure found later in the same check is a verdict all the same, and "not judged" is left
    for answers where nothing else is wrong."""

    def __init__(self):
        self.busy = None

    @contextlib.contextmanager
    def timing(self):
        try:
            yield
        except Busy as busy:
            self.busy = self.busy or busy

    def settle(self):
        if self.busy is not None:
            raise self.busy


async def _judged_call(ctx, later, fn, *args, what, api=None, reset=None):
    """ctx.call, then the loop judged (fn measures its own loop's stalls: `.gaps`).

    A blocked loop is confirmed by a second run before it is a verdict: on a machine with far
    more busy threads than cores, the scheduler can starve the view's thread alone while the
    control thread runs on time; blocking code blocks every time. A stall that the machine may
    explain is held back (later), so what the run showed is still judged."""
    for attempt in (1, 2):
        value = await ctx.call(fn, *args, what=what)
        try:
            with later.timing():
                ctx.judge_loop(value.gaps, LOOP_ALLOWANCE, what)
            return value
        except Fail as fail:
            if fail.kind is not Kind.BLOCKED or attempt == 2:
                raise
        if api is not None:
            await settle(api)
            api.clear_log()
        if reset is not None:
            reset()
    raise AssertionError("unreachable")


async def _call(ctx, later, api, view, request, *args, what):
    return await _judged_call(ctx, later, _visit, view, request, *args, what=what, api=api)


# --- 1. three services within a time budget -----------------------------------------------
@chapter.exercise(
    "trip-summary", "An async view that aggregates three services within 1 s",
    needs=["trip_summary"],
    hints=[
        "One `aiohttp.ClientSession()` for the view; create the three `fetch(session, service, slug)` calls "
        "and await them together with `asyncio.gather`.",
        "Put the gather inside `async with asyncio.timeout(1.0):`, inside a `try:`; `except TimeoutError:` "
        "return `JsonResponse({'city': slug, 'error': 'upstream timeout'}, status=504)`.",
        "answers = await asyncio.gather(*(fetch(session, s, slug) for s in SERVICES)); "
        "return JsonResponse({'city': slug, **dict(zip(SERVICES, answers))})",
    ],
    timeout=12,
)
async def check_trip_summary(ctx, trip_summary):
    from ..upstream import payload

    _require_view_function(trip_summary, "trip_summary")
    later = _Later()
    slug, hung_slug = random.sample(CITY_POOL, 2)
    hung = random.choice(SERVICES)
    request, hung_request = _requests(f"/summary/{slug}/", f"/summary/{hung_slug}/")

    # Every service answers (within 0.15 s): the right data, the calls together.
    what = f"`trip_summary(request, {slug!r})`"
    async with fresh_upstream(latency=FAST) as api:
        await _warm_client(api)
        visit = await _call(ctx, later, api, trip_summary, request, slug, what=what)
        await settle(api)
        calls = calls_for(api, slug)
        data = _json_of(visit.response, what)
        if visit.response.status_code != 200:
            if visit.response.status_code == 504:
                raise Fail(f"{what}: status 200 when every service answers in time", f"504: {data}",
                           TOO_EARLY.format(detail="this 504 came although every service answered within 0.15 s."))
            raise Fail(f"{what}: status 200 when every service answers in time",
                       f"status {visit.response.status_code}: {data}", STATUS_200)
        missing = [k for k in ("city", *SERVICES) if not isinstance(data, dict) or k not in data]
        ctx.expect(not missing, expected=f"{what}: the keys city, {', '.join(SERVICES)}", got=_keys(data),
                   nudge=KEYS.format(missing=", ".join(missing)))
        _judge_city(data, slug, what)
        for service in SERVICES:
            _judge_service(data, service, slug, what)
        _judge_concurrency(ctx, later, calls, visit, what)

    # One service hangs: the page gives up after its 1 s budget, with a 504, and cancels the call.
    what = f"`trip_summary(request, {hung_slug!r})` while {hung} hangs"
    async with fresh_upstream(latency={hung: HANG}) as api:
        try:
            visit = await _call(ctx, later, api, trip_summary, hung_request, hung_slug, what=what)
        except Fail as fail:
            if _caused_by(fail, TimeoutError):
                raise Fail(f"{what}: a 504 JsonResponse when the budget runs out",
                           "the TimeoutError escaped from the view", TIMEOUT_ESCAPED, kind=Kind.ERROR,
                           cause=fail.cause) from None
            raise
        await settle(api)
        calls = calls_for(api, hung_slug)
        data = _json_of(visit.response, what)
        status = visit.response.status_code
        expected = f"{what}: status 504 with {{'city': {hung_slug!r}, 'error': 'upstream timeout'}}"
        if status == 200:
            waited = isinstance(data, dict) and data.get(hung) == payload(hung, hung_slug)
            raise Fail(expected, f"status 200 after {visit.seconds:.1f} s: {data}", NO_BUDGET if waited else SWALLOWED)
        ctx.expect(status == 504 and isinstance(data, dict) and data.get("city") == hung_slug
                   and data.get("error") == "upstream timeout", expected=expected, got=f"status {status}: {data}",
                   nudge=NOT_504)
        if visit.seconds < 0.97:
            raise Fail(f"{what}: the 504 after the 1.0 s budget", f"it gave up after {visit.seconds:.2f} s",
                       TOO_EARLY.format(detail="wait the whole 1.0 s before answering 504."))
        with later.timing():
            if _exceeds(ctx, visit.seconds, 1.3, visit.started, visit.returned, visit.lag):
                raise Fail(f"{what}: the 504 after about 1 s", f"it came after {visit.seconds:.2f} s", TOO_LATE)
        _judge_left(visit, calls, what)
    later.settle()
    return "Three answers in about the time of the slowest, and a clean 504 when the budget runs out."


# --- 2. a failing or slow service degrades the page, not breaks it --------------------------
def _graceful_cases():
    """Four situations, with random cities and a random choice of which service fails or hangs."""
    slugs = random.sample(CITY_POOL, 4)
    failing = random.choice(SERVICES)
    other = random.choice(("flights", "hotels"))
    # weather in the pair makes the sorted order differ from SERVICES' order
    hangs, fails = random.choice([("weather", other), (other, "weather")])
    return [
        (slugs[0], "every service answers", {"latency": FAST}, [], None),
        (slugs[1], f"{failing} fails", {"latency": FAST, "fail": failing}, [failing], None),
        (slugs[2], "every service fails", {"latency": FAST, "fail": SERVICES}, sorted(SERVICES), None),
        (slugs[3], f"{hangs} hangs and {fails} fails", {"latency": {**FAST, hangs: HANG}, "fail": fails},
         sorted([hangs, fails]), hangs),
    ]


@chapter.exercise(
    "graceful", "Partial results when a service fails or hangs",
    needs=["city_panel"],
    hints=[
        "Give every call its own budget: a helper `async def one(session, service, slug)` that does "
        "`async with asyncio.timeout(0.5): return await fetch(...)`.",
        "`await asyncio.gather(..., return_exceptions=True)` gives each answer or the exception it raised, in "
        "order: `isinstance(answer, Exception)` tells them apart.",
        "missing = sorted(s for s, a in zip(SERVICES, answers) if isinstance(a, Exception)); status is 'ok' if "
        "not missing, 'failed' if all are missing (and HTTP 503), else 'partial'.",
    ],
    timeout=15,
)
async def check_graceful(ctx, city_panel):
    from trips.upstream import UpstreamError

    _require_view_function(city_panel, "city_panel")
    later = _Later()
    cases = _graceful_cases()
    requests = _requests(*(f"/panel/{slug}/" for slug, *_ in cases))
    for (slug, situation, knobs, missing, hangs), request in zip(cases, requests):
        status = "ok" if not missing else "failed" if len(missing) == len(SERVICES) else "partial"
        what = f"`city_panel(request, {slug!r})` when {situation}"
        async with fresh_upstream(**knobs) as api:
            await _warm_client(api)
            try:
                visit = await _call(ctx, later, api, city_panel, request, slug, what=what)
            except Fail as fail:
                if missing and _caused_by(fail, UpstreamError, TimeoutError):
                    raise Fail(f"{what}: an answer with status '{status}'", f"the view raised: {fail.got}",
                               ONE_BREAKS_ALL, kind=Kind.ERROR, cause=fail.cause) from None
                raise
            await settle(api)
            calls = calls_for(api, slug)
            data = _json_of(visit.response, what)
            code = visit.response.status_code
            absent = [k for k in ("city", "missing", "status") if not isinstance(data, dict) or k not in data]
            ctx.expect(not absent, expected=f"{what}: the keys city, missing and status", got=_keys(data),
                       nudge=KEYS.format(missing=", ".join(absent)))
            got = {k: data.get(k) for k in ("status", "missing")}
            expected = f"{what}: status '{status}', missing {missing}"
            said = data["missing"]
            if not isinstance(said, list):
                raise Fail(expected, f"{got}", MISSING_LIST)
            if hangs and hangs not in said and data.get(hangs) is not None:
                raise Fail(expected, f"{got} after {visit.seconds:.1f} s, with the {hangs} answer", NO_SERVICE_BUDGET)
            if hangs and set(said) == set(SERVICES):
                answered = {c.service for c in calls if c.status == 200 and c.end <= visit.returned}
                if answered - {hangs}:
                    raise Fail(expected, f"{got}, though {', '.join(sorted(answered))} answered in time",
                               TOTAL_BUDGET)
            if said != missing:
                if sorted(said, key=str) == missing:
                    raise Fail(expected, f"missing {said}", UNSORTED)
                if missing and (not said or data.get("status") == "ok"):
                    raise Fail(expected, f"{got}, HTTP {code}",
                               SWALLOWED_ALL.format(said=f"status {data.get('status')!r}, missing {said!r}"))
                extra = set(said) - set(missing)
                if extra:
                    _judge_short_budget(ctx, visit, calls, extra, what)
                raise Fail(expected, f"{got}", MISSING_LIST)
            ctx.expect(data.get("status") == status, expected=expected, got=f"{got}", nudge=STATUS_WORD)
            want_code = 503 if status == "failed" else 200
            if code != want_code:
                if status == "failed" and code == 200:
                    raise Fail(f"{what}: HTTP 503", "HTTP 200",
                               SWALLOWED_ALL.format(said="200 (a success) although nothing answered"))
                raise Fail(f"{what}: HTTP {want_code}", f"HTTP {code}", HTTP_CODE)
            for service in SERVICES:
                if service in missing:
                    ctx.expect(service not in data, expected=f"{what}: no '{service}' key (it is missing)",
                               got=f"'{service}': {data.get(service)!r}", nudge=KEY_FOR_MISSING)
                else:
                    if service not in data:
                        raise Fail(f"{what}: the {service} answer under '{service}'", _keys(data),
                                   KEYS.format(missing=service))
                    _judge_service(data, service, slug, what)
            _judge_city(data, slug, what)
            if not missing:
                _judge_concurrency(ctx, later, calls, visit, what)
            elif hangs:
                if visit.seconds < 0.48:
                    raise Fail(f"{what}: {hangs} given up after 0.5 s", f"after {visit.seconds:.2f} s",
                               SERVICE_BUDGET_SHORT.format(detail=f"this page gave up on {hangs} sooner."))
                with later.timing():
                    if _exceeds(ctx, visit.seconds, 0.8, visit.started, visit.returned, visit.lag):
                        raise Fail(f"{what}: the page after about 0.5 s", f"after {visit.seconds:.2f} s",
                                   NO_SERVICE_BUDGET)
                _judge_left(visit, calls, what)
            else:
                _judge_left(visit, calls, what)
    later.settle()
    return "One broken or slow service costs the page one panel, not the whole page, and the status says so."


def _judge_short_budget(ctx, visit, calls, extra, what):
    """Services listed as missing that should have answered: did the view cut them off early,
    or was the machine too busy for them to answer within 0.5 s?"""
    cut = [c for c in calls if c.service in extra and c.status != 200]
    if cut and not _exceeds(ctx, visit.seconds, 0.5, visit.started, visit.returned, visit.lag):
        raise Fail(f"{what}: {', '.join(sorted(extra))} on the page (it answered within its 0.5 s)",
                   f"missing {sorted(extra)} after {visit.seconds:.2f} s",
                   SERVICE_BUDGET_SHORT.format(detail=f"{', '.join(sorted(extra))} needed less than that, and the "
                                                      "page gave up on it."))


# --- 3. server-sent events from an async generator ----------------------------------------
@dataclass
class _Stream:
    started: float
    status: int = 0
    headers: dict = field(default_factory=dict)
    chunks: list = field(default_factory=list)  # (perf_counter when it arrived, bytes)
    error: BaseException | None = None           # raised after the response started
    left: list = field(default_factory=list)
    gaps: Gaps = field(default_factory=Gaps)
    lag: Gaps = field(default_factory=Gaps)
    head_at: float = 0.0                         # when the response's head (status, headers) was sent


async def _drive_stream(app, scope):
    """One GET through the ASGI handler, on the learner's loop; every body message with its time."""
    stream = _Stream(time.perf_counter())
    finished = asyncio.Event()
    asked = False

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays until the response is complete
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            stream.head_at = time.perf_counter()
            stream.status = message["status"]
            stream.headers = {k.decode().lower(): v.decode("latin1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                stream.chunks.append((time.perf_counter(), message["body"]))
            if not message.get("more_body", False):
                finished.set()

    watch = _LoopWatch()
    async with watch:
        try:
            await app(dict(scope), receive, send)
        except Exception as exc:
            stream.error = exc
        finally:
            finished.set()
        stream.left = await _stop_leftovers()
    stream.gaps, stream.lag = watch.gaps(), watch.lag.gaps
    return stream


async def _recording(content, box):
    """The streaming content, passed through, keeping the error the learner's generator raises.
    (StreamingHttpResponse.__aiter__ takes any TypeError from an async iteration for "not an
    async iterator" and retries the content as a sync one, so what escapes the handler is
    "'async_generator' object is not iterable", not the generator's own TypeError.)"""
    try:
        async for part in content:
            yield part
    except Exception as exc:
        box["stream_error"] = exc
        raise
    finally:
        close = getattr(content, "aclose", None)
        if close is not None:
            await close()


def _probe(view, box):
    """The learner's view behind a thin wrapper: what it returned or raised, kept for the check
    (Django would turn either into a logged 500)."""
    from django.http import HttpResponse, HttpResponseBase

    async def probe(request):
        try:
            response = await view(request)
        except Exception as exc:
            box["error"] = exc
            return HttpResponse(status=500)
        box["response"] = response
        if not isinstance(response, HttpResponseBase):
            if inspect.iscoroutine(response):
                response.close()
            return HttpResponse(status=500)
        if getattr(response, "streaming", False) and getattr(response, "is_async", False):
            response.streaming_content = _recording(response.streaming_content, box)
        return response

    return probe


def _sse_events(chunks):
    """Parse a server-sent event stream (the WHATWG rules: comments, retry, id, several data
    lines, any line ending). Returns (events, undelivered): each event a dict with its name,
    data and the time of the chunk that completed it; undelivered counts blocks that named an
    event but had no data line (browsers drop those)."""
    events, undelivered = [], 0
    name, data, has_data = "", [], False
    buffer = ""
    for arrived, chunk in chunks:
        buffer += chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else str(chunk)
        buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
        *lines, buffer = buffer.split("\n")
        for line in lines:
            if line == "":
                if has_data:
                    events.append({"event": name or "message", "data": "\n".join(data), "at": arrived})
                elif name:
                    undelivered += 1
                name, data, has_data = "", [], False
                continue
            if line.startswith(":"):
                continue  # a comment (keep-alive)
            field_name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field_name == "event":
                name = value
            elif field_name == "data":
                data.append(value)
                has_data = True
            # id, retry and unknown fields carry no event data
    return events, undelivered


def _decoded(data):
    try:
        return json.loads(data)
    except ValueError:
        return _NotJSON(data)


class _NotJSON(str):
    pass


@chapter.exercise(
    "launch-events", "Server-sent events from an async generator",
    needs=["launch_events"],
    hints=[
        "Write an `async def` generator: `yield` one event string, then `await asyncio.sleep(0.1)`, in a loop.",
        "An event is `f\"event: tick\\ndata: {json.dumps({'remaining': k})}\\n\\n\"`; the last one is "
        "`event: liftoff` with `data: {}`.",
        "return StreamingHttpResponse(ticks(n), content_type='text/event-stream'), with "
        "n = int(request.GET.get('n', 3)).",
    ],
    timeout=12,
)
async def check_launch_events(ctx, launch_events):
    from django.http import HttpResponseBase
    from django.urls import path, resolve

    from ..asgi import fresh_handler, scope_for
    from ..routes import mounted

    _require_view_function(launch_events, "launch_events")
    later = _Later()
    app = fresh_handler()  # built (middleware loaded) before any judged window
    await _warm_asgi(app)
    # n from the query string: the smallest first (cheap rejections), then one the examples never
    # use (and not next to the default 3, so an off-by-one countdown cannot pass for an ignored
    # n), then none at all (the default).
    runs = [1, random.choice((5, 6)), None]
    for n in runs:
        want_n = 3 if n is None else n
        url = "/ck03/launch/" + ("" if n is None else f"?n={n}")
        what = f"GET {url}"
        box = {}
        with mounted(path("ck03/launch/", _probe(launch_events, box))):
            resolve("/ck03/launch/")  # the URL resolver compiles its patterns now, not in the window
            stream = await _judged_call(ctx, later, _drive_stream, app, scope_for(url), what=f"`{what}`",
                                        reset=box.clear)
        if "error" in box:
            fail = chapter.explain(box["error"], f"`launch_events` for {what}")
            if n is None and isinstance(box["error"], (KeyError, TypeError, ValueError)) and fail.kind is Kind.ERROR:
                raise Fail(f"{what}: a countdown from 3 (the default)", fail.got, N_DEFAULT, kind=Kind.ERROR,
                           cause=box["error"])
            raise fail
        response = box.get("response")
        if not isinstance(response, HttpResponseBase):
            if inspect.isawaitable(response):
                raise Fail(f"`launch_events` to return a response", "a coroutine object, never awaited",
                           UNAWAITED_RESULT, kind=Kind.UNAWAITED)
            raise Fail(f"`launch_events` to return a StreamingHttpResponse", f"{type(response).__name__}: "
                       f"{response!r}", NOT_A_RESPONSE.format(kind=f"a {type(response).__name__}"))
        events, undelivered = _sse_events(stream.chunks)
        if stream.error is not None:
            error = box.get("stream_error", stream.error)
            fail = chapter.explain(error, f"the stream of {what}")
            if fail.kind is Kind.ERROR and fail.nudge is not NOT_WRITTEN:
                fail = Fail(f"{what}: the whole stream", fail.got, STREAM_BROKE.format(events=len(events)),
                            kind=Kind.ERROR, cause=error)
            raise fail
        ctx.expect(stream.status == 200, expected=f"{what}: status 200", got=f"status {stream.status}",
                   nudge=STREAM_STATUS)
        content_type = stream.headers.get("content-type", "")
        ctx.expect(content_type.split(";")[0].strip() == "text/event-stream",
                   expected=f"{what}: Content-Type: text/event-stream", got=f"Content-Type: {content_type}",
                   nudge=CONTENT_TYPE)
        _judge_events(events, undelivered, want_n, n is None, what)
        _judge_timing(ctx, later, stream, response, events, what)
        if stream.left:
            raise Fail(f"{what}: nothing still running when the stream ends", f"still running: "
                       f"{', '.join(stream.left)}", LEFT_RUNNING.format(what=", ".join(stream.left)))
    later.settle()
    return "Each event leaves the moment it is yielded, and the event loop stays free in between."


def _judge_events(events, undelivered, n, default_run, what):
    """The events must be tick n, ..., tick 1, liftoff (each data JSON)."""
    body = [(e["event"], _decoded(e["data"])) for e in events]
    want = [("tick", {"remaining": k}) for k in range(n, 0, -1)] + [("liftoff", {})]
    if body == want:
        return
    expected = f"{what}: tick {n}, ..., tick 1, then liftoff"
    shown = ", ".join(f"{name} {data}" for name, data in body) or "no events"
    if not events:
        raise Fail(expected, "no complete event in the stream", NO_DATA if undelivered else EVENT_FORMAT)
    names = [name for name, _ in body]
    if any(isinstance(data, _NotJSON) for _, data in body):
        bad = next(data for _, data in body if isinstance(data, _NotJSON))
        raise Fail(expected, f"data: {bad!r}", EVENT_FORMAT if "event:" in bad or "\n" in bad else DATA_JSON)
    if any(name not in ("tick", "liftoff") for name in names):
        raise Fail(expected, shown, EVENT_FORMAT)
    ticks = [data for name, data in body if name == "tick"]
    if "liftoff" not in names:
        raise Fail(expected, shown, NO_DATA if undelivered else LIFTOFF)
    if names[-1] != "liftoff" or names.count("liftoff") != 1:
        raise Fail(expected, shown, LIFTOFF)
    if body[-1][1] != {}:
        raise Fail(expected, shown, DATA_JSON)
    if not all(isinstance(t, dict) and set(t) == {"remaining"} for t in ticks):
        raise Fail(expected, shown, DATA_JSON)
    numbers = [t["remaining"] for t in ticks]
    start = len(numbers)
    if numbers == list(range(start, 0, -1)) and start != n:
        # a right countdown from the wrong n: where did that n come from?
        if default_run:
            raise Fail(expected, shown, N_DEFAULT)
        if start == 3 or abs(start - n) > 1:  # the example's n, or some other fixed number
            raise Fail(expected, shown, N_IGNORED)
    raise Fail(expected, shown, COUNTDOWN)


def _judge_timing(ctx, later, stream, response, events, what):
    """Each event its own body message, the first at once, then one 0.1 s pause after each tick."""
    if not response.streaming:
        raise Fail(f"{what}: each event sent when it is made", f"one body of {len(response.content)} bytes",
                   NOT_STREAMED.format(kind=type(response).__name__))
    if not getattr(response, "is_async", True):
        raise Fail(f"{what}: each event sent when it is made, 0.1 s apart",
                   "a synchronous iterator, collected before anything was sent", SYNC_ITERATOR)
    times = [e["at"] for e in events]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    # From the response's head to the first event: the generator's own doing (the request's way in,
    # through the middleware's thread hops, is not the learner's to answer for).
    first = times[0] - stream.head_at
    close = [i for i, gap in enumerate(gaps) if gap < 0.09]
    if close:
        # Only the pause before liftoff missing, or it and the first event late: the pause
        # comes before each tick instead of after it.
        if close == [len(gaps) - 1] and (len(gaps) > 1 or first >= 0.09):
            raise Fail(f"{what}: liftoff 0.1 s after the last tick", f"{gaps[-1]:.2f} s after it", FIRST_LATE)
        i = close[0]
        raise Fail(f"{what}: 0.1 s between one event and the next",
                   f"event {i + 2} came {gaps[i]:.2f} s after event {i + 1}", NO_PAUSE)
    with later.timing():
        if _exceeds(ctx, first, 0.08, stream.head_at, times[0], stream.lag):
            raise Fail(f"{what}: the first event at once", f"it came after {first:.2f} s", FIRST_LATE)
    for i, gap in enumerate(gaps):
        with later.timing():
            if _exceeds(ctx, gap, 0.2, times[i], times[i + 1], stream.lag):
                raise Fail(f"{what}: 0.1 s between one event and the next",
                           f"event {i + 2} came {gap:.2f} s after event {i + 1}", TOO_SLOW)


# --- 4. an async class-based view ------------------------------------------------------------
_FAKE_NAMES = ("Vesper Bay", "Port Ilse", "Marrowgate", "Quillon", "Saint Avel", "Orvieto Nuova", "Lindqvist Harbour")
_FAKE_COUNTRIES = ("Elbonia", "Freedonia", "Genovia", "Ruritania", "Sylvania", "Borduria")


class _TemporaryCity:
    """A city that exists only while the check runs: no answer written in advance knows it."""

    async def __aenter__(self):
        from trips.models import City

        suffix = random.randrange(10_000, 99_999)
        self.slug = f"ck03-{suffix}"
        await City.objects.filter(slug__startswith="ck03-").adelete()
        self.city = await City.objects.acreate(name=f"{random.choice(_FAKE_NAMES)} {suffix % 97}", slug=self.slug,
                                               country=random.choice(_FAKE_COUNTRIES))
        return self.city

    async def __aexit__(self, *exc):
        from trips.models import City

        await City.objects.filter(slug=self.slug).adelete()
        return False


@dataclass
class _Cards:
    seen: dict
    left: list
    gaps: Gaps


async def _visit_card(view, plan, not_found):
    """Runs on the learner's loop: one GET, two GETs at the same time, an unknown slug, a POST."""

    async def one(request, slug):
        try:
            return await view(request, slug=slug)
        except not_found:  # Http404: Django answers it with a 404 page
            return 404

    watch = _LoopWatch()
    async with watch:
        seen = {"first": await one(*plan["first"])}
        seen["pair"] = await asyncio.gather(one(*plan["pair"][0]), one(*plan["pair"][1]))
        seen["unknown"] = await one(*plan["unknown"])
        seen["post"] = await one(*plan["post"])
        left = await _stop_leftovers()
    return _Cards(seen, left, watch.gaps())


def _status(response):
    return 404 if response == 404 else getattr(response, "status_code", None)


def _judge_card(ctx, response, city, what):
    from ..upstream import payload

    if response == 404:
        raise Fail(f"{what}: 200 with the city's card", "Http404 (a 404 page)", FOUND_404)
    data = _json_of(response, what)
    status = response.status_code
    ctx.expect(status != 404, expected=f"{what}: 200 with the city's card", got=f"status 404: {data}",
               nudge=FOUND_404)
    want = {"city": city.name, "country": city.country, "weather": payload("weather", city.slug)}
    ctx.expect(status == 200, expected=f"{what}: 200", got=f"status {status}: {data}", nudge=STATUS_200)
    missing = [k for k in want if not isinstance(data, dict) or k not in data]
    ctx.expect(not missing, expected=f"{what}: the keys city, country, weather", got=_keys(data),
               nudge=KEYS.format(missing=", ".join(missing)))
    if data["city"] != city.name or data["country"] != city.country:
        raise Fail(f"{what}: city {city.name!r}, country {city.country!r}",
                   f"city {data['city']!r}, country {data['country']!r}", CARD_FROM_DB)
    ctx.expect(data["weather"] == want["weather"], expected=f"{what}: the weather for {city.slug!r}",
               got=f"'weather': {data['weather']!r}", nudge=CARD_WEATHER)
    return data


@chapter.exercise(
    "city-card", "An async class-based view",
    needs=["CityCard"],
    hints=[
        "Subclass `django.views.View` and write `async def get(self, request, slug):`. Every handler you "
        "define must be async.",
        "`city = await City.objects.filter(slug=slug).afirst()` gives None for an unknown city: return "
        "`JsonResponse({'error': ...}, status=404)` then.",
        "async with aiohttp.ClientSession() as session: weather = await fetch(session, 'weather', slug); "
        "return JsonResponse({'city': city.name, 'country': city.country, 'weather': weather})",
    ],
    timeout=12,
)
async def check_city_card(ctx, CityCard):
    from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
    from django.http import Http404
    from django.views import View
    from trips.models import City

    if not inspect.isclass(CityCard):
        if callable(CityCard):
            raise Fail("`CityCard`: a class-based view", f"a {type(CityCard).__name__}", NOT_A_CLASS)
        raise Fail("`CityCard`: a class-based view", repr(CityCard), NOT_CALLABLE.format(name="CityCard"))
    ctx.expect(issubclass(CityCard, View), expected="`CityCard`: a subclass of django.views.View",
               got=f"a class with bases {[b.__name__ for b in CityCard.__bases__]}", nudge=NOT_A_VIEW)
    ctx.expect(callable(getattr(CityCard, "get", None)), expected="`CityCard` with a `get` handler",
               got="no `get`", nudge=NO_GET)
    try:
        is_async = CityCard.view_is_async
    except ImproperlyConfigured as exc:
        raise Fail("every HTTP handler of CityCard to be `async def`", describe(exc), MIXED_HANDLERS) from None
    ctx.expect(is_async, expected="an async view: `async def get(...)`", got="`def get`: a sync handler",
               nudge=SYNC_GET)
    view = CityCard.as_view()  # built before learner code runs, like the requests below
    later = _Later()

    seeded = [c async for c in City.objects.exclude(slug__startswith="ck03-")]
    first, other = random.sample(seeded, 2)
    unknown = f"{random.choice(CITY_POOL)}-{random.randrange(100, 999)}"
    async with fresh_upstream(latency=FAST) as api, _TemporaryCity() as made:
        await _warm_client(api)
        gets = _requests(f"/card/{first.slug}/", f"/card/{made.slug}/", f"/card/{other.slug}/", f"/card/{unknown}/")
        (post,) = _requests(f"/card/{first.slug}/", method="post")
        plan = {"first": (gets[0], first.slug), "pair": [(gets[1], made.slug), (gets[2], other.slug)],
                "unknown": (gets[3], unknown), "post": (post, first.slug)}
        what = f"`CityCard` (GET {first.slug}; GET {made.slug} and {other.slug} at once; GET {unknown}; POST)"
        try:
            cards = await _judged_call(ctx, later, _visit_card, view, plan, Http404, what=what, api=api)
        except Fail as fail:
            if _caused_by(fail, ObjectDoesNotExist):
                raise Fail(f"GET /card/{unknown}/ to answer 404", fail.got, DOES_NOT_EXIST, kind=Kind.ERROR,
                           cause=fail.cause) from None
            raise
        await settle(api)
        seen = cards.seen
        calls = [c for c in api.calls if c.city == first.slug]
        _judge_card(ctx, seen["first"], first, f"GET /card/{first.slug}/")
        ctx.expect(any(c.service == "weather" for c in calls), expected=f"GET /card/{first.slug}/: a call to the "
                   "weather service", got=f"calls to {sorted({c.service for c in calls})}", nudge=CARD_WEATHER)
        for response, city in zip(seen["pair"], (made, other)):
            what = f"GET /card/{city.slug}/ (two requests at the same time)"
            try:
                _judge_card(ctx, response, city, what)
            except Fail as fail:
                got = _json_of(response, what) if not isinstance(response, int) else None
                others = [c for c in (made, other, first) if c is not city]
                if isinstance(got, dict) and any(got.get("city") == c.name for c in others):
                    raise Fail(fail.expected, fail.got, SHARED_STATE) from None
                raise
        status = _status(seen["unknown"])
        if status != 404:
            body = _json_of(seen["unknown"], f"GET /card/{unknown}/") if status is not None else seen["unknown"]
            detail = "it answered 200, as if the city existed." if status == 200 else f"it answered {status}."
            raise Fail(f"GET /card/{unknown}/ (no such city): 404", f"status {status}: {body}",
                       NOT_FOUND.format(detail=detail))
        status = _status(seen["post"])
        ctx.expect(status == 405, expected=f"POST /card/{first.slug}/: 405 (no post handler)", got=f"status {status}",
                   nudge=METHOD_NOT_ALLOWED)
        if cards.left:
            raise Fail("`CityCard`: nothing still running when it answers",
                       f"still running: {', '.join(cards.left)}", LEFT_RUNNING.format(what=", ".join(cards.left)))
    later.settle()
    return "All handlers async, the ORM awaited, the weather fetched without blocking: a proper async view."
