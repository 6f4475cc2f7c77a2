"""Chapter 05: the async ORM."""
import asyncio
import contextlib
import datetime
import dis
import os
import random
import secrets
import sys
import sysconfig
import time
from decimal import Decimal

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from ..exercises import RAISED, UNAWAITED_USED, UNSAFE_FLAG, WRONG_ARGS, Busy, Chapter, Fail, Kind
from .common import find, on_a_loop, reject_unawaited, require_async, require_callable

chapter = Chapter("05", "The async ORM")

# --- nudges: why learner code raised (the chapter's explainer) ------------------------------
LAZY_FK = chapter.nudge(
    "W001", "a foreign key read lazily",
    "`trip.city` (a foreign key not fetched yet) runs a query the moment you read it: a sync query, on the "
    "event loop's thread. Fetch it with the trips: `.select_related('city')` on the QuerySet.")
LAZY_SET = chapter.nudge(
    "W002", "related rows read lazily",
    "`trip.bookings.all()` (a reverse relation) is a new QuerySet per trip, evaluated here on the event loop's "
    "thread. Fetch all the trips' bookings up front: `.prefetch_related('bookings')` on the QuerySet (or `await "
    "aprefetch_related_objects(trips, 'bookings')` on trips you already have).")
EVALUATED = chapter.nudge(
    "W003", "a QuerySet evaluated in async code",
    "A QuerySet was evaluated on the event loop's thread (a plain `for`, list(), len(), bool() or indexing). In "
    "async code iterate it with `async for` (`[x async for x in qs]`). If it came back from a function run by "
    "sync_to_async, that function returned it lazy: make it return list(...) instead.")
SYNC_CALL = chapter.nudge(
    "W004", "a sync ORM method in async code",
    "A sync ORM method (get, count, first, exists, save, update, ...) ran in async code. Use its a-twin and "
    "await it: aget, acount, afirst, aexists, asave, aupdate, ...")
AWAITED = chapter.nudge(
    "W005", "something awaited that cannot be",
    "Only coroutines (async functions, the ORM's a-methods) can be awaited. A QuerySet cannot: `await "
    "qs.values()` or `await trip.bookings.all()` fails. Iterate it (`[row async for row in qs.values()]`) or await "
    "an a-method (afirst(), acount(), aget()).")
ATOMIC = chapter.nudge(
    "W006", "transaction.atomic in async code",
    "transaction.atomic() cannot be used in async code (not as `with`, not as `async with`, not as a decorator "
    "on an async def): it works on the connection of the calling thread. Put the whole transfer in one plain "
    "`def` decorated with @transaction.atomic, and call it with `await sync_to_async(that_function)(...)`.")
PAGINATOR = chapter.nudge(
    "W007", "the sync Paginator",
    "The sync Paginator counts and slices with the sync ORM. Use django.core.paginator.AsyncPaginator and await "
    "its methods (aget_page, anum_pages, ...).")
NOT_FETCHED = chapter.nudge(
    "W008", "the page used before aget_object_list()",
    "An AsyncPage holds no rows until you `await page.aget_object_list()`: use the list it returns (after that "
    "call, len(), indexing and a plain for work on the page too).")
ASYNC_API = chapter.nudge(
    "W009", "a sync attribute of AsyncPaginator or AsyncPage",
    "{cls} has no `{name}`: AsyncPaginator and AsyncPage have awaited methods instead of the sync properties: "
    "`await paginator.anum_pages()`, `await paginator.acount()`, `await page.ahas_next()`, "
    "`await page.aget_object_list()`.")
APAGE = chapter.nudge(
    "W010", "apage() raised for a page number",
    "apage() raises for a page number that is not a number (or None) or out of range. aget_page() clamps it "
    "like Paginator.get_page(): page 1 for rubbish, the last page for too large.")
QUERYSET_OUT = chapter.nudge(
    "W011", "a QuerySet in the result",
    "A QuerySet is lazy: whoever touches it later runs its SQL, on the event loop's thread. Evaluate it where you "
    "fetch it: `[x async for x in qs]`, or list(qs) inside the function you wrap in sync_to_async.")

# --- dashboard ------------------------------------------------------------------------------
NOT_A_LIST = chapter.nudge("W020", "not a list of dicts",
                           "Return a list with one dict per trip, like dashboard_sync does.")
DASH_KEYS = chapter.nudge("W021", "other keys",
                          "Each trip's dict has exactly the keys title, city, bookings and total.")
DASH_TRIPS = chapter.nudge("W022", "not this user's trips",
                           "List the trips whose owner has that username: filter(owner__username=username), and "
                           "nothing written into the code: the check makes a user of its own.")
DASH_ORDER = chapter.nudge("W023", "another order",
                           "Keep the QuerySet's own ordering (trips by start date, bookings as the relation "
                           "gives them): no order_by() or sorting of your own.")
DASH_VALUES = chapter.nudge("W024", "values differ",
                            "Check {keys}: city is the city's name, bookings the bookings' references, total the "
                            "sum of their amounts.")
