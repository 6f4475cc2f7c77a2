"""Chapter 11: the capstone, a live trip dashboard.

The learner's code lives in files (coursekit.capstone: work/capstone/dashboard/), read afresh by
every check. Each check drives one milestone for real and judges by evidence: the upstream's call
log (what was fetched, and whether the calls overlapped), the SQL statements Django ran, what is in
Django's cache and how long it is kept, what went through the channel layer, the task queue's
table. The test the learner writes runs against their app, the worked answer and five broken
variants of it. The last check serves the app with uvicorn in a process of its own, drives it with
aiohttp (HTTP and a WebSocket), and measures its p99 under 50 clients in rounds that alternate with
the worked answer, so a busy machine slows both alike.
"""
import asyncio
import contextlib
import datetime
import inspect
import json
import logging
import os
import random
import secrets
import time
import traceback

from .. import capstone, cleanup
from ..errors import describe
from ..logs import capture_log
from ..exercises import NOT_ASYNC, UNAWAITED_USED, Busy, Chapter, Fail, Kind
from ..sandbox import run_sync
from .common import (as_default_layer, calls_for, fresh_upstream, on_a_loop, overlap_report, peak, reject_unawaited,
                     require_async, settle, upstream)

chapter = Chapter("11", "Capstone: a live trip dashboard")

SERVICES = ("weather", "flights", "hotels")
ALLOW_BLOCK = 0.2   # the longest a loop may stall in one go (an upstream call takes 0.3 s or more here)
WAIT = 3.0          # seconds a message that should come may take (a busy machine is slow, never wrong)

# --- nudges: the files ---------------------------------------------------------------------------
NOT_WRITTEN = chapter.nudge(
    "W001", "not written yet",
    "`{name}` in {file} still raises NotImplementedError. Write it there, save the file, and run this check "
    "again: every check reads your files afresh.")
NO_IMPORT = chapter.nudge(
    "W002", "the file does not import",
    "{file} raised while Python imported it (the error is under Got). Fix that line and save; the check reads "
    "the file again.")
MISSING_NAME = chapter.nudge(
    "W003", "a name missing from the file",
    "{file} has no `{name}`. Keep the names the stub gave you: the page, the tests and the other milestones "
    "import them.")

# --- 1. fan-out ----------------------------------------------------------------------------------
SERIAL = chapter.nudge(
    "W010", "one feed after another",
    "The upstream saw your calls one after another ({report}). Start every fetch before awaiting any: "
    "`asyncio.create_task(...)` for each, then `asyncio.wait(..., timeout=budget)` (or `gather`).")
FAILURE_ESCAPES = chapter.nudge(
    "W011", "a failing feed broke the whole result",
    "One upstream answered 503 and the error came out of city_feeds, so the page would be a 500. A failed feed "
    "is None: keep the exception with its task (`task.exception()`, `gather(..., return_exceptions=True)`) and "
    "put None in its place.")
PAST_BUDGET = chapter.nudge(
    "W012", "waited past the budget",
    "A late feed was waited for: {detail}. Give up on what is still running after `budget` seconds (the "
    "argument, not a number of your own): `done, late = await asyncio.wait(tasks, timeout=budget)`, cancel the "
    "late ones, and put None in their place.")
ALL_OR_NOTHING = chapter.nudge(
    "W013", "one late feed took the others with it",
    "The feed that answered in time came back as None too. A timeout around the whole group cancels everyone; "
    "time each feed (asyncio.wait(..., timeout=budget) keeps what is done), so one slow service costs only "
    "its own section of the page.")
FAILED_NOT_NONE = chapter.nudge(
    "W014", "a failed feed is None",
    "A feed that failed or was late must be None in the result, so the page (and its JSON) can say "
    "'unavailable'. Got {got} in its place.")
WRONG_FEEDS = chapter.nudge(
    "W015", "not the feeds asked for",
    "Return {{service: feed}} for exactly the services asked for (the `services` argument), each feed the JSON "
    "`fetch(session, service, slug)` gave for the city asked for (the `slug` argument).")
TOO_EARLY = chapter.nudge(
    "W017", "gave up before the budget",
    "A feed that answered well within the budget ({budget:g} s here) came back as None: the call gave up "
    "earlier. Time the feeds with the `budget` argument, not BUDGET or a number of your own.")
LATE_RAISES = chapter.nudge(
    "W016", "a late feed raised",
    "A late feed raised {error} out of city_feeds. Past the budget a feed becomes None, and the others are "
    "kept: catch the timeout per feed, or use asyncio.wait(..., timeout=budget) and cancel what is late.")

# --- 2. trips without N+1 ------------------------------------------------------------------------
N_PLUS_ONE = chapter.nudge(
    "W020", "a query per trip",
    "{count} queries for {n} trips: the owner or the bookings were read once per trip. Ask for them in the "
    "same query: `select_related(\"owner\")` for the owner, `annotate(confirmed=Count(\"bookings\", "
    "filter=Q(bookings__status=...)))` for the count.")
WRONG_TRIPS = chapter.nudge(
    "W021", "not the trips asked for",
    "Each trip in the city as {{\"title\", \"owner\" (the username), \"starts_on\" (\"YYYY-MM-DD\"), \"bookings\" "
    "(how many are confirmed, not cancelled)}}, earliest first (then by id). {detail}")

# --- 3. cache --------------------------------------------------------------------------------------
NOT_CACHED = chapter.nudge(
    "W030", "the cache was not used",
    "The same city asked twice in a row made the upstream work twice ({services} again). Keep each fetched "
    "feed with `await cache.aset_many({{...}}, timeout=CACHE_SECONDS)` and read with `await "
    "cache.aget_many(keys)` first.")
FAILURE_CACHED = chapter.nudge(
    "W031", "a failure was cached",
    "A feed failed once, then the service came back, and the page still said None: the failure was kept in "
    "the cache. Cache only the feeds that arrived (`if feed is not None`), so a failed one is tried again "
    "next time.")
SYNC_CACHE = chapter.nudge(
    "W032", "the sync cache API in async code",
    "`cache.{method}()` ran on the event loop's thread. Django's cache has an async API: `await cache.aget(...)`,"
    " `aset`, `aget_many`, `aset_many`. (The local-memory cache is quick, but Redis or memcached would block "
    "the loop for a network round trip.)")
EXPIRY = chapter.nudge(
    "W033", "kept too long",
    "A feed was cached {how}. Weather and prices go stale: pass `timeout=CACHE_SECONDS` to aset/aset_many.")
REFETCHED = chapter.nudge(
    "W034", "cached feeds fetched again",
    "Only {missing} was missing from the cache, and the upstream was asked for {asked}. Fetch only the "
    "missing feeds: `city_feeds(slug, budget, services=missing)`.")
CACHE_WRONG = chapter.nudge(
    "W035", "not the city's feeds",
    "cached_feeds({slug!r}) gave feeds that are not {slug}'s ({detail}). Keep each feed under a key of its own "
    "service and city: `cache_key(service, slug)`.")

# --- 4. live updates -------------------------------------------------------------------------------
NOT_REFUSED = chapter.nudge(
    "W040", "an unknown city must be refused",
    "A socket for a city that does not exist must be closed with code 4404 before accept(): check "
    "`await City.objects.filter(slug=slug).aexists()`, then `await self.close(code=4404)` and return.")
NOT_ACCEPTED = chapter.nudge(
    "W041", "a known city must be accepted",
    "A socket for an existing city must be accepted (`await self.accept()`) after joining the city's group.")
NOT_DELIVERED = chapter.nudge(
    "W042", "the update did not arrive",
    "{detail} Join the group in connect() (`await self.channel_layer.group_add(group_name(slug), "
    "self.channel_name)`); publish() sends to that group, with type \"dashboard.update\", which calls "
    "dashboard_update(), which sends {{\"event\": \"update\", \"city\": ..., \"feeds\": ...}} down the socket.")
