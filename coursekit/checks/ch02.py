"""Chapter 02: asyncio for Django developers.

The checks judge by structure wherever they can: what the upstream server logged (which calls
overlapped), the spans of the check's own coroutines, which tasks the learner's code left pending,
the timers it set on its event loop (a timeout per call is set as each call starts), and what it
returned. Where the task is about time (the 1 s deadline, "as soon as the answers are
in"), "too early" is judged on the wall clock (load only adds time), and "too late" like a blocked
loop (coursekit.lag.blame): the code went on past the moment it should have finished while its
own event loop was free (a ticker on that loop saw no stall): only the code can have waited then.
When the loop was held back for most of that time, nothing can be judged (Busy, the check runs
again).
"""
import asyncio
import functools
import gc
import inspect
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from ..exercises import UNAWAITED_USED, Busy, Chapter, Fail, Kind
from ..lag import Gaps, LoopLag
from .common import calls_for, fresh_upstream, peak, reject_unawaited, require_async

chapter = Chapter("02", "asyncio for Django developers")

FIVE = ("weather", "flights", "hotels", "events", "trains")

# Cities no example in the chapter uses; every check draws its own at random.
_CITIES = ("tromso", "arequipa", "hobart", "nakuru", "tartu", "ushuaia", "gdansk", "cusco", "leuven", "bergen",
           "matera", "nantes", "ghent", "split", "aarhus", "tampere", "coimbra", "brno", "lviv", "sapporo", "hue",
           "salta", "zadar", "kotor", "ohrid", "sintra", "mostar", "olomouc", "kaunas", "tbilisi", "yerevan",
           "oaxaca")

# --- nudges -------------------------------------------------------------------------------
# city-report
KEYS = chapter.nudge("W001", "not one entry per service",
                     "Return a dict with one entry per service in FIVE, named exactly like the service.")
WRONG_CITY = chapter.nudge("W002", "data not for this city",
                           "Pass the `slug` argument on to every fetch: the check asks for a different city every "
                           "time.")
PAIRING = chapter.nudge("W003", "answers under the wrong names",
                        "Each answer must sit under its own service's name. asyncio.gather returns the answers in "
                        "the order you passed the calls in (as_completed yields them as they finish): "
                        "dict(zip(FIVE, answers)).")
CALLS = chapter.nudge("W004", "not one call per service",
                      "Call each of the five services once per report: one fetch(session, service, slug) each.")
SEQUENTIAL = chapter.nudge("W005", "one call after another",
                           "`await` inside a loop (or five awaits in a row) waits for each call before starting the "
                           "next, so the report takes the sum of the latencies. Start them together with "
                           "asyncio.gather (or a TaskGroup).")
NOT_ALL_AT_ONCE = chapter.nudge("W006", "not all five at once",
                                "At most {peak} of the five calls were in flight together. Create all five "
                                "coroutines first and await them together with one asyncio.gather.")
WAITED = chapter.nudge("W007", "returned long after the answers were in",
                       "The report came back well after the last answer had arrived: a sleep guesses how long the "
                       "calls take. Await the calls themselves (gather, or the tasks), which returns as soon as the "
                       "last one is in.")
NO_DEADLINE = chapter.nudge("W008", "no deadline",
                            "The report waited for the slow service. Put the gather inside `async with "
                            "asyncio.timeout(1.0):`; it raises TimeoutError when the time is up.")
SWALLOWED = chapter.nudge("W009", "TimeoutError never reaches the caller",
                          "The deadline fired, but the caller never saw a TimeoutError. Do not catch it (or "
                          "re-raise it): the view that calls city_report decides what to answer.")
TOO_EARLY = chapter.nudge("W010", "gave up too early",
                          "The deadline for the whole report is 1.0 s: give the services that long.")
PER_CALL = chapter.nudge("W011", "a deadline per call",
                         "Each call got its own timeout, counted from when that call started. Here the event loop "
                         "was busy with other work for a moment when the report began, the calls started late, and "
                         "the report took well over 1 s. One deadline for the whole report: `async with "
                         "asyncio.timeout(1.0):` around the gather, entered as soon as city_report starts.")
PENDING = chapter.nudge("W012", "calls left running",
                        "When city_report returned or gave up, a call it had started was still running. "
                        "asyncio.wait(..., timeout=) returns when the time is up but leaves what is pending running: "
                        "cancel it (`for task in pending: task.cancel()`) before raising TimeoutError, or use "
                        "asyncio.timeout around gather, which cancels for you.")
RESULT_TOO_SOON = chapter.nudge("W013", "a task's result read before it finished",
                                "A task's result was read before the task had finished. Await the tasks (or gather "
                                "them) instead of sleeping and hoping they are done.")
TOO_LATE = chapter.nudge("W014", "gave up too late",
                         "The deadline for the whole report is 1.0 s: the report gave up later than that.")