N_PLUS_ONE_ASYNC = chapter.nudge(
    "W025", "N+1 queries from async code",
    "A query per trip: an `async for` (or an a-method such as acount() or aaggregate()) over each trip's bookings "
    "runs one query per trip. Fetch all the bookings at once: `.prefetch_related('bookings')` on the trips' "
    "QuerySet (or `await aprefetch_related_objects(trips, 'bookings')`).")
N_PLUS_ONE_SYNC = chapter.nudge(
    "W026", "N+1 queries inside sync_to_async",
    "No error, because the sync code runs on a worker thread, but it reads trip.city and trip.bookings lazily: a "
    "query per trip. Add .select_related('city') and .prefetch_related('bookings') to the QuerySet it iterates.")

# --- transfer -------------------------------------------------------------------------------
NOT_MOVED = chapter.nudge("W030", "nothing moved",
                          "Nothing changed: is every coroutine awaited (sync_to_async(f) gives a function whose "
                          "call you must await), and does it update the bookings with these references?")
WRONG_AMOUNTS = chapter.nudge("W031", "wrong amounts",
                              "Subtract the amount from the source and add it to the target (in that direction), "
                              "once each.")
NOT_ATOMIC = chapter.nudge(
    "W032", "not one transaction",
    "One update stayed although the other failed: the two updates are not one transaction. Each a-method (and "
    "each sync call without atomic) commits on its own. Put both updates in one @transaction.atomic sync function "
    "and call it once with sync_to_async.")
SWALLOWED = chapter.nudge("W033", "the error swallowed",
                          "Do not swallow the exception: the caller must know the money did not move. Let it "
                          "propagate (or raise your own error from it).")
POOL_THREAD = chapter.nudge(
    "W034", "a database connection left open on a pool thread",
    "The transfer ran on a pool thread (thread_sensitive=False, asyncio.to_thread or run_in_executor) and left "
    "its database connection open there: Django closes connections at the end of a request only on the "
    "request's own thread, so every pool thread keeps one open for good. Keep sync_to_async's default "
    "(thread_sensitive=True).")

# --- paginate -------------------------------------------------------------------------------
PAGE_SHAPE = chapter.nudge("W040", "not the page's dict",
                           "Return a dict with the keys page, num_pages, has_next and trips.")
PAGE_NUMBER = chapter.nudge("W041", "another page number",
                            "aget_page() clamps the number: page 1 for rubbish or None, the last page when too "
                            "large. page.number is the page you got.")
PAGE_TRIPS = chapter.nudge("W042", "other trips on the page",
                           "Each entry reads 'Title (City)', in the QuerySet's own order (by start date), per_page "
                           "trips a page.")
PAGE_TOTALS = chapter.nudge("W043", "num_pages or has_next differ",
                            "`await paginator.anum_pages()` and `await page.ahas_next()` give them, for this "
                            "per_page.")

# --- parallel -------------------------------------------------------------------------------
PAIR = chapter.nudge("W050", "not (wall seconds, True or False)",
                     "Return a pair: the wall time in seconds (a number) and the verdict (a bool): "
                     "`return wall, parallel`.")
CLOCK_EARLY = chapter.nudge("W051", "the clock stopped before the queries finished",
                            "Your clock stopped before the queries finished: `await run_queries()` between the two "
                            "readings of time.perf_counter().")
UNITS = chapter.nudge("W052", "not seconds",
                      "That wall time is longer than the whole call took: it is not in seconds. A difference of "
                      "time.perf_counter() readings is already in seconds (do not multiply by 1000, and do not mix "
                      "perf_counter_ns or time.time with it).")
ONE_RUN = chapter.nudge("W053", "not the time of one run",
                        "That wall time is longer than any one run of run_queries() took: time exactly one "
                        "`await run_queries()` (a warm-up run before it is fine, but not inside the measurement).")
ASSUMED = chapter.nudge("W054", "the same verdict whatever was measured",
                        "Your function said {verdict} for every way of running the queries, but {truth}. Decide "
                        "from the measurement: compare the wall time with one query (`seconds`) and with all of "
                        "them one after another (`n * seconds`).")
THRESHOLD = chapter.nudge("W055", "a fixed threshold",
                          "Some verdicts are wrong (under Got). A fixed number of seconds cannot separate the "
                          "two outcomes for every n and seconds: compare the wall time with `seconds` (all at "
                          "once) and with `n * seconds` (one after another), e.g. against their midpoint.")


# --- reading learner errors (tracebacks and frames, not messages) ----------------------------
def _frames(exc):
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    return frames


def _file(module):
    return os.path.normcase(os.path.abspath(module.__file__))


def _instruction(tb):
    """The opcode name the traceback entry stopped at."""
    for ins in dis.get_instructions(tb.tb_frame.f_code):
        if ins.offset == tb.tb_lasti:
            return ins.opname
    return ""