WRONG_GROUP = chapter.nudge(
    "W043", "sent to the wrong group",
    "publish({slug!r}, ...) sent {sent}. Send one message to `group_name(slug)` with \"type\": "
    "\"dashboard.update\": other processes (the refresh task's worker) reach the page through that name.")
OTHER_CITY = chapter.nudge(
    "W044", "another city heard it",
    "A dashboard open on another city received the update. Each city has its own group: `group_name(slug)`.")
NOT_DISCARDED = chapter.nudge(
    "W045", "a closed socket stays in the group",
    "After a socket closed, its channel was still in the city's group: every update would go on being sent to "
    "it. In disconnect(), `await self.channel_layer.group_discard(group, self.channel_name)` (when it joined).")
MESSAGE_SHAPE = chapter.nudge(
    "W046", "the update's JSON",
    "Send exactly {{\"event\": \"update\", \"city\": slug, \"feeds\": feeds}} (`await self.send_json(...)` in "
    "`dashboard_update(self, event)`).")
NO_HANDSHAKE = chapter.nudge(
    "W047", "no answer to the handshake",
    "The socket was neither accepted nor refused within {wait:g} s. connect() must end with `await "
    "self.accept()` or `await self.close(code=...)`.")
NO_HANDLER = chapter.nudge(
    "W048", "no handler for the update",
    "The consumer raised {error}. A group message's \"type\" names the method that handles it, dots becoming "
    "underscores: \"dashboard.update\" calls `async def dashboard_update(self, event)`.")

# --- 5. background refresh -------------------------------------------------------------------------
NOT_A_TASK = chapter.nudge(
    "W050", "not a task",
    "`refresh_city` is {what}. Decorate it with `@task` (from django.tasks) so the view can "
    "`await refresh_city.aenqueue(slug)` and a worker runs it.")
STALE_REFRESH = chapter.nudge(
    "W051", "refreshed from the cache",
    "The refresh asked the upstream for {asked} only, and served the rest from the cache: a refresh must fetch "
    "every feed afresh (`city_feeds(slug, BUDGET)`), never cached_feeds.")
NOT_STORED = chapter.nudge(
    "W052", "the fresh feeds were not cached",
    "After the refresh, the cache still held {got} for {service}. Store each feed that arrived under "
    "`cache_key(service, slug)` (`await cache.aset_many(..., timeout=CACHE_SECONDS)`), so the next page "
    "shows it.")
NOT_PUSHED = chapter.nudge(
    "W053", "the open dashboards were not told",
    "{detail} After fetching, `await publish(slug, feeds)` with every feed (None for one that failed).")
TASK_FAILED = chapter.nudge(
    "W054", "the task failed in the worker",
    "The worker ran refresh_city and it raised (under Got). In a task, as in any async code, await the async "
    "calls (city_feeds, cache.aset_many, publish); async_to_sync is not needed in an `async def` task.")
NONE_STORED = chapter.nudge(
    "W055", "a failure cached by the refresh",
    "The refresh stored None for {service}, which had failed, over the feed the page had. Store only the feeds "
    "that arrived.")

# --- 6. the tests you write ------------------------------------------------------------------------
TEST_FAILS_RIGHT = chapter.nudge(
    "W060", "your test fails the worked answer",
    "Your test failed against the worked answer, which does everything the task promises (what it raised is "
    "under Got). Check what it asserts: for example, the second GET of a city is served from the cache, so a "
    "failure set up after the first GET is not seen; use another city.")
MISSED_BUG = chapter.nudge(
    "W061", "a broken dashboard passed your test",
    "Your test passed against a dashboard that {bug}. Add the assertion that catches it.")
YOUR_APP_FAILS = chapter.nudge(
    "W062", "your test found a bug in your app",
    "Your test passes against the worked answer, catches every broken variant, and fails against your own "
    "app (under Got): the test is right; fix the app (the earlier milestones' checks say where).")
NOT_A_TEST = chapter.nudge(
    "W063", "a test is a function",
    "`test_dashboard` should be `async def test_dashboard(site):`, the test the check runs.")

# --- 7. ship it ------------------------------------------------------------------------------------
SERVER_DOWN = chapter.nudge(
    "W070", "the server did not start",
    "uvicorn could not serve your app (its log is under Got). Run the earlier checks first; every file must "
    "import.")
PAGE_BROKEN = chapter.nudge(
    "W071", "the page over HTTP",
    "Served by uvicorn, {what} did not answer as it should (under Got). The earlier checks ran your functions one at a time; here the "
    "page calls them together (views.py): run those checks again, and look at the server's answer.")
NO_LIVE_UPDATE = chapter.nudge(
    "W072", "no update reached the browser",
    "A WebSocket client connected to the dashboard, the refresh was POSTed (202), and {detail}. Run the checks "
    "of milestones 4 and 5.")
OVER_BUDGET = chapter.nudge(
    "W073", "over the performance budget",
    "At 50 clients your app's p99 was {mine} against {reference} for the worked answer, measured in "
    "alternating rounds: more than {ratio:g} times slower, and over the {budget} budget. Look for a blocking "
    "call (time.sleep, requests, a sync ORM call) or work done on every request that the cache should save.")
UPSTREAM_UNDER_LOAD = chapter.nudge(
    "W074", "the upstream called under load",
    "While 50 clients loaded a page whose feeds were already cached, the upstream got {calls} calls: every "
    "request went out to the network. The page reads the feeds through cached_feeds (milestone 3).")


# --- loading the learner's files --------------------------------------------------------------------
def _app_file(exc, app):
    """The learner's file (name) deepest in the traceback, or None."""
    found = None
    folder = str(app.package_dir) if app is not None else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if folder and os.path.abspath(frame.filename).startswith(folder + os.sep):
            found = os.path.basename(frame.filename)
    return found


_current = {"app": None}


@chapter.explainer
def explain(exc, what):
    from trips.upstream import UpstreamError

    def fail(nudge, kind=Kind.ERROR):
        return Fail(f"{what} to run without an error", describe(exc, width=88), nudge, kind=kind, cause=exc)

    if isinstance(exc, Fail):  # raised by the check's own driver, on the learner's thread
        return exc
    app = _current["app"]
    if isinstance(exc, NotImplementedError):
        where = _app_file(exc, app)
        frames = traceback.extract_tb(exc.__traceback__)
        name = frames[-1].name if frames else "it"
        return Fail(f"`{name}` to be written", "NotImplementedError: it has not been written yet",
                    NOT_WRITTEN.format(name=name, file=f"{app.where() if app else 'dashboard/'}{where or ''}"),
                    kind=Kind.MISSING, cause=exc)
    if isinstance(exc, UpstreamError):
        return fail(FAILURE_ESCAPES)
    if isinstance(exc, (TimeoutError, asyncio.CancelledError)):
        return fail(LATE_RAISES.format(error=type(exc).__name__))
    if isinstance(exc, ValueError) and "No handler for message type" in str(exc):
        return fail(NO_HANDLER.format(error=describe(exc, width=88)))
    return None


def _load(app, module):
    """dashboard.<module> from the learner's files, read afresh; a Fail if it does not import."""
    _current["app"] = app
    filename = f"{module}.py"
    try:
        app.load()
        return app.module(module)
    except Exception as exc:  # a syntax error, an import of a name that is not there, ...
        culprit = _app_file(exc, app) or filename
        if isinstance(exc, SyntaxError) and exc.filename:
            culprit = os.path.basename(exc.filename)
        raise Fail(f"{app.where()}{culprit} to import", describe(exc, width=88),
                   NO_IMPORT.format(file=f"{app.where()}{culprit}"), kind=Kind.ERROR, cause=exc) from None


def _need(module, name, app):
    if not hasattr(module, name):
        file = f"{app.where()}{module.__name__.rsplit('.', 1)[-1]}.py"
        raise Fail(f"`{name}` in {file}", "no such name", MISSING_NAME.format(file=file, name=name),
                   kind=Kind.MISSING)
    return getattr(module, name)