# bounded
NOT_A_LIST = chapter.nudge("W020", "not one answer per slug",
                           "Return a list with one answer per slug, as asyncio.gather returns it.")
WRONG_WEATHER = chapter.nudge("W021", "not these cities' weather",
                              "Fetch the weather for each slug you are given, exactly as given: the check uses "
                              "different cities every time.")
ORDER = chapter.nudge("W022", "answers out of order",
                      "Return the answers in the order of `slugs`: asyncio.gather keeps the order you pass it; "
                      "appending each answer as its call finishes does not.")
OVER_LIMIT = chapter.nudge("W023", "more than `limit` calls in flight",
                           "Take the semaphore around each call (`async with sem:` inside the per-slug coroutine), "
                           "with one Semaphore(limit) per call of weather_for.")
UNBOUNDED = chapter.nudge("W024", "no limit at all",
                          "Every call was in flight at once: nothing held them back. Create asyncio.Semaphore(limit) "
                          "inside weather_for and take it (`async with sem:`) around each fetch.")
SERIAL = chapter.nudge("W025", "one call at a time",
                       "Only one call was ever in flight, whatever the limit: that is no concurrency at all. Start "
                       "every call with asyncio.gather and let a Semaphore(limit) hold back the extra ones (not "
                       "Semaphore(1), not an await in a for loop).")
IGNORES_LIMIT = chapter.nudge("W026", "the limit ignored",
                              "Whatever limit was given, {peak} calls ran at once: create the semaphore with the "
                              "`limit` argument, not a number of your own.")
UNDER_LIMIT = chapter.nudge("W027", "fewer than `limit` in flight",
                            "The semaphore should bound the concurrency, not reduce it: one Semaphore(limit) per "
                            "call of weather_for, taken around each fetch, with every fetch started by gather.")
SHARED_SEMAPHORE = chapter.nudge("W028", "one semaphore for every call",
                                 "The semaphore was made once, outside weather_for: it belongs to the event loop "
                                 "that first used it, and every caller shares its count. Create it inside "
                                 "weather_for, one per call, with that call's `limit`.")
# never-awaited
NEVER_RAN = chapter.nudge("W040", "the coroutines never ran",
                          "Calling an `async def` function only creates a coroutine; its body runs when it is "
                          "awaited. That is the 'coroutine ... was never awaited' warning.")
NOT_FINISHED = chapter.nudge("W041", "returned before the refreshes finished",
                             "warm_cache returned while refreshes were still pending: a task from create_task or "
                             "ensure_future, or a gather nobody awaits, is cancelled or left behind when you return. "
                             "Await them before returning: `await asyncio.gather(...)`.")
EACH_ONCE = chapter.nudge("W042", "not one refresh per slug",
                          "Refresh every slug you are given, once: one refresh(slug) per slug, and await every "
                          "coroutine you make (one that is made and never awaited never runs).")
COUNT = chapter.nudge("W043", "not the number refreshed",
                      "Return how many slugs were refreshed: len(slugs), for whatever list you are given.")
ONE_BY_ONE = chapter.nudge("W044", "refreshes one after another",
                           "At most {peak} refreshes ran at the same time. An `await` inside the for loop waits for "
                           "each refresh in turn: gather them instead, all at once.")
SLEPT = chapter.nudge("W045", "waited longer than the work",
                      "warm_cache returned well after the last refresh had finished: a sleep guesses how long the "
                      "work takes. Await the refreshes themselves (gather), which returns as soon as they are done.")
# io-or-cpu
NOT_RUN = chapter.nudge("W060", "the job was never run",
                        "classify never ran the job: the names lie on purpose. Run it, and time it.")
RAN_ONCE = chapter.nudge("W061", "one run cannot tell",
                         "One run alone cannot tell waiting from computing (a job of either kind takes some time). "
                         "Time one run, then four copies at once with gather, and compare.")
UNFINISHED = chapter.nudge("W062", "copies of the job left unfinished",
                           "classify returned while copies of the job were still pending or never started: await "
                           "the gather (and every job() you call) before you read the clock.")
WORDS = chapter.nudge("W063", "not \"io\" or \"cpu\"", 'Return exactly "io" or "cpu" (lower case, a str).')
WRONG_KIND = chapter.nudge("W064", "measured the wrong way",
                           "That job {does}. Compare four copies run at once (gather) with one copy: waiting copies "
                           "overlap (four take about as long as one), computing copies queue (four take about four "
                           "times as long). A fixed number of seconds cannot tell them apart: the jobs' lengths "
                           "vary.")


