"""Chapter 05: the async ORM."""
import asyncio
import inspect
import os
import time
from decimal import Decimal

from asgiref.sync import sync_to_async

from ..exercises import Chapter, Fail, learner_error

chapter = Chapter("05", "The async ORM")

# --- why a learner's code failed: specific nudges ----------------------------------
LAZY = ("A related object was fetched lazily (trip.city, or iterating trip.bookings.all()): that is a sync query "
        "on the event loop's thread. Fetch relations up front: select_related('city') for foreign keys, "
        "prefetch_related('bookings') for reverse relations (or aprefetch_related_objects on instances you have).")
ATOMIC = ("transaction.atomic() cannot be used in async code (not as `with`, not as `async with`, not as a decorator "
          "on an async def): it works on the connection of the calling thread. Put the whole transfer in one plain "
          "`def` decorated with @transaction.atomic, and call it with `await sync_to_async(that_function)(...)`.")
EVALUATED = ("A QuerySet was evaluated on the event loop's thread (for, list(), len(), bool() or indexing). In async "
             "code iterate with `async for`. If it came back from a function wrapped in sync_to_async, that "
             "function returned a lazy QuerySet: make it return list(...) instead.")
SYNC_CALL = ("A sync ORM method (get, count, first, exists, save, update, ...) ran in async code. Use its a-twin "
             "and await it: aget, acount, afirst, aexists, asave, aupdate, ...")
PAGINATOR = ("The sync Paginator counts and slices with the sync ORM. Use django.core.paginator.AsyncPaginator "
             "and await its methods (aget_page, anum_pages, ...).")


def _frames(exc):
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _explain(exc, what):
    """A Fail for an exception raised by learner code, as specific as the traceback allows."""
    from django.core.exceptions import SynchronousOnlyOperation
    from django.core.paginator import EmptyPage, PageNotAnInteger
    from django.db.models.query import QuerySet

    frames = _frames(exc)
    files = [os.path.normpath(f.f_code.co_filename) for f in frames]
    got = f"{type(exc).__name__}: {exc}"[:200]
    if isinstance(exc, SynchronousOnlyOperation):
        if any(f.endswith(os.path.join("db", "transaction.py")) for f in files):
            return Fail(f"{what} to run without an error", got, ATOMIC)
        if any(f.endswith(os.path.join("core", "paginator.py")) for f in files):
            return Fail(f"{what} to run without an error", got, PAGINATOR)
        if any(f.endswith("related_descriptors.py") for f in files):
            return Fail(f"{what} to run without an error", got, LAZY)
        django_frames = [f for f, name in zip(frames, files) if os.sep + "django" + os.sep in name]
        first = django_frames[0] if django_frames else None
        if first is not None:
            qs = first.f_locals.get("self")
            if isinstance(qs, QuerySet) and qs._hints.get("instance") is not None:
                return Fail(f"{what} to run without an error", got, LAZY)
            if first.f_code.co_name in ("__iter__", "__len__", "__bool__", "__getitem__"):
                return Fail(f"{what} to run without an error", got, EVALUATED)
        return Fail(f"{what} to run without an error", got, SYNC_CALL)
    text = str(exc)
    if isinstance(exc, TypeError):
        if "asynchronous context manager" in text and "Atomic" in text:
            return Fail(f"{what} to run without an error", got, ATOMIC)
        if "can't be used in 'await' expression" in text and "QuerySet" in text:
            return Fail(f"{what} to run without an error", got,
                        "A QuerySet cannot be awaited (`await qs.values()` is the classic). Iterate it with "
                        "`[row async for row in qs]`, or await an a-method such as afirst() or acount().")
        if "aget_object_list() must be awaited" in text:
            return Fail(f"{what} to run without an error", got,
                        "An AsyncPage holds no rows until you `await page.aget_object_list()`; after that, len(), "
                        "indexing and a plain for work.")
        if "async for" in text or "__aiter__" in text or "'async_generator' object is not iterable" in text:
            return Fail(f"{what} to run without an error", got,
                        "An async iterable needs `async for` (or `[x async for x in ...]`), not a plain for.")
    if isinstance(exc, AttributeError) and ("'AsyncPaginator'" in text or "'AsyncPage'" in text):
        return Fail(f"{what} to run without an error", got,
                    "AsyncPaginator and AsyncPage have a-methods instead of the sync properties: "
                    "await paginator.anum_pages(), paginator.acount(), page.ahas_next(), page.aget_object_list().")
    if isinstance(exc, (EmptyPage, PageNotAnInteger)):
        return Fail(f"{what} to run without an error", got,
                    "apage() raises for a page number that is not a number or out of range. aget_page() clamps it "
                    "like Paginator.get_page(): page 1 for rubbish, the last page for too large.")
    return learner_error(exc, what)


