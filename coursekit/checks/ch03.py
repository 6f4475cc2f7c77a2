"""Chapter 03: async views."""
import asyncio
import inspect
import json
import logging
import time
import warnings

from ..errors import describe
from ..exercises import Chapter, Fail, learner_error
from .ch02 import _api, _must_be_async, _overlap_report, _peak

chapter = Chapter("03", "Async views")

SERVICES = ("weather", "flights", "hotels")


def _request(path, method="get"):
    from django.test import RequestFactory

    return getattr(RequestFactory(), method)(path)


def _missing_await(fail):
    """A Fail whose error text shows a coroutine used as if it were its result."""
    text = f"{fail.got} {fail.expected}"
    return any(sign in text for sign in ("coroutine", "_GatheringFuture", "await wasn't used with future"))


async def _call_view(ctx, view, *args, what, **kwargs):
    """ctx.call for a view, with a specific word for the classic missing `await`."""
    try:
        return await ctx.call(view, *args, allow_block=0.05, what=what, **kwargs)
    except Fail as fail:
        if "to run without an error" in fail.expected and _missing_await(fail):
            raise Fail(f"{what} to run without an error", fail.got,
                       "A coroutine was used as if it were its result: an `await` is missing in front of an "
                       "async call (fetch, gather, an ORM a-method, asyncio.sleep).") from None
        raise


def _json_of(response, what):
    from django.http import HttpResponseBase

    if inspect.isawaitable(response):
        if inspect.iscoroutine(response):
            response.close()
        raise Fail(f"{what} to return a response", "a coroutine object, never awaited",
                   "`await` the async calls inside your view and return the JsonResponse itself.")
    if not isinstance(response, HttpResponseBase):
        raise Fail(f"{what} to return an HttpResponse (a JsonResponse)", f"{type(response).__name__}: "
                   f"{response!r}"[:100], "A view returns a response: `return JsonResponse({...})`.")
    try:
        return json.loads(response.content)
    except (ValueError, AttributeError):
        raise Fail(f"{what} to answer with JSON", f"{response.content[:80]!r}" if hasattr(response, "content")
                   else type(response).__name__, "Use JsonResponse, which serialises a dict for you.") from None


async def _settle(api):
    """Let the server finish (or cancel) calls a view gave up on, then clear the knobs and the log."""
    for _ in range(60):
        if api.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    api.reset()


def _sequential_fail(calls, wall):
    return Fail("the three calls in flight together, the page taking about the slowest call (0.3 s)",
                f"they ran one at a time ({_overlap_report(calls)}), {wall:.2f} s in all",
                "`await` on each call in turn waits for one answer before asking the next question. "
                "Start all three and await them together: `await asyncio.gather(...)`.")