@chapter.explainer
def _explain(exc, what):
    if isinstance(exc, RuntimeError) and str(exc) == "await wasn't used with future":
        # A future (a gather, a task) iterated or used without await: the C Future raises this,
        # with no frame of its own to tell it by.
        return Fail(f"{what} to run without an error", f"{type(exc).__name__}: {exc}", UNAWAITED_USED,
                    kind=Kind.UNAWAITED, cause=exc)
    if isinstance(exc, asyncio.InvalidStateError):
        return Fail(f"{what} to run without an error", f"{type(exc).__name__}: {exc}", RESULT_TOO_SOON,
                    kind=Kind.ERROR, cause=exc)
    if isinstance(exc, RuntimeError) and _raised_in(exc, "_get_loop", "mixins.py"):
        # An asyncio primitive (Semaphore, Lock, ...) made once and used from a second event loop.
        return Fail(f"{what} to run without an error", f"{type(exc).__name__}: {exc}", SHARED_SEMAPHORE,
                    kind=Kind.ERROR, cause=exc)
    return None


def _raised_in(exc, function, filename):
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    return code is not None and code.co_name == function and code.co_filename.endswith(filename)


# --- running learner code ---------------------------------------------------------------------
def _exercise(slug, title, **options):
    """chapter.exercise, and a failed check collects the learner's garbage itself: futures,
    sessions and coroutines dropped by a wrong answer report themselves ("never retrieved",
    "never awaited", "Unclosed client session") when collected, and must not be blamed on the next
    check, which may be a right answer. The tracebacks that keep them alive are let go first."""
    def register(check_fn):
        @functools.wraps(check_fn)
        async def check(ctx, *answers):
            try:
                return await check_fn(ctx, *answers)
            except Fail as fail:
                _let_go(fail)
                gc.collect()
                raise fail.with_traceback(None) from None
        return chapter.exercise(slug, title, **options)(check)
    return register


def _let_go(exc, depth=0):
    """Drop the tracebacks (and so the frames, with the learner's objects) an exception keeps."""
    if exc is None or depth > 8:
        return
    exc.__traceback__ = None
    for linked in (getattr(exc, "cause", None), exc.__cause__, exc.__context__):
        if linked is not exc:
            _let_go(linked, depth + 1)


def _quiet(value, depth=0):
    """Mark the futures and tasks inside a returned value as seen: the verdict already says they
    were never awaited."""
    if isinstance(value, asyncio.Future):
        if value.done() and not value.cancelled():
            value.exception()
        elif not value.done():
            value.add_done_callback(lambda f: f.cancelled() or f.exception())
        return
    if depth < 4 and isinstance(value, (dict, list, tuple, set)):
        for item in (value.values() if isinstance(value, dict) else value):
            _quiet(item, depth + 1)


@dataclass
class Attempt:
    """One call of learner code, observed from inside its own event loop."""

    value: object = None
    error: Exception | None = None
    started: float = 0.0
    ended: float = 0.0
    left: list = field(default_factory=list)  # tasks it started and left running (not done, not being cancelled)
    loop_gaps: Gaps = field(default_factory=Gaps)  # stretches its event loop could not run anything else
    busy_start: float = 0.0  # when the check's own hold on the loop (busy_first) began
    busy_end: float = 0.0  # and when it ended
    timers: list = field(default_factory=list)  # (when scheduled, delay) of every timer set on its loop
    server_gaps: Gaps = field(default_factory=Gaps)  # stalls of the loop that serves the upstream meanwhile

    @property
    def seconds(self):
        return self.ended - self.started

    def late(self, due, allowed, what):
        """Did the code go on for more than `allowed` seconds after `due`, of its own doing? True
        when its loop was free for most of the excess (it was waiting for something); Busy when the
        loop was stalled for most of it (a busy machine holds timers back too)."""
        excess = self.ended - due
        if excess <= allowed:
            return False
        stalled = _stalls(self.loop_gaps, due, self.ended)
        if stalled < excess / 2:
            return True
        raise Busy(f"{what} to finish within {allowed:g} s of {due - self.started:.2f} s (its event loop was "
                   f"held up {stalled:.2f} s of the {excess:.2f} s after that)")


