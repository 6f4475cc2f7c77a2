"""Chapter 01: sync Django, request by request."""
import json
import math
import random
import threading
import time

from ..exercises import Chapter, Fail
from ..learner_slots import dotted
from .common import fresh_upstream, require_callable

chapter = Chapter("01", "Sync Django, request by request")

# --- nudges ---------------------------------------------------------------------------
RETURN_RESPONSE = chapter.nudge("W001", "the view's response does not come through",
                                "Return the response that get_response(request) gave you, so the view's own "
                                "answer gets out (with your header added).")
NO_HEADER = chapter.nudge("W002", "no X-Request-Count header",
                          "Set it on the response: response['X-Request-Count'] = str(number).")
NOT_CONSECUTIVE = chapter.nudge("W003", "numbers not 1, 2, 3, ...",
                                "Count inside the per-request function, and keep the count outside it (in the "
                                "factory) so it survives from one request to the next.")
COUNT_PER_STACK = chapter.nudge("W004", "the count outlives the middleware",
                                "A new middleware stack (a new server process) starts counting at 1: keep the count "
                                "in the factory, not in a module-level global.")
SHARED_NUMBER = chapter.nudge("W005", "two requests got the same number",
                              "Requests served at the same time (a threaded WSGI server) read the count after the "
                              "view ran, when another request had already moved it on. Take the request's number "
                              "into a local variable before calling get_response (next(itertools.count(1)) is "
                              "atomic; `count += 1` is not).")
NOT_A_RESPONSE = chapter.nudge("W010", "a view returns a response",
                               "A view returns an HttpResponse: `return JsonResponse({...})`, not a dict.")
NOT_JSON = chapter.nudge("W011", "not JSON", "Use JsonResponse, which serialises a dict for you.")
MISSING_KEYS = chapter.nudge("W012", "keys missing", "Add {missing}: the task's table lists every key.")
WRONG_DATA = chapter.nudge("W013", "data not from this city's services",
                           "Take each value from the upstream answers for the city in the URL (`slug`): weather "
                           "gives summary and temp_c, hotels gives from_eur.")
CALLS = chapter.nudge("W014", "not one call to each service",
                      "Fetch each service once per request: one call to weather, one to hotels (a second call to "
                      "the same service costs another full latency).")
NOT_SECONDS = chapter.nudge("W020", "not a number of seconds", "Return a number (seconds), not {kind}.")
ROUND_UP = chapter.nudge("W021", "waves not rounded up",
                         "A worker cannot serve part of a request: a wave that is only partly full still takes a "
                         "whole service time. Round the number of waves up (math.ceil), never down.")
ONE_WORKER = chapter.nudge("W022", "as if there were one worker",
                           "That is what one worker would take. Here the workers serve side by side.")
NO_QUEUE = chapter.nudge("W023", "as if nobody queued",
                         "That would need a worker for every client. Which clients have to wait for a free worker?")
QUEUE = chapter.nudge("W024", "the queue's arithmetic",
                      "Picture the queue: each worker takes one request, the rest wait for a free worker; every "
                      "wave takes one service time.")
NO_POOL_HELPS = chapter.nudge("W030", "no pool size helps",
                              "Here the service time alone is longer than the deadline: no pool size helps. Return "
                              "None.")
WHOLE_WORKERS = chapter.nudge("W031", "workers are whole",
                              "Workers come in whole numbers: return an int (round up, never down).")
TOO_MANY = chapter.nudge("W032", "not the smallest pool",
                         "{got} workers meet the deadline, but fewer do too. Each worker costs a thread or a process "
                         "(memory): find the smallest.")
TOO_FEW = chapter.nudge("W033", "too few workers",
                        "With {got} workers the last client waits {wait:g} s, past the deadline.")
SMALLEST = chapter.nudge("W034", "the smallest pool",
                         "Find the smallest pool whose last response arrives by the deadline.")


