"""Chapter 08: pitfalls, debugging and testing async code.

1. find-blocker: name the function of a helper library that held the loop longest, with LoopLag's stacks.
   Every run builds new libraries (new names, blocking calls of three kinds, a slow-but-async decoy and a
   short blocking call that comes first or last).
2. seat-race: a tour's seats sold by an async view under concurrent requests: no overselling, no seat
   lost, no card charged for a sold-out tour, payments side by side.
3. card-test: the learner's test runs against the real city card, a slow but correct one, and four broken
   ones (blocks with sleep, blocks with CPU work, another city's data, 404 for every city).
4. audit-user: a legacy thread-local audit trail used from an async view, requests at once through
   Django's ASGI handler: each entry must name its own request's user.
"""
import asyncio
import contextlib
import inspect
import linecache
import random
import sys
import threading
import time
import types

from ..errors import describe
from ..exercises import NOT_WRITTEN, Busy, Chapter, Fail, Kind
from .common import require_async, require_callable

chapter = Chapter("08", "Pitfalls, debugging and testing async code")

# --- nudges: 1. find the blocking call ----------------------------------------------------------
OUTERMOST = chapter.nudge(
    "W001", "the outermost frame",
    "`{got}` is where the stall's stack starts (it is also what asyncio's debug mode names): the coroutine the "
    "loop was running, not the line that blocked. Go the other way: the innermost frame of `library`.")
FIRST_STALL = chapter.nudge(
    "W002", "the first stall, not the longest",
    "`{got}` blocked the loop too, but briefly. Look at every stall in `lag.stalls` and take the longest "
    "(`max(lag.stalls, key=lambda s: s.seconds)`).")
STDLIB_FRAME = chapter.nudge(
    "W003", "a frame of the standard library",
    "`{got}` is the standard library's function at the bottom of the stack. The question is which function of "
    "`library` called it: keep the frames whose filename is `library.__file__`, and take the innermost (or use "
    "`stall.where`, which skips the standard library's frames).")
SLOW_NOT_BLOCKING = chapter.nudge(
    "W004", "slow is not blocking",
    "`{got}` is the slowest function, but it awaits: the loop serves others meanwhile. Blocking means holding the "
    "loop: measure stalls with `coursekit.LoopLag(stacks=...)` while `report()` runs.")
ONE_LEVEL_OUT = chapter.nudge(
    "W005", "one level too far out",
    "`{got}` is on the stack, but it only calls the function that blocks. Take the innermost frame of `library` on "
    "the longest stall's stack.")
NO_STALL = chapter.nudge(
    "W006", "no stall recorded",
    "Nothing was found. `lag.stalls` is filled only with `LoopLag(stacks=SECONDS)`, for stalls longer than "
    "SECONDS: ask for stacks with a threshold well under the stall you are after (0.05 s).")
NOT_A_NAME = chapter.nudge(
    "W007", "not a name",
    "Return the function's name, a str such as 'geocode': a frame's `.name`, not the frame (or the stall).")
WRONG_FUNCTION = chapter.nudge(
    "W008", "another function",
    "That function did not hold the loop in the longest stall. Await `report()` inside `coursekit.LoopLag(stacks="
    "0.05)`, take the longest of `lag.stalls`, and the innermost frame of `library` on its stack.")

# --- 2. the seat race ----------------------------------------------------------------------------
OVERSOLD = chapter.nudge(
    "W020", "more seats sold than there are",
    "The check `SEATS[slug] > 0` and the decrement are on two sides of `await pay(...)`: every request that arrives "
    "meanwhile sees the same free seat. Take the seat (decrement) before the await, with no await between the "
    "check and the decrement.")
PAID_SOLD_OUT = chapter.nudge(
    "W021", "cards charged for a sold-out tour",
    "A customer who got 409 (sold out) was charged. Check for a free seat and take it before paying; answer 409 "
    "without calling pay().")
LOST_SEAT = chapter.nudge(
    "W022", "a seat lost",
    "Fewer seats were sold or left than the tour had: a seat taken for a declined card must be given back "
    "(SEATS[slug] += 1 when PaymentDeclined is raised), and a write must not put back a count read before an await.")