def _find(value, kinds, depth=0):
    """The first object of `kinds` inside value (dicts, lists, tuples), or None."""
    if isinstance(value, kinds):
        return value
    if depth > 4:
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        found = _find(item, kinds, depth + 1)
        if found is not None:
            return found
    return None


def _close_coroutines(value, depth=0):
    if inspect.iscoroutine(value):
        value.close()
        return
    if depth > 4:
        return
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        _close_coroutines(item, depth + 1)


async def _run(ctx, fn, *args, what, allow_block=None):
    """Call learner code (sync or async) under ctx.call; explain failures; reject coroutines and QuerySets."""
    from django.db.models.query import QuerySet

    box = {}

    async def learner_code():
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:  # explained below, with the traceback's help
            box["error"] = exc
            return None

    learner_code.__name__ = getattr(fn, "__name__", "your code")
    value = await ctx.call(learner_code, what=what, allow_block=allow_block)
    if "error" in box:
        raise _explain(box["error"], what)
    if _find_coroutine(value):
        _close_coroutines(value)
        raise Fail(f"{what} to return plain values", "a coroutine object inside the result, never awaited",
                   "An a-method (acount(), aget(), ahas_next(), ...) was called without `await` in front of it.")
    if _find(value, (QuerySet,)) is not None:
        raise Fail(f"{what} to return evaluated data (lists, dicts, strings, numbers)", "a QuerySet inside the result",
                   "A QuerySet is lazy: whoever touches it later runs its SQL, on the event loop's thread. Evaluate "
                   "it where you fetch it: [x async for x in qs], or list(qs) inside the function you wrap.")
    return value


def _find_coroutine(value, depth=0):
    if inspect.iscoroutine(value):
        return True
    if depth > 4:
        return False
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(_find_coroutine(item, depth + 1) for item in items)


def _require_async(ctx, fn, name):
    ctx.expect(callable(fn), expected=f"`{name}` to be a function", got=repr(fn)[:80])
    if not inspect.iscoroutinefunction(fn) and inspect.iscoroutinefunction(getattr(fn, "__wrapped__", None)):
        raise Fail(f"`{name}` to stay an `async def` function", "a decorator turned it into a plain function",
                   "A sync decorator such as @transaction.atomic wraps an async def in a plain function, and "
                   "atomic() cannot run in async code anyway. Put the whole transfer in one plain `def` decorated "
                   "with @transaction.atomic, and call it with `await sync_to_async(that_function)(...)`.")
    ctx.expect(inspect.iscoroutinefunction(fn), expected=f"`{name}` defined with `async def`",
               got=f"a plain function {fn!r}"[:80],
               nudge="It is called from async code (an async view): write `async def` and await the ORM inside.")


class _QueryCounter:
    """Count the SQL statements Django runs, on any thread, inside a with block."""

    def __enter__(self):
        from django.test.utils import override_settings

        from ..logs import capture_log

        self._debug = override_settings(DEBUG=True)   # Django logs each query when DEBUG is on
        self._debug.enable()
        self._log = capture_log("django.db.backends").__enter__()
        return self

    def __exit__(self, *exc):
        self._log.__exit__(*exc)
        self._debug.disable()
        return False

    @property
    def statements(self):
        return [getattr(r, "sql", r.getMessage()) for r in self._log.records
                if getattr(r, "sql", None) and not r.sql.upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN"))]


# --- 1. a dashboard on the async ORM -----------------------------------------------
def _dashboard_expected(username):
    from trips.models import Trip

    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum((b.amount for b in t.bookings.all()), Decimal(0))} for t in trips]


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
    _require_async(ctx, dashboard, "dashboard")
    for username in ("alice", "bob", "nobody"):
        want = await sync_to_async(_dashboard_expected)(username)
        with _QueryCounter() as queries:
            got = await _run(ctx, dashboard, username, what=f"`dashboard({username!r})`", allow_block=0.25)
        ctx.expect(isinstance(got, list), expected="a list of dicts, one per trip",
                   got=f"{type(got).__name__}: {got!r}"[:120])
        ctx.expect(len(got) == len(want), expected=f"{len(want)} trips for {username}", got=f"{len(got)}",
                   nudge="List the trips whose owner has that username: filter(owner__username=username).")
        for g, w in zip(got, want):
            ctx.expect(isinstance(g, dict) and set(g) == set(w), expected=f"dicts with the keys {sorted(w)}",
                       got=f"{sorted(g) if isinstance(g, dict) else type(g).__name__}")
            wrong = sorted(k for k in w if g[k] != w[k])
            ctx.expect(not wrong, expected=f"{w}", got=f"{g}"[:200],
                       nudge=f"Check {', '.join(wrong)}. Keep the QuerySet's own ordering (by date); the total is "
                             "the sum of the trip's booking amounts.")
        n = len(queries.statements)
        if n > 3:
            raise Fail(f"at most 3 queries for {username}'s {len(want)} trips (trips with their city, then all "
                       "their bookings)", f"{n} queries",
                       "That is the N+1 pattern: a query per trip (an `async for` over each trip's bookings, or lazy "
                       "access inside a function run by sync_to_async). select_related('city') and "
                       "prefetch_related('bookings') fetch everything in two queries.")
    return "Relations fetched up front: two queries, whatever the number of trips, and no lazy access."