def _require_app(app):
    if not isinstance(app, capstone.App):
        raise Fail("`app = capstone.app()` (the set-up cell)", repr(app)[:80],
                   MISSING_NAME.format(file="the set-up cell", name="app"), kind=Kind.MISSING)


# --- shared fixtures -------------------------------------------------------------------------------
def _rng():
    return random.Random(secrets.randbits(64))


def _city_slugs():
    from trips.models import City

    return list(City.objects.values_list("slug", flat=True))


async def _cities(n):
    return _rng().sample(await run_sync(_city_slugs), n)


def _payload(service, slug):
    from ..upstream import payload

    return payload(service, slug)


def _show(value):
    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _default_cache():
    from django.core.cache import caches

    return caches["default"]


@contextlib.contextmanager
def _clean_cache():
    cache = _default_cache()
    cache.clear()
    try:
        yield cache
    finally:
        cache.clear()


class _CacheSpy:
    """Notes every sync cache method called on a thread that runs an event loop (straight from async
    code: the async API runs them on a worker thread instead)."""

    METHODS = ("get", "set", "get_many", "set_many", "add", "get_or_set", "has_key", "delete", "touch")

    def __enter__(self):
        from django.core.cache.backends.locmem import LocMemCache

        self.cls, self.saved, self.on_loop = LocMemCache, {}, []
        for name in self.METHODS:
            self.saved[name] = self.cls.__dict__.get(name)  # None: inherited from BaseCache
            setattr(self.cls, name, self._spy(name, getattr(self.cls, name)))
        return self

    def _spy(self, name, original):
        spy = self

        def method(*args, **kwargs):
            if on_a_loop():
                spy.on_loop.append(name)
            return original(*args, **kwargs)
        return method

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            if original is None:
                delattr(self.cls, name)
            else:
                setattr(self.cls, name, original)
        return False