@chapter.explainer
def explain(exc, what):
    """Chapter 05's reading of an error: which ORM or paginator misuse raised it, from its type and frames."""
    from django.core.exceptions import SynchronousOnlyOperation
    from django.core.paginator import AsyncPage, AsyncPaginator, EmptyPage, Page, PageNotAnInteger, Paginator
    from django.db import transaction
    from django.db.models import Manager
    from django.db.models.fields import related_descriptors
    from django.db.models.query import QuerySet
    import django

    from ..errors import describe

    def fail(nudge):
        return Fail(f"{what} to run without an error", describe(exc, width=88), nudge, kind=Kind.ERROR, cause=exc)

    entries = _frames(exc)
    files = [os.path.normcase(os.path.abspath(tb.tb_frame.f_code.co_filename)) for tb in entries]
    selves = [tb.tb_frame.f_locals.get("self") for tb in entries]
    if isinstance(exc, SynchronousOnlyOperation):
        if _file(transaction) in files:
            return fail(ATOMIC)
        if any(isinstance(s, (Paginator, Page)) for s in selves):
            return fail(PAGINATOR)
        if _file(related_descriptors) in files:
            return fail(LAZY_FK)
        if any(isinstance(s, QuerySet) and s._hints.get("instance") is not None for s in selves) or any(
                isinstance(s, Manager) and getattr(s, "instance", None) is not None for s in selves):
            return fail(LAZY_SET)
        root = os.path.dirname(_file(django)) + os.sep
        first = next((tb for tb, name in zip(entries, files) if name.startswith(root)), None)
        if first is not None and isinstance(first.tb_frame.f_locals.get("self"), QuerySet) \
                and first.tb_frame.f_code.co_name in ("__iter__", "__len__", "__bool__", "__getitem__"):
            return fail(EVALUATED)
        return fail(SYNC_CALL)
    if isinstance(exc, (EmptyPage, PageNotAnInteger)):
        return fail(APAGE)
    if isinstance(exc, AttributeError) and isinstance(getattr(exc, "obj", None), (AsyncPaginator, AsyncPage)):
        return fail(ASYNC_API.format(cls=type(exc.obj).__name__, name=exc.name))
    if isinstance(exc, TypeError) and entries:
        if isinstance(selves[-1], AsyncPage):  # len(), indexing or a plain for on an unfetched page
            return fail(NOT_FETCHED)
        last = entries[-1]
        opname = _instruction(last)
        if opname == "GET_AWAITABLE":
            return fail(AWAITED)
        if opname in ("BEFORE_ASYNC_WITH", "LOAD_SPECIAL") and "atomic" in last.tb_frame.f_code.co_names:
            return fail(ATOMIC)
    return None


def _require_async(fn, name):
    """An async def; @transaction.atomic on one (a plain function wrapping it) gets its own nudge."""
    import inspect

    from django.db.transaction import Atomic

    require_callable(fn, name)
    if not inspect.iscoroutinefunction(fn) and inspect.iscoroutinefunction(getattr(fn, "__wrapped__", None)):
        cells = []
        for cell in getattr(fn, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                cells.append(cell.cell_contents)
        if any(isinstance(value, Atomic) for value in cells):  # the wrapper ContextDecorator made
            raise Fail(f"`{name}` to stay an `async def` function", "@transaction.atomic turned it into a plain "
                       "function", ATOMIC)
    require_async(fn, name)


def _reject_lazy(value, what):
    """No coroutine (a missing await) and no QuerySet (unevaluated SQL) inside a result."""
    from django.db.models.query import QuerySet

    reject_unawaited(value, what)
    if find(value, lambda v: isinstance(v, QuerySet)) is not None:
        raise Fail(f"{what} to return evaluated data (lists, dicts, strings, numbers)", "a QuerySet inside the result",
                   QUERYSET_OUT)


def _rng():
    return random.Random(secrets.randbits(64))


def _forget_earlier_answers():
    """Collect what earlier (failed) checks left for the garbage collector, quietly: a coroutine that a wrong
    answer never awaited, kept alive by its traceback, must not be reported as this answer's."""
    import gc
    import logging
    import warnings

    logger = logging.getLogger("asyncio")
    disabled, logger.disabled = logger.disabled, True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gc.collect()
    finally:
        logger.disabled = disabled


# --- counting queries on every thread ----------------------------------------------------------
def _outside_learner_code():
    import coursekit

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sysconfig.get_paths()["stdlib"],
            os.path.dirname(coursekit.__file__)}
    with contextlib.suppress(Exception):
        import trips

        dirs.add(os.path.dirname(os.path.dirname(trips.__file__)))
    return tuple(os.path.normcase(os.path.abspath(d)) + os.sep for d in dirs)


def _learner_frame_on_stack(skip):
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen") and not os.path.normcase(os.path.abspath(name)).startswith(skip):
            return True
        frame = frame.f_back
    return False