# --- 2. an atomic transfer from async code -----------------------------------------
SOURCE, TARGET = "CK05-SRC", "CK05-DST"
TRIGGER = "coursekit_ch05_forced_failure"


def _transfer_fixture_up():
    import datetime

    from django.contrib.auth import get_user_model
    from django.db import connection

    from trips.models import Booking, City, Trip

    _transfer_fixture_down()
    trip = Trip.objects.create(owner=get_user_model().objects.get(username="alice"),
                               city=City.objects.get(slug="oslo"), title="Exercise 05 transfer",
                               starts_on=datetime.date(2027, 12, 1), ends_on=datetime.date(2027, 12, 3))
    Booking.objects.create(trip=trip, kind="flight", reference=SOURCE, amount=Decimal("100"))
    Booking.objects.create(trip=trip, kind="hotel", reference=TARGET, amount=Decimal("50"))
    connection.close()


def _transfer_fixture_down():
    from django.db import connection

    from trips.models import Trip

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    Trip.objects.filter(title="Exercise 05 transfer").delete()
    connection.close()


def _force_failure(on):
    """Make every update of the target's amount fail inside the database (a trigger), or stop doing so."""
    from django.db import connection

    with connection.cursor() as cursor:
        if on:
            cursor.execute(f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF amount ON trips_booking "
                           f"WHEN NEW.reference = '{TARGET}' "
                           "BEGIN SELECT RAISE(ABORT, 'forced failure: the check made this update fail'); END")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    connection.close()


def _balances():
    from trips.models import Booking

    amounts = dict(Booking.objects.filter(reference__in=(SOURCE, TARGET)).values_list("reference", "amount"))
    return amounts.get(SOURCE), amounts.get(TARGET)


async def _attempt(ctx, transfer, amount):
    """(error or None, balances after)."""
    try:
        await _run(ctx, transfer, SOURCE, TARGET, Decimal(amount), what=f"`transfer({SOURCE!r}, {TARGET!r}, {amount})`",
                   allow_block=0.25)
        error = None
    except Fail as fail:
        if not fail.got.startswith(("IntegrityError", "ValueError", "DatabaseError", "OperationalError")):
            raise
        error = fail.got
    return error, await sync_to_async(_balances)()


def _fmt(balances):
    return f"{SOURCE} {balances[0]}, {TARGET} {balances[1]}"


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
    _require_async(ctx, transfer, "transfer")
    await sync_to_async(_transfer_fixture_up)()
    try:
        # 1. A transfer that works.
        error, after = await _attempt(ctx, transfer, "30")
        ctx.expect(error is None, expected="a transfer of 30 (out of 100) to succeed", got=error or "",
                   nudge="The source holds 100: 30 must go through.")
        if after == (Decimal("100"), Decimal("50")):
            raise Fail("30 moved: CK05-SRC 70, CK05-DST 80", _fmt(after),
                       "Nothing changed: is every coroutine awaited (sync_to_async(...)(...) gives one to await)?")
        ctx.expect(after == (Decimal("70"), Decimal("80")), expected="30 moved: CK05-SRC 70, CK05-DST 80",
                   got=_fmt(after), nudge="Subtract from the source, add to the target (in that direction).")
        # 2. The source cannot cover it: the CHECK constraint (amount >= 0) fails on the debit.
        error, after = await _attempt(ctx, transfer, "500")
        if after != (Decimal("70"), Decimal("80")):
            raise Fail("a failed transfer of 500 (the source has 70) to change nothing", _fmt(after),
                       "One update stayed although the other failed: the two updates are not one transaction. "
                       "Each a-method commits on its own; put both updates in one @transaction.atomic sync function.")
        ctx.expect(error is not None, expected="the error of a failed transfer to reach the caller",
                   got="transfer() returned normally; the transfer did not happen",
                   nudge="Do not swallow the exception: the caller must know the money did not move.")
        # 3. A forced failure on the credit (the check adds a trigger that fails the target's update).
        await sync_to_async(_force_failure)(True)
        try:
            error, after = await _attempt(ctx, transfer, "10")
        finally:
            await sync_to_async(_force_failure)(False)
        if after != (Decimal("70"), Decimal("80")):
            raise Fail("a transfer whose credit fails (the check made it fail) to change nothing", _fmt(after),
                       "The debit stayed although the credit failed: the two updates are not one transaction. "
                       "Put both in one @transaction.atomic sync function and call it with sync_to_async.")
        ctx.expect(error is not None, expected="the error of a failed transfer to reach the caller",
                   got="transfer() returned normally; the transfer did not happen",
                   nudge="Do not swallow the exception: the caller must know the money did not move.")
    finally:
        await sync_to_async(_transfer_fixture_down)()
    return "All or nothing, whichever step fails: one transaction on one thread, reached with one hop."


