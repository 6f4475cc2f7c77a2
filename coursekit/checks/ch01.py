"""Chapter 01: sync Django, request by request."""
import asyncio
import math
import time

from ..learner_slots import dotted
from ..exercises import Chapter, Fail

chapter = Chapter("01", "Sync Django, request by request")


# --- 1. a middleware that counts requests -------------------------------------
def _drive_middleware(factory, requests=3):
    """Build a WSGI handler with the learner's middleware last in the stack; send requests."""
    import io
    import wsgiref.util

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, dotted(factory, "request_counter")]):
        handler = WSGIHandler()
    results = []
    for _ in range(requests):
        environ = {"PATH_INFO": "/health/", "wsgi.input": io.BytesIO(b""), "HTTP_HOST": "127.0.0.1"}
        wsgiref.util.setup_testing_defaults(environ)
        seen = {}
        body = b"".join(handler(environ, lambda s, h, e=None: seen.update(status=s, headers=dict(h))))
        results.append((seen["status"], seen["headers"], body))
    return results


@chapter.exercise(
    "request-counter", "A middleware that numbers every response",
    needs=["request_counter"],
    hints=[
        "A function middleware is a factory: it receives get_response once and returns the function "
        "that handles each request.",
        "Keep the count in a variable of the factory (a list of one int works, or `nonlocal`), "
        "add one per request, call get_response(request), then set the header on the response.",
        "response = get_response(request); response['X-Request-Count'] = str(count); return response",
    ],
)
async def check_request_counter(ctx, request_counter):
    ctx.expect(callable(request_counter), expected="`request_counter` to be a function (a middleware factory)",
               got=repr(request_counter)[:80])
    results = await ctx.call(_drive_middleware, request_counter, what="a request through your middleware")
    statuses = [r[0] for r in results]
    ctx.expect(all(s.startswith("200") for s in statuses), expected="the /health/ page to still answer 200",
               got=f"statuses {statuses}",
               nudge="Return the response that get_response(request) gave you, so the view's answer gets out.")
    ctx.expect(all(b'"status": "ok"' in r[2] for r in results), expected="the view's own body to come through",
               got=results[0][2][:60].decode(errors="replace"),
               nudge="Call get_response(request) and return its response rather than making a new one.")
    counts = [r[1].get("X-Request-Count") for r in results]
    ctx.expect(all(c is not None for c in counts), expected="an X-Request-Count header on every response",
               got=f"headers: {sorted(results[0][1])}",
               nudge="Set it on the response: response['X-Request-Count'] = str(count).")
    try:
        numbers = [int(c) for c in counts]
    except ValueError:
        raise Fail("whole numbers in X-Request-Count", f"{counts}") from None
    ctx.expect(numbers[1] == numbers[0] + 1 and numbers[2] == numbers[1] + 1,
               expected="three requests numbered one after another (for example 1, 2, 3)", got=f"{numbers}",
               nudge="Count inside the per-request function, and keep the count outside it so it survives "
                     "from one request to the next.")
    return "Every request passes through it on the way in, and the response on the way out."


# --- 2. a sync view that calls two upstream services ---------------------------
def _call_view(view, slug):
    from django.test import RequestFactory

    return view(RequestFactory().get(f"/brief/{slug}/"), slug)


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
    import json

    from .. import upstream as upstream_module
    from ..upstream import payload

    api = upstream_module.current()
    if api is None:
        raise Fail("the upstream API to be running", "it is not",
                   "Run the set-up cell at the top of the notebook (it starts the upstream API).")
    api.reset()
    for slug in ("kyoto", "oslo"):
        response = await ctx.call(_call_view, trip_brief, slug, what="`trip_brief`")
        ctx.expect(hasattr(response, "status_code"), expected="an HttpResponse (JsonResponse)",
                   got=f"{type(response).__name__}", nudge="A view returns a response: JsonResponse({...}).")
        ctx.expect(response.status_code == 200, expected="status 200", got=str(response.status_code))
        try:
            data = json.loads(response.content)
        except ValueError:
            raise Fail("a JSON body", response.content[:60].decode(errors="replace"),
                       "Use JsonResponse, which serialises a dict for you.") from None
        weather, hotels = payload("weather", slug), payload("hotels", slug)
        want = {"city": slug, "summary": weather["summary"], "temp_c": weather["temp_c"],
                "hotel_from_eur": hotels["from_eur"]}
        missing = sorted(set(want) - set(data))
        ctx.expect(not missing, expected=f"keys {sorted(want)}", got=f"keys {sorted(data)}",
                   nudge=f"Add {', '.join(missing)}.")
        wrong = {k: data[k] for k in want if data[k] != want[k]}
        ctx.expect(not wrong, expected=f"for {slug}: {want}", got=f"{wrong} differ",
                   nudge="Take the values from the upstream answers for this city (`slug`), not from elsewhere.")
    services = sorted({call.service for call in api.calls if call.city == "oslo"})
    ctx.expect(services == ["hotels", "weather"], expected="one call each to weather and hotels",
               got=f"calls to {services}", nudge="Fetch the data from the upstream services, not from memory.")
    return "Two calls, one after another: this view takes about the sum of both latencies."


