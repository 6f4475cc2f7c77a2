"""Chapter 02: asyncio for Django developers."""
import asyncio
import inspect
import time

from ..exercises import Chapter, Fail
from ..guard import run_guarded

chapter = Chapter("02", "asyncio for Django developers")

FIVE = ("weather", "flights", "hotels", "events", "trains")


def _api():
    from .. import upstream

    api = upstream.current()
    if api is None or not api.running:
        raise Fail("the upstream API to be running", "it is not",
                   "Run the set-up cell at the top of the notebook (it starts the upstream API).")
    return api


def _must_be_async(fn, name):
    if not callable(fn):
        raise Fail(f"`{name}` to be a function", repr(fn)[:80])
    if not inspect.iscoroutinefunction(fn):
        raise Fail(f"`{name}` defined with `async def`", f"a plain function ({type(fn).__name__})",
                   "Only an `async def` function can `await`: write `async def " + name + "(...):`.")


def _unawaited(value):
    """A coroutine (or task) hidden inside a returned container: a forgotten await."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((v for v in items if inspect.isawaitable(v)), None)


def _reject_unawaited(value, what):
    hidden = _unawaited(value)
    if hidden is not None:
        if inspect.iscoroutine(hidden):
            for v in (value.values() if isinstance(value, dict) else value):
                if inspect.iscoroutine(v):
                    v.close()
        raise Fail(f"{what} to hold the services' answers", f"{type(hidden).__name__} objects, never awaited",
                   "Calling an `async def` function only makes a coroutine. `await` it, or pass them all to "
                   "`await asyncio.gather(...)`, to get the results.")


def _peak(calls):
    """Most of these logged calls in flight at the same instant (other calls, such as a
    hung one from an earlier check that the server is still sleeping on, do not count)."""
    edges = sorted([(c.start, 1) for c in calls] + [(c.end, -1) for c in calls], key=lambda e: (e[0], e[1]))
    peak = running = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _overlap_report(calls):
    return ", ".join(f"{c.service} {c.start - calls[0].start:.2f}-{c.end - calls[0].start:.2f} s" for c in calls)


# --- 1. five services under a deadline ----------------------------------------
@chapter.exercise(
    "city-report", "Five upstream services at once, under a deadline",
    needs=["city_report"],
    hints=[
        "Open one `aiohttp.ClientSession()` for the whole report and start all five `fetch(session, service, "
        "slug)` calls before awaiting any of them.",
        "`await asyncio.gather(*(fetch(session, s, slug) for s in FIVE))` returns the answers in order; "
        "`dict(zip(FIVE, answers))` pairs them with their names.",
        "Wrap the gather in `async with asyncio.timeout(1.0):` and do not catch the TimeoutError: the caller "
        "should see it.",
    ],
    timeout=12,
)
async def check_city_report(ctx, city_report):
    from ..upstream import payload

    _must_be_async(city_report, "city_report")
    api = _api()
    api.reset()
    try:
        report, wall = await ctx.call_timed(city_report, "porto", allow_block=0.05, what="`city_report('porto')`")
    except Fail as fail:
        calls = sorted((c for c in api.calls if c.city == "porto"), key=lambda c: c.start)
        blocked = "event loop free" in fail.expected
        if len(calls) > 1 and _peak(calls) == 1 and not blocked:
            raise Fail("the five calls to overlap, finishing in about the slowest one (0.3 s)",
                       f"they ran one at a time ({_overlap_report(calls)}), so the 1 s deadline ran out",
                       "`await` inside a loop waits for each call before starting the next. Start them "
                       "together with `asyncio.gather` (or a TaskGroup).") from None
        raise
    _reject_unawaited(report, "the report")
    ctx.expect(isinstance(report, dict), expected="a dict: service name -> that service's answer",
               got=f"{type(report).__name__}: {report!r}"[:100])
    ctx.expect(sorted(report) == sorted(FIVE), expected=f"the keys {list(FIVE)}", got=f"{sorted(report)}",
               nudge="One entry per service, named exactly like the service.")
    wrong = [s for s in FIVE if report[s] != payload(s, "porto")]
    ctx.expect(not wrong, expected="each service's own answer for the city you were given",
               got=f"different data for {wrong}", nudge="Pass the `slug` argument on to every fetch.")
    calls = [c for c in api.calls if c.city == "porto"]
    ctx.expect(sorted(c.service for c in calls) == sorted(FIVE), expected="one call to each of the five services",
               got=f"calls to {sorted(c.service for c in calls)}")
    total = sum(api.latency.get(s, 0.2) for s in FIVE)
    peak = _peak(calls)
    if peak < 5 or wall > 0.6 * total:
        raise Fail("all five calls in flight together, finishing in about the slowest (0.3 s)",
                   f"at most {peak} at once, {wall:.2f} s in all (the sum is {total:.2f} s)",
                   "Create all five coroutines first and await them together with `asyncio.gather`.")
    # The deadline: one service takes 1.4 s; the report must give up after about 1 s.
    api.configure(latency={"trains": 1.4})
    outcome = await run_guarded(city_report, "porto", timeout=6)
    for _ in range(40):  # the server finishes the abandoned call on its own; wait for it
        if api.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    api.reset()
    if outcome.error is None and not outcome.timed_out:
        raise Fail("TimeoutError after about 1 s when a service is too slow",
                   f"it returned after {outcome.seconds:.1f} s",
                   "Put the gather inside `async with asyncio.timeout(1.0):` and let the TimeoutError out.")
    if not isinstance(outcome.error, TimeoutError):
        raise Fail("TimeoutError after about 1 s when a service is too slow",
                   f"{type(outcome.error).__name__}: {outcome.error}"[:100] if outcome.error else "it hung",
                   "Use `asyncio.timeout(1.0)` around the whole gather (not a per-call `ClientTimeout` "
                   "of its own), and do not catch the error.")
    ctx.expect(outcome.seconds < 1.6, expected="the deadline to fire after about 1 s",
               got=f"it fired after {outcome.seconds:.1f} s", nudge="One deadline for all five calls: 1.0 s.")
    return "Five answers in about the time of the slowest, and a hard stop when one hangs."


# --- 2. a semaphore bounds the concurrency -------------------------------------
@chapter.exercise(
    "bounded", "At most `limit` calls in flight",
    needs=["weather_for"],
    hints=[
        "`asyncio.Semaphore(limit)` lets `limit` holders in at once; `async with sem:` waits for a free place.",
        "Write a small `async def one(slug)` that does `async with sem:` around the fetch, then gather "
        "`one(slug)` for every slug.",
        "sem = asyncio.Semaphore(limit); async def one(slug): async with sem: return await fetch(session, "
        "'weather', slug); return await asyncio.gather(*(one(s) for s in slugs))",
    ],
    timeout=12,
)
async def check_bounded(ctx, weather_for):
    from ..upstream import payload

    _must_be_async(weather_for, "weather_for")
    api = _api()
    slugs = ["oslo", "rome", "lima", "pune", "kobe", "bonn"]
    for limit in (2, 3):
        api.reset()
        api.configure(latency={"weather": 0.15})
        try:
            got, wall = await ctx.call_timed(weather_for, slugs, limit, allow_block=0.05,
                                             what=f"`weather_for(slugs, {limit})`")
        finally:
            peak = _peak([c for c in api.calls if c.city in slugs])
            api.reset()
        _reject_unawaited(got, "the list")
        ctx.expect(isinstance(got, list) and len(got) == len(slugs),
                   expected=f"a list of {len(slugs)} answers, one per slug", got=f"{got!r}"[:100])
        ctx.expect(got == [payload("weather", s) for s in slugs],
                   expected="each city's weather, in the order of `slugs`", got=f"{got!r}"[:100],
                   nudge="asyncio.gather keeps the order of what you pass it.")
        ctx.expect(peak <= limit, expected=f"never more than {limit} calls in flight (limit={limit})",
                   got=f"{peak} at once",
                   nudge="Take the semaphore around each call (`async with sem:`), and create one semaphore "
                         "per call of weather_for, with the `limit` you were given.")
        ctx.expect(peak == limit, expected=f"{limit} calls in flight at once (limit={limit})",
                   got=f"at most {peak} at once, {wall:.2f} s in all",
                   nudge="The semaphore should bound the concurrency, not remove it: start every call with "
                         "`asyncio.gather`, and let the semaphore hold back the extra ones.")
    return "The semaphore lets `limit` calls through at a time: the server never sees more."


# --- 3. the coroutine that was never awaited -----------------------------------
@chapter.exercise(
    "never-awaited", "Find and fix the forgotten await",
    needs=["warm_cache"],
    hints=[
        "`refresh(slug)` makes a coroutine. Does anything ever run it?",
        "Collect the coroutines and run them together: `await asyncio.gather(*(refresh(s) for s in slugs))`.",
        "Return len(slugs) after the gather has finished.",
    ],
)
async def check_never_awaited(ctx, warm_cache):
    _must_be_async(warm_cache, "warm_cache")
    called, ran, made = [], [], []

    def refresh(slug):  # what the learner calls; its body runs only if awaited
        called.append(slug)

        async def body():
            await asyncio.sleep(0.1)
            ran.append(slug)
        made.append(body())
        return made[-1]

    slugs = ["oslo", "rome", "lima", "pune", "kobe"]
    try:
        got, wall = await ctx.call_timed(warm_cache, slugs, refresh, allow_block=0.05, what="`warm_cache`")
    finally:
        for coro in made:  # silence the 'never awaited' warning: the verdict says it
            coro.close()
    if called and not ran:
        raise Fail("every refresh to run", f"refresh() was called {len(called)} times, but its body ran 0 times",
                   "Calling an `async def` function only creates a coroutine; it runs when awaited. "
                   "That is the 'coroutine ... was never awaited' warning.")
    ctx.expect(sorted(ran) == sorted(slugs), expected=f"a refresh for each of {slugs}", got=f"refreshed {ran}",
               nudge="Refresh every slug you are given, once.")
    ctx.expect(got == len(slugs), expected=f"warm_cache to return {len(slugs)} (how many it refreshed)",
               got=repr(got)[:60])
    ctx.expect(wall < 0.3, expected="the five refreshes to overlap (about 0.1 s in all)",
               got=f"{wall:.2f} s: one after another",
               nudge="An `await` inside the for loop waits for each refresh in turn. Gather them instead.")
    return "Every coroutine is awaited, all at once."


# --- 4. I/O-bound or CPU-bound? Measure it -------------------------------------
def _jobs():
    from ..workloads import calibrate, spin

    loops = calibrate(0.06)

    async def download_report():   # named like I/O, but it computes
        spin(loops)

    async def crunch_numbers():    # named like CPU, but it waits
        await asyncio.sleep(0.06)

    async def resize_image():
        spin(loops)

    async def call_partner_api():
        await asyncio.sleep(0.06)

    return [(download_report, "cpu"), (crunch_numbers, "io"), (resize_image, "cpu"), (call_partner_api, "io")]


@chapter.exercise(
    "io-or-cpu", "I/O-bound or CPU-bound? Measure, don't guess",
    needs=["classify"],
    hints=[
        "Time one `await job()`, then time `await asyncio.gather(job(), job(), job(), job())`.",
        "Waiting jobs overlap: four take about as long as one. Computing jobs queue: four take about four "
        "times as long.",
        "return 'cpu' if four_copies > 2 * one_copy else 'io'",
    ],
    timeout=15,
)
async def check_io_or_cpu(ctx, classify):
    _must_be_async(classify, "classify")
    for job, want in _jobs():
        runs = []

        async def counted(job=job):
            runs.append(1)
            await job()
        counted.__name__ = job.__name__
        got = await ctx.call(classify, counted, what=f"`classify({job.__name__})`")
        ctx.expect(got in ("io", "cpu"), expected='"io" or "cpu"', got=repr(got)[:60])
        ctx.expect(len(runs) >= 2, expected="classify to run the job (several times) and time it",
                   got=f"it ran the job {len(runs)} time(s)",
                   nudge="The names lie on purpose: measure one run against several at once.")
        if got != want:
            kind = "waits (awaits asyncio.sleep)" if want == "io" else "computes (a Python loop, no await)"
            raise Fail(f'classify({job.__name__}) == "{want}"', f'"{got}"',
                       f"That job {kind}. Compare four copies run with gather to one copy: overlap means I/O-bound.")
    return "You measured it: waiting overlaps, computing queues."