DECLINED = chapter.nudge(
    "W023", "a declined card not answered 402",
    "When pay() raises PaymentDeclined, give the seat back and answer 402 with {\"error\": \"payment declined\"}.")
SERIALIZED = chapter.nudge(
    "W024", "payments one at a time",
    "Every payment waited for the one before: a lock is held across `await pay(...)`. Only the check-and-take "
    "needs protecting, and with no await inside it, it needs no lock at all on one event loop.")
ANSWERS = chapter.nudge(
    "W025", "other answers than the task's",
    "Answer 200 {\"tour\": slug, \"booked\": true} for a sale, 409 {\"error\": \"sold out\"} when no seat is left "
    "and 402 for a declined card.")
STUCK = chapter.nudge(
    "W026", "the requests never finished",
    "Your view never answered. A threading.Lock held across an await does that: the next request blocks the loop's "
    "thread in lock.acquire(), so the request holding the lock can never resume. Take the seat with no await "
    "in between instead (or use asyncio.Lock).")
NOT_PAID = chapter.nudge(
    "W027", "no payment made",
    "Seats were sold but no card was charged: `pay(...)` is an async function, so `await pay(card)`.")

# --- 3. write the test --------------------------------------------------------------------------
TEST_FAILS_CORRECT = chapter.nudge(
    "W030", "the test fails on the real view",
    "Your test failed against trips.pitfall_views.city_card, which is right. Read the error under Got: a wrong "
    "URL (it ends with a slash), a wrong expected value, or a missing await.")
MISSES_SLEEP = chapter.nudge(
    "W031", "a view that blocks the loop passed",
    "A city card that blocks the event loop for 0.3 s (a sync call, time.sleep) passed your test: its answer is "
    "right. Measure the loop while the request runs: `async with coursekit.LoopLag() as lag:` around it, then "
    "`assert lag.max < 0.1`.")
MISSES_CPU = chapter.nudge(
    "W032", "a view that blocks with CPU work passed",
    "A city card that computes for 0.3 s without an await passed your test. That holds the loop as much as a "
    "sleep does: measure the loop's lag with coursekit.LoopLag and assert its longest stall is short.")
MISSES_DATA = chapter.nudge(
    "W033", "another city's card passed",
    "A view that answers with another city's data passed your test. Assert the city's name and country for the "
    "city you asked for.")
MISSES_404 = chapter.nudge(
    "W034", "a view that answers 404 passed",
    "A view that answers 404 for every city passed your test. Assert the status code (200) before the body.")
WALL_TIME = chapter.nudge(
    "W035", "a slow but correct view failed",
    "A correct city card that awaits for 0.5 s (it never blocks the loop) failed your test. Wall time says nothing "
    "about blocking: a blocked loop and an await both take time. Measure the loop's lag instead of the elapsed time.")

# --- 4. the audit trail's user ------------------------------------------------------------------
DIFFERENT_THREADS = chapter.nudge(
    "W040", "set and audit on different threads",
    "set_current_user() and audit() of one request ran on different threads, so audit() read another thread's "
    "user (or none). thread_sensitive=False and asyncio.to_thread give no thread guarantee. Use sync_to_async's "
    "default (thread_sensitive=True: one thread per request under ASGI), or do both in one sync function.")
ON_LOOP = chapter.nudge(
    "W041", "the thread-local of the loop's thread",
    "set_current_user() and audit() ran on the event loop's own thread, which every request shares: requests "
    "overwrite each other's user across the await, and audit()'s sync write blocks the loop. Call them through "
    "sync_to_async.")
WRONG_USER = chapter.nudge(
    "W042", "entries with the wrong user",
    "Some audit entries name another request's user. Set the user and write the entry on the same thread, for "
    "the same request, after the payment.")
NO_ENTRY = chapter.nudge(
    "W043", "audit entries missing",
    "Every booking writes one audit entry, `legacy_audit.audit(f'booked {slug}')`, after the payment. A call "
    "through sync_to_async must be awaited to run.")