def _recording_layer():
    from channels.layers import InMemoryChannelLayer

    from asgiref.sync import markcoroutinefunction

    class RecordingLayer(InMemoryChannelLayer):
        """The in-memory layer, noting every group_send called (`called`) and awaited (`sent`)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.called, self.sent = [], []

        # A plain function that returns the coroutine, so a call that is never awaited is seen too.
        @markcoroutinefunction
        def group_send(self, group, message):
            self.called.append((group, message))
            return self._group_send(group, message)

        async def _group_send(self, group, message):
            self.sent.append((group, message))
            return await super().group_send(group, message)

    return RecordingLayer()


def _fresh_layer():
    return as_default_layer(_recording_layer())


async def _direct(coro_fn, *args, what, timeout=5.0):
    """Await learner code on this loop (the channel layer's queues live here), errors explained."""
    try:
        async with asyncio.timeout(timeout):
            result = coro_fn(*args)
            if inspect.iscoroutine(result):
                result = await result
            return result
    except Fail:
        raise
    except TimeoutError:
        raise Fail(f"{what} to finish within {timeout:g} s", "it was still running, so the check stopped it",
                   _timed_out(), kind=Kind.TIMEOUT) from None
    except Exception as exc:
        raise chapter.explain(exc, what) from None


def _timed_out():
    from ..exercises import TIMED_OUT

    return TIMED_OUT


# --- 1. fan-out within a budget ---------------------------------------------------------------------
async def _excuse_late_answers(api, slug, services, started, budget):
    """Busy when a feed that should have been in time was late at the upstream itself (a busy machine slowed
    the server, not the learner's code). A call the learner gave up on early ended early, and one never
    made is not logged at all: no excuse for either."""
    await settle(api)
    for service in services:
        ends = [c.end for c in calls_for(api, slug) if c.service == service]
        if ends and min(ends) - started > budget * 0.8:
            raise Busy(f"{service} answered in time (the upstream itself was late)")


def _judge_feeds(got, slug, services, what, nones=()):
    """got must be {service: payload} for `services`, None exactly for `nones`."""
    if not isinstance(got, dict) or set(got) != set(services):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise Fail(f"{what} to return a dict with the keys {sorted(services)}", _show(keys), WRONG_FEEDS)
    for service in services:
        feed = got[service]
        if service in nones:
            continue
        if isinstance(feed, BaseException) or feed is None:
            continue  # judged by the caller (which feed, and why)
        if feed != _payload(service, slug):
            raise Fail(f"{service}: {_show(_payload(service, slug))}", f"{service}: {_show(feed)}", WRONG_FEEDS)


@chapter.exercise(
    "fan-out", "All feeds at once, within a time budget",
    needs=["app"],
    hints=[
        "Open one `aiohttp.ClientSession()` and start one task per service: `asyncio.create_task(fetch(session, "
        "service, slug))`.",
        "`done, late = await asyncio.wait(tasks, timeout=budget)` waits at most `budget` seconds and keeps what "
        "finished; cancel each task in `late`.",
        "For each service: None if its task was cancelled or `task.exception()` is not None (that call also marks "
        "the error as seen), else `task.result()`.",
    ],
    timeout=25,
)
async def check_fan_out(ctx, app):
    _require_app(app)
    feeds = _load(app, "feeds")
    city_feeds = _need(feeds, "city_feeds", app)
    require_async(city_feeds, "city_feeds")
    rng = _rng()
    first, second, third = await _cities(3)

    # Every feed in time (one takes longer than the module's BUDGET, within this call's budget): the same
    # JSON as the upstream's, fetched at the same time.
    slowish = rng.choice(SERVICES)
    async with fresh_upstream() as api:
        latency = {s: round(rng.uniform(0.3, 0.45), 2) for s in SERVICES}
        latency[slowish] = round(rng.uniform(1.25, 1.4), 2)
        api.configure(latency=latency)
        budget = round(rng.uniform(2.0, 2.3), 1)
        what = f"`city_feeds({first!r}, {budget:g})`"
        started_a = time.perf_counter()
        got = await ctx.call(city_feeds, first, budget, allow_block=ALLOW_BLOCK, what=what, timeout=budget + 8)
        reject_unawaited(got, what)
        _judge_feeds(got, first, SERVICES, what)
        missing = [s for s in SERVICES if got[s] is None or isinstance(got[s], BaseException)]
        await _excuse_late_answers(api, first, missing, started_a, budget)
        if missing == [slowish]:
            raise Fail(f"{what}: every feed ({slowish} answers after {latency[slowish]:g} s)", f"{slowish}: None",
                       TOO_EARLY.format(budget=budget))
        if missing:
            raise Fail(f"{what}: every feed (each answered within {budget:g} s)",
                       f"{', '.join(missing)}: {_show(got[missing[0]])}", WRONG_FEEDS)
        calls = calls_for(api, first)
        if peak(calls) < len(SERVICES):
            raise Fail("the three calls in flight at the same time", overlap_report(calls),
                       SERIAL.format(report=overlap_report(calls)))

    # One fails, one is late: a partial result, on time.
    failing, late, fine = rng.sample(SERVICES, 3)
    budget = round(rng.uniform(0.4, 0.6), 2)
    async with fresh_upstream() as api:
        api.configure(latency={fine: round(rng.uniform(0.05, 0.12), 2), failing: 0.05, late: budget + 1.5},
                      fail=failing)
        what = f"`city_feeds({second!r}, {budget:g})` with {failing} failing and {late} late"
        started = time.perf_counter()
        got = await ctx.call(city_feeds, second, budget, allow_block=ALLOW_BLOCK, what=what, timeout=budget + 8)
        took = time.perf_counter() - started
        reject_unawaited(got, what)
        _judge_feeds(got, second, SERVICES, what, nones=(failing, late))
        if got[failing] is not None:
            raise Fail(f"{failing}: None (it answered 503)", f"{failing}: {_show(got[failing])}",
                       FAILED_NOT_NONE.format(got=_show(got[failing])))
        if got[late] is not None and not isinstance(got[late], BaseException):
            raise Fail(f"{late}: None (it answers after {budget + 1.5:g} s, the budget is {budget:g} s)",
                       f"{late}: {_show(got[late])}", PAST_BUDGET.format(detail=f"{late} arrived"))
        if got[late] is not None:
            raise Fail(f"{late}: None", f"{late}: {_show(got[late])}", FAILED_NOT_NONE.format(got=_show(got[late])))
        if got[fine] is None:
            await _excuse_late_answers(api, second, [fine], started, budget)
            raise Fail(f"{fine}: its feed (it answered in time)", f"{fine}: None", ALL_OR_NOTHING)
        limit = budget + 0.4
        if ctx.exceeds(took, limit, started):
            raise Fail(f"{what} to return about {budget:g} s after it started", f"it took {took:.2f} s",
                       PAST_BUDGET.format(detail=f"the call took {took:.2f} s with a budget of {budget:g} s"))

    # Only the services asked for (cached_feeds will ask for the missing ones only).
    only = rng.choice(SERVICES)
    async with fresh_upstream() as api:
        what = f"`city_feeds({third!r}, 1.5, services=[{only!r}])`"
        got = await ctx.call(city_feeds, third, 1.5, services=[only], allow_block=ALLOW_BLOCK, what=what,
                             timeout=10)
        reject_unawaited(got, what)
        _judge_feeds(got, third, (only,), what)
        asked = sorted({c.service for c in calls_for(api, third)})
        if asked != [only]:
            raise Fail(f"{what} to call {only} only", f"called {', '.join(asked) or 'nothing'}", WRONG_FEEDS)
    return "Every feed at once; a failing or late one costs only its own section, and the page is on time."


# --- 2. the trips, without N+1 ------------------------------------------------------------------------
class _QueryCounter:
    """The SQL statements Django runs, on any thread, inside a with block (Django logs them with DEBUG on)."""

    def __enter__(self):
        from django.test.utils import override_settings

        self.statements = []
        outer = self

        class Collect(logging.Handler):
            def emit(self, record):
                sql = getattr(record, "sql", None)
                if sql and not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
                    outer.statements.append(sql)

        self._logger = logging.getLogger("django.db.backends")
        self._saved = self._logger.level, self._logger.propagate, self._logger.handlers
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False
        self._logger.handlers = [Collect(level=logging.DEBUG)]
        self._debug = override_settings(DEBUG=True)
        self._debug.enable()
        return self

    def __exit__(self, *exc):
        self._debug.disable()
        self._logger.setLevel(self._saved[0])
        self._logger.propagate, self._logger.handlers = self._saved[1:]
        return False


def _add_trips(slug, n, rng):
    """n more trips in city `slug`, with bookings some of which are cancelled; returns their ids."""
    from django.contrib.auth import get_user_model

    from trips.models import Booking, City, Trip

    city = City.objects.get(slug=slug)
    owners = list(get_user_model().objects.all())
    ids = []
    for day in rng.sample(range(1, 300), n):
        starts = datetime.date(2027, 1, 1) + datetime.timedelta(days=day)
        trip = Trip.objects.create(owner=rng.choice(owners), city=city, title=f"Trip {secrets.token_hex(3)}",
                                   starts_on=starts, ends_on=starts + datetime.timedelta(days=rng.randint(2, 9)))
        ids.append(trip.pk)
        # The first trip always has a cancelled and a confirmed booking: an answer that counts every
        # booking, or only the cancelled ones, never passes because the dice gave no cancelled booking.
        statuses = ["cancelled", "confirmed"] if len(ids) == 1 else []
        statuses += [rng.choice(["confirmed", "confirmed", "cancelled"]) for _ in range(rng.randint(0, 4))]
        for status in statuses:
            Booking.objects.create(trip=trip, kind=rng.choice(["flight", "hotel"]),
                                   reference=f"CK{secrets.token_hex(4)}", amount=rng.randint(50, 900),
                                   status=status)
    return ids


def _remove_trips(ids):
    from trips.models import Trip

    Trip.objects.filter(pk__in=ids).delete()


def _expected_trips(slug):
    from trips.models import Trip

    rows = []
    for trip in Trip.objects.filter(city__slug=slug).select_related("owner").order_by("starts_on", "id"):
        rows.append({"title": trip.title, "owner": trip.owner.username, "starts_on": trip.starts_on.isoformat(),
                     "bookings": trip.bookings.filter(status="confirmed").count()})
    return rows


def _trips_detail(got, want):
    if not isinstance(got, list):
        return f"Got a {type(got).__name__}, not a list."
    if len(got) != len(want):
        return f"{len(want)} trips expected, {len(got)} given."
    for index, (have, should) in enumerate(zip(got, want)):
        if not isinstance(have, dict):
            return f"Trip {index} is a {type(have).__name__}, not a dict."
        if set(have) != set(should):
            return f"Trip {index} has the keys {sorted(have)}."
        for key in should:
            if have[key] != should[key]:
                if key == "title" and any(have["title"] == w["title"] for w in want):
                    return "The trips are in another order."
                return f"Trip {index} ({should['title']}): {key} {have[key]!r}, expected {should[key]!r}."
    return ""


@chapter.exercise(
    "trips-queries", "The city's trips, in one query",
    needs=["app"],
    hints=[
        "Start from `Trip.objects.filter(city__slug=slug).order_by(\"starts_on\", \"id\")` and build the dicts in "
        "an `async for`.",
        "`trip.owner.username` in async code needs the owner fetched already: `.select_related(\"owner\")`.",
        "Count in the same query: `.annotate(confirmed=Count(\"bookings\", filter=Q(bookings__status="
        "Booking.Status.CONFIRMED)))`, then `trip.confirmed`.",
    ],
    timeout=25,
)
async def check_trips_queries(ctx, app):
    _require_app(app)
    queries = _load(app, "queries")
    city_trips = _need(queries, "city_trips", app)
    require_async(city_trips, "city_trips")
    rng = _rng()
    slug = rng.choice(await run_sync(_city_slugs))
    ids = await run_sync(_add_trips, slug, rng.randint(3, 5), rng)
    try:
        want = await run_sync(_expected_trips, slug)
        what = f"`city_trips({slug!r})`"
        with _QueryCounter() as counted:
            got = await ctx.call(city_trips, slug, allow_block=0.3, what=what)
        reject_unawaited(got, what)
        if not isinstance(got, list):
            with contextlib.suppress(TypeError):
                got = list(got) if not isinstance(got, (dict, str)) else got
        detail = _trips_detail(got, want)
        if detail:
            raise Fail(f"{what}: {len(want)} trips, earliest first", _show(got), WRONG_TRIPS.format(detail=detail))
        count = len(counted.statements)
        if count > 2:
            raise Fail(f"at most 2 queries for {len(want)} trips", f"{count} queries",
                       N_PLUS_ONE.format(count=count, n=len(want)))
    finally:
        await run_sync(_remove_trips, ids)
    nowhere = f"nowhere-{secrets.token_hex(3)}"
    got = await ctx.call(city_trips, nowhere, allow_block=0.3, what=f"`city_trips({nowhere!r})`")
    reject_unawaited(got, "city_trips")
    if list(got) != []:
        raise Fail(f"`city_trips({nowhere!r})`: [] (no such city)", _show(got),
                   WRONG_TRIPS.format(detail="A city with no trips (or no such city) has an empty list."))
    return "The trips, their owners and their confirmed bookings in a single query, however many trips."


# --- 3. the cache ------------------------------------------------------------------------------------
def _expiries(cache, before):
    """{key: seconds left (None: never expires)} for keys added to the local-memory cache since `before`."""
    now = time.time()
    info = getattr(cache, "_expire_info", {})
    return {key: (None if exp is None else exp - now) for key, exp in list(info.items()) if key not in before}


@chapter.exercise(
    "cache", "Feeds through Django's async cache",
    needs=["app"],
    hints=[
        "`keys = {service: cache_key(service, slug) for service in SERVICES}`, then `found = await "
        "cache.aget_many(keys.values())`: a dict of the keys it had.",
        "The services whose feed is missing go to `await city_feeds(slug, budget, services=missing)`.",
        "Store what arrived: `await cache.aset_many({keys[s]: feed for s, feed in fresh.items() if feed is not "
        "None}, timeout=CACHE_SECONDS)`.",
    ],
    timeout=30,
)
async def check_cache(ctx, app):
    _require_app(app)
    feeds = _load(app, "feeds")
    cached_feeds = _need(feeds, "cached_feeds", app)
    require_async(cached_feeds, "cached_feeds")
    keep = getattr(feeds, "CACHE_SECONDS", 30)
    rng = _rng()
    first, second, third = await _cities(3)
    budget = round(rng.uniform(1.2, 1.6), 1)

    async def call(slug):
        what = f"`cached_feeds({slug!r}, {budget:g})`"
        got = await ctx.call(cached_feeds, slug, budget, allow_block=ALLOW_BLOCK, what=what, timeout=budget + 8)
        reject_unawaited(got, what)
        return got, what

    with _clean_cache() as cache, _CacheSpy() as spy:
        before = set(getattr(cache, "_expire_info", {}))
        async with fresh_upstream() as api:
            api.configure(latency={s: round(rng.uniform(0.1, 0.2), 2) for s in SERVICES})
            got, what = await call(first)
            _judge_feeds(got, first, SERVICES, what)
            if any(got[s] is None for s in SERVICES):
                raise Fail(f"{what}: every feed", _show(got), WRONG_FEEDS)
            api.clear_log()
            again, what = await call(first)
            asked = sorted({c.service for c in calls_for(api, first)})
            if asked:
                raise Fail(f"{what} a second time: no upstream call", f"calls to {', '.join(asked)}",
                           NOT_CACHED.format(services=", ".join(asked)))
            if again != got:
                raise Fail(f"{what} a second time: the same feeds", _show(again),
                           CACHE_WRONG.format(slug=first, detail="the second call differs"))
            other, what = await call(second)
            wrong = [s for s in SERVICES if other.get(s) != _payload(s, second)]
            if wrong:
                raise Fail(f"{what}: {second}'s feeds", _show(other),
                           CACHE_WRONG.format(slug=second, detail=f"{wrong[0]} is {_show(other.get(wrong[0]))}"))
            if spy.on_loop:
                raise Fail("the async cache API (aget, aset, aget_many, aset_many)",
                           f"cache.{spy.on_loop[0]}() called from async code",
                           SYNC_CACHE.format(method=spy.on_loop[0]))
            lasting = _expiries(cache, before)
            forever = [k for k, left in lasting.items() if left is None]
            if forever:
                raise Fail(f"feeds kept for CACHE_SECONDS ({keep} s)", "a feed cached with no expiry",
                           EXPIRY.format(how="with no expiry (timeout=None)"))
            longest = max(lasting.values(), default=0)
            if longest > keep + 1:
                raise Fail(f"feeds kept for CACHE_SECONDS ({keep} s)", f"a feed kept for {longest:.0f} s",
                           EXPIRY.format(how=f"for {longest:.0f} s, not CACHE_SECONDS ({keep} s)"))

        failing = rng.choice(SERVICES)
        async with fresh_upstream() as api:
            api.configure(fail=failing, latency=0.1)
            got, what = await call(third)
            if got.get(failing) is not None:
                raise Fail(f"{what} with {failing} failing: {failing} None", _show(got.get(failing)),
                           FAILED_NOT_NONE.format(got=_show(got.get(failing))))
            api.configure(fail=())
            api.clear_log()
            got, what = await call(third)
            if got.get(failing) is None:
                raise Fail(f"{what} once {failing} is back: its feed", f"{failing}: None", FAILURE_CACHED)
            asked = sorted({c.service for c in calls_for(api, third)})
            if asked != [failing]:
                raise Fail(f"{what}: an upstream call for {failing} only", f"calls to {', '.join(asked)}",
                           REFETCHED.format(missing=failing, asked=", ".join(asked)))
            _judge_feeds(got, third, SERVICES, what)
        if spy.on_loop:
            raise Fail("the async cache API", f"cache.{spy.on_loop[0]}() called from async code",
                       SYNC_CACHE.format(method=spy.on_loop[0]))
    return "A city's feeds cost the upstream one call each per CACHE_SECONDS; a failed feed is tried again."


# --- 4. live updates ---------------------------------------------------------------------------------
class _Sockets:
    def __init__(self, app):
        self.app, self.opened = app, []

    def open(self, path):
        from channels.testing import WebsocketCommunicator

        communicator = WebsocketCommunicator(self.app, path, headers=[(b"origin", b"http://127.0.0.1")])
        self.opened.append(communicator)
        return communicator

    async def close_all(self):
        for communicator in self.opened:
            future = communicator._future
            if future is not None and not future.done():
                with contextlib.suppress(BaseException):
                    await communicator.disconnect(timeout=1)
            if future is not None and not future.done():
                future.cancel()
                with contextlib.suppress(BaseException):
                    await future
            elif future is not None and not future.cancelled():
                with contextlib.suppress(BaseException):
                    future.exception()


async def _handshake(communicator, what):
    try:
        return await communicator.connect(timeout=WAIT)
    except TimeoutError:
        raise Fail(f"{what}: accepted or refused", f"no answer within {WAIT:g} s",
                   NO_HANDSHAKE.format(wait=WAIT), kind=Kind.TIMEOUT) from None
    except Exception as exc:
        raise chapter.explain(exc, what) from None


async def _receive(communicator, what, detail):
    try:
        return await communicator.receive_json_from(timeout=WAIT)
    except TimeoutError:
        raise Fail(f"{what} to receive the update", f"nothing within {WAIT:g} s",
                   NOT_DELIVERED.format(detail=detail)) from None
    except Exception as exc:
        fail = chapter.explain(exc, what)
        raise fail from None


def _is_update(message):
    """A message of type "dashboard.update" (or "dashboard_update": Channels reads both the same way)."""
    return isinstance(message, dict) and str(message.get("type", "")).replace(".", "_") == "dashboard_update"


def _members(layer, group):
    return set(getattr(layer, "groups", {}).get(group, {}))


def _random_feeds(rng, slug):
    return {s: (None if rng.random() < 0.3 else _payload(s, slug)) for s in SERVICES}


@chapter.exercise(
    "live-updates", "Push updates to every open dashboard",
    needs=["app"],
    hints=[
        "In connect(): the slug is `self.scope[\"url_route\"][\"kwargs\"][\"slug\"]`; refuse an unknown city with "
        "`await self.close(code=4404)` (and return), else group_add then accept.",
        "`async def dashboard_update(self, event)` handles the messages of type \"dashboard.update\": "
        "`await self.send_json({\"event\": \"update\", \"city\": event[\"city\"], \"feeds\": event[\"feeds\"]})`.",
        "publish(): `await get_channel_layer().group_send(group_name(slug), {\"type\": \"dashboard.update\", "
        "\"city\": slug, \"feeds\": feeds})`. And group_discard in disconnect().",
    ],
    timeout=40,
)
async def check_live_updates(ctx, app):
    from channels.routing import URLRouter
    from django.urls import path

    _require_app(app)
    consumers = _load(app, "consumers")
    consumer = _need(consumers, "DashboardConsumer", app)
    publish = _need(consumers, "publish", app)
    group_name = getattr(consumers, "group_name", lambda slug: f"dashboard-{slug}")
    if not (isinstance(consumer, type) and hasattr(consumer, "as_asgi")):
        raise Fail("`DashboardConsumer`: a consumer class", type(consumer).__name__,
                   MISSING_NAME.format(file="consumers.py", name="DashboardConsumer"))
    require_async(publish, "publish")
    rng = _rng()
    here, there = await _cities(2)
    with _fresh_layer() as layer:
        sockets = _Sockets(URLRouter([path("ws/dashboard/<slug:slug>/", consumer.as_asgi())]))
        try:
            nowhere = f"nowhere-{secrets.token_hex(3)}"
            what = f"a socket for /ws/dashboard/{nowhere}/ (no such city)"
            answer = await _handshake(sockets.open(f"/ws/dashboard/{nowhere}/"), what)
            if answer != (False, 4404):
                raise Fail(f"{what}: refused with 4404", f"{answer}", NOT_REFUSED)
            a1, a2, b = (sockets.open(f"/ws/dashboard/{slug}/") for slug in (here, here, there))
            for communicator, slug in ((a1, here), (a2, here), (b, there)):
                what = f"a socket for /ws/dashboard/{slug}/"
                answer = await _handshake(communicator, what)
                if not answer[0]:
                    raise Fail(f"{what}: accepted", f"refused with {answer[1]}", NOT_ACCEPTED)
            feeds = _random_feeds(rng, here)
            layer.sent.clear()
            layer.called.clear()
            await _direct(publish, here, feeds, what=f"`publish({here!r}, feeds)`")
            to_city = [(g, m) for g, m in layer.sent if g == group_name(here)]
            if layer.called and not layer.sent:
                raise Fail(f"`publish({here!r}, feeds)` to send to the group", "a coroutine created and never "
                           "awaited, and nothing sent", UNAWAITED_USED, kind=Kind.UNAWAITED)
            if len(layer.sent) != 1 or len(to_city) != 1 or not _is_update(to_city[0][1]):
                sent = "; ".join(f"{g}: {_show(m)}" for g, m in layer.sent) or "nothing"
                raise Fail(f"one message to {group_name(here)} of type dashboard.update", sent,
                           WRONG_GROUP.format(slug=here, sent=sent))
            want = {"event": "update", "city": here, "feeds": feeds}
            for communicator in (a1, a2):
                got = await _receive(communicator, f"a dashboard open on {here}",
                                     f"A dashboard open on {here} received nothing after publish({here!r}, ...).")
                if got != want:
                    raise Fail(_show(want), _show(got), MESSAGE_SHAPE)
            if not await b.receive_nothing(timeout=0.2):
                raise Fail(f"nothing for the dashboard open on {there}", "it received the update", OTHER_CITY)
            gone = set(_members(layer, group_name(here)))
            await a2.disconnect(timeout=WAIT)
            left = _members(layer, group_name(here))
            if len(left) != len(gone) - 1 or len(left) != 1:
                raise Fail(f"one member left in {group_name(here)} after one of two closed",
                           f"{len(left)} members", NOT_DISCARDED)
            feeds = _random_feeds(rng, here)
            await _direct(publish, here, feeds, what=f"`publish({here!r}, feeds)`")
            got = await _receive(a1, f"the dashboard still open on {here}",
                                 f"The dashboard still open on {here} received nothing after the other closed.")
            if got != {"event": "update", "city": here, "feeds": feeds}:
                raise Fail(_show({"event": "update", "city": here, "feeds": feeds}), _show(got), MESSAGE_SHAPE)
        finally:
            await sockets.close_all()
    return "Every dashboard open on a city gets its updates, and only those; a closed one leaves its group."


# --- 5. background refresh ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def _database_queue():
    from django.test.utils import override_settings

    from ..logs import capture_log

    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}), \
            capture_log("django.tasks"), capture_log("django_tasks_db"):
        await run_sync(_empty_queue)
        try:
            yield
        finally:
            await run_sync(_empty_queue)