# --- 1. a middleware that counts requests -----------------------------------------------
def _drive_middleware(factory, sequential=3, concurrent=6):
    """Two fresh WSGI stacks with the learner's middleware in front of a slow view.

    Stack one: `sequential` requests one after another. Stack two (a new server, so a new
    count): `concurrent` requests at the same time from threads, as a threaded server sends them.
    Returns (statuses+headers+bodies of stack one, numbers of stack two)."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import JsonResponse
    from django.test.utils import override_settings
    from django.urls import path

    from .. import wsgi
    from ..routes import mounted

    def slow_view(request):
        time.sleep(0.05)  # long enough for concurrent requests to overlap in the middleware
        return JsonResponse({"status": "ok"})

    with mounted(path("ck01/slow/", slow_view)):
        with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, dotted(factory, "request_counter")]):
            first, second = WSGIHandler(), WSGIHandler()
        sequential_results = [wsgi.call(first, "/ck01/slow/") for _ in range(sequential)]
        concurrent_results = [None] * concurrent

        def one(i):
            concurrent_results[i] = wsgi.call(second, "/ck01/slow/")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(concurrent)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return sequential_results, concurrent_results


def _json_or_none(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def _numbers(results):
    counts = [headers.get("x-request-count") for _, headers, _ in results]
    if any(c is None for c in counts):
        return None, counts
    try:
        return [int(c) for c in counts], counts
    except ValueError:
        raise Fail("whole numbers in X-Request-Count", f"{counts}", NOT_CONSECUTIVE) from None


@chapter.exercise(
    "request-counter", "A middleware that numbers every response",
    needs=["request_counter"],
    hints=[
        "A function middleware is a factory: it receives get_response once and returns the function "
        "that handles each request.",
        "Keep the count in the factory (itertools.count(1), or an int with `nonlocal`), take this request's "
        "number before calling get_response(request), then set the header on the response.",
        "counter = itertools.count(1) in the factory; in middleware: number = next(counter); "
        "response = get_response(request); response['X-Request-Count'] = str(number); return response",
    ],
)
async def check_request_counter(ctx, request_counter):
    require_callable(request_counter, "request_counter")
    sequential, concurrent = await ctx.call(_drive_middleware, request_counter,
                                            what="requests through your middleware")
    statuses = [status for status, _, _ in sequential + concurrent]
    ctx.expect(all(s == 200 for s in statuses), expected="the page to still answer 200", got=f"statuses {statuses}",
               nudge=RETURN_RESPONSE)
    ctx.expect(all(_json_or_none(body) == {"status": "ok"} for _, _, body in sequential),
               expected="the view's own body to come through", got=sequential[0][2][:60].decode(errors="replace"),
               nudge=RETURN_RESPONSE)
    numbers, raw = _numbers(sequential)
    ctx.expect(numbers is not None, expected="an X-Request-Count header on every response",
               got=f"headers: {sorted(sequential[0][1])}", nudge=NO_HEADER)
    ctx.expect(numbers == [1, 2, 3], expected="three requests numbered 1, 2, 3 (a fresh stack starts at 1)",
               got=f"{raw}", nudge=NOT_CONSECUTIVE if numbers[1] != numbers[0] + 1 else COUNT_PER_STACK)
    numbers, raw = _numbers(concurrent)
    ctx.expect(numbers is not None, expected="an X-Request-Count header on every response", got=f"{raw}",
               nudge=NO_HEADER)
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        if len(set(numbers)) == len(numbers) and min(numbers) > 1:
            raise Fail("a second, new stack to count from 1 again", f"it started at {min(numbers)}",
                       COUNT_PER_STACK)
        raise Fail(f"{len(numbers)} requests at the same time numbered 1 to {len(numbers)}, each once",
                   f"{sorted(numbers)}", SHARED_NUMBER)
    return "Every request passes through it on the way in, and the response on the way out."


# --- 2. a sync view that calls two upstream services ---------------------------------------
def _call_view(view, slug):
    from django.test import RequestFactory

    return view(RequestFactory().get(f"/brief/{slug}/"), slug)


def _brief_expected(slug):
    from ..upstream import payload

    weather, hotels = payload("weather", slug), payload("hotels", slug)
    return {"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"],
            "hotel_from_eur": hotels["from_eur"]}


@chapter.exercise(
    "trip-brief", "A sync view that combines two upstream services",
    needs=["trip_brief"],
    hints=[
        "trips.upstream.fetch_sync(service, slug) returns the service's JSON as a dict.",
        "Call it for 'weather' and for 'hotels', then build the dict the task describes.",
        "return JsonResponse({'city': slug, 'summary': weather['summary'], 'temp_c': weather['temp_c'], "
        "'hotel_from_eur': hotels['from_eur']})",
    ],
    timeout=15,
)
async def check_trip_brief(ctx, trip_brief):
    from collections import Counter

    from django.http import HttpResponseBase

    require_callable(trip_brief, "trip_brief")
    # Cities no example mentions, different at every run: the data must come from the services.
    slugs = random.sample(["tromso", "arequipa", "hobart", "nakuru", "tartu", "ushuaia", "gdansk"], 2)
    async with fresh_upstream() as api:
        for slug in slugs:
            response = await ctx.call(_call_view, trip_brief, slug, what=f"`trip_brief(request, {slug!r})`")
            if not isinstance(response, HttpResponseBase):
                raise Fail("an HttpResponse (a JsonResponse)", f"{type(response).__name__}: {response!r}",
                           NOT_A_RESPONSE)
            ctx.expect(response.status_code == 200, expected="status 200", got=str(response.status_code),
                       nudge=RETURN_RESPONSE)
            try:
                data = json.loads(response.content)
            except ValueError:
                raise Fail("a JSON body", response.content[:60].decode(errors="replace"), NOT_JSON) from None
            want = _brief_expected(slug)
            missing = sorted(set(want) - set(data)) if isinstance(data, dict) else sorted(want)
            ctx.expect(not missing, expected=f"keys {sorted(want)}",
                       got=f"keys {sorted(data) if isinstance(data, dict) else data}",
                       nudge=MISSING_KEYS.format(missing=", ".join(missing)))
            wrong = {k: data[k] for k in want if data[k] != want[k]}
            ctx.expect(not wrong, expected=f"for {slug}: {want}", got=f"{wrong} differ", nudge=WRONG_DATA)
            calls = Counter(call.service for call in api.calls if call.city == slug)
            ctx.expect(calls == Counter({"weather": 1, "hotels": 1}),
                       expected="one call each to weather and hotels per request", got=f"calls: {dict(calls)}",
                       nudge=CALLS)
    return "Two calls, one after another: this view takes about the sum of both latencies."


# --- 3 and 4. a worker pool's arithmetic ---------------------------------------------------
def _pool_cases():
    """Fixed cases (the classic traps) plus random ones, so only the arithmetic passes."""
    rng = random.Random()
    cases = [(12, 4, 0.2), (7, 3, 0.1), (5, 8, 0.2), (1, 1, 0.5), (9, 2, 0.1), (13, 4, 0.25)]
    for _ in range(4):
        workers = rng.randint(2, 9)
        clients = rng.randint(1, 60)
        cases.append((clients, workers, rng.choice([0.05, 0.1, 0.15, 0.3, 0.45])))
    return cases


@chapter.exercise(
    "last-response", "When does the last client get its page?",
    needs=["last_response_at"],
    hints=[
        "Each worker serves one request at a time. How many rounds ('waves') of requests are needed?",
        "12 clients on 4 workers need 3 waves; 13 clients need 4: a partly filled wave still takes a "
        "full service time.",
        "math.ceil(clients / workers) * service_time",
    ],
)
async def check_last_response(ctx, last_response_at):
    require_callable(last_response_at, "last_response_at")
    for clients, workers, service in _pool_cases():
        want = math.ceil(clients / workers) * service
        got = await ctx.call(last_response_at, clients, workers, service, what="`last_response_at`")
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Fail("a number of seconds", repr(got), NOT_SECONDS.format(kind=type(got).__name__))
        if math.isclose(got, want, abs_tol=1e-6):
            continue
        nudge = QUEUE
        if math.isclose(got, clients / workers * service) or math.isclose(got, clients // workers * service) \
                or math.isclose(got, round(clients / workers) * service):
            nudge = ROUND_UP
        elif math.isclose(got, clients * service):
            nudge = ONE_WORKER
        elif math.isclose(got, service):
            nudge = NO_QUEUE
        raise Fail(f"last_response_at({clients}, {workers}, {service}) == {want:g}", f"{got!r}", nudge)
    return "Waves of `workers` requests, each wave one service time: the queue's arithmetic."


@chapter.exercise(
    "workers-needed", "How many workers for a deadline?",
    needs=["workers_needed"],
    hints=[
        "Try workers = 1, 2, 3, ... and stop at the first one whose last response meets the deadline.",
        "If even one worker per client misses the deadline (service_time > deadline), no number of "
        "workers helps: return None.",
        "for workers in range(1, clients + 1): if math.ceil(clients / workers) * service_time <= deadline: "
        "return workers",
    ],
)
async def check_workers_needed(ctx, workers_needed):
    require_callable(workers_needed, "workers_needed")
    # No deadline is an exact multiple of its service time: the answer must not hinge on float
    # rounding (1.0 // 0.2 == 4.0), whichever correct method the learner picks.
    cases = [(20, 0.25, 0.6, 10), (20, 0.25, 0.55, 10), (20, 0.25, 0.3, 20), (10, 0.2, 1.05, 2),
             (10, 0.2, 0.45, 5), (7, 0.1, 0.35, 3), (8, 0.3, 0.2, None), (1, 0.5, 0.6, 1), (33, 0.1, 0.25, 17)]
    for clients, service, deadline, want in cases:
        got = await ctx.call(workers_needed, clients, service, deadline, what="`workers_needed`")
        if got == want and type(got) is type(want):
            continue
        nudge = SMALLEST
        if want is None:
            nudge = NO_POOL_HELPS
        elif isinstance(got, float):
            nudge = WHOLE_WORKERS
        elif isinstance(got, int) and not isinstance(got, bool) and got > want:
            nudge = TOO_MANY.format(got=got)
        elif isinstance(got, int) and not isinstance(got, bool) and 0 < got < want:
            nudge = TOO_FEW.format(got=got, wait=math.ceil(clients / got) * service)
        raise Fail(f"workers_needed({clients}, {service}, {deadline}) == {want}", f"{got!r}", nudge)
    return "Sync capacity is bought one worker per concurrent request, and each worker costs memory."