AUDIT_ANSWER = chapter.nudge(
    "W044", "another answer than the task's",
    "Answer 200 {\"tour\": slug, \"user\": user} for each booking.")


# --- helpers ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _request_errors():
    """The exceptions Django turned into a 500 while the block ran (got_request_exception)."""
    from django.core.signals import got_request_exception

    errors = []

    def note(sender, request=None, **kwargs):
        errors.append(sys.exc_info()[1])

    uid = f"coursekit-ch08-{id(errors)}"  # unique: a run stuck for ever must not take the next run's place
    got_request_exception.connect(note, weak=False, dispatch_uid=uid)
    try:
        yield errors
    finally:
        got_request_exception.disconnect(dispatch_uid=uid)


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _machine_stalled(ctx, started, ended, longer_than=0.05):
    return ctx.control.gaps.longest_within(started, ended) > longer_than


# --- 1. find the blocking call -----------------------------------------------------------------
_NAMES = {
    "quick": ["title_case", "normalise_city", "slug_to_name", "clean_name", "display_name"],
    "slow": ["fetch_reviews", "load_weather", "ask_partner_api", "get_events", "fetch_photos"],
    "minor": ["read_config", "check_quota", "touch_cache_file", "load_template", "read_feature_flags"],
    "inner": ["_wait_for_token", "_acquire_slot", "_sync_handshake", "_refresh_credentials", "_throttle"],
    "outer": ["price_in_euros", "resolve_airport", "geocode", "lookup_visa_rules", "convert_currency"],
}
_BLOCKS = {
    "sleep": "    time.sleep(0.2)",
    "event": "    threading.Event().wait(0.2)",
    "spin": "    end = time.perf_counter() + 0.2\n    while time.perf_counter() < end:\n        pass",
}
_LIBRARY = '''"""A helper library ({name}): one of its calls blocks the event loop."""
import asyncio
import threading
import time


def {quick}(city):
    return city.replace("-", " ").title()


async def {slow}(city):
    await asyncio.sleep(0.25)
    return {{"city": city, "items": 3}}


def {minor}(city):
    time.sleep(0.09)
    return len(city)


def {inner}():
{block}


def {outer}(city):
    {inner}()
    return city.upper()


async def trip_report(city):
    name = {quick}(city)
    await asyncio.sleep(0.02)
    {first}(city)
    await asyncio.sleep(0.02)
    details = await {slow}(city)
    await asyncio.sleep(0.02)
    {second}(city)
    await asyncio.sleep(0.02)
    return name, details
'''
_library_counter = iter(range(1, 10**9))


def make_library(block="sleep", minor_first=True, rng=None):
    """A new helper library as a module; returns (module, roles) where roles names its functions."""
    rng = rng or random.Random()
    roles = {role: rng.choice(names) for role, names in _NAMES.items()}
    name = f"tripkit_{next(_library_counter)}"
    filename = f"<{name}>"
    source = _LIBRARY.format(name=name, block=_BLOCKS[block], **roles,
                             first=roles["minor"] if minor_first else roles["outer"],
                             second=roles["outer"] if minor_first else roles["minor"])
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # frames show their lines
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module, roles


def sample_library():
    """A helper library to try `find_blocker` on: `await find_blocker(lambda: lib.trip_report("oslo"), lib)`."""
    return make_library(random.choice(list(_BLOCKS)), random.random() < 0.5)[0]