def _empty_queue():
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


def _work_off_the_queue():
    from django.db import connections
    from django_tasks_db.management.commands.db_worker import Worker

    try:
        Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id="coursekit-check", excluded_queue_names=[]).run()
    finally:
        connections.close_all()


def _rows():
    from django_tasks_db.models import DBTaskResult

    return [(row.task_path, row.status, row.args_kwargs, row.exception_class_path, row.traceback)
            for row in DBTaskResult.objects.order_by("enqueued_at")]


@chapter.exercise(
    "background-refresh", "Refresh in the background, push to the page",
    needs=["app"],
    hints=[
        "`@task` above `async def refresh_city(slug):` (from django.tasks import task).",
        "`feeds = await city_feeds(slug, BUDGET)`: fresh, every feed (not cached_feeds, which would serve the "
        "cache).",
        "Then `await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, "
        "timeout=CACHE_SECONDS)`, `await publish(slug, feeds)`, and `return feeds`.",
    ],
    timeout=40,
)
async def check_background_refresh(ctx, app):
    from django.tasks import Task

    _require_app(app)
    tasks = _load(app, "tasks")
    refresh_city = _need(tasks, "refresh_city", app)
    feeds = app.module("feeds")
    consumers = app.module("consumers")
    cache_key = getattr(feeds, "cache_key", lambda service, slug: f"dashboard:{service}:{slug}")
    group_name = getattr(consumers, "group_name", lambda slug: f"dashboard-{slug}")
    if not isinstance(refresh_city, Task):
        raise Fail("`refresh_city`: a django.tasks Task", f"a {type(refresh_city).__name__}",
                   NOT_A_TASK.format(what=f"a plain {type(refresh_city).__name__}"))
    rng = _rng()
    (slug,) = await _cities(1)
    failing = rng.choice(SERVICES)
    stale = {s: {"service": s, "city": slug, "stale": secrets.token_hex(3)} for s in SERVICES}
    with _clean_cache() as cache, _fresh_layer() as layer:
        async with fresh_upstream() as api, _database_queue():
            api.configure(latency=0.1, fail=failing)
            await cache.aset_many({cache_key(s, slug): stale[s] for s in SERVICES}, timeout=300)
            try:
                await refresh_city.aenqueue(slug)
            except Exception as exc:
                raise chapter.explain(exc, "`refresh_city.aenqueue(slug)`") from None
            started = time.perf_counter()
            try:
                async with asyncio.timeout(25):
                    await asyncio.to_thread(_work_off_the_queue)
            except TimeoutError:
                raise Fail("the worker to finish refresh_city", "it was still running after 25 s",
                           _timed_out(), kind=Kind.TIMEOUT) from None
            rows = await run_sync(_rows)
            if not rows:
                raise Fail("refresh_city in the queue", "the queue is empty", NOT_A_TASK.format(what="not queued"))
            path, status, _, error, tb = rows[-1]
            if status != "SUCCESSFUL":
                last = (tb or "").strip().splitlines()[-1:] or [error]
                if "NotImplementedError" in (error or ""):
                    raise Fail("refresh_city to be written", "NotImplementedError: it has not been written yet",
                               NOT_WRITTEN.format(name="refresh_city", file=f"{app.where()}tasks.py"),
                               kind=Kind.MISSING)
                raise Fail("refresh_city to succeed in the worker", f"{status}: {last[0]}", TASK_FAILED)
            asked = sorted({c.service for c in calls_for(api, slug)})
            if asked != sorted(SERVICES):
                raise Fail("a call to every upstream service", f"calls to {', '.join(asked) or 'nothing'}",
                           STALE_REFRESH.format(asked=", ".join(asked) or "nothing"))
            for service in SERVICES:
                kept = cache.get(cache_key(service, slug), "<nothing>")
                if service == failing:
                    if kept is None:
                        raise Fail(f"{service} (it failed): the feed the cache had", "None", NONE_STORED.format(
                            service=service))
                elif kept != _payload(service, slug):
                    raise Fail(f"{service}: the fresh feed in the cache", _show(kept),
                               NOT_STORED.format(got="the old feed" if kept == stale[service] else _show(kept),
                                                 service=service))
            want = {s: (None if s == failing else _payload(s, slug)) for s in SERVICES}
            pushed = [m for g, m in layer.sent if g == group_name(slug) and _is_update(m)]
            if not pushed:
                raise Fail(f"an update sent to {group_name(slug)}", "; ".join(g for g, _ in layer.sent) or "nothing",
                           NOT_PUSHED.format(detail="Nothing was sent to the city's group."))
            if pushed[-1].get("feeds") != want or pushed[-1].get("city") != slug:
                raise Fail(_show({"city": slug, "feeds": want}), _show(pushed[-1]),
                           NOT_PUSHED.format(detail="The update did not carry the fresh feeds (None for the one "
                                             "that failed)."))
    return "The refresh runs in a worker, fetches every feed afresh, caches what arrived and tells open pages."