class _QueryCounter:
    """Count the SQL statements Django runs, on any thread, inside a with block; note for each whether
    learner code (a sync function run by sync_to_async) was on the stack when it ran, and whether it ran on
    a thread that runs an event loop (only possible with Django's guard switched off)."""

    def __enter__(self):
        import logging

        from django.test.utils import override_settings

        skip = _outside_learner_code()
        self.statements = []
        self.on_loop = 0
        outer = self

        class Collect(logging.Handler):
            def emit(self, record):
                sql = getattr(record, "sql", None)
                if sql and not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
                    outer.statements.append((sql, _learner_frame_on_stack(skip)))
                    outer.on_loop += on_a_loop()

        self._logger = logging.getLogger("django.db.backends")
        self._handler = Collect(level=logging.DEBUG)
        self._saved = self._logger.level, self._logger.propagate, self._logger.handlers
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False
        self._logger.handlers = [self._handler]  # nothing printed under the cell meanwhile
        self._debug = override_settings(DEBUG=True)   # Django logs each query when DEBUG is on
        self._debug.enable()
        return self

    def __exit__(self, *exc):
        self._debug.disable()
        self._logger.setLevel(self._saved[0])
        self._logger.propagate, self._logger.handlers = self._saved[1:]
        return False

    @property
    def from_sync_code(self):
        return any(learner for _, learner in self.statements)

    def reject_guard_off(self, what):
        """Queries ran on the event loop's own thread: DJANGO_ALLOW_ASYNC_UNSAFE was on while they ran (even
        if it is gone now)."""
        if self.on_loop:
            raise Fail(f"{what} to leave Django's async-safety guard on", f"{self.on_loop} queries ran on the "
                       "event loop's own thread: DJANGO_ALLOW_ASYNC_UNSAFE was set while they ran", UNSAFE_FLAG)


# --- 1. a dashboard on the async ORM -------------------------------------------------------
def _dashboard_expected(username):
    from trips.models import Trip

    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum((b.amount for b in t.bookings.all()), Decimal(0))} for t in trips]