def _judge_blocker_name(got, roles, finder):
    """None if `got` names the function that held the loop longest; else the Fail to raise."""
    expected = roles["inner"]
    if isinstance(got, str) and got == expected:
        return None
    shown = f"{got!r}"
    if got is None or got == "" or got == []:
        return Fail(f"the name of the function that held the loop longest ({expected!r})", shown, NO_STALL)
    if not isinstance(got, str):
        return Fail(f"a str: the function's name ({expected!r})", f"{type(got).__name__}: {got!r}", NOT_A_NAME)
    wanted = f"{expected!r}, the innermost function of `library` on the longest stall's stack"
    if got == roles["minor"]:
        return Fail(wanted, shown, FIRST_STALL.format(got=got))
    if got == roles["outer"]:
        return Fail(wanted, shown, ONE_LEVEL_OUT.format(got=got))
    if got == roles["slow"]:
        return Fail(wanted, shown, SLOW_NOT_BLOCKING.format(got=got))
    if got in ("trip_report", "report", "<lambda>", getattr(finder, "__name__", None), "main", "<module>",
               "_with_lag"):
        return Fail(wanted, shown, OUTERMOST.format(got=got))
    if got in ("wait", "sleep", "_wait", "acquire", "perf_counter"):
        return Fail(wanted, shown, STDLIB_FRAME.format(got=got))
    return Fail(wanted, shown, WRONG_FUNCTION)


@chapter.exercise(
    "find-blocker", "Name the call that blocks the loop",
    needs=["find_blocker"],
    hints=[
        "Await `report()` inside `async with coursekit.LoopLag(stacks=0.05) as lag:`; afterwards `lag.stalls` "
        "lists every stall longer than 0.05 s, each with `.seconds` and `.stack`.",
        "Take the longest stall: `max(lag.stalls, key=lambda s: s.seconds)`. Its `.stack` is a list of frames, "
        "outermost first, each with `.filename` and `.name`.",
        "Keep the frames of the library (`frame.filename == library.__file__`) and return the last one's `.name` "
        "(or `stall.where.name`).",
    ],
    timeout=20,
)
async def check_find_blocker(ctx, find_blocker):
    require_async(find_blocker, "find_blocker")
    rng = random.Random()
    # The short blocking call first, then last; the long one ends in the standard library, then in a loop of
    # its own (a plain time.sleep is the sample library's third kind).
    cases = [("event", True), (rng.choice(["spin", "sleep"]), False)]
    for block, minor_first in cases:
        module, roles = make_library(block, minor_first, rng)
        city = rng.choice(["oslo", "hanoi", "lisbon", "kyoto", "cape-town"])

        async def report(module=module, city=city):
            return await module.trip_report(city)

        started = time.perf_counter()
        try:
            got = await ctx.call(find_blocker, report, module, what="`find_blocker(report, library)`")
        except Fail as fail:
            # A stall the sampler thread never saw (it did not get to run) has no stack: on a stalled machine a
            # right answer can trip over that.
            if fail.kind is Kind.ERROR and _machine_stalled(ctx, started, time.perf_counter(), 0.05):
                raise Busy("the stalls' stacks (the machine stalled meanwhile)") from None
            raise
        fail = _judge_blocker_name(got, roles, find_blocker)
        if fail is None:
            continue
        # A right method gives a wrong name only if the machine itself stalled for long meanwhile.
        if fail.nudge.id in (FIRST_STALL.id, WRONG_FUNCTION.id, NO_STALL.id) and _machine_stalled(
                ctx, started, time.perf_counter(), 0.1):
            raise Busy("the longest stall (the machine stalled as long meanwhile)")
        raise fail
    return "The longest stall, its stack, the innermost frame of the library: from 'the loop was blocked' to the line."


# --- 2. the seat race ------------------------------------------------------------------------------
_TOURS = ["northern-lights", "fjord-cruise", "tango-night", "temple-walk", "street-food", "table-mountain"]