# --- 6. the tests you write ---------------------------------------------------------------------------
BROKEN = [
    ("turns a failing feed into a 500", "feeds.py", '''

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(budget):
            found = await asyncio.gather(*(fetch(session, s, slug) for s in services))
    return dict(zip(services, found))
'''),
    ("waits for a late feed, however long it takes", "feeds.py", '''

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        found = await asyncio.gather(*(fetch(session, s, slug) for s in services), return_exceptions=True)
    return {s: (None if isinstance(f, BaseException) else f) for s, f in zip(services, found)}
'''),
    ("keeps a failed feed in the cache", "feeds.py", '''

async def cached_feeds(slug, budget=BUDGET):
    keys = {service: cache_key(service, slug) for service in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {service: found.get(key) for service, key in keys.items()}
    missing = [service for service, key in keys.items() if key not in found]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: feed for s, feed in fresh.items()}, timeout=CACHE_SECONDS)
    return feeds
'''),
    ("refreshes without telling the open pages", "tasks.py", '''

@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None},
                          timeout=CACHE_SECONDS)
    return feeds
'''),
    ("answers 200 for a city that does not exist", "views.py", '''

async def dashboard(request, slug):
    city = await City.objects.filter(slug=slug).afirst()
    feeds, trips = await asyncio.gather(cached_feeds(slug), city_trips(slug))
    return JsonResponse({"city": city.name if city else slug, "feeds": feeds, "trips": trips})
'''),
]
_variants = {"folder": None, "apps": None}
FAST = 0.05  # the upstream's latency while a learner's test runs (seven runs per check: keep them short)