# --- 1. three services within a time budget -----------------------------------
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

    _must_be_async(trip_summary, "trip_summary")
    api = _api()
    api.reset()
    what = "`trip_summary(request, 'porto')`"
    started = time.perf_counter()
    try:
        response = await _call_view(ctx, trip_summary, _request("/summary/porto/"), "porto", what=what)
    finally:
        wall = time.perf_counter() - started
        calls = sorted((c for c in api.calls if c.city == "porto"), key=lambda c: c.start)
        await _settle(api)
    data = _json_of(response, what)
    ctx.expect(response.status_code == 200, expected="status 200 when every service answers in time",
               got=f"status {response.status_code}: {data}"[:120])
    want = {"city": "porto", **{s: payload(s, "porto") for s in SERVICES}}
    ctx.expect(isinstance(data, dict) and sorted(data) == sorted(want), expected=f"the keys {sorted(want)}",
               got=f"{sorted(data) if isinstance(data, dict) else data}"[:120],
               nudge="The city's slug under 'city', and each service's answer under its own name.")
    wrong = [k for k in want if data[k] != want[k]]
    ctx.expect(not wrong, expected="each service's own answer for the city in the URL", got=f"different data for {wrong}",
               nudge="Pass the view's `slug` on to every fetch.")
    services = sorted(c.service for c in calls)
    ctx.expect(services == sorted(SERVICES), expected="one call to each of the three services",
               got=f"calls to {services}")
    if _peak(calls) == 1:
        raise _sequential_fail(calls, wall)
    ctx.expect(_peak(calls) == 3 and wall < 0.65,
               expected="all three calls in flight together, about 0.3 s in all (the sum is 0.75 s)",
               got=f"at most {_peak(calls)} at once, {wall:.2f} s", nudge="Gather all three calls at once.")
    # The budget: hotels hangs for 1.6 s; the view must answer 504 after about 1 s.
    api.configure(latency={"hotels": 1.6})
    what = "`trip_summary(request, 'quito')` with hotels hanging"
    started = time.perf_counter()
    try:
        response = await _call_view(ctx, trip_summary, _request("/summary/quito/"), "quito", what=what)
    except Fail as fail:
        if "TimeoutError" in fail.got:
            raise Fail("a 504 JsonResponse when the budget runs out", "the TimeoutError escaped from the view",
                       "Catch it: `except TimeoutError:` around the `async with asyncio.timeout(1.0):` block, "
                       "and return JsonResponse({'city': slug, 'error': 'upstream timeout'}, status=504).") from None
        raise
    finally:
        wall = time.perf_counter() - started
        await _settle(api)
    data = _json_of(response, what)
    ctx.expect(wall < 1.4, expected="the view to give up after about 1 s when a service hangs",
               got=f"it answered after {wall:.1f} s (status {response.status_code})",
               nudge="Wrap the gather in `async with asyncio.timeout(1.0):`.")
    ctx.expect(response.status_code == 504 and data == {"city": "quito", "error": "upstream timeout"},
               expected="status 504 with {'city': 'quito', 'error': 'upstream timeout'}",
               got=f"status {response.status_code}: {data}"[:120])
    return "Three answers in about the time of the slowest, and a clean 504 when the budget runs out."


# --- 2. a failing or slow service degrades the page, not breaks it -------------
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
    from ..upstream import payload

    _must_be_async(city_panel, "city_panel")
    api = _api()
    cases = [
        ("lima", {}, "ok", []),
        ("rome", {"fail": "flights", "latency": {"flights": 0.05}}, "partial", ["flights"]),
        ("kobe", {"latency": {"hotels": 2.0}}, "partial", ["hotels"]),
        ("bonn", {"fail": SERVICES}, "failed", sorted(SERVICES)),
    ]
    for slug, knobs, status, missing in cases:
        api.reset()
        api.configure(**knobs)
        if status == "partial":
            situation = f"{missing[0]} {'fails' if 'fail' in knobs else 'hangs for 2 s'}"
        else:
            situation = {"ok": "every service answers", "failed": "every service fails"}[status]
        what = f"`city_panel(request, {slug!r})` when {situation}"
        started = time.perf_counter()
        try:
            response = await _call_view(ctx, city_panel, _request(f"/panel/{slug}/"), slug, what=what)
        except Fail as fail:
            if "to run without an error" in fail.expected and ("UpstreamError" in fail.got
                                                              or "ExceptionGroup" in fail.got):
                raise Fail(f"{what}: an answer with status '{status}'", f"the view raised: {fail.got}"[:160],
                           "One failing service must not take the page down. Use "
                           "`asyncio.gather(..., return_exceptions=True)` (or catch the error inside each "
                           "call) and report the service under 'missing'.") from None
            raise
        finally:
            wall = time.perf_counter() - started
            calls = sorted((c for c in api.calls if c.city == slug), key=lambda c: c.start)
            await _settle(api)
        data = _json_of(response, what)
        ctx.expect(isinstance(data, dict) and data.get("status") == status and data.get("missing") == missing,
                   expected=f"when {situation}: status '{status}', missing {missing}",
                   got=f"{ {k: data.get(k) for k in ('status', 'missing')} if isinstance(data, dict) else data}",
                   nudge="'missing' lists the services that failed or ran out of time, sorted by name.")
        want_code = 503 if status == "failed" else 200
        ctx.expect(response.status_code == want_code, expected=f"HTTP {want_code} when {situation}",
                   got=f"HTTP {response.status_code}",
                   nudge="503 only when no service answered; a partial page is still a 200.")
        for service in SERVICES:
            if service in missing:
                ctx.expect(service not in data, expected=f"no '{service}' key when it is missing",
                           got=f"'{service}': {data.get(service)!r}"[:100])
            else:
                ctx.expect(data.get(service) == payload(service, slug),
                           expected=f"'{service}': its answer for {slug}", got=f"{data.get(service)!r}"[:100])
        ctx.expect(data.get("city") == slug, expected=f"'city': {slug!r}", got=f"{data.get('city')!r}")
        if status == "ok":
            if _peak(calls) == 1:
                raise _sequential_fail(calls, wall)
            ctx.expect(_peak(calls) == 3 and wall < 0.65,
                       expected="about 0.3 s when every service answers (the calls overlap)",
                       got=f"{wall:.2f} s", nudge="Gather the three calls at once.")
        if "hangs" in situation:
            ctx.expect(wall < 1.2, expected="the page after about 0.5 s, without the hanging service",
                       got=f"{wall:.2f} s", nudge="Give each call 0.5 s with `asyncio.timeout(0.5)`.")
    return "One broken or slow service costs the page one panel, not the whole page, and the status says so."