def transaction_atomic(fn):
    """@transaction.atomic, imported when called (Django is set up by then): one commit, not one per row."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from django.db import transaction

        with transaction.atomic():
            return fn(*args, **kwargs)
    return wrapper


PREFIX = "ck05-"
TITLES = ["Night trains", "Markets at dawn", "Old town walks", "Rooftops", "Harbour days", "Slow week",
          "Food trail", "Museum run", "Islands", "Hills and cafes"]


@transaction_atomic
def _make_user(rng):
    """A user of the check's own: 3-5 trips whose order (start date) is not the order they were created in,
    bookings whose references are not in alphabetical order, and one trip without bookings."""
    from django.contrib.auth import get_user_model

    from trips.models import Booking, City, Trip

    _drop_users()
    username = PREFIX + secrets.token_hex(4)
    user = get_user_model().objects.create_user(username, f"{username}@example.com", None)
    n = rng.randint(3, 5)
    days = rng.sample(range(1, 300), n)
    while days == sorted(days):  # created in another order than their start dates
        rng.shuffle(days)
    titles = rng.sample(TITLES, n)
    by_date = [title for _, title in sorted(zip(days, titles))]
    while by_date == sorted(by_date):  # and their titles, by start date, not in alphabetical order
        rng.shuffle(titles)
        by_date = [title for _, title in sorted(zip(days, titles))]
    cities = list(City.objects.all())
    counts = [rng.randint(1, 3) for _ in range(n)]
    counts[rng.randrange(n)] = 0
    counts[next(i for i, c in enumerate(counts) if c == 0) - 1] = 3  # one trip with three bookings
    for i in range(n):
        trip = Trip.objects.create(owner=user, city=rng.choice(cities), title=f"{titles[i]} {rng.randint(2, 99)}",
                                   starts_on=datetime.date(2028, 1, 1) + datetime.timedelta(days=days[i]),
                                   ends_on=datetime.date(2028, 1, 1) + datetime.timedelta(days=days[i] + 3))
        refs = sorted(f"CK{secrets.token_hex(4).upper()}" for _ in range(counts[i]))[::-1]  # descending
        for ref in refs:
            Booking.objects.create(trip=trip, kind=rng.choice(["flight", "hotel"]), reference=ref,
                                   amount=Decimal(rng.randint(20, 900)) + Decimal(rng.choice([0, 25, 50])) / 100)
    return username


@transaction_atomic
def _drop_users():
    from django.contrib.auth import get_user_model

    from trips.models import Trip

    Trip.objects.filter(owner__username__startswith=PREFIX).delete()
    get_user_model().objects.filter(username__startswith=PREFIX).delete()


@contextlib.asynccontextmanager
async def _dashboard_user(rng):
    username = await sync_to_async(_make_user)(rng)
    try:
        yield username
    finally:
        await sync_to_async(_drop_users)()


def _listed(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _judge_dashboard(username, got, want):
    what = f"`dashboard({username!r})`"
    if not isinstance(got, (list, tuple)) or not all(isinstance(g, dict) for g in got):
        raise Fail("a list of dicts, one per trip", f"{type(got).__name__}: {got!r}", NOT_A_LIST)
    keys = {"title", "city", "bookings", "total"}
    for g in got:
        if set(g) != keys:
            raise Fail(f"dicts with the keys {sorted(keys)}", f"{sorted(g)}", DASH_KEYS)
    titles, want_titles = [g["title"] for g in got], [w["title"] for w in want]
    if sorted(map(str, titles)) != sorted(want_titles):
        raise Fail(f"{what}: {len(want)} trips {want_titles}", f"{len(got)} trips {titles}", DASH_TRIPS)
    by_title = {g["title"]: g for g in got}
    for w in want:
        g = by_title[w["title"]]
        wrong = sorted(k for k in ("city", "total") if g[k] != w[k])
        if _listed(g["bookings"]) != w["bookings"]:
            if sorted(map(str, _listed(g["bookings"]) or [])) == sorted(w["bookings"]):
                raise Fail(f"{w['title']}: bookings {w['bookings']}", f"{g['bookings']}", DASH_ORDER)
            wrong.append("bookings")
        if wrong:
            raise Fail(f"{w}", f"{g}", DASH_VALUES.format(keys=", ".join(sorted(wrong))))
    if titles != want_titles:
        raise Fail(f"{what}: trips in the order {want_titles}", f"{titles}", DASH_ORDER)


@chapter.exercise(
    "dashboard", "A dashboard on the async ORM, without lazy access",
    needs=["dashboard"],
    hints=[
        "Start from `[... async for trip in Trip.objects.filter(owner__username=username)]` and see what breaks: "
        "trip.city and trip.bookings.all() are lazy.",
        "Add .select_related('city') and .prefetch_related('bookings') to the QuerySet before iterating: after that, "
        "trip.city.name and trip.bookings.all() read from memory, no query, no error.",
        "trips = Trip.objects.filter(owner__username=username).select_related('city').prefetch_related('bookings'); "
        "return [{'title': t.title, 'city': t.city.name, 'bookings': [b.reference for b in t.bookings.all()], "
        "'total': sum(b.amount for b in t.bookings.all())} async for t in trips]",
    ],
)
async def check_dashboard(ctx, dashboard):
    _require_async(dashboard, "dashboard")
    _forget_earlier_answers()
    rng = _rng()
    async with _dashboard_user(rng) as username:
        nobody = PREFIX + "nobody-" + secrets.token_hex(3)
        for user in (username, "alice", nobody):
            want = await sync_to_async(_dashboard_expected)(user)
            what = f"`dashboard({user!r})`"
            with _QueryCounter() as queries:
                got = await ctx.call(dashboard, user, what=what, allow_block=0.25)
            queries.reject_guard_off(what)
            _reject_lazy(got, what)
            _judge_dashboard(user, got, want)
            count = len(queries.statements)
            if count > 3:
                raise Fail(f"at most 3 queries for {user}'s {len(want)} trips (the trips with their city, then all "
                           "their bookings)", f"{count} queries",
                           N_PLUS_ONE_SYNC if queries.from_sync_code else N_PLUS_ONE_ASYNC)
    return "Relations fetched up front: two queries, whatever the number of trips, and no lazy access."


# --- 2. an atomic transfer from async code -----------------------------------------------------
TRIGGER = "coursekit_ch05_forced_failure"
TRANSFER_TITLE = "Exercise 05 transfer"


def _accounts_up(source, target, source_amount, target_amount):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from trips.models import Booking, City, Trip

    _accounts_down()
    trip = Trip.objects.create(owner=get_user_model().objects.get(username="alice"),
                               city=City.objects.get(slug="oslo"), title=TRANSFER_TITLE,
                               starts_on=datetime.date(2027, 12, 1), ends_on=datetime.date(2027, 12, 3))
    Booking.objects.create(trip=trip, kind="flight", reference=source, amount=source_amount)
    Booking.objects.create(trip=trip, kind="hotel", reference=target, amount=target_amount)
    connection.close()


def _accounts_down():
    from django.db import connection

    from trips.models import Trip

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    Trip.objects.filter(title=TRANSFER_TITLE).delete()
    connection.close()


def _force_failure(reference, on):
    """Make every update of this booking's amount fail inside the database (a trigger), or stop doing so."""
    from django.db import connection

    with connection.cursor() as cursor:
        if on:
            cursor.execute(f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF amount ON trips_booking "
                           f"WHEN NEW.reference = '{reference}' "
                           "BEGIN SELECT RAISE(ABORT, 'forced failure: the check made this update fail'); END")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    connection.close()


def _balances(source, target):
    from django.db import connection

    from trips.models import Booking

    amounts = dict(Booking.objects.filter(reference__in=(source, target)).values_list("reference", "amount"))
    connection.close()
    return amounts.get(source), amounts.get(target)


@contextlib.contextmanager
def _connections_opened():
    """The Django connections opened (on any thread) inside the block."""
    from django.db.backends.signals import connection_created

    opened = []
    uid = f"coursekit.ch05.{id(opened)}"

    def note(sender, connection, **kwargs):
        opened.append(connection)

    connection_created.connect(note, weak=False, dispatch_uid=uid)
    try:
        yield opened
    finally:
        connection_created.disconnect(dispatch_uid=uid)