def _broken_apps():
    """The worked answer with one promise broken each, made once per kernel (removed by shutdown())."""
    import shutil
    import tempfile
    from pathlib import Path

    if _variants["apps"] is None or not Path(_variants["folder"]).exists():
        folder = tempfile.mkdtemp(prefix=f"coursekit-{os.getpid()}-capstone-")
        reference = capstone.reference()
        apps = []
        for n, (bug, filename, override) in enumerate(BROKEN, start=1):
            source = reference.path(filename).read_text() + override
            apps.append((bug, capstone.variant(reference, {filename: source}, f"_capstone_broken_{n}", into=folder)))
        _variants.update(folder=folder, apps=apps)

        def remove():
            shutil.rmtree(folder, ignore_errors=True)
            _variants.update(folder=None, apps=None)
        cleanup.register("the capstone's broken variants", remove)
    return _variants["apps"]


class Site:
    """What `test_dashboard(site)` gets: the app under test behind Django's test client and Channels'
    communicator, and the upstream API (its knobs)."""

    def __init__(self, app, api):
        from django.test import AsyncClient

        self.client = AsyncClient()
        self.api = api
        self._app = app

    def socket(self, slug):
        """A WebsocketCommunicator on ws/dashboard/<slug>/ (not connected yet: `await ....connect()`)."""
        from channels.routing import URLRouter
        from channels.testing import WebsocketCommunicator

        routing = self._app.module("routing")
        return WebsocketCommunicator(URLRouter(routing.websocket_urlpatterns), f"/ws/dashboard/{slug}/",
                                     headers=[(b"origin", b"http://127.0.0.1")])


async def _run_learner_test(test, app, api):
    """The learner's test against one app: None if it passed, else what it raised."""
    from django.test.utils import override_settings

    app.load()
    for name in ("feeds", "queries", "consumers", "tasks", "views", "urls", "routing"):
        app.module(name)
    api.reset()
    api.configure(latency=FAST)
    with override_settings(ROOT_URLCONF=f"{app.name}.urls"), _fresh_layer(), _clean_cache(), \
            capture_log("django.tasks"), capture_log("django.request"):
        try:
            async with asyncio.timeout(20):
                result = test(Site(app, api))
                if inspect.iscoroutine(result):
                    await result
            return None
        except (Exception, TimeoutError) as error:  # the test failed: what a broken app should make it do
            return error
        finally:
            await _settle(api)
            api.reset()


async def _settle(api, patience=3.0):
    deadline = time.monotonic() + patience
    while api.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def _test_failure(error):
    return describe(error, width=88) if str(error) else f"{type(error).__name__} (with no message)"


def _excuse_timeouts(error, control, started):
    """A test that timed out against a right app while the machine stalled: not judged."""
    if isinstance(error, TimeoutError) and control.gaps.within(started, time.perf_counter()) > 0.5:
        raise Busy("your test against a right app, which timed out while the machine stalled")


async def _judge_learner_test(test, app, api, control):
    from ..exercises import NOT_WRITTEN as CELL_NOT_WRITTEN

    started = time.perf_counter()
    error = await _run_learner_test(test, capstone.reference(), api)
    _excuse_timeouts(error, control, started)
    if isinstance(error, NotImplementedError) and not _app_file(error, capstone.reference()):
        raise Fail("your test to run", "NotImplementedError: it has not been written yet", CELL_NOT_WRITTEN,
                   kind=Kind.MISSING, cause=error)
    if error is not None:
        if isinstance(error, (TypeError, AttributeError)) and "coroutine" in str(error):
            raise Fail("your test to pass against the worked answer", _test_failure(error), UNAWAITED_USED,
                       kind=Kind.UNAWAITED, cause=error)
        raise Fail("your test to pass against the worked answer", _test_failure(error), TEST_FAILS_RIGHT,
                   cause=error)
    for bug, broken in _broken_apps():
        if await _run_learner_test(test, broken, api) is None:
            raise Fail(f"your test to fail against a dashboard that {bug}", "it passed", MISSED_BUG.format(bug=bug))
    _current["app"] = app
    started = time.perf_counter()
    error = await _run_learner_test(test, app, api)
    _excuse_timeouts(error, control, started)
    if error is not None:
        raise Fail(f"your test to pass against your app ({app.where()})", _test_failure(error), YOUR_APP_FAILS,
                   cause=error)
    return True


@chapter.exercise(
    "dashboard-tests", "Write the tests: catch five broken dashboards",
    needs=["test_dashboard", "app"],
    hints=[
        "Start with the page: `response = await site.client.get(\"/dashboard/lisbon/\")`, assert its status is "
        "200 and `response.json()[\"feeds\"]` has the three services; and a city that does not exist is a 404.",
        "A failing feed: `site.api.configure(fail=\"flights\")` before the first GET of a city (the cache keeps "
        "what it fetched), assert 200 and flights None. Then `site.api.configure(fail=())` and GET again: flights "
        "is back. A late one: `site.api.configure(latency={\"hotels\": 2})` on another city.",
        "The push: `ws = site.socket(\"kyoto\")`, `await ws.connect()`, `await site.client.post("
        "\"/dashboard/kyoto/refresh/\")` (202), then `await ws.receive_json_from(timeout=3)` is the update; "
        "`await ws.disconnect()`.",
    ],
    timeout=150,
)
async def check_dashboard_tests(ctx, test_dashboard, app):
    _require_app(app)
    if not callable(test_dashboard):
        raise Fail("`test_dashboard` a function", type(test_dashboard).__name__, NOT_A_TEST)
    if not inspect.iscoroutinefunction(test_dashboard):
        raise Fail("`test_dashboard` defined with `async def`", "a plain function",
                   NOT_ASYNC.format(name="test_dashboard"))
    api = upstream()
    await ctx.call(_judge_learner_test, test_dashboard, app, api, ctx.control, what="your test", timeout=140)
    return "It passes against the worked answer and your app, and catches each of the five broken dashboards."


# --- 7. ship it: uvicorn, real clients, a performance budget ---------------------------------------------
CLIENTS = 50
ROUND_SECONDS = 1.0
BUDGET_P99 = 0.5     # seconds: the page's p99 at 50 clients, with its feeds cached
RATIO = 2.5          # how much slower than the worked answer, in the same rounds, is still on budget
_reference_server = {"server": None, "upstream": None}