# --- 3. server-sent events from an async generator -----------------------------
async def _stream(path):
    """One request through a fresh ASGIHandler (in the caller's loop); chunks with arrival times."""
    from django.core.handlers.asgi import ASGIHandler

    from ..asgi import scope_for
    from ..logs import capture_log

    app = ASGIHandler()
    started, chunks, head, done = time.perf_counter(), [], {}, asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            head["status"] = message["status"]
            head["headers"] = {k.decode().lower(): v.decode("latin1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                chunks.append((time.perf_counter() - started, message["body"]))
            if not message.get("more_body"):
                done.set()

    with warnings.catch_warnings(record=True) as caught, capture_log("django.request", logging.ERROR) as log:
        warnings.simplefilter("always")
        try:
            await app(scope_for(path), receive, send)
        finally:
            done.set()
    errors = [r.exc_info[1] for r in log.records if r.exc_info]
    return head, chunks, [str(w.message) for w in caught], errors


def _events(body):
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        fields = {}
        for line in block.splitlines():
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip()] = value[1:] if value.startswith(" ") else value
        events.append(fields)
    return events


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
    from django.urls import path

    from ..routes import mounted

    _must_be_async(launch_events, "launch_events")
    for n in (3, 2):
        what = f"GET /launch/?n={n}"
        with mounted(path("launch/", launch_events)):
            head, chunks, warned, errors = await _call_view(ctx, _stream, f"/launch/?n={n}", what=f"`{what}`")
        if errors:
            fail = learner_error(errors[0], f"`{what}`")
            if _missing_await(fail):
                fail.nudge = ("A coroutine was used as if it were its result: an `await` is missing in front of "
                              "an async call.")
            raise fail
        ctx.expect(head.get("status") == 200, expected=f"{what}: status 200", got=f"status {head.get('status')}")
        content_type = head.get("headers", {}).get("content-type", "")
        ctx.expect(content_type.startswith("text/event-stream"), expected="Content-Type: text/event-stream",
                   got=f"Content-Type: {content_type}",
                   nudge="StreamingHttpResponse(..., content_type='text/event-stream').")
        body = b"".join(c for _, c in chunks).decode(errors="replace")
        events = _events(body)
        want = [{"event": "tick", "data": {"remaining": k}} for k in range(n, 0, -1)] + [
            {"event": "liftoff", "data": {}}]
        got = []
        for e in events:
            try:
                got.append({"event": e.get("event"), "data": json.loads(e.get("data", ""))})
            except ValueError:
                got.append({"event": e.get("event"), "data": e.get("data")})
        ctx.expect(got == want, expected=f"{what}: the events {want}", got=f"{got}"[:200],
                   nudge="Each event is 'event: NAME\\ndata: JSON\\n\\n' (a blank line ends it); "
                         "count down from n, then send liftoff.")
        sync_note = (" Django warned that it had to collect a synchronous iterator first: use an `async def` "
                     "generator." if any("synchronous iterators" in w for w in warned) else "")
        if chunks[-1][0] < 0.05 * n:
            raise Fail(f"{what}: a pause of 0.1 s after each tick", f"all events within {chunks[-1][0]:.2f} s",
                       "`asyncio.sleep(0.1)` only pauses when awaited: `await asyncio.sleep(0.1)`.")
        if len(chunks) == 1 or chunks[0][0] > 0.5 * chunks[-1][0]:
            raise Fail(f"{what}: each event sent as soon as it is made, 0.1 s apart",
                       f"{len(chunks)} chunk(s), the first only after {chunks[0][0]:.2f} s: the stream was buffered",
                       "Return a StreamingHttpResponse over an async generator (not a list or an HttpResponse)."
                       + sync_note)
        ctx.expect(chunks[0][0] < 0.15, expected=f"{what}: the first event at once",
                   got=f"the first chunk after {chunks[0][0]:.2f} s",
                   nudge="Yield the first tick before the first pause.")
        ctx.expect(0.08 * n <= chunks[-1][0] < 0.1 * n + 0.3, expected=f"{what}: about {0.1 * n:.1f} s in all",
                   got=f"{chunks[-1][0]:.2f} s", nudge="One 0.1 s pause after each tick.")
    return "Each event leaves the moment it is yielded, and the event loop stays free in between."


# --- 4. an async class-based view ----------------------------------------------
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
    from django.core.exceptions import ImproperlyConfigured
    from django.http import Http404
    from django.views import View

    from ..upstream import payload

    ctx.expect(inspect.isclass(CityCard) and issubclass(CityCard, View),
               expected="`CityCard`: a class that subclasses django.views.View", got=repr(CityCard)[:80],
               nudge="class CityCard(View): ...")
    try:
        is_async = CityCard.view_is_async
        view = CityCard.as_view()
    except ImproperlyConfigured as exc:
        raise Fail("every HTTP handler of CityCard to be `async def`", describe(exc),
                   "Django refuses a mix of sync and async handlers: make them all `async def`.") from None
    ctx.expect(is_async, expected="an async view: `async def get(...)`",
               got="its handlers are plain `def` functions" if hasattr(CityCard, "get") else "no `get` handler",
               nudge="Write the handler as `async def get(self, request, slug):`.")
    api = _api()
    api.reset()

    async def visit(method, slug):
        try:
            return await view(_request(f"/card/{slug}/", method), slug=slug)
        except Http404:
            from django.http import JsonResponse

            return JsonResponse({"error": "not found"}, status=404)

    async def visits():
        return [await visit("get", "kyoto"), await visit("get", "atlantis"), await visit("post", "kyoto")]

    try:
        found, missing, posted = await _call_view(ctx, visits, what="`CityCard` (GET kyoto, GET atlantis, POST)")
    except Fail as fail:
        if "DoesNotExist" in fail.got:
            raise Fail("GET /card/atlantis/ to answer 404", fail.got,
                       "An unknown slug is normal input: use `.afirst()` and check for None (or catch "
                       "City.DoesNotExist) and return a 404.") from None
        raise
    finally:
        calls = [c for c in api.calls if c.city == "kyoto"]
        await _settle(api)
    data = _json_of(found, "GET /card/kyoto/")
    want = {"city": "Kyoto", "country": "Japan", "weather": payload("weather", "kyoto")}
    ctx.expect(found.status_code == 200 and data == want, expected=f"GET /card/kyoto/: 200 with {want}",
               got=f"{found.status_code} with {data}"[:200],
               nudge="The city's name and country come from the database, the weather from the upstream service.")
    ctx.expect(any(c.service == "weather" for c in calls), expected="a call to the weather service",
               got=f"calls to {sorted({c.service for c in calls})}")
    ctx.expect(missing.status_code == 404, expected="GET /card/atlantis/: 404", got=f"{missing.status_code}",
               nudge="Return JsonResponse({'error': ...}, status=404) when there is no such city.")
    ctx.expect(posted.status_code == 405, expected="POST /card/kyoto/: 405 (no post handler)",
               got=f"{posted.status_code}", nudge="Define only `get`: View answers other methods with 405.")
    return "All handlers async, the ORM awaited, the weather fetched without blocking: a proper async view."