async def _attempt(fn, *args, busy_first=0.0):
    """Await fn(*args) and keep what happened, errors included, so that the check decides in
    which order to judge it. busy_first: seconds the loop is kept busy (as by another request's
    work) right after fn starts, before anything it schedules can run."""
    loop = asyncio.get_running_loop()
    async with LoopLag() as lag:
        before = asyncio.all_tasks()
        attempt = Attempt(loop_gaps=lag.gaps)
        if busy_first:
            def hold():
                attempt.busy_start = time.perf_counter()
                time.sleep(busy_first)
                attempt.busy_end = time.perf_counter()
            loop.call_soon(hold)

        def call_at(when, callback, *args, context=None):  # every timeout and sleep passes here
            attempt.timers.append((time.perf_counter(), when - loop.time()))
            return type(loop).call_at(loop, when, callback, *args, context=context)

        loop.call_at = call_at  # this loop only; it is the learner's own, closed after the call
        attempt.started = attempt.busy_start = attempt.busy_end = time.perf_counter()
        try:
            attempt.value = await fn(*args)
        except Exception as exc:  # judged by the check; BaseException (a stop) goes on up
            attempt.error = exc
        finally:
            del loop.call_at
        attempt.ended = time.perf_counter()
        # What it left running, seen before anything else runs on this loop.
        me = asyncio.current_task()
        attempt.left = [t for t in asyncio.all_tasks() - before
                        if t is not me and not t.done() and not t.cancelling()]
    _quiet(attempt.value)
    if attempt.left:  # stop them quietly: the verdict says it
        for task in attempt.left:
            task.cancel()
        done, _ = await asyncio.wait(attempt.left, timeout=2)
        for task in done:
            if not task.cancelled():
                task.exception()
    return attempt


async def _run(ctx, fn, *args, what, busy_first=0.0):
    """One Attempt of fn(*args) on a guarded thread; its loop is judged by the caller (_observe).
    The loop this runs on serves the upstream API: its stalls are kept too."""
    async with LoopLag() as server:
        attempt = await ctx.call(_attempt, fn, *args, busy_first=busy_first, what=what)
    attempt.server_gaps = server.gaps
    return attempt


class _Unsure:
    """What a busy machine kept a check from judging. A check goes on past it, so that a wrong
    answer still fails on what can be judged; only an answer right in everything else ends Busy
    (and the framework runs the check once more)."""

    def __init__(self):
        self.busy = None

    def keep(self, busy):
        self.busy = self.busy or busy

    def judge(self, judge, *args):
        try:
            judge(*args)
        except Busy as busy:
            self.keep(busy)

    def settle(self):
        if self.busy is not None:
            raise self.busy


async def _observe(ctx, unsure, step, what, judge):
    """step() -> (attempt, evidence), with fixtures of its own (it may run twice); judge(attempt,
    evidence) raises the Fail for a wrong answer. The event loop is judged first:

    - blocked: step() runs once more, and only a loop blocked again fails (a thread that a crowded
      machine put aside looks blocked for a moment; code that blocks its loop blocks it every time);
    - unsure (the machine was busy at the same moment): kept in `unsure`, and the answer is judged
      on everything else.
    """
    for _ in range(2):
        attempt, evidence = await step()
        try:
            ctx.judge_loop(attempt.loop_gaps, 0.05, what)
            loop = None
        except Fail as fail:
            loop = fail
        if loop is None or loop.kind is not Kind.BLOCKED:
            break
    else:
        raise loop
    if loop is not None:
        unsure.keep(loop)
    unsure.judge(judge, attempt, evidence)
    return attempt, evidence


def _stalls(gaps, start, end, worst=8):
    """How much of [start, end] stalls can have delayed a chain of work: the `worst` longest stalls
    in it. Finishing after a deadline takes a handful of loop iterations, each delayed at most by
    one stall; an idle loop on a crowded machine also wakes a little late at every tick, and those
    many small delays hold nothing back."""
    overlaps = sorted((min(e, end) - max(s, start) for s, e in gaps.spans if s < end and e > start), reverse=True)
    return sum(overlaps[:worst])


def _code_held_back(ctx, attempt, starts, what):
    """Calls that nothing holds back start within milliseconds of each other. These started
    further apart than the shortest call lasts: True if the code held them back; Busy if a thread
    involved was stalled for half that time or more (the learner's loop that sends the requests,
    the loop that serves them, or the control thread: the machine)."""
    first, last = min(starts), max(starts)
    stalled = max(_stalls(gaps, first, last) for gaps in (ctx.control.gaps, attempt.loop_gaps, attempt.server_gaps))
    if stalled < (last - first) / 2:
        return True
    raise Busy(f"{what}: calls that should start together started {last - first:.2f} s apart while the "
               "machine was busy")


# --- 1. five services under a deadline ----------------------------------------------------
def _latencies():
    """Five different latencies, far below 1 s, not in FIVE's order (answers paired with services
    in the order they arrive come out wrong)."""
    while True:
        values = random.sample([0.12, 0.15, 0.18, 0.21, 0.24, 0.27], 5)
        if values != sorted(values):
            return dict(zip(FIVE, values))