def _close_leaked(wrappers):
    """Close connections that their (pool) threads left open; say how many there were."""
    leaked = [w for w in wrappers if w.connection is not None]
    for wrapper in leaked:
        with contextlib.suppress(Exception):
            wrapper.inc_thread_sharing()
            wrapper.close()
        with contextlib.suppress(Exception):
            wrapper.connection = None
    return len(leaked)


async def _attempt(ctx, transfer, source, target, amount, *, may_fail):
    """Call transfer() the way an async view would (in a request's thread-sensitive context, connections closed
    at its end). Returns (the Fail it raised or None, balances after, connections it left open)."""
    from django.db import connections

    async def as_a_request():
        async with ThreadSensitiveContext():
            try:
                return await transfer(source, target, amount)
            finally:  # what Django's request_finished does: close this request's connections
                await sync_to_async(connections.close_all)()

    what = f"`transfer({source!r}, {target!r}, Decimal('{amount}'))`"
    as_a_request.__name__ = "transfer"
    error = None
    with _connections_opened() as opened, _QueryCounter() as queries:
        try:
            value = await ctx.call(as_a_request, what=what, allow_block=0.25)
            reject_unawaited(value, what)
        except Fail as fail:
            # Any exception of the learner's own choosing may tell the caller that the money did not move;
            # what is not accepted is a bug in the code (a name error, a sync call in async code, ...).
            if not may_fail or fail.kind is not Kind.ERROR or fail.nudge not in (RAISED, WRONG_ARGS):
                _close_leaked(opened)
                raise
            error = fail
    leaked = _close_leaked(opened)
    queries.reject_guard_off(what)
    return error, await sync_to_async(_balances)(source, target), leaked


def _fmt(source, target, balances):
    return f"{source} {balances[0]}, {target} {balances[1]}"


@chapter.exercise(
    "transfer", "An atomic transfer between two bookings, from async code",
    needs=["transfer"],
    hints=[
        "Two a-methods one after another are two transactions: if the second fails, the first stays. And "
        "transaction.atomic() refuses to run in async code.",
        "Write a plain `def` that does both updates and decorate it with @transaction.atomic. The async "
        "`transfer` only calls it: `await sync_to_async(move)(source, target, amount)`.",
        "Inside the sync function: Booking.objects.filter(reference=source).update(amount=F('amount') - amount) "
        "and the same with + for the target. Let errors propagate: no try/except.",
    ],
    timeout=15,
)
async def check_transfer(ctx, transfer):
    _require_async(transfer, "transfer")
    _forget_earlier_answers()
    rng = _rng()
    source, target = f"CK5S{secrets.token_hex(3).upper()}", f"CK5T{secrets.token_hex(3).upper()}"
    balance = (Decimal(rng.randint(120, 300)), Decimal(rng.randint(20, 90)))
    await sync_to_async(_accounts_up)(source, target, *balance)
    try:
        # 1. A transfer that works.
        amount = Decimal(rng.randint(5, int(balance[1]) - 5))  # less than either holds
        error, after, leaked = await _attempt(ctx, transfer, source, target, amount, may_fail=False)
        if leaked:
            raise Fail("the transfer's database connection closed with the request",
                       f"{leaked} connection(s) left open on a pool thread", POOL_THREAD)
        if after == balance:
            raise Fail(f"{amount} moved: {_fmt(source, target, (balance[0] - amount, balance[1] + amount))}",
                       _fmt(source, target, after), NOT_MOVED)
        balance, want = (balance[0] - amount, balance[1] + amount), balance
        ctx.expect(after == balance, expected=f"{amount} moved: {_fmt(source, target, balance)}",
                   got=_fmt(source, target, after) + f" (before: {_fmt(source, target, want)})", nudge=WRONG_AMOUNTS)
        # 2. The source cannot cover it: the CHECK constraint (amount >= 0) fails on the debit.
        amount = balance[0] + rng.randint(1, 200)
        error, after, leaked = await _attempt(ctx, transfer, source, target, amount, may_fail=True)
        if after != balance:
            raise Fail(f"a failed transfer of {amount} (the source has {balance[0]}) to change nothing: "
                       f"{_fmt(source, target, balance)}", _fmt(source, target, after), NOT_ATOMIC)
        ctx.expect(error is not None, expected=f"the error of a failed transfer of {amount} to reach the caller",
                   got="transfer() returned normally; the transfer did not happen", nudge=SWALLOWED)
        # 3 and 4. A forced failure of the credit, then of the debit (a trigger the check adds fails that
        # update inside the database): whichever update comes first, the other one fails after it.
        for failing, step in ((target, "credit"), (source, "debit")):
            amount = Decimal(rng.randint(1, 9))
            await sync_to_async(_force_failure)(failing, True)
            try:
                error, after, leaked = await _attempt(ctx, transfer, source, target, amount, may_fail=True)
            finally:
                await sync_to_async(_force_failure)(failing, False)
            if after != balance:
                raise Fail(f"a transfer whose {step} fails (the check made it fail) to change nothing: "
                           f"{_fmt(source, target, balance)}", _fmt(source, target, after), NOT_ATOMIC)
            ctx.expect(error is not None, expected=f"the error of a failed transfer (its {step} failed) to reach "
                       "the caller", got="transfer() returned normally; the transfer did not happen", nudge=SWALLOWED)
    finally:
        await sync_to_async(_accounts_down)()
    return "All or nothing, whichever step fails: one transaction on one thread, reached with one hop."