# --- 3. AsyncPaginator ------------------------------------------------------------
def _page_expected(number, per_page):
    from django.core.paginator import Paginator

    from trips.models import Trip

    paginator = Paginator(Trip.objects.select_related("city"), per_page)
    page = paginator.get_page(number)
    return {"page": page.number, "num_pages": paginator.num_pages, "has_next": page.has_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page]}


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
    _require_async(ctx, trip_page, "trip_page")
    for number, per_page in ((1, 2), ("2", 2), ("99", 2), ("abc", 4), (None, 4), (2, 4)):
        want = await sync_to_async(_page_expected)(number, per_page)
        what = f"`trip_page({number!r}, {per_page})`"
        got = await _run(ctx, trip_page, number, per_page, what=what, allow_block=0.25)
        ctx.expect(isinstance(got, dict) and set(got) == set(want), expected=f"a dict with the keys {sorted(want)}",
                   got=f"{sorted(got) if isinstance(got, dict) else repr(got)[:80]}")
        wrong = sorted(k for k in want if got[k] != want[k])
        if wrong:
            nudge = "Compare with Paginator.get_page(number) on the same QuerySet."
            if "page" in wrong:
                nudge = "aget_page() clamps the number: page 1 for rubbish or None, the last page when too large."
            elif "trips" in wrong:
                nudge = "Each entry reads 'Title (City)', in the QuerySet's own order (by start date)."
            raise Fail(f"{what} == {want}", f"{got}"[:240], nudge)
    return "Counting and slicing both awaited: AsyncPaginator keeps every query off the event loop's thread."


# --- 4. does this gather run in parallel? Measure it --------------------------------
def _nap_and_close(seconds):
    from django.db import connections

    from trips import slowdb

    try:
        return slowdb.nap(seconds)
    finally:
        connections.close_all()


def _variants():
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

    return [("a gather of a-methods in one task", a_methods, 3, 0.1, False),
            ("a gather of sync_to_async(..., thread_sensitive=False) calls", pool_threads, 3, 0.1, True),
            ("separate requests, sent at once", separate_requests, 3, 0.25, True),
            ("a gather inside one request", one_request, 2, 0.06, False)]


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
    _require_async(ctx, runs_in_parallel, "runs_in_parallel")
    await sync_to_async(_ensure_slowdb)()
    for label, variant, n, seconds, parallel in _variants():
        async def run_queries(variant=variant, n=n, seconds=seconds):
            await variant(n, seconds)

        started = time.perf_counter()
        got = await _run(ctx, runs_in_parallel, run_queries, n, seconds,
                         what=f"`runs_in_parallel(run_queries, {n}, {seconds})`")
        elapsed = time.perf_counter() - started
        ctx.expect(isinstance(got, tuple) and len(got) == 2, expected="a pair: (wall seconds, True or False)",
                   got=repr(got)[:80], nudge="return wall, parallel")
        wall, verdict = got
        ctx.expect(isinstance(wall, (int, float)) and not isinstance(wall, bool) and isinstance(verdict, bool),
                   expected="(a number of seconds, a bool)", got=repr(got)[:80])
        shortest = seconds if parallel else n * seconds
        if wall < 0.8 * shortest:
            raise Fail(f"a wall time of at least {shortest:g} s for {label}", f"{wall:.3f} s",
                       "Your clock stopped before the queries finished: await run_queries() between the two "
                       "readings of time.perf_counter().")
        ctx.expect(wall <= elapsed + 0.01, expected="the wall time of one run of run_queries()",
                   got=f"{wall:.2f} s, longer than the whole call", nudge="Measure one `await run_queries()`.")
        if verdict != parallel:
            if parallel:
                nudge = (f"Here the {n} queries really overlap (wall about {seconds:g} s, not {n * seconds:g} s). "
                         "Compare the wall time with one query and with n queries, not with a fixed number.")
            else:
                nudge = (f"The {n} queries ran one after another (wall about {n * seconds:g} s): within one task or "
                         "one request every a-method goes to the same thread, so `gather` does not make them "
                         "parallel. Decide from the measurement, relative to `seconds` and `n * seconds`.")
            raise Fail(f"runs_in_parallel to say {parallel} for {label} ({n} x {seconds:g} s)", f"{verdict}",
                       nudge)
    return "Measured, not assumed: gather overlaps a-methods only across requests (or threads), never within one."