def _report_fail(report, slug):
    """Fail for a returned report that is not the five answers for `slug`, or None."""
    from ..upstream import payload

    reject_unawaited(report, "the report")
    if not isinstance(report, dict):
        raise Fail("a dict: service name -> that service's answer", f"{type(report).__name__}: {report!r}", KEYS)
    if sorted(map(str, report)) != sorted(FIVE):
        raise Fail(f"the keys {list(FIVE)}", f"{list(report)}", KEYS)
    want = {service: payload(service, slug) for service in FIVE}
    wrong = [s for s in FIVE if report[s] != want[s]]
    if wrong:
        answers = sorted(map(repr, report.values()))
        if answers == sorted(map(repr, want.values())):
            raise Fail("each service's answer under that service's name",
                       f"{', '.join(wrong)} hold another service's answer", PAIRING)
        raise Fail(f"the five answers for the city you were given ({slug!r})",
                   f"different data for {', '.join(wrong)}", WRONG_CITY)
    return want


@_exercise(
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
    require_async(city_report, "city_report")
    unsure = _Unsure()
    first, second = random.sample(_CITIES, 2)
    latency = _latencies()

    # 1. All answers in time: the right data, five calls at once, back as soon as the last is in.
    what = f"`city_report({first!r})`"

    async def answers_in_time():
        async with fresh_upstream(latency=latency) as api:
            return await _run(ctx, city_report, first, what=what), calls_for(api, first)

    def judge(attempt, calls):
        if len(calls) > 1 and peak(calls) == 1:  # before any error: sequential awaits may run out of time
            raise Fail("the five calls in flight together, finishing in about the slowest one",
                       "they ran one at a time, each after the previous one had finished", SEQUENTIAL)
        if isinstance(attempt.error, TimeoutError):
            if attempt.seconds < 0.97:  # the answers were due well before 1 s: the deadline is too short
                raise Fail("all five answers (the slowest takes well under 1 s)",
                           f"TimeoutError after {attempt.seconds:.2f} s", TOO_EARLY)
            # Concurrent calls that took over 1 s: code that waits for something else as well, or a
            # machine that held the loop back (then nothing can be judged: Busy).
            attempt.late(attempt.started + max(latency.values()), 0.3, what)
        if attempt.error is not None:
            raise chapter.explain(attempt.error, what)
        _report_fail(attempt.value, first)
        if attempt.left:
            raise Fail(f"{what} to finish everything it started", f"{len(attempt.left)} task(s) still running",
                       PENDING)
        made = Counter(c.service for c in calls)
        if made != Counter(FIVE):
            raise Fail("one call to each of the five services", f"calls: {dict(made)}", CALLS)
        at_once = peak(calls)
        if at_once < 5:
            # Some call started after another had ended (0.12 s or more after the first started):
            # concurrent calls start within milliseconds, unless the machine held them back then.
            _code_held_back(ctx, attempt, [c.start for c in calls], what)
            raise Fail("all five calls in flight together", f"at most {at_once} at once",
                       NOT_ALL_AT_ONCE.format(peak=at_once))
        last_answer = max(c.end for c in calls)
        if attempt.late(last_answer, 0.12, what):
            raise Fail("the report as soon as the last answer is in",
                       f"it came back {attempt.ended - last_answer:.2f} s after the last answer", WAITED)

    await _observe(ctx, unsure, answers_in_time, what, judge)

    # 2. One service hangs: a TimeoutError about 1 s after city_report was called. The loop is kept
    # busy for a moment first, so a timeout per call (which starts late) shows.
    slow = random.choice(FIVE)
    hang = round(random.uniform(1.3, 1.5), 2)
    busy = 0.5
    what = f"`city_report({second!r})` with {slow} taking {hang:g} s"
    async with fresh_upstream(latency={**latency, slow: hang}) as api:
        attempt = await _run(ctx, city_report, second, what=what, busy_first=busy)
    took = attempt.seconds
    expected = "TimeoutError about 1 s after city_report was called"
    if attempt.error is None:
        reject_unawaited(attempt.value, "the report")
        if attempt.value == {s: _payload(s, second) for s in FIVE}:
            raise Fail(expected, f"it waited for {slow} and returned after {took:.1f} s", NO_DEADLINE)
        raise Fail(expected, f"it returned {attempt.value!r} after {took:.1f} s", SWALLOWED)
    if not isinstance(attempt.error, TimeoutError):
        fail = chapter.explain(attempt.error, what)
        if fail.nudge is not RESULT_TOO_SOON and fail.kind is not Kind.UNAWAITED and took >= 0.95:
            raise Fail(expected, fail.got, SWALLOWED, cause=attempt.error)
        raise fail
    if took < 0.97:  # load only ever adds time: gave up before the deadline
        raise Fail(expected, f"TimeoutError after {took:.2f} s", TOO_EARLY)
    if attempt.left:
        raise Fail("the slow call cancelled when the report gives up",
                   f"{len(attempt.left)} task(s) still running after the TimeoutError", PENDING)
    # Timeouts per call are set when each call starts, after the hold: every timer of about a
    # deadline's length was set then, none when city_report began (seen on its loop, whatever
    # the machine's load).
    deadlines = [at for at, delay in attempt.timers if 0.5 <= delay <= 2.5]
    if deadlines and min(deadlines) >= attempt.busy_end:
        raise Fail(expected, f"TimeoutError after {took:.2f} s, from timeouts set as each call started", PER_CALL)

    def in_time(attempt):
        if attempt.late(attempt.started + 1.0, 0.1, what):
            # A deadline set when city_report began, only longer than 1 s; or else (no timer of a
            # deadline's length seen) a timeout per call, if it fired 1 s after the hold or later.
            nudge = TOO_LATE if deadlines or attempt.ended - attempt.busy_end < 0.97 else PER_CALL
            raise Fail(expected, f"TimeoutError after {took:.2f} s", nudge)

    unsure.judge(in_time, attempt)
    unsure.settle()
    return "Five answers in about the time of the slowest, and a hard stop when one hangs."


def _payload(service, slug):
    from ..upstream import payload

    return payload(service, slug)


# --- 2. a semaphore bounds the concurrency -------------------------------------------------
def _bounded_slugs(cities):
    """Slugs that carry their own latency (the upstream reads ?latency=): the first city answers
    last of its wave, so answers kept in the order they finish come out of order."""
    latencies = [0.25] + [round(random.uniform(0.12, 0.18), 2) for _ in cities[1:]]
    return [f"{city}?latency={lat:g}" for city, lat in zip(cities, latencies)]


def _judge_list(got, cities):
    reject_unawaited(got, "the list")
    want = [_payload("weather", city) for city in cities]
    if not isinstance(got, (list, tuple)):
        raise Fail(f"a list of {len(cities)} answers, one per slug", f"{type(got).__name__}: {got!r}", NOT_A_LIST)
    got = list(got)
    if len(got) != len(cities):
        strangers = [item for item in got if item not in want]
        raise Fail(f"a list of {len(cities)} answers, one per slug", f"{len(got)} answers: {got!r}",
                   WRONG_WEATHER if strangers else NOT_A_LIST)
    if got == want:
        return
    if sorted(map(repr, got)) == sorted(map(repr, want)):
        raise Fail("each city's weather, in the order of `slugs`", "the right answers in another order", ORDER)
    raise Fail("each city's weather, in the order of `slugs`", f"{got!r}", WRONG_WEATHER)


@_exercise(
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
    require_async(weather_for, "weather_for")
    cities = random.sample(_CITIES, 18)
    groups = [cities[i * 6:(i + 1) * 6][:random.randint(5, 6)] for i in range(3)]
    solo_limit, *pair_limits = random.sample([2, 3, 4], 3)
    limits = [solo_limit, *sorted(pair_limits)]
    slugs = [_bounded_slugs(group) for group in groups]
    found = []  # the upstream's calls, one list per group

    # One call on its own, then two at once on a new event loop: each keeps its own limit.
    async def alone():
        async with fresh_upstream() as api:
            return await _run(ctx, weather_for, slugs[0], limits[0], what=what), [_calls(api, groups[0])]

    async def two_at_once():
        async def both():
            return await asyncio.gather(weather_for(slugs[1], limits[1]), weather_for(slugs[2], limits[2]),
                                        return_exceptions=True)

        async with fresh_upstream() as api:
            return await _run(ctx, both, what=what), [_calls(api, group) for group in groups[1:]]

    def judge(attempt, calls, groups):
        if attempt.error is not None:
            raise chapter.explain(attempt.error, what)
        results = attempt.value if len(groups) > 1 else [attempt.value]
        for result, group in zip(results, groups):
            if isinstance(result, BaseException):
                raise chapter.explain(result, what)
            _judge_list(result, group)

    unsure = _Unsure()
    what = f"`weather_for(slugs, {limits[0]})`"
    attempt, calls = await _observe(ctx, unsure, alone, what,
                                    lambda attempt, calls: judge(attempt, calls, groups[:1]))
    found.extend(calls)
    runs = [attempt]
    what = f"two calls at once, `weather_for(..., {limits[1]})` and `weather_for(..., {limits[2]})`"
    attempt, calls = await _observe(ctx, unsure, two_at_once, what,
                                    lambda attempt, calls: judge(attempt, calls, groups[1:]))
    found.extend(calls)
    runs += [attempt, attempt]

    def held_back(i):
        """Group i had fewer than its limit in flight: by the code's doing? Its first `limit` calls
        start within milliseconds when nothing holds them back, and every call takes 0.12 s or more;
        a machine stalled while they started makes the answer Busy instead."""
        return _code_held_back(ctx, runs[i], sorted(c.start for c in found[i])[:limits[i]], what)

    sizes = [len(group) for group in groups]
    peaks = [peak(calls) for calls in found]
    judged = f"limits {limits}: at most {peaks} calls in flight"
    if all(p == 1 for p in peaks):
        raise Fail("`limit` calls in flight at once", judged, SERIAL)
    if peaks == sizes:
        raise Fail("never more than `limit` calls in flight", judged, UNBOUNDED)
    # A busy machine can hold calls back, never start more than the code lets through: over the
    # limit is proof, under it is judged by held_back() unless every group is under.
    over = [p > limit for p, limit in zip(peaks, limits)]
    under = [p < limit for p, limit in zip(peaks, limits)]
    if len(set(peaks)) == 1:  # the same number in flight whatever the limit
        if any(over) or all(under) or all(held_back(i) for i, u in enumerate(under) if u):
            raise Fail("as many calls in flight as the limit given", judged, IGNORES_LIMIT.format(peak=peaks[0]))
    for limit, is_over in zip(limits, over):
        if is_over:
            raise Fail(f"never more than {limit} calls in flight (limit={limit})", judged, OVER_LIMIT)
    for i, limit in enumerate(limits):
        if under[i] and (all(under) or held_back(i)):
            raise Fail(f"{limit} calls in flight at once (limit={limit})", judged, UNDER_LIMIT)
    unsure.settle()
    return "The semaphore lets `limit` calls through at a time: the server never sees more."


def _calls(api, cities):
    return [c for c in api.calls if c.city in set(cities)]


# --- 3. the coroutine that was never awaited -----------------------------------------------
@dataclass
class _Span:
    service: str
    start: float
    end: float = math.inf


@_exercise(
    "never-awaited", "Find and fix the forgotten await",
    needs=["warm_cache"],
    hints=[
        "`refresh(slug)` makes a coroutine. Does anything ever run it?",
        "Collect the coroutines and run them together: `await asyncio.gather(*(refresh(s) for s in slugs))`.",
        "Return len(slugs) after the gather has finished.",
    ],
)
async def check_never_awaited(ctx, warm_cache):
    require_async(warm_cache, "warm_cache")
    # Two calls with different numbers of slugs: the count must come from the list given.
    unsure = _Unsure()
    for size in random.sample([3, 4, 6, 7, 8], 2):
        await _warm_once(ctx, unsure, warm_cache, random.sample(_CITIES, size))
    unsure.settle()
    return "Every coroutine is awaited, all at once."


async def _warm_once(ctx, unsure, warm_cache, slugs):
    lengths = {slug: round(random.uniform(0.05, 0.15), 3) for slug in slugs}
    what = f"`warm_cache(slugs, refresh)` with {len(slugs)} slugs"

    async def step():
        called, spans, made = [], [], []

        async def body(slug):
            span = _Span(slug, time.perf_counter())
            spans.append(span)
            await asyncio.sleep(lengths.get(slug, 0.1))
            span.end = time.perf_counter()

        def refresh(slug):  # an async function to the learner: it returns a coroutine
            called.append(slug)
            made.append(body(slug))
            return made[-1]

        inspect.markcoroutinefunction(refresh)
        try:
            return await _run(ctx, warm_cache, list(slugs), refresh, what=what), (called, spans)
        finally:
            for coro in made:  # the ones never started: closed, so no warning (the verdict says it)
                if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                    coro.close()

    def judge(attempt, evidence):
        called, spans = evidence
        if attempt.error is not None:
            raise chapter.explain(attempt.error, what)
        reject_unawaited(attempt.value, "what warm_cache returned")
        finished = [s for s in spans if s.end <= attempt.ended]
        if attempt.left or len(finished) < len(spans):
            raise Fail("every refresh finished before warm_cache returns",
                       f"{len(slugs) - len(finished)} of {len(slugs)} were still pending when it returned",
                       NOT_FINISHED)
        if called and not spans:
            raise Fail("every refresh to run",
                       f"refresh() was called {len(called)} times, but its body ran 0 times", NEVER_RAN)
        if Counter(called) != Counter(slugs) or Counter(s.service for s in spans) != Counter(slugs):
            raise Fail(f"one refresh for each of the {len(slugs)} slugs, each run",
                       f"refresh() called {len(called)} times, {len(spans)} bodies ran", EACH_ONCE)
        if attempt.value != len(slugs) or isinstance(attempt.value, bool):
            raise Fail(f"warm_cache to return {len(slugs)} (how many it refreshed)", repr(attempt.value), COUNT)
        at_once = peak(spans)
        if at_once < len(slugs):
            raise Fail(f"the {len(slugs)} refreshes to overlap, all at once",
                       f"at most {at_once} ran at the same time", ONE_BY_ONE.format(peak=at_once))
        last = max(s.end for s in spans)
        if attempt.late(last, 0.1, what):
            raise Fail("warm_cache to return as soon as the refreshes are done",
                       f"it returned {attempt.ended - last:.2f} s after the last one", SLEPT)

    await _observe(ctx, unsure, step, what, judge)


# --- 4. I/O-bound or CPU-bound? Measure it -------------------------------------------------
def _loops_per_second():
    """spin() iterations per second of wall time, here and now: the median of short probes, so
    that a CPU job of "0.1 s" takes about that long on this machine as loaded as it is."""
    from ..workloads import spin

    probe, took = 50_000, []
    for _ in range(5):
        started = time.perf_counter()
        spin(probe)
        took.append(time.perf_counter() - started)
    return probe / max(sorted(took)[2], 1e-4)


# Every name suggests the other kind of work.
_IO_NAMED = ("download_report", "call_partner_api", "fetch_prices", "wait_for_queue", "read_feed")
_CPU_NAMED = ("crunch_numbers", "resize_image", "compute_hashes", "render_pdf", "sort_bookings")


@dataclass
class _Job:
    kind: str          # "io" (it waits) or "cpu" (it computes)
    seconds: float     # how long one copy takes on a free machine
    name: str
    loops: int = 0
    made: list = field(default_factory=list)
    spans: list = field(default_factory=list)

    def function(self):
        from ..workloads import spin

        async def body():
            span = _Span(self.name, time.perf_counter())
            self.spans.append(span)
            if self.kind == "cpu":
                spin(self.loops)
            else:
                await asyncio.sleep(self.seconds)
            span.end = time.perf_counter()

        def job():
            self.made.append(body())
            return self.made[-1]

        job.__name__ = job.__qualname__ = self.name
        return inspect.markcoroutinefunction(job)

    def close(self):
        for coro in self.made:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()


def _jobs(speed):
    """Two computing and two waiting jobs, of different lengths, different at every run, so that no
    fixed number of seconds separates them: one copy of the short CPU job, and even four of them,
    take less time than the long waiting job; the long CPU job takes longer than the short waiting
    one. Every job is long next to the stalls of a busy machine (tens of ms)."""
    cpu_names, io_names = random.sample(_IO_NAMED, 2), random.sample(_CPU_NAMED, 2)
    jobs = [
        _Job("io", random.uniform(0.08, 0.1), io_names[0]),
        _Job("cpu", random.uniform(0.045, 0.06), cpu_names[0]),
        _Job("io", random.uniform(0.3, 0.36), io_names[1]),
        _Job("cpu", random.uniform(0.12, 0.15), cpu_names[1]),
    ]
    for job in jobs:
        job.loops = max(1, int(speed * job.seconds)) if job.kind == "cpu" else 0
    return jobs  # the shortest first: most wrong methods fail on one of those


async def _classify_once(ctx, classify, job):
    function = job.function()
    what = f"`classify({job.name})`"
    try:
        attempt = await _run(ctx, classify, function, what=what)
    finally:
        job.close()
    if attempt.error is not None:
        raise chapter.explain(attempt.error, what)
    reject_unawaited(attempt.value, what)
    finished = [s for s in job.spans if s.end <= attempt.ended]
    if attempt.left or len(finished) < len(job.made):
        raise Fail(f"{what} to await every copy of the job it starts",
                   f"{len(job.made)} made, {len(finished)} finished when it returned", UNFINISHED)
    if not finished:
        raise Fail(f"{what} to run the job and time it", "it never ran the job", NOT_RUN)
    if len(finished) == 1:
        raise Fail(f"{what} to run the job several times and compare", "it ran the job once", RAN_ONCE)
    if attempt.value not in ("io", "cpu") or not isinstance(attempt.value, str):
        raise Fail('"io" or "cpu"', repr(attempt.value), WORDS)
    return attempt.value, _disturbed(ctx, job, attempt)


def _disturbed(ctx, job, attempt):
    """Could the machine have misled a sound measurement? The control thread was held up, or the
    copies themselves ran irregularly (computing copies of uneven length, waiting copies late)."""
    if ctx.control.gaps.within(attempt.started, attempt.ended) > 0.02:
        return True
    took = [s.end - s.start for s in job.spans]
    if job.kind == "cpu":
        return max(took) > 1.5 * min(took)
    return max(took) > job.seconds + 0.03


@_exercise(
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
    require_async(classify, "classify")
    speed = await asyncio.to_thread(_loops_per_second)
    for job in _jobs(speed):
        got, disturbed = await _classify_once(ctx, classify, job)
        if got != job.kind and disturbed:
            # A measurement can be unlucky on a busy machine; a wrong method is wrong again.
            again = _Job(job.kind, job.seconds, job.name, job.loops)
            got, _ = await _classify_once(ctx, classify, again)
        if got != job.kind:
            does = "waits (it awaits asyncio.sleep)" if job.kind == "io" else "computes (a Python loop, no await)"
            raise Fail(f'classify({job.name}) == "{job.kind}"', f'"{got}"', WRONG_KIND.format(does=does))
    return "You measured it: waiting overlaps, computing queues."