def _unbind_loop_primitives(fn):
    """A new server process starts with fresh asyncio locks: unbind the learner's from an earlier loop."""
    from asyncio import mixins

    values = list(getattr(fn, "__globals__", {}).values())
    for cell in getattr(fn, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            values.append(cell.cell_contents)
    for value in values + [v for d in values if isinstance(d, dict) for v in d.values()]:
        if isinstance(value, mixins._LoopBoundMixin) and not getattr(value, "_waiters", None):
            if not (isinstance(value, asyncio.Lock) and value.locked()):
                value._loop = None


async def _drive_seats(view, seats, rounds):
    """Each round: reset SEATS, then send its batches one after another, each batch's requests at once;
    what came back, and what was paid."""
    from unittest import mock

    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from trips import pitfall_views

    from ..asgi import fresh_handler, request
    from ..routes import mounted

    outcomes = []
    # Slower payments: requests that arrive spread out on a busy machine still meet at the payment.
    with mounted(path("ck08/tours/<slug:slug>/book/", csrf_exempt(view))), _request_errors() as errors, \
            mock.patch.object(pitfall_views, "PAYMENT_SECONDS", 0.3):
        app = fresh_handler()
        for tour, count, batches in rounds:
            seats.clear()
            seats[tour] = count
            first_payment = len(pitfall_views.PAYMENTS)
            cards, responses = [], []
            for batch in batches:
                cards += batch
                responses += await asyncio.gather(*(
                    request(app, f"/ck08/tours/{tour}/book/", "POST", headers=[("X-Card", card)]) for card in batch))
            outcomes.append({"tour": tour, "seats": count, "cards": cards, "left": seats.get(tour),
                             "answers": [(r.status, _json(r)) for r in responses],
                             "payments": list(pitfall_views.PAYMENTS[first_payment:])})
            if errors:
                break
    return outcomes, list(errors)


def _judge_seat_round(ctx, outcome, judge_overlap):
    from ..timing import Timeline

    tour, seats, cards, left = outcome["tour"], outcome["seats"], outcome["cards"], outcome["left"]
    statuses = [status for status, _ in outcome["answers"]]
    sold = statuses.count(200)
    declined_answers = statuses.count(402)
    summary = f"{seats} seats, {len(cards)} requests at once: statuses {sorted(statuses)}, SEATS left {left}"
    if sold > seats or (isinstance(left, int) and left < 0):
        raise Fail(f"at most {seats} seats sold, and never fewer than 0 left", summary, OVERSOLD)
    payments = outcome["payments"]
    if sold and not payments:
        raise Fail("a payment (await pay(card)) for every seat sold", f"{sold} sold, no payment made", NOT_PAID,
                   kind=Kind.UNAWAITED)
    for card, (status, body) in zip(cards, outcome["answers"]):
        if card == "declined" and status not in (402, 409):
            raise Fail("402 for a declined card (or 409 if the tour was sold out by then)",
                       f"{status} {body}", DECLINED)
        if card == "ok" and status not in (200, 409):
            raise Fail("200 for a sale, 409 when sold out", f"{status} {body}", ANSWERS)
        if status == 200 and not (isinstance(body, dict) and body.get("tour") == tour and body.get("booked") is True):
            raise Fail(f'200 {{"tour": "{tour}", "booked": true}}', f"{status} {body}", ANSWERS)
        if status == 409 and not (isinstance(body, dict) and body.get("error") == "sold out"):
            raise Fail('409 {"error": "sold out"}', f"{status} {body}", ANSWERS)
    if len(payments) > sold + declined_answers:
        raise Fail("no payment for a request answered 409 (sold out)",
                   f"{len(payments)} payments for {sold} sales and {declined_answers} declined cards", PAID_SOLD_OUT)
    if not isinstance(left, int) or sold + left != seats:
        raise Fail(f"seats sold + seats left = {seats}", f"{sold} sold + {left} left", LOST_SEAT)
    if judge_overlap and sold >= 2:
        spans = Timeline()
        for card, start, end in payments:
            spans.add(card, start, end)
        if spans.peak_overlap() < 2:
            # Right answers start their payments within moments of each other: only a stall of the machine about
            # as long as a payment (0.3 s here) could spread them apart.
            if _machine_stalled(ctx, spans.start, spans.end, 0.2):
                raise Busy("whether payments ran side by side (the machine stalled meanwhile)")
            raise Fail("the payments of different requests side by side",
                       f"{len(payments)} payments, one at a time ({spans.wall:.2f} s)", SERIALIZED)


@chapter.exercise(
    "seat-race", "Sell a tour's seats without overselling",
    needs=["book_seat", "SEATS"],
    hints=[
        "Between `if SEATS[slug] > 0` and `SEATS[slug] -= 1` there is an `await`: every other request runs "
        "meanwhile, sees the same free seat, and pays for it too.",
        "Take the seat first: check and decrement with no await in between, then `await pay(card)`. One event loop "
        "runs one piece of code at a time, so nothing can slip in between two lines with no await.",
        "Wrap the payment in try/except PaymentDeclined: give the seat back (`SEATS[slug] += 1`) and answer 402.",
    ],
    timeout=6,
)
async def check_seat_race(ctx, book_seat, SEATS):
    require_async(book_seat, "book_seat")
    if not isinstance(SEATS, dict):
        raise Fail("`SEATS` a dict: tour slug -> seats left", f"{type(SEATS).__name__}: {SEATS!r}", ANSWERS)
    rng = random.Random()
    tours = rng.sample(_TOURS, 2)
    seats = rng.randint(2, 4)
    cards = ["ok"] * 5 + ["declined"] * 2
    rng.shuffle(cards)
    # Round one: more buyers than seats, all at once. Round two: a declined card alone first (its seat must come
    # back), then a mix at once.
    rounds = [(tours[0], seats, [["ok"] * (seats + rng.randint(3, 5))]),
              (tours[1], rng.randint(3, 4), [["declined"], cards])]
    saved = dict(SEATS)
    _unbind_loop_primitives(book_seat)
    try:
        try:
            outcomes, errors = await ctx.call(_drive_seats, book_seat, SEATS, rounds, what="requests to `book_seat`")
        except Fail as fail:
            if fail.kind is Kind.TIMEOUT:
                raise Fail("every request answered within the time limit", fail.got, STUCK, kind=Kind.TIMEOUT)
            raise
    finally:
        SEATS.clear()
        SEATS.update(saved)
    if errors:
        from trips.pitfall_views import PaymentDeclined

        if isinstance(errors[0], PaymentDeclined):
            raise Fail("402 for a declined card", "PaymentDeclined escaped from the view: a 500", DECLINED,
                       kind=Kind.ERROR, cause=errors[0])
        raise chapter.explain(errors[0], "`book_seat`")
    for index, outcome in enumerate(outcomes):
        _judge_seat_round(ctx, outcome, judge_overlap=index == 0)
    return ("The seat is taken before the await and given back on a declined card: no request can slip in "
            "between, and payments still run side by side.")


# --- 3. write the test ---------------------------------------------------------------------------
def _card_views():
    """The real city card, a slow but correct one, and four broken ones."""
    from asgiref.sync import sync_to_async
    from django.http import JsonResponse

    from trips import pitfall_views
    from trips.models import City

    async def slow_but_right(request, slug):
        await asyncio.sleep(0.5)                         # an await: the loop serves others meanwhile
        return await pitfall_views.city_card(request, slug)

    async def on_a_pool_thread(request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        rates = await asyncio.to_thread(pitfall_views.load_exchange_rates)
        return JsonResponse({"city": city.name, "country": city.country, "rates": rates})

    async def blocks_with_sleep(request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        rates = pitfall_views.load_exchange_rates()      # a sync call on the loop: 0.3 s
        return JsonResponse({"city": city.name, "country": city.country, "rates": rates})

    async def blocks_with_cpu(request, slug):
        city = await City.objects.filter(slug=slug).afirst()
        if city is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        end = time.perf_counter() + 0.3                  # 0.3 s of work with no await
        while time.perf_counter() < end:
            pass
        return JsonResponse({"city": city.name, "country": city.country, "rates": dict(pitfall_views.RATES)})

    async def another_city(request, slug):
        cities = [c async for c in City.objects.order_by("slug")]
        index = next((i for i, c in enumerate(cities) if c.slug == slug), None)
        if index is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        city = cities[(index + 1) % len(cities)]          # off by one
        rates = await sync_to_async(pitfall_views.load_exchange_rates)()
        return JsonResponse({"city": city.name, "country": city.country, "rates": rates})

    async def always_404(request, slug):
        city = await City.objects.filter(name=slug).afirst()   # the name, not the slug: never found
        if city is None:
            return JsonResponse({"error": f"no city {slug!r}"}, status=404)
        return JsonResponse({"city": city.name, "country": city.country, "rates": dict(pitfall_views.RATES)})

    right = [("the real city card", pitfall_views.city_card, TEST_FAILS_CORRECT),
             ("a slow but correct city card", slow_but_right, WALL_TIME),
             ("a correct city card that uses asyncio.to_thread", on_a_pool_thread, TEST_FAILS_CORRECT)]
    broken = [("blocks the loop with a sync call", blocks_with_sleep, MISSES_SLEEP),
              ("blocks the loop with CPU work", blocks_with_cpu, MISSES_CPU),
              ("answers with another city's data", another_city, MISSES_DATA),
              ("answers 404 for every city", always_404, MISSES_404)]
    return right, broken


async def _run_learner_test(test, view):
    """Run the learner's test with the card URL served by `view`: None if it passed, else the exception."""
    from django.test import AsyncClient
    from django.urls import path

    from ..routes import mounted

    with mounted(path("pitfalls/cards/<slug:slug>/", view)):
        try:
            async with asyncio.timeout(12):
                result = test(AsyncClient())
                if inspect.iscoroutine(result):
                    await result
            return None
        except (Exception, TimeoutError) as error:  # the test failed: what we want for broken views
            return error


async def _judge_learner_test(test, attempts=3):
    """None when the test passes every right view and fails every broken one; else what went wrong:
    ("right", name, nudge, [(error, started, ended), ...]) or ("broken", name, nudge).

    A test that fails on a right view by assertion runs again (up to `attempts` times): on a busy machine a
    timing assertion can fail once; a test that is wrong fails every time."""
    right, broken = _card_views()
    for name, view, nudge in right:
        failures = []
        for _ in range(attempts):
            started = time.perf_counter()
            error = await _run_learner_test(test, view)
            if error is None:
                break
            failures.append((error, started, time.perf_counter()))
            if not isinstance(error, AssertionError):
                break  # a crash or a missing await is no matter of timing
        if error is not None:
            return ("right", name, nudge, failures)
    for name, view, nudge in broken:
        if await _run_learner_test(test, view) is None:
            return ("broken", name, nudge)
    return None


@chapter.exercise(
    "card-test", "Write the test: catch a city card that blocks the loop",
    needs=["test_city_card"],
    hints=[
        "Start with the answer: `response = await client.get('/pitfalls/cards/kyoto/')`, then assert "
        "`response.status_code == 200` and the card's city and country.",
        "A view that blocks answers exactly like one that does not. Watch the loop while the request runs: "
        "`async with coursekit.LoopLag() as lag:` around the `await client.get(...)`.",
        "Then `assert lag.max < 0.1`: a view that awaits keeps the loop's stalls to milliseconds; one that blocks "
        "for 0.3 s cannot. (Timing the whole request says nothing: awaiting takes time too.)",
    ],
    timeout=60,
)
async def check_card_test(ctx, test_city_card):
    require_async(test_city_card, "test_city_card")
    outcome = await ctx.call(_judge_learner_test, test_city_card, what="your test")
    if outcome is None:
        return "It passes on a right city card, slow or not, and fails on each of the four broken ones."
    if outcome[0] == "broken":
        _, name, nudge = outcome
        raise Fail(f"your test to fail on a city card that {name}", "it passed", nudge)
    _, name, nudge, failures = outcome
    error = failures[-1][0]
    if isinstance(error, NotImplementedError):
        raise Fail("your test to run", "NotImplementedError: it has not been written yet", NOT_WRITTEN,
                   kind=Kind.MISSING, cause=error)
    explained = chapter.explain(error, "your test")
    if explained.kind is Kind.UNAWAITED:
        raise explained
    if isinstance(error, AssertionError) and all(_machine_stalled(ctx, started, ended, 0.1)
                                                 for _, started, ended in failures):
        raise Busy("your test on a right city card (the machine stalled at every try)")
    got = describe(error, width=88) if str(error) else f"{type(error).__name__} (with no message)"
    raise Fail(f"your test to pass on {name}", got, nudge, kind=Kind.WRONG, cause=error)


# --- 4. the audit trail's user -------------------------------------------------------------------
_USERS = ["alice", "bob", "carol", "dmitri", "esme", "farid", "gwen", "hiro", "ines", "jonas", "kemal", "lea"]


async def _drive_audit(view, bookings):
    from django.urls import path

    from trips import legacy_audit

    from ..asgi import fresh_handler, request
    from ..routes import mounted

    legacy_audit.clear()
    with mounted(path("ck08/tours/<slug:slug>/book/", view)), _request_errors() as errors:
        app = fresh_handler()
        responses = await asyncio.gather(*(
            request(app, f"/ck08/tours/{slug}/book/", headers=[("X-User", user)]) for user, slug in bookings))
    return ([(r.status, _json(r)) for r in responses], list(legacy_audit.ENTRIES), list(legacy_audit.USERS_SET),
            list(errors), threading.current_thread().name)


@chapter.exercise(
    "audit-user", "Keep the audit trail's user across threads",
    needs=["book_tour"],
    hints=[
        "legacy_audit keeps the user in a threading.local(): audit() sees the user set on *its own* thread. Ask "
        "which thread each call runs on.",
        "thread_sensitive=False sends each call to any thread of a pool. The default, thread_sensitive=True, runs "
        "every call of one request on that request's one thread (Django's ASGI handler gives each request its own).",
        "Drop thread_sensitive=False from both calls (or set the user and write the entry in one sync function, "
        "called once after the payment).",
    ],
    timeout=20,
)
async def check_audit_user(ctx, book_tour):
    require_async(book_tour, "book_tour")
    rng = random.Random()
    users = rng.sample(_USERS, 8)
    bookings = [(user, f"{rng.choice(_TOURS)}-{i}") for i, user in enumerate(users)]
    answers, entries, users_set, errors, loop_thread = await ctx.call(
        _drive_audit, book_tour, bookings, what="requests to `book_tour`")
    if errors:
        raise chapter.explain(errors[0], "`book_tour`")
    for (user, slug), (status, body) in zip(bookings, answers):
        if status != 200 or body != {"tour": slug, "user": user}:
            raise Fail(f'200 {{"tour": "{slug}", "user": "{user}"}}', f"{status} {body}", AUDIT_ANSWER)
    by_action = {}
    for entry in entries:
        by_action.setdefault(entry["action"], []).append(entry)
    missing = [slug for _, slug in bookings if f"booked {slug}" not in by_action]
    if missing:
        raise Fail(f"one audit entry per booking ({len(bookings)})",
                   f"{len(entries)} entries; none for {missing[0]}", NO_ENTRY)
    set_on = {}
    for record in users_set:
        set_on.setdefault(record["user"], []).append(record["thread"])
    if any(entry["thread"] == loop_thread for entry in entries) or any(
            loop_thread in threads for threads in set_on.values()):
        raise Fail("set_current_user() and audit() off the event loop's thread",
                   f"they ran on {loop_thread}, the loop's own thread", ON_LOOP)
    for user, slug in bookings:
        if not set_on.get(user):
            raise Fail(f"set_current_user({user!r}) called for {user}'s request", "it was not called",
                       WRONG_USER)
    for user, slug in bookings:
        entry = by_action[f"booked {slug}"][0]
        if entry["thread"] not in set_on[user]:
            raise Fail(f"the entry for {user}'s booking written on the thread that set {user}",
                       f"user set on {set_on[user][0]}, entry written on {entry['thread']} "
                       f"(it says user={entry['user']!r})", DIFFERENT_THREADS)
    for user, slug in bookings:
        entry = by_action[f"booked {slug}"][0]
        if entry["user"] != user:
            raise Fail(f"the entry 'booked {slug}' to name {user}", f"it names {entry['user']!r}", WRONG_USER)
    return "Each request set its user and wrote its entry on its own thread: the thread-local held the right user."