# --- 3. AsyncPaginator -----------------------------------------------------------------------
def _page_expected(number, per_page):
    from django.core.paginator import Paginator

    from trips.models import Trip

    paginator = Paginator(Trip.objects.select_related("city"), per_page)
    page = paginator.get_page(number)
    return {"page": page.number, "num_pages": paginator.num_pages, "has_next": page.has_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page]}


DEFAULT = object()  # call trip_page(number) alone: per_page's default (2)


def _page_cases(rng, count):
    """(number, per_page) pairs: a valid page, the default per_page, then the numbers aget_page() clamps."""
    def pages(per_page):
        return max(1, -(-count // per_page))

    sizes = rng.sample([1, 3, 4, 5], 4) + [rng.choice([1, 3, 4])] * 2
    cases = [(rng.randint(min(2, pages(sizes[0])), pages(sizes[0])), sizes[0]),
             (str(rng.randint(1, pages(2))), DEFAULT)]
    clamped = [(str(rng.randint(1, pages(sizes[1]))), sizes[1]),
               (rng.choice([str, int])(pages(sizes[2]) + rng.randint(1, 90)), sizes[2]),
               (rng.choice(["abc", "", "two", "1.5", "x7"]), sizes[3]),
               (None, sizes[4])]
    rng.shuffle(clamped)
    return cases + clamped


@chapter.exercise(
    "paginate", "Paginate trips with AsyncPaginator",
    needs=["trip_page"],
    hints=[
        "paginator = AsyncPaginator(Trip.objects.select_related('city'), per_page); "
        "page = await paginator.aget_page(number)",
        "The page's rows: `await page.aget_object_list()`. The totals: `await paginator.anum_pages()`, "
        "`await page.ahas_next()`.",
        "Without select_related('city'), t.city.name is a lazy query on the loop's thread. "
        "aget_page (not apage) turns '99' or 'abc' into a valid page.",
    ],
)
async def check_paginate(ctx, trip_page):
    from trips.models import Trip

    _require_async(trip_page, "trip_page")
    _forget_earlier_answers()
    rng = _rng()
    for number, per_page in _page_cases(rng, await Trip.objects.acount()):
        want = await sync_to_async(_page_expected)(number, 2 if per_page is DEFAULT else per_page)
        args = (number,) if per_page is DEFAULT else (number, per_page)
        what = f"`trip_page({', '.join(map(repr, args))})`"
        with _QueryCounter() as queries:
            got = await ctx.call(trip_page, *args, what=what, allow_block=0.25)
        queries.reject_guard_off(what)
        _reject_lazy(got, what)
        if not isinstance(got, dict) or set(got) != set(want):
            raise Fail(f"a dict with the keys {sorted(want)}",
                       f"{sorted(got) if isinstance(got, dict) else repr(got)}", PAGE_SHAPE)
        if got["page"] != want["page"]:
            raise Fail(f"{what}: page {want['page']}", f"page {got['page']!r}", PAGE_NUMBER)
        if _listed(got["trips"]) != want["trips"]:
            raise Fail(f"{what}: trips {want['trips']}", f"{got['trips']!r}", PAGE_TRIPS)
        if (got["num_pages"], got["has_next"]) != (want["num_pages"], want["has_next"]):
            raise Fail(f"{what}: num_pages {want['num_pages']}, has_next {want['has_next']}",
                       f"num_pages {got['num_pages']!r}, has_next {got['has_next']!r}", PAGE_TOTALS)
    return "Counting and slicing both awaited: AsyncPaginator keeps every query off the event loop's thread."


# --- 4. does this gather run in parallel? Measure it --------------------------------------------
def _nap_and_close(seconds):
    from django.db import connections

    from trips import slowdb

    try:
        return slowdb.nap(seconds)
    finally:
        connections.close_all()


def _variants(rng):
    """Four ways to run n slow queries, with random n and seconds. Every serial run is shorter than every
    parallel one (about 0.1-0.25 s against 0.22 s and more), so no fixed threshold separates them all."""
    from trips import slowdb

    from ..asgi import fresh_handler, request

    async def a_methods(n, s):                        # one context: the a-methods share one thread
        await asyncio.gather(*(slowdb.anap(s) for _ in range(n)))

    async def pool_threads(n, s):                     # thread_sensitive=False: a pool thread each
        await asyncio.gather(*(sync_to_async(_nap_and_close, thread_sensitive=False)(s) for _ in range(n)))

    async def separate_requests(n, s):                # a request each: a thread each
        app = fresh_handler()
        await asyncio.gather(*(request(app, f"/orm/slow/?s={s}") for _ in range(n)))

    async def one_request(n, s):                      # gather inside one view
        await request(fresh_handler(), f"/orm/slow/gather/?s={s}&n={n}")

    def ms(low, high):
        return rng.randint(low, high) / 1000

    serial = [("a gather of a-methods in one task", a_methods), ("a gather inside one request", one_request)]
    rng.shuffle(serial)
    cases = [(*serial[0], 3, ms(35, 45), False),
             (*serial[1], rng.choice([3, 4]), ms(45, 60), False),
             ("a gather of sync_to_async(..., thread_sensitive=False) calls", pool_threads, rng.choice([3, 4, 5]),
              ms(220, 280), True),
             ("separate requests, sent at once", separate_requests, rng.choice([3, 4]), ms(220, 280), True)]
    rng.shuffle(cases)
    return cases


def _ensure_slowdb():
    from django.db import connection

    from trips import slowdb

    slowdb.install()
    if connection.connection is not None:  # opened before install(): add the functions now
        slowdb.add_to(connection)


@chapter.exercise(
    "parallel", "Does this gather run in parallel? Measure it",
    needs=["runs_in_parallel"],
    hints=[
        "Time it: start = time.perf_counter(); await run_queries(); wall = time.perf_counter() - start.",
        "Compare the wall time with the two possible outcomes: about `seconds` (all n at once) or about "
        "`n * seconds` (one after another). A fixed number of seconds cannot work for every n and seconds.",
        "parallel = wall < (seconds + n * seconds) / 2; return wall, parallel",
    ],
    timeout=20,
)
async def check_parallel(ctx, runs_in_parallel):
    require_async(runs_in_parallel, "runs_in_parallel")
    _forget_earlier_answers()
    await sync_to_async(_ensure_slowdb)()
    results, wrong, unsure = [], [], []
    for label, variant, n, seconds, parallel in _variants(_rng()):
        runs = []  # (start, end) of every run of run_queries that finished

        async def run_queries(variant=variant, n=n, seconds=seconds, runs=runs):
            started = time.perf_counter()
            await variant(n, seconds)
            runs.append((started, time.perf_counter()))

        what = f"`runs_in_parallel(run_queries, {n}, {seconds:g})`"
        started = time.perf_counter()
        got = await ctx.call(runs_in_parallel, run_queries, n, seconds, what=what)
        elapsed = time.perf_counter() - started
        reject_unawaited(got, what)
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], (int, float))
                and not isinstance(got[0], bool) and isinstance(got[1], bool)):
            raise Fail("a pair: (wall seconds, True or False)", repr(got), PAIR)
        wall, verdict = got
        if not runs:
            raise Fail(f"{what} to await run_queries()", "run_queries() never ran to the end", UNAWAITED_USED,
                       kind=Kind.UNAWAITED)
        shortest = seconds if parallel else n * seconds  # the queries sleep this long inside the database
        if wall < 0.8 * shortest:
            raise Fail(f"a wall time of at least {shortest:g} s for {label}", f"{wall:.3f} s", CLOCK_EARLY)
        if wall > elapsed + 0.05:
            raise Fail(f"a wall time in seconds (the whole call took {elapsed:.2f} s)", f"{wall:g}", UNITS)
        longest = max(end - start for start, end in runs)
        if wall > longest + 0.5 * shortest:
            # More than one run's time. Only a stall outside every run (in the code around the one it timed)
            # could stretch one measured run that far: the machine's stalls there are the only excuse.
            gaps = ctx.control.gaps
            outside = gaps.within(started, started + elapsed) - sum(gaps.within(a, b) for a, b in runs)
            if wall - outside > longest + 0.5 * shortest:
                raise Fail(f"the wall time of one run of run_queries() (the longest took {longest:.2f} s)",
                           f"{wall:.2f} s", ONE_RUN)
            raise Busy(f"the wall time of one run ({wall:.2f} s against runs of at most {longest:.2f} s, with the "
                       f"machine stalled {outside:.2f} s meanwhile)")
        results.append((label, n, seconds, parallel, verdict))
        if verdict != parallel:
            # A parallel run that came out slow (a busy machine) may fairly look serial: not a verdict.
            if parallel and wall > 1.2 * seconds + 0.01:
                unsure.append(label)
            else:
                wrong.append((label, n, seconds, parallel, verdict))
    if wrong:
        verdicts = {verdict for *_, verdict in results}
        if len(verdicts) == 1:
            said = verdicts.pop()
            truth = ("within one task or one request the a-methods share one thread: gather does not make them "
                     "overlap" if said else "separate requests (or pool threads) do overlap")
            raise Fail("True for the ways that overlap, False for the others",
                       f"{said} for all {len(results)} ways", ASSUMED.format(verdict=said, truth=truth))
        cases = "; ".join(f"{label} ({n} x {seconds:g} s) is {'parallel' if parallel else 'serial'}, you said "
                          f"{verdict}" for label, n, seconds, parallel, verdict in wrong)
        raise Fail("True for the ways that overlap, False for the others", cases, THRESHOLD)
    if unsure:
        raise Busy(f"a verdict for {unsure[0]}, whose run was slowed down by the machine")
    return "Measured, not assumed: gather overlaps a-methods only across requests (or threads), never within one."