# --- 3 and 4. a worker pool's arithmetic, checked against a real one ------------
async def _measure_pool(clients, workers, service_time):
    """Real WorkerPoolServer, real HTTP: seconds until the last of `clients` simultaneous requests ends."""
    import aiohttp

    from ..servers import WorkerPoolServer

    def app(environ, start_response):
        time.sleep(service_time)  # a sync worker waiting on I/O
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    async with WorkerPoolServer(app, workers=workers) as server:
        async with aiohttp.ClientSession() as session:
            async def one():
                async with session.get(server.url) as response:
                    await response.read()

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(clients)))
            return time.perf_counter() - started


@chapter.exercise(
    "last-response", "When does the last client get its page?",
    needs=["last_response_at"],
    hints=[
        "Each worker serves one request at a time. How many rounds ('waves') of requests are needed?",
        "12 clients on 4 workers need 3 waves; 13 clients need 4: a partly filled wave still takes a "
        "full service time.",
        "math.ceil(clients / workers) * service_time",
    ],
    timeout=15,
)
async def check_last_response(ctx, last_response_at):
    cases = [(12, 4, 0.2), (7, 3, 0.1), (5, 8, 0.2), (1, 1, 0.5), (9, 2, 0.1), (13, 4, 0.25)]
    for clients, workers, service in cases:
        want = math.ceil(clients / workers) * service
        got = await ctx.call(last_response_at, clients, workers, service, what="`last_response_at`")
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Fail("a number of seconds", repr(got)[:60])
        if math.isclose(got, want, abs_tol=1e-6):
            continue
        nudge = "Picture the queue: each worker takes one request, the rest wait for a free worker."
        if math.isclose(got, clients / workers * service):
            nudge = "A worker cannot serve part of a request: a wave that is only partly full still takes a " \
                    "whole service time. Round the number of waves up."
        elif math.isclose(got, clients * service):
            nudge = "That is what one worker would take. Here the workers serve side by side."
        elif math.isclose(got, service):
            nudge = "That would need a worker for every client. Which clients have to wait?"
        raise Fail(f"last_response_at({clients}, {workers}, {service}) == {want:g}", f"{got!r}", nudge)
    measured = await _measure_pool(7, 3, 0.1)
    predicted = await ctx.call(last_response_at, 7, 3, 0.1)
    # Server overhead only ever adds time, and a busy machine adds more: allow more above than below.
    ctx.expect(predicted - 0.05 <= measured <= predicted + 0.25,
               expected=f"your formula to match a real pool (7 clients, 3 workers, 0.1 s each)",
               got=f"measured {measured:.2f} s, predicted {predicted:.2f} s",
               nudge="Run the check again; if it persists, the machine may be very busy.")
    return "Your formula also matches a live run: 7 clients on a real 3-worker server."


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
    # No deadline is an exact multiple of its service time: the answer must not hinge on float
    # rounding (1.0 // 0.2 == 4.0), whichever correct method the learner picks.
    cases = [(20, 0.25, 0.6, 10), (20, 0.25, 0.55, 10), (20, 0.25, 0.3, 20), (10, 0.2, 1.05, 2),
             (10, 0.2, 0.45, 5), (7, 0.1, 0.35, 3), (8, 0.3, 0.2, None), (1, 0.5, 0.6, 1)]
    for clients, service, deadline, want in cases:
        got = await ctx.call(workers_needed, clients, service, deadline, what="`workers_needed`")
        if got == want and type(got) is type(want):
            continue
        nudge = "Find the smallest pool whose last response arrives by the deadline."
        if want is None:
            nudge = "Here the service time alone is longer than the deadline: no pool size helps. Return None."
        elif isinstance(got, float):
            nudge = "Workers come in whole numbers: return an int (round up, never down)."
        elif isinstance(got, int) and got > want:
            nudge = f"{got} workers meet the deadline, but fewer do too. Each worker costs a thread or a " \
                    "process (memory): find the smallest."
        elif isinstance(got, int) and got < want:
            nudge = f"With {got} workers the last client waits " \
                    f"{math.ceil(clients / got) * service:g} s, past the deadline."
        raise Fail(f"workers_needed({clients}, {service}, {deadline}) == {want}", f"{got!r}", nudge)
    return "Sync capacity is bought one worker per concurrent request, and each worker costs memory."