async def _start(app, api, what):
    server = app.server(api, name="uvicorn")
    try:
        return await server.start()
    except (RuntimeError, TimeoutError) as exc:
        log = str(exc).strip().splitlines()
        raise Fail(f"{what} served by uvicorn", " / ".join(log[-3:]) or type(exc).__name__, SERVER_DOWN) from None


async def _reference(api):
    """The worked answer under uvicorn, kept for the kernel's life (shutdown() stops it)."""
    server = _reference_server["server"]
    if server is None or server.process is None or server.process.returncode is not None \
            or _reference_server["upstream"] != api.url:
        if server is not None:
            await server.stop()
        _reference_server["server"] = None
        try:
            server = await capstone.App(capstone.REFERENCE).server(api, name="uvicorn-reference").start()
        except (RuntimeError, TimeoutError):  # the worked answer always starts: the machine is the cause
            raise Busy("the worked answer served by uvicorn, to compare with") from None
        _reference_server.update(server=server, upstream=api.url)
    return server


async def _get(http, url):
    import aiohttp

    try:
        async with http.get(url) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, "an HTML error page" if "<html" in text else text[:120]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _server_error(server):
    """The last exception the server logged (`NotImplementedError: ...`), or ''."""
    import re

    lines = [line.strip() for line in server.log_text().splitlines()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Operation|Interrupt)\b.*", line)]
    return f"; the server logged {found[-1][:160]}" if found else ""


def _broken_page(server, what, status, data):
    shown = f"HTTP {status}: {_show(data)[:100]}" if isinstance(data, (dict, list)) else f"HTTP {status}, {data}"
    got = shown + _server_error(server)
    return Fail(what, got, PAGE_BROKEN.format(what=what.split(":")[0], got=got))


async def _drive(server, api, http):
    """The page, a 404, a failing feed and a live update, over real HTTP and a real WebSocket."""
    import aiohttp

    first, second = await _cities(2)
    status, data = await _get(http, f"{server.url}/dashboard/{first}/")
    want_trips = await run_sync(_expected_trips, first)
    want = {s: _payload(s, first) for s in SERVICES}
    if status != 200 or not isinstance(data, dict) or data.get("feeds") != want or data.get("trips") != want_trips:
        raise _broken_page(server, f"GET /dashboard/{first}/: 200 with its feeds and trips", status, data)
    nowhere = f"nowhere-{secrets.token_hex(3)}"
    status, data = await _get(http, f"{server.url}/dashboard/{nowhere}/")
    if status != 404:
        raise _broken_page(server, f"GET /dashboard/{nowhere}/: 404", status, data)
    failing = _rng().choice(SERVICES)
    api.configure(fail=failing)
    try:
        status, data = await _get(http, f"{server.url}/dashboard/{second}/")
    finally:
        api.configure(fail=())
    feeds = data.get("feeds") if isinstance(data, dict) else None
    if status != 200 or not isinstance(feeds, dict) or feeds.get(failing) is not None:
        raise _broken_page(server, f"GET /dashboard/{second}/ with {failing} down: 200, {failing} None", status,
                           data)
    ws_url = server.url.replace("http://", "ws://") + f"/ws/dashboard/{first}/"
    try:
        ws = await http.ws_connect(ws_url, headers={"Origin": server.url})
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Fail(f"a WebSocket on /ws/dashboard/{first}/", f"{type(exc).__name__}: {exc}",
                   NO_LIVE_UPDATE.format(detail="the socket was refused")) from None
    try:
        async with http.post(f"{server.url}/dashboard/{first}/refresh/") as response:
            posted = response.status
        if posted != 202:
            raise Fail(f"POST /dashboard/{first}/refresh/: 202", f"HTTP {posted}{_server_error(server)}",
                       NO_LIVE_UPDATE.format(detail=f"the refresh answered {posted}"))
        try:
            message = await ws.receive_json(timeout=2 * WAIT)
        except (TimeoutError, TypeError, ValueError) as exc:
            raise Fail("an update on the socket", f"{type(exc).__name__}",
                       NO_LIVE_UPDATE.format(detail="no update came down the socket")) from None
        if message != {"event": "update", "city": first, "feeds": want}:
            raise Fail(_show({"event": "update", "city": first, "feeds": want}), _show(message),
                       NO_LIVE_UPDATE.format(detail="the message was not the update"))
    finally:
        await ws.close()
    return first


async def _load_round(url):
    from ..load import closed_loop

    return await closed_loop(url, clients=CLIENTS, seconds=ROUND_SECONDS, timeout=10)


@chapter.exercise(
    "ship-it", "Ship it: uvicorn, real clients, a performance budget",
    needs=["app"],
    hints=[
        "Run the checks of milestones 1 to 5 first: this one serves the whole app, and each of them points at "
        "one part.",
        "If the server does not start, run it as the check does, from sandbox_project/ in a terminal: "
        "`PYTHONPATH=<the folder that holds dashboard/> DJANGO_SETTINGS_MODULE=dashboard.settings python -m "
        "uvicorn dashboard.asgi:application`.",
        "Over budget: something blocks the loop for every request (time.sleep, requests, a sync ORM call), or "
        "the feeds are not read through the cache.",
    ],
    timeout=150,
)
async def check_ship_it(ctx, app):
    import aiohttp

    _require_app(app)
    api = upstream()
    await _settle(api)
    api.reset()
    api.configure(latency=0.6)  # a page that goes to the network is far over budget; a cached one far under
    try:
        mine, reference = await asyncio.gather(_start(app, api, f"your app ({app.where()})"), _reference(api),
                                               return_exceptions=True)
        for failed in (mine, reference):
            if isinstance(failed, BaseException):
                if not isinstance(mine, BaseException):
                    await mine.stop()
                raise failed
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
                slug = await _drive(mine, api, http)
                await _get(http, f"{reference.url}/dashboard/{slug}/")  # both caches warm
            api.clear_log()
            path = f"/dashboard/{slug}/"
            best = {"mine": None, "reference": None}
            errors = {}
            for rnd in range(2):
                order = [("mine", mine), ("reference", reference)]
                for key, server in (order if rnd % 2 == 0 else order[::-1]):
                    result = await _load_round(server.url + path)
                    if key == "mine":
                        for name, n in result.errors.items():
                            errors[name] = errors.get(name, 0) + n
                    p99 = result.p(99)
                    if result.completed and (best[key] is None or p99 < best[key]):
                        best[key] = p99
            called = len([c for c in api.calls if c.city == slug])
        finally:
            await mine.stop()
    finally:
        await _settle(api)
        api.reset()
    if errors or best["mine"] is None:
        raise Fail(f"every request of {CLIENTS} clients answered", _show(errors) or "no answer at all",
                   PAGE_BROKEN.format(what=f"GET {path} under load", got=_show(errors)))
    if called > 6:
        raise Fail(f"no upstream calls for {slug} while its feeds are cached", f"{called} calls",
                   UPSTREAM_UNDER_LOAD.format(calls=called))
    mine_p99, ref_p99 = best["mine"], best["reference"] or best["mine"]
    allowed = max(BUDGET_P99, RATIO * ref_p99)
    if mine_p99 > allowed:
        if ctx.attempt == 1 and mine_p99 < 2 * allowed:  # a near miss: measured once more before judging
            raise Busy(f"p99 {mine_p99:.2f} s against {allowed:.2f} s allowed, close enough to measure again")
        raise Fail(f"p99 under {BUDGET_P99:g} s at {CLIENTS} clients (or within {RATIO:g}x the worked answer's)",
                   f"p99 {mine_p99:.2f} s (the worked answer: {ref_p99:.2f} s)",
                   OVER_BUDGET.format(mine=f"{mine_p99:.2f} s", reference=f"{ref_p99:.2f} s", ratio=RATIO,
                                      budget=f"{BUDGET_P99:g} s"))
    return (f"Served by uvicorn: the page, a 404, a failing feed and a live update over a real WebSocket, and "
            f"{CLIENTS} clients within the performance budget.")
